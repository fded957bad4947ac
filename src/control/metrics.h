/* GET /metrics: the daemon's counters in the Prometheus text format. */
#ifndef WSH_CONTROL_METRICS_H
#define WSH_CONTROL_METRICS_H

#include <stddef.h>
#include <stdint.h>

struct server;

/* What the process uses, read from /proc and getrusage(2). */
struct metrics_process {
	uint64_t	 rss_bytes;
	uint64_t	 vsize_bytes;
	uint64_t	 open_fds;
	uint64_t	 max_fds;
	double		 cpu_seconds;	/* user and system */
};

/* Fill |p| for this process; fields that cannot be read stay 0. */
void	metrics_process(struct metrics_process *p);

/*
 * The exposition of |srv| in the Prometheus text format 0.0.4, malloc'd,
 * with its length in |*len|; NULL when out of memory. Costs a pass over
 * the connections and channels: nothing is counted per scrape elsewhere.
 */
char	*metrics_render(struct server *srv, size_t *len);

/* The Content-Type of that text. */
#define METRICS_CONTENT_TYPE	"text/plain; version=0.0.4; charset=utf-8"

#endif
