/* TLS on listeners and connections with OpenSSL: contexts, handshake, I/O, reload. */
#include "autoconf.h"

#include <sys/types.h>
#include <sys/uio.h>
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "control/config.h"
#include "hub/server.h"
#include "transport/conn.h"
#include "transport/h2.h"
#include "transport/listener.h"
#include "transport/tls.h"
#include "util/log.h"
#include "util/msg.h"

/* Messages gathered into one tls_writev() by tls_flush(). */
#define TLS_IOV_BATCH		128

struct tls_ctx {
	SSL_CTX			*ctx;
};

/* tls_conn->flags */
#define TLS_F_READ_WANTS_WRITE	0x01	/* a read stopped on a full socket */
#define TLS_F_LOGGED		0x02	/* the handshake was logged */

struct tls_conn {
	SSL			*ssl;
	uint32_t		 wpend;	/* bytes of a record OpenSSL holds */
	uint8_t			 flags;
};

/* The last OpenSSL error as text, emptying the error queue. */
static const char *
tls_error(char *buf, size_t len)
{
	unsigned long e, last = 0;

	while ((e = ERR_get_error()) != 0)
		last = e;
	if (last == 0)
		snprintf(buf, len, "unknown error");
	else
		ERR_error_string_n(last, buf, len);
	return buf;
}

static int
tls_fail(char **cause, const char *name, const char *what, const char *file)
{
	char err[256];

	tls_error(err, sizeof(err));
	if (asprintf(cause, "%s: %s%s%s: %s", name, what,
	    file != NULL ? " " : "", file != NULL ? file : "", err) == -1)
		*cause = NULL;
	return -1;
}

/*
 * ALPN: HTTP/2 when the listener speaks it and the client offers it, else
 * HTTP/1.1; a client offering neither goes on without ALPN (as HTTP/1.1).
 */
static int
tls_alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
    const unsigned char *in, unsigned int inlen, void *arg)
{
	static const unsigned char both[] = "\x02h2\x08http/1.1";
	static const unsigned char h1[] = "\x08http/1.1";
	const unsigned char *ours = arg != NULL ? both : h1;
	unsigned int ourlen = arg != NULL ? sizeof(both) - 1 : sizeof(h1) - 1;
	unsigned char *sel;

	(void)ssl;
	if (SSL_select_next_proto(&sel, outlen, ours, ourlen, in, inlen) !=
	    OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_NOACK;
	*out = sel;
	return SSL_TLSEXT_ERR_OK;
}

/* Append the certificates of PEM file |file| to the chain sent. */
static int
tls_load_chain(SSL_CTX *ctx, const char *file, const char *name,
    char **cause)
{
	BIO *bio;
	X509 *x;
	int n = 0;

	if ((bio = BIO_new_file(file, "r")) == NULL)
		return tls_fail(cause, name, "cannot read chain", file);
	while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		if (!SSL_CTX_add0_chain_cert(ctx, x)) {
			X509_free(x);
			BIO_free(bio);
			return tls_fail(cause, name, "bad chain", file);
		}
		n++;
	}
	BIO_free(bio);
	ERR_clear_error();
	if (n == 0) {
		if (asprintf(cause, "%s: no certificate in chain %s", name,
		    file) == -1)
			*cause = NULL;
		return -1;
	}
	return 0;
}

/* A file OpenSSL is to read: say plainly when it cannot be. */
static int
tls_readable(const char *file, const char *name, const char *what,
    char **cause)
{
	FILE *fp;

	if ((fp = fopen(file, "r")) != NULL) {
		fclose(fp);
		return 0;
	}
	if (asprintf(cause, "%s: %s %s: %s", name, what, file,
	    strerror(errno)) == -1)
		*cause = NULL;
	return -1;
}

