/* permessage-deflate (RFC 7692): negotiation for both sides and the zlib codec, without I/O. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "proto/http1.h"
#include "proto/pmdeflate.h"
#include "proto/wsext.h"

/* The end of a sync flush, stripped by senders and restored by receivers. */
static const uint8_t pmd_tail[4] = { 0x00, 0x00, 0xff, 0xff };

/* Output buffers above this size are not kept between messages. */
#define PMD_KEEP_BUF	(64 * 1024)

/* Offer parameters, as bits for spotting repeats. */
#define PMD_P_SNCT	0x01
#define PMD_P_CNCT	0x02
#define PMD_P_SMWB	0x04
#define PMD_P_CMWB	0x08

/*
 * A window-bits value: a decimal integer 8..15 without leading zeros
 * (RFC 7692 7.1.2.1). Returns it, or 0 when invalid.
 */
static unsigned
pmd_bits(const struct ws_ext_param *p)
{
	if (!p->has_value || p->value[0] < '1' || p->value[0] > '9')
		return 0;
	if (p->value[1] == '\0')
		return p->value[0] == '8' || p->value[0] == '9' ?
		    (unsigned)(p->value[0] - '0') : 0;
	if (p->value[0] == '1' && p->value[1] >= '0' && p->value[1] <= '5' &&
	    p->value[2] == '\0')
		return 10 + (unsigned)(p->value[1] - '0');
	return 0;
}

/*
 * The parameters of |o|: which ones were present (|*seen|) and the window
 * values (0 when absent or bare). Returns -1 for anything that makes the
 * element unacceptable: an unknown or repeated parameter, a value where
 * none belongs, a bad window value. |client_max_window_bits| may be bare
 * in an offer (|response| 0) but needs a value in a response.
 */
static int
pmd_parse_params(const struct ws_ext_offer *o, int response, unsigned *seen,
    unsigned *sbits, unsigned *cbits)
{
	const struct ws_ext_param	*p;
	unsigned			 bit;

	*seen = 0;
	*sbits = *cbits = 0;
	if (o->oversize)
		return -1;
	for (unsigned i = 0; i < o->nparams; i++) {
		p = &o->params[i];
		if (ws_ext_param_is(p, "server_no_context_takeover"))
			bit = PMD_P_SNCT;
		else if (ws_ext_param_is(p, "client_no_context_takeover"))
			bit = PMD_P_CNCT;
		else if (ws_ext_param_is(p, "server_max_window_bits"))
			bit = PMD_P_SMWB;
		else if (ws_ext_param_is(p, "client_max_window_bits"))
			bit = PMD_P_CMWB;
		else
			return -1;
		if (*seen & bit)
			return -1;
		*seen |= bit;
		switch (bit) {
		case PMD_P_SNCT:
		case PMD_P_CNCT:
			if (p->has_value)
				return -1;
			break;
		case PMD_P_SMWB:
			if ((*sbits = pmd_bits(p)) == 0)
				return -1;
			break;
		case PMD_P_CMWB:
			if (p->has_value || response) {
				if ((*cbits = pmd_bits(p)) == 0)
					return -1;
			}
			break;
		}
	}
	return 0;
}

int
pmd_server_accept(const struct pmd_server_conf *conf,
    const struct ws_ext_offer *o, struct pmd_params *p, char *out,
    size_t outlen)
{
	unsigned	 seen, sbits, cbits, ours;
	int		 n;

	if (pmd_parse_params(o, 0, &seen, &sbits, &cbits) == -1)
		return 0;
	ours = conf->window_bits;
	if (ours < PMD_BITS_MIN || ours > PMD_BITS_MAX)
		ours = PMD_BITS_MAX;
	memset(p, 0, sizeof(*p));
	p->server_no_context_takeover = (seen & PMD_P_SNCT) ||
	    conf->server_no_context_takeover;
	p->client_no_context_takeover = (seen & PMD_P_CNCT) ||
	    conf->client_no_context_takeover;
	/*
	 * Our compressor's window is the smaller of ours and the one asked
	 * for, which the response must then name (7.1.2.1). We never limit
	 * the client's window: our inflater takes any, and the client's
	 * client_max_window_bits is only a hint that it could be limited.
	 */
	p->server_max_window_bits = (uint8_t)ours;
	if (sbits != 0 && sbits < ours)
		p->server_max_window_bits = (uint8_t)sbits;
	p->client_max_window_bits = PMD_BITS_MAX;
	n = snprintf(out, outlen, "%s%s%s", PMD_NAME,
	    p->server_no_context_takeover ? "; server_no_context_takeover" : "",
	    p->client_no_context_takeover ? "; client_no_context_takeover" : "");
	if (n < 0 || (size_t)n >= outlen)
		return 0;
	if (sbits != 0) {
		size_t used = (size_t)n;

		n = snprintf(out + used, outlen - used,
		    "; server_max_window_bits=%u", p->server_max_window_bits);
		if (n < 0 || (size_t)n >= outlen - used)
			return 0;
	}
	return 1;
}

