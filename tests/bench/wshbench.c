/* wshbench: a single-threaded epoll WebSocket load generator for wshub's benchmark. */

/*
 * Modes (see usage()):
 *   fanout      N subscribers, one publisher with a window of W messages in
 *               flight; deliveries per second, order checked per subscriber.
 *   latency     a fixed publish rate; publish-to-delivery latency percentiles.
 *   idle        N idle connections; the daemon's RSS per connection.
 *   handshakes  open, handshake and close connections, C at a time.
 *
 * It is independent of wshub's own code: the client side of RFC 6455 is
 * implemented here (handshake with Sec-WebSocket-Accept checked, masked
 * client frames, an incremental frame parser for server frames, ping ->
 * pong). Every mode has a hard time limit (alarm) and exits by itself.
 *
 * Payload of a benchmark message (text, S >= 32 bytes): 16 hex digits of the
 * sequence number, 16 hex digits of the CLOCK_MONOTONIC send time in ns,
 * padded with '.' to S bytes.
 */

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT	24
#endif

#define RBUF_SIZE		(64 * 1024)	/* one read() */
#define HEAD_MAX		8192		/* HTTP response head */
#define EVENTS_MAX		1024
#define PAYLOAD_HDR		32		/* seq + timestamp, hex */
#define CTL_MAX			125
#define SRC_ADDRS		249		/* 127.0.0.2 .. 127.0.0.250 */
#define PROC_CONNS_MAX		19000		/* per process: the fd limit is 20 000 */
#define RING_MIN		4096
#define LAT_US_BUCKETS		100000		/* 1 us resolution up to 100 ms */
#define LAT_MS_BUCKETS		60000		/* 1 ms resolution up to 60 s */
#define STALL_SECS		5.0
#define DRAIN_MAX_SECS		60.0

enum mode { M_FANOUT, M_LATENCY, M_IDLE, M_HANDSHAKES, M_SELFTEST };
enum cstate { ST_FREE, ST_CONNECTING, ST_HANDSHAKE, ST_OPEN, ST_CLOSING, ST_DONE };
enum role { R_SUB, R_PUB, R_IDLE, R_HS };
enum phase { P_CONNECT, P_SETTLE, P_WARMUP, P_MEASURE, P_DRAIN, P_END };

struct url {
	int			 ws;
	struct sockaddr_in	 sa;
	char			 hostport[80];
	char			 path[512];
};

struct conn {
	int		 fd;
	uint8_t		 state;
	uint8_t		 role;
	uint8_t		 http;		/* HTTP POST publisher */
	uint8_t		 hdr_have;
	uint8_t		 hdr[14];
	uint8_t		 frame_op;	/* opcode of the current frame */
	uint8_t		 frame_fin;
	uint8_t		 in_payload;
	uint8_t		 in_msg;	/* a fragmented data message is open */
	uint8_t		 zmsg;		/* the current message is compressed */
	uint8_t		 cap_have;
	uint8_t		 ctl_have;
	uint8_t		 cap[PAYLOAD_HDR];
	uint8_t		 ctl[CTL_MAX];
	uint8_t		 out_pending;	/* EPOLLOUT armed */
	uint64_t	 pay_left;
	uint64_t	 msg_len;
	char		*head;		/* response head being read */
	size_t		 head_len;
	uint8_t		*out;		/* bytes not yet written */
	size_t		 out_off, out_len, out_cap;
	uint64_t	 expect;	/* next sequence number expected */
	uint64_t	 seen;		/* bit k: expect-1-k was received */
	uint64_t	 delivered, lost, dup, reord, bad;
	double		 started;
};

struct bench {
	enum mode	 mode;
	struct url	 sub, pub;
	int		 have_pub;
	long		 nconns;
	size_t		 size;
	long		 window;
	double		 duration, warmup, rate, hold, limit;
	long		 concurrency;
	int		 procs;
	pid_t		 pid;
	int		 json;
	int		 spread;
	int		 deflate;	/* offer permessage-deflate */
	const char	*label;

	int		 ep;
	uint8_t		*rbuf;
	struct conn	*conns;
	long		 nslots;
	long		 next_start;	/* next connection to start */
	long		 inflight;	/* connecting or handshaking */
	long		 opened, failed, closed_early;
	unsigned	 src_next;
	char		 request[1024];	/* the upgrade request */
	size_t		 request_len;
	char		 accept[32];	/* expected Sec-WebSocket-Accept */
	char		 fail_reason[160];

	enum phase	 phase;
	double		 now, t_phase, t_measure0, t_measure1, t_pub0;
	struct conn	*pc;		/* the publisher */
	uint64_t	 sent;		/* messages published */
	uint64_t	 outstanding, completed;
	uint32_t	*ring;
	uint64_t	 ring_mask;
	double		 last_progress;
	int		 stalled;
	uint64_t	 delivered;	/* to subscribers, not the publisher */
	uint64_t	 deliv_m0, deliv_m1, sent_m0, sent_m1;
	uint64_t	 pub_rx, pub_bad, pub_resp, pub_err;
	uint64_t	 pings, closes_rx;
	uint32_t	 mask_state;

	uint32_t	*lat_us;
	uint32_t	*lat_ms;
	uint64_t	 lat_n, lat_over;
	double		 lat_max;

	uint64_t	 hs_done, hs_m0, hs_m1;

	double		 cpu0, cpu1;
	struct rusage	 ru0, ru1;
	long		 rss_kb;
};

static struct bench *g_bench;

static void on_message(struct bench *, struct conn *, const uint8_t *, size_t);
static void conn_finish(struct bench *, struct conn *, int);

/* ------------------------------------------------------------------ util */

