/* Reconnection delays: exponential backoff with a cap and jitter. */
#ifndef WSH_CLIENT_BACKOFF_H
#define WSH_CLIENT_BACKOFF_H

#include <stdint.h>

#define BACKOFF_MIN_MS		100	/* first wait */
#define BACKOFF_MAX_MS		10000	/* cap */
#define BACKOFF_JITTER_PCT	20	/* each wait is cut by up to this much */

/*
 * The wait before attempt |retry| (1 for the first retry) without jitter:
 * |min_ms| doubled |retry| - 1 times, capped at |max_ms|.
 */
uint32_t	backoff_base(uint32_t min_ms, uint32_t max_ms, unsigned retry);

/*
 * The wait with jitter: uniform in [base * (100 - |jitter_pct|) / 100,
 * base], drawn from the random word |rnd|. Never more than the cap, so
 * jitter spreads clients out without lengthening the worst case.
 */
uint32_t	backoff_delay(uint32_t min_ms, uint32_t max_ms,
		    unsigned jitter_pct, unsigned retry, uint32_t rnd);

#endif
