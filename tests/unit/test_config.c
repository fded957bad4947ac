/* Unit tests of the configuration reader: shipped file, defaults, values, and every class of error. */

#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "control/config.h"

/* A temporary config file holding |text|; the caller unlinks it. */
static void
tmp_write(char path[64], const char *text)
{
	FILE	*fp;
	int	 fd;

	snprintf(path, 64, "/tmp/wshub-test-config.XXXXXX");
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	fp = fdopen(fd, "w");
	ck_assert_ptr_nonnull(fp);
	ck_assert_int_eq(fputs(text, fp) >= 0, 1);
	ck_assert_int_eq(fclose(fp), 0);
}

/* Load |text| and expect success. */
static struct config *
load_ok(const char *text)
{
	struct config	*cfg = NULL;
	char		 path[64], *cause = NULL;
	int		 rc;

	tmp_write(path, text);
	rc = config_load(path, &cfg, &cause);
	unlink(path);
	ck_assert_msg(rc == 0, "config_load failed: %s", cause);
	ck_assert_ptr_null(cause);
	ck_assert_ptr_nonnull(cfg);
	return cfg;
}

/*
 * Load |text| and expect failure with a message "PATH:LINE: |msg|", or
 * "PATH: |msg|" when |line| is 0. A message ending in "..." need only
 * start with the part before the dots.
 */
static void
load_fails(const char *text, int line, const char *msg)
{
	struct config	*cfg = NULL;
	char		 path[64], want[512], *cause = NULL;
	size_t		 len;
	int		 rc;

	tmp_write(path, text);
	rc = config_load(path, &cfg, &cause);
	unlink(path);
	ck_assert_int_eq(rc, -1);
	ck_assert_ptr_null(cfg);
	ck_assert_ptr_nonnull(cause);
	if (line != 0)
		snprintf(want, sizeof want, "%s:%d: %s", path, line, msg);
	else
		snprintf(want, sizeof want, "%s: %s", path, msg);
	len = strlen(want);
	if (len > 3 && strcmp(want + len - 3, "...") == 0)
		ck_assert_msg(strncmp(cause, want, len - 3) == 0,
		    "got \"%s\", want \"%s\"", cause, want);
	else
		ck_assert_str_eq(cause, want);
	free(cause);
}

/* Two lines that make a minimal valid file when appended. */
#define MINIMAL_LISTENER "listeners = ( { address = \"127.0.0.1\"; port = 8080; } );\n"
#define MINIMAL_ROUTE "routes = ( { path = \"/echo\"; handler = \"echo\"; } );\n"
#define MINIMAL MINIMAL_LISTENER MINIMAL_ROUTE

static void
check_defaults(const struct config *cfg)
{
	ck_assert_int_eq(cfg->log_level, LOG_INFO);
	ck_assert_uint_eq(cfg->max_connections, 100000);
	ck_assert_uint_eq(cfg->max_header_size, 8192);
	ck_assert_uint_eq(cfg->max_headers, 64);
	ck_assert_uint_eq(cfg->max_frame_size, 16 * 1024 * 1024);
	ck_assert_uint_eq(cfg->max_message_size, 16 * 1024 * 1024);
	ck_assert_uint_eq(cfg->send_buffer_limit, 4 * 1024 * 1024);
	ck_assert_double_eq(cfg->handshake_timeout, 10);
	ck_assert_double_eq(cfg->idle_timeout, 0);
	ck_assert_double_eq(cfg->ping_interval, 30);
	ck_assert_double_eq(cfg->shutdown_timeout, 5);
	ck_assert_str_eq(cfg->connection_id_header, "Wshub-Connection-Id");
}

