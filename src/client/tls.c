/* TLS for the client: trust anchors, client certificates, ALPN, name checks. */
#include "autoconf.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "client/client.h"

#define TLS_PEM_CERT	"-----BEGIN CERTIFICATE-----"
#define TLS_PEM_ANY	"-----BEGIN "

/* ALPN lists in wire format: h2 first when HTTP/2 is tried. */
static const unsigned char tls_alpn_h2[] = "\x02h2\x08http/1.1";
static const unsigned char tls_alpn_h1[] = "\x08http/1.1";

/* Add every certificate of the PEM text |pem| to the context's store. */
static int
tls_load_pem_cas(SSL_CTX *ctx, const char *pem)
{
	X509_STORE	*store = SSL_CTX_get_cert_store(ctx);
	BIO		*bio;
	X509		*x;
	int		 n = 0;

	if ((bio = BIO_new_mem_buf(pem, -1)) == NULL)
		return -1;
	while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		if (X509_STORE_add_cert(store, x) == 1)
			n++;
		X509_free(x);
	}
	ERR_clear_error();
	BIO_free(bio);
	return n > 0 ? 0 : -1;
}

static int
tls_load_cert(SSL_CTX *ctx, const char *cert, const char *key,
    const char **reason)
{
	BIO		*bio;
	X509		*x;
	EVP_PKEY	*pk;

	if (strstr(cert, TLS_PEM_ANY) != NULL) {
		if ((bio = BIO_new_mem_buf(cert, -1)) == NULL)
			return -1;
		x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
		if (x == NULL || SSL_CTX_use_certificate(ctx, x) != 1) {
			X509_free(x);
			BIO_free(bio);
			*reason = "bad client certificate PEM";
			return -1;
		}
		X509_free(x);
		/* The rest of the text is the chain. */
		while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
			if (SSL_CTX_add0_chain_cert(ctx, x) != 1)
				X509_free(x);
		}
		ERR_clear_error();
		BIO_free(bio);
	} else if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
		*reason = "cannot load the client certificate file";
		return -1;
	}
	if (strstr(key, TLS_PEM_ANY) != NULL) {
		if ((bio = BIO_new_mem_buf(key, -1)) == NULL)
			return -1;
		pk = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
		BIO_free(bio);
		if (pk == NULL || SSL_CTX_use_PrivateKey(ctx, pk) != 1) {
			EVP_PKEY_free(pk);
			*reason = "bad client key PEM";
			return -1;
		}
		EVP_PKEY_free(pk);
	} else if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) !=
	    1) {
		*reason = "cannot load the client key file";
		return -1;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		*reason = "client key does not match the certificate";
		return -1;
	}
	return 0;
}

int
tls_ctx_build(struct wsh_client *c, const char **reason)
{
	SSL_CTX	*ctx;

	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL) {
		*reason = "cannot create a TLS context";
		return -1;
	}
	(void)SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	if (c->tls_ca != NULL && strcasecmp(c->tls_ca, "NONE") == 0)
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	else {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
		if (c->tls_ca == NULL) {
			if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
				*reason = "cannot load the system CAs";
				goto fail;
			}
		} else if (strstr(c->tls_ca, TLS_PEM_CERT) != NULL) {
			if (tls_load_pem_cas(ctx, c->tls_ca) == -1) {
				*reason = "no certificate in the CA PEM text";
				goto fail;
			}
		} else if (SSL_CTX_load_verify_locations(ctx, c->tls_ca,
		    NULL) != 1) {
			*reason = "cannot load the CA file";
			goto fail;
		}
	}
	if (c->tls_cert != NULL &&
	    tls_load_cert(ctx, c->tls_cert, c->tls_key, reason) == -1)
		goto fail;
	ERR_clear_error();
	c->ssl_ctx = ctx;
	return 0;
fail:
	ERR_clear_error();
	SSL_CTX_free(ctx);
	return -1;
}

SSL *
tls_ssl_new(struct wsh_client *c, const char **reason)
{
	unsigned char	 addr[16];
	SSL		*ssl;
	int		 is_ip;

	if ((ssl = SSL_new(c->ssl_ctx)) == NULL) {
		*reason = "cannot create a TLS session";
		return NULL;
	}
	is_ip = inet_pton(AF_INET, c->url.host, addr) == 1 ||
	    inet_pton(AF_INET6, c->url.host, addr) == 1;
	/* SNI carries names only (RFC 6066 3). */
	if (!is_ip)
		(void)SSL_set_tlsext_host_name(ssl, c->url.host);
	if (c->tls_verify_host && (c->tls_ca == NULL ||
	    strcasecmp(c->tls_ca, "NONE") != 0)) {
		if (is_ip) {
			if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl),
			    c->url.host) != 1)
				goto fail;
		} else if (SSL_set1_host(ssl, c->url.host) != 1)
			goto fail;
	}
	if (c->try_h2)
		(void)SSL_set_alpn_protos(ssl, tls_alpn_h2,
		    sizeof(tls_alpn_h2) - 1);
	else
		(void)SSL_set_alpn_protos(ssl, tls_alpn_h1,
		    sizeof(tls_alpn_h1) - 1);
	return ssl;
fail:
	*reason = "cannot set the name to verify";
	SSL_free(ssl);
	return NULL;
}

const char *
tls_error(struct wsh_client *c, struct bufferevent *bev)
{
	static __thread char	 buf[256];
	unsigned long		 e;
	long			 vr;
	SSL			*ssl;

	if ((ssl = bufferevent_openssl_get_ssl(bev)) == NULL)
		return NULL;
	vr = SSL_get_verify_result(ssl);
	if (vr != X509_V_OK) {
		(void)snprintf(buf, sizeof(buf), "certificate verification "
		    "failed: %s", X509_verify_cert_error_string(vr));
		return buf;
	}
	if ((e = bufferevent_get_openssl_error(bev)) != 0) {
		ERR_error_string_n(e, buf, sizeof(buf));
		while (bufferevent_get_openssl_error(bev) != 0)
			;
		return buf;
	}
	return NULL;
}