struct tls_ctx *
tls_ctx_new(const struct config_listener *lc, char **cause)
{
	struct tls_ctx *t;
	SSL_CTX *ctx;
	char name[128];
	int mode = SSL_VERIFY_NONE;

	snprintf(name, sizeof(name), "listener %s port %d", lc->address,
	    lc->port);
	if (tls_readable(lc->certificate, name, "certificate", cause) == -1 ||
	    tls_readable(lc->key, name, "key", cause) == -1 ||
	    (lc->chain[0] != '\0' &&
	    tls_readable(lc->chain, name, "chain", cause) == -1) ||
	    (lc->client_certificates != TLS_CLIENT_NONE &&
	    tls_readable(lc->client_ca, name, "client_ca", cause) == -1))
		return NULL;
	ERR_clear_error();
	if ((t = calloc(1, sizeof(*t))) == NULL ||
	    (ctx = SSL_CTX_new(TLS_server_method())) == NULL) {
		free(t);
		tls_fail(cause, name, "cannot make a TLS context", NULL);
		return NULL;
	}
	t->ctx = ctx;
	SSL_CTX_set_min_proto_version(ctx, lc->min_tls == TLS_MIN_13 ?
	    TLS1_3_VERSION : TLS1_2_VERSION);
	/*
	 * No renegotiation (a client could make us do handshakes at will),
	 * our cipher order, no compression (CRIME).
	 */
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION |
	    SSL_OP_IGNORE_UNEXPECTED_EOF);
	/*
	 * Idle connections hold no record buffers; a write may take part of
	 * what it is given, and be retried from another address (the loop's
	 * scratch buffer, refilled).
	 */
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS |
	    SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	if (SSL_CTX_set_cipher_list(ctx, lc->ciphers) != 1) {
		tls_fail(cause, name, "bad ciphers", lc->ciphers);
		goto fail;
	}
	if (SSL_CTX_set_ciphersuites(ctx, lc->ciphersuites) != 1) {
		tls_fail(cause, name, "bad ciphersuites", lc->ciphersuites);
		goto fail;
	}
	if (SSL_CTX_use_certificate_chain_file(ctx, lc->certificate) != 1) {
		tls_fail(cause, name, "cannot load certificate",
		    lc->certificate);
		goto fail;
	}
	if (lc->chain[0] != '\0' &&
	    tls_load_chain(ctx, lc->chain, name, cause) == -1)
		goto fail;
	if (SSL_CTX_use_PrivateKey_file(ctx, lc->key, SSL_FILETYPE_PEM) != 1) {
		tls_fail(cause, name, "cannot load key", lc->key);
		goto fail;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		tls_fail(cause, name, "key does not match certificate",
		    lc->key);
		goto fail;
	}
	if (lc->client_certificates != TLS_CLIENT_NONE) {
		STACK_OF(X509_NAME) *names;

		if (SSL_CTX_load_verify_locations(ctx, lc->client_ca, NULL) !=
		    1 || (names = SSL_load_client_CA_file(lc->client_ca)) ==
		    NULL) {
			tls_fail(cause, name, "cannot load client_ca",
			    lc->client_ca);
			goto fail;
		}
		SSL_CTX_set_client_CA_list(ctx, names);
		mode = SSL_VERIFY_PEER;
		if (lc->client_certificates == TLS_CLIENT_REQUIRED)
			mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
		/* Resumed sessions must come from this context's settings. */
		SSL_CTX_set_session_id_context(ctx,
		    (const unsigned char *)"wshubd", 6);
	}
	SSL_CTX_set_verify(ctx, mode, NULL);
	SSL_CTX_set_alpn_select_cb(ctx, tls_alpn_select,
	    lc->http2 ? (void *)ctx : NULL);
	return t;

fail:
	SSL_CTX_free(ctx);
	free(t);
	return NULL;
}

void
tls_ctx_free(struct tls_ctx *t)
{
	if (t == NULL)
		return;
	SSL_CTX_free(t->ctx);
	free(t);
}

int
tls_reload(struct listener *l, const struct config_listener *lc,
    char **cause)
{
	struct tls_ctx *t;

	if (!lc->tls) {
		tls_ctx_free(l->tls);
		l->tls = NULL;
		return 0;
	}
	if ((t = tls_ctx_new(lc, cause)) == NULL)
		return -1;
	/* Open connections hold a reference to the old SSL_CTX. */
	tls_ctx_free(l->tls);
	l->tls = t;
	log_info("%s: TLS certificate and settings reloaded", l->name);
	return 0;
}

int
tls_conn_start(struct conn *c, struct tls_ctx *t)
{
	struct tls_conn *tc;

	if (conn_ext(c) == NULL || (tc = calloc(1, sizeof(*tc))) == NULL)
		return -1;
	if ((tc->ssl = SSL_new(t->ctx)) == NULL ||
	    SSL_set_fd(tc->ssl, c->fd) != 1) {
		SSL_free(tc->ssl);
		free(tc);
		ERR_clear_error();
		return -1;
	}
	SSL_set_accept_state(tc->ssl);
	c->ext->tls = tc;
	c->io |= CONN_IO_TLS;
	return 0;
}

void
tls_conn_free(struct conn *c)
{
	if (conn_tls(c) == NULL)
		return;
	SSL_free(c->ext->tls->ssl);
	free(c->ext->tls);
	c->ext->tls = NULL;
}

/* Log the handshake once, with what the client got. */
static void
tls_log_handshake(struct conn *c)
{
	char d[128], subj[TLS_SUBJECT_MAX];

	c->ext->tls->flags |= TLS_F_LOGGED;
	if (log_get_level() < LOG_DEBUG)
		return;
	log_debug("conn %016" PRIx64 ": TLS %s%s%s%s", c->id,
	    tls_describe(c, d, sizeof(d)), tls_alpn_h2(c) ? " ALPN h2" : "",
	    tls_subject(c, subj, sizeof(subj))[0] != '\0' ? " client " : "",
	    subj);
}