static int
pmd_ext_accept(const void *conf, const struct ws_ext_offer *offer,
    void *agreed, char *out, size_t outlen)
{
	return pmd_server_accept(conf, offer, agreed, out, outlen);
}

const struct ws_extension pmd_extension = {
	.name = PMD_NAME,
	.rsv = 0x4,		/* RSV1: "Per-Message Compressed" */
	.server_accept = pmd_ext_accept,
};

size_t
pmd_client_offer(const struct pmd_client_conf *conf, char *out, size_t outlen)
{
	char	 sb[40] = "", cb[40] = "";
	int	 n;

	if (conf->server_max_window_bits != 0)
		snprintf(sb, sizeof(sb), "; server_max_window_bits=%u",
		    conf->server_max_window_bits);
	if (conf->client_max_window_bits != 0)
		snprintf(cb, sizeof(cb), "; client_max_window_bits=%u",
		    conf->client_max_window_bits);
	else
		snprintf(cb, sizeof(cb), "; client_max_window_bits");
	n = snprintf(out, outlen, "%s%s%s%s%s", PMD_NAME,
	    conf->server_no_context_takeover ?
	    "; server_no_context_takeover" : "",
	    conf->client_no_context_takeover ?
	    "; client_no_context_takeover" : "", sb, cb);
	if (n < 0 || (size_t)n >= outlen)
		return 0;
	return (size_t)n;
}

int
pmd_client_confirm(const struct pmd_client_conf *conf,
    const struct http_str *values, size_t nvalues, struct pmd_params *p,
    const char **reason)
{
	struct ws_ext_offer	 o;
	unsigned		 seen, sbits, cbits;
	size_t			 pos;
	int			 rc, found = 0;

	memset(p, 0, sizeof(*p));
	for (size_t h = 0; h < nvalues; h++) {
		pos = 0;
		while ((rc = ws_ext_parse_next(values[h], &pos, &o, reason)) == 1) {
			if (!http_str_eq(o.name, PMD_NAME)) {
				*reason = "server accepted an extension we did not offer";
				return -1;
			}
			if (found) {
				*reason = "server accepted permessage-deflate twice";
				return -1;
			}
			found = 1;
			if (pmd_parse_params(&o, 1, &seen, &sbits, &cbits) == -1) {
				*reason = "bad permessage-deflate parameters in the response";
				return -1;
			}
			if (conf->server_max_window_bits != 0 &&
			    (sbits == 0 || sbits > conf->server_max_window_bits)) {
				*reason = "server_max_window_bits missing or above our offer";
				return -1;
			}
			if ((seen & PMD_P_CMWB) && conf->client_max_window_bits != 0 &&
			    cbits > conf->client_max_window_bits) {
				*reason = "client_max_window_bits above our offer";
				return -1;
			}
			p->server_no_context_takeover = (seen & PMD_P_SNCT) != 0;
			p->client_no_context_takeover = (seen & PMD_P_CNCT) != 0 ||
			    conf->client_no_context_takeover;
			p->server_max_window_bits = (uint8_t)(sbits != 0 ? sbits :
			    PMD_BITS_MAX);
			if (cbits != 0)
				p->client_max_window_bits = (uint8_t)cbits;
			else if (conf->client_max_window_bits != 0)
				p->client_max_window_bits =
				    (uint8_t)conf->client_max_window_bits;
			else
				p->client_max_window_bits = PMD_BITS_MAX;
		}
		if (rc == -1)
			return -1;
	}
	return found;
}

