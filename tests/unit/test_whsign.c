/*
 * test_whsign: whsec_ secret files and Standard Webhooks v1 signatures.
 */
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "whsign.h"
#include "vgtest.h"

/* Standard Webhooks test vector (standard-webhooks spec / libraries). */
#define TV_SECRET "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
#define TV_ID "msg_p5jXN8AQM9LWM0D4loKWxJek"
#define TV_TS 1614265330
#define TV_BODY "{\"test\": 2432232314}"
#define TV_SIG "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

/* 16 bytes 0x00..0x0f and 32 bytes 0x20..0x3f, base64. */
#define K16 "whsec_AAECAwQFBgcICQoLDA0ODw=="
#define K32 "whsec_ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8="

static bool all_zero(const void *p, size_t n)
{
	const uint8_t *b = p;
	size_t i;

	for(i = 0; i < n; i++){
		if(b[i]){
			return false;
		}
	}
	return true;
}

static void test_parse(void)
{
	struct vg_whsecrets s;
	char err[200];
	int i;

	/* Comments, blank lines, indentation, CRLF, trailing spaces, no final
	 * newline. */
	CHECK_INT(vg_whsecrets_parse("# rotated 2024-05-01\r\n\r\n  " K16 "  \r\n\t# old key below\n\n" K32, &s, err, sizeof(err)), 0);
	CHECK_INT(s.n, 2);
	CHECK_INT(s.keylen[0], 16);
	CHECK_INT(s.keylen[1], 32);
	for(i = 0; i < 16; i++){
		CHECK_INT(s.key[0][i], i);
	}
	CHECK_INT(s.key[1][0], 0x20);
	CHECK_INT(s.key[1][31], 0x3f);

	/* Padding is optional. */
	CHECK_INT(vg_whsecrets_parse("whsec_AAECAwQFBgcICQoLDA0ODw\n", &s, err, sizeof(err)), 0);
	CHECK_INT(s.n, 1);
	CHECK_INT(s.keylen[0], 16);
	CHECK_INT(s.key[0][15], 15);

	/* The test-vector secret: 24 bytes. */
	CHECK_INT(vg_whsecrets_parse(TV_SECRET "\n", &s, err, sizeof(err)), 0);
	CHECK_INT(s.n, 1);
	CHECK_INT(s.keylen[0], 24);
	vg_whsecrets_wipe(&s);
	CHECK(all_zero(&s, sizeof(s)));
}

