/* Daemon configuration: libconfig files read through one table of typed option descriptors. */
#include "autoconf.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <fnmatch.h>
#include <grp.h>
#include <pwd.h>
#include <libconfig.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "control/auth.h"
#include "control/config.h"

#ifndef nitems
#define nitems(a)	(sizeof(a) / sizeof((a)[0]))
#endif

#define CONFIG_KIB	((uint64_t)1024)
#define CONFIG_MIB	(CONFIG_KIB * 1024)
#define CONFIG_GIB	(CONFIG_MIB * 1024)

/* Where a plugin named without a directory is looked for. */
#ifndef WSH_PKGLIBDIR
#define WSH_PKGLIBDIR	"/usr/local/lib/wshub"
#endif

/* Most rows one option table may hold; it sizes the "seen" marks. */
#define CONFIG_OPTS_MAX	64

/* The state of one config_load: the file and the first problem found. */
struct config_ctx {
	const char	*file;
	const char	*dir;		/* of |file|, where @include looks */
	char		*cause;
};

enum config_type {
	OPT_INT,	/* a non-negative integer */
	OPT_SIZE,	/* bytes: an integer, or a string such as "16M" */
	OPT_DURATION,	/* seconds: a number, or a string such as "500ms" */
	OPT_BOOL,
	OPT_STRING,
	OPT_ENUM,	/* one name of a table, stored as its value */
	OPT_TOKENS,	/* an array of tokens, stored NULL-terminated */
	OPT_SECTION	/* a list of groups, read by its own function */
};

/* What each type is called in help output and what a wrong value must be. */
static const struct config_kind {
	const char	*name;
	const char	*expect;
} config_kinds[] = {
	[OPT_INT] = { "int", "an integer" },
	[OPT_SIZE] = { "size", "a size: a number of bytes, or a string such "
	    "as \"64k\", \"16M\" or \"1G\"" },
	[OPT_DURATION] = { "duration", "a duration: a number of seconds, or a "
	    "string such as \"500ms\", \"30s\", \"5m\" or \"1h\"" },
	[OPT_BOOL] = { "bool", "true or false" },
	[OPT_STRING] = { "string", "a string" },
	[OPT_ENUM] = { "enum", "a string" },
	[OPT_TOKENS] = { "strings", "an array of strings, such as "
	    "[ \"a\", \"b\" ]" },
	[OPT_SECTION] = { "list", "a list of groups: ( { ... }, { ... } )" },
};

#define OPT_REQUIRED	0x1	/* there is no default: the option must be set */
#define OPT_ZERO_OFF	0x2	/* 0 is allowed outside the range and means off */

struct config_name {
	const char	*name;
	int		 value;
};

/*
 * One option. Defaults are written as they would be in the file, so the
 * same parsers read them and help output shows them as an operator types
 * them.
 */
struct config_opt {
	const char		*name;
	enum config_type	 type;
	size_t			 offset;	/* of the field in its struct */
	size_t			 size;		/* of the field, for OPT_INT */
	const char		*def;		/* NULL: required, or empty */
	double			 min;
	double			 max;
	int			 flags;
	const struct config_name *names;	/* OPT_ENUM, NULL-terminated */
	int			(*check)(const char *, char *, size_t);
	int			(*section)(struct config_ctx *, struct config *,
				    const config_setting_t *);
	const char		*inherit;	/* top-level option it defaults to */
	enum config_reload	 reload;	/* how a reload applies a change */
	const char		*doc;
};

#define FIELD(s, f)	.offset = offsetof(struct s, f), \
			.size = sizeof(((struct s *)0)->f)

static const struct config_name config_log_levels[] = {
	{ "error", LOG_ERR },
	{ "warning", LOG_WARNING },
	{ "notice", LOG_NOTICE },
	{ "info", LOG_INFO },
	{ "debug", LOG_DEBUG },
	{ NULL, 0 }
};

static const struct config_name config_client_certs[] = {
	{ "none", TLS_CLIENT_NONE },
	{ "optional", TLS_CLIENT_OPTIONAL },
	{ "required", TLS_CLIENT_REQUIRED },
	{ NULL, 0 }
};

static const struct config_name config_tls_versions[] = {
	{ "1.2", TLS_MIN_12 },
	{ "1.3", TLS_MIN_13 },
	{ NULL, 0 }
};

static const struct config_name config_slow_policies[] = {
	{ "disconnect", SLOW_DISCONNECT },
	{ "drop_oldest", SLOW_DROP_OLDEST },
	{ NULL, 0 }
};

/* Route handlers; the hub maps each name to its callbacks. */
static const char *const config_handlers[] = {
	"echo",
	"broadcast",
	"pubsub",
};

static int	config_check_token(const char *, char *, size_t);
static int	config_check_address(const char *, char *, size_t);
static int	config_check_path(const char *, char *, size_t);
static int	config_check_handler(const char *, char *, size_t);
static int	config_check_mode(const char *, char *, size_t);
static int	config_check_user(const char *, char *, size_t);
static int	config_check_group(const char *, char *, size_t);
static int	config_read_listeners(struct config_ctx *, struct config *,
		    const config_setting_t *);
static int	config_read_routes(struct config_ctx *, struct config *,
		    const config_setting_t *);
static int	config_read_channels(struct config_ctx *, struct config *,
		    const config_setting_t *);
static int	config_read_auth(struct config_ctx *, struct config *,
		    const config_setting_t *);
static int	config_read_auth_options(struct config_ctx *, struct config *,
		    const config_setting_t *);
static int	config_check_origin(const char *, char *, size_t);
static int	config_read_cluster(struct config_ctx *, struct config *,
		    const config_setting_t *);
static int	config_check_redis(const char *, char *, size_t);
static int	config_check_node_id(const char *, char *, size_t);

