/*
 * floor: what the kernel alone costs for fan-out on this machine.
 *
 * A writer (one core) sends K messages of S bytes in one writev() to each
 * of N loopback TCP sockets in turn, as fast as it can, for D seconds; a
 * reader (a child process on the other core) drains the peers with epoll.
 * No WebSocket, no queue, no server: the figures are a floor under any
 * server's cost per write, and so under its delivery latency at a fixed
 * rate. With one writev per subscriber per round, a round over N
 * subscribers takes at least N times the cost of one writev, and a
 * message published at a random time waits on average half a round and
 * at worst a whole one.
 *
 * Usage: floor [-n sockets] [-k msgs-per-writev] [-s bytes] [-d secs]
 *        [--nodelay 0|1] [--pin] [--json]
 * Prints writev calls per second, writer CPU microseconds per writev and
 * messages per second; with --json one JSON object.
 *
 * floor --serve PORT runs the least a WebSocket server can do per
 * connection instead, until SIGTERM: accept, read the request (whole in
 * one read, as load generators send it), answer 101 with the accept key,
 * answer a close frame and close. bench.py measures its handshakes per CPU
 * second next to wshubd's: the kernel's share of a handshake.
 */
#define _GNU_SOURCE
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

#define FLOOR_MAX_K	64

static double
now_secs(int clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
pin_to(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set) == -1)
		perror("floor: sched_setaffinity");
}

static void
die(const char *what)
{
	perror(what);
	exit(1);
}

/* The reader: drain every socket until all are closed or 5 s pass idle. */
static void
reader(int *fds, int n)
{
	static char buf[256 * 1024];
	struct epoll_event evs[256];
	int ep, open = n;

	if ((ep = epoll_create1(0)) == -1)
		die("floor: epoll_create1");
	for (int i = 0; i < n; i++) {
		struct epoll_event e = { .events = EPOLLIN };

		e.data.fd = fds[i];
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &e) == -1)
			die("floor: epoll_ctl");
	}
	while (open > 0) {
		int k = epoll_wait(ep, evs, 256, 5000);

		if (k <= 0)
			break;
		for (int i = 0; i < k; i++) {
			ssize_t r = read(evs[i].data.fd, buf, sizeof(buf));

			if (r == 0 || (r < 0 && errno != EAGAIN &&
			    errno != EINTR)) {
				close(evs[i].data.fd);
				open--;
			}
		}
	}
	_exit(0);
}

/* --serve: one connection's input, read until EAGAIN. */
static void
serve_read(int fd, unsigned char *state)
{
	static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
	static const unsigned char close_frame[] = { 0x88, 2, 0x03, 0xe8 };
	char buf[4096], key[128], resp[256], acc[32];
	unsigned char sha[SHA_DIGEST_LENGTH];
	const char *k;
	ssize_t r;
	size_t kl;
	int rl;

	for (;;) {
		if ((r = read(fd, buf, sizeof(buf) - 1)) < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno == EAGAIN)
			return;
		if (r <= 0)
			break;
		if (state[fd] == 1) {
			/* Any close frame ends it; data frames are dropped. */
			if ((buf[0] & 0x0f) == 0x8) {
				(void)write(fd, close_frame, sizeof(close_frame));
				break;
			}
			continue;
		}
		buf[r] = '\0';
		if (strstr(buf, "\r\n\r\n") == NULL ||
		    (k = strcasestr(buf, "\nSec-WebSocket-Key:")) == NULL)
			break;
		for (k += 19; *k == ' '; k++)
			;
		for (kl = 0; k[kl] != '\r' && k[kl] != '\0' && kl < 64; kl++)
			key[kl] = k[kl];
		memcpy(key + kl, guid, sizeof(guid) - 1);
		SHA1((unsigned char *)key, kl + sizeof(guid) - 1, sha);
		EVP_EncodeBlock((unsigned char *)acc, sha, sizeof(sha));
		rl = snprintf(resp, sizeof(resp), "HTTP/1.1 101 Switching "
		    "Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
		    "Sec-WebSocket-Accept: %s\r\n\r\n", acc);
		if (write(fd, resp, (size_t)rl) != rl)
			break;
		state[fd] = 1;
	}
	close(fd);
}