static void test_parse_rejects(void)
{
	struct vg_whsecrets s;
	char err[200];
	char text[2048];
	int i;

	err[0] = '\0';
	CHECK_INT(vg_whsecrets_parse("", &s, err, sizeof(err)), -1);
	CHECK(strstr(err, "no whsec_") != NULL);
	CHECK_INT(vg_whsecrets_parse("# only a comment\n\n", &s, err, sizeof(err)), -1);
	CHECK(strstr(err, "no whsec_") != NULL);

	CHECK_INT(vg_whsecrets_parse(K16 "\nsecret123456789012345\n", &s, err, sizeof(err)), -1);
	CHECK(strstr(err, "line 2") != NULL);
	CHECK(strstr(err, "not a whsec_") != NULL);
	CHECK(strstr(err, "secret1234") == NULL);   /* never echoes the text */
	CHECK(all_zero(&s, sizeof(s)));              /* keys wiped on failure */

	CHECK_INT(vg_whsecrets_parse("WHSEC_AAECAwQFBgcICQoLDA0ODw==", &s, err, sizeof(err)), -1);
	CHECK(strstr(err, "line 1") != NULL);
	CHECK_INT(vg_whsecrets_parse("whsec_", &s, err, sizeof(err)), -1);
	CHECK_INT(vg_whsecrets_parse("v1,whsec_AAECAwQFBgcICQoLDA0ODw==", &s, err, sizeof(err)), -1);

	/* Bad base64: characters outside the alphabet, url-safe alphabet,
	 * impossible padding. */
	CHECK_INT(vg_whsecrets_parse("\n\nwhsec_AAECAwQFBgcICQoLDA0O*w==", &s, err, sizeof(err)), -1);
	CHECK(strstr(err, "line 3") != NULL);
	CHECK(strstr(err, "base64") != NULL);
	CHECK_INT(vg_whsecrets_parse("whsec_AAECAwQFBgcICQoLDA0O-w==", &s, err, sizeof(err)), -1);
	CHECK_INT(vg_whsecrets_parse("whsec_AAECAwQFBgcICQoLDA0ODw===", &s, err, sizeof(err)), -1);
	CHECK_INT(vg_whsecrets_parse("whsec_AAEC AwQFBgcICQoLDA0ODw==", &s, err, sizeof(err)), -1);

	/* Too short: 15 bytes. */
	CHECK_INT(vg_whsecrets_parse("whsec_AAECAwQFBgcICQoLDA0O", &s, err, sizeof(err)), -1);
	CHECK(strstr(err, "15 bytes") != NULL);
	CHECK(strstr(err, "16") != NULL);
	/* Too long: more than 128 bytes (132 bytes = 176 characters). */
	{
		char line[200];
		memcpy(line, "whsec_", 6);
		memset(line + 6, 'A', 176);
		line[182] = '\0';
		CHECK_INT(vg_whsecrets_parse(line, &s, err, sizeof(err)), -1);
		/* Exactly 128 bytes: 172 characters, the last two "==" padding. */
		memset(line + 6, 'A', 171);
		line[6 + 171] = '=';
		line[6 + 172] = '\0';
		CHECK_INT(vg_whsecrets_parse(line, &s, err, sizeof(err)), 0);
		CHECK_INT(s.n, 1);
		CHECK_INT(s.keylen[0], 128);
	}

	/* At most 8 secrets. */
	text[0] = '\0';
	for(i = 0; i < 8; i++){
		strcat(text, K16 "\n");
	}
	CHECK_INT(vg_whsecrets_parse(text, &s, err, sizeof(err)), 0);
	CHECK_INT(s.n, 8);
	strcat(text, "# ninth:\n" K32 "\n");
	CHECK_INT(vg_whsecrets_parse(text, &s, err, sizeof(err)), -1);
	CHECK(strstr(err, "line 10") != NULL);
	CHECK(strstr(err, "more than 8") != NULL);
}

static void test_load(void)
{
	struct vg_whsecrets s;
	char path[] = "/tmp/vg-test-whsec-XXXXXX";
	char err[300];
	int fd = mkstemp(path);

	CHECK(fd >= 0);
	if(fd < 0){
		return;
	}
	CHECK(write(fd, "# test\n" K32 "\n", strlen("# test\n" K32 "\n")) == (ssize_t)strlen("# test\n" K32 "\n"));
	close(fd);
	CHECK_INT(vg_whsecrets_load(path, &s, err, sizeof(err)), 0);
	CHECK_INT(s.n, 1);
	CHECK_INT(s.keylen[0], 32);

	/* Errors name the file. */
	fd = open(path, O_WRONLY | O_TRUNC);
	CHECK(fd >= 0);
	if(fd >= 0){
		CHECK(write(fd, "nope\n", 5) == 5);
		close(fd);
	}
	CHECK_INT(vg_whsecrets_load(path, &s, err, sizeof(err)), -1);
	CHECK(strstr(err, path) != NULL);
	CHECK(strstr(err, "line 1") != NULL);
	unlink(path);
	CHECK_INT(vg_whsecrets_load(path, &s, err, sizeof(err)), -1);
	CHECK(strstr(err, path) != NULL);
}

