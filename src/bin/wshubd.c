/* wshubd: the WebSocket broadcast and pub/sub daemon (a thin main). */
#include "autoconf.h"

#include <sys/resource.h>
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "control/admin.h"
#include "control/auth.h"
#include "control/config.h"
#include "control/notify.h"
#include "control/reload.h"
#include "hub/server.h"
#include "transport/listener.h"
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

/*
 * Started as root with a user configured: switch to it (and its group, or
 * the configured one) for good, after every socket is bound. The admin
 * socket's file is handed over too unless an owner is configured, so the
 * daemon can remove it at exit. Returns 0, or -1 after logging why.
 */
static int
drop_privileges(struct server *srv)
{
	const struct config *cfg = srv->cfg;
	struct passwd *pw;
	uid_t uid;
	gid_t gid;

	if (getuid() != 0 && geteuid() != 0)
		return 0;
	if (cfg->user[0] == '\0') {
		log_warn("running as root: set 'user' to switch to an "
		    "unprivileged user after binding");
		return 0;
	}
	if (config_user_id(cfg->user, &uid, &gid) == -1) {
		log_err("user %s: no such user", cfg->user);
		return -1;
	}
	if (cfg->group[0] != '\0' && config_group_id(cfg->group, &gid) == -1) {
		log_err("group %s: no such group", cfg->group);
		return -1;
	}
	if (cfg->admin_socket_owner[0] == '\0' &&
	    admin_chown(srv->admin, uid, cfg->admin_socket_group[0] != '\0' ?
	    (gid_t)-1 : gid) == -1)
		log_warn("admin socket: chown to %s: %s", cfg->user,
		    strerror(errno));
	pw = getpwuid(uid);
	if ((pw != NULL ? initgroups(pw->pw_name, gid) :
	    setgroups(1, &gid)) == -1 || setgid(gid) == -1 || setuid(uid) == -1) {
		log_err("cannot switch to user %s: %s", cfg->user,
		    strerror(errno));
		return -1;
	}
	/* Make sure there is no way back. */
	if (uid != 0 && (setuid(0) == 0 || seteuid(0) == 0)) {
		log_err("privileges could be regained after dropping them");
		return -1;
	}
	log_notice("running as user %s (uid %u, gid %u)", cfg->user,
	    (unsigned)uid, (unsigned)gid);
	return 0;
}

static void
on_stopping(struct server *srv)
{
	notify_stopping(srv->notify);
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
	struct listener_passed_set passed;
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
			printf("wshubd %s (systemd support: %s)\n",
			    PACKAGE_VERSION, notify_supported() ? "yes" : "no");
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
		/* Start the auth plugin too: its keys and options are config. */
		if (auth_check_config(cfg, &cause) == -1) {
			fprintf(stderr, "wshubd: %s\n", cause ? cause :
			    "auth plugin failed");
			free(cause);
			config_free(cfg);
			return 1;
		}
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
	notify_passed(&passed);
	/* The server holds the config from here on, even when it fails. */
	if ((srv = server_new(base, cfg, &passed, &cause)) == NULL ||
	    auth_new(srv, cfg, &cause) == -1 ||
	    admin_start(srv, &cause) == -1 || drop_privileges(srv) == -1) {
		log_err("%s", cause ? cause : "startup failed");
		free(cause);
		if (srv != NULL) {
			admin_free(srv->admin);
			auth_free(srv);
		}
		server_free(srv);
		notify_passed_free(&passed);
		event_base_free(base);
		return 1;
	}
	notify_passed_report(&passed);
	srv->notify = notify_new(srv);
	srv->on_stopping = on_stopping;
	if (reload_on_sighup(srv) == -1)
		log_warn("cannot catch SIGHUP: reload through wshubctl only");
	log_notice("wshubd %s started (pid %d)", PACKAGE_VERSION, (int)getpid());
	notify_ready(srv->notify);
	rv = server_run(srv);
	admin_free(srv->admin);
	notify_free(srv->notify);
	srv->notify = NULL;
	auth_free(srv);
	server_free(srv);
	notify_passed_free(&passed);
	event_base_free(base);
	log_notice("exiting");
	return rv == 0 ? 0 : 1;
}