START_TEST(test_shipped)
{
	struct config		*cfg = NULL;
	const char		*srcdir = getenv("WSH_SRCDIR");
	char			 path[4096], *cause = NULL;
	const struct config_route *r;

	snprintf(path, sizeof path, "%s/conf/wshubd.conf",
	    srcdir != NULL ? srcdir : ".");
	ck_assert_msg(config_load(path, &cfg, &cause) == 0, "%s", cause);
	ck_assert_str_eq(cfg->file, path);
	check_defaults(cfg);

	ck_assert_uint_eq(cfg->nlisteners, 1);
	ck_assert_str_eq(cfg->listeners[0].address, "127.0.0.1");
	ck_assert_int_eq(cfg->listeners[0].port, 8080);
	ck_assert_int_eq(cfg->listeners[0].backlog, 511);
	ck_assert_int_eq(cfg->listeners[0].reuseport, 0);
	ck_assert_int_gt(cfg->listeners[0].line, 0);

	ck_assert_uint_eq(cfg->nroutes, 3);
	r = &cfg->routes[0];
	ck_assert_str_eq(r->path, "/echo");
	ck_assert_int_eq(r->prefix, 0);
	ck_assert_str_eq(r->handler, "echo");
	ck_assert_int_eq(r->allow_publish, 0);
	ck_assert_ptr_nonnull(r->protocols);
	ck_assert_ptr_null(r->protocols[0]);
	r = &cfg->routes[1];
	ck_assert_str_eq(r->path, "/broadcast");
	ck_assert_int_eq(r->prefix, 0);
	ck_assert_str_eq(r->handler, "broadcast");
	r = &cfg->routes[2];
	ck_assert_str_eq(r->path, "/ws/");
	ck_assert_int_eq(r->prefix, 1);
	ck_assert_str_eq(r->handler, "pubsub");
	ck_assert_int_eq(r->allow_publish, 1);
	ck_assert_str_eq(r->protocols[0], "wshub.v1");
	ck_assert_ptr_null(r->protocols[1]);
	ck_assert_int_gt(r->line, cfg->routes[1].line);
	config_free(cfg);
}
END_TEST

START_TEST(test_defaults)
{
	struct config	*cfg;

	cfg = config_defaults();
	ck_assert_ptr_nonnull(cfg);
	check_defaults(cfg);
	ck_assert_uint_eq(cfg->nlisteners, 0);
	ck_assert_ptr_null(cfg->listeners);
	ck_assert_uint_eq(cfg->nroutes, 0);
	ck_assert_ptr_null(cfg->routes);
	config_free(cfg);
	config_free(NULL);

	/* A file with only the required sections gets every default. */
	cfg = load_ok(MINIMAL);
	check_defaults(cfg);
	ck_assert_int_eq(cfg->listeners[0].backlog, 511);
	ck_assert_int_eq(cfg->listeners[0].reuseport, 0);
	ck_assert_int_eq(cfg->routes[0].allow_publish, 0);
	ck_assert_ptr_null(cfg->routes[0].protocols[0]);
	config_free(cfg);
}
END_TEST

START_TEST(test_values)
{
	struct config	*cfg;

	cfg = load_ok(
	    "log_level = \"debug\";\n"
	    "max_connections = 10;\n"
	    "max_header_size = \"1M\";\n"
	    "max_headers = 256;\n"
	    "max_frame_size = 16777216L;\n"
	    "max_message_size = \"1G\";\n"
	    "send_buffer_limit = \"64k\";\n"
	    "handshake_timeout = \"500ms\";\n"
	    "idle_timeout = \"5m\";\n"
	    "ping_interval = 2.5;\n"
	    "shutdown_timeout = \"1.5s\";\n"
	    "connection_id_header = \"X-Conn\";\n"
	    MINIMAL);
	ck_assert_int_eq(cfg->log_level, LOG_DEBUG);
	ck_assert_uint_eq(cfg->max_connections, 10);
	ck_assert_uint_eq(cfg->max_header_size, 1048576);
	ck_assert_uint_eq(cfg->max_headers, 256);
	ck_assert_uint_eq(cfg->max_frame_size, 16777216);
	ck_assert_uint_eq(cfg->max_message_size, 1073741824);
	ck_assert_uint_eq(cfg->send_buffer_limit, 65536);
	ck_assert_double_eq(cfg->handshake_timeout, 0.5);
	ck_assert_double_eq(cfg->idle_timeout, 300);
	ck_assert_double_eq(cfg->ping_interval, 2.5);
	ck_assert_double_eq(cfg->shutdown_timeout, 1.5);
	ck_assert_str_eq(cfg->connection_id_header, "X-Conn");
	config_free(cfg);

	cfg = load_ok(
	    "max_header_size = 4096;\n"
	    "send_buffer_limit = \"4K\";\n"
	    "handshake_timeout = \"1h\";\n"
	    "idle_timeout = 86400;\n"
	    "ping_interval = 0;\n"
	    "shutdown_timeout = \"100ms\";\n"
	    "log_level = \"error\";\n"
	    MINIMAL);
	ck_assert_uint_eq(cfg->max_header_size, 4096);
	ck_assert_uint_eq(cfg->send_buffer_limit, 4096);
	ck_assert_double_eq(cfg->handshake_timeout, 3600);
	ck_assert_double_eq(cfg->idle_timeout, 86400);
	ck_assert_double_eq(cfg->ping_interval, 0);
	ck_assert_double_eq(cfg->shutdown_timeout, 0.1);
	ck_assert_int_eq(cfg->log_level, LOG_ERR);
	config_free(cfg);
}
END_TEST

