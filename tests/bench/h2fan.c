/* h2fan: fan-out load generator for WebSockets multiplexed on HTTP/2 (RFC 8441), with nghttp2. */

/*
 * -c connections carry -n WebSockets between them (extended CONNECT
 * streams, h2c prior knowledge) subscribed to one pubsub channel; one
 * HTTP/1.1 WebSocket publisher on the same channel keeps -w messages of
 * -s bytes in flight (it gets its own copy back, as wshbench's publisher
 * does). After a warm-up it counts deliveries to the streams for -d
 * seconds and prints deliveries per second, the daemon's CPU share
 * (--pid) and whether every stream saw every message in order.
 *
 * It is the HTTP/2 counterpart of `wshbench fanout`, which measures the
 * same over one HTTP/1.1 connection per subscriber; the client side of
 * HTTP/2 is nghttp2's, the WebSocket framing is done here.
 */

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <nghttp2/nghttp2.h>

#define RBUF		(256 * 1024)
#define STREAMS_MAX	100000

struct stream {
	int32_t		 id;
	int		 open;
	uint64_t	 next;		/* next sequence number expected */
	uint64_t	 got;
	int		 bad;
	/* a frame split across DATA chunks */
	uint8_t		 hdr[10];
	size_t		 hdr_have;
	uint64_t	 left;		/* payload bytes of the current frame */
	uint8_t		 seqbuf[16];
	size_t		 seq_have;
};

struct h2c {
	int		 fd;
	nghttp2_session	*ng;
	int		 settings;	/* the server's SETTINGS arrived */
	int		 want;		/* streams to open on it */
	int		 opened;
};

static struct {
	struct sockaddr_in sa;
	char		 authority[96];
	char		 path[256];
	char		 pub_path[256];
	int		 nconns, nstreams;
	size_t		 size;
	int		 window;
	double		 duration, warmup;
	pid_t		 pid;
	struct h2c	*conns;
	struct stream	*streams;
	int		 streams_open;
	int		 pub_fd;
	int		 pub_open;
	uint8_t		 pub_in[RBUF];
	size_t		 pub_in_len;
	uint64_t	 pub_next, pub_acked;
	uint64_t	 deliveries;
	int		 measuring;
} g;

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
die(const char *what)
{
	fprintf(stderr, "h2fan: %s: %s\n", what, strerror(errno));
	exit(1);
}

static int
connect_to(void)
{
	int fd, one = 1;

	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) == -1)
		die("socket");
	if (connect(fd, (struct sockaddr *)&g.sa, sizeof(g.sa)) == -1)
		die("connect");
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

static void
write_all(int fd, const void *p, size_t n)
{
	const uint8_t *b = p;

	while (n > 0) {
		ssize_t w = write(fd, b, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			die("write");
		}
		b += w;
		n -= (size_t)w;
	}
}

/* ----- the HTTP/1.1 publisher ----- */

static void
pub_send(uint64_t seq)
{
	uint8_t frame[16 + 65536];
	size_t n = g.size, off;
	char text[40];

	frame[0] = 0x81;
	if (n < 126) {
		frame[1] = 0x80 | (uint8_t)n;
		off = 2;
	} else {
		frame[1] = 0x80 | 126;
		frame[2] = (uint8_t)(n >> 8);
		frame[3] = (uint8_t)n;
		off = 4;
	}
	memset(frame + off, 0, 4);	/* a zero mask: payload as is */
	off += 4;
	snprintf(text, sizeof(text), "%016" PRIx64 "%016" PRIx64, seq,
	    (uint64_t)(now() * 1e9));
	memset(frame + off, '.', n);
	memcpy(frame + off, text, 32);
	write_all(g.pub_fd, frame, off + n);
}

static void
pub_fill(void)
{
	while (g.pub_next - g.pub_acked < (uint64_t)g.window)
		pub_send(g.pub_next++);
}