static void test_sign_vector(void)
{
	struct vg_whsecrets s;
	char err[200], out[256];

	CHECK_INT(vg_whsecrets_parse(TV_SECRET, &s, err, sizeof(err)), 0);
	CHECK_INT(vg_whsign(&s, TV_ID, TV_TS, TV_BODY, strlen(TV_BODY), out, sizeof(out)), 0);
	CHECK_STR(out, TV_SIG);

	/* Any change to id, timestamp or body changes the signature. */
	CHECK_INT(vg_whsign(&s, "msg_p5jXN8AQM9LWM0D4loKWxJeK", TV_TS, TV_BODY, strlen(TV_BODY), out, sizeof(out)), 0);
	CHECK(strcmp(out, TV_SIG) != 0);
	CHECK_INT(vg_whsign(&s, TV_ID, TV_TS + 1, TV_BODY, strlen(TV_BODY), out, sizeof(out)), 0);
	CHECK(strcmp(out, TV_SIG) != 0);
	CHECK_INT(vg_whsign(&s, TV_ID, TV_TS, TV_BODY, strlen(TV_BODY) - 1, out, sizeof(out)), 0);
	CHECK(strcmp(out, TV_SIG) != 0);

	/* Too small an output buffer is an error, not a truncated header. */
	CHECK_INT(vg_whsign(&s, TV_ID, TV_TS, TV_BODY, strlen(TV_BODY), out, strlen(TV_SIG)), -1);
	CHECK_INT(vg_whsign(&s, TV_ID, TV_TS, TV_BODY, strlen(TV_BODY), out, strlen(TV_SIG) + 1), 0);
	CHECK_STR(out, TV_SIG);
	CHECK_INT(vg_whsign(&s, TV_ID, TV_TS, TV_BODY, strlen(TV_BODY), out, 0), -1);
	vg_whsecrets_wipe(&s);
}

/* Independent HMAC-SHA256 over "{id}.{ts}.{body}" with key, in base64. */
static void expect_sig(const uint8_t *key, size_t keylen, const char *id, long long ts, const char *body, char *out)
{
	char msg[512];
	unsigned char mac[32];
	unsigned int maclen = 0;
	int n = snprintf(msg, sizeof(msg), "%s.%lld.%s", id, ts, body);

	HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)msg, (size_t)n, mac, &maclen);
	memcpy(out, "v1,", 3);
	EVP_EncodeBlock((unsigned char *)out + 3, mac, (int)maclen);
}

static void test_sign_rotation(void)
{
	struct vg_whsecrets s;
	char err[200], out[512], e1[64], e2[64], want[160];
	const char *body = "{\"type\":\"alert.raised\",\"data\":{}}";
	char *sp;

	CHECK_INT(vg_whsecrets_parse(K32 "\n" TV_SECRET "\n", &s, err, sizeof(err)), 0);
	CHECK_INT(s.n, 2);
	CHECK_INT(vg_whsign(&s, "evt_1", 1700000000, body, strlen(body), out, sizeof(out)), 0);
	/* Two space-separated signatures, in file order. */
	sp = strchr(out, ' ');
	CHECK(sp != NULL);
	CHECK(sp && strchr(sp + 1, ' ') == NULL);
	CHECK(strncmp(out, "v1,", 3) == 0);
	CHECK(sp && strncmp(sp + 1, "v1,", 3) == 0);
	expect_sig(s.key[0], s.keylen[0], "evt_1", 1700000000, body, e1);
	expect_sig(s.key[1], s.keylen[1], "evt_1", 1700000000, body, e2);
	snprintf(want, sizeof(want), "%s %s", e1, e2);
	CHECK_STR(out, want);
	CHECK(strcmp(e1, e2) != 0);

	/* The second signature of the pair is the test vector's for its input. */
	CHECK_INT(vg_whsign(&s, TV_ID, TV_TS, TV_BODY, strlen(TV_BODY), out, sizeof(out)), 0);
	sp = strchr(out, ' ');
	CHECK(sp != NULL);
	CHECK(sp && strcmp(sp + 1, TV_SIG) == 0);

	/* Room for the first signature only: an error. */
	CHECK_INT(vg_whsign(&s, TV_ID, TV_TS, TV_BODY, strlen(TV_BODY), out, 50), -1);
	vg_whsecrets_wipe(&s);
}

int main(void)
{
	test_parse();
	test_parse_rejects();
	test_load();
	test_sign_vector();
	test_sign_rotation();
	return vgtest_result("test_whsign");
}
