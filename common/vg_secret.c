/*
 * vg_secret: see vg_secret.h.
 * Thread: vg_secret_generate/hash_new/parse any thread; a vg_hasher only on
 * the thread that owns it. Memory: vg_hasher owns its digest context.
 */
#include "vg_secret.h"
#include "vg_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

struct vg_hasher {
	EVP_MD *md;
	EVP_MD_CTX *ctx;
};

struct vg_hasher *vg_hasher_new(void)
{
	struct vg_hasher *h = calloc(1, sizeof(*h));

	if(h == NULL){
		return NULL;
	}
	/* Fetch once: an implicit fetch per digest costs more than the hash. */
	h->md = EVP_MD_fetch(NULL, "SHA256", NULL);
	h->ctx = EVP_MD_CTX_new();
	if(h->md == NULL || h->ctx == NULL){
		vg_hasher_free(h);
		return NULL;
	}
	return h;
}

void vg_hasher_free(struct vg_hasher *h)
{
	if(h == NULL){
		return;
	}
	EVP_MD_CTX_free(h->ctx);
	EVP_MD_free(h->md);
	free(h);
}

/* SHA-256 of a (may be empty) then b. */
static int digest2(struct vg_hasher *h, const void *a, size_t an, const void *b, size_t bn, uint8_t out[VG_HASH_LEN])
{
	unsigned int outlen = 0;

	if(EVP_DigestInit_ex2(h->ctx, h->md, NULL) != 1
			|| (an && EVP_DigestUpdate(h->ctx, a, an) != 1)
			|| (bn && EVP_DigestUpdate(h->ctx, b, bn) != 1)
			|| EVP_DigestFinal_ex(h->ctx, out, &outlen) != 1
			|| outlen != VG_HASH_LEN){
		return -1;
	}
	return 0;
}

static int hash_with(struct vg_hasher *h, const uint8_t salt[VG_SALT_LEN], const char *secret, size_t n,
		uint8_t out[VG_HASH_LEN])
{
	return digest2(h, salt, VG_SALT_LEN, secret, n, out);
}

int vg_hasher_sha256(struct vg_hasher *h, const void *data, size_t len, uint8_t out[VG_HASH_LEN])
{
	return digest2(h, NULL, 0, data, len, out);
}

int vg_secret_generate(char *out, size_t outlen)
{
	uint8_t raw[32];
	char b64[48];
	int n, i;

	if(outlen < VG_SECRET_LEN + 1){
		return -1;
	}
	if(RAND_bytes(raw, sizeof(raw)) != 1){
		return -1;
	}
	n = EVP_EncodeBlock((unsigned char *)b64, raw, sizeof(raw)); /* 44 chars, one '=' */
	OPENSSL_cleanse(raw, sizeof(raw));
	while(n > 0 && b64[n - 1] == '='){
		n--;
	}
	for(i = 0; i < n; i++){
		if(b64[i] == '+'){
			b64[i] = '-';
		}else if(b64[i] == '/'){
			b64[i] = '_';
		}
	}
	b64[n] = '\0';
	snprintf(out, outlen, "vgs_%s", b64);
	OPENSSL_cleanse(b64, sizeof(b64));
	return 0;
}


int vg_secret_hash_new(const char *secret, char *out, size_t outlen)
{
	uint8_t salt[VG_SALT_LEN];
	uint8_t hash[VG_HASH_LEN];
	char salthex[2 * VG_SALT_LEN + 1];
	char hashhex[2 * VG_HASH_LEN + 1];
	struct vg_hasher *h;
	int rc;

	if(outlen < VG_SECRET_HASH_STRLEN + 1 || RAND_bytes(salt, sizeof(salt)) != 1){
		return -1;
	}
	h = vg_hasher_new();
	if(h == NULL){
		return -1;
	}
	rc = hash_with(h, salt, secret, strlen(secret), hash);
	vg_hasher_free(h);
	if(rc){
		return -1;
	}
	vg_hex_encode(salt, sizeof(salt), salthex);
	vg_hex_encode(hash, sizeof(hash), hashhex);
	snprintf(out, outlen, "s256$%s$%s", salthex, hashhex);
	return 0;
}

bool vg_secret_parse(const char *stored, uint8_t salt[VG_SALT_LEN], uint8_t hash[VG_HASH_LEN])
{
	if(stored == NULL || strlen(stored) != VG_SECRET_HASH_STRLEN || strncmp(stored, "s256$", 5) != 0
			|| stored[5 + 2 * VG_SALT_LEN] != '$'){
		return false;
	}
	return vg_hex_decode(stored + 5, VG_SALT_LEN, salt)
		&& vg_hex_decode(stored + 6 + 2 * VG_SALT_LEN, VG_HASH_LEN, hash);
}

bool vg_secret_verify(struct vg_hasher *h, const uint8_t salt[VG_SALT_LEN], const uint8_t hash[VG_HASH_LEN],
		const char *secret, size_t secret_len)
{
	uint8_t got[VG_HASH_LEN];
	bool ok;

	if(secret == NULL || secret_len == 0 || secret_len > 256){
		return false;
	}
	if(hash_with(h, salt, secret, secret_len, got)){
		return false;
	}
	ok = CRYPTO_memcmp(got, hash, VG_HASH_LEN) == 0;
	OPENSSL_cleanse(got, sizeof(got));
	return ok;
}

int vg_digest_hex(const void *data, size_t len, char *out, size_t hexlen)
{
	uint8_t md[VG_HASH_LEN];
	char hex[2 * VG_HASH_LEN + 1];
	unsigned int n = 0;

	if(hexlen > 2 * VG_HASH_LEN || EVP_Digest(data, len, md, &n, EVP_sha256(), NULL) != 1){
		return -1;
	}
	vg_hex_encode(md, sizeof(md), hex);
	memcpy(out, hex, hexlen);
	out[hexlen] = '\0';
	return 0;
}
