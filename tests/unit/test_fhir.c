/*
 * test_fhir: common/vg_fhir.c: the Observation ids of the FHIR export and
 * the alert events (the same table as bridge/node/test/fhir.test.js, whose
 * observationIds() must agree), and which Observation carries a field.
 */
#include <string.h>

#include "vg_fhir.h"
#include "vgtest.h"

static const struct {
	const char *device;
	uint64_t seq;
	const char *key;
	const char *id;
} vectors[] = {
	{ "mon-3W-12", 42, "hr", "vg-mon-3W-12-42-hr" },
	{ "mon_3W_12", 42, "bp", "vg-mon.3W.12-42-bp" },
	{ "a", 0, "news2", "vg-a-0-news2" },
	{ "a", 9223372036854775807ull, "spo2", "vg-a-9223372036854775807-spo2" },
	{ "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", 1234567, "temp",
		"vg-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx-1234567-temp" },
	{ "dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd_x_y", 7, "hr",
		"vgh-0bb5a7a03868ade05498009a355496de627264f728a78a99e31ffcd580b2" },
};

static void test_ids(void)
{
	char id[VG_FHIR_ID_MAX + 1], dev[65];
	size_t i;

	for(i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++){
		memset(id, 0, sizeof(id));
		CHECK(vg_fhir_observation_id(id, vectors[i].device, vectors[i].seq, vectors[i].key));
		CHECK_STR(id, vectors[i].id);
		CHECK(strlen(id) <= VG_FHIR_ID_MAX);
		CHECK(strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-.") == strlen(id));
	}
	/* "vg-" + device + "-1-hr": a 56-character device makes 64 and stays readable, 57 is hashed */
	memset(dev, 'd', sizeof(dev));
	dev[56] = '\0';
	CHECK(vg_fhir_observation_id(id, dev, 1, "hr"));
	CHECK_INT((int)strlen(id), 64);
	CHECK(!strncmp(id, "vg-", 3));
	dev[56] = 'd';
	dev[57] = '\0';
	CHECK(vg_fhir_observation_id(id, dev, 1, "hr"));
	CHECK_INT((int)strlen(id), 64);
	CHECK(!strncmp(id, "vgh-", 4));
	CHECK(!vg_fhir_observation_id(id, "", 1, "hr"));
	CHECK(!vg_fhir_observation_id(id, "a", 1, ""));
}

static void test_keys(void)
{
	CHECK_STR(vg_fhir_obs_key(VG_F_HR), "hr");
	CHECK_STR(vg_fhir_obs_key(VG_F_SBP), "bp");
	CHECK_STR(vg_fhir_obs_key(VG_F_DBP), "bp");
	CHECK_STR(vg_fhir_obs_key(VG_F_MAP), "map");
	CHECK(vg_fhir_obs_key(VG_F_O2) == NULL);
	CHECK(vg_fhir_obs_key(VG_F_AVPU) == NULL);
	CHECK(vg_fhir_code_of(VG_F_SPO2) != NULL && !strcmp(vg_fhir_code_of(VG_F_SPO2)->loinc_also, "2708-6"));
}

int main(void)
{
	test_ids();
	test_keys();
	return vgtest_result("test_fhir");
}
