/* Logging to stderr with syslog priority prefixes that journald understands. */
#ifndef WSH_UTIL_LOG_H
#define WSH_UTIL_LOG_H

#include <syslog.h>

/* Set the most verbose priority printed (LOG_ERR .. LOG_DEBUG). */
void	log_set_level(int level);
int	log_get_level(void);

/* Name of a priority ("info"), or NULL; and the reverse, -1 when unknown. */
const char *log_level_name(int level);
int	log_level_parse(const char *name);

void	log_msg(int prio, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));

#define log_err(...)	log_msg(LOG_ERR, __VA_ARGS__)
#define log_warn(...)	log_msg(LOG_WARNING, __VA_ARGS__)
#define log_notice(...)	log_msg(LOG_NOTICE, __VA_ARGS__)
#define log_info(...)	log_msg(LOG_INFO, __VA_ARGS__)
/* Debug messages skip formatting entirely when debug output is off. */
#define log_debug(...) do {					\
	if (log_get_level() >= LOG_DEBUG)			\
		log_msg(LOG_DEBUG, __VA_ARGS__);		\
} while (0)

#endif