static const struct config_opt config_opts[] = {
	{ .name = "log_level", .type = OPT_ENUM, FIELD(config, log_level),
	  .def = "info", .names = config_log_levels,
	  .doc = "Least severe message written to the log." },
	{ .name = "max_connections", .type = OPT_INT,
	  FIELD(config, max_connections), .def = "100000",
	  .min = 1, .max = 10000000,
	  .doc = "Connections open at once; further ones wait in the backlog." },
	{ .name = "max_header_size", .type = OPT_SIZE,
	  FIELD(config, max_header_size), .def = "8k",
	  .min = 256, .max = 1048576,
	  .doc = "Bytes of an HTTP request head (request line and headers)." },
	{ .name = "max_headers", .type = OPT_INT, FIELD(config, max_headers),
	  .def = "64", .min = 1, .max = 256,
	  .doc = "Header fields in an HTTP request." },
	{ .name = "max_frame_size", .type = OPT_SIZE,
	  FIELD(config, max_frame_size), .def = "16M",
	  .min = 1, .max = 1073741824,
	  .doc = "Payload bytes of one WebSocket frame; larger closes with "
	  "1009." },
	{ .name = "max_message_size", .type = OPT_SIZE,
	  FIELD(config, max_message_size), .def = "16M",
	  .min = 1, .max = 1073741824,
	  .doc = "Bytes of one message after reassembly and decompression; "
	  "larger closes with 1009." },
	{ .name = "send_buffer_limit", .type = OPT_SIZE,
	  FIELD(config, send_buffer_limit), .def = "4M",
	  .min = 4096, .max = 1073741824,
	  .doc = "Bytes queued for one connection before it is a slow "
	  "consumer." },
	{ .name = "handshake_timeout", .type = OPT_DURATION,
	  FIELD(config, handshake_timeout), .def = "10s",
	  .min = 0.1, .max = 3600,
	  .doc = "Time a new connection has to complete its handshake." },
	{ .name = "idle_timeout", .type = OPT_DURATION,
	  FIELD(config, idle_timeout), .def = "0", .flags = OPT_ZERO_OFF,
	  .min = 1, .max = 86400,
	  .doc = "Close a connection that sent nothing for this long." },
	{ .name = "ping_interval", .type = OPT_DURATION,
	  FIELD(config, ping_interval), .def = "30s", .flags = OPT_ZERO_OFF,
	  .min = 1, .max = 86400,
	  .doc = "Ping a connection that was quiet for this long; close it "
	  "(1011) when the ping goes unanswered as long again." },
	{ .name = "shutdown_timeout", .type = OPT_DURATION,
	  FIELD(config, shutdown_timeout), .def = "5s",
	  .min = 0.1, .max = 600,
	  .doc = "Time clients get to finish the close handshake on "
	  "shutdown." },
	{ .name = "connection_id_header", .type = OPT_STRING,
	  FIELD(config, connection_id_header), .def = "Wshub-Connection-Id",
	  .check = config_check_token,
	  .doc = "Handshake response header carrying the connection id." },
	{ .name = "send_buffer_soft_limit", .type = OPT_SIZE,
	  FIELD(config, send_buffer_soft_limit), .def = "1M",
	  .min = 1024, .max = 1073741824.0,
	  .doc = "Queued bytes a connection may hold for at most "
	  "send_buffer_soft_seconds before the slow-consumer policy applies." },
	{ .name = "send_buffer_soft_seconds", .type = OPT_DURATION,
	  FIELD(config, send_buffer_soft_seconds), .def = "10s",
	  .min = 0.1, .max = 3600,
	  .doc = "How long a connection may stay above send_buffer_soft_limit." },
	{ .name = "slow_consumer_policy", .type = OPT_ENUM,
	  FIELD(config, slow_consumer_policy), .def = "disconnect",
	  .names = config_slow_policies,
	  .doc = "What happens to a slow consumer: disconnect (close 1008) or "
	  "drop_oldest (drop queued messages, tell JSON clients)." },
	{ .name = "history_size", .type = OPT_INT,
	  FIELD(config, history_size), .def = "100", .min = 0, .max = 10000000,
	  .doc = "Messages kept per channel for recovery; 0 keeps none." },
	{ .name = "history_bytes", .type = OPT_SIZE,
	  FIELD(config, history_bytes), .def = "1M", .min = 0,
	  .max = 17179869184.0,
	  .doc = "Payload bytes kept per channel for recovery." },
	{ .name = "history_ttl", .type = OPT_DURATION,
	  FIELD(config, history_ttl), .def = "5m", .flags = OPT_ZERO_OFF,
	  .min = 1, .max = 31536000,
	  .doc = "Age after which a message leaves the history; 0 = no age "
	  "limit." },
	{ .name = "deflate", .type = OPT_BOOL, FIELD(config, deflate),
	  .def = "true",
	  .reload = CONFIG_RELOAD_NEW,
	  .doc = "Accept permessage-deflate (RFC 7692) when a client offers it." },
	{ .name = "deflate_level", .type = OPT_INT,
	  FIELD(config, deflate_level), .def = "1", .min = 1, .max = 9,
	  .reload = CONFIG_RELOAD_NEW,
	  .doc = "zlib compression level for outgoing messages." },
	{ .name = "deflate_mem_level", .type = OPT_INT,
	  FIELD(config, deflate_mem_level), .def = "8", .min = 1, .max = 9,
	  .reload = CONFIG_RELOAD_NEW,
	  .doc = "zlib memory level of a compressor." },
	{ .name = "deflate_window_bits", .type = OPT_INT,
	  FIELD(config, deflate_window_bits), .def = "15", .min = 9, .max = 15,
	  .reload = CONFIG_RELOAD_NEW,
	  .doc = "Largest LZ77 window of our compressor "
	  "(server_max_window_bits)." },
	{ .name = "deflate_min_size", .type = OPT_SIZE,
	  FIELD(config, deflate_min_size), .def = "64", .min = 0,
	  .max = 1073741824.0,
	  .doc = "Messages smaller than this are sent uncompressed." },
	{ .name = "deflate_no_context_takeover", .type = OPT_BOOL,
	  FIELD(config, deflate_no_context_takeover), .def = "true",
	  .reload = CONFIG_RELOAD_NEW,
	  .doc = "Ask for server_no_context_takeover, so one compressed form "
	  "of a broadcast serves every subscriber." },
	{ .name = "deflate_client_no_context_takeover", .type = OPT_BOOL,
	  FIELD(config, deflate_client_no_context_takeover), .def = "false",
	  .reload = CONFIG_RELOAD_NEW,
	  .doc = "Ask clients for client_no_context_takeover (saves our "
	  "inflate memory between messages)." },
	{ .name = "api_key", .type = OPT_STRING, FIELD(config, api_key),
	  .def = "",
	  .doc = "Key the HTTP API requires (Authorization: Bearer KEY or "
	  "X-Api-Key: KEY); empty = the API is open." },
	{ .name = "admin_socket", .type = OPT_STRING,
	  FIELD(config, admin_socket), .def = "",
	  .doc = "Path of the admin socket (wshubctl); relative to the working "
	  "directory; empty = no admin socket." },
	{ .name = "admin_socket_mode", .type = OPT_STRING,
	  FIELD(config, admin_socket_mode), .def = "0660",
	  .check = config_check_mode,
	  .doc = "Permissions of the admin socket, in octal." },
	{ .name = "admin_socket_owner", .type = OPT_STRING,
	  FIELD(config, admin_socket_owner), .def = "",
	  .check = config_check_user,
	  .doc = "Owner of the admin socket (user name or uid); empty = the "
	  "user wshubd runs as." },
	{ .name = "admin_socket_group", .type = OPT_STRING,
	  FIELD(config, admin_socket_group), .def = "",
	  .check = config_check_group,
	  .doc = "Group of the admin socket (group name or gid); empty = the "
	  "group wshubd runs as." },
	{ .name = "admin_allow_users", .type = OPT_TOKENS,
	  FIELD(config, admin_allow_users), .check = config_check_user,
	  .doc = "Users (names or uids) allowed on the admin socket besides "
	  "root and the user wshubd runs as." },
	{ .name = "admin_allow_groups", .type = OPT_TOKENS,
	  FIELD(config, admin_allow_groups), .check = config_check_group,
	  .doc = "Groups (names or gids) whose members are allowed on the admin "
	  "socket." },
	{ .name = "user", .type = OPT_STRING, FIELD(config, user), .def = "",
	  .check = config_check_user,
	  .reload = CONFIG_RELOAD_RESTART,
	  .doc = "User to switch to after binding, when started as root; "
	  "empty = stay." },
	{ .name = "group", .type = OPT_STRING, FIELD(config, group), .def = "",
	  .check = config_check_group,
	  .reload = CONFIG_RELOAD_RESTART,
	  .doc = "Group to switch to with user; empty = the user's group." },
	{ .name = "access_log", .type = OPT_BOOL, FIELD(config, access_log),
	  .def = "false",
	  .doc = "Log a line for every connection when it closes: id, peer, "
	  "route, duration, bytes and close code." },
	{ .name = "h2_max_streams", .type = OPT_INT,
	  FIELD(config, h2_max_streams), .def = "128", .min = 1,
	  .max = 100000,
	  .reload = CONFIG_RELOAD_NEW,
	  .doc = "Streams (WebSockets and requests) open at once on one "
	  "HTTP/2 connection (SETTINGS_MAX_CONCURRENT_STREAMS)." },
	{ .name = "h2_max_header_list", .type = OPT_SIZE,
	  FIELD(config, h2_max_header_list), .def = "16k", .min = 1024,
	  .max = 1048576,
	  .reload = CONFIG_RELOAD_NEW,
	  .doc = "Bytes of the decoded header list of one HTTP/2 request "
	  "(SETTINGS_MAX_HEADER_LIST_SIZE); larger is refused." },
	{ .name = "h2_window", .type = OPT_SIZE, FIELD(config, h2_window),
	  .def = "256k", .min = 65535, .max = 2147483647.0,
	  .reload = CONFIG_RELOAD_NEW,
	  .doc = "Bytes a client may send on one HTTP/2 stream before we "
	  "acknowledge them (SETTINGS_INITIAL_WINDOW_SIZE)." },
	{ .name = "h2_max_resets", .type = OPT_INT,
	  FIELD(config, h2_max_resets), .def = "200", .min = 1,
	  .max = 1000000,
	  .reload = CONFIG_RELOAD_NEW,
	  .doc = "Streams a client may reset (RST_STREAM) per second on one "
	  "HTTP/2 connection; more is a rapid-reset flood and ends the "
	  "connection with GOAWAY ENHANCE_YOUR_CALM." },
	{ .name = "cluster", .type = OPT_SECTION,
	  .section = config_read_cluster,
	  .doc = "Scale-out on Redis: nodes sharing channels, sequence "
	  "numbers and history (wshubd built with --with-redis)." },
	{ .name = "auth", .type = OPT_SECTION, .section = config_read_auth,
	  .doc = "The authenticator plugin: { plugin = \"auth_jwt.so\"; "
	  "options = { ... }; timeout = \"2s\"; }; none = no "
	  "authentication (see wshub-auth(3), docs/AUTH.md)." },
	{ .name = "channels", .type = OPT_SECTION,
	  .section = config_read_channels,
	  .doc = "History limits per channel name pattern; the first match "
	  "wins." },
	{ .name = "listeners", .type = OPT_SECTION,
	  .section = config_read_listeners,
	  .doc = "Addresses and ports to accept connections on (at least "
	  "one)." },
	{ .name = "routes", .type = OPT_SECTION,
	  .section = config_read_routes,
	  .doc = "URL paths and the handlers serving them (at least one)." },
};

