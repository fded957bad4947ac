/* Exponential backoff with a cap and jitter for reconnection attempts. */
#include "autoconf.h"

#include <stdint.h>

#include "client/backoff.h"

uint32_t
backoff_base(uint32_t min_ms, uint32_t max_ms, unsigned retry)
{
	uint64_t	 w = min_ms;
	unsigned	 i;

	if (retry == 0)
		return 0;
	for (i = 1; i < retry && w < max_ms; i++)
		w *= 2;
	if (w > max_ms)
		w = max_ms;
	return (uint32_t)w;
}

uint32_t
backoff_delay(uint32_t min_ms, uint32_t max_ms, unsigned jitter_pct,
    unsigned retry, uint32_t rnd)
{
	uint64_t	 base, span;

	base = backoff_base(min_ms, max_ms, retry);
	if (jitter_pct > 100)
		jitter_pct = 100;
	span = base * jitter_pct / 100;
	if (span == 0)
		return (uint32_t)base;
	/* rnd % (span + 1) is within [0, span]; the bias is negligible. */
	return (uint32_t)(base - rnd % (span + 1));
}
