/*
 * vg_fhir: Observation ids and keys (see vg_fhir.h).
 * Thread: any. Memory: none.
 */
#include "vg_fhir.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "vg_secret.h"

/* Copies s with '_' written '.'; returns the length written (no NUL). */
static size_t put_enc(char *out, const char *s)
{
	size_t n = 0;

	for(; *s; s++){
		out[n++] = *s == '_' ? '.' : *s;
	}
	return n;
}

bool vg_fhir_observation_id(char *out, const char *device, uint64_t seq, const char *key)
{
	char digits[24], buf[256];
	size_t dn = strlen(device), kn = strlen(key), sn, n;
	int k;

	if(dn == 0 || kn == 0){
		return false;
	}
	k = snprintf(digits, sizeof(digits), "%" PRIu64, seq);
	sn = (size_t)k;
	if(3 + dn + 1 + sn + 1 + kn <= VG_FHIR_ID_MAX){
		memcpy(out, "vg-", 3);
		n = 3;
		n += put_enc(out + n, device);
		out[n++] = '-';
		memcpy(out + n, digits, sn);
		n += sn;
		out[n++] = '-';
		n += put_enc(out + n, key);
		out[n] = '\0';
		return true;
	}
	k = snprintf(buf, sizeof(buf), "%s\n%s\n%s", device, digits, key);
	if(k < 0 || (size_t)k >= sizeof(buf)){
		return false;
	}
	memcpy(out, "vgh-", 4);
	return vg_digest_hex(buf, (size_t)k, out + 4, VG_FHIR_ID_MAX - 4) == 0;
}

const struct vg_fhir_code *vg_fhir_code_of(int f)
{
	int i;

	for(i = 0; i < VG_FHIR_CODE_COUNT; i++){
		if(vg_fhir_codes[i].field == f){
			return &vg_fhir_codes[i];
		}
	}
	return NULL;
}

const char *vg_fhir_obs_key(int f)
{
	const struct vg_fhir_code *c = vg_fhir_code_of(f);

	if(c == NULL){
		return NULL;
	}
	return c->panel >= 0 ? vg_fhir_panels[c->panel].key : vg_fields[f].key;
}
