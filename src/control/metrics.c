/* GET /metrics: the daemon's counters in the Prometheus text format. */
#include "autoconf.h"

#include <sys/resource.h>
#include <sys/time.h>
#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "control/config.h"
#include "control/metrics.h"
#include "hub/channel.h"
#include "hub/handlers.h"
#include "hub/server.h"
#include "transport/conn.h"

void
metrics_process(struct metrics_process *p)
{
	unsigned long long size = 0, res = 0;
	struct rusage ru;
	struct rlimit rl;
	struct dirent *de;
	long page = sysconf(_SC_PAGESIZE);
	FILE *fp;
	DIR *d;

	memset(p, 0, sizeof(*p));
	if ((fp = fopen("/proc/self/statm", "r")) != NULL) {
		if (fscanf(fp, "%llu %llu", &size, &res) == 2 && page > 0) {
			p->vsize_bytes = size * (uint64_t)page;
			p->rss_bytes = res * (uint64_t)page;
		}
		fclose(fp);
	}
	if ((d = opendir("/proc/self/fd")) != NULL) {
		while ((de = readdir(d)) != NULL)
			if (de->d_name[0] != '.')
				p->open_fds++;
		/* The directory's own descriptor is not one of ours. */
		if (p->open_fds > 0)
			p->open_fds--;
		closedir(d);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
		p->max_fds = (uint64_t)rl.rlim_cur;
	if (getrusage(RUSAGE_SELF, &ru) == 0)
		p->cpu_seconds = (double)ru.ru_utime.tv_sec +
		    (double)ru.ru_utime.tv_usec / 1e6 +
		    (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* A label value: backslash, double quote and newline escaped. */
static void
metrics_label(FILE *fp, const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '\\' || *s == '"')
			fprintf(fp, "\\%c", *s);
		else if (*s == '\n')
			fputs("\\n", fp);
		else
			fputc(*s, fp);
	}
}

static void
metrics_head(FILE *fp, const char *name, const char *type, const char *help)
{
	fprintf(fp, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void
metrics_one(FILE *fp, const char *name, const char *type, const char *help,
    uint64_t v)
{
	metrics_head(fp, name, type, help);
	fprintf(fp, "%s %" PRIu64 "\n", name, v);
}

static void
metrics_route(FILE *fp, const struct route *r)
{
	fputs("wshub_connections{route=\"", fp);
	metrics_label(fp, r->cfg->path);
	fprintf(fp, "%s\",handler=\"%s\",protocol=\"h1\"} %zu\n",
	    r->cfg->prefix ? "*" : "", r->handler->name, r->nconns);
}

static void
metrics_hub(FILE *fp, struct server *srv)
{
	const struct server_stats *st = &srv->stats;
	uint64_t queued = 0, http = 0, subs = 0, cum = 0;
	struct channel *ch;
	struct route *r;
	struct conn *c;

	metrics_head(fp, "wshub_connections", "gauge",
	    "Open WebSocket connections by route, handler and protocol.");
	for (size_t i = 0; i < srv->nroutes; i++)
		metrics_route(fp, srv->routes[i]);
	TAILQ_FOREACH(r, &srv->retired, retired_link)
		metrics_route(fp, r);
	for (size_t i = 0; srv->conns.slots != NULL && i <= srv->conns.mask;
	    i++) {
		if (srv->conns.slots[i].key == 0)
			continue;
		c = srv->conns.slots[i].val;
		queued += c->out_bytes;
		if (c->state == CONN_HTTP)
			http++;
	}
	metrics_one(fp, "wshub_http_connections", "gauge",
	    "Connections still speaking HTTP (API calls, handshakes).", http);
	metrics_one(fp, "wshub_connections_accepted_total", "counter",
	    "TCP connections accepted.", st->accepted);
	metrics_head(fp, "wshub_handshakes_total", "counter",
	    "WebSocket handshakes by result and, when refused, HTTP status.");
	fprintf(fp, "wshub_handshakes_total{result=\"ok\"} %" PRIu64 "\n",
	    st->handshakes_ok);
	for (int s = SERVER_HS_STATUS_MIN; s <= SERVER_HS_STATUS_MAX + 1; s++) {
		uint64_t n = st->handshake_status[s - SERVER_HS_STATUS_MIN];

		/* 400 always shows, so the refused series exists from start. */
		if (n == 0 && s != 400)
			continue;
		if (s <= SERVER_HS_STATUS_MAX)
			fprintf(fp, "wshub_handshakes_total{result=\"refused\","
			    "status=\"%d\"} %" PRIu64 "\n", s, n);
		else
			fprintf(fp, "wshub_handshakes_total{result=\"refused\","
			    "status=\"other\"} %" PRIu64 "\n", n);
	}
	metrics_one(fp, "wshub_messages_received_total", "counter",
	    "WebSocket messages received from clients.", st->msgs_in);
	metrics_one(fp, "wshub_bytes_received_total", "counter",
	    "Bytes read from client sockets.", st->bytes_in);
	metrics_one(fp, "wshub_deliveries_total", "counter",
	    "Messages queued for a connection (one per receiver).",
	    st->msgs_out);
	metrics_one(fp, "wshub_bytes_sent_total", "counter",
	    "Bytes written to client sockets.", st->bytes_out);
	metrics_one(fp, "wshub_dropped_messages_total", "counter",
	    "Queued messages dropped by the drop_oldest policy.", st->drops);
	metrics_one(fp, "wshub_slow_consumer_kicks_total", "counter",
	    "Slow consumers disconnected (1008).", st->slow_kicks);
	metrics_one(fp, "wshub_queued_bytes", "gauge",
	    "Bytes queued for all connections and not yet written.", queued);
	TAILQ_FOREACH(ch, &srv->channels.all, link)
		subs += ch->nsubs;
	metrics_one(fp, "wshub_channels", "gauge", "Channels that exist.",
	    srv->channels.count);
	metrics_one(fp, "wshub_subscriptions", "gauge",
	    "Channel subscriptions of all connections.", subs);

	metrics_head(fp, "wshub_publish_to_write_seconds", "histogram",
	    "Time from queueing a message to writing it, sampled once per "
	    "write on the loop's cached clock.");
	for (int i = 0; i < SERVER_LAT_BUCKETS; i++) {
		cum += st->lat_buckets[i];
		if (i == SERVER_LAT_BUCKETS - 1)
			fprintf(fp, "wshub_publish_to_write_seconds_bucket"
			    "{le=\"+Inf\"} %" PRIu64 "\n", cum);
		else
			fprintf(fp, "wshub_publish_to_write_seconds_bucket"
			    "{le=\"%g\"} %" PRIu64 "\n",
			    server_lat_bounds_us[i] / 1e6, cum);
	}
	fprintf(fp, "wshub_publish_to_write_seconds_sum %.6f\n",
	    st->lat_sum_us / 1e6);
	fprintf(fp, "wshub_publish_to_write_seconds_count %" PRIu64 "\n",
	    st->lat_count);

	metrics_head(fp, "wshub_reloads_total", "counter",
	    "Configuration reloads by result.");
	fprintf(fp, "wshub_reloads_total{result=\"ok\"} %" PRIu64 "\n"
	    "wshub_reloads_total{result=\"failed\"} %" PRIu64 "\n",
	    st->reloads, st->reload_failures);
	/* Named now so dashboards need no change when authentication lands. */
	metrics_head(fp, "wshub_auth_requests_total", "counter",
	    "Authentication decisions by result (no plugin loaded: all 0).");
	fputs("wshub_auth_requests_total{result=\"allow\"} 0\n"
	    "wshub_auth_requests_total{result=\"deny\"} 0\n"
	    "wshub_auth_requests_total{result=\"error\"} 0\n", fp);
}

static void
metrics_proc(FILE *fp, struct server *srv)
{
	struct metrics_process p;

	metrics_process(&p);
	metrics_one(fp, "process_resident_memory_bytes", "gauge",
	    "Resident memory size in bytes.", p.rss_bytes);
	metrics_one(fp, "process_virtual_memory_bytes", "gauge",
	    "Virtual memory size in bytes.", p.vsize_bytes);
	metrics_one(fp, "process_open_fds", "gauge",
	    "Open file descriptors.", p.open_fds);
	metrics_one(fp, "process_max_fds", "gauge",
	    "Limit of open file descriptors.", p.max_fds);
	metrics_head(fp, "process_cpu_seconds_total", "counter",
	    "User and system CPU time in seconds.");
	fprintf(fp, "process_cpu_seconds_total %.3f\n", p.cpu_seconds);
	metrics_one(fp, "process_start_time_seconds", "gauge",
	    "Start time of the process since the Unix epoch in seconds.",
	    (uint64_t)srv->started);
}

char *
metrics_render(struct server *srv, size_t *len)
{
	char *buf = NULL;
	FILE *fp;

	if ((fp = open_memstream(&buf, len)) == NULL)
		return NULL;
	metrics_head(fp, "wshub_build_info", "gauge",
	    "The version of wshubd, as a label.");
	fprintf(fp, "wshub_build_info{version=\"%s\"} 1\n", PACKAGE_VERSION);
	metrics_hub(fp, srv);
	metrics_proc(fp, srv);
	if (ferror(fp)) {
		fclose(fp);
		free(buf);
		return NULL;
	}
	fclose(fp);
	return buf;
}