static const struct config_opt config_listener_opts[] = {
	{ .name = "address", .type = OPT_STRING,
	  FIELD(config_listener, address), .flags = OPT_REQUIRED,
	  .check = config_check_address,
	  .doc = "IPv4 or IPv6 address to bind, or \"*\" for 0.0.0.0." },
	{ .name = "port", .type = OPT_INT, FIELD(config_listener, port),
	  .flags = OPT_REQUIRED, .min = 1, .max = 65535,
	  .doc = "TCP port to bind." },
	{ .name = "backlog", .type = OPT_INT, FIELD(config_listener, backlog),
	  .def = "511", .min = 1, .max = 65535,
	  .doc = "Length of the queue of connections not yet accepted." },
	{ .name = "reuseport", .type = OPT_BOOL,
	  FIELD(config_listener, reuseport), .def = "false",
	  .doc = "Set SO_REUSEPORT so several processes can bind the port." },
	{ .name = "name", .type = OPT_STRING, FIELD(config_listener, name),
	  .def = "",
	  .doc = "Name of a socket passed by systemd (FileDescriptorName=) to "
	  "use instead of binding; a passed socket whose address matches is "
	  "used too." },
	{ .name = "http2", .type = OPT_BOOL, FIELD(config_listener, http2),
	  .def = "true",
	  .doc = "Speak HTTP/2: ALPN h2 with TLS, prior knowledge (h2c) in "
	  "cleartext, beside HTTP/1.1 on the same port." },
	{ .name = "tls", .type = OPT_BOOL, FIELD(config_listener, tls),
	  .def = "false",
	  .doc = "Speak TLS (1.2 or later) on this listener; needs "
	  "certificate and key." },
	{ .name = "certificate", .type = OPT_STRING,
	  FIELD(config_listener, certificate), .def = "",
	  .doc = "PEM file of the server certificate, optionally followed by "
	  "its chain; reloaded on SIGHUP." },
	{ .name = "key", .type = OPT_STRING, FIELD(config_listener, key),
	  .def = "",
	  .doc = "PEM file of the certificate's private key." },
	{ .name = "chain", .type = OPT_STRING, FIELD(config_listener, chain),
	  .def = "",
	  .doc = "PEM file of intermediate certificates sent after the "
	  "server certificate; empty = none." },
	{ .name = "client_ca", .type = OPT_STRING,
	  FIELD(config_listener, client_ca), .def = "",
	  .doc = "PEM file of the CAs client certificates are verified "
	  "against; needed when client_certificates is not none." },
	{ .name = "client_certificates", .type = OPT_ENUM,
	  FIELD(config_listener, client_certificates), .def = "none",
	  .names = config_client_certs,
	  .doc = "Ask clients for a certificate: none, optional (verified "
	  "when sent) or required (handshake fails without one)." },
	{ .name = "ciphers", .type = OPT_STRING,
	  FIELD(config_listener, ciphers),
	  .def = "ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM:DHE+CHACHA20",
	  .doc = "OpenSSL cipher list for TLS 1.2 (forward secret AEAD "
	  "ciphers, as HTTP/2 requires, by default)." },
	{ .name = "ciphersuites", .type = OPT_STRING,
	  FIELD(config_listener, ciphersuites),
	  .def = "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:"
	  "TLS_CHACHA20_POLY1305_SHA256",
	  .doc = "OpenSSL cipher suites for TLS 1.3." },
	{ .name = "min_tls_version", .type = OPT_ENUM,
	  FIELD(config_listener, min_tls), .def = "1.2",
	  .names = config_tls_versions,
	  .doc = "Oldest TLS version accepted: 1.2 or 1.3." },
};

static const struct config_opt config_route_opts[] = {
	{ .name = "path", .type = OPT_STRING, FIELD(config_route, path),
	  .flags = OPT_REQUIRED, .check = config_check_path,
	  .doc = "Exact path such as \"/echo\", or prefix such as \"/ws/*\"." },
	{ .name = "handler", .type = OPT_STRING, FIELD(config_route, handler),
	  .flags = OPT_REQUIRED, .check = config_check_handler,
	  .doc = "Handler serving the route: echo, broadcast or pubsub." },
	{ .name = "allow_publish", .type = OPT_BOOL,
	  FIELD(config_route, allow_publish), .def = "false",
	  .doc = "Clients of a pubsub route may publish to its channels." },
	{ .name = "protocols", .type = OPT_TOKENS,
	  FIELD(config_route, protocols), .check = config_check_token,
	  .doc = "Subprotocols the route offers, in order of preference." },
	{ .name = "send_buffer_limit", .type = OPT_SIZE,
	  FIELD(config_route, send_buffer_limit), .inherit = "send_buffer_limit",
	  .min = 4096, .max = 1073741824.0,
	  .doc = "Hard limit of queued bytes per connection on this route." },
	{ .name = "send_buffer_soft_limit", .type = OPT_SIZE,
	  FIELD(config_route, send_buffer_soft_limit),
	  .inherit = "send_buffer_soft_limit", .min = 1024, .max = 1073741824.0,
	  .doc = "Soft limit of queued bytes per connection on this route." },
	{ .name = "send_buffer_soft_seconds", .type = OPT_DURATION,
	  FIELD(config_route, send_buffer_soft_seconds),
	  .inherit = "send_buffer_soft_seconds", .min = 0.1, .max = 3600,
	  .doc = "Time allowed above the soft limit on this route." },
	{ .name = "deflate", .type = OPT_BOOL, FIELD(config_route, deflate),
	  .inherit = "deflate",
	  .doc = "Accept permessage-deflate on this route." },
	{ .name = "origins", .type = OPT_TOKENS, FIELD(config_route, origins),
	  .check = config_check_origin,
	  .doc = "Origins a browser may connect from (\"https://app.example\", "
	  "\"https://*.example.com\"); others get 403; empty = any; "
	  "requests without Origin pass." },
	{ .name = "slow_consumer_policy", .type = OPT_ENUM,
	  FIELD(config_route, slow_consumer_policy),
	  .inherit = "slow_consumer_policy", .names = config_slow_policies,
	  .doc = "Slow-consumer policy of this route." },
};

static const struct config_opt config_auth_opts[] = {
	{ .name = "plugin", .type = OPT_STRING, FIELD(config_auth, plugin),
	  .flags = OPT_REQUIRED,
	  .doc = "The plugin: a path, or a file name looked up in the plugin "
	  "directory (" WSH_PKGLIBDIR ")." },
	{ .name = "options", .type = OPT_SECTION,
	  .section = config_read_auth_options,
	  .doc = "Options handed to the plugin, as key = value pairs." },
	{ .name = "timeout", .type = OPT_DURATION,
	  FIELD(config_auth, timeout), .def = "2s", .min = 0.01, .max = 60,
	  .doc = "Time the plugin has to decide; then the request gets 503." },
};

static const struct config_opt config_channel_opts[] = {
	{ .name = "pattern", .type = OPT_STRING, FIELD(config_channel, pattern),
	  .flags = OPT_REQUIRED,
	  .doc = "Channel name pattern; '*' matches any run of characters." },
	{ .name = "history_size", .type = OPT_INT,
	  FIELD(config_channel, history_size), .inherit = "history_size",
	  .min = 0, .max = 10000000,
	  .doc = "Messages kept per matching channel." },
	{ .name = "history_bytes", .type = OPT_SIZE,
	  FIELD(config_channel, history_bytes), .inherit = "history_bytes",
	  .min = 0, .max = 17179869184.0,
	  .doc = "Payload bytes kept per matching channel." },
	{ .name = "history_ttl", .type = OPT_DURATION,
	  FIELD(config_channel, history_ttl), .inherit = "history_ttl",
	  .flags = OPT_ZERO_OFF, .min = 1, .max = 31536000,
	  .doc = "Age limit of the history of matching channels; 0 = none." },
};

