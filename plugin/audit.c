/*
 * audit: security events into the journal (see audit.h).
 *
 * Records are encoded into vg->audit.buf and journalled by vg_audit_flush.
 * No record is ever dropped for lack of room: before encoding one, the
 * buffer is flushed unless it has room for the largest record the encoder
 * can produce (VG_REC_AUDIT_MAX: the encoder cuts every field to its bound,
 * and the fields are sanitised here to the same bounds first).
 *
 * Thread: broker thread. Memory: encodes into the plugin's record buffer.
 */
#include "audit.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include <mosquitto.h>
#include <mosquitto_broker.h>

#include "vg_plugin.h"
#include "vg_util.h"

_Static_assert(VG_AUDIT_BUF_BYTES >= VG_REC_AUDIT_MAX, "the audit buffer must hold the largest audit record");

static void record(struct vg_plugin *vg, enum vg_audit_event ev, const char *identity, const char *client_id,
		const char *address, const char *fmt, va_list ap)
{
	char id[VG_REC_AUDIT_ID_MAX + 1], cid[VG_REC_AUDIT_ID_MAX + 1], addr[VG_REC_AUDIT_ADDR_MAX + 1];
	char detail[VG_REC_AUDIT_DETAIL_MAX + 1];
	struct vg_wbuf w;

	if(vg->audit.buf == NULL){
		return;
	}
	vg_sanitize(id, sizeof(id), identity);
	vg_sanitize(cid, sizeof(cid), client_id);
	vg_sanitize(addr, sizeof(addr), address);
	{
		char raw[VG_REC_AUDIT_DETAIL_MAX + 1];
		vsnprintf(raw, sizeof(raw), fmt, ap);
		vg_sanitize(detail, sizeof(detail), raw);
	}
	/* Buffered, not written: vg_audit_flush writes the whole buffer with
	 * one writev on TICK (or when it fills), so a reconnect storm costs
	 * one system call per loop pass, not one per client. Room for the
	 * largest record first, whatever this one turns out to be. */
	if(vg->audit.n == VG_AUDIT_BUF_RECORDS || VG_AUDIT_BUF_BYTES - vg->audit.len < VG_REC_AUDIT_MAX){
		vg_audit_flush(vg);
	}
	vg_wbuf_init(&w, vg->audit.buf + vg->audit.len, VG_AUDIT_BUF_BYTES - vg->audit.len);
	if(!vg_rec_encode_audit(&w, vg_now_ms(), (uint8_t)ev, id, cid, addr, detail)){
		/* Cannot happen (the room was made above); counted and said if it does. */
		vg->stats.audit_unrecorded++;
		mosquitto_log_printf(MOSQ_LOG_ERR, "Vitalgate: an audit event (%s) did not fit the audit buffer; %llu unrecorded so far",
				vg_audit_event_name(ev), (unsigned long long)vg->stats.audit_unrecorded);
		return;
	}
	vg->audit.offs[vg->audit.n] = (uint32_t)vg->audit.len;
	vg->audit.lens[vg->audit.n] = (uint32_t)w.len;
	vg->audit.n++;
	vg->audit.len += w.len;
}

int vg_audit_init(struct vg_audit *a)
{
	vg_ratelimit_init(&a->noisy, VG_AUDIT_NOISY_PER_SECOND, 1000);
	a->buf = malloc(VG_AUDIT_BUF_BYTES);
	return a->buf ? 0 : -1;
}

void vg_audit_free(struct vg_audit *a)
{
	free(a->buf);
	a->buf = NULL;
}

void vg_audit_flush(struct vg_plugin *vg)
{
	int rc;

	if(vg->audit.n == 0){
		return;
	}
	rc = vg_journal_append_batch(vg->workers.journal, VG_JOURNAL_CLASS_PRIORITY, VG_REC_AUDIT, vg->audit.buf,
			vg->audit.offs, vg->audit.lens, vg->audit.n);
	if(rc != VG_JOURNAL_OK){
		vg->stats.audit_unrecorded += (uint64_t)vg->audit.n;
		mosquitto_log_printf(MOSQ_LOG_ERR, "Vitalgate: %d audit event(s) could not be journalled (%s); %llu so far",
				vg->audit.n, rc == VG_JOURNAL_FULL ? "journal full" : "write failed",
				(unsigned long long)vg->stats.audit_unrecorded);
	}else{
		vg->stats.audit_events += (uint64_t)vg->audit.n;
	}
	vg->audit.n = 0;
	vg->audit.len = 0;
}

void vg_audit(struct vg_plugin *vg, enum vg_audit_event ev, const char *identity, const char *client_id,
		const char *address, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	record(vg, ev, identity, client_id, address, fmt, ap);
	va_end(ap);
}

/* The summary row of the noisy events a closed second did not record. */
static void summarise(struct vg_plugin *vg, unsigned long missed)
{
	if(missed){
		vg_audit(vg, VG_AUDIT_SUPPRESSED, NULL, NULL, NULL,
				"%lu further refusals/denials in the last second were not recorded one by one", missed);
	}
}

void vg_audit_noisy(struct vg_plugin *vg, enum vg_audit_event ev, const char *identity, const char *client_id,
		const char *address, const char *fmt, ...)
{
	va_list ap;
	unsigned long missed;
	bool take = vg_ratelimit_take(&vg->audit.noisy, vg_mono_ms(), &missed);

	summarise(vg, missed);
	if(!take){
		return;
	}
	va_start(ap, fmt);
	record(vg, ev, identity, client_id, address, fmt, ap);
	va_end(ap);
}

void vg_audit_tick(struct vg_plugin *vg, int64_t now_ms)
{
	summarise(vg, vg_ratelimit_roll(&vg->audit.noisy, now_ms));
}
