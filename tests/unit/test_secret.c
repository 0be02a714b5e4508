/*
 * test_secret: generated secrets, salted hashes, parsing and verification,
 * and the SHA-256 hex digest.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "vg_secret.h"
#include "vgtest.h"

#define B64URL "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

static void test_generate(void)
{
	char a[VG_SECRET_LEN + 1], b[VG_SECRET_LEN + 1], small[VG_SECRET_LEN];
	char seen_chars[256] = { 0 };
	int i, bad = 0, distinct_chars = 0;

	CHECK_INT(vg_secret_generate(a, sizeof(a)), 0);
	CHECK_INT(vg_secret_generate(b, sizeof(b)), 0);
	CHECK_INT(strlen(a), 47);
	CHECK_INT(strlen(a), VG_SECRET_LEN);
	CHECK(strncmp(a, "vgs_", 4) == 0);
	CHECK_INT(strspn(a + 4, B64URL), 43);
	CHECK(strcmp(a, b) != 0);
	/* Too small a buffer is refused, not truncated. */
	CHECK_INT(vg_secret_generate(small, sizeof(small)), -1);

	/* Many secrets: always the same shape, never '+', '/' or '='. */
	for(i = 0; i < 500; i++){
		const char *p;
		if(vg_secret_generate(a, sizeof(a)) != 0 || strlen(a) != 47 || strncmp(a, "vgs_", 4) != 0
				|| strspn(a + 4, B64URL) != 43 || !strcmp(a, b)){
			bad++;
		}
		for(p = a + 4; *p; p++){
			seen_chars[(unsigned char)*p] = 1;
		}
		memcpy(b, a, sizeof(a));
	}
	CHECK_INT(bad, 0);
	for(i = 0; i < 256; i++){
		distinct_chars += seen_chars[i];
	}
	/* 500 x 43 random characters cover the 64-character alphabet. */
	CHECK_INT(distinct_chars, 64);
	CHECK(seen_chars['-'] && seen_chars['_']);
	/* The last character encodes only 4 bits of the 256: it is one of the
	 * 16 characters whose low 2 bits are zero (A E I ... w 0 4 8). */
	CHECK(strchr("AEIMQUYcgkosw048", a[46]) != NULL);
}

static bool is_lower_hex(const char *s, size_t n)
{
	size_t i;

	for(i = 0; i < n; i++){
		if(!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))){
			return false;
		}
	}
	return true;
}

static void test_hash_parse_verify(void)
{
	char secret[VG_SECRET_LEN + 1], other[VG_SECRET_LEN + 1];
	char stored[VG_SECRET_HASH_STRLEN + 1], stored2[VG_SECRET_HASH_STRLEN + 1];
	char tiny[VG_SECRET_HASH_STRLEN];
	uint8_t salt[VG_SALT_LEN], hash[VG_HASH_LEN], salt2[VG_SALT_LEN], hash2[VG_HASH_LEN];
	struct vg_hasher *h = vg_hasher_new();
	size_t i, n;
	int wrong = 0;

	CHECK(h != NULL);
	if(h == NULL){
		return;
	}
	CHECK_INT(vg_secret_generate(secret, sizeof(secret)), 0);
	CHECK_INT(vg_secret_generate(other, sizeof(other)), 0);
	CHECK_INT(vg_secret_hash_new(secret, stored, sizeof(stored)), 0);
	CHECK_INT(strlen(stored), VG_SECRET_HASH_STRLEN);
	CHECK(strncmp(stored, "s256$", 5) == 0);
	CHECK(stored[37] == '$');
	CHECK(is_lower_hex(stored + 5, 32));
	CHECK(is_lower_hex(stored + 38, 64));
	/* Never the secret itself. */
	CHECK(strstr(stored, secret + 4) == NULL);
	CHECK_INT(vg_secret_hash_new(secret, tiny, sizeof(tiny)), -1);

	/* A fresh salt each time: same secret, different strings. */
	CHECK_INT(vg_secret_hash_new(secret, stored2, sizeof(stored2)), 0);
	CHECK(strcmp(stored, stored2) != 0);

	CHECK(vg_secret_parse(stored, salt, hash));
	CHECK(vg_secret_parse(stored2, salt2, hash2));
	CHECK(memcmp(salt, salt2, VG_SALT_LEN) != 0);

	/* The hash is SHA-256(salt || secret). */
	{
		uint8_t buf[VG_SALT_LEN + VG_SECRET_LEN], md[32];
		unsigned int mdlen = 0;
		memcpy(buf, salt, VG_SALT_LEN);
		memcpy(buf + VG_SALT_LEN, secret, VG_SECRET_LEN);
		CHECK(EVP_Digest(buf, sizeof(buf), md, &mdlen, EVP_sha256(), NULL) == 1);
		CHECK_INT(mdlen, 32);
		CHECK(memcmp(md, hash, 32) == 0);
	}

	n = strlen(secret);
	CHECK(vg_secret_verify(h, salt, hash, secret, n));
	CHECK(vg_secret_verify(h, salt2, hash2, secret, n));
	CHECK(vg_secret_verify(h, salt, hash, secret, n));   /* hasher reusable */
	CHECK(!vg_secret_verify(h, salt, hash, other, strlen(other)));
	CHECK(!vg_secret_verify(h, salt, hash, "", 0));
	CHECK(!vg_secret_verify(h, salt, hash, NULL, 0));
	CHECK(!vg_secret_verify(h, salt, hash, secret, n - 1));   /* prefix */
	CHECK(!vg_secret_verify(h, salt2, hash, secret, n));     /* other salt */
	{
		char longer[VG_SECRET_LEN + 2];
		snprintf(longer, sizeof(longer), "%sA", secret);
		CHECK(!vg_secret_verify(h, salt, hash, longer, n + 1));
	}
	/* Every single-character change is refused. */
	for(i = 0; i < n; i++){
		char c[VG_SECRET_LEN + 1];
		memcpy(c, secret, sizeof(c));
		c[i] = c[i] == 'A' ? 'B' : 'A';
		if(vg_secret_verify(h, salt, hash, c, n)){
			wrong++;
		}
	}
	CHECK_INT(wrong, 0);
	/* Over-long input is refused without hashing. */
	{
		char big[300];
		memset(big, 'a', sizeof(big));
		CHECK(!vg_secret_verify(h, salt, hash, big, sizeof(big)));
	}

	/* Upper-case hex parses to the same bytes. */
	{
		char up[VG_SECRET_HASH_STRLEN + 1];
		uint8_t s3[VG_SALT_LEN], h3[VG_HASH_LEN];
		for(i = 0; i <= VG_SECRET_HASH_STRLEN; i++){
			up[i] = (stored[i] >= 'a' && stored[i] <= 'f') ? (char)(stored[i] - 32) : stored[i];
		}
		CHECK(vg_secret_parse(up, s3, h3));
		CHECK(memcmp(s3, salt, VG_SALT_LEN) == 0 && memcmp(h3, hash, VG_HASH_LEN) == 0);
	}
	vg_hasher_free(h);
	vg_hasher_free(NULL);
}