static const struct config_opt config_cluster_opts[] = {
	{ .name = "redis", .type = OPT_TOKENS, FIELD(config_cluster, redis),
	  .check = config_check_redis,
	  .doc = "Redis servers, tried in turn: \"tcp://HOST:PORT\" or "
	  "\"unix:/PATH\" (at least one)." },
	{ .name = "password", .type = OPT_STRING,
	  FIELD(config_cluster, password), .def = "",
	  .doc = "Password for AUTH; empty = none." },
	{ .name = "user", .type = OPT_STRING, FIELD(config_cluster, user),
	  .def = "",
	  .doc = "ACL user for AUTH (Redis 6+); empty = the default user." },
	{ .name = "tls", .type = OPT_BOOL, FIELD(config_cluster, tls),
	  .def = "false",
	  .doc = "Speak TLS to Redis (needs hiredis built with TLS)." },
	{ .name = "key_prefix", .type = OPT_STRING,
	  FIELD(config_cluster, key_prefix), .def = "wshub:",
	  .doc = "Prefix of every Redis key and pub/sub channel wshubd uses." },
	{ .name = "connect_timeout", .type = OPT_DURATION,
	  FIELD(config_cluster, connect_timeout), .def = "2s",
	  .min = 0.1, .max = 60,
	  .doc = "Time to connect to Redis before trying again." },
	{ .name = "command_timeout", .type = OPT_DURATION,
	  FIELD(config_cluster, command_timeout), .def = "2s",
	  .min = 0.1, .max = 60,
	  .doc = "Time Redis has to answer a command before the connection "
	  "is taken for dead." },
	{ .name = "node_id", .type = OPT_STRING,
	  FIELD(config_cluster, node_id), .def = "",
	  .check = config_check_node_id,
	  .doc = "This node's name in the cluster (1-64 of A-Z a-z 0-9 _ . -); "
	  "empty = random per process." },
};

_Static_assert(nitems(config_opts) <= CONFIG_OPTS_MAX, "too many options");
_Static_assert(nitems(config_listener_opts) <= CONFIG_OPTS_MAX,
    "too many listener options");
_Static_assert(nitems(config_route_opts) <= CONFIG_OPTS_MAX,
    "too many route options");

static char *config_printf(const char *, ...)
    __attribute__((format(printf, 1, 2)));
static int	config_fail(struct config_ctx *, const config_setting_t *,
		    const char *, ...) __attribute__((format(printf, 3, 4)));

/* Like asprintf(3), which needs _GNU_SOURCE; returns NULL on failure. */
static char *
config_printf(const char *fmt, ...)
{
	va_list	 ap;
	char	*s;
	int	 n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || (s = malloc((size_t)n + 1)) == NULL)
		return NULL;
	va_start(ap, fmt);
	vsnprintf(s, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return s;
}

/*
 * Record |msg| as "FILE:LINE: msg", or "FILE: msg" when |line| is 0, with
 * |file| NULL meaning the file given to config_load. Only the first problem
 * is kept, since later ones are often its consequences. Returns -1.
 */
static int
config_fail_at(struct config_ctx *ctx, const char *file, unsigned int line,
    const char *msg)
{
	const char	*dir = "", *sep = "";
	char		 where[32] = "";

	if (ctx->cause != NULL)
		return -1;
	if (file == NULL)
		file = ctx->file;
	/*
	 * libconfig names an included file as the @include line wrote it,
	 * relative to the include directory, which is that of the main file.
	 */
	if (strcmp(file, ctx->file) != 0 && file[0] != '/' &&
	    ctx->dir != NULL) {
		dir = ctx->dir;
		if (dir[0] != '\0' && dir[strlen(dir) - 1] != '/')
			sep = "/";
	}
	if (line != 0)
		snprintf(where, sizeof where, ":%u", line);
	ctx->cause = config_printf("%s%s%s%s: %s", dir, sep, file, where, msg);
	return -1;
}

/* Record a problem found in setting |s|, or in no setting when NULL. */
static int
config_fail(struct config_ctx *ctx, const config_setting_t *s,
    const char *fmt, ...)
{
	char		 msg[512];
	va_list		 ap;

	if (ctx->cause != NULL)
		return -1;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (s == NULL)
		return config_fail_at(ctx, NULL, 0, msg);
	return config_fail_at(ctx, config_setting_source_file(s),
	    config_setting_source_line(s), msg);
}

/* Parse a size: decimal digits, then nothing or one of k, K, M, G. */
static int
config_parse_size(const char *s, uint64_t *out)
{
	uint64_t	 v = 0, mult = 1;

	if (*s < '0' || *s > '9')
		return -1;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (v > (UINT64_MAX - 9) / 10)
			return -1;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	switch (*s) {
	case '\0':
		break;
	case 'k':
	case 'K':
		mult = CONFIG_KIB;
		s++;
		break;
	case 'M':
		mult = CONFIG_MIB;
		s++;
		break;
	case 'G':
		mult = CONFIG_GIB;
		s++;
		break;
	default:
		return -1;
	}
	if (*s != '\0' || (v != 0 && v > UINT64_MAX / mult))
		return -1;
	*out = v * mult;
	return 0;
}

/*
 * Parse a duration: a decimal number with an optional fraction, then
 * nothing (seconds) or one of ms, s, m, h. Exponents, signs, "inf" and
 * "nan" that strtod(3) would take are refused on purpose.
 */
static int
config_parse_duration(const char *s, double *out)
{
	double	 v = 0, scale = 0.1;

	if (*s < '0' || *s > '9')
		return -1;
	for (; *s >= '0' && *s <= '9'; s++)
		v = v * 10 + (*s - '0');
	if (*s == '.') {
		s++;
		if (*s < '0' || *s > '9')
			return -1;
		for (; *s >= '0' && *s <= '9'; s++, scale /= 10)
			v += (*s - '0') * scale;
	}
	if (strcmp(s, "") == 0 || strcmp(s, "s") == 0)
		*out = v;
	else if (strcmp(s, "ms") == 0)
		*out = v / 1000;
	else if (strcmp(s, "m") == 0)
		*out = v * 60;
	else if (strcmp(s, "h") == 0)
		*out = v * 3600;
	else
		return -1;
	return 0;
}

/* Write |v| bytes with the largest suffix that keeps it whole. */
static void
config_fmt_size(uint64_t v, char *buf, size_t len)
{
	if (v != 0 && v % CONFIG_GIB == 0)
		snprintf(buf, len, "%lluG", (unsigned long long)(v / CONFIG_GIB));
	else if (v != 0 && v % CONFIG_MIB == 0)
		snprintf(buf, len, "%lluM", (unsigned long long)(v / CONFIG_MIB));
	else if (v != 0 && v % CONFIG_KIB == 0)
		snprintf(buf, len, "%lluk", (unsigned long long)(v / CONFIG_KIB));
	else
		snprintf(buf, len, "%llu", (unsigned long long)v);
}

/* Write one bound of option |o| as an operator would type it. */
static void
config_fmt_bound(const struct config_opt *o, double v, char *buf, size_t len)
{
	switch (o->type) {
	case OPT_SIZE:
		config_fmt_size((uint64_t)v, buf, len);
		break;
	case OPT_DURATION:
		if (v > 0 && v < 1)
			snprintf(buf, len, "%gms", v * 1000);
		else
			snprintf(buf, len, "%gs", v);
		break;
	default:
		snprintf(buf, len, "%.0f", v);
		break;
	}
}

/*
 * Describe the values |o| accepts, such as "between 1 and 65535" or
 * "one of error, warning"; empty when any value of its type will do.
 */
static void
config_fmt_range(const struct config_opt *o, char *buf, size_t len)
{
	const struct config_name	*n;
	char				 lo[32], hi[32];
	size_t				 off;

	buf[0] = '\0';
	switch (o->type) {
	case OPT_INT:
	case OPT_SIZE:
	case OPT_DURATION:
		config_fmt_bound(o, o->min, lo, sizeof lo);
		config_fmt_bound(o, o->max, hi, sizeof hi);
		snprintf(buf, len, "%sbetween %s and %s",
		    (o->flags & OPT_ZERO_OFF) ? "0 (off) or " : "", lo, hi);
		break;
	case OPT_ENUM:
		off = (size_t)snprintf(buf, len, "one of");
		for (n = o->names; n->name != NULL && off < len; n++)
			off += (size_t)snprintf(buf + off, len - off, "%s %s",
			    n == o->names ? "" : ",", n->name);
		break;
	default:
		break;
	}
}

static const struct config_opt *
config_opt_find(const struct config_opt *tab, size_t n, const char *name)
{
	size_t	 i;

	for (i = 0; i < n; i++) {
		if (strcmp(tab[i].name, name) == 0)
			return &tab[i];
	}
	return NULL;
}

