/*
 * whsign: Standard Webhooks v1 signatures (see whsign.h).
 * Thread: any. Memory: none owned; key material is wiped by
 * vg_whsecrets_wipe.
 */
#include "whsign.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

/* Decodes standard base64 (with or without padding). Returns the length or
 * -1 on invalid input or overflow. */
static int b64_decode(const char *in, size_t n, uint8_t *out, size_t cap)
{
	char buf[4 * ((VG_WH_MAX_KEY + 2) / 3) + 4];
	size_t padded = n, i;
	int len, pad = 0;

	if(n == 0 || n + 4 > sizeof(buf)){
		return -1;
	}
	for(i = 0; i < n; i++){
		char c = in[i];
		if(!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/' || c == '=')){
			return -1;
		}
	}
	memcpy(buf, in, n);
	while(padded % 4){
		buf[padded++] = '=';
	}
	buf[padded] = '\0';
	for(i = padded; i > 0 && buf[i - 1] == '='; i--){
		pad++;
	}
	if(pad > 2){
		return -1;
	}
	{
		uint8_t tmp[sizeof(buf)];
		len = EVP_DecodeBlock(tmp, (const unsigned char *)buf, (int)padded);
		if(len < 0){
			OPENSSL_cleanse(buf, sizeof(buf));
			return -1;
		}
		len -= pad;
		if(len <= 0 || (size_t)len > cap){
			OPENSSL_cleanse(tmp, sizeof(tmp));
			OPENSSL_cleanse(buf, sizeof(buf));
			return -1;
		}
		memcpy(out, tmp, (size_t)len);
		OPENSSL_cleanse(tmp, sizeof(tmp));
	}
	OPENSSL_cleanse(buf, sizeof(buf));
	return len;
}

int vg_whsecrets_parse(const char *text, struct vg_whsecrets *out, char *err, size_t errlen)
{
	const char *p = text;
	int lineno = 0;

	memset(out, 0, sizeof(*out));
	while(*p){
		const char *eol = strchr(p, '\n');
		size_t n = eol ? (size_t)(eol - p) : strlen(p);
		const char *s = p;
		int len;

		lineno++;
		p += n + (eol ? 1 : 0);
		while(n && (*s == ' ' || *s == '\t')){
			s++;
			n--;
		}
		while(n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r')){
			n--;
		}
		if(n == 0 || s[0] == '#'){
			continue;
		}
		if(n < 7 || strncmp(s, "whsec_", 6) != 0){
			snprintf(err, errlen, "line %d: not a whsec_ secret", lineno);
			goto fail;
		}
		if(out->n == VG_WH_MAX_SECRETS){
			snprintf(err, errlen, "line %d: more than %d secrets", lineno, VG_WH_MAX_SECRETS);
			goto fail;
		}
		len = b64_decode(s + 6, n - 6, out->key[out->n], VG_WH_MAX_KEY);
		if(len < 0){
			snprintf(err, errlen, "line %d: the part after whsec_ is not valid base64 (at most %d bytes)", lineno, VG_WH_MAX_KEY);
			goto fail;
		}
		if(len < 16){
			snprintf(err, errlen, "line %d: secret is only %d bytes, at least 16 are required", lineno, len);
			goto fail;
		}
		out->keylen[out->n] = (size_t)len;
		out->n++;
	}
	if(out->n == 0){
		snprintf(err, errlen, "no whsec_ secret found");
		goto fail;
	}
	return 0;
fail:
	vg_whsecrets_wipe(out);
	return -1;
}

int vg_whsecrets_load(const char *path, struct vg_whsecrets *out, char *err, size_t errlen)
{
	char buf[8192];
	char msg[160];
	FILE *f;
	size_t n;
	int rc;

	f = fopen(path, "re");
	if(f == NULL){
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	n = fread(buf, 1, sizeof(buf) - 1, f);
	if(!feof(f)){
		fclose(f);
		snprintf(err, errlen, "%s: larger than %zu bytes", path, sizeof(buf) - 1);
		return -1;
	}
	fclose(f);
	buf[n] = '\0';
	rc = vg_whsecrets_parse(buf, out, msg, sizeof(msg));
	OPENSSL_cleanse(buf, sizeof(buf));
	if(rc){
		snprintf(err, errlen, "%s: %s", path, msg);
	}
	return rc;
}

void vg_whsecrets_wipe(struct vg_whsecrets *s)
{
	OPENSSL_cleanse(s, sizeof(*s));
}

int vg_whsign(const struct vg_whsecrets *s, const char *msg_id, int64_t ts, const char *body, size_t len,
		char *out, size_t outlen)
{
	char prefix[128];
	size_t used = 0;
	int i, plen, olen;

	plen = snprintf(prefix, sizeof(prefix), "%s.%lld.", msg_id, (long long)ts);
	if(plen < 0 || (size_t)plen >= sizeof(prefix) || outlen == 0){
		return -1;
	}
	out[0] = '\0';
	for(i = 0; i < s->n; i++){
		unsigned char mac[EVP_MAX_MD_SIZE];
		char b64[4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1];
		EVP_MAC *m;
		EVP_MAC_CTX *c;
		OSSL_PARAM params[2];
		size_t got = 0;

		m = EVP_MAC_fetch(NULL, "HMAC", NULL);
		c = m ? EVP_MAC_CTX_new(m) : NULL;
		params[0] = OSSL_PARAM_construct_utf8_string("digest", (char *)"SHA256", 0);
		params[1] = OSSL_PARAM_construct_end();
		if(c == NULL
				|| EVP_MAC_init(c, s->key[i], s->keylen[i], params) != 1
				|| EVP_MAC_update(c, (const unsigned char *)prefix, (size_t)plen) != 1
				|| EVP_MAC_update(c, (const unsigned char *)body, len) != 1
				|| EVP_MAC_final(c, mac, &got, sizeof(mac)) != 1){
			EVP_MAC_CTX_free(c);
			EVP_MAC_free(m);
			return -1;
		}
		EVP_MAC_CTX_free(c);
		EVP_MAC_free(m);
		EVP_EncodeBlock((unsigned char *)b64, mac, (int)got);
		/* olen, not plen: plen is the prefix length the next key signs. */
		olen = snprintf(out + used, outlen - used, "%sv1,%s", i ? " " : "", b64);
		if(olen < 0 || (size_t)olen >= outlen - used){
			return -1;
		}
		used += (size_t)olen;
	}
	return 0;
}