static void test_parse_rejects(void)
{
	char good[VG_SECRET_HASH_STRLEN + 1], bad[VG_SECRET_HASH_STRLEN + 8];
	uint8_t salt[VG_SALT_LEN], hash[VG_HASH_LEN];

	CHECK_INT(vg_secret_hash_new("vgs_x", good, sizeof(good)), 0);
	CHECK(vg_secret_parse(good, salt, hash));

	CHECK(!vg_secret_parse(NULL, salt, hash));
	CHECK(!vg_secret_parse("", salt, hash));
	CHECK(!vg_secret_parse("s256$", salt, hash));
	CHECK(!vg_secret_parse("vgs_abc", salt, hash));
	CHECK(!vg_secret_parse("$2b$12$abcdefghijklmnopqrstuv", salt, hash));

	memcpy(bad, good, sizeof(good));
	bad[3] = '7';                       /* s257$ */
	CHECK(!vg_secret_parse(bad, salt, hash));
	memcpy(bad, good, sizeof(good));
	bad[37] = 'a';                      /* no separator */
	CHECK(!vg_secret_parse(bad, salt, hash));
	memcpy(bad, good, sizeof(good));
	bad[10] = 'g';                      /* not hex in the salt */
	CHECK(!vg_secret_parse(bad, salt, hash));
	memcpy(bad, good, sizeof(good));
	bad[VG_SECRET_HASH_STRLEN - 1] = 'z';   /* not hex at the end */
	CHECK(!vg_secret_parse(bad, salt, hash));
	memcpy(bad, good, sizeof(good));
	bad[40] = '$';
	CHECK(!vg_secret_parse(bad, salt, hash));
	memcpy(bad, good, sizeof(good));
	bad[VG_SECRET_HASH_STRLEN - 1] = '\0';  /* one short */
	CHECK(!vg_secret_parse(bad, salt, hash));
	snprintf(bad, sizeof(bad), "%s0", good); /* one long */
	CHECK(!vg_secret_parse(bad, salt, hash));
	snprintf(bad, sizeof(bad), " %s", good); /* leading space */
	bad[VG_SECRET_HASH_STRLEN] = '\0';
	CHECK(!vg_secret_parse(bad, salt, hash));
}

static void test_digest_hex(void)
{
	char out[65], small[17];

	CHECK_INT(vg_digest_hex("abc", 3, out, 64), 0);
	CHECK_STR(out, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	CHECK_INT(vg_digest_hex("", 0, out, 64), 0);
	CHECK_STR(out, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	CHECK_INT(vg_digest_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56, out, 64), 0);
	CHECK_STR(out, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
	CHECK_INT(vg_digest_hex("abc", 3, small, 16), 0);
	CHECK_STR(small, "ba7816bf8f01cfea");
	CHECK_INT(vg_digest_hex("abc", 3, small, 0), 0);
	CHECK_STR(small, "");
	CHECK_INT(vg_digest_hex("abc", 3, out, 65), -1);
}

int main(void)
{
	test_generate();
	test_hash_parse_verify();
	test_parse_rejects();
	test_digest_hex();
	return vgtest_result("test_secret");
}
