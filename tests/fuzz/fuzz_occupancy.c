/*
 * fuzz_occupancy: libFuzzer target for the occupancy message's parser
 * (vg_occupancy_parse): the core's adt/<ward>/<bed> payloads come from the
 * network. Never a crash or a read past the payload (ASan: the input is
 * copied into a buffer of exactly its size); on every accepted message the
 * invariants the rest of the broker relies on: ids of 1 to 64 of
 * [A-Za-z0-9._-], a label of printable ASCII without '"' or '\' (the frame
 * copies it unescaped), since within its bounds of the receive time, and a
 * second parse giving the same answer. Seeds: tests/fixtures/occupancy.
 *
 * Thread: the fuzzer's. Memory: one copy of the input per run.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vg_occupancy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NOW 1764979200000LL

static void check(int ok)
{
	if(!ok){
		abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vg_occupancy o, o2;
	const char *why, *why2;
	char *copy = malloc(size ? size : 1);
	size_t i;

	if(copy == NULL){
		return 0;
	}
	if(size){
		memcpy(copy, data, size);
	}
	why = vg_occupancy_parse(copy, size, NOW, &o);
	why2 = vg_occupancy_parse(copy, size, NOW, &o2);
	check((why == NULL) == (why2 == NULL));
	if(why == NULL){
		check(memcmp(&o, &o2, sizeof(o)) == 0);
		if(o.vacant){
			check(size == 0 && o.since_ms == NOW && o.patient[0] == '\0');
		}else{
			check(vg_occupancy_id_valid(o.patient, strlen(o.patient)));
			check(vg_occupancy_id_valid(o.encounter, strlen(o.encounter)));
			check(o.since_ms <= NOW + VG_OCC_MAX_SKEW_MS && o.since_ms >= NOW - VG_OCC_MAX_AGE_MS);
			for(i = 0; o.label[i]; i++){
				check(o.label[i] >= 0x20 && o.label[i] <= 0x7e && o.label[i] != '"' && o.label[i] != '\\');
			}
		}
	}
	free(copy);
	return 0;
}
