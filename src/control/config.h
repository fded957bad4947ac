/* Daemon configuration: one option table read with libconfig, with defaults. */
#ifndef WSH_CONTROL_CONFIG_H
#define WSH_CONTROL_CONFIG_H

#include <sys/types.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct config_listener {
	char		*address;	/* "127.0.0.1", "::1", "0.0.0.0", "::" */
	int		 port;
	int		 backlog;
	int		 reuseport;
	char		*name;		/* systemd FileDescriptorName to adopt */
	int		 http2;		/* h2 (ALPN) and h2c prior knowledge */
	/* TLS (tls.c); |tls| 0 = cleartext and the rest unused. */
	int		 tls;
	char		*certificate;	/* PEM: leaf, maybe followed by chain */
	char		*key;		/* PEM private key */
	char		*chain;		/* PEM intermediates, "" = none */
	char		*client_ca;	/* PEM CAs for client certs, "" = none */
	int		 client_certificates;	/* enum tls_client_certs */
	char		*ciphers;	/* TLS 1.2 cipher list */
	char		*ciphersuites;	/* TLS 1.3 cipher suites */
	int		 min_tls;	/* enum tls_min_version */
	int		 line;		/* line in the file, for messages */
};

/* Whether a TLS listener asks for client certificates. */
enum tls_client_certs {
	TLS_CLIENT_NONE,
	TLS_CLIENT_OPTIONAL,
	TLS_CLIENT_REQUIRED
};

/* The oldest TLS version a listener accepts. */
enum tls_min_version {
	TLS_MIN_12,
	TLS_MIN_13
};

struct config_route {
	char		*path;		/* "/echo", or a prefix such as "/ws/" */
	int		 prefix;	/* path ended in "/" and '*' (stored
					   without the '*') */
	char		*handler;	/* "echo", "broadcast", "pubsub" */
	char		**protocols;	/* subprotocols offered, NULL-terminated;
					   never NULL, empty when none */
	int		 allow_publish;	/* clients may publish (pubsub) */
	uint64_t	 send_buffer_limit;	/* hard limit, bytes */
	uint64_t	 send_buffer_soft_limit;
	double		 send_buffer_soft_seconds;
	int		 slow_consumer_policy;	/* enum slow_policy */
	int		 deflate;	/* permessage-deflate accepted */
	char		**origins;	/* Origin allow-list, NULL-terminated;
					   never NULL, empty = any origin */
	uint32_t	 inherited;	/* options taken from the top level */
	int		 line;
};

/* What to do with a connection whose queue stays over its limits. */
enum slow_policy {
	SLOW_DISCONNECT,	/* close 1008 */
	SLOW_DROP_OLDEST	/* drop queued messages; JSON clients are told */
};

/* History limits for channels whose names match a pattern. */
struct config_channel {
	char		*pattern;	/* fnmatch(3) pattern */
	uint64_t	 history_size;	/* messages */
	uint64_t	 history_bytes;	/* payload bytes */
	double		 history_ttl;	/* seconds, 0 = no age limit */
	uint32_t	 inherited;	/* options taken from the top level */
	int		 line;
};

/* Scale-out on Redis (the cluster section); |enabled| when it is present. */
struct config_cluster {
	int		 enabled;
	char		**redis;	/* "tcp://host:port", "unix:/path" */
	char		*password;	/* "" = no AUTH */
	char		*user;		/* ACL user, "" = default */
	int		 tls;
	char		*key_prefix;	/* of every key and pub/sub channel */
	double		 connect_timeout;	/* seconds */
	double		 command_timeout;	/* seconds */
	char		*node_id;	/* "" = random per process */
};

/* One "key = value" of auth.options, laid out as struct wsh_auth_option. */
struct config_kv {
	char		*key;
	char		*value;
};

/* The auth section: the authenticator plugin and its options. */
struct config_auth {
	char		*plugin;	/* path of the shared object; NULL = none */
	struct config_kv *options;
	size_t		 noptions;
	double		 timeout;	/* seconds a decision may take */
	int		 line;
};

struct config {
	char		*file;
	unsigned	 refs;		/* holders of a reference (server.c) */