static int
config_opt_type_error(struct config_ctx *ctx, const struct config_opt *o,
    const config_setting_t *s)
{
	char	 range[256];

	if (o->type == OPT_ENUM) {
		config_fmt_range(o, range, sizeof range);
		return config_fail(ctx, s, "'%s' must be %s", o->name, range);
	}
	return config_fail(ctx, s, "'%s' must be %s", o->name,
	    config_kinds[o->type].expect);
}

static int
config_opt_range_error(struct config_ctx *ctx, const struct config_opt *o,
    const config_setting_t *s)
{
	char	 range[256];

	config_fmt_range(o, range, sizeof range);
	return config_fail(ctx, s, "'%s' must be %s", o->name, range);
}

/* A default in the table that its own parser refuses is a bug here. */
static int
config_opt_bad_default(struct config_ctx *ctx, const struct config_opt *o)
{
	return config_fail(ctx, NULL, "built-in default of '%s' is invalid",
	    o->name);
}

static int
config_opt_in_range(const struct config_opt *o, double v)
{
	if ((o->flags & OPT_ZERO_OFF) && v == 0)
		return 1;
	/* Written so that NaN is out of range too. */
	return v >= o->min && v <= o->max;
}

static int
config_set_tokens(struct config_ctx *ctx, const struct config_opt *o,
    char ***field, const config_setting_t *s)
{
	const config_setting_t	*e;
	const char		*v;
	char			 why[256];
	char			**list;
	int			 i, n = 0;

	if (s != NULL) {
		if (config_setting_type(s) == CONFIG_TYPE_STRING)
			n = 1;
		else if (config_setting_is_array(s) ||
		    config_setting_is_list(s))
			n = config_setting_length(s);
		else
			return config_opt_type_error(ctx, o, s);
	}
	if ((list = calloc((size_t)n + 1, sizeof *list)) == NULL)
		return config_fail(ctx, s, "out of memory");
	free(*field);
	*field = list;
	for (i = 0; i < n; i++) {
		e = config_setting_type(s) == CONFIG_TYPE_STRING ? s :
		    config_setting_get_elem(s, (unsigned int)i);
		if (config_setting_type(e) != CONFIG_TYPE_STRING)
			return config_opt_type_error(ctx, o, s);
		v = config_setting_get_string(e);
		if (o->check != NULL && o->check(v, why, sizeof why) == -1)
			return config_fail(ctx, s, "'%s' must hold %s, not "
			    "\"%s\"", o->name, why, v);
		if ((list[i] = strdup(v)) == NULL)
			return config_fail(ctx, s, "out of memory");
	}
	return 0;
}

/*
 * Set option |o| of |base| from setting |s|, or from its default when |s|
 * is NULL, checking type and range.
 */
static int
config_opt_set(struct config_ctx *ctx, const struct config_opt *o,
    void *base, const config_setting_t *s)
{
	const struct config_name	*n;
	char				*field = (char *)base + o->offset;
	const char			*str;
	char				 why[256], *copy;
	int				 type, b, i;
	uint64_t			 u;
	long long			 ll;
	double				 d;

	type = s != NULL ? config_setting_type(s) : CONFIG_TYPE_NONE;
	switch (o->type) {
	case OPT_INT:
	case OPT_SIZE:
		if (s == NULL) {
			if (config_parse_size(o->def, &u) == -1)
				return config_opt_bad_default(ctx, o);
		} else if (type == CONFIG_TYPE_INT ||
		    type == CONFIG_TYPE_INT64) {
			ll = config_setting_get_int64(s);
			if (ll < 0)
				return config_opt_range_error(ctx, o, s);
			u = (uint64_t)ll;
		} else if (o->type == OPT_SIZE && type == CONFIG_TYPE_STRING) {
			if (config_parse_size(config_setting_get_string(s),
			    &u) == -1)
				return config_opt_type_error(ctx, o, s);
		} else
			return config_opt_type_error(ctx, o, s);
		if (!config_opt_in_range(o, (double)u))
			return config_opt_range_error(ctx, o, s);
		if (o->size == sizeof(int)) {
			i = (int)u;
			memcpy(field, &i, sizeof i);
		} else
			memcpy(field, &u, sizeof u);
		return 0;
	case OPT_DURATION:
		if (s == NULL) {
			if (config_parse_duration(o->def, &d) == -1)
				return config_opt_bad_default(ctx, o);
		} else if (type == CONFIG_TYPE_INT ||
		    type == CONFIG_TYPE_INT64)
			d = (double)config_setting_get_int64(s);
		else if (type == CONFIG_TYPE_FLOAT)
			d = config_setting_get_float(s);
		else if (type == CONFIG_TYPE_STRING) {
			if (config_parse_duration(config_setting_get_string(s),
			    &d) == -1)
				return config_opt_type_error(ctx, o, s);
		} else
			return config_opt_type_error(ctx, o, s);
		if (!config_opt_in_range(o, d))
			return config_opt_range_error(ctx, o, s);
		memcpy(field, &d, sizeof d);
		return 0;
	case OPT_BOOL:
		if (s == NULL)
			b = strcmp(o->def, "true") == 0;
		else if (type == CONFIG_TYPE_BOOL)
			b = config_setting_get_bool(s) != 0;
		else
			return config_opt_type_error(ctx, o, s);
		memcpy(field, &b, sizeof b);
		return 0;
	case OPT_STRING:
	case OPT_ENUM:
		if (s == NULL)
			str = o->def;
		else if (type == CONFIG_TYPE_STRING)
			str = config_setting_get_string(s);
		else
			return config_opt_type_error(ctx, o, s);
		if (o->type == OPT_ENUM) {
			for (n = o->names; n->name != NULL; n++) {
				if (strcmp(n->name, str) == 0)
					break;
			}
			if (n->name == NULL) {
				if (s == NULL)
					return config_opt_bad_default(ctx, o);
				config_fmt_range(o, why, sizeof why);
				return config_fail(ctx, s, "'%s' must be %s, "
				    "not \"%s\"", o->name, why, str);
			}
			memcpy(field, &n->value, sizeof n->value);
			return 0;
		}
		if (o->check != NULL && o->check(str, why, sizeof why) == -1) {
			if (s == NULL)
				return config_opt_bad_default(ctx, o);
			return config_fail(ctx, s, "'%s' must be %s, not \"%s\"",
			    o->name, why, str);
		}
		if ((copy = strdup(str)) == NULL)
			return config_fail(ctx, s, "out of memory");
		free(*(char **)(void *)field);
		memcpy(field, &copy, sizeof copy);
		return 0;
	case OPT_TOKENS:
		return config_set_tokens(ctx, o, (char ***)(void *)field, s);
	case OPT_SECTION:
		if (s == NULL)
			return 0;
		return o->section(ctx, base, s);
	}
	return config_fail(ctx, s, "'%s' has an unknown type", o->name);
}

/*
 * Read the members of |group| into |base| through the table |tab|, then
 * give every option not set its default. |what| names the group in
 * messages about missing options.
 */
static int
config_opts_read(struct config_ctx *ctx, const struct config_opt *tab,
    size_t ntab, void *base, const config_setting_t *group, const char *what,
    uint32_t *inherited)
{
	const struct config_opt	*o;
	const config_setting_t	*m;
	unsigned char		 seen[CONFIG_OPTS_MAX] = { 0 };
	int			 i, n;
	size_t			 j;

	n = config_setting_length(group);
	for (i = 0; i < n; i++) {
		m = config_setting_get_elem(group, (unsigned int)i);
		o = config_opt_find(tab, ntab, config_setting_name(m));
		if (o == NULL)
			return config_fail(ctx, m, "unknown option '%s'",
			    config_setting_name(m));
		seen[o - tab] = 1;
		if (config_opt_set(ctx, o, base, m) == -1)
			return -1;
	}
	for (j = 0; j < ntab; j++) {
		if (seen[j])
			continue;
		if (tab[j].flags & OPT_REQUIRED)
			return config_fail(ctx, group, "missing '%s' in %s",
			    tab[j].name, what);
		/* Filled from the top level once the whole file is read. */
		if (tab[j].inherit != NULL && inherited != NULL) {
			*inherited |= (uint32_t)1 << j;
			continue;
		}
		if (config_opt_set(ctx, &tab[j], base, NULL) == -1)
			return -1;
	}
	return 0;
}

