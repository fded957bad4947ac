/* Logging to stderr with syslog priority prefixes that journald understands. */
#include "autoconf.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "util/log.h"

/*
 * The level is process-wide on purpose: it is set from the config or the
 * admin socket and read by every event loop, and a torn read of an int is
 * harmless.
 */
static int log_level = LOG_INFO;

static const char *const level_names[] = {
	[LOG_EMERG] = "emerg", [LOG_ALERT] = "alert", [LOG_CRIT] = "crit",
	[LOG_ERR] = "error", [LOG_WARNING] = "warning",
	[LOG_NOTICE] = "notice", [LOG_INFO] = "info", [LOG_DEBUG] = "debug",
};

void
log_set_level(int level)
{
	log_level = level;
}

int
log_get_level(void)
{
	return log_level;
}

const char *
log_level_name(int level)
{
	if (level < 0 || level > LOG_DEBUG)
		return NULL;
	return level_names[level];
}

int
log_level_parse(const char *name)
{
	for (int i = LOG_ERR; i <= LOG_DEBUG; i++)
		if (strcasecmp(name, level_names[i]) == 0)
			return i;
	return -1;
}

void
log_msg(int prio, const char *fmt, ...)
{
	char line[2048];
	va_list ap;
	int n;

	if (prio > log_level)
		return;
	/*
	 * Under systemd stderr is a pipe to journald, which reads the "<N>"
	 * prefix as the priority; a person at a terminal gets a timestamp.
	 */
	if (isatty(STDERR_FILENO)) {
		struct timespec ts;
		struct tm tm;

		clock_gettime(CLOCK_REALTIME, &ts);
		localtime_r(&ts.tv_sec, &tm);
		n = (int)strftime(line, sizeof(line), "%H:%M:%S ", &tm);
		n += snprintf(line + n, sizeof(line) - (size_t)n, "%s: ",
		    level_names[prio]);
	} else
		n = snprintf(line, sizeof(line), "<%d>", prio);
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	n = (int)strlen(line);
	if (n < (int)sizeof(line) - 1)
		line[n++] = '\n';
	else
		line[sizeof(line) - 2] = '\n', n = (int)sizeof(line) - 1;
	/* One write per line, so lines from a crash are never interleaved. */
	if (write(STDERR_FILENO, line, (size_t)n) < 0)
		return;
}
