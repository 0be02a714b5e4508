/*
 * vg_crl: CRLs from PEM (see vg_crl.h). Thread: any. Memory: the set owns
 * its X509_CRL objects.
 */
#include "vg_crl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>

void vg_crl_free(struct vg_crl_set *s)
{
	if(s){
		sk_X509_CRL_pop_free(s->crls, X509_CRL_free);
		free(s);
	}
}

struct vg_crl_set *vg_crl_parse(const char *pem, size_t len, char *err, size_t errlen)
{
	struct vg_crl_set *s = calloc(1, sizeof(*s));
	BIO *b = len <= 64u * 1024 * 1024 ? BIO_new_mem_buf(pem, (int)len) : NULL;
	const char *p = pem, *end = pem + len;
	int blocks = 0;

	if(s == NULL || b == NULL || (s->crls = sk_X509_CRL_new_null()) == NULL){
		snprintf(err, errlen, "out of memory");
		goto error;
	}
	/* Every PEM block must be a CRL that parses: a file Mosquitto cannot
	 * load makes its reload drop CRL checking altogether. */
	while((p = memmem(p, (size_t)(end - p), "-----BEGIN ", 11)) != NULL){
		blocks++;
		p += 11;
	}
	for(;;){
		X509_CRL *crl = PEM_read_bio_X509_CRL(b, NULL, NULL, NULL);
		const ASN1_TIME *nu;
		STACK_OF(X509_REVOKED) *rv;
		int64_t t = 0;
		if(crl == NULL){
			ERR_clear_error();
			break;
		}
		if(!sk_X509_CRL_push(s->crls, crl)){
			X509_CRL_free(crl);
			snprintf(err, errlen, "out of memory");
			goto error;
		}
		rv = X509_CRL_get_REVOKED(crl);
		s->revoked += rv ? sk_X509_REVOKED_num(rv) : 0;
		nu = X509_CRL_get0_nextUpdate(crl);
		if(nu){
			struct tm tm;
			if(ASN1_TIME_to_tm(nu, &tm) == 1){
				t = (int64_t)timegm(&tm);
			}
		}
		if(t > 0 && (s->next_update_s == 0 || t < s->next_update_s)){
			s->next_update_s = t;
		}
	}
	if(sk_X509_CRL_num(s->crls) == 0){
		snprintf(err, errlen, "no PEM CRL in it");
		goto error;
	}
	if(sk_X509_CRL_num(s->crls) != blocks){
		snprintf(err, errlen, "%d PEM block(s), of which only %d parse as CRLs", blocks, sk_X509_CRL_num(s->crls));
		goto error;
	}
	BIO_free(b);
	return s;

error:
	BIO_free(b);
	vg_crl_free(s);
	return NULL;
}

bool vg_crl_cert_revoked(const struct vg_crl_set *s, X509 *cert)
{
	int i;
	X509_REVOKED *rev;

	if(s == NULL || cert == NULL){
		return false;
	}
	for(i = 0; i < sk_X509_CRL_num(s->crls); i++){
		X509_CRL *crl = sk_X509_CRL_value(s->crls, i);
		if(X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_issuer_name(cert)) == 0
				&& X509_CRL_get0_by_cert(crl, &rev, cert) == 1){
			return true;
		}
	}
	return false;
}

void vg_crl_cert_id(X509 *cert, struct vg_cert_id *id)
{
	const ASN1_INTEGER *sn;
	int n;

	memset(id, 0, sizeof(*id));
	if(cert == NULL){
		return;
	}
	sn = X509_get0_serialNumber(cert);
	n = sn ? ASN1_STRING_length(sn) : 0;
	if(n <= 0 || n > VG_CRL_SERIAL_MAX){
		return;
	}
	memcpy(id->serial, ASN1_STRING_get0_data(sn), (size_t)n);
	id->serial_len = (uint8_t)n;
	id->issuer_hash = X509_NAME_hash_ex(X509_get_issuer_name(cert), NULL, NULL, NULL);
}

bool vg_crl_id_revoked(const struct vg_crl_set *s, const struct vg_cert_id *id)
{
	ASN1_INTEGER *ai;
	X509_REVOKED *rev;
	bool hit = false;
	int i;

	if(s == NULL || id->serial_len == 0 || (ai = ASN1_INTEGER_new()) == NULL){
		return false;
	}
	if(ASN1_STRING_set(ai, id->serial, id->serial_len) == 1){
		for(i = 0; i < sk_X509_CRL_num(s->crls) && !hit; i++){
			X509_CRL *crl = sk_X509_CRL_value(s->crls, i);
			hit = X509_NAME_hash_ex(X509_CRL_get_issuer(crl), NULL, NULL, NULL) == id->issuer_hash
				&& X509_CRL_get0_by_serial(crl, &rev, ai) == 1;
		}
	}
	ASN1_INTEGER_free(ai);
	return hit;
}