/* Free the strings and lists that the options of |tab| own in |base|. */
static void
config_opts_free(const struct config_opt *tab, size_t ntab, void *base)
{
	char	**p, ***list;
	size_t	  i;

	for (i = 0; i < ntab; i++) {
		switch (tab[i].type) {
		case OPT_STRING:
			free(*(char **)(void *)((char *)base + tab[i].offset));
			break;
		case OPT_TOKENS:
			list = (char ***)(void *)((char *)base + tab[i].offset);
			if (*list == NULL)
				break;
			for (p = *list; *p != NULL; p++)
				free(*p);
			free(*list);
			break;
		default:
			break;
		}
	}
}

/* Header field names and subprotocols are RFC 9110 tokens. */
static int
config_check_token(const char *s, char *why, size_t len)
{
	const char	*p;

	for (p = s; *p != '\0'; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') ||
		    strchr("!#$%&'*+-.^_`|~", *p) != NULL)
			continue;
		break;
	}
	if (p != s && *p == '\0')
		return 0;
	snprintf(why, len, "a token (letters, digits and !#$%%&'*+-.^_`|~)");
	return -1;
}

static int
config_addr_parse(const char *s, int *family, unsigned char addr[16])
{
	if (strcmp(s, "*") == 0)
		s = "0.0.0.0";
	memset(addr, 0, 16);
	*family = strchr(s, ':') != NULL ? AF_INET6 : AF_INET;
	return inet_pton(*family, s, addr) == 1 ? 0 : -1;
}

static int
config_check_address(const char *s, char *why, size_t len)
{
	unsigned char	 addr[16];
	int		 family;

	if (config_addr_parse(s, &family, addr) == 0)
		return 0;
	snprintf(why, len, "an IPv4 or IPv6 address, or \"*\"");
	return -1;
}

/*
 * A route path starts with "/" and is printable ASCII without query or
 * fragment; "*" may only end it, after a "/", to make a prefix route.
 */
static int
config_check_path(const char *s, char *why, size_t len)
{
	const char	*p;

	if (s[0] != '/')
		goto bad;
	for (p = s; *p != '\0'; p++) {
		if (*p <= ' ' || *p >= 0x7f || *p == '?' || *p == '#')
			goto bad;
		if (*p == '*' && (p[-1] != '/' || p[1] != '\0'))
			goto bad;
	}
	return 0;
bad:
	snprintf(why, len, "a path starting with \"/\", optionally ending "
	    "in \"/*\"");
	return -1;
}

static int
config_check_handler(const char *s, char *why, size_t len)
{
	size_t	 i, off;

	for (i = 0; i < nitems(config_handlers); i++) {
		if (strcmp(config_handlers[i], s) == 0)
			return 0;
	}
	off = (size_t)snprintf(why, len, "one of");
	for (i = 0; i < nitems(config_handlers) && off < len; i++)
		off += (size_t)snprintf(why + off, len - off, "%s %s",
		    i == 0 ? "" : ",", config_handlers[i]);
	return -1;
}

/* An octal file mode such as "0660", with no bits beyond 0777. */
static int
config_check_mode(const char *s, char *why, size_t len)
{
	const char	*p;
	unsigned long	 v = 0;

	for (p = s; *p >= '0' && *p <= '7'; p++)
		v = v * 8 + (unsigned long)(*p - '0');
	if (p != s && *p == '\0' && p - s <= 4 && v <= 0777)
		return 0;
	snprintf(why, len, "an octal mode such as \"0660\"");
	return -1;
}

/* Empty, a uid, or the name of a user of this system. */
static int
config_check_user(const char *s, char *why, size_t len)
{
	if (s[0] == '\0' || config_user_id(s, NULL, NULL) == 0)
		return 0;
	snprintf(why, len, "a user of this system (name or uid)");
	return -1;
}

/* Empty, a gid, or the name of a group of this system. */
static int
config_check_group(const char *s, char *why, size_t len)
{
	if (s[0] == '\0' || config_group_id(s, NULL) == 0)
		return 0;
	snprintf(why, len, "a group of this system (name or gid)");
	return -1;
}

static int
config_parse_id(const char *s, unsigned long *out)
{
	char		*end;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	*out = strtoul(s, &end, 10);
	return *end == '\0' && errno == 0 && *out < UINT32_MAX ? 0 : -1;
}

int
config_user_id(const char *name, uid_t *uid, gid_t *gid)
{
	struct passwd	*pw;
	unsigned long	 v;

	if (config_parse_id(name, &v) == 0) {
		pw = getpwuid((uid_t)v);
		if (uid != NULL)
			*uid = (uid_t)v;
		if (gid != NULL)
			*gid = pw != NULL ? pw->pw_gid : (gid_t)v;
		return 0;
	}
	if ((pw = getpwnam(name)) == NULL)
		return -1;
	if (uid != NULL)
		*uid = pw->pw_uid;
	if (gid != NULL)
		*gid = pw->pw_gid;
	return 0;
}

int
config_group_id(const char *name, gid_t *gid)
{
	struct group	*gr;
	unsigned long	 v;

	if (config_parse_id(name, &v) == 0) {
		if (gid != NULL)
			*gid = (gid_t)v;
		return 0;
	}
	if ((gr = getgrnam(name)) == NULL)
		return -1;
	if (gid != NULL)
		*gid = gr->gr_gid;
	return 0;
}

static int
config_read_listeners(struct config_ctx *ctx, struct config *cfg,
    const config_setting_t *s)
{
	struct config_listener	*l, *o;
	const config_setting_t	*g;
	unsigned char		 a[16], b[16];
	int			 af, bf;
	size_t			 i, j, n;

	if (!config_setting_is_list(s))
		return config_fail(ctx, s, "'listeners' must be %s",
		    config_kinds[OPT_SECTION].expect);
	n = (size_t)config_setting_length(s);
	if (n == 0)
		return config_fail(ctx, s, "no listeners defined");
	if ((cfg->listeners = calloc(n, sizeof *cfg->listeners)) == NULL)
		return config_fail(ctx, s, "out of memory");
	cfg->nlisteners = n;
	for (i = 0; i < n; i++) {
		g = config_setting_get_elem(s, (unsigned int)i);
		l = &cfg->listeners[i];
		l->line = (int)config_setting_source_line(g);
		if (!config_setting_is_group(g))
			return config_fail(ctx, g, "a listener must be a group "
			    "{ address = ...; port = ...; }");
		if (config_opts_read(ctx, config_listener_opts,
		    nitems(config_listener_opts), l, g, "listener", NULL) == -1)
			return -1;
		if (l->tls && (l->certificate[0] == '\0' ||
		    l->key[0] == '\0'))
			return config_fail(ctx, g, "a TLS listener needs "
			    "certificate and key");
		if (l->tls && l->client_certificates != TLS_CLIENT_NONE &&
		    l->client_ca[0] == '\0')
			return config_fail(ctx, g, "client_certificates = "
			    "optional or required needs client_ca");
		if (strcmp(l->address, "*") == 0) {
			free(l->address);
			if ((l->address = strdup("0.0.0.0")) == NULL)
				return config_fail(ctx, g, "out of memory");
		}
		/* Compare binary addresses, so "::1" equals "0::1". */
		config_addr_parse(l->address, &af, a);
		for (j = 0; j < i; j++) {
			o = &cfg->listeners[j];
			config_addr_parse(o->address, &bf, b);
			if (o->port == l->port && af == bf &&
			    memcmp(a, b, sizeof a) == 0)
				return config_fail(ctx, g, "duplicate listener "
				    "%s port %d (first at line %d)",
				    l->address, l->port, o->line);
		}
	}
	return 0;
}

static int
config_read_routes(struct config_ctx *ctx, struct config *cfg,
    const config_setting_t *s)
{
	struct config_route	*r, *o;
	const config_setting_t	*g;
	size_t			 i, j, n, len;

	if (!config_setting_is_list(s))
		return config_fail(ctx, s, "'routes' must be %s",
		    config_kinds[OPT_SECTION].expect);
	n = (size_t)config_setting_length(s);
	if (n == 0)
		return config_fail(ctx, s, "no routes defined");
	if ((cfg->routes = calloc(n, sizeof *cfg->routes)) == NULL)
		return config_fail(ctx, s, "out of memory");
	cfg->nroutes = n;
	for (i = 0; i < n; i++) {
		g = config_setting_get_elem(s, (unsigned int)i);
		r = &cfg->routes[i];
		r->line = (int)config_setting_source_line(g);
		if (!config_setting_is_group(g))
			return config_fail(ctx, g, "a route must be a group "
			    "{ path = ...; handler = ...; }");
		if (config_opts_read(ctx, config_route_opts,
		    nitems(config_route_opts), r, g, "route", &r->inherited) == -1)
			return -1;
		len = strlen(r->path);
		if (len >= 2 && strcmp(r->path + len - 2, "/*") == 0) {
			r->path[len - 1] = '\0';
			r->prefix = 1;
		}
		for (j = 0; j < i; j++) {
			o = &cfg->routes[j];
			if (o->prefix == r->prefix &&
			    strcmp(o->path, r->path) == 0)
				return config_fail(ctx, g, "duplicate route "
				    "'%s%s' (first at line %d)", r->path,
				    r->prefix ? "*" : "", o->line);
		}
	}
	return 0;
}