ssize_t
tls_read(struct conn *c, void *buf, size_t len)
{
	struct tls_conn *t = c->ext->tls;
	char err[256], why[320];
	int n, e;

	t->flags &= ~TLS_F_READ_WANTS_WRITE;
	ERR_clear_error();
	n = SSL_read(t->ssl, buf, len > INT32_MAX ? INT32_MAX : (int)len);
	if (n > 0) {
		if ((t->flags & TLS_F_LOGGED) == 0)
			tls_log_handshake(c);
		return n;
	}
	switch ((e = SSL_get_error(t->ssl, n))) {
	case SSL_ERROR_WANT_READ:
		errno = EAGAIN;
		return -1;
	case SSL_ERROR_WANT_WRITE:
		/* Only a handshake writes while reading: wait for room. */
		t->flags |= TLS_F_READ_WANTS_WRITE;
		c->flags |= CONN_F_WRITE_WAIT;
		errno = EAGAIN;
		return -1;
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	case SSL_ERROR_SYSCALL:
		if (ERR_peek_error() == 0) {
			/* EOF without close_notify is EOF for us. */
			if (errno == 0)
				return 0;
			return -1;
		}
		/* FALLTHROUGH */
	default:
		tls_error(err, sizeof(err));
		snprintf(why, sizeof(why), "TLS %s: %s",
		    (t->flags & TLS_F_LOGGED) ? "error" : "handshake failed",
		    err);
		conn_destroy(c, why);
		errno = EAGAIN;
		return -1;
	}
}

/*
 * The largest record the client lets us send: 16 KiB unless it asked for
 * a smaller max_fragment_length (RFC 6066).
 */
static size_t
tls_record_max(SSL *ssl)
{
	SSL_SESSION *s = SSL_get_session(ssl);
	uint8_t mfl = s != NULL ? SSL_SESSION_get_max_fragment_length(s) : 0;

	if (mfl >= TLSEXT_max_fragment_length_512 &&
	    mfl <= TLSEXT_max_fragment_length_4096)
		return (size_t)512 << (mfl - 1);
	return TLS_RECORD_MAX;
}

static uint8_t *
tls_scratch(struct server *srv)
{
	if (srv->tls_wbuf == NULL)
		srv->tls_wbuf = malloc(TLS_RECORD_MAX);
	return srv->tls_wbuf;
}

void
tls_loop_free(struct server *srv)
{
	free(srv->tls_wbuf);
	srv->tls_wbuf = NULL;
}

/* One SSL_write() of |len| bytes: > 0 taken, or -1 with errno. */
static int
tls_write_record(struct conn *c, const uint8_t *buf, size_t len)
{
	struct tls_conn *t = c->ext->tls;
	int n;

	ERR_clear_error();
	n = SSL_write(t->ssl, buf, (int)len);
	if (n > 0)
		return n;
	switch (SSL_get_error(t->ssl, n)) {
	case SSL_ERROR_WANT_WRITE:
	case SSL_ERROR_WANT_READ:
		errno = EAGAIN;
		break;
	default:
		ERR_clear_error();
		errno = EPIPE;
		break;
	}
	return -1;
}

ssize_t
tls_writev(struct conn *c, const struct iovec *iov, int cnt)
{
	struct tls_conn *t = c->ext->tls;
	uint8_t *buf;
	size_t rmax, total = 0, off = 0;
	int i = 0, n;

	if ((buf = tls_scratch(c->srv)) == NULL) {
		errno = ENOMEM;
		return -1;
	}
	if (t->wpend > 0) {
		/*
		 * OpenSSL made and kept a record the socket refused; it sends
		 * that record whatever the bytes given now (moving buffers are
		 * allowed), and those bytes were counted as written already.
		 */
		if (tls_write_record(c, buf, t->wpend) == -1)
			return -1;
		t->wpend = 0;
	}
	rmax = tls_record_max(t->ssl);
	while (i < cnt) {
		size_t len = 0;

		/* Gather whole or partial iovecs into one record. */
		while (i < cnt && len < rmax) {
			size_t take = iov[i].iov_len - off;

			if (take > rmax - len)
				take = rmax - len;
			memcpy(buf + len,
			    (const uint8_t *)iov[i].iov_base + off, take);
			len += take;
			off += take;
			if (off == iov[i].iov_len) {
				i++;
				off = 0;
			}
		}
		if (len == 0)
			break;
		if ((n = tls_write_record(c, buf, len)) == -1) {
			if (errno != EAGAIN)
				return -1;
			/*
			 * The record is made (one record: len fits the
			 * fragment size) and waits in OpenSSL: count it as
			 * written, so the queue may change meanwhile without
			 * breaking the rule that a retry sends the same bytes.
			 */
			t->wpend = (uint32_t)len;
			total += len;
			break;
		}
		total += (size_t)n;
		if ((size_t)n < len)
			break;
	}
	if (total == 0 && t->wpend == 0 && cnt > 0) {
		errno = EAGAIN;
		return -1;
	}
	return (ssize_t)total;
}