START_TEST(test_listeners)
{
	struct config	*cfg;

	cfg = load_ok(
	    "listeners = (\n"
	    "  { address = \"127.0.0.1\"; port = 8080; },\n"
	    "  { address = \"::1\"; port = 8080; backlog = 16;"
	    " reuseport = true; },\n"
	    "  { address = \"*\"; port = 9000; },\n"
	    "  { address = \"::\"; port = 9000; },\n"
	    "  { address = \"127.0.0.1\"; port = 8081; }\n"
	    ");\n"
	    MINIMAL_ROUTE);
	ck_assert_uint_eq(cfg->nlisteners, 5);
	ck_assert_str_eq(cfg->listeners[1].address, "::1");
	ck_assert_int_eq(cfg->listeners[1].port, 8080);
	ck_assert_int_eq(cfg->listeners[1].backlog, 16);
	ck_assert_int_eq(cfg->listeners[1].reuseport, 1);
	ck_assert_int_eq(cfg->listeners[1].line, 3);
	ck_assert_str_eq(cfg->listeners[2].address, "0.0.0.0");
	ck_assert_str_eq(cfg->listeners[3].address, "::");
	ck_assert_int_eq(cfg->listeners[0].http2, 1);
	ck_assert_int_eq(cfg->listeners[0].tls, 0);
	config_free(cfg);
}
END_TEST

START_TEST(test_tls_listeners)
{
	struct config		*cfg;
	struct config_listener	*l;

	cfg = load_ok(
	    "h2_max_streams = 7; h2_max_header_list = \"4k\";\n"
	    "h2_window = \"1M\"; h2_max_resets = 9;\n"
	    "listeners = (\n"
	    "  { address = \"127.0.0.1\"; port = 8443; tls = true;\n"
	    "    certificate = \"/c.pem\"; key = \"/k.pem\";\n"
	    "    chain = \"/i.pem\"; client_ca = \"/ca.pem\";\n"
	    "    client_certificates = \"required\"; min_tls_version = \"1.3\";\n"
	    "    ciphers = \"ECDHE+AESGCM\"; http2 = false; },\n"
	    "  { address = \"127.0.0.1\"; port = 8444; tls = true;\n"
	    "    certificate = \"/c.pem\"; key = \"/k.pem\"; }\n"
	    ");\n"
	    MINIMAL_ROUTE);
	ck_assert_uint_eq(cfg->h2_max_streams, 7);
	ck_assert_uint_eq(cfg->h2_max_header_list, 4096);
	ck_assert_uint_eq(cfg->h2_window, 1048576);
	ck_assert_uint_eq(cfg->h2_max_resets, 9);
	l = &cfg->listeners[0];
	ck_assert_int_eq(l->tls, 1);
	ck_assert_str_eq(l->certificate, "/c.pem");
	ck_assert_str_eq(l->key, "/k.pem");
	ck_assert_str_eq(l->chain, "/i.pem");
	ck_assert_str_eq(l->client_ca, "/ca.pem");
	ck_assert_int_eq(l->client_certificates, TLS_CLIENT_REQUIRED);
	ck_assert_int_eq(l->min_tls, TLS_MIN_13);
	ck_assert_str_eq(l->ciphers, "ECDHE+AESGCM");
	ck_assert_int_eq(l->http2, 0);
	/* Defaults: TLS 1.2, no client certificates, AEAD ciphers, h2. */
	l = &cfg->listeners[1];
	ck_assert_int_eq(l->client_certificates, TLS_CLIENT_NONE);
	ck_assert_int_eq(l->min_tls, TLS_MIN_12);
	ck_assert_str_eq(l->chain, "");
	ck_assert_ptr_nonnull(strstr(l->ciphers, "AESGCM"));
	ck_assert_ptr_null(strstr(l->ciphers, "CBC"));
	ck_assert_int_eq(l->http2, 1);
	config_free(cfg);
}
END_TEST