/* ---- codec ---- */

struct pmd_deflater {
	z_stream	 zs;
	uint8_t		*buf;		/* output of the last message */
	size_t		 cap;
};

struct pmd_deflater *
pmd_deflater_new(int level, int mem_level, unsigned window_bits)
{
	struct pmd_deflater	*d;
	int			 strategy = Z_DEFAULT_STRATEGY;

	if ((d = calloc(1, sizeof(*d))) == NULL)
		return NULL;
	if (window_bits <= 8) {
		window_bits = 9;
		strategy = Z_HUFFMAN_ONLY;
	} else if (window_bits > PMD_BITS_MAX)
		window_bits = PMD_BITS_MAX;
	/* Negative bits: raw DEFLATE, no zlib header or checksum. */
	if (deflateInit2(&d->zs, level, Z_DEFLATED, -(int)window_bits,
	    mem_level, strategy) != Z_OK) {
		free(d);
		return NULL;
	}
	return d;
}

void
pmd_deflater_free(struct pmd_deflater *d)
{
	if (d == NULL)
		return;
	deflateEnd(&d->zs);
	free(d->buf);
	free(d);
}

void
pmd_deflater_reset(struct pmd_deflater *d)
{
	deflateReset(&d->zs);
}

void
pmd_deflater_trim(struct pmd_deflater *d)
{
	free(d->buf);
	d->buf = NULL;
	d->cap = 0;
}

/* Make room for |need| bytes of output, keeping what is there. */
static int
pmd_deflater_grow(struct pmd_deflater *d, size_t need)
{
	uint8_t	*nb;

	if (need <= d->cap)
		return 0;
	if ((nb = realloc(d->buf, need)) == NULL)
		return -1;
	d->buf = nb;
	d->cap = need;
	return 0;
}

int
pmd_deflate(struct pmd_deflater *d, const uint8_t *in, size_t len, int reset,
    const uint8_t **out, size_t *outlen)
{
	size_t	 used = 0, need;
	int	 rc;

	if (d->cap > PMD_KEEP_BUF)
		pmd_deflater_trim(d);
	/* The bound plus room for the flush's empty stored block. */
	need = deflateBound(&d->zs, (uLong)len) + 16;
	if (pmd_deflater_grow(d, need) == -1)
		goto fail;
	d->zs.next_in = (Bytef *)(uintptr_t)in;
	d->zs.avail_in = (uInt)len;
	for (;;) {
		d->zs.next_out = d->buf + used;
		d->zs.avail_out = (uInt)(d->cap - used);
		rc = deflate(&d->zs, Z_SYNC_FLUSH);
		used = d->cap - d->zs.avail_out;
		if (rc != Z_OK && rc != Z_BUF_ERROR)
			goto fail;
		/* Done when the flush fitted: zlib left room over. */
		if (d->zs.avail_out > 0 && d->zs.avail_in == 0)
			break;
		if (pmd_deflater_grow(d, d->cap * 2) == -1)
			goto fail;
	}
	/* A sync flush always ends with the empty stored block's tail. */
	if (used < 4 || memcmp(d->buf + used - 4, pmd_tail, 4) != 0)
		goto fail;
	used -= 4;
	if (reset)
		deflateReset(&d->zs);
	*out = d->buf;
	*outlen = used;
	return 0;
fail:
	deflateReset(&d->zs);
	return -1;
}

struct pmd_inflater {
	z_stream	 zs;
	unsigned	 bits;
	uint8_t		 tail_fed;	/* bytes of pmd_tail given to zlib */
	uint8_t		 flushed;	/* the last call left output room */
	uint8_t		 ended;		/* a final block (BFINAL) was seen */
};

