/*
 * audit: security events into the journal (see audit.h).
 * Thread: broker thread. Memory: encodes into the plugin's record buffer.
 */
#include "audit.h"

#include <stdarg.h>
#include <stdio.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>

#include "vg_plugin.h"
#include "vg_util.h"

#define NOISY_PER_SECOND 50

static void record(struct vg_plugin *vg, enum vg_audit_event ev, const char *identity, const char *client_id,
		const char *address, const char *fmt, va_list ap)
{
	char id[VG_ID_MAX + 1], cid[VG_ID_MAX + 1], addr[64], detail[512];
	struct vg_wbuf w;
	int rc;

	vg_sanitize(id, sizeof(id), identity);
	vg_sanitize(cid, sizeof(cid), client_id);
	vg_sanitize(addr, sizeof(addr), address);
	{
		char raw[512];
		vsnprintf(raw, sizeof(raw), fmt, ap);
		vg_sanitize(detail, sizeof(detail), raw);
	}
	vg_wbuf_init(&w, vg->recbuf, vg->recbuf_cap);
	if(!vg_rec_encode_audit(&w, vg_now_ms(), (uint8_t)ev, id, cid, addr, detail)){
		rc = VG_JOURNAL_TOOBIG;
	}else{
		rc = vg_journal_append_class(vg->journal, VG_JOURNAL_CLASS_PRIORITY, VG_REC_AUDIT, w.p, (uint32_t)w.len, NULL);
	}
	if(rc != VG_JOURNAL_OK){
		vg->stats.audit_unrecorded++;
		if(vg->stats.audit_unrecorded == 1 || vg->stats.audit_unrecorded % 1000 == 0){
			mosquitto_log_printf(MOSQ_LOG_ERR, "Vitalgate: %llu audit event(s) could not be journalled (journal full or failing)",
					(unsigned long long)vg->stats.audit_unrecorded);
		}
		return;
	}
	vg->stats.audit_events++;
}

void vg_audit(struct vg_plugin *vg, enum vg_audit_event ev, const char *identity, const char *client_id,
		const char *address, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	record(vg, ev, identity, client_id, address, fmt, ap);
	va_end(ap);
}

void vg_audit_noisy(struct vg_plugin *vg, enum vg_audit_event ev, const char *identity, const char *client_id,
		const char *address, const char *fmt, ...)
{
	va_list ap;
	int64_t now = vg_mono_ms();

	if(now - vg->audit_window_ms >= 1000){
		vg_audit_tick(vg, now);
	}
	if(vg->audit_window_count >= NOISY_PER_SECOND){
		vg->audit_suppressed++;
		return;
	}
	vg->audit_window_count++;
	va_start(ap, fmt);
	record(vg, ev, identity, client_id, address, fmt, ap);
	va_end(ap);
}

void vg_audit_tick(struct vg_plugin *vg, int64_t now_ms)
{
	if(now_ms - vg->audit_window_ms < 1000){
		return;
	}
	if(vg->audit_suppressed){
		vg_audit(vg, VG_AUDIT_SUPPRESSED, NULL, NULL, NULL,
				"%lu further refusals/denials in the last second were not recorded one by one", vg->audit_suppressed);
		vg->audit_suppressed = 0;
	}
	vg->audit_window_ms = now_ms;
	vg->audit_window_count = 0;
}