static void
pub_read(void)
{
	ssize_t n = read(g.pub_fd, g.pub_in + g.pub_in_len,
	    sizeof(g.pub_in) - g.pub_in_len);
	size_t pos = 0;

	if (n <= 0)
		die("publisher read");
	g.pub_in_len += (size_t)n;
	if (!g.pub_open) {
		uint8_t *e = memmem(g.pub_in, g.pub_in_len, "\r\n\r\n", 4);

		if (e == NULL)
			return;
		if (memcmp(g.pub_in, "HTTP/1.1 101", 12) != 0) {
			fprintf(stderr, "h2fan: publisher refused: %.*s\n",
			    (int)(e - g.pub_in), g.pub_in);
			exit(1);
		}
		g.pub_open = 1;
		pos = (size_t)(e + 4 - g.pub_in);
		pub_fill();
	}
	/* Our own copies come back: each one lets another out. */
	for (;;) {
		size_t have = g.pub_in_len - pos, hl = 2;
		uint64_t len;

		if (have < 2)
			break;
		len = g.pub_in[pos + 1] & 0x7f;
		if (len == 126) {
			if (have < 4)
				break;
			len = (uint64_t)g.pub_in[pos + 2] << 8 | g.pub_in[pos + 3];
			hl = 4;
		}
		if (have < hl + len)
			break;
		if ((g.pub_in[pos] & 0x0f) == 1)
			g.pub_acked++;
		pos += hl + len;
	}
	memmove(g.pub_in, g.pub_in + pos, g.pub_in_len - pos);
	g.pub_in_len -= pos;
	pub_fill();
}

static void
pub_start(void)
{
	char req[512];
	int n;

	g.pub_fd = connect_to();
	n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: %s\r\n"
	    "Upgrade: websocket\r\nConnection: Upgrade\r\n"
	    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	    "Sec-WebSocket-Version: 13\r\n\r\n", g.pub_path, g.authority);
	write_all(g.pub_fd, req, (size_t)n);
}

/* ----- the HTTP/2 subscribers ----- */

static void
stream_payload(struct stream *s, const uint8_t *p, size_t n)
{
	while (n > 0 && s->seq_have < 16) {
		s->seqbuf[s->seq_have++] = *p++;
		n--;
		if (s->seq_have == 16) {
			char hex[17];
			uint64_t seq;

			memcpy(hex, s->seqbuf, 16);
			hex[16] = '\0';
			seq = strtoull(hex, NULL, 16);
			if (seq != s->next)
				s->bad = 1;
			s->next = seq + 1;
			s->got++;
			if (g.measuring)
				g.deliveries++;
		}
	}
}

/* Server frames of stream |s|, in pieces as DATA brings them. */
static void
stream_feed(struct stream *s, const uint8_t *p, size_t n)
{
	while (n > 0) {
		if (s->left == 0 && s->hdr_have < 2) {
			s->hdr[s->hdr_have++] = *p++;
			n--;
			if (s->hdr_have < 2)
				continue;
			if ((s->hdr[1] & 0x7f) < 126) {
				s->left = s->hdr[1] & 0x7f;
				s->hdr_have = 10;	/* header complete */
				s->seq_have = (s->hdr[0] & 0x0f) == 1 ? 0 : 16;
				if (s->left == 0)
					s->hdr_have = 0;
			}
			continue;
		}
		if (s->left == 0 && s->hdr_have < 4) {
			s->hdr[s->hdr_have++] = *p++;
			n--;
			if (s->hdr_have == 4) {
				s->left = (uint64_t)s->hdr[2] << 8 | s->hdr[3];
				s->hdr_have = 10;
				s->seq_have = (s->hdr[0] & 0x0f) == 1 ? 0 : 16;
			}
			continue;
		}
		{
			size_t take = n < s->left ? n : (size_t)s->left;

			stream_payload(s, p, take);
			p += take;
			n -= take;
			s->left -= take;
			if (s->left == 0)
				s->hdr_have = 0;
		}
	}
}

static int
on_data(nghttp2_session *ng, uint8_t flags, int32_t sid, const uint8_t *data,
    size_t len, void *arg)
{
	struct stream *s = nghttp2_session_get_stream_user_data(ng, sid);

	(void)flags;
	(void)arg;
	if (s != NULL)
		stream_feed(s, data, len);
	return 0;
}

static int
on_header(nghttp2_session *ng, const nghttp2_frame *f, const uint8_t *name,
    size_t namelen, const uint8_t *value, size_t valuelen, uint8_t flags,
    void *arg)
{
	struct stream *s = nghttp2_session_get_stream_user_data(ng,
	    f->hd.stream_id);

	(void)flags;
	(void)arg;
	if (s != NULL && namelen == 7 && memcmp(name, ":status", 7) == 0) {
		if (valuelen == 3 && memcmp(value, "200", 3) == 0) {
			s->open = 1;
			g.streams_open++;
		} else {
			fprintf(stderr, "h2fan: stream refused: %.*s\n",
			    (int)valuelen, value);
			exit(1);
		}
	}
	return 0;
}