struct pmd_inflater *
pmd_inflater_new(unsigned window_bits)
{
	struct pmd_inflater *z;

	if ((z = calloc(1, sizeof(*z))) == NULL)
		return NULL;
	/*
	 * zlib's deflate cannot make an 8-bit window and some senders quietly
	 * use 9 instead; a larger inflate window accepts either.
	 */
	if (window_bits < 9)
		window_bits = 9;
	if (window_bits > PMD_BITS_MAX)
		window_bits = PMD_BITS_MAX;
	z->bits = window_bits;
	if (inflateInit2(&z->zs, -(int)window_bits) != Z_OK) {
		free(z);
		return NULL;
	}
	return z;
}

void
pmd_inflater_free(struct pmd_inflater *z)
{
	if (z == NULL)
		return;
	inflateEnd(&z->zs);
	free(z);
}

/*
 * The message is complete. After a final block zlib's stream is over, so
 * it is restarted; the window is carried over, because a sender with
 * context takeover may still refer to it in the next message.
 */
static int
pmd_inflate_finish(struct pmd_inflater *z)
{
	uint8_t	*dict;
	uInt	 dlen = 0;
	int	 rc = 0;

	if (z->ended) {
		if ((dict = malloc((size_t)1 << z->bits)) == NULL)
			return -1;
		if (inflateGetDictionary(&z->zs, dict, &dlen) != Z_OK ||
		    inflateReset(&z->zs) != Z_OK ||
		    (dlen > 0 && inflateSetDictionary(&z->zs, dict, dlen) != Z_OK))
			rc = -1;
		free(dict);
	}
	z->tail_fed = 0;
	z->flushed = 0;
	z->ended = 0;
	return rc;
}

int
pmd_inflate(struct pmd_inflater *z, const uint8_t **in, size_t *inlen,
    uint8_t *out, size_t room, size_t *produced, int fin)
{
	const uint8_t	*src;
	size_t		 srclen, used, n;
	int		 rc, tail;

	*produced = 0;
	for (;;) {
		if (z->ended) {
			/* Whatever follows a final block is ignored. */
			*in += *inlen;
			*inlen = 0;
			if (!fin)
				return PMD_MORE;
			return pmd_inflate_finish(z) == -1 ? PMD_ENOMEM :
			    PMD_DONE;
		}
		tail = 0;
		if (*inlen > 0) {
			src = *in;
			srclen = *inlen;
		} else if (!fin)
			return PMD_MORE;
		else if (z->tail_fed < sizeof(pmd_tail)) {
			src = pmd_tail + z->tail_fed;
			srclen = sizeof(pmd_tail) - z->tail_fed;
			tail = 1;
		} else if (z->flushed) {
			return pmd_inflate_finish(z) == -1 ? PMD_ENOMEM :
			    PMD_DONE;
		} else {
			/* Everything is in; drain output zlib still holds. */
			src = pmd_tail;
			srclen = 0;
		}
		if (*produced == room)
			return PMD_FULL;
		z->zs.next_in = (Bytef *)(uintptr_t)src;
		z->zs.avail_in = (uInt)srclen;
		z->zs.next_out = out + *produced;
		z->zs.avail_out = (uInt)(room - *produced);
		rc = inflate(&z->zs, Z_SYNC_FLUSH);
		used = srclen - z->zs.avail_in;
		n = (room - *produced) - z->zs.avail_out;
		*produced += n;
		if (tail)
			z->tail_fed += (uint8_t)used;
		else if (srclen > 0) {
			*in += used;
			*inlen -= used;
		}
		z->flushed = z->zs.avail_out > 0;
		switch (rc) {
		case Z_OK:
			break;
		case Z_STREAM_END:
			z->ended = 1;
			break;
		case Z_BUF_ERROR:
			/*
			 * No progress: out of input (handled above on the next
			 * turn) or out of room, or the tail is in and nothing
			 * is pending.
			 */
			if (used == 0 && n == 0 && z->zs.avail_out > 0)
				z->flushed = 1;
			break;
		case Z_MEM_ERROR:
			return PMD_ENOMEM;
		default:
			return PMD_EDATA;
		}
		/* A Z_BUF_ERROR without progress and with input left: stuck. */
		if (rc == Z_BUF_ERROR && used == 0 && n == 0 && srclen > 0 &&
		    z->zs.avail_out > 0)
			return PMD_EDATA;
	}
}
