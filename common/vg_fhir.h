/*
 * vg_fhir: what the FHIR export (`vitalgate-admin export fhir`, docs/fhir.md)
 * and the alert events (data.observation) agree on: the stable id of the
 * Observation that carries a sample's measurement, and which Observation
 * that is (a panel's, such as blood pressure, or the measurement's own).
 * The codes themselves are generated from schemas/vitals/v1.json
 * (vg_fhir_codes[], vg_fhir_panels[] in vg_schema.h).
 *
 * An id is "vg-<device>-<seq>-<key>" with each '_' written '.' (FHIR ids
 * allow [A-Za-z0-9.-] only; device ids and keys never hold a '.', so the
 * form reads back, from the right: key, seq, device), or, when that would
 * be longer than 64 characters, "vgh-" and the first 60 hex digits of
 * SHA-256("<device>\n<seq>\n<key>"). The same (device, seq, key) gives the
 * same id in every export and every alert: re-importing is idempotent.
 * bridge/node's observationIds() computes the same ids (a test checks both
 * against one table).
 *
 * Thread: any (pure; the hash uses no shared state). Memory: none owned.
 */
#ifndef VG_FHIR_H
#define VG_FHIR_H

#include <stdbool.h>
#include <stdint.h>

#include "vg_schema.h"

#define VG_FHIR_ID_MAX 64

/* The key of the NEWS2 Observation of a scored sample. */
#define VG_FHIR_NEWS2_KEY "news2"

/* Writes the id into out (VG_FHIR_ID_MAX + 1 bytes). False when device or
 * key is empty or the hash failed. */
bool vg_fhir_observation_id(char *out, const char *device, uint64_t seq, const char *key);

/* The key of the Observation that carries field f: its panel's key (sbp,
 * dbp: "bp"), its own key, or NULL when f has no FHIR code. */
const char *vg_fhir_obs_key(int f);

/* f's row of vg_fhir_codes[], or NULL. */
const struct vg_fhir_code *vg_fhir_code_of(int f);

#endif
