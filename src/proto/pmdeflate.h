/* permessage-deflate (RFC 7692): negotiation for both sides and the zlib codec, without I/O. */
#ifndef WSH_PROTO_PMDEFLATE_H
#define WSH_PROTO_PMDEFLATE_H

#include <stddef.h>
#include <stdint.h>

#include "proto/http1.h"
#include "proto/wsext.h"

#define PMD_NAME	"permessage-deflate"
#define PMD_BITS_MIN	8
#define PMD_BITS_MAX	15

/*
 * What one connection agreed on. Window bits are the largest LZ77 window
 * each side's compressor may use (15 when the parameter was not
 * negotiated); a receiver inflates with at least that window.
 */
struct pmd_params {
	uint8_t		 server_no_context_takeover;
	uint8_t		 client_no_context_takeover;
	uint8_t		 server_max_window_bits;
	uint8_t		 client_max_window_bits;
};

/* What a server grants. */
struct pmd_server_conf {
	/*
	 * Answer with server_no_context_takeover even when the client did
	 * not ask (RFC 7692 7.1.1.1 allows it): every message is then
	 * compressed on its own, so one compressed form serves every
	 * subscriber with the same window.
	 */
	int		 server_no_context_takeover;
	/* Answer with client_no_context_takeover even when not offered. */
	int		 client_no_context_takeover;
	/* Largest window our compressor uses, PMD_BITS_MIN..PMD_BITS_MAX. */
	unsigned	 window_bits;
};

/*
 * The extension for ws_ext_server_negotiate(): conf is a struct
 * pmd_server_conf, agreed a struct pmd_params.
 */
extern const struct ws_extension pmd_extension;

/*
 * Server side: accept |offer| (its name already matched) under |conf|.
 * Returns 1 with |*p| set and the response element in |out|, or 0 when
 * the offer must be declined (RFC 7692 5.1: unknown or repeated
 * parameter, invalid value).
 */
int	pmd_server_accept(const struct pmd_server_conf *conf,
	    const struct ws_ext_offer *offer, struct pmd_params *p, char *out,
	    size_t outlen);

/* What a client offers. */
struct pmd_client_conf {
	int		 server_no_context_takeover;	/* ask the server for it */
	int		 client_no_context_takeover;	/* promise it */
	unsigned	 server_max_window_bits;	/* ask for it; 0 = don't */
	unsigned	 client_max_window_bits;	/* 0 = offer the bare
							   parameter (any value
							   accepted), else limit */
};

/*
 * Client side: write the offer (one element, "permessage-deflate; ...")
 * for a Sec-WebSocket-Extensions header to |out|. Returns its length, or
 * 0 when |outlen| is too small.
 */
size_t	pmd_client_offer(const struct pmd_client_conf *conf, char *out,
	    size_t outlen);

/*
 * Client side: check the server's Sec-WebSocket-Extensions values against
 * our offer. Returns 1 with |*p| set when the server accepted
 * permessage-deflate, 0 when the response has no extension, or -1 when the
 * response is one the client must fail the connection for (RFC 6455 4.1,
 * RFC 7692 5.1 and 7.1: an extension not offered, a repeated extension or
 * parameter, a value out of range or above what we offered); |*reason|
 * names the problem.
 */
int	pmd_client_confirm(const struct pmd_client_conf *conf,
	    const struct http_str *values, size_t nvalues, struct pmd_params *p,
	    const char **reason);

/*
 * The codec. A deflater compresses whole messages for one sender; an
 * inflater decompresses one peer's messages. Both hold a zlib stream:
 * allocate them only on a connection that negotiated the extension, and
 * free an inflater between messages when the peer does no context
 * takeover.
 */
struct pmd_deflater;
struct pmd_inflater;

/*
 * A compressor with zlib |level| (1..9) and |mem_level| (1..9) for a
 * window of |window_bits| (8..15). zlib cannot make an 8-bit window, so
 * 8 means Huffman coding only: no back-references at all, which honours
 * any window the peer asked for. NULL when out of memory.
 */
struct pmd_deflater *pmd_deflater_new(int level, int mem_level,
	    unsigned window_bits);
void	pmd_deflater_free(struct pmd_deflater *d);

/*
 * Compress the message |in| (|len| bytes): |*out| and |*outlen| receive
 * the payload of a compressed frame (the final 0x00 0x00 0xff 0xff of the
 * sync flush removed, RFC 7692 7.2.1), valid until the next call on |d|.
 * With |reset| the context is dropped afterwards (no context takeover).
 * Returns 0, or -1 when out of memory (the context is then reset).
 */
int	pmd_deflate(struct pmd_deflater *d, const uint8_t *in, size_t len,
	    int reset, const uint8_t **out, size_t *outlen);

/* Drop the compression context, e.g. after messages were discarded. */
void	pmd_deflater_reset(struct pmd_deflater *d);

/* Free the output buffer held between calls. */
void	pmd_deflater_trim(struct pmd_deflater *d);

/* A decompressor for a peer window of |window_bits|, or NULL. */
struct pmd_inflater *pmd_inflater_new(unsigned window_bits);
void	pmd_inflater_free(struct pmd_inflater *z);

/* pmd_inflate() results. */
#define PMD_MORE	0	/* all input used; the message goes on */
#define PMD_FULL	1	/* |out| is full: call again with more room */
#define PMD_DONE	2	/* |fin| was set and the message is complete */
#define PMD_EDATA	(-1)	/* not valid DEFLATE data (close 1007) */
#define PMD_ENOMEM	(-2)	/* out of memory (close 1011) */

/*
 * Inflate compressed message bytes from |*in| (|*inlen|, both advanced)
 * into |out| (|room| bytes); |*produced| receives the bytes written. Set
 * |fin| once the message's last bytes are given (or with none left): the
 * tail 0x00 0x00 0xff 0xff is then appended and the context kept or reset
 * for the next message. Never writes more than |room|, whatever the input
 * expands to, so a caller bounds a message by the room it gives.
 */
int	pmd_inflate(struct pmd_inflater *z, const uint8_t **in, size_t *inlen,
	    uint8_t *out, size_t room, size_t *produced, int fin);

#endif