static int
on_frame(nghttp2_session *ng, const nghttp2_frame *f, void *arg)
{
	struct h2c *c = arg;

	(void)ng;
	if (f->hd.type == NGHTTP2_SETTINGS && !(f->hd.flags & NGHTTP2_FLAG_ACK))
		c->settings = 1;
	if (f->hd.type == NGHTTP2_GOAWAY) {
		fprintf(stderr, "h2fan: GOAWAY %u\n", f->goaway.error_code);
		exit(1);
	}
	return 0;
}

static int
on_close(nghttp2_session *ng, int32_t sid, uint32_t code, void *arg)
{
	(void)ng;
	(void)arg;
	fprintf(stderr, "h2fan: stream %d closed (%u)\n", sid, code);
	exit(1);
}

static ssize_t
no_data(nghttp2_session *ng, int32_t sid, uint8_t *buf, size_t len,
    uint32_t *flags, nghttp2_data_source *src, void *arg)
{
	(void)ng;
	(void)sid;
	(void)buf;
	(void)len;
	(void)flags;
	(void)src;
	(void)arg;
	return NGHTTP2_ERR_DEFERRED;
}

static void
h2_flush(struct h2c *c)
{
	const uint8_t *p;
	ssize_t n;

	while ((n = nghttp2_session_mem_send(c->ng, &p)) > 0)
		write_all(c->fd, p, (size_t)n);
	if (n < 0) {
		fprintf(stderr, "h2fan: %s\n", nghttp2_strerror((int)n));
		exit(1);
	}
}

static void
h2_open_streams(struct h2c *c, struct stream *base)
{
	nghttp2_data_provider prd = { .read_callback = no_data };
	nghttp2_nv nv[] = {
		{ (uint8_t *)":method", (uint8_t *)"CONNECT", 7, 7, 0 },
		{ (uint8_t *)":protocol", (uint8_t *)"websocket", 9, 9, 0 },
		{ (uint8_t *)":scheme", (uint8_t *)"http", 7, 4, 0 },
		{ (uint8_t *)":path", (uint8_t *)g.path, 5, strlen(g.path), 0 },
		{ (uint8_t *)":authority", (uint8_t *)g.authority, 10,
		    strlen(g.authority), 0 },
		{ (uint8_t *)"sec-websocket-version", (uint8_t *)"13", 21, 2, 0 },
	};

	for (; c->opened < c->want; c->opened++) {
		struct stream *s = &base[c->opened];
		int32_t sid = nghttp2_submit_request(c->ng, NULL, nv,
		    sizeof(nv) / sizeof(nv[0]), &prd, s);

		if (sid < 0) {
			fprintf(stderr, "h2fan: submit: %s\n",
			    nghttp2_strerror(sid));
			exit(1);
		}
		s->id = sid;
	}
	h2_flush(c);
}

static void
h2_start(struct h2c *c)
{
	nghttp2_session_callbacks *cb;
	nghttp2_settings_entry iv[] = {
		{ NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 1 << 24 },
		{ NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 100 },
	};

	c->fd = connect_to();
	nghttp2_session_callbacks_new(&cb);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_data);
	nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
	nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame);
	nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_close);
	if (nghttp2_session_client_new(&c->ng, cb, c) != 0) {
		fprintf(stderr, "h2fan: out of memory\n");
		exit(1);
	}
	nghttp2_session_callbacks_del(cb);
	nghttp2_submit_settings(c->ng, NGHTTP2_FLAG_NONE, iv, 2);
	nghttp2_session_set_local_window_size(c->ng, NGHTTP2_FLAG_NONE, 0,
	    1 << 30);
	h2_flush(c);
}

static double
daemon_cpu(void)
{
	char path[64], buf[1024], *p;
	unsigned long ut, st;
	FILE *fp;

	if (g.pid == 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)g.pid);
	if ((fp = fopen(path, "r")) == NULL)
		return -1;
	p = fgets(buf, sizeof(buf), fp);
	fclose(fp);
	if (p == NULL || (p = strrchr(buf, ')')) == NULL)
		return -1;
	if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
	    &ut, &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static void