/* --serve PORT: the minimal handshake server, until a signal ends it. */
static int
serve(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	struct epoll_event ev[256], e;
	unsigned char *state;
	int lfd, ep, one = 1;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = htons((uint16_t)port);
	if ((state = calloc(1 << 16, 1)) == NULL)
		die("floor: calloc");
	if ((lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0)) == -1 ||
	    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    setsockopt(lfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) ||
	    bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) == -1 ||
	    listen(lfd, 511) == -1 || (ep = epoll_create1(0)) == -1)
		die("floor: listen");
	e.events = EPOLLIN;
	e.data.fd = lfd;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &e) == -1)
		die("floor: epoll_ctl");
	for (;;) {
		int n = epoll_wait(ep, ev, 256, -1);

		if (n < 0 && errno != EINTR)
			die("floor: epoll_wait");
		for (int i = 0; i < n; i++) {
			int fd = ev[i].data.fd;

			if (fd != lfd) {
				serve_read(fd, state);
				continue;
			}
			for (int k = 0; k < 64; k++) {
				int cfd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK);

				if (cfd < 0)
					break;
				if (cfd >= (1 << 16)) {
					close(cfd);
					continue;
				}
				state[cfd] = 0;
				e.events = EPOLLIN | EPOLLET;
				e.data.fd = cfd;
				if (epoll_ctl(ep, EPOLL_CTL_ADD, cfd, &e) == -1) {
					close(cfd);
					continue;
				}
				/* The request usually came with the last ACK. */
				serve_read(cfd, state);
			}
		}
	}
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "nodelay", required_argument, NULL, 'N' },
		{ "pin", no_argument, NULL, 'p' },
		{ "json", no_argument, NULL, 'j' },
		{ "serve", required_argument, NULL, 'S' },
		{ NULL, 0, NULL, 0 }
	};
	struct sockaddr_in sa = { .sin_family = AF_INET };
	struct iovec iov[FLOOR_MAX_K];
	socklen_t salen = sizeof(sa);
	int n = 1000, k = 1, nodelay = 1, pin = 0, json = 0, one = 1, ch;
	int lfd, *srv, *cli;
	size_t size = 64;
	double secs = 3, t0, c0, el, cpu;
	long writes = 0, partial = 0;
	char *msg;
	pid_t kid;

	while ((ch = getopt_long(argc, argv, "n:k:s:d:", longopts,
	    NULL)) != -1) {
		switch (ch) {
		case 'n': n = atoi(optarg); break;
		case 'k': k = atoi(optarg); break;
		case 's': size = (size_t)atol(optarg); break;
		case 'd': secs = atof(optarg); break;
		case 'N': nodelay = atoi(optarg) != 0; break;
		case 'p': pin = 1; break;
		case 'j': json = 1; break;
		case 'S': return serve(atoi(optarg));
		default:
			fprintf(stderr, "usage: floor [-n N] [-k K] [-s S] "
			    "[-d SECS] [--nodelay 0|1] [--pin] [--json]\n"
			    "       floor --serve PORT\n");
			return 2;
		}
	}
	if (n < 1 || n > 9000 || k < 1 || k > FLOOR_MAX_K || size < 1 ||
	    size > (1 << 20) || secs <= 0 || secs > 60) {
		fprintf(stderr, "floor: bad arguments\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((lfd = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
	    bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) == -1 ||
	    listen(lfd, 4096) == -1 ||
	    getsockname(lfd, (struct sockaddr *)&sa, &salen) == -1)
		die("floor: listen");
	if ((srv = calloc((size_t)n, sizeof(int))) == NULL ||
	    (cli = calloc((size_t)n, sizeof(int))) == NULL ||
	    (msg = malloc(size)) == NULL)
		die("floor: malloc");
	memset(msg, 'x', size);
	for (int i = 0; i < n; i++) {
		if ((cli[i] = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
		    connect(cli[i], (struct sockaddr *)&sa, sizeof(sa)) == -1 ||
		    (srv[i] = accept(lfd, NULL, NULL)) == -1)
			die("floor: connect");
		setsockopt(srv[i], IPPROTO_TCP, TCP_NODELAY, &nodelay,
		    sizeof(nodelay));
		setsockopt(cli[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		fcntl(srv[i], F_SETFL, O_NONBLOCK);
		fcntl(cli[i], F_SETFL, O_NONBLOCK);
	}
	close(lfd);
	if ((kid = fork()) == -1)
		die("floor: fork");
	if (kid == 0) {
		if (pin)
			pin_to(1);
		for (int i = 0; i < n; i++)
			close(srv[i]);
		reader(cli, n);
	}
	for (int i = 0; i < n; i++)
		close(cli[i]);
	if (pin)
		pin_to(0);
	for (int i = 0; i < k; i++) {
		iov[i].iov_base = msg;
		iov[i].iov_len = size;
	}
	t0 = now_secs(CLOCK_MONOTONIC);
	c0 = now_secs(CLOCK_PROCESS_CPUTIME_ID);
	while (now_secs(CLOCK_MONOTONIC) - t0 < secs) {
		for (int i = 0; i < n; i++) {
			ssize_t w = writev(srv[i], iov, k);

			if (w > 0) {
				writes++;
				if ((size_t)w < size * (size_t)k)
					partial++;
			}
		}
	}
	el = now_secs(CLOCK_MONOTONIC) - t0;
	cpu = now_secs(CLOCK_PROCESS_CPUTIME_ID) - c0;
	for (int i = 0; i < n; i++)
		close(srv[i]);
	waitpid(kid, NULL, 0);
	if (writes == 0) {
		fprintf(stderr, "floor: no write succeeded\n");
		return 1;
	}
	if (json)
		printf("{\"mode\": \"floor\", \"ok\": true, \"sockets\": %d, "
		    "\"msgs_per_writev\": %d, \"size\": %zu, \"nodelay\": %d, "
		    "\"writev_per_s\": %.0f, \"us_per_writev\": %.2f, "
		    "\"msgs_per_s\": %.0f, \"partial\": %ld, "
		    "\"round_us\": %.0f}\n", n, k, size, nodelay,
		    (double)writes / el, cpu * 1e6 / (double)writes,
		    (double)writes * k / el, partial,
		    cpu * 1e6 / (double)writes * n);
	else
		printf("floor: %d sockets, %d x %zu B per writev, nodelay %d: "
		    "%.0f writev/s, %.2f us CPU per writev, %.2f M msgs/s, "
		    "%ld partial; one round over %d sockets >= %.1f ms\n",
		    n, k, size, nodelay, (double)writes / el,
		    cpu * 1e6 / (double)writes, (double)writes * k / el / 1e6,
		    partial, n, cpu * 1e3 / (double)writes * n);
	return 0;
}