/* Copy top-level values into the options of |base| left unset. */
static void
config_inherit_one(const struct config *cfg, const struct config_opt *tab,
    size_t ntab, void *base, uint32_t inherited)
{
	for (size_t j = 0; j < ntab; j++) {
		const struct config_opt *to;

		if ((inherited & ((uint32_t)1 << j)) == 0)
			continue;
		to = config_opt_find(config_opts, nitems(config_opts),
		    tab[j].inherit);
		memcpy((char *)base + tab[j].offset,
		    (const char *)cfg + to->offset, tab[j].size);
	}
}

/*
 * Route and channel options left unset take the top-level value; done
 * after the whole file is read, since the top-level option may come later.
 */
static void
config_inherit(struct config *cfg)
{
	for (size_t i = 0; i < cfg->nroutes; i++)
		config_inherit_one(cfg, config_route_opts,
		    nitems(config_route_opts), &cfg->routes[i],
		    cfg->routes[i].inherited);
	for (size_t i = 0; i < cfg->nchannels; i++)
		config_inherit_one(cfg, config_channel_opts,
		    nitems(config_channel_opts), &cfg->channels[i],
		    cfg->channels[i].inherited);
}

static int
config_read_channels(struct config_ctx *ctx, struct config *cfg,
    const config_setting_t *s)
{
	const config_setting_t	*g;
	size_t			 i, n;

	if (!config_setting_is_list(s))
		return config_fail(ctx, s, "'channels' must be %s",
		    config_kinds[OPT_SECTION].expect);
	n = (size_t)config_setting_length(s);
	if (n == 0)
		return 0;
	if ((cfg->channels = calloc(n, sizeof *cfg->channels)) == NULL)
		return config_fail(ctx, s, "out of memory");
	cfg->nchannels = n;
	for (i = 0; i < n; i++) {
		struct config_channel *c = &cfg->channels[i];

		g = config_setting_get_elem(s, (unsigned int)i);
		c->line = (int)config_setting_source_line(g);
		if (!config_setting_is_group(g))
			return config_fail(ctx, g, "a channel entry must be a "
			    "group { pattern = ...; ... }");
		if (config_opts_read(ctx, config_channel_opts,
		    nitems(config_channel_opts), c, g, "channel entry",
		    &c->inherited) == -1)
			return -1;
	}
	return 0;
}

/* A Redis address: tcp://HOST:PORT or unix:/PATH. */
static int
config_check_redis(const char *s, char *why, size_t len)
{
	const char	*colon;
	char		*end;
	long		 port;

	if (strncmp(s, "unix:/", 6) == 0 && s[6] != '\0')
		return 0;
	if (strncmp(s, "tcp://", 6) == 0 && (colon = strrchr(s + 6, ':')) !=
	    NULL && colon > s + 6) {
		port = strtol(colon + 1, &end, 10);
		if (colon[1] != '\0' && *end == '\0' && port > 0 &&
		    port < 65536)
			return 0;
	}
	snprintf(why, len, "a Redis address, \"tcp://HOST:PORT\" or "
	    "\"unix:/PATH\"");
	return -1;
}

/* Node names appear in Redis keys: keep them short and plain. */
static int
config_check_node_id(const char *s, char *why, size_t len)
{
	size_t	 n = strlen(s);

	if (n <= 64 && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789_.-") == n)
		return 0;
	snprintf(why, len, "at most 64 of A-Z a-z 0-9 _ . -");
	return -1;
}

static int
config_read_cluster(struct config_ctx *ctx, struct config *cfg,
    const config_setting_t *s)
{
	struct config_cluster	*cl = &cfg->cluster;

	if (!config_setting_is_group(s))
		return config_fail(ctx, s, "'cluster' must be a group "
		    "{ redis = [ ... ]; ... }");
	if (config_opts_read(ctx, config_cluster_opts,
	    nitems(config_cluster_opts), cl, s, "cluster", NULL) == -1)
		return -1;
#ifndef HAVE_HIREDIS
	return config_fail(ctx, s, "'cluster' needs Redis support, which "
	    "this wshubd was built without (configure --with-redis)");
#endif
	if (cl->redis == NULL || cl->redis[0] == NULL)
		return config_fail(ctx, s, "missing 'redis' in cluster: at "
		    "least one Redis address");
#ifndef HAVE_HIREDIS_SSL
	if (cl->tls)
		return config_fail(ctx, s, "cluster 'tls' needs hiredis with "
		    "TLS support (hiredis_ssl), which this build lacks; reach "
		    "Redis over a Unix socket or a TLS tunnel instead");
#endif
	cl->enabled = 1;
	return 0;
}

static int
config_read_auth(struct config_ctx *ctx, struct config *cfg,
    const config_setting_t *s)
{
	struct config_auth	*a = &cfg->auth;
	char			 why[512], *path;

	if (!config_setting_is_group(s))
		return config_fail(ctx, s, "'auth' must be a group "
		    "{ plugin = \"...\"; options = { ... }; }");
	a->line = (int)config_setting_source_line(s);
	if (config_opts_read(ctx, config_auth_opts, nitems(config_auth_opts),
	    a, s, "auth", NULL) == -1)
		return -1;
	if (a->plugin[0] == '\0')
		return config_fail(ctx, s, "auth 'plugin' is empty");
	/* A bare file name is one of ours, in the plugin directory. */
	if (strchr(a->plugin, '/') == NULL) {
		if ((path = config_printf("%s/%s", WSH_PKGLIBDIR,
		    a->plugin)) == NULL)
			return config_fail(ctx, s, "out of memory");
		free(a->plugin);
		a->plugin = path;
	}
	/*
	 * Loading the plugin here makes a missing file or a wrong ABI a
	 * configuration error, with its line, at start, reload and -t.
	 */
	if (auth_probe(a->plugin, why, sizeof why) == -1)
		return config_fail(ctx, s, "%s", why);
	return 0;
}

/* auth.options: scalars as text, arrays joined with commas. */
static int
config_read_auth_options(struct config_ctx *ctx, struct config *cfg,
    const config_setting_t *s)
{
	/* Read from the auth group's table: |cfg| is really the section. */
	struct config_auth	*a = (struct config_auth *)(void *)cfg;
	const config_setting_t	*m, *e;
	char			 buf[64], *v, *nv;
	const char		*piece;
	int			 i, j, n;

	if (!config_setting_is_group(s))
		return config_fail(ctx, s, "auth 'options' must be a group "
		    "{ key = value; ... }");
	n = config_setting_length(s);
	if (n == 0)
		return 0;
	if ((a->options = calloc((size_t)n, sizeof *a->options)) == NULL)
		return config_fail(ctx, s, "out of memory");
	for (i = 0; i < n; i++) {
		m = config_setting_get_elem(s, (unsigned int)i);
		if ((a->options[i].key = strdup(config_setting_name(m))) ==
		    NULL)
			return config_fail(ctx, m, "out of memory");
		a->noptions++;
		v = NULL;
		for (j = 0; j < (config_setting_is_aggregate(m) ?
		    config_setting_length(m) : 1); j++) {
			e = config_setting_is_aggregate(m) ?
			    config_setting_get_elem(m, (unsigned int)j) : m;
			switch (config_setting_type(e)) {
			case CONFIG_TYPE_STRING:
				piece = config_setting_get_string(e);
				break;
			case CONFIG_TYPE_INT:
			case CONFIG_TYPE_INT64:
				snprintf(buf, sizeof buf, "%lld",
				    config_setting_get_int64(e));
				piece = buf;
				break;
			case CONFIG_TYPE_FLOAT:
				snprintf(buf, sizeof buf, "%g",
				    config_setting_get_float(e));
				piece = buf;
				break;
			case CONFIG_TYPE_BOOL:
				piece = config_setting_get_bool(e) ? "true" :
				    "false";
				break;
			default:
				free(v);
				return config_fail(ctx, e, "auth option '%s' "
				    "must be a string, number, boolean or an "
				    "array of them", a->options[i].key);
			}
			nv = config_printf("%s%s%s", v != NULL ? v : "",
			    v != NULL ? "," : "", piece);
			free(v);
			if ((v = nv) == NULL)
				return config_fail(ctx, m, "out of memory");
		}
		if (v == NULL && (v = strdup("")) == NULL)
			return config_fail(ctx, m, "out of memory");
		a->options[i].value = v;
	}
	return 0;
}

static int
config_check_origin(const char *s, char *why, size_t len)
{
	if (auth_origin_valid(s))
		return 0;
	snprintf(why, len, "an origin \"scheme://host[:port]\", or "
	    "\"scheme://*.domain\"");
	return -1;
}

const struct config_channel *
config_channel_match(const struct config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->nchannels; i++)
		if (fnmatch(cfg->channels[i].pattern, name, 0) == 0)
			return &cfg->channels[i];
	return NULL;
}

