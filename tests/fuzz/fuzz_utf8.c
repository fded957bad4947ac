/* libFuzzer target: incremental UTF-8 validation against a reference. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "proto/utf8.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#include "../unit/utf8_ref.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t		 whole = UTF8_ACCEPT, split = UTF8_ACCEPT;
	size_t		 cut, bad;
	int		 complete;

	if (size < 1)
		return 0;
	cut = (size_t)data[0] * (size - 1) / 255;
	data++;
	size--;

	utf8_validate(&whole, data, size);
	utf8_validate(&split, data, cut);
	bad = ref_first_bad(data, size, &complete);
	/* Fail fast: the first piece is rejected iff it holds the bad byte. */
	if ((split == UTF8_REJECT) != (bad < cut))
		abort();
	utf8_validate(&split, data + cut, size - cut);
	if (split != whole)
		abort();
	if ((whole == UTF8_REJECT) != (bad < size))
		abort();
	if ((whole == UTF8_ACCEPT) != (bad == size && complete))
		abort();
	if (utf8_is_valid(data, size) != (whole == UTF8_ACCEPT))
		abort();
	return 0;
}