void
tls_close_notify(struct conn *c)
{
	if (conn_tls(c) == NULL)
		return;
	ERR_clear_error();
	/* One try: a full socket loses it, and the peer sees a plain EOF. */
	SSL_shutdown(c->ext->tls->ssl);
	ERR_clear_error();
}

int
tls_used(const struct conn *c)
{
	if (c->io & CONN_IO_STREAM)
		c = h2_stream_carrier(c);
	return c != NULL && conn_tls(c) != NULL;
}

int
tls_pending(const struct conn *c)
{
	return conn_tls(c) != NULL && SSL_pending(c->ext->tls->ssl) > 0;
}

int
tls_pending_write(const struct conn *c)
{
	return conn_tls(c) != NULL && c->ext->tls->wpend > 0;
}

int
tls_read_wants_write(const struct conn *c)
{
	return conn_tls(c) != NULL &&
	    (c->ext->tls->flags & TLS_F_READ_WANTS_WRITE) != 0;
}

int
tls_alpn_h2(const struct conn *c)
{
	const unsigned char *p;
	unsigned int len;

	if (conn_tls(c) == NULL)
		return 0;
	SSL_get0_alpn_selected(c->ext->tls->ssl, &p, &len);
	return len == 2 && memcmp(p, "h2", 2) == 0;
}

void
tls_flush(struct conn *c)
{
	struct iovec iov[TLS_IOV_BATCH];

	if (c->flags & CONN_F_SLOW)
		conn_kick_slow(c);
	while (c->state != CONN_DEAD &&
	    (c->oq_count > 0 || c->ext->tls->wpend > 0)) {
		size_t want = 0;
		ssize_t n;
		int cnt = 0;

		for (uint32_t i = 0; i < c->oq_count && cnt < TLS_IOV_BATCH;
		    i++, cnt++) {
			struct msg *m = c->oq[(c->oq_head + i) &
			    (c->oq_cap - 1)];
			size_t off = i == 0 ? c->out_off : 0;

			iov[cnt].iov_base = m->data + off;
			iov[cnt].iov_len = m->len - off;
			want += iov[cnt].iov_len;
		}
		n = tls_writev(c, iov, cnt);
		if (n < 0) {
			if (errno == EAGAIN)
				break;
			conn_destroy(c, "TLS write failed");
			return;
		}
		if (n > 0)
			conn_consume(c, (size_t)n);
		if ((size_t)n < want || c->ext->tls->wpend > 0)
			break;
	}
	if (c->state == CONN_DEAD)
		return;
	if (c->oq_count == 0 && c->ext->tls->wpend == 0) {
		/* A closing connection says goodbye in TLS first. */
		if (c->flags & CONN_F_SHUT_AFTER)
			SSL_shutdown(c->ext->tls->ssl);
		conn_flush_done(c);
	} else
		c->flags |= CONN_F_WRITE_WAIT;	/* the next EPOLLOUT edge */
}

const char *
tls_subject(const struct conn *c, char *buf, size_t len)
{
	const struct conn *t = c;
	X509 *x;
	BIO *bio;
	int n;

	buf[0] = '\0';
	if (c->io & CONN_IO_STREAM)
		t = h2_stream_carrier(c);
	if (t == NULL || conn_tls(t) == NULL ||
	    (x = SSL_get0_peer_certificate(t->ext->tls->ssl)) == NULL)
		return buf;
	if ((bio = BIO_new(BIO_s_mem())) == NULL)
		return buf;
	X509_NAME_print_ex(bio, X509_get_subject_name(x), 0,
	    XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
	n = BIO_read(bio, buf, (int)len - 1);
	buf[n > 0 ? n : 0] = '\0';
	BIO_free(bio);
	return buf;
}

const char *
tls_describe(const struct conn *c, char *buf, size_t len)
{
	const struct conn *t = c;

	buf[0] = '\0';
	if (c->io & CONN_IO_STREAM)
		t = h2_stream_carrier(c);
	if (t == NULL || conn_tls(t) == NULL)
		return buf;
	snprintf(buf, len, "%s %s", SSL_get_version(t->ext->tls->ssl),
	    SSL_get_cipher_name(t->ext->tls->ssl));
	return buf;
}
