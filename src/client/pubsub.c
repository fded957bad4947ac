/* The wshub.v1 subprotocol on the client: positions, resubscription, recovery. */
#include "autoconf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "client/client.h"
#include "proto/envelope.h"
#include "proto/frame.h"

static struct client_channel *
pubsub_find(struct wsh_client *c, const char *name)
{
	struct client_channel	*ch;

	TAILQ_FOREACH(ch, &c->channels, entry) {
		if (strcmp(ch->name, name) == 0)
			return ch;
	}
	return NULL;
}

static int
pubsub_usable(struct wsh_client *c)
{
	return c->phase == PH_OPEN && c->subproto != NULL &&
	    strcmp(c->subproto, ENVELOPE_PROTOCOL) == 0;
}

/* Send |obj| (consumed) as a text message. */
static int
pubsub_send(struct wsh_client *c, json_t *obj)
{
	char	*s;
	int	 rc;

	if (obj == NULL)
		return -1;
	s = json_dumps(obj, JSON_COMPACT);
	json_decref(obj);
	if (s == NULL)
		return -1;
	rc = client_send_frame(c, WS_OP_TEXT, 1, s, strlen(s));
	free(s);
	return rc;
}

/* The subscribe command, asking for recovery when a position is known. */
static int
pubsub_send_subscribe(struct wsh_client *c, struct client_channel *ch)
{
	char	 id[32], pos[ENVELOPE_POSITION_MAX + 1];
	char	 epoch[ENVELOPE_EPOCH_LEN + 1];
	json_t	*obj;

	(void)snprintf(id, sizeof(id), "sub-%llu",
	    (unsigned long long)++c->next_id);
	obj = json_pack("{s:s, s:s, s:s}", "op", "subscribe", "channel",
	    ch->name, "id", id);
	if (obj != NULL && ch->have_pos) {
		envelope_epoch_format(ch->epoch, epoch);
		(void)snprintf(pos, sizeof(pos), "%s:%llu", epoch,
		    (unsigned long long)ch->seq);
		(void)json_object_set_new(obj, "since", json_string(pos));
	}
	return pubsub_send(c, obj);
}

void
pubsub_opened(struct wsh_client *c)
{
	struct client_channel	*ch;

	if (!pubsub_usable(c))
		return;
	/*
	 * Every channel again, from where we were; URL channels are
	 * subscribed by the server and recovered by Last-Event-ID.
	 */
	TAILQ_FOREACH(ch, &c->channels, entry) {
		if (!ch->url)
			(void)pubsub_send_subscribe(c, ch);
	}
}

int
pubsub_subscribe(struct wsh_client *c, const char *channel)
{
	struct client_channel	*ch;

	if (strlen(channel) == 0 || strlen(channel) > CLIENT_CHANNEL_MAX)
		return -1;
	if ((ch = pubsub_find(c, channel)) == NULL) {
		if ((ch = calloc(1, sizeof(*ch))) == NULL ||
		    (ch->name = strdup(channel)) == NULL) {
			free(ch);
			return -1;
		}
		TAILQ_INSERT_TAIL(&c->channels, ch, entry);
	} else
		return 0;
	/* Not open yet: the subscription goes out when it opens. */
	if (!pubsub_usable(c))
		return 0;
	return pubsub_send_subscribe(c, ch);
}

int
pubsub_unsubscribe(struct wsh_client *c, const char *channel)
{
	struct client_channel	*ch;

	if ((ch = pubsub_find(c, channel)) == NULL)
		return -1;
	TAILQ_REMOVE(&c->channels, ch, entry);
	free(ch->name);
	free(ch);
	if (!pubsub_usable(c))
		return 0;
	return pubsub_send(c, json_pack("{s:s, s:s}", "op", "unsubscribe",
	    "channel", channel));
}

int
pubsub_publish(struct wsh_client *c, const char *channel, const void *data,
    size_t len, int binary)
{
	char	 id[32];
	json_t	*obj, *val;
	uint8_t	*b64;

	if (!pubsub_usable(c))
		return -1;
	(void)snprintf(id, sizeof(id), "pub-%llu",
	    (unsigned long long)++c->next_id);
	if (binary) {
		if ((b64 = malloc(envelope_b64_size(len) + 1)) == NULL)
			return -1;
		envelope_b64_encode(b64, data, len);
		val = json_stringn((const char *)b64, envelope_b64_size(len));
		free(b64);
	} else
		val = json_stringn(data, len);
	if (val == NULL)
		return -1;
	obj = json_pack("{s:s, s:s, s:s, s:o}", "op", "publish", "channel",
	    channel, "id", id, binary ? "data_b64" : "data", val);
	return pubsub_send(c, obj);
}

/* Read "epoch" (hex) and "seq" of |obj|; 0 when both are there. */
static int
pubsub_position(json_t *obj, uint64_t *epoch, uint64_t *seq)
{
	json_t		*e = json_object_get(obj, "epoch");
	json_t		*s = json_object_get(obj, "seq");

	if (!json_is_string(e) || !json_is_integer(s) ||
	    json_integer_value(s) < 0 ||
	    envelope_epoch_parse(json_string_value(e), json_string_length(e),
	    epoch) == -1)
		return -1;
	*seq = (uint64_t)json_integer_value(s);
	return 0;
}

static void
pubsub_set(struct client_channel *ch, uint64_t epoch, uint64_t seq)
{
	ch->have_pos = 1;
	ch->epoch = epoch;
	ch->seq = seq;
}