START_TEST(test_routes)
{
	struct config		*cfg;
	struct config_route	*r;

	cfg = load_ok(MINIMAL_LISTENER
	    "routes = (\n"
	    "  { path = \"/\"; handler = \"echo\"; },\n"
	    "  { path = \"/*\"; handler = \"broadcast\"; },\n"
	    "  { path = \"/ws/\"; handler = \"pubsub\"; },\n"
	    "  { path = \"/ws/*\"; handler = \"pubsub\";"
	    " protocols = [ \"wshub.v1\", \"chat\" ]; },\n"
	    "  { path = \"/one\"; handler = \"pubsub\";"
	    " protocols = \"single\"; allow_publish = true; }\n"
	    ");\n");
	ck_assert_uint_eq(cfg->nroutes, 5);
	r = cfg->routes;
	ck_assert_str_eq(r[0].path, "/");
	ck_assert_int_eq(r[0].prefix, 0);
	ck_assert_str_eq(r[1].path, "/");
	ck_assert_int_eq(r[1].prefix, 1);
	ck_assert_str_eq(r[2].path, "/ws/");
	ck_assert_int_eq(r[2].prefix, 0);
	ck_assert_str_eq(r[3].path, "/ws/");
	ck_assert_int_eq(r[3].prefix, 1);
	ck_assert_str_eq(r[3].protocols[0], "wshub.v1");
	ck_assert_str_eq(r[3].protocols[1], "chat");
	ck_assert_ptr_null(r[3].protocols[2]);
	ck_assert_int_eq(r[3].line, 6);
	ck_assert_str_eq(r[4].protocols[0], "single");
	ck_assert_ptr_null(r[4].protocols[1]);
	ck_assert_int_eq(r[4].allow_publish, 1);
	config_free(cfg);
}
END_TEST

/* One broken file, the line its error must name and the message. */
struct bad_case {
	const char	*text;
	int		 line;
	const char	*msg;
};