usage(void)
{
	fprintf(stderr, "usage: h2fan -u h2c://HOST:PORT/ws/chan [-c conns] "
	    "[-n streams] [-s size] [-w window] [-d secs] [--warmup secs] "
	    "[--pid daemon-pid]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "url", required_argument, NULL, 'u' },
		{ "warmup", required_argument, NULL, 'W' },
		{ "pid", required_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 }
	};
	struct epoll_event ev, evs[256];
	static uint8_t buf[RBUF];
	char host[64];
	double t0 = 0, tm = 0, cpu0 = 0;
	int ep, ch, port, per, phase = 0, bad = 0;
	uint64_t minr = UINT64_MAX;

	g.nconns = 10;
	g.nstreams = 1000;
	g.size = 64;
	g.window = 64;
	g.duration = 5;
	g.warmup = 1;
	while ((ch = getopt_long(argc, argv, "u:c:n:s:w:d:", opts, NULL)) != -1) {
		switch (ch) {
		case 'u':
			if (sscanf(optarg, "h2c://%63[^:]:%d%255s", host, &port,
			    g.path) != 3)
				usage();
			break;
		case 'c': g.nconns = atoi(optarg); break;
		case 'n': g.nstreams = atoi(optarg); break;
		case 's': g.size = (size_t)atol(optarg); break;
		case 'w': g.window = atoi(optarg); break;
		case 'd': g.duration = atof(optarg); break;
		case 'W': g.warmup = atof(optarg); break;
		case 'p': g.pid = (pid_t)atol(optarg); break;
		default: usage();
		}
	}
	if (g.path[0] == '\0' || g.nconns < 1 || g.nstreams < g.nconns ||
	    g.nstreams > STREAMS_MAX || g.size < 32 || g.size > 65535)
		usage();
	signal(SIGPIPE, SIG_IGN);
	g.sa.sin_family = AF_INET;
	g.sa.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, host, &g.sa.sin_addr) != 1)
		usage();
	snprintf(g.authority, sizeof(g.authority), "%s:%d", host, port);
	snprintf(g.pub_path, sizeof(g.pub_path), "%s", g.path);
	g.conns = calloc((size_t)g.nconns, sizeof(*g.conns));
	g.streams = calloc((size_t)g.nstreams, sizeof(*g.streams));
	if (g.conns == NULL || g.streams == NULL || (ep = epoll_create1(0)) == -1)
		die("setup");
	per = g.nstreams / g.nconns;
	for (int i = 0; i < g.nconns; i++) {
		struct h2c *c = &g.conns[i];

		c->want = per + (i < g.nstreams % g.nconns ? 1 : 0);
		h2_start(c);
		ev.events = EPOLLIN;
		ev.data.ptr = c;
		epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
	}
	alarm((unsigned)(g.warmup + g.duration + 60));
	for (;;) {
		int n = epoll_wait(ep, evs, 256, 100);
		double t = now();

		for (int i = 0; i < n; i++) {
			struct h2c *c = evs[i].data.ptr;
			ssize_t r;

			if (c == NULL) {
				pub_read();
				continue;
			}
			if ((r = read(c->fd, buf, sizeof(buf))) <= 0) {
				fprintf(stderr, "h2fan: connection closed\n");
				return 1;
			}
			if (nghttp2_session_mem_recv(c->ng, buf, (size_t)r) < 0) {
				fprintf(stderr, "h2fan: bad input\n");
				return 1;
			}
			if (c->settings && c->opened < c->want) {
				struct stream *base = g.streams;

				for (struct h2c *o = g.conns; o < c; o++)
					base += o->want;
				h2_open_streams(c, base);
			}
			h2_flush(c);
		}
		if (phase == 0 && g.streams_open == g.nstreams) {
			pub_start();
			ev.events = EPOLLIN;
			ev.data.ptr = NULL;
			epoll_ctl(ep, EPOLL_CTL_ADD, g.pub_fd, &ev);
			phase = 1;
			t0 = t;
		} else if (phase == 1 && t - t0 >= g.warmup) {
			g.measuring = 1;
			cpu0 = daemon_cpu();
			tm = t;
			phase = 2;
		} else if (phase == 2 && t - tm >= g.duration) {
			double secs = t - tm, cpu1 = daemon_cpu();

			g.measuring = 0;
			for (int i = 0; i < g.nstreams; i++) {
				if (g.streams[i].bad)
					bad++;
				if (g.streams[i].got < minr)
					minr = g.streams[i].got;
			}
			printf("h2fan: %d WebSockets on %d HTTP/2 connections, "
			    "%zu-byte messages, window %d: %.0f deliveries/s "
			    "(%.0f messages/s)", g.nstreams, g.nconns, g.size,
			    g.window, (double)g.deliveries / secs,
			    (double)g.deliveries / secs / g.nstreams);
			if (cpu0 >= 0 && cpu1 >= 0)
				printf(", daemon CPU %.0f%%",
				    100 * (cpu1 - cpu0) / secs);
			printf(", order %s\n", bad ? "BROKEN" : "ok");
			return bad ? 1 : 0;
		}
	}
}