int
pubsub_message(struct wsh_client *c, const uint8_t *data, size_t len)
{
	struct client_channel	*ch = NULL;
	struct wsh_event	 ev;
	json_t			*root, *v, *id;
	const char		*op, *chname = NULL;
	uint64_t		 epoch = 0, seq = 0;
	uint8_t			*bin = NULL;
	long			 n;

	memset(&ev, 0, sizeof(ev));
	ev.reason = "";
	root = json_loadb((const char *)data, len, 0, NULL);
	op = root != NULL ? json_string_value(json_object_get(root, "op")) :
	    NULL;
	if (op == NULL) {
		/* Not an envelope: hand it over as it came. */
		json_decref(root);
		ev.type = WSH_EV_MESSAGE;
		ev.data = data;
		ev.len = len;
		client_emit(c, &ev);
		return 0;
	}
	if ((v = json_object_get(root, "channel")) != NULL &&
	    json_is_string(v)) {
		chname = json_string_value(v);
		ch = pubsub_find(c, chname);
		/* Track URL channels too, so a reconnect can recover them. */
		if (ch == NULL && strcmp(op, "subscribed") == 0 &&
		    strlen(chname) <= CLIENT_CHANNEL_MAX &&
		    (ch = calloc(1, sizeof(*ch))) != NULL) {
			if ((ch->name = strdup(chname)) == NULL) {
				free(ch);
				ch = NULL;
			} else {
				ch->url = 1;
				TAILQ_INSERT_TAIL(&c->channels, ch, entry);
			}
		}
	}
	ev.channel = chname;
	ev.op = op;
	if (strcmp(op, "message") == 0 && chname != NULL &&
	    pubsub_position(root, &epoch, &seq) == 0) {
		/* A message already seen (a replay overlap) is dropped. */
		if (ch != NULL && ch->have_pos && ch->epoch == epoch &&
		    seq <= ch->seq) {
			json_decref(root);
			return 0;
		}
		if (ch != NULL)
			pubsub_set(ch, epoch, seq);
		ev.type = WSH_EV_MESSAGE;
		ev.seq = seq;
		ev.epoch = epoch;
		if ((v = json_object_get(root, "data")) != NULL &&
		    json_is_string(v)) {
			ev.data = (const uint8_t *)json_string_value(v);
			ev.len = json_string_length(v);
		} else if ((v = json_object_get(root, "data_b64")) != NULL &&
		    json_is_string(v)) {
			bin = malloc(json_string_length(v) / 4 * 3 + 1);
			n = bin == NULL ? -1 : envelope_b64_decode(bin,
			    json_string_value(v), json_string_length(v));
			if (n >= 0) {
				ev.data = bin;
				ev.len = (size_t)n;
				ev.binary = 1;
			}
		}
		if (ev.data == NULL)
			ev.data = (const uint8_t *)"";
		client_emit(c, &ev);
		free(bin);
		json_decref(root);
		return 0;
	}
	if (ch != NULL && pubsub_position(root, &epoch, &seq) == 0) {
		id = json_object_get(root, "id");
		/*
		 * The answer to our subscribe, or a URL subscription, gives
		 * the starting point when we have none; a gap gives the
		 * position to continue from. A publish's ack does not move
		 * what we have seen.
		 */
		if ((strcmp(op, "subscribed") == 0 || (strcmp(op, "ack") == 0 &&
		    json_is_string(id) && strncmp(json_string_value(id), "sub-",
		    4) == 0)) && !ch->have_pos)
			pubsub_set(ch, epoch, seq);
		else if (strcmp(op, "gap") == 0)
			pubsub_set(ch, epoch, seq);
		ev.seq = seq;
		ev.epoch = epoch;
	}
	ev.type = WSH_EV_REPLY;
	ev.data = data;
	ev.len = len;
	client_emit(c, &ev);
	json_decref(root);
	return 0;
}

int
pubsub_last_event_id(struct wsh_client *c, char *buf, size_t len)
{
	struct client_channel	*ch;
	char			 epoch[ENVELOPE_EPOCH_LEN + 1];
	size_t			 off = 0;
	int			 any = 0, n;

	if (!c->pubsub)
		return 0;
	/* One position per URL channel, in the order the server gave them. */
	TAILQ_FOREACH(ch, &c->channels, entry) {
		if (!ch->url)
			continue;
		if (off > 0)
			buf[off++] = ',';
		if (ch->have_pos) {
			envelope_epoch_format(ch->epoch, epoch);
			n = snprintf(buf + off, len - off, "%s:%llu", epoch,
			    (unsigned long long)ch->seq);
			if (n < 0 || (size_t)n >= len - off - 1)
				return 0;
			off += (size_t)n;
			any = 1;
		}
		if (off + 2 >= len)
			return 0;
		buf[off] = '\0';
	}
	return any;
}

void
pubsub_free(struct wsh_client *c)
{
	struct client_channel	*ch;

	while ((ch = TAILQ_FIRST(&c->channels)) != NULL) {
		TAILQ_REMOVE(&c->channels, ch, entry);
		free(ch->name);
		free(ch);
	}
}

int
wsh_client_position(struct wsh_client *c, const char *channel,
    uint64_t *epoch, uint64_t *seq)
{
	struct client_channel	*ch;

	if ((ch = pubsub_find(c, channel)) == NULL || !ch->have_pos)
		return -1;
	*epoch = ch->epoch;
	*seq = ch->seq;
	return 0;
}
