/*
 * fuzz_rec: libFuzzer target for the journal record decoders (vg_rec).
 *
 * Journal bytes come from disk: a torn write, a bad sector or a journal
 * written by another release must never crash the writer, read out of
 * bounds or yield a view outside the record. The first input byte picks the
 * decoder (the writer picks it from the record's type the same way), the
 * rest is the record payload (selector 6: the occupancy message's parser,
 * the rest being an adt/ payload; seeds in tests/fixtures/rec). Invariants checked on every accepted record:
 * every string view lies inside the payload, counts stay within their
 * arrays, and decoding is deterministic (a second pass gives the same
 * answer). The records are small and libFuzzer's coverage feedback finds
 * their framing from nothing within seconds; the occupancy JSON has seeds.
 *
 * Thread: the fuzzer's. Memory: the decoded structs are static (they hold
 * a whole batch of samples); views point into the input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vg_occupancy.h"
#include "vg_rec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok)
{
	if(!ok){
		abort();
	}
}

static const uint8_t *lo, *hi;

static void check_view(struct vg_str s)
{
	if(s.n == 0){
		return;
	}
	check((const uint8_t *)s.p >= lo && (const uint8_t *)s.p + s.n <= hi);
}

static void check_event(const struct vg_rec_event *e)
{
	check_view(e->event_id);
	check_view(e->alert_id);
	check_view(e->severity);
	check_view(e->order_key);
	check_view(e->ward);
	check_view(e->bed);
	check_view(e->device);
	check_view(e->body);
}

/* Selector 6: the occupancy message's parser (adt/<ward>/<bed> payloads
 * come from the network). On every accepted message, the invariants the
 * broker relies on: ids of 1 to 64 of [A-Za-z0-9._-], a label of printable
 * ASCII without '"' or '\\' (the frame copies it unescaped), since within
 * its bounds of the receive time, and a second parse giving the same. */
#define OCC_NOW 1764979200000LL

static void check_occupancy_parse(const uint8_t *p, size_t len)
{
	struct vg_occupancy o, o2;
	const char *why = vg_occupancy_parse(p, len, OCC_NOW, &o);
	size_t i;

	check((why == NULL) == (vg_occupancy_parse(p, len, OCC_NOW, &o2) == NULL));
	if(why != NULL){
		return;
	}
	check(memcmp(&o, &o2, sizeof(o)) == 0);
	if(o.vacant){
		check(len == 0 && o.since_ms == OCC_NOW && o.patient[0] == '\0');
		return;
	}
	check(vg_occupancy_id_valid(o.patient, strlen(o.patient)));
	check(vg_occupancy_id_valid(o.encounter, strlen(o.encounter)));
	check(o.since_ms <= OCC_NOW + VG_OCC_MAX_SKEW_MS && o.since_ms >= OCC_NOW - VG_OCC_MAX_AGE_MS);
	for(i = 0; o.label[i]; i++){
		check(o.label[i] >= 0x20 && o.label[i] <= 0x7e && o.label[i] != '"' && o.label[i] != '\\');
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct vg_rec_samples s, s2;
	static struct vg_rec_event ev[VG_REC_MAX_EVENTS];
	struct vg_rec_rejection rj;
	struct vg_rec_rejection_summary sum;
	struct vg_rec_audit au;
	struct vg_rec_delivery d;
	struct vg_rec_occupancy occ;
	const uint8_t *p;
	size_t len;
	int nev = -1, i;
	bool ok;

	if(size < 1){
		return 0;
	}
	p = data + 1;
	len = size - 1;
	lo = p;
	hi = p + len;
	switch(data[0] % 8){
		case 0:
			ok = vg_rec_decode_samples(p, len, &s);
			check(ok == vg_rec_decode_samples(p, len, &s2));
			if(ok){
				check(s.n >= 0 && s.n <= VG_MAX_BATCH);
				check(s.nevents >= 0 && s.nevents <= VG_REC_MAX_EVENTS);
				check_view(s.device);
				check_view(s.ward);
				check_view(s.bed);
				for(i = 0; i < s.nevents; i++){
					check_event(&s.events[i]);
				}
			}
			break;
		case 1:
			if(vg_rec_decode_rejection(p, len, &rj)){
				check_view(rj.device);
				check_view(rj.field);
				check_view(rj.detail);
				check_view(rj.payload);
				check(rj.payload.n <= rj.payload_len);
			}
			break;
		case 2:
			if(vg_rec_decode_rejection_summary(p, len, &sum)){
				check_view(sum.device);
			}
			break;
		case 3:
			if(vg_rec_decode_audit(p, len, &au)){
				check_view(au.identity);
				check_view(au.client_id);
				check_view(au.address);
				check_view(au.detail);
			}
			break;
		case 4:
			if(vg_rec_decode_alerts(p, len, ev, &nev)){
				check(nev >= 0 && nev <= VG_REC_MAX_EVENTS);
				for(i = 0; i < nev; i++){
					check_event(&ev[i]);
				}
			}
			break;
		case 5:
			if(vg_rec_decode_occupancy(p, len, &occ)){
				check_view(occ.ward);
				check_view(occ.bed);
				check_view(occ.by);
				check_view(occ.patient);
				check_view(occ.encounter);
				check_view(occ.label);
				check(occ.vacant ? occ.patient.n == 0 : occ.patient.n > 0);
			}
			break;
		case 6:
			check_occupancy_parse(p, len);
			break;
		default:
			if(vg_rec_decode_delivery(p, len, &d)){
				check_view(d.event_id);
				check_view(d.error);
			}
			break;
	}
	return 0;
}
