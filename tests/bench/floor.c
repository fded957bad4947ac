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

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "nodelay", required_argument, NULL, 'N' },
		{ "pin", no_argument, NULL, 'p' },
		{ "json", no_argument, NULL, 'j' },
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
		default:
			fprintf(stderr, "usage: floor [-n N] [-k K] [-s S] "
			    "[-d SECS] [--nodelay 0|1] [--pin] [--json]\n");
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