	int		 log_level;		/* LOG_ERR .. LOG_DEBUG */
	uint64_t	 max_connections;
	uint64_t	 max_header_size;	/* bytes of an HTTP request head */
	uint64_t	 max_headers;		/* header fields in a request */
	uint64_t	 max_frame_size;	/* payload bytes of one frame */
	uint64_t	 max_message_size;	/* bytes of one assembled message */
	uint64_t	 send_buffer_limit;	/* queued bytes per connection */
	double		 handshake_timeout;	/* seconds */
	double		 idle_timeout;		/* seconds, 0 = none */
	double		 ping_interval;		/* seconds, 0 = none */
	double		 shutdown_timeout;	/* seconds */
	char		*connection_id_header;	/* response header carrying the id */
	uint64_t	 send_buffer_soft_limit;	/* bytes */
	double		 send_buffer_soft_seconds;
	int		 slow_consumer_policy;	/* enum slow_policy */
	uint64_t	 history_size;		/* messages per channel */
	uint64_t	 history_bytes;		/* payload bytes per channel */
	double		 history_ttl;		/* seconds, 0 = no age limit */
	char		*api_key;		/* "" = HTTP API open */
	int		 deflate;		/* permessage-deflate accepted */
	uint64_t	 deflate_level;
	uint64_t	 deflate_mem_level;
	uint64_t	 deflate_window_bits;	/* our compressor's window */
	uint64_t	 deflate_min_size;	/* smaller messages not compressed */
	int		 deflate_no_context_takeover;	/* ask server_no_... */
	int		 deflate_client_no_context_takeover;
	struct config_channel *channels;
	size_t		 nchannels;

	char		*admin_socket;		/* "" = no admin socket */
	char		*admin_socket_mode;	/* octal, such as "0660" */
	char		*admin_socket_owner;	/* user name or uid, "" = ours */
	char		*admin_socket_group;	/* group name or gid, "" = ours */
	char		**admin_allow_users;	/* names or uids, NULL-terminated */
	char		**admin_allow_groups;	/* names or gids, NULL-terminated */
	char		*user;			/* drop to this user when root */
	char		*group;			/* and this group */
	int		 access_log;		/* a line per connection at close */
	uint64_t	 h2_max_streams;	/* concurrent streams per h2 conn */
	uint64_t	 h2_max_header_list;	/* bytes of a decoded h2 header list */
	uint64_t	 h2_window;		/* receive window per h2 stream */
	uint64_t	 h2_max_resets;		/* peer stream resets per second */
	struct config_auth auth;		/* authenticator plugin */
	struct config_cluster cluster;		/* Redis scale-out */

	struct config_listener *listeners;
	size_t		 nlisteners;
	struct config_route *routes;
	size_t		 nroutes;
};

/*
 * Read and validate |file|. On success returns 0 and stores a new config in
 * |*out|. On failure returns -1 and stores in |*cause| a malloc'd message
 * "FILE:LINE: problem" (line omitted when unknown), which the caller frees.
 */
int	config_load(const char *file, struct config **out, char **cause);

/* A config holding only the defaults (no listeners, no routes). */
struct config *config_defaults(void);

/* Free |cfg| and everything it owns; config_free(NULL) does nothing. */
void	config_free(struct config *cfg);

/*
 * The first channels entry whose pattern matches |name|, or NULL (the
 * top-level history options apply).
 */
const struct config_channel *config_channel_match(const struct config *cfg,
	    const char *name);

/*
 * Print every option with its type, default and description, one per line,
 * from the option table (used by `wshubd --help-config` and the man page).
 */
void	config_print_options(FILE *fp);

/*
 * The syslog priority (LOG_ERR .. LOG_DEBUG) named |name| ("error",
 * "warning", "notice", "info", "debug"), or -1 when there is none.
 */
int	config_log_level_parse(const char *name);

/* How a changed option takes effect on a reload. */
enum config_reload {
	CONFIG_RELOAD_LIVE,	/* at once, for every connection */
	CONFIG_RELOAD_NEW,	/* for connections opened from now on */
	CONFIG_RELOAD_RESTART	/* not until wshubd is restarted */
};

/*
 * Call |fn| with the name of every top-level option whose value differs
 * between |a| and |b|, and how a reload applies it. The listeners and
 * routes sections are left to the caller; a changed channels section is
 * reported as "channels".
 */
void	config_diff(const struct config *a, const struct config *b,
	    void (*fn)(void *, const char *, enum config_reload), void *arg);

/*
 * Resolve the user |name| (a name or a uid) to its uid and primary group;
 * either pointer may be NULL. Returns 0, or -1 when there is no such user.
 * Uses the system's user database, so it may block: setup and reload only.
 */
int	config_user_id(const char *name, uid_t *uid, gid_t *gid);

/* The same for the group |name| (a name or a gid). */
int	config_group_id(const char *name, gid_t *gid);

/* The name of syslog priority |level|, or NULL when it has none. */
const char *config_log_level_name(int level);

#endif
