/*
 * vg_secret: identity secrets and their stored hashes.
 *
 * Secrets are generated, never chosen by people: 256 random bits from the
 * OS CSPRNG (OpenSSL RAND_bytes), written "vgs_" + base64url (47 chars).
 * They are stored only as "s256$<salt hex>$<hash hex>", the SHA-256 of a
 * 16-byte random salt followed by the secret. A slow KDF protects
 * low-entropy human passwords; a 256-bit random secret cannot be guessed,
 * and a fast hash keeps BASIC_AUTH cheap enough for reconnect storms
 * (see docs/security.md).
 *
 * Thread: a vg_hasher belongs to one thread (the broker thread owns one).
 * Memory: a vg_hasher owns an EVP_MD_CTX, freed by vg_hasher_free.
 */
#ifndef VG_SECRET_H
#define VG_SECRET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VG_SALT_LEN 16
#define VG_HASH_LEN 32
#define VG_SECRET_LEN 47          /* "vgs_" + 43 base64url chars */
#define VG_SECRET_HASH_STRLEN 102 /* "s256$" + 32 hex + "$" + 64 hex */

struct vg_hasher;

struct vg_hasher *vg_hasher_new(void);
void vg_hasher_free(struct vg_hasher *h);

/* Writes a new secret (NUL-terminated) into out (>= VG_SECRET_LEN + 1).
 * Returns 0, or -1 if the CSPRNG failed. */
int vg_secret_generate(char *out, size_t outlen);

/* Hashes secret with a fresh random salt into "s256$..$.." (out >=
 * VG_SECRET_HASH_STRLEN + 1). Returns 0 or -1. */
int vg_secret_hash_new(const char *secret, char *out, size_t outlen);

/* Parses a stored hash string. Returns false if it is not "s256$..$..". */
bool vg_secret_parse(const char *stored, uint8_t salt[VG_SALT_LEN], uint8_t hash[VG_HASH_LEN]);

/* SHA-256 of data with the hasher's context (the broker thread's: no
 * allocation, no implicit fetch). Returns 0 or -1. */
int vg_hasher_sha256(struct vg_hasher *h, const void *data, size_t len, uint8_t out[VG_HASH_LEN]);

/* Constant-time check of a presented secret against salt+hash. */
bool vg_secret_verify(struct vg_hasher *h, const uint8_t salt[VG_SALT_LEN], const uint8_t hash[VG_HASH_LEN],
		const char *secret, size_t secret_len);

/* Lower-case hex of SHA-256(data), truncated to hexlen chars (<= 64);
 * out needs hexlen + 1 bytes. Returns 0 or -1. Any thread. */
int vg_digest_hex(const void *data, size_t len, char *out, size_t hexlen);

#endif
