/* wshubd: the WebSocket broadcast and pub/sub daemon (a thin main). */
#include "autoconf.h"

#include <sys/resource.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "control/config.h"
#include "hub/server.h"
#include "util/log.h"

#define WSHUBD_DEFAULT_CONF	SYSCONFDIR "/wshubd.conf"

/* Descriptors kept free for listeners, logs and the admin socket. */
#define WSHUBD_SPARE_FDS	32

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: wshubd [-t] [-c file]\n"
	    "       wshubd --version | --help | --help-config\n"
	    "\n"
	    "  -c, --config FILE   configuration file (default %s)\n"
	    "  -t, --test          check the configuration and exit\n"
	    "  -V, --version       print the version and exit\n"
	    "  -h, --help          print this help and exit\n"
	    "      --help-config   list every configuration option and exit\n"
	    "\n"
	    "wshubd runs in the foreground and logs to stderr. See wshubd(8)\n"
	    "and wshubd.conf(5).\n", WSHUBD_DEFAULT_CONF);
}

/*
 * Raise the descriptor limit toward what max_connections needs, as far as
 * the hard limit allows, and say so when it falls short.
 */
static void
raise_nofile(const struct config *cfg)
{
	struct rlimit rl;
	rlim_t want = (rlim_t)cfg->max_connections + WSHUBD_SPARE_FDS;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return;
	if (rl.rlim_cur < want) {
		rl.rlim_cur = want < rl.rlim_max ? want : rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
			log_warn("setrlimit(RLIMIT_NOFILE, %llu): %s",
			    (unsigned long long)rl.rlim_cur, strerror(errno));
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < want)
		log_warn("open file limit is %llu (hard limit %llu), below the "
		    "%llu that max_connections = %llu needs; connections past "
		    "the limit wait in the backlog",
		    (unsigned long long)rl.rlim_cur,
		    (unsigned long long)rl.rlim_max, (unsigned long long)want,
		    (unsigned long long)cfg->max_connections);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "test", no_argument, NULL, 't' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ "help-config", no_argument, NULL, 'H' },
		{ NULL, 0, NULL, 0 }
	};
	const char *file = WSHUBD_DEFAULT_CONF;
	struct event_base *base;
	struct config *cfg;
	struct server *srv;
	char *cause = NULL;
	int ch, test = 0, rv;

	while ((ch = getopt_long(argc, argv, "c:tVh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			file = optarg;
			break;
		case 't':
			test = 1;
			break;
		case 'V':
			printf("wshubd %s\n", PACKAGE_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		case 'H':
			config_print_options(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}

	if (config_load(file, &cfg, &cause) == -1) {
		fprintf(stderr, "wshubd: %s\n", cause ? cause : file);
		free(cause);
		return 1;
	}
	if (test) {
		printf("configuration OK\n");
		config_free(cfg);
		return 0;
	}
	log_set_level(cfg->log_level);
	signal(SIGPIPE, SIG_IGN);
	raise_nofile(cfg);

	if ((base = event_base_new()) == NULL) {
		log_err("cannot create the event loop");
		return 1;
	}
	if ((srv = server_new(base, cfg, &cause)) == NULL) {
		log_err("%s", cause ? cause : "startup failed");
		free(cause);
		event_base_free(base);
		config_free(cfg);
		return 1;
	}
	log_notice("wshubd %s started (pid %d)", PACKAGE_VERSION, (int)getpid());
	rv = server_run(srv);
	server_free(srv);
	event_base_free(base);
	config_free(cfg);
	log_notice("exiting");
	return rv == 0 ? 0 : 1;
}
