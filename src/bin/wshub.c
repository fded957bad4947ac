/* wshub: the WebSocket client CLI: connect, sub, pub, send, test servers and bench. */
#include "autoconf.h"

#include <sys/types.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "wshub/wshub.h"
#include "proto/frame.h"
#include "proto/handshake.h"
#include "proto/http1.h"
#include "proto/session.h"
#include "util/hex.h"

#define CLI_LINE_MAX		65536	/* one stdin line in connect */
#define CLI_FILE_MAX		(256U << 20)	/* largest file for send */
#define SRV_HEAD_MAX		8192	/* request head in the test servers */
#define BENCH_PAYLOAD_HDR	32	/* 16 hex digits seq + 16 hex ns */
#define BENCH_LAT_BUCKETS	100000	/* 1 us resolution up to 100 ms */
#define BENCH_LAT_MS_BUCKETS	60000	/* then 1 ms resolution up to 60 s */
#define BENCH_INFLIGHT		256	/* handshakes under way at once */
#define BENCH_SRC_ADDRS		249	/* idle: from 127.0.0.2 .. 127.0.0.250 */
#define BENCH_PROC_CONNS	19000	/* idle: per worker (20 000 files here) */
#define BENCH_PROCS_MAX		64
#define BENCH_CONNECT_SECS	60	/* for every connection to answer */
#define BENCH_SETTLE_SECS	0.3	/* subscriptions take effect */
#define BENCH_STALL_SECS	5.0	/* no progress: stalled or backlogged */
#define BENCH_DRAIN_SECS	60.0	/* longest wait for a window to drain */

/* Options every client command shares. */
struct cli_opts {
	const char	*headers[32];
	int		 nheaders;
	const char	*protos[8];
	int		 nprotos;
	const char	*ca, *cert, *key;
	int		 no_verify_host;
	enum wsh_http2	 http2;
	int		 reconnect;
	uint32_t	 bo_min, bo_max;
	unsigned	 bo_jitter, bo_retries;
	uint32_t	 ping_ms, pong_ms;
	int		 deflate;
	int		 pubsub;
	int		 quiet;
	int		 verbose;
	long		 count;		/* exit after this many messages */
	double		 timeout;	/* exit after this many seconds */
	int		 binary;
	size_t		 fragment;
};

static struct event_base *cli_base;
static long	 cli_received;
static long	 cli_count;	/* -n of connect */
static int	 cli_status;

static void
usage(void)
{
	fprintf(stderr,
	    "usage: wshub connect [options] URL\n"
	    "       wshub sub [options] URL [CHANNEL ...]\n"
	    "       wshub pub [options] URL [CHANNEL] MESSAGE\n"
	    "       wshub send [options] URL FILE\n"
	    "       wshub echo-server [-a ADDR] [-p PORT]\n"
	    "       wshub broadcast-server [-a ADDR] [-p PORT]\n"
	    "       wshub bench fanout|latency|echo|idle|handshakes "
	    "[bench options]\n"
	    "bench options (see wshub(1)):\n"
	    "  -s/--sub-url URL -p/--pub-url URL -n/--conns N "
	    "-c/--concurrency N\n"
	    "  -S/--size B -w/--window N -r/--rate N -d/--duration S "
	    "-W/--warmup S\n"
	    "  -o/--hold S -P/--procs N --no-spread --deflate -i/--pid PID "
	    "-L/--limit S\n"
	    "  -J/--json -l/--label TEXT -q/--quiet\n"
	    "options:\n"
	    "  -H 'Name: value'      extra request header (repeatable)\n"
	    "  -P PROTOCOL           offer a subprotocol (repeatable)\n"
	    "  -j, --pubsub          speak wshub.v1: channels, seq, recovery\n"
	    "  --ca SYSTEM|NONE|FILE trusted CAs (default SYSTEM)\n"
	    "  --cert FILE --key FILE  client certificate\n"
	    "  --no-verify-host      do not check the certificate's name\n"
	    "  --http2 auto|never|prefer|require   HTTP/2 (RFC 8441) use\n"
	    "  --no-reconnect        do not reconnect\n"
	    "  --backoff MIN:MAX[:JITTER%%[:RETRIES]]  reconnect delays, ms\n"
	    "  --ping MS [--pong-timeout MS]  heartbeat\n"
	    "  --no-deflate          do not offer permessage-deflate\n"
	    "  -b, --binary          send binary messages\n"
	    "  --fragment N          send in fragments of N bytes\n"
	    "  -n COUNT              exit after COUNT messages\n"
	    "  -t SECONDS            exit after SECONDS\n"
	    "  -q, -v                quieter, more verbose\n");
	exit(2);
}