static const struct bad_case bad_cases[] = {
	/* Syntax, reported by libconfig. */
	{ MINIMAL "foo = ;\n", 3, "syntax error" },
	{ "\n" MINIMAL "routes = ( );\n", 4,
	  "duplicate setting name..." },
	/* Unknown settings. */
	{ MINIMAL "\nfoo = 1;\n", 4, "unknown option 'foo'" },
	{ "listeners = (\n  { address = \"127.0.0.1\"; port = 1;\n"
	  "    foo = 2; }\n);\n" MINIMAL_ROUTE, 3, "unknown option 'foo'" },
	{ MINIMAL_LISTENER "routes = ( { path = \"/a\"; handler = \"echo\";\n"
	  "  bar = true; } );\n", 3, "unknown option 'bar'" },
	{ MINIMAL "tls = { cert = \"x\"; };\n", 3, "unknown option 'tls'" },
	/* TLS listeners. */
	{ "listeners = (\n  { address = \"::1\"; port = 443; tls = true;"
	  " key = \"/k\"; }\n);\n" MINIMAL_ROUTE, 2,
	  "a TLS listener needs certificate and key" },
	{ "listeners = (\n  { address = \"::1\"; port = 443; tls = true;"
	  " certificate = \"/c\"; key = \"/k\";"
	  " client_certificates = \"required\"; }\n);\n" MINIMAL_ROUTE, 2,
	  "client_certificates = optional or required needs client_ca" },
	{ "listeners = (\n  { address = \"::1\"; port = 443;"
	  " client_certificates = \"maybe\"; }\n);\n" MINIMAL_ROUTE, 2,
	  "'client_certificates' must be one of none, optional, required, "
	  "not \"maybe\"" },
	{ "listeners = (\n  { address = \"::1\"; port = 443;"
	  " min_tls_version = \"1.1\"; }\n);\n" MINIMAL_ROUTE, 2,
	  "'min_tls_version' must be one of 1.2, 1.3, not \"1.1\"" },
	{ MINIMAL "h2_max_streams = 0;\n", 3,
	  "'h2_max_streams' must be between 1 and 100000" },
	{ MINIMAL "h2_window = 1000;\n", 3,
	  "'h2_window' must be between 65535 and 2147483647" },
	/* Types. */
	{ "listeners = ( { address = \"127.0.0.1\";\n port = \"80\"; } );\n"
	  MINIMAL_ROUTE, 2, "'port' must be an integer" },
	{ "listeners = ( { address = 127; port = 80; } );\n" MINIMAL_ROUTE, 1,
	  "'address' must be a string" },
	{ "listeners = ( { address = \"::1\"; port = 80;"
	  " reuseport = \"yes\"; } );\n" MINIMAL_ROUTE, 1,
	  "'reuseport' must be true or false" },
	{ MINIMAL "max_frame_size = 1.5;\n", 3,
	  "'max_frame_size' must be a size: ..." },
	{ MINIMAL "max_frame_size = \"16X\";\n", 3,
	  "'max_frame_size' must be a size: ..." },
	{ MINIMAL "max_frame_size = \"M\";\n", 3,
	  "'max_frame_size' must be a size: ..." },
	{ MINIMAL "handshake_timeout = \"5 parsecs\";\n", 3,
	  "'handshake_timeout' must be a duration: ..." },
	{ MINIMAL "handshake_timeout = \"-1s\";\n", 3,
	  "'handshake_timeout' must be a duration: ..." },
	{ MINIMAL "handshake_timeout = true;\n", 3,
	  "'handshake_timeout' must be a duration: ..." },
	{ MINIMAL "log_level = 3;\n", 3, "'log_level' must be one of error, "
	  "warning, notice, info, debug" },
	{ MINIMAL "log_level = \"loud\";\n", 3, "'log_level' must be one of "
	  "error, warning, notice, info, debug, not \"loud\"" },
	{ MINIMAL "listeners = 3;\n", 3, "duplicate setting name..." },
	{ "listeners = { address = \"::1\"; port = 80; };\n" MINIMAL_ROUTE, 1,
	  "'listeners' must be a list of groups: ( { ... }, { ... } )" },
	{ "listeners = ( 1 );\n" MINIMAL_ROUTE, 1,
	  "a listener must be a group { address = ...; port = ...; }" },
	{ MINIMAL_LISTENER "routes = ( { path = \"/a\"; handler = \"echo\";"
	  " protocols = [ 1 ]; } );\n", 2, "'protocols' must be an array of "
	  "strings, such as [ \"a\", \"b\" ]" },
	/* Ranges. */
	{ "listeners = ( { address = \"::1\"; port = 70000; } );\n"
	  MINIMAL_ROUTE, 1, "'port' must be between 1 and 65535" },
	{ "listeners = ( { address = \"::1\"; port = -1; } );\n"
	  MINIMAL_ROUTE, 1, "'port' must be between 1 and 65535" },
	{ "listeners = ( { address = \"::1\"; port = 0; } );\n"
	  MINIMAL_ROUTE, 1, "'port' must be between 1 and 65535" },
	{ MINIMAL "max_connections = 0;\n", 3,
	  "'max_connections' must be between 1 and 10000000" },
	{ MINIMAL "max_header_size = 255;\n", 3,
	  "'max_header_size' must be between 256 and 1M" },
	{ MINIMAL "max_frame_size = \"2G\";\n", 3,
	  "'max_frame_size' must be between 1 and 1G" },
	{ MINIMAL "max_message_size = 99999999999L;\n", 3,
	  "'max_message_size' must be between 1 and 1G" },
	{ MINIMAL "send_buffer_limit = \"1k\";\n", 3,
	  "'send_buffer_limit' must be between 4k and 1G" },
	{ MINIMAL "handshake_timeout = \"50ms\";\n", 3,
	  "'handshake_timeout' must be between 100ms and 3600s" },
	{ MINIMAL "handshake_timeout = 0;\n", 3,
	  "'handshake_timeout' must be between 100ms and 3600s" },
	{ MINIMAL "idle_timeout = 0.5;\n", 3,
	  "'idle_timeout' must be 0 (off) or between 1s and 86400s" },
	{ MINIMAL "ping_interval = \"2d\";\n", 3,
	  "'ping_interval' must be a duration: ..." },
	{ MINIMAL "ping_interval = \"25h\";\n", 3,
	  "'ping_interval' must be 0 (off) or between 1s and 86400s" },
	{ MINIMAL "shutdown_timeout = 601;\n", 3,
	  "'shutdown_timeout' must be between 100ms and 600s" },
	/* Values. */
	{ MINIMAL "connection_id_header = \"Bad Header\";\n", 3,
	  "'connection_id_header' must be a token (letters, digits and "
	  "!#$%&'*+-.^_`|~), not \"Bad Header\"" },
	{ MINIMAL "connection_id_header = \"\";\n", 3,
	  "'connection_id_header' must be a token ..." },
	{ "listeners = ( { address = \"localhost\"; port = 80; } );\n"
	  MINIMAL_ROUTE, 1, "'address' must be an IPv4 or IPv6 address, or "
	  "\"*\", not \"localhost\"" },
	{ "listeners = ( { address = \"[::1]\"; port = 80; } );\n"
	  MINIMAL_ROUTE, 1, "'address' must be an IPv4 or IPv6 address, ..." },
	{ "listeners = ( { address = \"::1\"; } );\n" MINIMAL_ROUTE, 1,
	  "missing 'port' in listener" },
	{ "listeners = ( { port = 80; } );\n" MINIMAL_ROUTE, 1,
	  "missing 'address' in listener" },
	{ MINIMAL_LISTENER "routes = ( { path = \"/a\"; } );\n", 2,
	  "missing 'handler' in route" },
	{ MINIMAL_LISTENER "routes = ( { path = \"/a\"; handler = \"chat\"; } );\n",
	  2, "'handler' must be one of echo, broadcast, pubsub, not \"chat\"" },
	{ MINIMAL_LISTENER "routes = ( { path = \"echo\"; handler = \"echo\"; } );\n",
	  2, "'path' must be a path starting with \"/\", optionally ending in "
	  "\"/*\", not \"echo\"" },
	{ MINIMAL_LISTENER "routes = ( { path = \"/a*\"; handler = \"echo\"; } );\n",
	  2, "'path' must be a path starting with \"/\", ..." },
	{ MINIMAL_LISTENER "routes = ( { path = \"/*/a\"; handler = \"echo\"; } );\n",
	  2, "'path' must be a path starting with \"/\", ..." },
	{ MINIMAL_LISTENER "routes = ( { path = \"/a b\"; handler = \"echo\"; } );\n",
	  2, "'path' must be a path starting with \"/\", ..." },
	{ MINIMAL_LISTENER "routes = ( { path = \"/a?b\"; handler = \"echo\"; } );\n",
	  2, "'path' must be a path starting with \"/\", ..." },
	{ MINIMAL_LISTENER "routes = ( { path = \"/a\"; handler = \"pubsub\";\n"
	  "  protocols = [ \"ok\", \"not ok\" ]; } );\n", 3,
	  "'protocols' must hold a token (letters, digits and "
	  "!#$%&'*+-.^_`|~), not \"not ok\"" },
	/* Duplicates. */
	{ "listeners = (\n { address = \"::1\"; port = 80; },\n"
	  " { address = \"0::1\"; port = 80; }\n);\n" MINIMAL_ROUTE, 3,
	  "duplicate listener 0::1 port 80 (first at line 2)" },
	{ "listeners = (\n { address = \"*\"; port = 80; },\n"
	  " { address = \"0.0.0.0\"; port = 80; }\n);\n" MINIMAL_ROUTE, 3,
	  "duplicate listener 0.0.0.0 port 80 (first at line 2)" },
	{ MINIMAL_LISTENER "routes = (\n { path = \"/a\"; handler = \"echo\"; },\n"
	  " { path = \"/b\"; handler = \"echo\"; },\n"
	  " { path = \"/a\"; handler = \"broadcast\"; }\n);\n", 5,
	  "duplicate route '/a' (first at line 3)" },
	{ MINIMAL_LISTENER "routes = (\n { path = \"/ws/*\"; handler = \"pubsub\"; },\n"
	  " { path = \"/ws/*\"; handler = \"echo\"; }\n);\n", 4,
	  "duplicate route '/ws/*' (first at line 3)" },
	/* Missing sections. */
	{ MINIMAL_ROUTE, 0, "no listeners defined" },
	{ MINIMAL_LISTENER, 0, "no routes defined" },
	{ "", 0, "no listeners defined" },
	{ "listeners = ( );\n" MINIMAL_ROUTE, 1, "no listeners defined" },
	{ MINIMAL_LISTENER "\nroutes = ( );\n", 3, "no routes defined" },
};