int
config_load(const char *file, struct config **out, char **cause)
{
	struct config_ctx	 ctx = { .file = file };
	struct config		*cfg = NULL;
	config_t		 lc;
	FILE			*fp;
	char			*dir = NULL;
	const char		*slash;
	int			 rc = -1;

	*out = NULL;
	*cause = NULL;

	/* libconfig reports only "file I/O error"; say why. */
	if ((fp = fopen(file, "r")) == NULL) {
		config_fail(&ctx, NULL, "%s", strerror(errno));
		goto out;
	}
	fclose(fp);

	config_init(&lc);
	/* Resolve @include relative to the file, not to the cwd. */
	if ((slash = strrchr(file, '/')) != NULL) {
		if ((dir = strdup(file)) == NULL)
			goto destroy;
		dir[slash == file ? 1 : slash - file] = '\0';
		config_set_include_dir(&lc, dir);
		ctx.dir = dir;
	}
	if (config_read_file(&lc, file) != CONFIG_TRUE) {
		config_fail_at(&ctx, config_error_file(&lc),
		    config_error_line(&lc) > 0 ?
		    (unsigned int)config_error_line(&lc) : 0,
		    config_error_text(&lc) != NULL ? config_error_text(&lc) :
		    "cannot be read");
		goto destroy;
	}
	if ((cfg = calloc(1, sizeof *cfg)) == NULL ||
	    (cfg->file = strdup(file)) == NULL)
		goto destroy;
	if (config_opts_read(&ctx, config_opts, nitems(config_opts), cfg,
	    config_root_setting(&lc), "the configuration", NULL) == -1)
		goto destroy;
	config_inherit(cfg);
	if (cfg->nlisteners == 0)
		config_fail(&ctx, NULL, "no listeners defined");
	else if (cfg->nroutes == 0)
		config_fail(&ctx, NULL, "no routes defined");
	else
		rc = 0;
destroy:
	config_destroy(&lc);
out:
	free(dir);
	if (rc == 0) {
		*out = cfg;
		return 0;
	}
	config_free(cfg);
	*cause = ctx.cause != NULL ? ctx.cause : config_printf("%s: %s", file,
	    "out of memory");
	return -1;
}

/* Whether option |o| has the same value in |a| and |b|. */
static int
config_opt_same(const struct config_opt *o, const void *a, const void *b)
{
	const char	*fa = (const char *)a + o->offset;
	const char	*fb = (const char *)b + o->offset;
	char		*sa, *sb, **la, **lb;

	switch (o->type) {
	case OPT_STRING:
		memcpy(&sa, fa, sizeof sa);
		memcpy(&sb, fb, sizeof sb);
		return strcmp(sa != NULL ? sa : "", sb != NULL ? sb : "") == 0;
	case OPT_TOKENS:
		memcpy(&la, fa, sizeof la);
		memcpy(&lb, fb, sizeof lb);
		for (; la != NULL && lb != NULL && *la != NULL && *lb != NULL;
		    la++, lb++)
			if (strcmp(*la, *lb) != 0)
				return 0;
		return (la == NULL || *la == NULL) && (lb == NULL || *lb == NULL);
	case OPT_SECTION:
		return 1;
	default:
		return memcmp(fa, fb, o->size) == 0;
	}
}

void
config_diff(const struct config *a, const struct config *b,
    void (*fn)(void *, const char *, enum config_reload), void *arg)
{
	size_t	 i, j;
	int	 same;

	for (i = 0; i < nitems(config_opts); i++)
		if (!config_opt_same(&config_opts[i], a, b))
			fn(arg, config_opts[i].name, config_opts[i].reload);
	same = a->nchannels == b->nchannels;
	for (i = 0; same && i < a->nchannels; i++)
		for (j = 0; same && j < nitems(config_channel_opts); j++)
			same = config_opt_same(&config_channel_opts[j],
			    &a->channels[i], &b->channels[i]);
	if (!same)
		fn(arg, "channels", CONFIG_RELOAD_LIVE);
}

struct config *
config_defaults(void)
{
	struct config_ctx	 ctx = { .file = "(defaults)", .cause = NULL };
	struct config		*cfg;
	size_t			 i;

	if ((cfg = calloc(1, sizeof *cfg)) == NULL)
		return NULL;
	for (i = 0; i < nitems(config_opts); i++) {
		if (config_opt_set(&ctx, &config_opts[i], cfg, NULL) == -1) {
			free(ctx.cause);
			config_free(cfg);
			return NULL;
		}
	}
	return cfg;
}

void
config_free(struct config *cfg)
{
	size_t	 i;

	if (cfg == NULL)
		return;
	for (i = 0; i < cfg->nlisteners; i++)
		config_opts_free(config_listener_opts,
		    nitems(config_listener_opts), &cfg->listeners[i]);
	free(cfg->listeners);
	for (i = 0; i < cfg->nroutes; i++)
		config_opts_free(config_route_opts, nitems(config_route_opts),
		    &cfg->routes[i]);
	free(cfg->routes);
	for (i = 0; i < cfg->nchannels; i++)
		config_opts_free(config_channel_opts,
		    nitems(config_channel_opts), &cfg->channels[i]);
	free(cfg->channels);
	config_opts_free(config_cluster_opts, nitems(config_cluster_opts),
	    &cfg->cluster);
	config_opts_free(config_auth_opts, nitems(config_auth_opts),
	    &cfg->auth);
	for (i = 0; i < cfg->auth.noptions; i++) {
		free(cfg->auth.options[i].key);
		free(cfg->auth.options[i].value);
	}
	free(cfg->auth.options);
	config_opts_free(config_opts, nitems(config_opts), cfg);
	free(cfg->file);
	free(cfg);
}

static void
config_print_table(FILE *fp, const char *prefix, const struct config_opt *tab,
    size_t ntab)
{
	const struct config_opt	*o;
	const char		*def;
	char			 name[64], range[256];
	size_t			 i;

	for (i = 0; i < ntab; i++) {
		o = &tab[i];
		snprintf(name, sizeof name, "%s%s", prefix, o->name);
		if (o->flags & OPT_REQUIRED)
			def = "(required)";
		else if (o->type == OPT_SECTION)
			def = "-";
		else if (o->type == OPT_TOKENS)
			def = "[]";
		else if (o->inherit != NULL)
			def = o->inherit;
		else
			def = o->def;
		config_fmt_range(o, range, sizeof range);
		fprintf(fp, "%-33s %-8s %-24s %s%s%s%s\n", name,
		    config_kinds[o->type].name, def, o->doc,
		    range[0] != '\0' ? " [" : "", range,
		    range[0] != '\0' ? "]" : "");
	}
}

void
config_print_options(FILE *fp)
{
	config_print_table(fp, "", config_opts, nitems(config_opts));
	config_print_table(fp, "listeners.", config_listener_opts,
	    nitems(config_listener_opts));
	config_print_table(fp, "routes.", config_route_opts,
	    nitems(config_route_opts));
	config_print_table(fp, "auth.", config_auth_opts,
	    nitems(config_auth_opts));
	config_print_table(fp, "channels.", config_channel_opts,
	    nitems(config_channel_opts));
	config_print_table(fp, "cluster.", config_cluster_opts,
	    nitems(config_cluster_opts));
}

int
config_log_level_parse(const char *name)
{
	const struct config_name	*n;

	for (n = config_log_levels; n->name != NULL; n++) {
		if (strcmp(n->name, name) == 0)
			return n->value;
	}
	return -1;
}

const char *
config_log_level_name(int level)
{
	const struct config_name	*n;

	for (n = config_log_levels; n->name != NULL; n++) {
		if (n->value == level)
			return n->name;
	}
	return NULL;
}