static double
mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t
mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void
sleep_secs(double s)
{
	struct timespec ts;

	ts.tv_sec = (time_t)s;
	ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

static void
die(const char *fmt, ...)
{
	va_list ap;

	fputs("wshbench: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

static void *
xcalloc(size_t n, size_t sz)
{
	void *p = calloc(n, sz);

	if (p == NULL)
		die("out of memory");
	return p;
}

static void
on_alarm(int sig)
{
	static const char m[] = "wshbench: hard time limit reached, exiting\n";

	(void)sig;
	if (write(2, m, sizeof(m) - 1) < 0) {
		/* nothing to do */
	}
	_exit(3);
}

/* The xorshift generator for masking keys: unpredictable enough here. */
static uint32_t
rnd32(struct bench *b)
{
	uint32_t x = b->mask_state;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	b->mask_state = x;
	return x;
}

/* ---------------------------------------------------------- SHA-1, base64 */

static uint32_t
rol32(uint32_t x, int n)
{
	return (x << n) | (x >> (32 - n));
}

static void
sha1_block(uint32_t h[5], const uint8_t blk[64])
{
	uint32_t w[80], a, b, c, d, e, f, k, t;
	int i;

	for (i = 0; i < 16; i++)
		w[i] = (uint32_t)blk[4 * i] << 24 | (uint32_t)blk[4 * i + 1] << 16 |
		    (uint32_t)blk[4 * i + 2] << 8 | blk[4 * i + 3];
	for (i = 16; i < 80; i++)
		w[i] = rol32(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
	a = h[0]; b = h[1]; c = h[2]; d = h[3]; e = h[4];
	for (i = 0; i < 80; i++) {
		if (i < 20) {
			f = (b & c) | (~b & d);
			k = 0x5A827999;
		} else if (i < 40) {
			f = b ^ c ^ d;
			k = 0x6ED9EBA1;
		} else if (i < 60) {
			f = (b & c) | (b & d) | (c & d);
			k = 0x8F1BBCDC;
		} else {
			f = b ^ c ^ d;
			k = 0xCA62C1D6;
		}
		t = rol32(a, 5) + f + e + k + w[i];
		e = d; d = c; c = rol32(b, 30); b = a; a = t;
	}
	h[0] += a; h[1] += b; h[2] += c; h[3] += d; h[4] += e;
}

static void
sha1(const uint8_t *data, size_t len, uint8_t out[20])
{
	uint32_t h[5] = { 0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476,
	    0xC3D2E1F0 };
	uint64_t bits = (uint64_t)len * 8;
	size_t total = ((len + 8) / 64 + 1) * 64, off, i, k;
	uint8_t blk[64];

	for (off = 0; off < total; off += 64) {
		for (i = 0; i < 64; i++) {
			k = off + i;
			if (k < len)
				blk[i] = data[k];
			else if (k == len)
				blk[i] = 0x80;
			else if (k >= total - 8)
				blk[i] = (uint8_t)(bits >> (8 * (total - 1 - k)));
			else
				blk[i] = 0;
		}
		sha1_block(h, blk);
	}
	for (i = 0; i < 5; i++) {
		out[4 * i] = (uint8_t)(h[i] >> 24);
		out[4 * i + 1] = (uint8_t)(h[i] >> 16);
		out[4 * i + 2] = (uint8_t)(h[i] >> 8);
		out[4 * i + 3] = (uint8_t)h[i];
	}
}

static void
base64(const uint8_t *in, size_t len, char *out)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t i;

	for (i = 0; i + 2 < len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		*out++ = tab[v >> 18];
		*out++ = tab[(v >> 12) & 63];
		*out++ = tab[(v >> 6) & 63];
		*out++ = tab[v & 63];
	}
	if (len - i == 1) {
		uint32_t v = (uint32_t)in[i] << 16;
		*out++ = tab[v >> 18];
		*out++ = tab[(v >> 12) & 63];
		*out++ = '=';
		*out++ = '=';
	} else if (len - i == 2) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
		*out++ = tab[v >> 18];
		*out++ = tab[(v >> 12) & 63];
		*out++ = tab[(v >> 6) & 63];
		*out++ = '=';
	}
	*out = '\0';
}

/* Sec-WebSocket-Accept for |key| (RFC 6455 4.2.2). */
static void
ws_accept(const char *key, char out[32])
{
	static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
	char buf[128];
	uint8_t dig[20];
	size_t n;

	n = (size_t)snprintf(buf, sizeof(buf), "%s%s", key, guid);
	sha1((const uint8_t *)buf, n, dig);
	base64(dig, 20, out);
}

/* --------------------------------------------------------------- payload */

static const char hexd[] = "0123456789abcdef";

static void
hex16(char *p, uint64_t v)
{
	int i;

	for (i = 15; i >= 0; i--) {
		p[i] = hexd[v & 15];
		v >>= 4;
	}
}

static int
unhex16(const uint8_t *p, uint64_t *v)
{
	uint64_t r = 0;
	int i;

	for (i = 0; i < 16; i++) {
		uint8_t c = p[i];

		if (c >= '0' && c <= '9')
			r = r << 4 | (uint64_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			r = r << 4 | (uint64_t)(c - 'a' + 10);
		else
			return -1;
	}
	*v = r;
	return 0;
}

/* --------------------------------------------------------------- URLs */

static int
url_parse(const char *s, struct url *u)
{
	const char *p, *slash, *colon;
	char host[64];
	size_t hl;
	long port;

	memset(u, 0, sizeof(*u));
	if (strncmp(s, "ws://", 5) == 0) {
		u->ws = 1;
		p = s + 5;
	} else if (strncmp(s, "http://", 7) == 0) {
		p = s + 7;
	} else
		return -1;
	if ((slash = strchr(p, '/')) == NULL)
		slash = p + strlen(p);
	colon = memchr(p, ':', (size_t)(slash - p));
	hl = (size_t)((colon != NULL ? colon : slash) - p);
	if (hl == 0 || hl >= sizeof(host) || (size_t)(slash - p) >= sizeof(u->hostport))
		return -1;
	memcpy(host, p, hl);
	host[hl] = '\0';
	port = colon != NULL ? strtol(colon + 1, NULL, 10) : 80;
	if (port <= 0 || port > 65535)
		return -1;
	if (strcmp(host, "localhost") == 0)
		strcpy(host, "127.0.0.1");
	u->sa.sin_family = AF_INET;
	u->sa.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, host, &u->sa.sin_addr) != 1)
		return -1;
	memcpy(u->hostport, p, (size_t)(slash - p));
	if (strlen(*slash != '\0' ? slash : "/") >= sizeof(u->path))
		return -1;
	strcpy(u->path, *slash != '\0' ? slash : "/");
	return 0;
}

/* ----------------------------------------------------------- /proc/PID */

static double
proc_cpu(pid_t pid)
{
	char path[64], buf[2048], *p;
	unsigned long ut, st;
	ssize_t n;
	int fd, i;

	if (pid <= 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	/* Fields after the command name, which may contain spaces. */
	if ((p = strrchr(buf, ')')) == NULL)
		return -1;
	p += 2;
	for (i = 3; i < 14; i++) {	/* field 14 is utime */
		if ((p = strchr(p, ' ')) == NULL)
			return -1;
		p++;
	}
	if (sscanf(p, "%lu %lu", &ut, &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static long
proc_rss_kb(pid_t pid)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;

	if (pid <= 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((f = fopen(path, "re")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, "VmRSS:", 6) == 0) {
			kb = strtol(line + 6, NULL, 10);
			break;
		}
	fclose(f);
	return kb;
}

static double
tv_secs(struct timeval tv)
{
	return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

static double
self_cpu(const struct rusage *a, const struct rusage *b)
{
	return tv_secs(b->ru_utime) - tv_secs(a->ru_utime) +
	    tv_secs(b->ru_stime) - tv_secs(a->ru_stime);
}

/* ----------------------------------------------------------- connections */

static void
ep_set(struct bench *b, struct conn *c, uint32_t events, int op)
{
	struct epoll_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.events = events;
	ev.data.u64 = (uint64_t)(c - b->conns);
	if (epoll_ctl(b->ep, op, c->fd, &ev) == -1)
		die("epoll_ctl: %s", strerror(errno));
}

static void
conn_reset(struct conn *c)
{
	free(c->head);
	free(c->out);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

/* Start a non-blocking connect from one of the 127.0.0.x source addresses. */
static int
conn_start(struct bench *b, struct conn *c, const struct url *u, int role)
{
	struct sockaddr_in src;
	int fd, one = 1;

	conn_reset(c);
	c->role = (uint8_t)role;
	c->http = !u->ws;
	c->started = b->now;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		snprintf(b->fail_reason, sizeof(b->fail_reason), "socket: %s",
		    strerror(errno));
		return -1;
	}
	if (role != R_HS)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (b->spread) {
		memset(&src, 0, sizeof(src));
		src.sin_family = AF_INET;
		src.sin_addr.s_addr = htonl(0x7f000002u + (b->src_next++ % SRC_ADDRS));
		setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
		if (bind(fd, (struct sockaddr *)&src, sizeof(src)) == -1) {
			snprintf(b->fail_reason, sizeof(b->fail_reason),
			    "bind: %s", strerror(errno));
			close(fd);
			return -1;
		}
	}
	c->fd = fd;
	c->state = ST_CONNECTING;
	b->inflight++;
	if (connect(fd, (const struct sockaddr *)&u->sa, sizeof(u->sa)) == -1 &&
	    errno != EINPROGRESS) {
		snprintf(b->fail_reason, sizeof(b->fail_reason), "connect: %s",
		    strerror(errno));
		ep_set(b, c, EPOLLIN, EPOLL_CTL_ADD);
		conn_finish(b, c, 1);
		return -1;
	}
	/*
	 * Handshake-rate connections are registered once, edge-triggered, to
	 * save the epoll_ctl calls: their few small reads always drain.
	 */
	if (role == R_HS)
		ep_set(b, c, EPOLLIN | EPOLLOUT | EPOLLET, EPOLL_CTL_ADD);
	else
		ep_set(b, c, EPOLLOUT, EPOLL_CTL_ADD);
	return 0;
}

/* Close a connection; |failed| counts it as a failure of its phase. */
static void
conn_finish(struct bench *b, struct conn *c, int failed)
{
	if (c->state == ST_CONNECTING || c->state == ST_HANDSHAKE)
		b->inflight--;
	if (failed) {
		if (c->state == ST_CONNECTING || c->state == ST_HANDSHAKE)
			b->failed++;
		else if (c->state == ST_OPEN && b->phase < P_DRAIN &&
		    c->role != R_HS)
			b->closed_early++;
	}
	if (c->fd != -1) {
		/* close() drops the epoll registration: the fd is not shared. */
		close(c->fd);
		c->fd = -1;
	}
	free(c->head);
	c->head = NULL;
	free(c->out);
	c->out = NULL;
	c->out_len = c->out_off = c->out_cap = 0;
	c->state = ST_DONE;
}

static void
out_append(struct conn *c, const void *p, size_t len)
{
	if (c->out_off > 0 && c->out_off == c->out_len)
		c->out_off = c->out_len = 0;
	if (c->out_len + len > c->out_cap) {
		size_t cap = c->out_cap ? c->out_cap : 4096;

		while (cap < c->out_len + len)
			cap *= 2;
		if ((c->out = realloc(c->out, cap)) == NULL)
			die("out of memory");
		c->out_cap = cap;
	}
	memcpy(c->out + c->out_len, p, len);
	c->out_len += len;
}

/* Write what is queued; one write() per call. */
static void
out_flush(struct bench *b, struct conn *c)
{
	ssize_t n;

	if (c->out_off == c->out_len)
		return;
	n = write(c->fd, c->out + c->out_off, c->out_len - c->out_off);
	if (n == -1 && errno != EAGAIN && errno != EINTR) {
		conn_finish(b, c, 1);
		return;
	}
	if (n > 0)
		c->out_off += (size_t)n;
	if (c->out_off == c->out_len) {
		c->out_off = c->out_len = 0;
		if (c->out_pending) {
			c->out_pending = 0;
			ep_set(b, c, EPOLLIN, EPOLL_CTL_MOD);
		}
	} else if (!c->out_pending) {
		c->out_pending = 1;
		ep_set(b, c, EPOLLIN | EPOLLOUT, EPOLL_CTL_MOD);
	}
}

/* Append one masked client frame. */
static void
ws_frame(struct bench *b, struct conn *c, unsigned op, const uint8_t *p,
    size_t len)
{
	uint8_t hdr[14], *dst;
	uint32_t key = rnd32(b);
	uint8_t k[4];
	size_t n = 0, i;

	hdr[n++] = (uint8_t)(0x80 | op);
	if (len < 126)
		hdr[n++] = (uint8_t)(0x80 | len);
	else if (len < 65536) {
		hdr[n++] = 0x80 | 126;
		hdr[n++] = (uint8_t)(len >> 8);
		hdr[n++] = (uint8_t)len;
	} else {
		hdr[n++] = 0x80 | 127;
		for (i = 0; i < 8; i++)
			hdr[n++] = (uint8_t)((uint64_t)len >> (56 - 8 * i));
	}
	memcpy(k, &key, 4);
	memcpy(hdr + n, k, 4);
	n += 4;
	out_append(c, hdr, n);
	out_append(c, p, len);
	dst = c->out + c->out_len - len;
	for (i = 0; i < len; i++)
		dst[i] ^= k[i & 3];
}

/* ----------------------------------------------------------- handshake */

static void
build_request(struct bench *b, const struct url *u)
{
	uint8_t raw[16];
	char key[32];
	int i;

	for (i = 0; i < 16; i++)
		raw[i] = (uint8_t)rnd32(b);
	base64(raw, 16, key);
	ws_accept(key, b->accept);
	b->request_len = (size_t)snprintf(b->request, sizeof(b->request),
	    "GET %s HTTP/1.1\r\n"
	    "Host: %s\r\n"
	    "Upgrade: websocket\r\n"
	    "Connection: Upgrade\r\n"
	    "Sec-WebSocket-Key: %s\r\n"
	    "Sec-WebSocket-Version: 13\r\n"
	    "%s"
	    "\r\n", u->path, u->hostport, key, b->deflate ?
	    "Sec-WebSocket-Extensions: permessage-deflate\r\n" : "");
}

/*
 * Append bytes to the response head being read. Returns how many bytes of
 * |p| belong to the head once it is complete (its end seen), 0 while more is
 * needed, -1 when it is too long.
 */
static ssize_t
head_feed(struct conn *c, const uint8_t *p, size_t len)
{
	size_t old = c->head_len, take, from, i;

	if (c->head == NULL && (c->head = malloc(HEAD_MAX + 1)) == NULL)
		die("out of memory");
	take = len < HEAD_MAX - old ? len : HEAD_MAX - old;
	memcpy(c->head + old, p, take);
	c->head_len += take;
	from = old >= 3 ? old - 3 : 0;
	for (i = from; i + 4 <= c->head_len; i++)
		if (memcmp(c->head + i, "\r\n\r\n", 4) == 0) {
			c->head_len = i + 4;
			c->head[c->head_len] = '\0';
			return (ssize_t)(i + 4 - old);
		}
	if (c->head_len == HEAD_MAX)
		return -1;
	return 0;
}

/* The value of header |name| in a complete head, or NULL. */
static const char *
head_header(const char *head, const char *name, size_t *vlen)
{
	size_t nl = strlen(name);
	const char *p = strstr(head, "\r\n");

	while (p != NULL && p[2] != '\r') {
		const char *line = p + 2, *eol = strstr(line, "\r\n");

		if (eol == NULL)
			return NULL;
		if ((size_t)(eol - line) > nl && line[nl] == ':' &&
		    strncasecmp(line, name, nl) == 0) {
			const char *v = line + nl + 1;

			while (*v == ' ' || *v == '\t')
				v++;
			*vlen = (size_t)(eol - v);
			while (*vlen > 0 && (v[*vlen - 1] == ' ' || v[*vlen - 1] == '\t'))
				(*vlen)--;
			return v;
		}
		p = eol;
	}
	return NULL;
}

static int
head_status(const char *head)
{
	if (strncmp(head, "HTTP/1.", 7) != 0 || head[8] != ' ')
		return -1;
	return atoi(head + 9);
}

/* Check the 101 response; 0 when the connection is a WebSocket now. */
static int
handshake_check(struct bench *b, struct conn *c)
{
	const char *v;
	size_t vl;
	int st = head_status(c->head);

	if (st != 101) {
		char *eol = strstr(c->head, "\r\n");

		if (eol != NULL)
			*eol = '\0';
		snprintf(b->fail_reason, sizeof(b->fail_reason),
		    "handshake refused: %.100s", c->head);
		return -1;
	}
	v = head_header(c->head, "Sec-WebSocket-Accept", &vl);
	if (v == NULL || vl != strlen(b->accept) || memcmp(v, b->accept, vl) != 0) {
		snprintf(b->fail_reason, sizeof(b->fail_reason),
		    "bad or missing Sec-WebSocket-Accept");
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------- frame parsing */

static size_t
hdr_size(uint8_t b1)
{
	size_t n = 2, l = b1 & 0x7f;

	if (l == 126)
		n += 2;
	else if (l == 127)
		n += 8;
	if (b1 & 0x80)
		n += 4;
	return n;
}

static void
ws_close_send(struct bench *b, struct conn *c, unsigned code)
{
	uint8_t p[2] = { (uint8_t)(code >> 8), (uint8_t)code };

	ws_frame(b, c, 0x8, p, 2);
	out_flush(b, c);
}

/* A frame's payload has all arrived. */
static void
frame_end(struct bench *b, struct conn *c)
{
	c->in_payload = 0;
	switch (c->frame_op) {
	case 0x8:
		b->closes_rx++;
		if (c->state == ST_CLOSING) {
			conn_finish(b, c, 0);
		} else {
			if (c->ctl_have >= 2 && c->role != R_HS)
				snprintf(b->fail_reason, sizeof(b->fail_reason),
				    "server closed a %s connection with %u",
				    c->role == R_PUB ? "publisher" : "subscriber",
				    (unsigned)c->ctl[0] << 8 | c->ctl[1]);
			ws_close_send(b, c, 1000);
			conn_finish(b, c, 1);
		}
		return;
	case 0x9:
		b->pings++;
		ws_frame(b, c, 0xA, c->ctl, c->ctl_have);
		out_flush(b, c);
		return;
	case 0xA:
		return;
	default:
		if (c->frame_fin) {
			c->in_msg = 0;
			on_message(b, c, c->cap, c->cap_have);
		}
	}
}

/* Set up the frame whose header is at |h|; -1 on a protocol error. */
static int
frame_begin(struct bench *b, struct conn *c, const uint8_t *h)
{
	uint64_t len = h[1] & 0x7f;
	unsigned op = h[0] & 0x0f;
	int i;

	/*
	 * With --deflate RSV1 may start a data message. Compressed messages
	 * are counted, not inflated (see on_message()).
	 */
	if (h[1] & 0x80 || (h[0] & 0x70 & ~(b->deflate && (op == 0x1 ||
	    op == 0x2) ? 0x40 : 0))) {
		snprintf(b->fail_reason, sizeof(b->fail_reason),
		    "masked or RSV-flagged server frame");
		return -1;
	}
	if (len == 126)
		len = (uint64_t)h[2] << 8 | h[3];
	else if (len == 127)
		for (len = 0, i = 0; i < 8; i++)
			len = len << 8 | h[2 + i];
	c->frame_op = (uint8_t)op;
	c->frame_fin = (h[0] & 0x80) != 0;
	c->pay_left = len;
	if (op >= 0x8) {
		if (!c->frame_fin || len > CTL_MAX)
			return -1;
		c->ctl_have = 0;
	} else if (op == 0x1 || op == 0x2) {
		if (c->in_msg)
			return -1;
		c->in_msg = !c->frame_fin;
		c->zmsg = (h[0] & 0x40) != 0;
		c->cap_have = 0;
		c->msg_len = len;
	} else if (op == 0x0) {
		if (!c->in_msg)
			return -1;
		c->msg_len += len;
	} else
		return -1;
	if (len == 0)
		frame_end(b, c);
	else
		c->in_payload = 1;
	return 0;
}

static void
ws_feed(struct bench *b, struct conn *c, const uint8_t *p, size_t len)
{
	const uint8_t *end = p + len;

	while (p < end && c->state != ST_DONE) {
		if (!c->in_payload) {
			size_t need;

			/* Fast path: a whole frame in the buffer, read in place. */
			if (c->hdr_have == 0 && end - p >= 2 &&
			    (size_t)(end - p) >= (need = hdr_size(p[1]))) {
				uint64_t l = p[1] & 0x7f;
				unsigned op = p[0] & 0x0f;

				if (l == 126)
					l = (uint64_t)p[2] << 8 | p[3];
				else if (l == 127)
					l = UINT64_MAX;	/* never whole in one read */
				if ((op == 0x1 || op == 0x2) && ((p[0] & 0xf0) == 0x80 ||
				    (b->deflate && (p[0] & 0xf0) == 0xc0)) &&
				    !(p[1] & 0x80) && !c->in_msg &&
				    l <= (uint64_t)(end - p) - need) {
					c->msg_len = l;
					c->zmsg = (p[0] & 0x40) != 0;
					on_message(b, c, p + need,
					    l < PAYLOAD_HDR ? (size_t)l : PAYLOAD_HDR);
					p += need + l;
					continue;
				}
				if (frame_begin(b, c, p) == -1)
					goto error;
				p += need;
				continue;
			}
			c->hdr[c->hdr_have++] = *p++;
			if (c->hdr_have >= 2 && c->hdr_have == hdr_size(c->hdr[1])) {
				c->hdr_have = 0;
				if (frame_begin(b, c, c->hdr) == -1)
					goto error;
			}
			continue;
		}
		{
			size_t avail = (size_t)(end - p), take, n;

			take = c->pay_left < avail ? (size_t)c->pay_left : avail;
			if (c->frame_op >= 0x8) {
				memcpy(c->ctl + c->ctl_have, p, take);
				c->ctl_have = (uint8_t)(c->ctl_have + take);
			} else if (c->cap_have < PAYLOAD_HDR) {
				n = PAYLOAD_HDR - c->cap_have;
				n = n < take ? n : take;
				memcpy(c->cap + c->cap_have, p, n);
				c->cap_have = (uint8_t)(c->cap_have + n);
			}
			p += take;
			c->pay_left -= take;
			if (c->pay_left == 0)
				frame_end(b, c);
		}
	}
	return;
error:
	if (b->fail_reason[0] == '\0')
		snprintf(b->fail_reason, sizeof(b->fail_reason),
		    "protocol error in a server frame");
	ws_close_send(b, c, 1002);
	conn_finish(b, c, 1);
}

/* Responses to pipelined HTTP POSTs: count them, skip bodies. */
static void
http_feed(struct bench *b, struct conn *c, const uint8_t *p, size_t len)
{
	while (len > 0) {
		ssize_t used;
		const char *v;
		size_t vl;
		int st;

		if (c->pay_left > 0) {
			size_t take = c->pay_left < len ? (size_t)c->pay_left : len;

			c->pay_left -= take;
			p += take;
			len -= take;
			continue;
		}
		if ((used = head_feed(c, p, len)) == -1) {
			snprintf(b->fail_reason, sizeof(b->fail_reason),
			    "publisher: response head too long");
			conn_finish(b, c, 1);
			return;
		}
		if (used == 0)
			return;
		p += used;
		len -= (size_t)used;
		st = head_status(c->head);
		b->pub_resp++;
		if (st < 200 || st > 299) {
			if (b->pub_err++ == 0)
				snprintf(b->fail_reason, sizeof(b->fail_reason),
				    "publisher: HTTP status %d", st);
		}
		if (head_header(c->head, "Transfer-Encoding", &vl) != NULL) {
			snprintf(b->fail_reason, sizeof(b->fail_reason),
			    "publisher: chunked responses are not supported");
			conn_finish(b, c, 1);
			return;
		}
		if ((v = head_header(c->head, "Content-Length", &vl)) != NULL)
			c->pay_left = strtoull(v, NULL, 10);
		c->head_len = 0;
	}
}

/* ------------------------------------------------ delivery bookkeeping */

static void
lat_add(struct bench *b, double secs)
{
	double us = secs * 1e6;

	if (us < 0)
		us = 0;
	if (secs > b->lat_max)
		b->lat_max = secs;
	b->lat_n++;
	if (us < LAT_US_BUCKETS)
		b->lat_us[(size_t)us]++;
	else if (us / 1000 < LAT_MS_BUCKETS)
		b->lat_ms[(size_t)(us / 1000)]++;
	else
		b->lat_over++;
}

/* Percentile |q| (0..1) of the latency histogram, in microseconds. */
static double
lat_pct(const struct bench *b, double q)
{
	uint64_t want, acc = 0;
	size_t i;

	if (b->lat_n == 0)
		return 0;
	want = (uint64_t)(q * (double)b->lat_n);
	if (want >= b->lat_n)
		want = b->lat_n - 1;
	for (i = 0; i < LAT_US_BUCKETS; i++)
		if ((acc += b->lat_us[i]) > want)
			return (double)i + 0.5;
	for (i = 0; i < LAT_MS_BUCKETS; i++)
		if ((acc += b->lat_ms[i]) > want)
			return (double)i * 1000 + 500;
	return b->lat_max * 1e6;
}

/* One more subscriber has message |seq| (or has lost it for good). */
static void
complete_one(struct bench *b, uint64_t seq)
{
	if (b->sent - seq > b->ring_mask)
		return;
	if (++b->ring[seq & b->ring_mask] == (uint32_t)b->nconns) {
		b->ring[seq & b->ring_mask] = 0;
		b->outstanding--;
		b->completed++;
		b->last_progress = b->now;
	}
}

/*
 * A whole data message arrived on |c|; |first| holds its first bytes (up to
 * PAYLOAD_HDR). Checks size, format and order.
 */
static void
on_message(struct bench *b, struct conn *c, const uint8_t *first, size_t flen)
{
	uint64_t seq, ts, s, k;
	int self = c->role == R_PUB;

	if (c->role == R_IDLE || c->role == R_HS)
		return;
	if (self)
		b->pub_rx++;
	/*
	 * A compressed message is not inflated, which would make the load
	 * generator the bottleneck: a subscriber's messages arrive in order
	 * and without loss unless the daemon drops (counted by the daemon),
	 * so it is the next sequence number. No latency is taken from it.
	 */
	if (c->zmsg) {
		c->zmsg = 0;
		seq = c->expect;
		ts = 0;
		if (seq >= b->sent) {
			c->bad++;
			return;
		}
	} else if (c->msg_len != b->size || flen < PAYLOAD_HDR ||
	    unhex16(first, &seq) == -1 || unhex16(first + 16, &ts) == -1 ||
	    seq >= b->sent) {
		if (self)
			b->pub_bad++;
		else
			c->bad++;
		return;
	}
	c->delivered++;
	if (seq == c->expect) {
		c->seen = c->seen << 1 | 1;
		c->expect++;
	} else if (seq > c->expect) {
		uint64_t gap = seq - c->expect;

		c->lost += gap;
		if (!self)
			for (s = c->expect; s < seq; s++)
				complete_one(b, s);
		c->seen = gap + 1 >= 64 ? 1 : (c->seen << (gap + 1)) | 1;
		c->expect = seq + 1;
	} else {
		k = c->expect - 1 - seq;
		if (k < 64 && (c->seen >> k & 1)) {
			c->dup++;
			return;
		}
		c->reord++;
		if (c->lost > 0)
			c->lost--;
		if (k < 64)
			c->seen |= (uint64_t)1 << k;
		return;
	}
	if (self)
		return;
	b->delivered++;
	complete_one(b, seq);
	if (b->mode == M_LATENCY && b->t_measure0 > 0 &&
	    (double)ts / 1e9 >= b->t_measure0 &&
	    (b->t_measure1 == 0 || (double)ts / 1e9 < b->t_measure1))
		lat_add(b, b->now - (double)ts / 1e9);
}

/* ----------------------------------------------------------- publishing */

static void
publish(struct bench *b, long count)
{
	struct conn *c = b->pc;
	uint8_t *msg;
	char head[256];
	uint64_t now;
	size_t hl = 0;
	long i;

	if (count <= 0 || c == NULL || c->state != ST_OPEN)
		return;
	if ((uint64_t)count > b->ring_mask - b->outstanding)
		count = (long)(b->ring_mask - b->outstanding);
	if (count <= 0)
		return;
	msg = b->rbuf + RBUF_SIZE;	/* scratch space after the read buffer */
	memset(msg + PAYLOAD_HDR, '.', b->size - PAYLOAD_HDR);
	if (c->http)
		hl = (size_t)snprintf(head, sizeof(head),
		    "POST %s HTTP/1.1\r\nHost: %s\r\n"
		    "Content-Type: text/plain\r\nContent-Length: %zu\r\n\r\n",
		    b->pub.path, b->pub.hostport, b->size);
	now = mono_ns();
	for (i = 0; i < count; i++) {
		hex16((char *)msg, b->sent);
		hex16((char *)msg + 16, now);
		if (c->http) {
			out_append(c, head, hl);
			out_append(c, msg, b->size);
		} else
			ws_frame(b, c, 0x1, msg, b->size);
		b->sent++;
		b->outstanding++;
	}
	out_flush(b, c);
}

/* ------------------------------------------------------------ I/O events */

static void
on_connected(struct bench *b, struct conn *c)
{
	int err = 0;
	socklen_t el = sizeof(err);
	ssize_t n;

	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el) == -1 || err != 0) {
		snprintf(b->fail_reason, sizeof(b->fail_reason), "connect: %s",
		    strerror(err != 0 ? err : errno));
		conn_finish(b, c, 1);
		return;
	}
	if (c->http) {
		/* An HTTP publisher has no handshake. */
		c->state = ST_OPEN;
		b->inflight--;
		b->opened++;
		ep_set(b, c, EPOLLIN, EPOLL_CTL_MOD);
		return;
	}
	n = write(c->fd, b->request, b->request_len);
	if (n != (ssize_t)b->request_len) {
		snprintf(b->fail_reason, sizeof(b->fail_reason),
		    "writing the upgrade request failed");
		conn_finish(b, c, 1);
		return;
	}
	c->state = ST_HANDSHAKE;
	if (c->role != R_HS)
		ep_set(b, c, EPOLLIN, EPOLL_CTL_MOD);
}

static void
on_open(struct bench *b, struct conn *c)
{
	free(c->head);
	c->head = NULL;
	c->head_len = 0;
	c->state = ST_OPEN;
	b->inflight--;
	b->opened++;
	if (c->role == R_HS) {
		b->hs_done++;
		c->state = ST_CLOSING;
		ws_close_send(b, c, 1000);
	}
}

static void
on_readable(struct bench *b, struct conn *c)
{
	ssize_t n, used;

	n = read(c->fd, b->rbuf, RBUF_SIZE);
	if (n <= 0) {
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			return;
		if (c->state == ST_CLOSING) {
			conn_finish(b, c, 0);
			return;
		}
		if (b->fail_reason[0] == '\0')
			snprintf(b->fail_reason, sizeof(b->fail_reason),
			    "server closed a %s connection (%s)",
			    c->role == R_PUB ? "publisher" : "subscriber",
			    n == 0 ? "EOF" : strerror(errno));
		conn_finish(b, c, 1);
		return;
	}
	b->now = mono();
	if (c->state == ST_HANDSHAKE) {
		if ((used = head_feed(c, b->rbuf, (size_t)n)) == -1) {
			snprintf(b->fail_reason, sizeof(b->fail_reason),
			    "handshake response too long");
			conn_finish(b, c, 1);
			return;
		}
		if (used == 0)
			return;
		if (handshake_check(b, c) == -1) {
			conn_finish(b, c, 1);
			return;
		}
		on_open(b, c);
		if (n > used)
			ws_feed(b, c, b->rbuf + used, (size_t)(n - used));
		return;
	}
	if (c->http)
		http_feed(b, c, b->rbuf, (size_t)n);
	else
		ws_feed(b, c, b->rbuf, (size_t)n);
}

static void
on_event(struct bench *b, struct conn *c, uint32_t ev)
{
	if (c->state == ST_CONNECTING) {
		if (ev & (EPOLLOUT | EPOLLERR | EPOLLHUP))
			on_connected(b, c);
		if (c->role != R_HS || c->state != ST_HANDSHAKE ||
		    !(ev & EPOLLIN))
			return;
	}
	if (ev & EPOLLOUT && c->out_len > c->out_off)
		out_flush(b, c);
	if (c->state != ST_DONE && ev & (EPOLLIN | EPOLLERR | EPOLLHUP))
		on_readable(b, c);
}

/* One turn: wait at most |ms| and handle what is ready. */
static void
loop_once(struct bench *b, struct epoll_event *evs, int ms)
{
	int n, i;

	n = epoll_wait(b->ep, evs, EVENTS_MAX, ms);
	if (n == -1 && errno != EINTR)
		die("epoll_wait: %s", strerror(errno));
	b->now = mono();
	for (i = 0; i < n; i++) {
		struct conn *c = &b->conns[evs[i].data.u64];

		if (c->state != ST_DONE && c->state != ST_FREE)
			on_event(b, c, evs[i].events);
	}
	b->now = mono();
}

/* Keep up to b->concurrency connections in connect/handshake. */
static void
start_more(struct bench *b, long upto, const struct url *u, int role)
{
	while (b->next_start < upto && b->inflight < b->concurrency) {
		struct conn *c = &b->conns[b->next_start++];

		conn_start(b, c, u, role);
	}
}

static void
bench_init(struct bench *b, long slots)
{
	struct sigaction sa;

	b->ep = epoll_create1(EPOLL_CLOEXEC);
	if (b->ep == -1)
		die("epoll_create1: %s", strerror(errno));
	/* The read buffer, then scratch space for one outgoing payload. */
	b->rbuf = xcalloc(1, RBUF_SIZE + b->size + 64);
	b->nslots = slots;
	b->conns = xcalloc((size_t)slots, sizeof(*b->conns));
	for (long i = 0; i < slots; i++)
		b->conns[i].fd = -1;
	b->mask_state = (uint32_t)mono_ns() ^ (uint32_t)getpid() << 16 ^ 0x9e3779b9u;
	if (b->mask_state == 0)
		b->mask_state = 1;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sigaction(SIGALRM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	alarm((unsigned)b->limit + 1);
	b->now = mono();
}

/* Connect every slot below |upto|; returns 0 when all are open. */
static int
connect_all(struct bench *b, long upto, const struct url *u, int role,
    double timeout)
{
	struct epoll_event evs[EVENTS_MAX];
	double t0 = mono();

	while (b->opened + b->failed < upto) {
		start_more(b, upto, u, role);
		loop_once(b, evs, 50);
		if (b->failed > 0 && b->mode != M_IDLE)
			return -1;
		if (b->now - t0 > timeout) {
			snprintf(b->fail_reason, sizeof(b->fail_reason),
			    "connecting took longer than %.0f s (%ld of %ld open)",
			    timeout, b->opened, upto);
			return -1;
		}
	}
	return b->failed > 0 ? -1 : 0;
}

/* ------------------------------------------------------------ reporting */

static void
json_str(const char *k, const char *v)
{
	printf("\"%s\": \"", k);
	for (; *v != '\0'; v++) {
		if (*v == '"' || *v == '\\')
			putchar('\\');
		putchar((unsigned char)*v < 0x20 ? ' ' : *v);
	}
	printf("\"");
}

/*
 * Totals over the subscribers. |lost| counts gaps (a later message arrived,
 * an earlier one never did); |undelivered| counts messages still missing at
 * the end, after the drain period (a backlog, or lost at the tail).
 */
static void
sum_errors(struct bench *b, uint64_t *lost, uint64_t *undelivered,
    uint64_t *dup, uint64_t *reord, uint64_t *bad)
{
	long i;

	*lost = *undelivered = *dup = *reord = *bad = 0;
	for (i = 0; i < b->nconns; i++) {
		struct conn *c = &b->conns[i];

		*lost += c->lost;
		*undelivered += b->sent > c->expect ? b->sent - c->expect : 0;
		*dup += c->dup;
		*reord += c->reord;
		*bad += c->bad;
	}
}

static void
report_flow(struct bench *b)
{
	double secs = b->t_measure1 - b->t_measure0;
	double dps, pps, mbs, dcpu = -1, scpu;
	uint64_t lost, undel, dup, reord, bad, d = b->deliv_m1 - b->deliv_m0;
	uint64_t self_err = 0;
	int ok;

	sum_errors(b, &lost, &undel, &dup, &reord, &bad);
	/* The publisher's own copies (wshubd's pubsub echoes them) are checked too. */
	if (b->pc != NULL && b->pub_rx > b->pub_bad)
		self_err = b->pc->lost + b->pc->dup + b->pc->reord +
		    (b->sent > b->pc->expect ? b->sent - b->pc->expect : 0);
	if (secs <= 0)
		secs = 1e-9;
	dps = (double)d / secs;
	pps = (double)(b->sent_m1 - b->sent_m0) / secs;
	mbs = dps * (double)b->size / 1e6;
	if (b->cpu0 >= 0 && b->cpu1 >= 0)
		dcpu = (b->cpu1 - b->cpu0) / secs * 100;
	scpu = self_cpu(&b->ru0, &b->ru1) / secs * 100;
	ok = lost == 0 && undel == 0 && dup == 0 && reord == 0 && bad == 0 &&
	    !b->stalled &&
	    b->closed_early == 0 && b->failed == 0 && b->pub_err == 0 &&
	    self_err == 0;
	if (b->json) {
		printf("{\"mode\": \"%s\", \"ok\": %s, ",
		    b->mode == M_FANOUT ? "fanout" : "latency", ok ? "true" : "false");
		if (b->label)
			json_str("label", b->label), printf(", ");
		printf("\"subscribers\": %ld, \"size\": %zu, \"window\": %ld, "
		    "\"rate\": %.0f, \"seconds\": %.3f, \"published\": %" PRIu64 ", "
		    "\"deliveries\": %" PRIu64 ", \"msgs_per_s\": %.1f, "
		    "\"pub_per_s\": %.1f, \"mb_per_s\": %.2f, "
		    "\"lost\": %" PRIu64 ", \"undelivered\": %" PRIu64 ", "
		    "\"dup\": %" PRIu64 ", \"reordered\": %" PRIu64
		    ", \"bad\": %" PRIu64 ", \"closed\": %ld, \"stalled\": %s, "
		    "\"pub_self_rx\": %" PRIu64 ", \"pub_self_errors\": %" PRIu64
		    ", \"pub_other_rx\": %" PRIu64 ", "
		    "\"pub_http_errors\": %" PRIu64 ", "
		    "\"daemon_cpu_pct\": %.1f, \"daemon_rss_kb\": %ld, "
		    "\"client_cpu_pct\": %.1f",
		    b->nconns, b->size, b->window, b->rate, secs, b->sent, d, dps,
		    pps, mbs, lost, undel, dup, reord, bad, b->closed_early,
		    b->stalled ? "true" : "false", b->pub_rx - b->pub_bad,
		    self_err, b->pub_bad, b->pub_err, dcpu, b->rss_kb, scpu);
		if (b->mode == M_LATENCY)
			printf(", \"samples\": %" PRIu64 ", \"p50_us\": %.1f, "
			    "\"p90_us\": %.1f, \"p99_us\": %.1f, \"p999_us\": %.1f, "
			    "\"max_us\": %.1f", b->lat_n, lat_pct(b, 0.5),
			    lat_pct(b, 0.9), lat_pct(b, 0.99), lat_pct(b, 0.999),
			    b->lat_max * 1e6);
		printf(", ");
		json_str("error", b->fail_reason);
		printf("}\n");
	} else {
		printf("%s: %ld subscribers, %zu-byte messages, ",
		    b->mode == M_FANOUT ? "fanout" : "latency", b->nconns, b->size);
		if (b->mode == M_FANOUT)
			printf("window %ld\n", b->window);
		else
			printf("%.0f msg/s\n", b->rate);
		printf("  measured %.2f s: %" PRIu64 " published (%.0f/s), %"
		    PRIu64 " delivered\n", secs, b->sent_m1 - b->sent_m0, pps, d);
		printf("  deliveries: %.0f msg/s, %.2f MB/s payload\n", dps, mbs);
		if (b->mode == M_LATENCY)
			printf("  latency (us, %" PRIu64 " samples): p50 %.0f  p90 %.0f"
			    "  p99 %.0f  p99.9 %.0f  max %.0f\n", b->lat_n,
			    lat_pct(b, 0.5), lat_pct(b, 0.9), lat_pct(b, 0.99),
			    lat_pct(b, 0.999), b->lat_max * 1e6);
		printf("  lost %" PRIu64 ", undelivered at end %" PRIu64
		    ", duplicated %" PRIu64 ", reordered %" PRIu64 ", malformed %"
		    PRIu64 ", closed early %ld%s\n", lost, undel, dup, reord, bad,
		    b->closed_early, b->stalled ? ", STALLED" : "");
		if (b->pub_rx > 0)
			printf("  publisher received %" PRIu64 " copies of its own "
			    "messages (%" PRIu64 " lost/dup/reordered), %" PRIu64
			    " other messages\n", b->pub_rx - b->pub_bad, self_err,
			    b->pub_bad);
		if (b->pub_resp > 0)
			printf("  publisher: %" PRIu64 " HTTP responses, %" PRIu64
			    " not 2xx\n", b->pub_resp, b->pub_err);
		if (dcpu >= 0)
			printf("  daemon pid %d: CPU %.1f%%, RSS %ld kB\n",
			    (int)b->pid, dcpu, b->rss_kb);
		printf("  wshbench CPU %.1f%%\n", scpu);
		if (b->fail_reason[0] != '\0')
			printf("  problem: %s\n", b->fail_reason);
		printf("%s\n", ok ? "OK" : "FAILED");
	}
	fflush(stdout);
}

static void
report_failure(struct bench *b, const char *mode)
{
	if (b->json) {
		printf("{\"mode\": \"%s\", \"ok\": false, ", mode);
		json_str("error", b->fail_reason[0] ? b->fail_reason : "failed");
		printf(", \"opened\": %ld, \"failed\": %ld}\n", b->opened, b->failed);
	} else
		printf("%s: FAILED: %s (%ld open, %ld failed)\n", mode,
		    b->fail_reason[0] ? b->fail_reason : "failed", b->opened,
		    b->failed);
	fflush(stdout);
}

/* ------------------------------------------------------- fanout, latency */

static int
run_flow(struct bench *b)
{
	struct epoll_event evs[EVENTS_MAX];
	long ring = RING_MIN;
	int ms;

	if (!b->have_pub)
		die("fanout and latency need --pub-url or --pub-http");
	if (b->size < PAYLOAD_HDR)
		die("message size must be at least %d bytes", PAYLOAD_HDR);
	if (b->nconns > PROC_CONNS_MAX + 800)
		die("at most %d subscribers in one process", PROC_CONNS_MAX + 800);
	while (ring < 4 * b->window)
		ring *= 2;
	if (b->mode == M_LATENCY)
		ring = 1 << 20;
	b->ring = xcalloc((size_t)ring, sizeof(*b->ring));
	b->ring_mask = (uint64_t)ring - 1;
	if (b->mode == M_LATENCY) {
		b->lat_us = xcalloc(LAT_US_BUCKETS, sizeof(*b->lat_us));
		b->lat_ms = xcalloc(LAT_MS_BUCKETS, sizeof(*b->lat_ms));
	}
	bench_init(b, b->nconns + 1);
	build_request(b, &b->sub);

	/* Subscribers first, then the publisher (slot nconns). */
	if (connect_all(b, b->nconns, &b->sub, R_SUB, 60) == -1) {
		report_failure(b, b->mode == M_FANOUT ? "fanout" : "latency");
		return 1;
	}
	if (b->pub.ws)
		build_request(b, &b->pub);
	b->pc = &b->conns[b->nconns];
	b->concurrency = 1;
	if (connect_all(b, b->nconns + 1, &b->pub, R_PUB, 10) == -1) {
		report_failure(b, b->mode == M_FANOUT ? "fanout" : "latency");
		return 1;
	}

	b->phase = P_SETTLE;
	b->t_phase = b->now;
	b->last_progress = b->now;
	for (;;) {
		double t = b->now;

		switch (b->phase) {
		case P_SETTLE:
			/* Let subscriptions take effect before the first publish. */
			if (t - b->t_phase >= 0.3) {
				b->phase = P_WARMUP;
				b->t_phase = b->t_pub0 = t;
				b->last_progress = t;
			}
			break;
		case P_WARMUP:
			if (t - b->t_phase >= b->warmup) {
				b->phase = P_MEASURE;
				b->t_phase = b->t_measure0 = t;
				b->deliv_m0 = b->delivered;
				b->sent_m0 = b->sent;
				b->cpu0 = proc_cpu(b->pid);
				getrusage(RUSAGE_SELF, &b->ru0);
			}
			break;
		case P_MEASURE:
			if (t - b->t_phase >= b->duration) {
				b->phase = P_DRAIN;
				b->t_phase = b->t_measure1 = t;
				b->deliv_m1 = b->delivered;
				b->sent_m1 = b->sent;
				b->cpu1 = proc_cpu(b->pid);
				b->rss_kb = proc_rss_kb(b->pid);
				getrusage(RUSAGE_SELF, &b->ru1);
			}
			break;
		case P_DRAIN:
			/*
			 * Wait for the messages still in flight. A fan-out
			 * window drains as long as messages keep completing (a
			 * slow server may need many seconds for 64 messages to
			 * 10 000 subscribers); a fixed-rate run gets 5 s, after
			 * which what is missing is a backlog: overload.
			 */
			/*
			 * The publisher's own copies (wshubd's pubsub sends
			 * them, possibly last in a round) count as in flight.
			 */
			if (b->outstanding == 0 && (b->pc == NULL ||
			    b->pub_rx <= b->pub_bad ||
			    b->pc->expect >= b->sent))
				b->phase = P_END;
			else if ((b->mode == M_LATENCY && t - b->t_phase >= 5.0) ||
			    t - b->last_progress >= STALL_SECS ||
			    t - b->t_phase >= DRAIN_MAX_SECS) {
				b->stalled = 1;
				b->phase = P_END;
			}
			break;
		default:
			break;
		}
		if (b->phase == P_END)
			break;
		if (b->pc->state == ST_DONE || b->closed_early > 0) {
			if (b->t_measure1 == 0) {
				b->t_measure1 = t;
				b->deliv_m1 = b->delivered;
				b->sent_m1 = b->sent;
				b->cpu1 = proc_cpu(b->pid);
				getrusage(RUSAGE_SELF, &b->ru1);
			}
			break;
		}
		/*
		 * A window that does not move means a message that never
		 * completes. At a fixed rate a backlog is not a stall: the
		 * publisher keeps its schedule and the drain shows the rest.
		 */
		if (b->mode == M_FANOUT && b->outstanding > 0 &&
		    t - b->last_progress > STALL_SECS && b->phase != P_DRAIN) {
			b->stalled = 1;
			snprintf(b->fail_reason, sizeof(b->fail_reason),
			    "no message completed for %.0f s (%" PRIu64
			    " outstanding)", STALL_SECS, b->outstanding);
			b->phase = P_DRAIN;
			b->t_phase = b->t_measure1 = t;
			b->deliv_m1 = b->delivered;
			b->sent_m1 = b->sent;
			b->cpu1 = proc_cpu(b->pid);
			getrusage(RUSAGE_SELF, &b->ru1);
			continue;
		}

		ms = 100;
		if (b->phase == P_WARMUP || b->phase == P_MEASURE) {
			if (b->mode == M_FANOUT) {
				if (b->pc->out_off == b->pc->out_len &&
				    b->outstanding < (uint64_t)b->window)
					publish(b, b->window - (long)b->outstanding);
			} else {
				double due = (t - b->t_pub0) * b->rate;
				long n = (long)due - (long)b->sent;

				if (n > 0)
					publish(b, n > 1000 ? 1000 : n);
				/* Sleep until the next send is due, rounded up. */
				ms = (int)ceil(((double)(b->sent + 1) / b->rate +
				    b->t_pub0 - mono()) * 1000);
				if (ms < 0)
					ms = 0;
				if (ms > 100)
					ms = 100;
			}
		}
		if (b->mode == M_FANOUT && b->outstanding >= (uint64_t)b->window)
			ms = 100;
		loop_once(b, evs, ms);
	}
	report_flow(b);
	return 0;
}

/* ------------------------------------------------------------------ idle */

/* One idle worker: open |n| connections, report, hold until told or timed out. */
static void
idle_worker(struct bench *b, long n, int wfd, int rfd)
{
	struct epoll_event evs[EVENTS_MAX], ev;
	char line[256];
	double t0;
	int len;

	b->nconns = n;
	bench_init(b, n + 1);
	build_request(b, &b->sub);
	connect_all(b, n, &b->sub, R_IDLE, 60);
	len = snprintf(line, sizeof(line), "%ld %ld %s\n", b->opened, b->failed,
	    b->fail_reason[0] ? b->fail_reason : "-");
	if (write(wfd, line, (size_t)len) != len)
		_exit(1);
	/* Slot n watches the control pipe: EOF means close everything. */
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.u64 = (uint64_t)n;
	b->conns[n].fd = rfd;
	b->conns[n].state = ST_FREE;
	epoll_ctl(b->ep, EPOLL_CTL_ADD, rfd, &ev);
	t0 = mono();
	while (mono() - t0 < b->limit) {
		int k, i, quit = 0;

		k = epoll_wait(b->ep, evs, EVENTS_MAX, 200);
		b->now = mono();
		for (i = 0; i < k; i++) {
			if (evs[i].data.u64 == (uint64_t)n) {
				quit = 1;
				continue;
			}
			struct conn *c = &b->conns[evs[i].data.u64];
			if (c->state != ST_DONE)
				on_event(b, c, evs[i].events);
		}
		if (quit)
			break;
	}
	_exit(0);
}

static int
run_idle(struct bench *b)
{
	int procs = b->procs, i, ok = 1;
	long per, opened = 0, failed = 0, rss0, rss1, rest;
	pid_t kids[64];
	int rpipe[64], cpipe[64];
	char reason[200] = "";
	double t0, bytes;

	if (procs <= 0)
		procs = (int)((b->nconns + PROC_CONNS_MAX - 1) / PROC_CONNS_MAX);
	if (procs < 1)
		procs = 1;
	if (procs > 64)
		die("at most 64 worker processes");
	if ((b->nconns + procs - 1) / procs > PROC_CONNS_MAX)
		die("at most %d connections per worker process", PROC_CONNS_MAX);
	signal(SIGPIPE, SIG_IGN);
	{
		struct sigaction sa;

		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_alarm;
		sigaction(SIGALRM, &sa, NULL);
		alarm((unsigned)b->limit + 30);
	}
	rss0 = proc_rss_kb(b->pid);
	rest = b->nconns;
	for (i = 0; i < procs; i++) {
		int rp[2], cp[2];

		per = rest / (procs - i);
		rest -= per;
		if (pipe2(rp, O_CLOEXEC) == -1 || pipe2(cp, O_CLOEXEC) == -1)
			die("pipe: %s", strerror(errno));
		fflush(stdout);
		if ((kids[i] = fork()) == -1)
			die("fork: %s", strerror(errno));
		if (kids[i] == 0) {
			close(rp[0]);
			close(cp[1]);
			for (int j = 0; j < i; j++) {
				close(rpipe[j]);
				close(cpipe[j]);
			}
			idle_worker(b, per, rp[1], cp[0]);
		}
		close(rp[1]);
		close(cp[0]);
		rpipe[i] = rp[0];
		cpipe[i] = cp[1];
	}
	t0 = mono();
	for (i = 0; i < procs; i++) {
		char line[256];
		ssize_t n = read(rpipe[i], line, sizeof(line) - 1);
		long o = 0, f = 0;
		char r[200];

		if (n <= 0) {
			ok = 0;
			snprintf(reason, sizeof(reason), "worker %d died", i);
			continue;
		}
		line[n] = '\0';
		r[0] = '\0';
		if (sscanf(line, "%ld %ld %199[^\n]", &o, &f, r) >= 2) {
			opened += o;
			failed += f;
			if (f > 0 && reason[0] == '\0')
				snprintf(reason, sizeof(reason), "%s", r);
		}
	}
	/* Let the daemon settle (deferred frees, timers) before reading RSS. */
	sleep_secs(b->hold / 2);
	rss1 = proc_rss_kb(b->pid);
	sleep_secs(b->hold / 2);
	for (i = 0; i < procs; i++)
		close(cpipe[i]);
	for (i = 0; i < procs; i++) {
		int st;

		if (waitpid(kids[i], &st, 0) == -1 || !WIFEXITED(st) ||
		    WEXITSTATUS(st) != 0)
			ok = 0;
		close(rpipe[i]);
	}
	if (failed > 0 || opened != b->nconns)
		ok = 0;
	bytes = opened > 0 && rss0 >= 0 && rss1 >= 0 ?
	    (double)(rss1 - rss0) * 1024 / (double)opened : -1;
	if (b->json) {
		printf("{\"mode\": \"idle\", \"ok\": %s, ", ok ? "true" : "false");
		if (b->label)
			json_str("label", b->label), printf(", ");
		printf("\"conns\": %ld, \"opened\": %ld, \"failed\": %ld, "
		    "\"procs\": %d, \"connect_secs\": %.2f, \"rss_before_kb\": %ld, "
		    "\"rss_after_kb\": %ld, \"bytes_per_conn\": %.0f, ",
		    b->nconns, opened, failed, procs, mono() - t0, rss0, rss1, bytes);
		json_str("error", reason);
		printf("}\n");
	} else {
		printf("idle: %ld connections (%d processes): %ld open, %ld failed\n",
		    b->nconns, procs, opened, failed);
		printf("  daemon RSS %ld kB -> %ld kB: %.0f bytes per connection\n",
		    rss0, rss1, bytes);
		if (reason[0] != '\0')
			printf("  problem: %s\n", reason);
		printf("%s\n", ok ? "OK" : "FAILED");
	}
	fflush(stdout);
	return ok ? 0 : 1;
}

/* ------------------------------------------------------------ handshakes */

static int
run_handshakes(struct bench *b)
{
	struct epoll_event evs[EVENTS_MAX];
	double t0, secs, dcpu = -1, scpu;
	long i;
	int measuring = 0, done = 0, ok;

	b->nconns = b->concurrency;
	bench_init(b, b->concurrency);
	build_request(b, &b->sub);
	t0 = b->now;
	while (!done) {
		double t = b->now - t0;

		if (!measuring && t >= b->warmup) {
			measuring = 1;
			b->hs_m0 = b->hs_done;
			b->t_measure0 = b->now;
			b->cpu0 = proc_cpu(b->pid);
			getrusage(RUSAGE_SELF, &b->ru0);
		}
		if (measuring && t >= b->warmup + b->duration) {
			b->hs_m1 = b->hs_done;
			b->t_measure1 = b->now;
			b->cpu1 = proc_cpu(b->pid);
			getrusage(RUSAGE_SELF, &b->ru1);
			done = 1;
			break;
		}
		for (i = 0; i < b->nslots; i++) {
			struct conn *c = &b->conns[i];

			if (c->state == ST_CLOSING && b->now - c->started > 5) {
				/* The server never answered our close. */
				conn_finish(b, c, 0);
			}
			if (c->state == ST_FREE || c->state == ST_DONE)
				conn_start(b, c, &b->sub, R_HS);
		}
		if (b->failed > 1000 && b->hs_done == 0)
			break;
		loop_once(b, evs, 50);
	}
	secs = b->t_measure1 - b->t_measure0;
	if (secs <= 0)
		secs = 1e-9;
	if (b->cpu0 >= 0 && b->cpu1 >= 0)
		dcpu = (b->cpu1 - b->cpu0) / secs * 100;
	scpu = self_cpu(&b->ru0, &b->ru1) / secs * 100;
	ok = done && b->failed == 0;
	if (b->json) {
		printf("{\"mode\": \"handshakes\", \"ok\": %s, ", ok ? "true" : "false");
		if (b->label)
			json_str("label", b->label), printf(", ");
		printf("\"concurrency\": %ld, \"seconds\": %.3f, \"handshakes\": %"
		    PRIu64 ", \"hs_per_s\": %.1f, \"failed\": %ld, "
		    "\"daemon_cpu_pct\": %.1f, \"client_cpu_pct\": %.1f, "
		    "\"hs_per_daemon_cpu_s\": %.1f, ",
		    b->concurrency, secs, b->hs_m1 - b->hs_m0,
		    (double)(b->hs_m1 - b->hs_m0) / secs, b->failed, dcpu, scpu,
		    dcpu > 0 ? (double)(b->hs_m1 - b->hs_m0) / secs / (dcpu / 100) : -1);
		json_str("error", b->fail_reason);
		printf("}\n");
	} else {
		printf("handshakes: %ld in flight, %.2f s: %" PRIu64 " handshakes, "
		    "%.0f/s, %ld failed\n", b->concurrency, secs,
		    b->hs_m1 - b->hs_m0, (double)(b->hs_m1 - b->hs_m0) / secs,
		    b->failed);
		if (dcpu >= 0)
			printf("  daemon CPU %.1f%%\n", dcpu);
		printf("  wshbench CPU %.1f%%\n", scpu);
		if (b->fail_reason[0] != '\0')
			printf("  problem: %s\n", b->fail_reason);
		printf("%s\n", ok ? "OK" : "FAILED");
	}
	fflush(stdout);
	return ok ? 0 : 1;
}

/* ------------------------------------------------------------- selftest */

static int
run_selftest(void)
{
	char acc[32];
	uint8_t d[20];
	char hex[41];
	int i, bad = 0;

	ws_accept("dGhlIHNhbXBsZSBub25jZQ==", acc);
	if (strcmp(acc, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") != 0)
		bad = 1, printf("accept: %s\n", acc);
	sha1((const uint8_t *)"abc", 3, d);
	for (i = 0; i < 20; i++)
		sprintf(hex + 2 * i, "%02x", d[i]);
	if (strcmp(hex, "a9993e364706816aba3e25717850c26c9cd0d89d") != 0)
		bad = 1, printf("sha1(abc): %s\n", hex);
	sha1((const uint8_t *)
	    "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56, d);
	for (i = 0; i < 20; i++)
		sprintf(hex + 2 * i, "%02x", d[i]);
	if (strcmp(hex, "84983e441c3bd26ebaae4aa1f95129e5e54670f1") != 0)
		bad = 1, printf("sha1(448 bits): %s\n", hex);
	printf("%s\n", bad ? "selftest FAILED" : "selftest OK");
	return bad;
}

/* ------------------------------------------------------------------ main */

static void
usage(void)
{
	fprintf(stderr,
"usage: wshbench MODE [options]\n"
"modes:\n"
"  fanout      -n subscribers, one publisher, window -w, -d seconds\n"
"  latency     -n subscribers, --rate msg/s, -d seconds\n"
"  idle        -n idle connections; daemon RSS per connection (--pid)\n"
"  handshakes  -c connections in flight, -d seconds\n"
"  selftest    check SHA-1 and Sec-WebSocket-Accept\n"
"options:\n"
"  --sub-url ws://127.0.0.1:P/path   subscribers (and idle/handshake) URL\n"
"  --pub-url ws://127.0.0.1:P/path   WebSocket publisher\n"
"  --pub-http http://127.0.0.1:P/p   HTTP POST publisher (pipelined)\n"
"  -n N          connections (subscribers)        [1000]\n"
"  -s BYTES      message size, >= 32              [64]\n"
"  -w W          messages in flight (fanout)      [64]\n"
"  -d SECS       measured duration                [5]\n"
"  --warmup SECS before measuring                 [1]\n"
"  --rate R      messages per second (latency)    [1000]\n"
"  -c C          connections in flight while connecting / handshakes [256]\n"
"  --procs P     idle: worker processes (default: N/%d rounded up)\n"
"  --hold SECS   idle: time connections stay open after all are up [2]\n"
"  --pid PID     the daemon's process, for CPU%% and RSS\n"
"  --no-spread   connect from 127.0.0.1 only (default: 127.0.0.2-250)\n"
"  --limit SECS  hard time limit (default: warmup + duration + hold + 150)\n"
"  --label TEXT  copied into the JSON line\n"
"  --json        one JSON line instead of text\n"
"  --deflate     offer permessage-deflate; compressed messages are counted\n"
"                in order, not inflated\n", PROC_CONNS_MAX);
	exit(2);
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "sub-url", required_argument, NULL, 'S' },
		{ "pub-url", required_argument, NULL, 'P' },
		{ "pub-http", required_argument, NULL, 'H' },
		{ "conns", required_argument, NULL, 'n' },
		{ "size", required_argument, NULL, 's' },
		{ "window", required_argument, NULL, 'w' },
		{ "duration", required_argument, NULL, 'd' },
		{ "warmup", required_argument, NULL, 'W' },
		{ "rate", required_argument, NULL, 'r' },
		{ "concurrency", required_argument, NULL, 'c' },
		{ "procs", required_argument, NULL, 'p' },
		{ "hold", required_argument, NULL, 'h' },
		{ "pid", required_argument, NULL, 'i' },
		{ "no-spread", no_argument, NULL, 'x' },
		{ "limit", required_argument, NULL, 'l' },
		{ "label", required_argument, NULL, 'L' },
		{ "json", no_argument, NULL, 'j' },
		{ "deflate", no_argument, NULL, 'z' },
		{ NULL, 0, NULL, 0 }
	};
	struct bench b;
	const char *m;
	int ch;

	memset(&b, 0, sizeof(b));
	g_bench = &b;
	b.nconns = 1000;
	b.size = 64;
	b.window = 64;
	b.duration = 5;
	b.warmup = 1;
	b.rate = 1000;
	b.concurrency = 256;
	b.hold = 2;
	b.spread = 1;
	b.cpu0 = b.cpu1 = -1;
	b.rss_kb = -1;
	if (argc < 2)
		usage();
	m = argv[1];
	if (strcmp(m, "fanout") == 0)
		b.mode = M_FANOUT;
	else if (strcmp(m, "latency") == 0)
		b.mode = M_LATENCY;
	else if (strcmp(m, "idle") == 0)
		b.mode = M_IDLE;
	else if (strcmp(m, "handshakes") == 0)
		b.mode = M_HANDSHAKES;
	else if (strcmp(m, "selftest") == 0)
		return run_selftest();
	else
		usage();
	optind = 2;
	while ((ch = getopt_long(argc, argv, "n:s:w:d:c:", opts, NULL)) != -1) {
		switch (ch) {
		case 'S':
			if (url_parse(optarg, &b.sub) == -1 || !b.sub.ws)
				die("bad --sub-url %s (ws://IPv4:PORT/path)", optarg);
			break;
		case 'P':
			if (url_parse(optarg, &b.pub) == -1 || !b.pub.ws)
				die("bad --pub-url %s (ws://IPv4:PORT/path)", optarg);
			b.have_pub = 1;
			break;
		case 'H':
			if (url_parse(optarg, &b.pub) == -1 || b.pub.ws)
				die("bad --pub-http %s (http://IPv4:PORT/path)", optarg);
			b.have_pub = 1;
			break;
		case 'n': b.nconns = atol(optarg); break;
		case 's': b.size = (size_t)atol(optarg); break;
		case 'w': b.window = atol(optarg); break;
		case 'd': b.duration = atof(optarg); break;
		case 'W': b.warmup = atof(optarg); break;
		case 'r': b.rate = atof(optarg); break;
		case 'c': b.concurrency = atol(optarg); break;
		case 'p': b.procs = atoi(optarg); break;
		case 'h': b.hold = atof(optarg); break;
		case 'i': b.pid = (pid_t)atol(optarg); break;
		case 'x': b.spread = 0; break;
		case 'l': b.limit = atof(optarg); break;
		case 'L': b.label = optarg; break;
		case 'j': b.json = 1; break;
		case 'z': b.deflate = 1; break;
		default: usage();
		}
	}
	if (b.sub.sa.sin_family == 0)
		die("--sub-url is required");
	if (b.nconns < 1 || b.nconns > 10000000 || b.window < 1 ||
	    b.window > 1000000 || b.duration <= 0 || b.duration > 3600 ||
	    b.warmup < 0 || b.rate <= 0 || b.concurrency < 1 ||
	    b.concurrency > PROC_CONNS_MAX || b.size > 16 * 1024 * 1024 ||
	    b.hold < 0 || b.hold > 600)
		die("option out of range");
	if (b.limit <= 0)
		b.limit = b.warmup + b.duration + b.hold + 150;
	switch (b.mode) {
	case M_FANOUT:
	case M_LATENCY:
		return run_flow(&b);
	case M_IDLE:
		return run_idle(&b);
	case M_HANDSHAKES:
		return run_handshakes(&b);
	default:
		return 2;
	}
}