static void
die(const char *fmt, ...)
{
	va_list	 ap;

	fprintf(stderr, "wshub: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static double
now_secs(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t
now_ns(void)
{
	struct timespec	 ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void
secs_sleep(double secs)
{
	struct timespec	 ts;

	if (secs <= 0)
		return;
	ts.tv_sec = (time_t)secs;
	ts.tv_nsec = (long)((secs - (double)ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* "key": "value", with the value escaped for JSON. */
static void
json_print_str(const char *key, const char *v)
{
	printf("\"%s\": \"", key);
	for (; *v != '\0'; v++) {
		if (*v == '"' || *v == '\\')
			putchar('\\');
		putchar((unsigned char)*v < 0x20 ? ' ' : *v);
	}
	putchar('"');
}

/* Wall-clock time stamp for the interactive output. */
static const char *
stamp(void)
{
	static char	 buf[32];
	struct timespec	 ts;
	struct tm	 tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	localtime_r(&ts.tv_sec, &tm);
	(void)snprintf(buf, sizeof(buf), "%02d:%02d:%02d.%03ld", tm.tm_hour,
	    tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
	return buf;
}

/* Print a payload: text as is, binary as a length and a hex prefix. */
static void
print_payload(FILE *f, const uint8_t *p, size_t len, int binary)
{
	size_t	 i;

	if (!binary) {
		fwrite(p, 1, len, f);
		return;
	}
	fprintf(f, "[binary %zu bytes]", len);
	for (i = 0; i < len && i < 32; i++)
		fprintf(f, "%s%02x", i == 0 ? " " : "", p[i]);
	if (len > 32)
		fprintf(f, "...");
}

/* ------------------------------------------------------------------ */
/* Options */

enum {
	OPT_CA = 256, OPT_CERT, OPT_KEY, OPT_NOVERIFY, OPT_HTTP2, OPT_NORECON,
	OPT_BACKOFF, OPT_PING, OPT_PONG, OPT_NODEFLATE, OPT_FRAGMENT
};

static const struct option cli_longopts[] = {
	{ "header", required_argument, NULL, 'H' },
	{ "protocol", required_argument, NULL, 'P' },
	{ "pubsub", no_argument, NULL, 'j' },
	{ "ca", required_argument, NULL, OPT_CA },
	{ "cert", required_argument, NULL, OPT_CERT },
	{ "key", required_argument, NULL, OPT_KEY },
	{ "no-verify-host", no_argument, NULL, OPT_NOVERIFY },
	{ "http2", required_argument, NULL, OPT_HTTP2 },
	{ "no-reconnect", no_argument, NULL, OPT_NORECON },
	{ "backoff", required_argument, NULL, OPT_BACKOFF },
	{ "ping", required_argument, NULL, OPT_PING },
	{ "pong-timeout", required_argument, NULL, OPT_PONG },
	{ "no-deflate", no_argument, NULL, OPT_NODEFLATE },
	{ "binary", no_argument, NULL, 'b' },
	{ "fragment", required_argument, NULL, OPT_FRAGMENT },
	{ "count", required_argument, NULL, 'n' },
	{ "timeout", required_argument, NULL, 't' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 }
};

static long
parse_num(const char *s, long min, long max, const char *what)
{
	char	*end;
	long	 v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || end == s || v < min || v > max)
		die("bad %s: %s", what, s);
	return v;
}

static int
parse_opts(int argc, char **argv, struct cli_opts *o)
{
	char	*s, *tok, *save = NULL;
	int	 ch, i;

	memset(o, 0, sizeof(*o));
	o->reconnect = 1;
	o->deflate = 1;
	o->bo_min = 100;
	o->bo_max = 10000;
	o->bo_jitter = 20;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "+H:P:jbn:t:qvh", cli_longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'H':
			if (o->nheaders == 32 || strchr(optarg, ':') == NULL)
				die("bad or too many headers: %s", optarg);
			o->headers[o->nheaders++] = optarg;
			break;
		case 'P':
			if (o->nprotos == 8)
				die("too many subprotocols");
			o->protos[o->nprotos++] = optarg;
			break;
		case 'j':
			o->pubsub = 1;
			break;
		case OPT_CA:
			o->ca = optarg;
			break;
		case OPT_CERT:
			o->cert = optarg;
			break;
		case OPT_KEY:
			o->key = optarg;
			break;
		case OPT_NOVERIFY:
			o->no_verify_host = 1;
			break;
		case OPT_HTTP2:
			if (strcmp(optarg, "auto") == 0)
				o->http2 = WSH_HTTP2_AUTO;
			else if (strcmp(optarg, "never") == 0)
				o->http2 = WSH_HTTP2_NEVER;
			else if (strcmp(optarg, "prefer") == 0)
				o->http2 = WSH_HTTP2_PREFER;
			else if (strcmp(optarg, "require") == 0)
				o->http2 = WSH_HTTP2_REQUIRE;
			else
				die("bad --http2: %s", optarg);
			break;
		case OPT_NORECON:
			o->reconnect = 0;
			break;
		case OPT_BACKOFF:
			if ((s = strdup(optarg)) == NULL)
				die("out of memory");
			for (i = 0, tok = strtok_r(s, ":", &save); tok != NULL;
			    tok = strtok_r(NULL, ":", &save), i++) {
				long v = parse_num(tok, 0, 86400000, "--backoff");

				if (i == 0)
					o->bo_min = (uint32_t)v;
				else if (i == 1)
					o->bo_max = (uint32_t)v;
				else if (i == 2)
					o->bo_jitter = (unsigned)v;
				else if (i == 3)
					o->bo_retries = (unsigned)v;
			}
			free(s);
			break;
		case OPT_PING:
			o->ping_ms = (uint32_t)parse_num(optarg, 0, 86400000,
			    "--ping");
			break;
		case OPT_PONG:
			o->pong_ms = (uint32_t)parse_num(optarg, 0, 86400000,
			    "--pong-timeout");
			break;
		case OPT_NODEFLATE:
			o->deflate = 0;
			break;
		case 'b':
			o->binary = 1;
			break;
		case OPT_FRAGMENT:
			o->fragment = (size_t)parse_num(optarg, 1, LONG_MAX,
			    "--fragment");
			break;
		case 'n':
			o->count = parse_num(optarg, 1, LONG_MAX, "count");
			break;
		case 't':
			o->timeout = strtod(optarg, NULL);
			if (o->timeout <= 0)
				die("bad timeout: %s", optarg);
			break;
		case 'q':
			o->quiet = 1;
			break;
		case 'v':
			o->verbose++;
			break;
		default:
			usage();
		}
	}
	return optind;
}

static struct wsh_client *
client_make(const char *url, const struct cli_opts *o, wsh_event_cb cb,
    void *arg)
{
	struct wsh_client	*c;
	char			*cause = NULL, *name, *value;
	int			 i;

	if ((c = wsh_client_new(url, &cause)) == NULL)
		die("%s", cause != NULL ? cause : "out of memory");
	for (i = 0; i < o->nheaders; i++) {
		if ((name = strdup(o->headers[i])) == NULL)
			die("out of memory");
		value = strchr(name, ':');
		*value++ = '\0';
		while (*value == ' ')
			value++;
		if (wsh_client_add_header(c, name, value) == -1)
			die("bad header: %s", o->headers[i]);
		free(name);
	}
	for (i = 0; i < o->nprotos; i++) {
		if (wsh_client_add_subprotocol(c, o->protos[i]) == -1)
			die("bad subprotocol: %s", o->protos[i]);
	}
	if (o->ca != NULL && wsh_client_set_tls_ca(c, o->ca) == -1)
		die("out of memory");
	if (o->cert != NULL && wsh_client_set_tls_cert(c, o->cert,
	    o->key != NULL ? o->key : o->cert) == -1)
		die("out of memory");
	wsh_client_set_tls_verify_host(c, !o->no_verify_host);
	wsh_client_set_http2(c, o->http2);
	wsh_client_set_reconnect(c, o->reconnect);
	wsh_client_set_backoff(c, o->bo_min, o->bo_max, o->bo_jitter,
	    o->bo_retries);
	wsh_client_set_ping(c, o->ping_ms, o->pong_ms);
	wsh_client_set_deflate(c, o->deflate);
	wsh_client_set_pubsub(c, o->pubsub);
	wsh_client_set_callback(c, cb, arg);
	if (wsh_client_attach(c, cli_base) == -1)
		die("cannot attach the client");
	return c;
}

static void
cli_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	event_base_loopbreak(cli_base);
}

static void
cli_signal_cb(evutil_socket_t fd, short what, void *arg)
{
	struct wsh_client	*c = arg;

	/* The first signal closes politely; a second one quits at once. */
	if (c == NULL || wsh_client_ready_state(c) != WSH_STATE_OPEN ||
	    wsh_client_close(c, WSH_CLOSE_NORMAL, "bye") == -1)
		event_base_loopbreak(cli_base);
}

static void
cli_loop_setup(struct wsh_client *c, const struct cli_opts *o)
{
	struct event	*ev;
	struct timeval	 tv;

	ev = evsignal_new(cli_base, SIGINT, cli_signal_cb, c);
	event_add(ev, NULL);
	ev = evsignal_new(cli_base, SIGTERM, cli_signal_cb, c);
	event_add(ev, NULL);
	if (o->timeout > 0) {
		tv.tv_sec = (time_t)o->timeout;
		tv.tv_usec = (suseconds_t)((o->timeout - (double)tv.tv_sec) *
		    1e6);
		ev = evtimer_new(cli_base, cli_timeout_cb, NULL);
		event_add(ev, &tv);
	}
}

static void
print_stats(struct wsh_client *c)
{
	fprintf(stderr, "# stats: sent %" PRIu64 " msgs %" PRIu64 " bytes %"
	    PRIu64 " us; received %" PRIu64 " msgs %" PRIu64 " bytes %" PRIu64
	    " us; %" PRIu64 " connects\n",
	    wsh_client_stat(c, WSH_STAT_MSGS_SENT),
	    wsh_client_stat(c, WSH_STAT_BYTES_SENT),
	    wsh_client_stat(c, WSH_STAT_US_SENT),
	    wsh_client_stat(c, WSH_STAT_MSGS_RECV),
	    wsh_client_stat(c, WSH_STAT_BYTES_RECV),
	    wsh_client_stat(c, WSH_STAT_US_RECV),
	    wsh_client_stat(c, WSH_STAT_CONNECTS));
}

/* ------------------------------------------------------------------ */
/* connect, sub: events printed */

struct cli_run {
	struct cli_opts	*o;
	struct event	*input;		/* stdin, read while open */
	int		 interactive;
	int		 sub;
	char		**channels;
	int		 nchannels;
};

static void
cli_event(struct wsh_client *c, const struct wsh_event *ev, void *arg)
{
	struct cli_run	*r = arg;
	const char	*name, *value, *proto;
	size_t		 i;
	FILE		*info = r->sub ? stderr : stdout;
	int		 k;

	switch (wsh_event_type(ev)) {
	case WSH_EV_OPEN:
		proto = wsh_event_subprotocol(ev);
		if (!r->o->quiet) {
			fprintf(info, "[%s] connected to %s (%s%s%s)\n", stamp(),
			    wsh_client_url(c), wsh_event_protocol(ev),
			    proto != NULL ? ", subprotocol " : "",
			    proto != NULL ? proto : "");
			if (wsh_client_extensions(c) != NULL)
				fprintf(info, "[%s] extensions: %s\n", stamp(),
				    wsh_client_extensions(c));
		}
		if (r->o->verbose) {
			for (i = 0; wsh_event_header_at(ev, i, &name, &value) ==
			    0; i++)
				fprintf(info, "  %s: %s\n", name, value);
		}
		for (k = 0; k < r->nchannels; k++)
			(void)wsh_client_subscribe(c, r->channels[k]);
		if (r->input != NULL)
			event_add(r->input, NULL);
		break;
	case WSH_EV_MESSAGE:
		cli_received++;
		if (r->sub) {
			if (r->o->verbose && wsh_event_channel(ev) != NULL)
				printf("%s %" PRIu64 " ", wsh_event_channel(ev),
				    wsh_event_seq(ev));
			print_payload(stdout, wsh_event_data(ev),
			    wsh_event_len(ev), wsh_event_is_binary(ev));
			putchar('\n');
		} else {
			printf("[%s] < ", stamp());
			if (wsh_event_channel(ev) != NULL)
				printf("%s:%" PRIu64 " ", wsh_event_channel(ev),
				    wsh_event_seq(ev));
			print_payload(stdout, wsh_event_data(ev),
			    wsh_event_len(ev), wsh_event_is_binary(ev));
			putchar('\n');
		}
		fflush(stdout);
		if (r->o->count > 0 && cli_received >= r->o->count)
			(void)wsh_client_close(c, WSH_CLOSE_NORMAL, NULL);
		break;
	case WSH_EV_REPLY:
		if (r->o->verbose || !r->sub) {
			fprintf(info, "[%s] %s: ", stamp(), wsh_event_op(ev));
			print_payload(info, wsh_event_data(ev),
			    wsh_event_len(ev), 0);
			fputc('\n', info);
		}
		break;
	case WSH_EV_PING:
	case WSH_EV_PONG:
		if (!r->o->quiet)
			fprintf(info, "[%s] %s (%zu bytes)\n", stamp(),
			    wsh_event_type(ev) == WSH_EV_PING ? "ping" : "pong",
			    wsh_event_len(ev));
		break;
	case WSH_EV_CLOSE:
		if (r->input != NULL)
			event_del(r->input);
		if (!r->o->quiet) {
			fprintf(info, "[%s] closed: code %u%s%s%s", stamp(),
			    wsh_event_close_code(ev),
			    *wsh_event_reason(ev) != '\0' ? ", reason: " : "",
			    wsh_event_reason(ev),
			    wsh_event_close_local(ev) ? " (by us)" : "");
			if (wsh_event_wait_ms(ev) != 0)
				fprintf(info, "; reconnecting in %" PRIu32 " ms",
				    wsh_event_wait_ms(ev));
			fputc('\n', info);
		}
		if (wsh_event_close_local(ev) || !r->o->reconnect)
			event_base_loopbreak(cli_base);
		break;
	case WSH_EV_ERROR:
		fprintf(stderr, "[%s] error: %s", stamp(), wsh_event_reason(ev));
		if (wsh_event_http_status(ev) != 0)
			fprintf(stderr, " (HTTP %d)", wsh_event_http_status(ev));
		fprintf(stderr, "; retries %u, next in %u ms\n",
		    wsh_event_retries(ev), wsh_event_wait_ms(ev));
		if (wsh_event_wait_ms(ev) == 0 &&
		    wsh_client_ready_state(c) == WSH_STATE_CLOSED) {
			cli_status = 1;
			event_base_loopbreak(cli_base);
		}
		break;
	}
}

/* Interactive input: a line is a message; "/cmd" lines are commands. */
static void
cli_stdin_cb(evutil_socket_t fd, short what, void *arg)
{
	struct wsh_client	*c = arg;
	static char		 line[CLI_LINE_MAX];
	static size_t		 have;
	ssize_t			 n;
	char			*nl, *p;
	size_t			 len, used;

	n = read(fd, line + have, sizeof(line) - have);
	if (n <= 0) {
		/*
		 * End of input: close and let the close event end the loop,
		 * unless -n asks to wait for that many messages first.
		 */
		event_del(event_base_get_running_event(cli_base));
		if (cli_count > 0)
			return;
		if (wsh_client_close(c, WSH_CLOSE_NORMAL, NULL) == -1 ||
		    wsh_client_ready_state(c) == WSH_STATE_CLOSED)
			event_base_loopbreak(cli_base);
		return;
	}
	have += (size_t)n;
	while ((nl = memchr(line, '\n', have)) != NULL) {
		*nl = '\0';
		len = (size_t)(nl - line);
		used = len + 1;
		if (len > 0 && line[len - 1] == '\r')
			line[--len] = '\0';
		if (strncmp(line, "/ping", 5) == 0) {
			p = line + 5 + (line[5] == ' ');
			if (wsh_client_ping(c, p, strlen(p)) == -1)
				fprintf(stderr, "ping failed\n");
		} else if (strncmp(line, "/pong", 5) == 0) {
			p = line + 5 + (line[5] == ' ');
			if (wsh_client_pong(c, p, strlen(p)) == -1)
				fprintf(stderr, "pong failed\n");
		} else if (strncmp(line, "/close", 6) == 0) {
			unsigned code = (unsigned)strtoul(line + 6, &p, 10);

			while (*p == ' ')
				p++;
			if (wsh_client_close(c, (uint16_t)(code != 0 ? code :
			    1000), *p != '\0' ? p : NULL) == -1)
				fprintf(stderr, "close failed\n");
		} else if (strncmp(line, "/sub ", 5) == 0) {
			if (wsh_client_subscribe(c, line + 5) == -1)
				fprintf(stderr, "subscribe failed\n");
		} else if (strncmp(line, "/pub ", 5) == 0 &&
		    (p = strchr(line + 5, ' ')) != NULL) {
			*p++ = '\0';
			if (wsh_client_publish(c, line + 5, p, strlen(p), 0) ==
			    -1)
				fprintf(stderr, "publish failed\n");
		} else if (strcmp(line, "/stats") == 0) {
			print_stats(c);
		} else if (strcmp(line, "/quit") == 0) {
			event_base_loopbreak(cli_base);
		} else if (wsh_client_send_text(c, line, len) == -1)
			fprintf(stderr, "[%s] not sent: connection is %s\n",
			    stamp(), wsh_ready_state_name(
			    wsh_client_ready_state(c)));
		have -= used;
		memmove(line, line + used, have);
	}
	if (have == sizeof(line))
		have = 0;	/* an overlong line is dropped */
}

static int
cmd_connect(int argc, char **argv, int sub)
{
	struct cli_opts		 o;
	struct cli_run		 r;
	struct wsh_client	*c;
	struct event		*ev = NULL;
	int			 i;

	i = parse_opts(argc, argv, &o);
	if (argc - i < 1)
		usage();
	memset(&r, 0, sizeof(r));
	r.o = &o;
	r.sub = sub;
	if (sub && argc - i > 1) {
		r.channels = argv + i + 1;
		r.nchannels = argc - i - 1;
		o.pubsub = 1;
	}
	cli_count = o.count;
	c = client_make(argv[i], &o, cli_event, &r);
	cli_loop_setup(c, &o);
	if (!sub) {
		ev = event_new(cli_base, STDIN_FILENO, EV_READ | EV_PERSIST,
		    cli_stdin_cb, c);
		r.input = ev;
	}
	if (wsh_client_connect(c) == -1)
		die("cannot connect");
	event_base_dispatch(cli_base);
	if (o.verbose)
		print_stats(c);
	if (ev != NULL)
		event_free(ev);
	wsh_client_free(c);
	return cli_status;
}

/* ------------------------------------------------------------------ */
/* pub, send */

struct cli_once {
	struct cli_opts	*o;
	const char	*channel;
	const uint8_t	*data;
	size_t		 len;
	int		 sent;
};

static void
cli_send_all(struct wsh_client *c, struct cli_once *s)
{
	size_t	 off, n;
	int	 rc = 0;

	if (s->channel != NULL)
		rc = wsh_client_publish(c, s->channel, s->data, s->len,
		    s->o->binary);
	else if (s->o->fragment > 0 && s->len > s->o->fragment) {
		for (off = 0; off < s->len && rc == 0; off += n) {
			n = s->len - off < s->o->fragment ? s->len - off :
			    s->o->fragment;
			rc = wsh_client_send_fragment(c, s->o->binary,
			    s->data + off, n, off + n == s->len);
		}
	} else if (s->o->binary)
		rc = wsh_client_send_binary(c, s->data, s->len);
	else
		rc = wsh_client_send_text(c, s->data, s->len);
	if (rc == -1) {
		fprintf(stderr, "wshub: send failed\n");
		cli_status = 1;
	}
	s->sent = 1;
	/* A publish waits for its ack; a plain send closes right away. */
	if (s->channel == NULL || rc == -1)
		(void)wsh_client_close(c, WSH_CLOSE_NORMAL, NULL);
}

static void
cli_once_event(struct wsh_client *c, const struct wsh_event *ev, void *arg)
{
	struct cli_once	*s = arg;

	switch (wsh_event_type(ev)) {
	case WSH_EV_OPEN:
		if (s->channel != NULL && (wsh_event_subprotocol(ev) == NULL ||
		    strcmp(wsh_event_subprotocol(ev), "wshub.v1") != 0)) {
			fprintf(stderr, "wshub: the server did not accept "
			    "wshub.v1\n");
			cli_status = 1;
			(void)wsh_client_close(c, WSH_CLOSE_NORMAL, NULL);
			break;
		}
		if (!s->sent)
			cli_send_all(c, s);
		break;
	case WSH_EV_REPLY:
		if (!s->o->quiet) {
			print_payload(stdout, wsh_event_data(ev),
			    wsh_event_len(ev), 0);
			putchar('\n');
		}
		if (strcmp(wsh_event_op(ev), "error") == 0)
			cli_status = 1;
		if (strcmp(wsh_event_op(ev), "ack") == 0 ||
		    strcmp(wsh_event_op(ev), "error") == 0)
			(void)wsh_client_close(c, WSH_CLOSE_NORMAL, NULL);
		break;
	case WSH_EV_CLOSE:
		if (!s->sent)
			cli_status = 1;
		event_base_loopbreak(cli_base);
		break;
	case WSH_EV_ERROR:
		fprintf(stderr, "wshub: %s", wsh_event_reason(ev));
		if (wsh_event_http_status(ev) != 0)
			fprintf(stderr, " (HTTP %d)", wsh_event_http_status(ev));
		fputc('\n', stderr);
		if (wsh_event_wait_ms(ev) == 0) {
			cli_status = 1;
			event_base_loopbreak(cli_base);
		}
		break;
	default:
		break;
	}
}

/* POST |body| to an http:// URL: the daemon's HTTP API publish. */
static int
cli_http_post(const char *url, const struct cli_opts *o, const void *body,
    size_t len)
{
	struct addrinfo	 hints, *ai, *a;
	char		 host[256], port[8] = "80", path[4096], buf[8192];
	const char	*p, *hend, *slash;
	ssize_t		 n;
	size_t		 got = 0;
	int		 fd = -1, i, status;

	if (strncmp(url, "http://", 7) != 0)
		die("only http:// URLs can be posted to (got %s)", url);
	p = url + 7;
	slash = strchr(p, '/');
	hend = slash != NULL ? slash : p + strlen(p);
	(void)snprintf(path, sizeof(path), "%s", slash != NULL ? slash : "/");
	if ((size_t)(hend - p) >= sizeof(host))
		die("host too long");
	memcpy(host, p, (size_t)(hend - p));
	host[hend - p] = '\0';
	if ((p = strrchr(host, ':')) != NULL && strchr(host, ']') < p) {
		(void)snprintf(port, sizeof(port), "%s", p + 1);
		host[p - host] = '\0';
	}
	memmove(host, host + (host[0] == '['), strlen(host) + 1);
	if (host[0] != '\0' && host[strlen(host) - 1] == ']')
		host[strlen(host) - 1] = '\0';
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	if ((i = getaddrinfo(host, port, &hints, &ai)) != 0)
		die("%s: %s", host, gai_strerror(i));
	for (a = ai; a != NULL; a = a->ai_next) {
		if ((fd = socket(a->ai_family, a->ai_socktype, 0)) == -1)
			continue;
		if (connect(fd, a->ai_addr, a->ai_addrlen) == 0)
			break;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(ai);
	if (fd == -1)
		die("cannot connect to %s:%s: %s", host, port, strerror(errno));
	n = snprintf(buf, sizeof(buf), "POST %s HTTP/1.1\r\nHost: %s:%s\r\n"
	    "Content-Type: %s\r\nContent-Length: %zu\r\nConnection: close\r\n",
	    path, host, port, o->binary ? "application/octet-stream" :
	    "text/plain; charset=utf-8", len);
	for (i = 0; i < o->nheaders; i++)
		n += snprintf(buf + n, sizeof(buf) - (size_t)n, "%s\r\n",
		    o->headers[i]);
	n += snprintf(buf + n, sizeof(buf) - (size_t)n, "\r\n");
	if (write(fd, buf, (size_t)n) != n ||
	    (len > 0 && write(fd, body, len) != (ssize_t)len))
		die("write: %s", strerror(errno));
	while (got < sizeof(buf) - 1 &&
	    (n = read(fd, buf + got, sizeof(buf) - 1 - got)) > 0)
		got += (size_t)n;
	close(fd);
	buf[got] = '\0';
	if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1)
		die("no HTTP response");
	if ((p = strstr(buf, "\r\n\r\n")) != NULL && !o->quiet)
		printf("%s%s", p + 4, p[4] != '\0' &&
		    buf[got - 1] != '\n' ? "\n" : "");
	if (status < 200 || status > 299) {
		fprintf(stderr, "wshub: HTTP %d\n", status);
		return 1;
	}
	return 0;
}

static int
cmd_pub_send(int argc, char **argv, int is_send)
{
	struct cli_opts		 o;
	struct cli_once		 s;
	struct wsh_client	*c;
	struct stat		 st;
	uint8_t			*file = NULL;
	FILE			*f;
	int			 i;

	i = parse_opts(argc, argv, &o);
	memset(&s, 0, sizeof(s));
	s.o = &o;
	if (is_send) {
		if (argc - i != 2)
			usage();
		if ((f = fopen(argv[i + 1], "rb")) == NULL ||
		    fstat(fileno(f), &st) == -1)
			die("%s: %s", argv[i + 1], strerror(errno));
		if ((uint64_t)st.st_size > CLI_FILE_MAX)
			die("%s: larger than %u bytes", argv[i + 1],
			    CLI_FILE_MAX);
		if ((file = malloc((size_t)st.st_size + 1)) == NULL)
			die("out of memory");
		if (fread(file, 1, (size_t)st.st_size, f) !=
		    (size_t)st.st_size)
			die("%s: short read", argv[i + 1]);
		fclose(f);
		s.data = file;
		s.len = (size_t)st.st_size;
	} else if (argc - i == 2) {
		s.data = (const uint8_t *)argv[i + 1];
		s.len = strlen(argv[i + 1]);
	} else if (argc - i == 3) {
		s.channel = argv[i + 1];
		s.data = (const uint8_t *)argv[i + 2];
		s.len = strlen(argv[i + 2]);
		o.pubsub = 1;
	} else
		usage();
	if (!is_send && strncmp(argv[i], "http://", 7) == 0) {
		if (s.channel != NULL)
			die("the HTTP form takes the channel in the URL");
		return cli_http_post(argv[i], &o, s.data, s.len);
	}
	o.reconnect = 0;
	if (o.timeout == 0)
		o.timeout = 30;
	c = client_make(argv[i], &o, cli_once_event, &s);
	cli_loop_setup(c, &o);
	if (wsh_client_connect(c) == -1)
		die("cannot connect");
	event_base_dispatch(cli_base);
	if (!s.sent)
		cli_status = 1;
	if (o.verbose)
		print_stats(c);
	wsh_client_free(c);
	free(file);
	return cli_status;
}

/* ------------------------------------------------------------------ */
/* echo-server, broadcast-server: small servers on the protocol core */

struct srv;

struct srv_conn {
	struct srv		*srv;
	struct srv_conn		*next, *prev;
	struct bufferevent	*bev;
	int			 open;
	struct ws_session	 ws;
};

struct srv {
	int			 broadcast;
	struct srv_conn		*conns;
	unsigned long		 nconns;
};

static void
srv_conn_free(struct srv_conn *sc)
{
	if (sc->prev != NULL)
		sc->prev->next = sc->next;
	else
		sc->srv->conns = sc->next;
	if (sc->next != NULL)
		sc->next->prev = sc->prev;
	if (sc->open)
		ws_session_reset(&sc->ws);
	bufferevent_free(sc->bev);
	sc->srv->nconns--;
	free(sc);
}

static void
srv_frame(struct srv_conn *sc, unsigned opcode, const uint8_t *data,
    size_t len)
{
	uint8_t	 hdr[WS_HEADER_MAX];
	size_t	 n;

	n = ws_frame_header_encode(hdr, 1, 0, opcode, len, NULL);
	bufferevent_write(sc->bev, hdr, n);
	if (len > 0)
		bufferevent_write(sc->bev, data, len);
}

static void
srv_send_control(void *arg, unsigned opcode, const uint8_t *data, size_t len)
{
	srv_frame(arg, opcode, data, len);
}

static int
srv_on_message(void *arg, unsigned opcode, uint8_t *data, size_t len)
{
	struct srv_conn	*sc = arg, *o;

	if (!sc->srv->broadcast) {
		srv_frame(sc, opcode, data, len);
		return 0;
	}
	for (o = sc->srv->conns; o != NULL; o = o->next) {
		if (o->open && ws_session_can_send(&o->ws))
			srv_frame(o, opcode, data, len);
	}
	return 0;
}

static const struct ws_session_callbacks srv_session_cb = {
	.on_message = srv_on_message,
	.send_control = srv_send_control
};

static void
srv_http_error(struct srv_conn *sc, int status, const char *why)
{
	struct evbuffer	*out = bufferevent_get_output(sc->bev);

	evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\n"
	    "Content-Length: %zu\r\nConnection: close\r\n%s\r\n%s\n", status,
	    http_status_text(status), strlen(why) + 1, status == 426 ?
	    "Sec-WebSocket-Version: 13\r\n" : "", why);
	sc->open = -1;
}

static void
srv_handshake(struct srv_conn *sc, struct evbuffer *in)
{
	static struct http_request	 req;
	struct http_limits		 lim = { SRV_HEAD_MAX, 64 };
	static struct ws_session_config	 cfg;	/* sessions point to it */
	struct ws_upgrade		 up;
	struct http_str			 elem;
	const char			*reason;
	char				 accept[WS_KEY_ACCEPT_LEN + 1];
	char				 proto[128] = "";
	size_t				 n = evbuffer_get_length(in), pos = 0;
	int				 rc, status;

	if (n > SRV_HEAD_MAX)
		n = SRV_HEAD_MAX;
	rc = http_parse_request((const char *)evbuffer_pullup(in,
	    (ev_ssize_t)n), n, &lim, &req, &reason);
	if (rc == 0)
		return;
	if (rc < 0) {
		srv_http_error(sc, -rc, reason);
		return;
	}
	if ((status = ws_handshake_check(&req, &up, &reason)) != 0) {
		srv_http_error(sc, status, reason);
		return;
	}
	if (ws_accept_key(up.key.p, up.key.len, accept) == -1) {
		srv_http_error(sc, 500, "cannot hash the key");
		return;
	}
	/* Agree to the client's first subprotocol, if any. */
	if (http_list_next(up.protocols, &pos, &elem) &&
	    elem.len < sizeof(proto))
		(void)snprintf(proto, sizeof(proto), "%.*s", (int)elem.len,
		    elem.p);
	evbuffer_add_printf(bufferevent_get_output(sc->bev),
	    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
	    "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n%s%s%s\r\n",
	    accept, proto[0] != '\0' ? "Sec-WebSocket-Protocol: " : "", proto,
	    proto[0] != '\0' ? "\r\n" : "");
	evbuffer_drain(in, (size_t)rc);
	memset(&cfg, 0, sizeof(cfg));
	cfg.role = WS_ROLE_SERVER;
	cfg.max_message_size = 64ULL << 20;
	cfg.auto_pong = 1;
	ws_session_init(&sc->ws, &cfg, &srv_session_cb, sc);
	sc->open = 1;
}

static void
srv_read_cb(struct bufferevent *bev, void *arg)
{
	struct srv_conn	*sc = arg;
	struct evbuffer	*in = bufferevent_get_input(bev);
	size_t		 n;

	if (sc->open == 0)
		srv_handshake(sc, in);
	if (sc->open == -1) {
		evbuffer_drain(in, evbuffer_get_length(in));
		return;
	}
	while (sc->open == 1 && (n = evbuffer_get_contiguous_space(in)) > 0) {
		if (ws_session_feed(&sc->ws, evbuffer_pullup(in,
		    (ev_ssize_t)n), n) == -1 && sc->ws.err_code != 0) {
			(void)ws_session_close(&sc->ws, sc->ws.err_code,
			    sc->ws.err_reason);
			sc->open = -1;
		}
		evbuffer_drain(in, n);
		if (sc->ws.state == WS_SS_CLOSE_RECEIVED ||
		    sc->ws.state == WS_SS_CLOSED)
			sc->open = -1;
	}
	if (sc->open == -1)
		evbuffer_drain(in, evbuffer_get_length(in));
}

static void
srv_write_cb(struct bufferevent *bev, void *arg)
{
	struct srv_conn	*sc = arg;

	/* After a close or an error response, end once it is written. */
	if (sc->open == -1)
		srv_conn_free(sc);
}

static void
srv_event_cb(struct bufferevent *bev, short what, void *arg)
{
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		srv_conn_free(arg);
}

static void
srv_accept_cb(struct evconnlistener *l, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct srv	*srv = arg;
	struct srv_conn	*sc;
	int		 one = 1;

	if ((sc = calloc(1, sizeof(*sc))) == NULL) {
		close(fd);
		return;
	}
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	sc->srv = srv;
	sc->bev = bufferevent_socket_new(cli_base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (sc->bev == NULL) {
		close(fd);
		free(sc);
		return;
	}
	sc->next = srv->conns;
	if (srv->conns != NULL)
		srv->conns->prev = sc;
	srv->conns = sc;
	srv->nconns++;
	bufferevent_setcb(sc->bev, srv_read_cb, srv_write_cb, srv_event_cb, sc);
	bufferevent_enable(sc->bev, EV_READ | EV_WRITE);
}

static int
cmd_server(int argc, char **argv, int broadcast)
{
	struct evconnlistener	*l;
	struct addrinfo		 hints, *ai;
	struct srv		 srv;
	struct event		*ev;
	const char		*addr = "127.0.0.1", *port = "8008";
	int			 ch, rc;

	optind = 1;
	while ((ch = getopt(argc, argv, "a:p:")) != -1) {
		switch (ch) {
		case 'a':
			addr = optarg;
			break;
		case 'p':
			port = optarg;
			break;
		default:
			usage();
		}
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE;
	if ((rc = getaddrinfo(addr, port, &hints, &ai)) != 0)
		die("%s: %s", addr, gai_strerror(rc));
	memset(&srv, 0, sizeof(srv));
	srv.broadcast = broadcast;
	l = evconnlistener_new_bind(cli_base, srv_accept_cb, &srv,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 1024, ai->ai_addr,
	    (int)ai->ai_addrlen);
	freeaddrinfo(ai);
	if (l == NULL)
		die("cannot listen on %s port %s: %s", addr, port,
		    strerror(errno));
	ev = evsignal_new(cli_base, SIGINT, cli_signal_cb, NULL);
	event_add(ev, NULL);
	ev = evsignal_new(cli_base, SIGTERM, cli_signal_cb, NULL);
	event_add(ev, NULL);
	fprintf(stderr, "wshub: %s server listening on %s port %s\n",
	    broadcast ? "broadcast" : "echo", addr, port);
	event_base_dispatch(cli_base);
	while (srv.conns != NULL)
		srv_conn_free(srv.conns);
	evconnlistener_free(l);
	return 0;
}

/* ------------------------------------------------------------------ */
/* bench */

/*
 * Modes (the scenarios of tests/bench/wshbench, run on libwshub):
 *   fanout      N subscribers and one publisher with W messages in flight;
 *               deliveries per second, latency, order checked per subscriber
 *   latency     the same at a fixed publish rate: delivery latency
 *   echo        N connections, W messages each in flight to an echo server
 *   idle        N idle connections (in worker processes of at most
 *               BENCH_PROC_CONNS, from many 127.0.0.x addresses): the
 *               server's RSS per connection
 *   handshakes  open, handshake and close C connections at a time
 *
 * A message is text of S >= 32 bytes: 16 hex digits of the sequence number
 * and 16 of the CLOCK_MONOTONIC send time in ns, padded with '.'.
 */

enum bench_mode { BM_FANOUT, BM_LATENCY, BM_ECHO, BM_IDLE, BM_HANDSHAKES };
enum bench_role { BR_SUB, BR_PUB, BR_IDLE, BR_HS };

struct bench;

struct bench_peer {
	struct bench		*b;
	struct wsh_client	*c;
	enum bench_role		 role;
	int			 started;
	int			 open;
	int			 restart;	/* handshakes: connect again */
	uint64_t		 expect;	/* next sequence number */
	uint64_t		 seen;		/* bit k: expect-1-k arrived */
	uint64_t		 lost, dup, reord;
	uint64_t		 outstanding;	/* echo: sent, not back */
	uint64_t		 next_seq;	/* echo: per connection */
};

struct bench {
	enum bench_mode	 mode;
	const char	*mode_name;
	const char	*sub_url, *pub_url;
	long		 n;
	size_t		 size;
	long		 window;
	double		 rate;
	double		 duration, warmup, hold, limit;
	int		 procs;
	int		 spread;
	pid_t		 pid;
	int		 json;
	const char	*label;
	struct cli_opts	 o;

	struct bench_peer *peers;
	struct bench_peer  pubp;
	long		 started, opened, failed, closed;
	long		 subs_open;
	char		 fail_reason[200];
	double		 t_start, last_progress;

	/* fanout, latency */
	uint64_t	 next_seq, completed;
	uint32_t	*pending;	/* deliveries still due per seq, ring */
	size_t		 ring;
	int		 publishing, measuring, stalled;
	double		 t_pub0, t_measure0, t_measure1;
	uint64_t	 delivered, deliv_m0, deliv_m1, sent_m0, sent_m1;
	uint64_t	 bad, pub_self_rx, pub_other_rx;
	uint64_t	*lat;		/* histogram, 1 us buckets */
	uint64_t	*lat_ms;	/* histogram past it, 1 ms buckets */
	uint64_t	 lat_n;
	double		 lat_max;
	double		 cpu0, cpu1, self0, self1;
	long		 rss_kb;
	uint64_t	 hs_done, hs_m0, hs_m1;
	uint8_t		*payload;
	struct event	*tick, *pub_timer;
};

static void
hex16(char *p, uint64_t v)
{
	static const char	 d[] = "0123456789abcdef";
	int			 i;

	for (i = 15; i >= 0; i--, v >>= 4)
		p[i] = d[v & 15];
}

/* Sixteen lower-case hex digits; returns -1 when any is not one. */
static int
unhex16(const uint8_t *p, uint64_t *out)
{
	return hex_u64((const char *)p, 16, out);
}

static void
bench_lat_add(struct bench *b, double us)
{
	if (us < 0)
		us = 0;
	if (us < BENCH_LAT_BUCKETS)
		b->lat[(size_t)us]++;
	else if (us / 1000 < BENCH_LAT_MS_BUCKETS)
		b->lat_ms[(size_t)(us / 1000)]++;
	if (us > b->lat_max)
		b->lat_max = us;
	b->lat_n++;
}

/* Quantile |q| of the latencies, us; past the histogram, the maximum. */
static double
bench_lat_pct(const struct bench *b, double q)
{
	uint64_t	 want = (uint64_t)ceil(q * (double)b->lat_n), acc = 0;
	size_t		 i;

	if (b->lat_n == 0)
		return 0;
	if (want == 0)
		want = 1;
	for (i = 0; i < BENCH_LAT_BUCKETS; i++) {
		acc += b->lat[i];
		if (acc >= want)
			return (double)i;
	}
	for (i = BENCH_LAT_BUCKETS / 1000; i < BENCH_LAT_MS_BUCKETS; i++) {
		acc += b->lat_ms[i];
		if (acc >= want)
			return (double)i * 1000;
	}
	return b->lat_max;
}

/* CPU seconds used by process |pid| so far, or -1. */
static double
proc_cpu(pid_t pid)
{
	char		 path[64], buf[1024], *p;
	unsigned long	 ut, st;
	FILE		*f;
	size_t		 n;

	(void)snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* Fields 14 and 15 (utime, stime) follow the ")" of the name. */
	if ((p = strrchr(buf, ')')) == NULL || sscanf(p + 2,
	    "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut,
	    &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static double
self_cpu(void)
{
	struct rusage	 ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static long
proc_rss_kb(pid_t pid)
{
	char	 path[64], line[256];
	FILE	*f;
	long	 kb = -1;

	(void)snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, "VmRSS:", 6) == 0)
			kb = strtol(line + 6, NULL, 10);
	}
	fclose(f);
	return kb;
}

static void
bench_fail(struct bench *b, const char *why)
{
	if (b->fail_reason[0] == '\0')
		(void)snprintf(b->fail_reason, sizeof(b->fail_reason), "%s",
		    why);
}

/* Publish (fanout, latency) or send (echo) one message stamped with seq and time. */
static int
bench_send(struct bench *b, struct bench_peer *p, uint64_t seq)
{
	hex16((char *)b->payload, seq);
	hex16((char *)b->payload + 16, now_ns());
	return wsh_client_send_text(p->c, b->payload, b->size);
}

/* Publish one message every subscriber open now must receive. */
static int
bench_publish(struct bench *b)
{
	if (!b->pubp.open ||
	    b->next_seq - b->completed >= (uint64_t)b->ring - 1)
		return -1;
	b->pending[b->next_seq % b->ring] = (uint32_t)b->subs_open;
	if (bench_send(b, &b->pubp, b->next_seq) == -1)
		return -1;
	if (b->subs_open == 0)
		b->completed = b->next_seq + 1;
	b->next_seq++;
	return 0;
}

/* Fan-out: keep the window full. */
static void
bench_publish_more(struct bench *b)
{
	if (b->mode != BM_FANOUT || !b->publishing)
		return;
	while (b->next_seq - b->completed < (uint64_t)b->window)
		if (bench_publish(b) == -1)
			break;
}

/* Fixed rate: publish what is due by now. */
static void
bench_pub_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct bench	*b = arg;
	double		 due;
	uint64_t	 sent;
	int		 k;

	if (!b->publishing)
		return;
	due = (now_secs() - b->t_pub0) * b->rate;
	sent = b->next_seq - 1;
	for (k = 0; (double)sent < due && k < 1000; k++, sent++)
		if (bench_publish(b) == -1)
			break;
}

/* Order bookkeeping of one receiver: lost, duplicate, reordered. */
static void
bench_order(struct bench_peer *p, uint64_t seq)
{
	uint64_t	 back;

	if (seq == p->expect) {
		p->seen = (p->seen << 1) | 1;
		p->expect++;
	} else if (seq > p->expect) {
		back = seq - p->expect;
		p->lost += back;
		p->seen = back >= 63 ? 1 : ((p->seen << (back + 1)) | 1);
		p->expect = seq + 1;
	} else {
		back = p->expect - 1 - seq;
		if (back < 64 && (p->seen >> back) & 1)
			p->dup++;
		else {
			/* A late arrival of one counted as lost. */
			p->reord++;
			if (p->lost > 0)
				p->lost--;
			if (back < 64)
				p->seen |= 1ULL << back;
		}
	}
}

/* A subscriber's delivery of |seq|: complete the message when it is the last. */
static void
bench_complete(struct bench *b, uint64_t seq)
{
	if (seq >= b->next_seq || b->next_seq - seq > b->ring ||
	    b->pending[seq % b->ring] == 0 ||
	    --b->pending[seq % b->ring] != 0)
		return;
	b->last_progress = now_secs();
	while (b->completed < b->next_seq &&
	    b->pending[b->completed % b->ring] == 0)
		b->completed++;
	bench_publish_more(b);
}

static void
bench_message(struct bench *b, struct bench_peer *p,
    const struct wsh_event *ev)
{
	const uint8_t	*d = wsh_event_data(ev);
	uint64_t	 seq, ts;

	if (wsh_event_len(ev) < BENCH_PAYLOAD_HDR || unhex16(d, &seq) == -1 ||
	    unhex16(d + 16, &ts) == -1) {
		/* A peer's own notices reach the publisher; others are wrong. */
		if (p->role == BR_PUB)
			b->pub_other_rx++;
		else
			b->bad++;
		return;
	}
	if (p->role == BR_PUB) {
		/* wshubd's pubsub sends the publisher a copy: checked, not counted. */
		b->pub_self_rx++;
		bench_order(p, seq);
		return;
	}
	b->delivered++;
	if (b->measuring)
		bench_lat_add(b, (double)(now_ns() - ts) / 1000.0);
	if (b->mode == BM_ECHO) {
		p->outstanding--;
		b->last_progress = now_secs();
		if (b->publishing && bench_send(b, p, p->next_seq++) == 0)
			p->outstanding++;
		return;
	}
	bench_order(p, seq);
	bench_complete(b, seq);
}

static void
bench_event(struct wsh_client *c, const struct wsh_event *ev, void *arg)
{
	struct bench_peer	*p = arg;
	struct bench		*b = p->b;

	switch (wsh_event_type(ev)) {
	case WSH_EV_OPEN:
		p->open = 1;
		b->opened++;
		if (p->role == BR_SUB)
			b->subs_open++;
		if (p->role == BR_HS) {
			b->hs_done++;
			(void)wsh_client_close(c, WSH_CLOSE_NORMAL, NULL);
		}
		break;
	case WSH_EV_ERROR:
		if (!p->open) {
			b->failed++;
			bench_fail(b, wsh_event_reason(ev));
			if (!b->o.quiet && b->failed <= 3)
				fprintf(stderr, "wshub bench: %s\n",
				    wsh_event_reason(ev));
			if (p->role == BR_HS)
				p->restart = 1;
		}
		break;
	case WSH_EV_CLOSE:
		if (!p->open)
			break;
		p->open = 0;
		if (p->role == BR_SUB)
			b->subs_open--;
		if (p->role == BR_HS) {
			b->opened--;
			p->restart = 1;
			break;
		}
		/* Connections of the other modes stay until the end. */
		b->closed++;
		bench_fail(b, "a connection was closed by the server");
		break;
	case WSH_EV_MESSAGE:
		bench_message(b, p, ev);
		break;
	default:
		break;
	}
}

/* Start the next connections, with at most BENCH_INFLIGHT handshakes at once. */
static void
bench_connect_more(struct bench *b)
{
	struct bench_peer	*p;
	char			 src[32];

	while (b->started < b->n && b->started - b->opened - b->failed -
	    b->closed < BENCH_INFLIGHT) {
		p = &b->peers[b->started++];
		if (p->c == NULL) {
			p->b = b;
			p->expect = 1;
			p->c = client_make(b->sub_url, &b->o, bench_event, p);
			/* Spread over 127.0.0.2-250: 64k ports per address. */
			if (b->spread) {
				(void)snprintf(src, sizeof(src), "127.0.0.%ld",
				    2 + (long)(p - b->peers) % BENCH_SRC_ADDRS);
				(void)wsh_client_set_source_address(p->c, src);
			}
		}
		p->started = 1;
		(void)wsh_client_connect(p->c);
	}
}

static void
bench_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	/* Wakes the loop so the clock is checked while nothing arrives. */
}

/* Run the loop until |pred| holds or |secs| pass. */
static void
bench_run_until(struct bench *b, double secs, int (*pred)(struct bench *))
{
	double	 end = now_secs() + secs;
	long	 i;

	while (now_secs() < end && (pred == NULL || !pred(b))) {
		bench_connect_more(b);
		event_base_loop(cli_base, EVLOOP_ONCE);
		if (b->mode != BM_HANDSHAKES)
			continue;
		/* Outside the callbacks: a client may not restart in its own. */
		for (i = 0; i < b->n; i++) {
			if (b->peers[i].restart && b->publishing) {
				b->peers[i].restart = 0;
				(void)wsh_client_connect(b->peers[i].c);
			}
		}
	}
}

static int
bench_all_answered(struct bench *b)
{
	/* The publisher connects only once every subscriber has an answer. */
	return b->opened + b->failed + b->closed >= b->n +
	    (b->pubp.c != NULL);
}

/* Whether the run is over: drained, or stalled. */
static int
bench_drained(struct bench *b)
{
	long	 i;

	if (b->closed > 0)
		return 1;
	if (b->mode == BM_ECHO) {
		for (i = 0; i < b->n; i++)
			if (b->peers[i].open && b->peers[i].outstanding > 0)
				break;
		if (i == b->n)
			return 1;
	} else if (b->completed >= b->next_seq &&
	    (b->pub_self_rx == 0 || b->pubp.expect >= b->next_seq))
		/*
		 * Every subscriber has everything, and so has the publisher
		 * when the server sends it copies (wshubd's pubsub does; the
		 * publisher may be written last in a round).
		 */
		return 1;
	if (now_secs() - b->last_progress >= BENCH_STALL_SECS) {
		b->stalled = 1;
		return 1;
	}
	return 0;
}

static int
bench_stalled(struct bench *b)
{
	if (b->closed > 0 || (b->pub_url != NULL && !b->pubp.open))
		return 1;
	if (b->mode != BM_LATENCY && now_secs() - b->last_progress >=
	    BENCH_STALL_SECS) {
		b->stalled = 1;
		bench_fail(b, "no message completed for 5 s");
		return 1;
	}
	return 0;
}

/* Per subscriber: errors, and what never arrived by the end. */
static void
bench_sum(struct bench *b, uint64_t *lost, uint64_t *undel, uint64_t *dup,
    uint64_t *reord, uint64_t *self_err)
{
	struct bench_peer	*p;
	uint64_t		 last = b->next_seq - 1;
	long			 i;

	*lost = *undel = *dup = *reord = 0;
	for (i = 0; i < b->n; i++) {
		p = &b->peers[i];
		*lost += p->lost;
		*dup += p->dup;
		*reord += p->reord;
		if (b->mode != BM_ECHO && p->expect <= last)
			*undel += last - p->expect + 1;
	}
	p = &b->pubp;
	*self_err = 0;
	if (b->pub_self_rx > 0)
		*self_err = p->lost + p->dup + p->reord +
		    (p->expect <= last ? last - p->expect + 1 : 0);
}

static int
bench_report_flow(struct bench *b)
{
	double		 secs = b->t_measure1 - b->t_measure0, dps, pps, dcpu = -1;
	double		 scpu;
	uint64_t	 lost, undel, dup, reord, self_err, d;
	int		 ok;

	bench_sum(b, &lost, &undel, &dup, &reord, &self_err);
	if (secs <= 0)
		secs = 1e-9;
	d = b->deliv_m1 - b->deliv_m0;
	dps = (double)d / secs;
	pps = (double)(b->sent_m1 - b->sent_m0) / secs;
	if (b->cpu0 >= 0 && b->cpu1 >= 0)
		dcpu = (b->cpu1 - b->cpu0) / secs * 100;
	scpu = (b->self1 - b->self0) / secs * 100;
	ok = b->opened > 0 && lost == 0 && undel == 0 && dup == 0 &&
	    reord == 0 && b->bad == 0 && !b->stalled && b->closed == 0 &&
	    b->failed == 0 && self_err == 0;
	if (b->json) {
		printf("{\"mode\": \"%s\", \"ok\": %s, ", b->mode_name,
		    ok ? "true" : "false");
		if (b->label != NULL)
			json_print_str("label", b->label), printf(", ");
		printf("\"subscribers\": %ld, \"size\": %zu, \"window\": %ld, "
		    "\"rate\": %.0f, \"seconds\": %.3f, \"published\": %" PRIu64
		    ", \"deliveries\": %" PRIu64 ", \"msgs_per_s\": %.1f, "
		    "\"pub_per_s\": %.1f, \"mb_per_s\": %.2f, \"lost\": %" PRIu64
		    ", \"undelivered\": %" PRIu64 ", \"dup\": %" PRIu64
		    ", \"reordered\": %" PRIu64 ", \"bad\": %" PRIu64
		    ", \"closed\": %ld, \"failed\": %ld, \"stalled\": %s, "
		    "\"pub_self_rx\": %" PRIu64 ", \"pub_self_errors\": %" PRIu64
		    ", \"pub_other_rx\": %" PRIu64 ", \"daemon_cpu_pct\": %.1f, "
		    "\"daemon_rss_kb\": %ld, \"client_cpu_pct\": %.1f, "
		    "\"samples\": %" PRIu64 ", \"p50_us\": %.1f, \"p90_us\": %.1f,"
		    " \"p99_us\": %.1f, \"p999_us\": %.1f, \"max_us\": %.1f, ",
		    b->n, b->size, b->window, b->rate, secs, b->next_seq - 1, d,
		    dps, pps, dps * (double)b->size / 1e6, lost, undel, dup,
		    reord, b->bad, b->closed, b->failed,
		    b->stalled ? "true" : "false", b->pub_self_rx, self_err,
		    b->pub_other_rx, dcpu, b->rss_kb, scpu, b->lat_n,
		    bench_lat_pct(b, 0.5), bench_lat_pct(b, 0.9),
		    bench_lat_pct(b, 0.99), bench_lat_pct(b, 0.999), b->lat_max);
		json_print_str("error", b->fail_reason);
		printf("}\n");
	} else {
		printf("%s: %ld %s, %zu-byte messages, ", b->mode_name, b->n,
		    b->mode == BM_ECHO ? "connections" : "subscribers", b->size);
		if (b->mode == BM_LATENCY)
			printf("%.0f msg/s\n", b->rate);
		else
			printf("window %ld\n", b->window);
		printf("  measured %.2f s: ", secs);
		if (b->mode != BM_ECHO)
			printf("%" PRIu64 " published (%.0f/s), ",
			    b->sent_m1 - b->sent_m0, pps);
		printf("%" PRIu64 " delivered\n", d);
		printf("  deliveries: %.0f msg/s, %.2f MB/s payload\n", dps,
		    dps * (double)b->size / 1e6);
		printf("  latency (us, %" PRIu64 " samples): p50 %.0f  p90 %.0f"
		    "  p99 %.0f  p99.9 %.0f  max %.0f\n", b->lat_n,
		    bench_lat_pct(b, 0.5), bench_lat_pct(b, 0.9),
		    bench_lat_pct(b, 0.99), bench_lat_pct(b, 0.999), b->lat_max);
		printf("  lost %" PRIu64 ", undelivered at end %" PRIu64
		    ", duplicated %" PRIu64 ", reordered %" PRIu64 ", malformed %"
		    PRIu64 ", closed early %ld%s\n", lost, undel, dup, reord,
		    b->bad, b->closed, b->stalled ? ", STALLED" : "");
		if (b->pub_self_rx > 0)
			printf("  publisher received %" PRIu64 " copies of its "
			    "own messages (%" PRIu64 " lost/dup/reordered)\n",
			    b->pub_self_rx, self_err);
		if (dcpu >= 0)
			printf("  server pid %d: CPU %.1f%%, RSS %ld kB\n",
			    (int)b->pid, dcpu, b->rss_kb);
		printf("  wshub bench CPU %.1f%%\n", scpu);
		if (b->fail_reason[0] != '\0')
			printf("  problem: %s\n", b->fail_reason);
		printf("%s\n", ok ? "OK" : "FAILED");
	}
	fflush(stdout);
	return ok ? 0 : 1;
}

static void
bench_measure_begin(struct bench *b)
{
	b->measuring = 1;
	b->t_measure0 = now_secs();
	b->deliv_m0 = b->delivered;
	b->sent_m0 = b->next_seq - 1;
	b->hs_m0 = b->hs_done;
	b->cpu0 = b->pid != 0 ? proc_cpu(b->pid) : -1;
	b->self0 = self_cpu();
}

static void
bench_measure_end(struct bench *b)
{
	if (!b->measuring)
		return;
	b->measuring = 0;
	b->t_measure1 = now_secs();
	b->deliv_m1 = b->delivered;
	b->sent_m1 = b->next_seq - 1;
	b->hs_m1 = b->hs_done;
	b->cpu1 = b->pid != 0 ? proc_cpu(b->pid) : -1;
	b->rss_kb = b->pid != 0 ? proc_rss_kb(b->pid) : -1;
	b->self1 = self_cpu();
}

static int
bench_flow(struct bench *b)
{
	struct timeval	 tv;
	long		 i, k;

	bench_run_until(b, BENCH_CONNECT_SECS, bench_all_answered);
	if (b->pub_url != NULL) {
		b->pubp.b = b;
		b->pubp.role = BR_PUB;
		b->pubp.expect = 1;
		b->pubp.c = client_make(b->pub_url, &b->o, bench_event,
		    &b->pubp);
		(void)wsh_client_connect(b->pubp.c);
		bench_run_until(b, 10, bench_all_answered);
		if (!b->pubp.open)
			bench_fail(b, "the publisher did not connect");
	}
	if (b->opened < b->n + (b->pub_url != NULL) && !b->o.quiet)
		fprintf(stderr, "wshub bench: only %ld of %ld connections "
		    "opened\n", b->opened, b->n + (b->pub_url != NULL));
	if (b->opened == 0 || (b->pub_url != NULL && !b->pubp.open)) {
		bench_fail(b, "no connection opened");
		return bench_report_flow(b);
	}

	/* Let the subscriptions take effect before the first message. */
	bench_run_until(b, BENCH_SETTLE_SECS, NULL);
	b->publishing = 1;
	b->t_pub0 = b->last_progress = now_secs();
	if (b->mode == BM_FANOUT)
		bench_publish_more(b);
	else if (b->mode == BM_LATENCY) {
		tv.tv_sec = 0;
		tv.tv_usec = b->rate >= 1000 ? 1000 : (suseconds_t)(1e6 /
		    b->rate);
		b->pub_timer = event_new(cli_base, -1, EV_PERSIST,
		    bench_pub_timer_cb, b);
		event_add(b->pub_timer, &tv);
	} else {
		for (i = 0; i < b->n; i++) {
			for (k = 0; k < b->window && b->peers[i].open; k++) {
				if (bench_send(b, &b->peers[i],
				    b->peers[i].next_seq++) == 0)
					b->peers[i].outstanding++;
			}
		}
	}
	bench_run_until(b, b->warmup, bench_stalled);
	if (!b->stalled && b->closed == 0) {
		bench_measure_begin(b);
		bench_run_until(b, b->duration, bench_stalled);
	}
	bench_measure_end(b);
	b->publishing = 0;
	if (b->pub_timer != NULL)
		event_del(b->pub_timer);
	/*
	 * Let what is in flight arrive: a window drains as long as messages
	 * complete; at a fixed rate what is missing after 5 s is a backlog.
	 */
	b->last_progress = now_secs();
	bench_run_until(b, b->mode == BM_LATENCY ? BENCH_STALL_SECS :
	    BENCH_DRAIN_SECS, bench_drained);
	if (b->mode == BM_LATENCY)
		b->stalled = 0;
	return bench_report_flow(b);
}

static int
bench_handshakes(struct bench *b)
{
	double	 secs, dcpu = -1, scpu;
	int	 ok;

	b->publishing = 1;
	b->t_start = now_secs();
	bench_run_until(b, b->warmup, NULL);
	bench_measure_begin(b);
	bench_run_until(b, b->duration, NULL);
	bench_measure_end(b);
	b->publishing = 0;
	secs = b->t_measure1 - b->t_measure0;
	if (secs <= 0)
		secs = 1e-9;
	if (b->cpu0 >= 0 && b->cpu1 >= 0)
		dcpu = (b->cpu1 - b->cpu0) / secs * 100;
	scpu = (b->self1 - b->self0) / secs * 100;
	ok = b->failed == 0 && b->hs_m1 > b->hs_m0;
	if (b->json) {
		printf("{\"mode\": \"handshakes\", \"ok\": %s, ",
		    ok ? "true" : "false");
		if (b->label != NULL)
			json_print_str("label", b->label), printf(", ");
		printf("\"concurrency\": %ld, \"seconds\": %.3f, \"handshakes\": %"
		    PRIu64 ", \"hs_per_s\": %.1f, \"failed\": %ld, "
		    "\"daemon_cpu_pct\": %.1f, \"client_cpu_pct\": %.1f, "
		    "\"hs_per_daemon_cpu_s\": %.1f, ", b->n, secs,
		    b->hs_m1 - b->hs_m0, (double)(b->hs_m1 - b->hs_m0) / secs,
		    b->failed, dcpu, scpu, dcpu > 0 ?
		    (double)(b->hs_m1 - b->hs_m0) / secs / (dcpu / 100) : -1);
		json_print_str("error", b->fail_reason);
		printf("}\n");
	} else {
		printf("handshakes: %ld in flight, %.2f s: %" PRIu64
		    " handshakes, %.0f/s, %ld failed\n", b->n, secs,
		    b->hs_m1 - b->hs_m0, (double)(b->hs_m1 - b->hs_m0) / secs,
		    b->failed);
		if (dcpu >= 0)
			printf("  server CPU %.1f%%\n", dcpu);
		printf("  wshub bench CPU %.1f%%\n", scpu);
		if (b->fail_reason[0] != '\0')
			printf("  problem: %s\n", b->fail_reason);
		printf("%s\n", ok ? "OK" : "FAILED");
	}
	fflush(stdout);
	return ok ? 0 : 1;
}

static void
bench_idle_quit_cb(evutil_socket_t fd, short what, void *arg)
{
	event_base_loopbreak(cli_base);
}

/*
 * One idle worker: open the connections b->peers[first..first+n), report
 * "opened failed reason" on |wfd|, hold them until |rfd| reaches EOF.
 */
static void
bench_idle_worker(struct bench *b, long first, long n, int wfd, int rfd)
{
	struct event	*quit;
	struct timeval	 tv;
	char		 line[300];
	int		 len;

	/* The parent's loop is not ours to use after fork(). */
	if ((cli_base = event_base_new()) == NULL)
		_exit(1);
	b->peers += first;
	b->n = n;
	b->tick = event_new(cli_base, -1, EV_PERSIST, bench_tick_cb, NULL);
	tv.tv_sec = 0;
	tv.tv_usec = 100000;
	event_add(b->tick, &tv);
	bench_run_until(b, BENCH_CONNECT_SECS, bench_all_answered);
	len = snprintf(line, sizeof(line), "%ld %ld %s\n", b->opened,
	    b->failed + (b->n - b->opened - b->failed),
	    b->fail_reason[0] != '\0' ? b->fail_reason : "-");
	if (write(wfd, line, (size_t)len) != len)
		_exit(1);
	quit = event_new(cli_base, rfd, EV_READ, bench_idle_quit_cb, NULL);
	tv.tv_sec = (time_t)b->limit;
	tv.tv_usec = 0;
	event_add(quit, &tv);
	event_base_dispatch(cli_base);
	_exit(0);
}

static int
bench_idle(struct bench *b)
{
	pid_t	 kids[BENCH_PROCS_MAX];
	int	 rpipe[BENCH_PROCS_MAX], cpipe[BENCH_PROCS_MAX];
	int	 procs = b->procs, i, j, st, ok = 1, rp[2], cp[2];
	long	 first = 0, per, rest = b->n, opened = 0, failed = 0;
	long	 rss0 = -1, rss1 = -1, o, f;
	char	 line[300], r[256], reason[256] = "";
	double	 t0, bytes;
	ssize_t	 len;

	if (procs <= 0)
		procs = (int)((b->n + BENCH_PROC_CONNS - 1) / BENCH_PROC_CONNS);
	if (procs > BENCH_PROCS_MAX)
		die("bench idle: at most %d worker processes",
		    BENCH_PROCS_MAX);
	if (b->pid != 0)
		rss0 = proc_rss_kb(b->pid);
	t0 = now_secs();
	fflush(stdout);
	for (i = 0; i < procs; i++) {
		per = rest / (procs - i);
		if (pipe(rp) == -1 || pipe(cp) == -1)
			die("pipe: %s", strerror(errno));
		if ((kids[i] = fork()) == -1)
			die("fork: %s", strerror(errno));
		if (kids[i] == 0) {
			close(rp[0]);
			close(cp[1]);
			for (j = 0; j < i; j++) {
				close(rpipe[j]);
				close(cpipe[j]);
			}
			bench_idle_worker(b, first, per, rp[1], cp[0]);
		}
		close(rp[1]);
		close(cp[0]);
		rpipe[i] = rp[0];
		cpipe[i] = cp[1];
		first += per;
		rest -= per;
	}
	for (i = 0; i < procs; i++) {
		if ((len = read(rpipe[i], line, sizeof(line) - 1)) <= 0) {
			ok = 0;
			(void)snprintf(reason, sizeof(reason), "worker %d died",
			    i);
			continue;
		}
		line[len] = '\0';
		r[0] = '\0';
		if (sscanf(line, "%ld %ld %255[^\n]", &o, &f, r) >= 2) {
			opened += o;
			failed += f;
			if (f > 0 && reason[0] == '\0')
				(void)snprintf(reason, sizeof(reason), "%s", r);
		}
	}
	secs_sleep(b->hold / 2);
	if (b->pid != 0)
		rss1 = proc_rss_kb(b->pid);
	secs_sleep(b->hold / 2);
	for (i = 0; i < procs; i++)
		close(cpipe[i]);
	for (i = 0; i < procs; i++) {
		if (waitpid(kids[i], &st, 0) == -1 || !WIFEXITED(st) ||
		    WEXITSTATUS(st) != 0)
			ok = 0;
		close(rpipe[i]);
	}
	if (failed > 0 || opened != b->n)
		ok = 0;
	bytes = opened > 0 && rss0 >= 0 && rss1 >= 0 ?
	    (double)(rss1 - rss0) * 1024 / (double)opened : -1;
	if (b->json) {
		printf("{\"mode\": \"idle\", \"ok\": %s, ", ok ? "true" : "false");
		if (b->label != NULL)
			json_print_str("label", b->label), printf(", ");
		printf("\"conns\": %ld, \"opened\": %ld, \"failed\": %ld, "
		    "\"procs\": %d, \"connect_secs\": %.2f, \"rss_before_kb\": "
		    "%ld, \"rss_after_kb\": %ld, \"bytes_per_conn\": %.0f, ",
		    b->n, opened, failed, procs, now_secs() - t0, rss0, rss1,
		    bytes);
		json_print_str("error", reason);
		printf("}\n");
	} else {
		printf("idle: %ld connections (%d processes): %ld open, %ld "
		    "failed\n", b->n, procs, opened, failed);
		if (bytes >= 0)
			printf("  server RSS %ld kB -> %ld kB: %.0f bytes per "
			    "connection\n", rss0, rss1, bytes);
		if (reason[0] != '\0')
			printf("  problem: %s\n", reason);
		printf("%s\n", ok ? "OK" : "FAILED");
	}
	fflush(stdout);
	return ok ? 0 : 1;
}

static void
bench_alarm(int sig)
{
	static const char	 msg[] = "wshub bench: time limit reached\n";

	(void)write(STDERR_FILENO, msg, sizeof(msg) - 1);
	_exit(3);
}

static int
cmd_bench(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "sub-url", required_argument, NULL, 's' },
		{ "pub-url", required_argument, NULL, 'p' },
		{ "conns", required_argument, NULL, 'n' },
		{ "concurrency", required_argument, NULL, 'c' },
		{ "size", required_argument, NULL, 'S' },
		{ "window", required_argument, NULL, 'w' },
		{ "rate", required_argument, NULL, 'r' },
		{ "duration", required_argument, NULL, 'd' },
		{ "warmup", required_argument, NULL, 'W' },
		{ "hold", required_argument, NULL, 'o' },
		{ "procs", required_argument, NULL, 'P' },
		{ "no-spread", no_argument, NULL, 'x' },
		{ "pid", required_argument, NULL, 'i' },
		{ "limit", required_argument, NULL, 'L' },
		{ "deflate", no_argument, NULL, 'z' },
		{ "json", no_argument, NULL, 'J' },
		{ "label", required_argument, NULL, 'l' },
		{ "quiet", no_argument, NULL, 'q' },
		{ NULL, 0, NULL, 0 }
	};
	static const char *const modes[] = {
		"fanout", "latency", "echo", "idle", "handshakes"
	};
	struct bench	 b;
	struct rlimit	 rl;
	struct timeval	 tv = { 0, 100000 };
	long		 i;
	int		 ch, rc;

	memset(&b, 0, sizeof(b));
	b.n = 100;
	b.size = 64;
	b.window = 64;
	b.rate = 1000;
	b.duration = 5;
	b.warmup = 1;
	b.hold = 2;
	b.limit = 300;
	b.spread = 1;
	if (argc < 2)
		usage();
	for (i = 0; i < (long)(sizeof(modes) / sizeof(modes[0])); i++)
		if (strcmp(argv[1], modes[i]) == 0)
			break;
	if (i == (long)(sizeof(modes) / sizeof(modes[0])))
		die("bench mode must be fanout, latency, echo, idle or "
		    "handshakes");
	b.mode = (enum bench_mode)i;
	b.mode_name = modes[i];
	if (b.mode == BM_HANDSHAKES)
		b.n = 64;
	optind = 2;
	while ((ch = getopt_long(argc, argv, "s:p:n:c:S:w:r:d:W:o:P:i:L:Jl:q",
	    longopts, NULL)) != -1) {
		switch (ch) {
		case 's':
			b.sub_url = optarg;
			break;
		case 'p':
			b.pub_url = optarg;
			break;
		case 'n':
		case 'c':
			b.n = parse_num(optarg, 1, 1000000, "connections");
			break;
		case 'S':
			b.size = (size_t)parse_num(optarg, BENCH_PAYLOAD_HDR,
			    16 << 20, "--size");
			break;
		case 'w':
			b.window = parse_num(optarg, 1, 1000000, "--window");
			break;
		case 'r':
			b.rate = strtod(optarg, NULL);
			if (b.rate <= 0 || b.rate > 1e7)
				die("bad --rate: %s", optarg);
			break;
		case 'd':
			b.duration = strtod(optarg, NULL);
			break;
		case 'W':
			b.warmup = strtod(optarg, NULL);
			break;
		case 'o':
			b.hold = strtod(optarg, NULL);
			break;
		case 'P':
			b.procs = (int)parse_num(optarg, 1, BENCH_PROCS_MAX,
			    "--procs");
			break;
		case 'x':
			b.spread = 0;
			break;
		case 'i':
			b.pid = (pid_t)parse_num(optarg, 1, INT_MAX, "--pid");
			break;
		case 'L':
			b.limit = strtod(optarg, NULL);
			if (b.limit <= 0)
				die("bad --limit: %s", optarg);
			break;
		case 'z':
			b.o.deflate = 1;
			break;
		case 'J':
			b.json = 1;
			break;
		case 'l':
			b.label = optarg;
			break;
		case 'q':
			b.o.quiet = 1;
			break;
		default:
			usage();
		}
	}
	if (b.sub_url == NULL)
		die("bench needs --sub-url");
	if ((b.mode == BM_FANOUT || b.mode == BM_LATENCY) && b.pub_url == NULL)
		die("bench %s needs --pub-url", b.mode_name);
	if (b.mode != BM_FANOUT && b.mode != BM_LATENCY)
		b.pub_url = NULL;
	if (b.duration <= 0 || b.warmup < 0 || b.hold < 0)
		die("bad --duration, --warmup or --hold");
	/* Only idle connections need more than one source address. */
	if (b.mode != BM_IDLE || strncmp(b.sub_url, "ws://127.", 9) != 0)
		b.spread = 0;

	/* Every run ends by itself, whatever the server does. */
	(void)signal(SIGALRM, bench_alarm);
	alarm((unsigned)b.limit + 30);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (b.mode == BM_IDLE && b.procs == 0 && b.n > BENCH_PROC_CONNS &&
	    getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
	    rl.rlim_cur < (rlim_t)BENCH_PROC_CONNS + 64)
		b.procs = (int)((b.n + (long)rl.rlim_cur - 65) /
		    ((long)rl.rlim_cur - 64));
	b.o.reconnect = 0;
	b.o.bo_min = 100;
	b.o.bo_max = 10000;
	b.ring = (size_t)b.window * 4 + 4096;
	if ((b.peers = calloc((size_t)b.n, sizeof(*b.peers))) == NULL ||
	    (b.pending = calloc(b.ring, sizeof(*b.pending))) == NULL ||
	    (b.lat = calloc(BENCH_LAT_BUCKETS, sizeof(*b.lat))) == NULL ||
	    (b.lat_ms = calloc(BENCH_LAT_MS_BUCKETS, sizeof(*b.lat_ms))) ==
	    NULL ||
	    (b.payload = malloc(b.size)) == NULL)
		die("out of memory");
	for (i = 0; i < b.n; i++)
		b.peers[i].role = b.mode == BM_HANDSHAKES ? BR_HS :
		    b.mode == BM_IDLE ? BR_IDLE : BR_SUB;
	memset(b.payload, '.', b.size);
	b.next_seq = b.completed = 1;
	b.cpu0 = b.cpu1 = -1;

	if (b.mode == BM_IDLE)
		return bench_idle(&b);
	b.tick = event_new(cli_base, -1, EV_PERSIST, bench_tick_cb, NULL);
	event_add(b.tick, &tv);
	if (b.mode == BM_HANDSHAKES)
		rc = bench_handshakes(&b);
	else
		rc = bench_flow(&b);
	for (i = 0; i < b.n; i++)
		wsh_client_free(b.peers[i].c);
	wsh_client_free(b.pubp.c);
	if (b.pub_timer != NULL)
		event_free(b.pub_timer);
	event_free(b.tick);
	free(b.peers);
	free(b.pending);
	free(b.lat);
	free(b.lat_ms);
	free(b.payload);
	return rc;
}

/* ------------------------------------------------------------------ */

static int
cmd_connect_main(int argc, char **argv)
{
	return cmd_connect(argc, argv, 0);
}

static int
cmd_sub_main(int argc, char **argv)
{
	return cmd_connect(argc, argv, 1);
}

static int
cmd_pub_main(int argc, char **argv)
{
	return cmd_pub_send(argc, argv, 0);
}

static int
cmd_send_main(int argc, char **argv)
{
	return cmd_pub_send(argc, argv, 1);
}

static int
cmd_echo_main(int argc, char **argv)
{
	return cmd_server(argc, argv, 0);
}

static int
cmd_broadcast_main(int argc, char **argv)
{
	return cmd_server(argc, argv, 1);
}

/* One row per command. */
static const struct cli_cmd {
	const char	*name;
	int		(*exec)(int, char **);
} cli_cmds[] = {
	{ "connect", cmd_connect_main },
	{ "sub", cmd_sub_main },
	{ "pub", cmd_pub_main },
	{ "send", cmd_send_main },
	{ "echo-server", cmd_echo_main },
	{ "broadcast-server", cmd_broadcast_main },
	{ "bench", cmd_bench },
};

int
main(int argc, char **argv)
{
	const char	*cmd;
	int		 rc;
	size_t		 i;

	(void)signal(SIGPIPE, SIG_IGN);
	if (argc < 2 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "--help") == 0)
		usage();
	if (strcmp(argv[1], "--version") == 0) {
		printf("wshub %s\n", wsh_version());
		return 0;
	}
	cmd = argv[1];
	for (i = 0; i < sizeof(cli_cmds) / sizeof(cli_cmds[0]); i++) {
		if (strcmp(cli_cmds[i].name, cmd) == 0)
			break;
	}
	if (i == sizeof(cli_cmds) / sizeof(cli_cmds[0])) {
		fprintf(stderr, "wshub: unknown command: %s\n", cmd);
		usage();
	}
	if ((cli_base = event_base_new()) == NULL)
		die("cannot create an event loop");
	argc--;
	argv++;
	rc = cli_cmds[i].exec(argc, argv);
	return rc;
}
