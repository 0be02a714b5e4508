/*
 * vg_crl: certificate revocation lists (X.509 CRLs) read from PEM, and the
 * two questions Vitalgate asks them: is this certificate revoked, is this
 * (issuer, serial) revoked. The TLS layer (Mosquitto's listener `crlfile`)
 * enforces the same file at the handshake; these answer for clients that
 * are already connected or that connected during a reload.
 *
 * Thread: any (a set is handed from the identity sync worker to the broker
 * thread and then only read there). Memory: a set owns its CRLs;
 * vg_crl_free releases it.
 */
#ifndef VG_CRL_H
#define VG_CRL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/x509.h>

#define VG_CRL_SERIAL_MAX 32

struct vg_crl_set {
	STACK_OF(X509_CRL) *crls;
	int revoked;              /* serials over all CRLs */
	int64_t next_update_s;    /* the earliest nextUpdate (Unix seconds; 0: none) */
};

/* Parses every CRL in pem (len bytes). Returns a set, or NULL with a
 * one-line reason in err (no CRL at all, or a block that does not parse). */
struct vg_crl_set *vg_crl_parse(const char *pem, size_t len, char *err, size_t errlen);
void vg_crl_free(struct vg_crl_set *s);

/* True if a CRL of cert's issuer lists it. */
bool vg_crl_cert_revoked(const struct vg_crl_set *s, X509 *cert);

/* What identifies a certificate for a later check without keeping it. */
struct vg_cert_id {
	unsigned long issuer_hash;            /* X509_NAME_hash_ex of the issuer */
	uint8_t serial[VG_CRL_SERIAL_MAX];
	uint8_t serial_len;                   /* 0: none (no certificate) */
};

void vg_crl_cert_id(X509 *cert, struct vg_cert_id *id);
/* True if a CRL of that issuer lists that serial. */
bool vg_crl_id_revoked(const struct vg_crl_set *s, const struct vg_cert_id *id);

#endif
