/*
 * stations: what nurses' stations read, kept current by the broker
 * (docs/stations.md):
 *  - wards/<ward>/vitals, retained: the ward's frame, every bed with its
 *    latest sample, NEWS2 and open alerts in one JSON message, published
 *    on TICK at most once per station_frame_ms and only when something in
 *    the ward changed (QoS 0: each frame replaces the one before);
 *  - wards/<ward>/alerts/active, retained: the ward's open alerts (the last
 *    event of each), republished on TICK when it changed;
 *  - with bed_topics, also v1's wards/<ward>/beds/<bed>/vitals, retained:
 *    the bed's latest sample for every accepted message (cleared when the
 *    device that sent it leaves the bed).
 * The alert events themselves (wards/<ward>/alerts) are published by
 * alerts.c the moment they happen, never held back for a frame.
 *
 * A sample costs a copy into its bed's frame slot; the bed's JSON is
 * written when the next frame is assembled (at most once per frame however
 * many samples came), and a bed that did not change is copied from the
 * previous frame as it was, not written again.
 *
 * Thread: broker thread. Memory: per ward, its open alerts (copies of
 * their last events), its beds' frame slots and its last frame; the frame
 * being assembled (reused).
 */
#ifndef VG_STATIONS_H
#define VG_STATIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vg_ident.h"
#include "vg_rec.h"
#include "vg_sbuf.h"
#include "vg_smap.h"
#include "vg_vitals.h"

struct vg_plugin;
struct vg_stations_ward;

/* stations.c's state. */
struct vg_stations {
	struct vg_smap wards;           /* ward -> struct vg_stations_ward */
	struct vg_smap alert_wards;     /* open alert id -> the ward whose list has it */
	struct vg_stations_ward **changed; /* wards whose frame is due a republish */
	size_t nchanged, changed_cap;
	int64_t next_due_ms;            /* monotonic: the earliest of their due times */
	bool alerts_dirty;              /* a ward's open-alert list changed since TICK */
	struct vg_sbuf frame;           /* the frame being assembled */
};

int vg_stations_init(struct vg_stations *st);
void vg_stations_free(struct vg_stations *st);

/* Ingest, after the samples were journalled: the message's newest sample
 * (by ts) becomes what the bed shows in its ward's next frame, unless the
 * bed shows a newer one (a late sample is stored, not shown); the ward's
 * frame is due. With bed_topics, also publishes v1's per-bed topic.
 * bed_cache: the device's (vg_beds_find_cached). */
struct vg_bed;
void vg_stations_on_samples(struct vg_plugin *vg, const struct vg_ident *e, struct vg_bed **bed_cache,
		const struct vg_sample *s, int n, int64_t now_ms);

/* An alert event's body as stations see it: without the patient_id and
 * encounter_id members alerts.c writes (docs/patient-context.md: stations
 * see the label only). True, with the span [*from, *to) to leave out,
 * when the body has them. */
bool vg_stations_view(const char *body, size_t n, size_t *from, size_t *to);

/* The bed's occupancy changed: its frame (if it shows in one) is due, to
 * show the new patient label (or none). */
void vg_stations_on_occupancy(struct vg_plugin *vg, struct vg_bed *b);

/* TICK: a device is no longer at ward/bed; if the bed shows its sample, the
 * bed leaves the next frame (unless it has open alerts: then it stays,
 * without a sample), and with bed_topics its retained v1 topic is cleared. */
void vg_stations_device_left(struct vg_plugin *vg, const char *id, const char *ward, const char *bed);

/* An alert event was emitted: updates the ward's open-alert list and the
 * bed's alerts in the frame. */
void vg_stations_on_alert(struct vg_plugin *vg, const struct vg_rec_event *ev);
/* An alert of the previous run continues (restart): body is its last event. */
void vg_stations_open_alert(struct vg_plugin *vg, const char *ward, const char *bed, const char *alert_id,
		const char *body, size_t len);

/* An open alert's condition ended at cleared_ms and it waits out
 * alert_hold_s (0: it did not, or no longer does): its list entry and the
 * frame say "condition_cleared_at" from the next publish. */
void vg_stations_alert_cleared(struct vg_plugin *vg, const char *ward, const char *alert_id, int64_t cleared_ms);

/* TICK: republishes the open-alert lists that changed, and the frames of
 * changed wards whose last frame is at least station_frame_ms old. */
void vg_stations_tick(struct vg_plugin *vg, int64_t now_ms, int64_t mono_ms);

#endif
