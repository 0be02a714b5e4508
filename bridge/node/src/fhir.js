// The FHIR Observation ids an alert webhook refers to (docs/fhir.md).
// `vitalgate-admin export fhir` gives every Observation a stable id derived
// from the sample it comes from: "vg-<device>-<seq>-<key>" with each '_'
// written '.', or, when that would be longer than 64 characters, "vgh-"
// and the first 60 hex digits of SHA-256("<device>\n<seq>\n<key>"). Alert
// events carry the id of the Observation they are about in
// data.observation ("Observation/<id>"); brokers from before it did not, and
// the id is then derived from data.device_id, data.seq and data.vital (or
// the NEWS2 key). common/vg_fhir.c computes the same ids.
import { createHash } from 'node:crypto';

/** Measurements exported as components of a panel (schemas/vitals/v1.json groups with a LOINC code). */
export const FHIR_PANELS = Object.freeze({ sbp: 'bp', dbp: 'bp' });
const NEWS2_KEY = 'news2';

/** The id of the Observation `key` (a measurement, a panel such as 'bp', or 'news2') of sample (device, seq). */
export function fhirObservationId(device, seq, key) {
  if (typeof device !== 'string' || !device || typeof key !== 'string' || !key) {
    throw new TypeError('fhirObservationId(device, seq, key): device and key are non-empty strings');
  }
  const s = typeof seq === 'bigint' ? seq.toString() : String(seq);
  if (!/^[0-9]+$/.test(s)) throw new TypeError('fhirObservationId: seq is a non-negative integer');
  const plain = `vg-${device.replaceAll('_', '.')}-${s}-${key.replaceAll('_', '.')}`;
  if (plain.length <= 64) return plain;
  return `vgh-${createHash('sha256').update(`${device}\n${s}\n${key}`).digest('hex').slice(0, 60)}`;
}

/**
 * The ids of the FHIR Observations an alert event (the webhook's parsed body)
 * refers to: [] for an event about no sample (a silent device).
 */
export function observationIds(event) {
  const d = event?.data;
  if (d === null || typeof d !== 'object') return [];
  if (typeof d.observation === 'string') {
    const m = /^Observation\/([A-Za-z0-9.-]{1,64})$/.exec(d.observation);
    return m ? [m[1]] : [];
  }
  if (typeof d.device_id !== 'string' || !d.device_id || d.seq === undefined || d.seq === null) return [];
  if (d.kind === 'threshold' && typeof d.vital === 'string') {
    return [fhirObservationId(d.device_id, d.seq, FHIR_PANELS[d.vital] ?? d.vital)];
  }
  if (d.kind === 'news2') return [fhirObservationId(d.device_id, d.seq, NEWS2_KEY)];
  return [];
}