START_TEST(test_errors)
{
	const struct bad_case	*c = &bad_cases[_i];

	load_fails(c->text, c->line, c->msg);
}
END_TEST

START_TEST(test_no_file)
{
	struct config	*cfg = NULL;
	char		*cause = NULL;

	ck_assert_int_eq(config_load("/nonexistent/wshubd.conf", &cfg, &cause),
	    -1);
	ck_assert_ptr_null(cfg);
	ck_assert_str_eq(cause, "/nonexistent/wshubd.conf: No such file or "
	    "directory");
	free(cause);
}
END_TEST

/* @include is resolved next to the main file, and errors name the included file. */
START_TEST(test_include)
{
	struct config	*cfg = NULL;
	char		 dir[64], main_path[128], inc_path[128], want[256];
	char		*cause = NULL;
	FILE		*fp;

	snprintf(dir, sizeof dir, "/tmp/wshub-test-config.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(main_path, sizeof main_path, "%s/main.conf", dir);
	snprintf(inc_path, sizeof inc_path, "%s/routes.inc", dir);

	fp = fopen(main_path, "w");
	ck_assert_ptr_nonnull(fp);
	fputs(MINIMAL_LISTENER "@include \"routes.inc\"\n", fp);
	fclose(fp);
	fp = fopen(inc_path, "w");
	ck_assert_ptr_nonnull(fp);
	fputs(MINIMAL_ROUTE, fp);
	fclose(fp);
	ck_assert_msg(config_load(main_path, &cfg, &cause) == 0, "%s", cause);
	ck_assert_str_eq(cfg->routes[0].path, "/echo");
	config_free(cfg);

	fp = fopen(inc_path, "w");
	ck_assert_ptr_nonnull(fp);
	fputs("\nroutes = ( { path = \"/a\"; handler = \"x\"; } );\n", fp);
	fclose(fp);
	ck_assert_int_eq(config_load(main_path, &cfg, &cause), -1);
	snprintf(want, sizeof want, "%s:2: 'handler' must be one of echo, "
	    "broadcast, pubsub, not \"x\"", inc_path);
	ck_assert_str_eq(cause, want);
	free(cause);

	fp = fopen(inc_path, "w");
	ck_assert_ptr_nonnull(fp);
	fputs("\n\nroutes = ( { path = ; } );\n", fp);
	fclose(fp);
	ck_assert_int_eq(config_load(main_path, &cfg, &cause), -1);
	snprintf(want, sizeof want, "%s:3: syntax error", inc_path);
	ck_assert_str_eq(cause, want);
	free(cause);

	unlink(inc_path);
	unlink(main_path);
	rmdir(dir);
}
END_TEST

/* Route and channel options left unset take the top-level value, wherever it is. */
START_TEST(test_inherit)
{
	struct config *cfg = load_ok(
	    "listeners = ( { address = \"127.0.0.1\"; port = 8080; } );\n"
	    "routes = (\n"
	    "  { path = \"/a\"; handler = \"echo\"; },\n"
	    "  { path = \"/b/*\"; handler = \"pubsub\";\n"
	    "    send_buffer_limit = \"64k\";\n"
	    "    slow_consumer_policy = \"drop_oldest\"; }\n"
	    ");\n"
	    "channels = (\n"
	    "  { pattern = \"chat.*\"; history_size = 500; },\n"
	    "  { pattern = \"*\"; history_ttl = 0; }\n"
	    ");\n"
	    "send_buffer_limit = \"2M\";\n"
	    "history_bytes = \"3M\";\n");
	const struct config_channel *ch;

	ck_assert_uint_eq(cfg->routes[0].send_buffer_limit, 2 * 1048576);
	ck_assert_uint_eq(cfg->routes[1].send_buffer_limit, 65536);
	ck_assert_int_eq(cfg->routes[0].slow_consumer_policy, SLOW_DISCONNECT);
	ck_assert_int_eq(cfg->routes[1].slow_consumer_policy, SLOW_DROP_OLDEST);
	ck_assert_uint_eq(cfg->routes[0].send_buffer_soft_limit, 1048576);
	ck_assert(cfg->routes[1].send_buffer_soft_seconds == 10.0);
	ch = config_channel_match(cfg, "chat.lobby");
	ck_assert_ptr_nonnull(ch);
	ck_assert_uint_eq(ch->history_size, 500);
	ck_assert_uint_eq(ch->history_bytes, 3 * 1048576);
	ck_assert(ch->history_ttl == 300.0);
	ch = config_channel_match(cfg, "news");
	ck_assert_ptr_nonnull(ch);
	ck_assert_uint_eq(ch->history_size, 100);
	ck_assert(ch->history_ttl == 0.0);
	config_free(cfg);

	load_fails("listeners = ( { address = \"127.0.0.1\"; port = 1; } );\n"
	    "routes = ( { path = \"/a\"; handler = \"echo\";\n"
	    "  slow_consumer_policy = \"ignore\"; } );\n", 3,
	    "'slow_consumer_policy' must be one of disconnect, drop_oldest, "
	    "not \"ignore\"");
	load_fails("listeners = ( { address = \"127.0.0.1\"; port = 1; } );\n"
	    "routes = ( { path = \"/a\"; handler = \"echo\"; } );\n"
	    "channels = ( { history_size = 5; } );\n", 3,
	    "missing 'pattern' in channel entry");
}
END_TEST

START_TEST(test_print_options)
{
	char	*buf = NULL;
	size_t	 len = 0;
	FILE	*fp;

	fp = open_memstream(&buf, &len);
	ck_assert_ptr_nonnull(fp);
	config_print_options(fp);
	ck_assert_int_eq(fclose(fp), 0);
	ck_assert_ptr_nonnull(strstr(buf, "\nmax_frame_size                    "
	    "size     16M                      Payload bytes"));
	ck_assert_ptr_nonnull(strstr(buf, "[between 1 and 1G]\n"));
	ck_assert_ptr_nonnull(strstr(buf, "log_level "));
	ck_assert_ptr_nonnull(strstr(buf, "[one of error, warning, notice, "
	    "info, debug]"));
	ck_assert_ptr_nonnull(strstr(buf, "\nidle_timeout                      "
	    "duration 0 "));
	ck_assert_ptr_nonnull(strstr(buf, "\nlisteners.port                    "
	    "int      (required)"));
	ck_assert_ptr_nonnull(strstr(buf, "\nroutes.slow_consumer_policy       "
	    "enum     slow_consumer_policy"));
	ck_assert_ptr_nonnull(strstr(buf, "\nroutes.protocols "));
	ck_assert_ptr_nonnull(strstr(buf, "connection_id_header              string   "
	    "Wshub-Connection-Id"));
	free(buf);
}
END_TEST

START_TEST(test_log_levels)
{
	ck_assert_int_eq(config_log_level_parse("error"), LOG_ERR);
	ck_assert_int_eq(config_log_level_parse("warning"), LOG_WARNING);
	ck_assert_int_eq(config_log_level_parse("notice"), LOG_NOTICE);
	ck_assert_int_eq(config_log_level_parse("info"), LOG_INFO);
	ck_assert_int_eq(config_log_level_parse("debug"), LOG_DEBUG);
	ck_assert_int_eq(config_log_level_parse("crit"), -1);
	ck_assert_str_eq(config_log_level_name(LOG_NOTICE), "notice");
	ck_assert_ptr_null(config_log_level_name(LOG_EMERG));
}
END_TEST

static Suite *
config_suite(void)
{
	Suite	*s = suite_create("config");
	TCase	*tc = tcase_create("config");

	tcase_add_test(tc, test_shipped);
	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_values);
	tcase_add_test(tc, test_listeners);
	tcase_add_test(tc, test_tls_listeners);
	tcase_add_test(tc, test_routes);
	tcase_add_loop_test(tc, test_errors, 0, (int)(sizeof bad_cases /
	    sizeof bad_cases[0]));
	tcase_add_test(tc, test_no_file);
	tcase_add_test(tc, test_include);
	tcase_add_test(tc, test_print_options);
	tcase_add_test(tc, test_inherit);
	tcase_add_test(tc, test_log_levels);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	SRunner	*sr = srunner_create(config_suite());
	int	 failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
