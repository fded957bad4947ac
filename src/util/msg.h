/* Refcounted wire messages: a frame built once and shared by every receiver. */
#ifndef WSH_UTIL_MSG_H
#define WSH_UTIL_MSG_H

#include <stddef.h>
#include <stdint.h>

/*
 * A msg holds bytes ready for the wire (a WebSocket frame header and its
 * payload, or an HTTP response). Fan-out queues references to one msg in
 * every receiver's output queue instead of copying the payload; the last
 * msg_unref() frees it. The bytes never change after the msg is queued.
 */
struct msg {
	uint32_t	 refs;
	uint32_t	 len;		/* bytes in data */
	/*
	 * A channel message carries its channel's sequence number and a
	 * pointer to its own copy of the channel name (stored after data),
	 * so a connection that drops queued messages can say which ones.
	 * Both are 0/NULL for other messages.
	 */
	uint64_t	 seq;
	const char	*channel;
	/*
	 * Compressed forms of this frame (permessage-deflate), one per
	 * compressor window, made on the first send to a connection that
	 * wants that form and released with the msg. Each form is a msg of
	 * its own (a connection queues it like any other) and holds the next
	 * form of the chain; |zbits| is the window a form was made with.
	 */
	struct msg	*deflated;
	uint8_t		 zbits;
	uint8_t		 data[];
};

/* The largest msg: a frame length must fit the 32-bit len field. */
#define MSG_MAX_LEN	(UINT32_MAX - 64)

/* A msg of |len| uninitialised bytes with one reference, or NULL. */
struct msg *msg_new(size_t len);

/*
 * A complete unmasked server frame (FIN set) for |opcode| carrying |len|
 * bytes of |payload|, or NULL on allocation failure or oversize.
 */
struct msg *msg_frame(unsigned opcode, const void *payload, size_t len);

/*
 * Like msg_frame() but the payload is left for the caller to fill at
 * msg_frame_payload(); lets an encoder write straight into the frame.
 */
struct msg *msg_frame_alloc(unsigned opcode, size_t len, uint8_t **payload);

/*
 * Like msg_frame_alloc() for a message of channel |name| (|name_len|
 * bytes) with sequence number |seq|: the name is copied into the msg.
 */
struct msg *msg_frame_alloc_channel(unsigned opcode, size_t len,
	    uint8_t **payload, const char *name, size_t name_len, uint64_t seq);

/*
 * The payload of the frame in |m| (a server frame as msg_frame() builds
 * it): its start, with the length in |*len| and the opcode in |*opcode|.
 */
const uint8_t *msg_frame_payload(const struct msg *m, size_t *len,
	    unsigned *opcode);

/* The compressed form of |m| made with window |bits|, or NULL. */
struct msg *msg_deflated_get(const struct msg *m, unsigned bits);

/*
 * Attach to |m| a compressed form made with window |bits|: a frame with
 * RSV1 set, the opcode of |m| and the |len| compressed bytes |z|. The form
 * carries the channel and sequence of |m|. Returns it (owned by |m|; take
 * a reference to keep it), or NULL when out of memory.
 */
struct msg *msg_deflated_add(struct msg *m, unsigned bits, const uint8_t *z,
	    size_t len);

static inline struct msg *
msg_ref(struct msg *m)
{
	m->refs++;
	return m;
}

/*
 * Drop one reference; frees the msg with the last one, and with it its
 * compressed forms that nobody else holds. NULL is a no-op.
 */
void	msg_unref(struct msg *m);

#endif
