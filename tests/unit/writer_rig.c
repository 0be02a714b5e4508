/*
 * writer_rig: see writer_rig.h. Test-only.
 * Thread: the test's, and the writer's for the commit check.
 * Memory: see writer_rig.h.
 */
#include "writer_rig.h"

#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fake_pq.h"
#include "outbox.h"
#include "vg_completion.h"
#include "vg_rec.h"

__thread bool rig_immune;
_Atomic int rig_violations;
_Atomic int rig_commits_checked;
char rig_first_violation[256];

int __real_vg_journal_commit(struct vg_journal *j, struct vg_journal_pos upto);
int __wrap_vg_journal_commit(struct vg_journal *j, struct vg_journal_pos upto);

void rig_sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* ---- the invariant, checked at every commit ------------------------------ */

static bool pos_le(struct vg_journal_pos a, struct vg_journal_pos b)
{
	return a.seg < b.seg || (a.seg == b.seg && a.off <= b.off);
}

static bool lsn_in(const char *table, int col, uint64_t lsn)
{
	char key[32];

	snprintf(key, sizeof(key), "%" PRIu64, lsn);
	return fake_pq_committed_has(table, col, key);
}

/* Is this journal record in the database (in a committed transaction)? */
static bool stored(const struct vg_journal_rec *rec, char *what, size_t whatlen)
{
	static __thread struct vg_rec_samples rs;
	struct vg_rec_delivery d;
	char key[80];
	int i;

	switch(rec->type){
		case VG_REC_SAMPLES:
			if(!vg_rec_decode_samples(rec->payload, rec->len, &rs)){
				if(rs.unknown_ids){
					/* Fields this build does not know: never stored, and
					 * never committed past either. */
					snprintf(what, whatlen, "samples naming unknown field ids (lsn %" PRIu64 ")", rec->lsn);
					return false;
				}
				return true;   /* undecodable: never stored, by design */
			}
			for(i = 0; i < rs.n; i++){
				snprintf(key, sizeof(key), "%" PRIu64, rs.s[i].val[VG_F_SEQ].u);
				if(!fake_pq_committed_has("vitals", 1, key)){
					snprintf(what, whatlen, "sample seq %s (lsn %" PRIu64 ")", key, rec->lsn);
					return false;
				}
			}
			for(i = 0; i < rs.nevents; i++){
				snprintf(key, sizeof(key), "%.*s", (int)rs.events[i].event_id.n, rs.events[i].event_id.p);
				if(!fake_pq_committed_has("alert_events", 0, key)){
					snprintf(what, whatlen, "alert event %s (lsn %" PRIu64 ")", key, rec->lsn);
					return false;
				}
			}
			return true;
		case VG_REC_DELIVERY:
			snprintf(what, whatlen, "delivery outcome lsn %" PRIu64, rec->lsn);
			return !vg_rec_decode_delivery(rec->payload, rec->len, &d) || lsn_in("vg_stage_delivery", 6, rec->lsn);
		case VG_REC_REJECTION:
			snprintf(what, whatlen, "rejection lsn %" PRIu64, rec->lsn);
			return lsn_in("rejections", 9, rec->lsn);
		case VG_REC_AUDIT:
			snprintf(what, whatlen, "audit lsn %" PRIu64, rec->lsn);
			return lsn_in("audit_log", 10, rec->lsn);
		default:
			return true;
	}
}

int __wrap_vg_journal_commit(struct vg_journal *j, struct vg_journal_pos upto)
{
	struct vg_journal_reader *r = NULL;
	struct vg_journal_rec rec;
	char what[128];
	bool was = rig_immune;

	rig_immune = true;
	/* A second reader starts where the last commit left off: the records
	 * this commit releases are the ones before upto. */
	if(vg_journal_reader_open(j, &r) == 0){
		while(vg_journal_read(r, &rec, 0) == 1 && pos_le(rec.next, upto)){
			if(!stored(&rec, what, sizeof(what))){
				if(atomic_fetch_add(&rig_violations, 1) == 0){
					snprintf(rig_first_violation, sizeof(rig_first_violation), "committed past %s, not in the database",
							what);
				}
			}
		}
		vg_journal_reader_close(r);
	}
	atomic_fetch_add(&rig_commits_checked, 1);
	rig_immune = was;
	return __real_vg_journal_commit(j, upto);
}

/* ---- a journal and a writer ----------------------------------------------- */

static void remove_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char path[512];

	if(d == NULL){
		return;
	}
	while((de = readdir(d)) != NULL){
		if(strcmp(de->d_name, ".") && strcmp(de->d_name, "..")){
			snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
			unlink(path);
		}
	}
	closedir(d);
	rmdir(dir);
}

static struct vg_str str(const char *s)
{
	struct vg_str v = { s, strlen(s) };

	return v;
}

static void keep_lsn(uint64_t *v, int *n, uint64_t lsn)
{
	if(*n < RIG_LSNS){
		v[*n] = lsn;
	}
	(*n)++;
}

/* Appends the record encoded in w (false if encoding failed: w too small). */
static bool put(struct rig *g, enum vg_journal_class cls, uint8_t type, bool encoded, const struct vg_wbuf *w,
		uint64_t *lsn)
{
	return encoded && vg_journal_append_class(g->j, cls, type, w->p, (uint32_t)w->len, lsn) == VG_JOURNAL_OK;
}

bool rig_append(struct rig *g, int n)
{
	uint8_t buf[4096];
	struct vg_wbuf w;
	struct vg_sample s[3];
	struct vg_verdict v;
	struct vg_rec_event ev;
	struct vg_rec_delivery d;
	const char *dev;
	char evid[32];
	uint8_t sha[32] = { 0 };
	uint64_t lsn = 0;
	int i, k, m;
	bool ok = true, enc;

	for(i = 0; i < n; i++, g->nrecs++){
		m = 1 + g->nrecs % 3;
		dev = g->nrecs % 2 ? "dev-a" : "dev-b";
		memset(s, 0, sizeof(s));
		for(k = 0; k < m; k++){
			s[k].present = (1u << VG_F_V) | (1u << VG_F_SEQ) | (1u << VG_F_TS) | (1u << VG_F_HR);
			s[k].val[VG_F_V].u = 1;
			s[k].val[VG_F_SEQ].u = g->next_seq++;
			s[k].val[VG_F_TS].i = 1700000000000LL + g->nrecs;
			s[k].val[VG_F_HR].u = 70;
		}
		vg_wbuf_init(&w, buf, sizeof(buf));
		if(g->alerts && g->nrecs % 4 == 0){
			snprintf(evid, sizeof(evid), "evt_rig_%d", g->nevents++);
			memset(&ev, 0, sizeof(ev));
			ev.event_id = str(evid);
			ev.alert_id = str("al_rig");
			ev.severity = str("high");
			ev.order_key = str("3W/7");
			ev.ward = str("3W");
			ev.bed = str("7");
			ev.device = str(dev);
			ev.body = str("{\"type\":\"alert.raised\"}");
			ev.type = VG_AT_RAISED;
			ev.kind = VG_AK_THRESHOLD;
			ev.created_ms = 1700000000000LL + g->nrecs;
			enc = vg_rec_encode_samples_events(&w, dev, "3W", "7", 1700000000000LL, 0, s, m, &ev, 1);
		}else{
			enc = vg_rec_encode_samples(&w, dev, "3W", "7", 1700000000000LL, 0, s, m);
		}
		ok &= put(g, VG_JOURNAL_CLASS_BULK, VG_REC_SAMPLES, enc, &w, NULL);
		if(g->nrecs % 3 == 0){
			vg_wbuf_init(&w, buf, sizeof(buf));
			enc = vg_rec_encode_audit(&w, 1700000000000LL, VG_AUDIT_CONNECT, "dev-a", "dev-a", "127.0.0.1", "ok");
			ok &= put(g, VG_JOURNAL_CLASS_PRIORITY, VG_REC_AUDIT, enc, &w, &lsn);
			keep_lsn(g->aud_lsn, &g->naud, lsn);
		}
		if(g->nrecs % 5 == 0){
			memset(&v, 0, sizeof(v));
			v.reason = VG_R_MALFORMED;
			v.index = -1;
			v.field = -1;
			snprintf(v.detail, sizeof(v.detail), "bad");
			vg_wbuf_init(&w, buf, sizeof(buf));
			enc = vg_rec_encode_rejection(&w, "dev-a", 1700000000000LL, &v, "xyz", 3, sha);
			ok &= put(g, VG_JOURNAL_CLASS_REJECTION, VG_REC_REJECTION, enc, &w, &lsn);
			keep_lsn(g->rej_lsn, &g->nrej, lsn);
		}
		if(g->alerts && g->nrecs % 6 == 5 && g->nevents > 0){
			snprintf(evid, sizeof(evid), "evt_rig_%d", g->nevents - 1);
			memset(&d, 0, sizeof(d));
			d.event_id = str(evid);
			d.status = VG_DS_DELIVERED;
			d.attempts = 1;
			d.http = 204;
			d.error = str("");
			d.at_ms = 1700000000500LL;
			vg_wbuf_init(&w, buf, sizeof(buf));
			enc = vg_rec_encode_delivery(&w, &d);
			ok &= put(g, VG_JOURNAL_CLASS_PRIORITY, VG_REC_DELIVERY, enc, &w, &lsn);
			keep_lsn(g->del_lsn, &g->ndel, lsn);
		}
	}
	return ok;
}

/* Position after the last record (a throwaway reader from the start). */
struct vg_journal_pos rig_journal_end(struct vg_journal *j)
{
	struct vg_journal_reader *r = NULL;
	struct vg_journal_rec rec;
	struct vg_journal_pos end = { 0, 0 };

	if(vg_journal_reader_open(j, &r) == 0){
		end = vg_journal_reader_pos(r);
		while(vg_journal_read(r, &rec, 0) == 1){
			end = rec.next;
		}
		vg_journal_reader_close(r);
	}
	return end;
}

void rig_drain(struct rig *g)
{
	struct vg_job *job = vg_queue_take_all(&g->completions, 0);

	while(job){
		struct vg_job *next = job->next;
		if(job->type == VG_C_LOG && g->nnotes < RIG_NOTES){
			struct vg_c_log *l = (struct vg_c_log *)job;
			struct rig_note *n = &g->notes[g->nnotes++];
			n->type = VG_C_LOG;
			n->level = l->level;
			snprintf(n->msg, sizeof(n->msg), "%s", l->msg);
		}else if(job->type == VG_C_DB_STATE && g->nnotes < RIG_NOTES){
			struct rig_note *n = &g->notes[g->nnotes++];
			n->type = VG_C_DB_STATE;
			n->up = ((struct vg_c_db_state *)job)->up;
			snprintf(n->msg, sizeof(n->msg), "%s", n->up ? "DB up" : "DB down");
		}
		if(job->type == VG_C_ALERT_STATE){
			vg_c_alert_state_free((struct vg_c_alert_state *)job);
		}else{
			free(job);
		}
		job = next;
	}
}

bool rig_open(struct rig *g, int nrecs, bool alerts)
{
	struct vg_journal_opts o = { .dir = g->dir, .max_bytes = 1u << 30, .segment_bytes = 16384, .sync_ms = 0 };
	char err[256];

	memset(g, 0, sizeof(*g));
	snprintf(g->dir, sizeof(g->dir), "/tmp/vg-test-pgwriter-XXXXXX");
	if(mkdtemp(g->dir) == NULL){
		return false;
	}
	o.dir = g->dir;
	g->alerts = alerts;
	g->next_seq = RIG_SEQ_BASE;
	if(vg_journal_open(&g->j, &o, err, sizeof(err)) != 0 || vg_queue_init(&g->completions, 1u << 16) != 0){
		fprintf(stderr, "rig: %s\n", err);
		return false;
	}
	return rig_append(g, nrecs);
}

bool rig_start(struct rig *g, int batch_rows)
{
	return rig_start_with(g, batch_rows, 0);
}

bool rig_start_with(struct rig *g, int batch_rows, int commit_ms)
{
	struct vg_pgwriter_opts wo = {
		.conninfo = "dbname=fake",
		.journal = g->j,
		.completions = &g->completions,
		.batch_rows = batch_rows,
		.commit_ms = commit_ms,
		.max_past_s = 86400,
		.news2_max_age_s = 900,
	};
	char err[256];

	if(vg_pgwriter_start(&g->w, &wo, err, sizeof(err)) != 0){
		fprintf(stderr, "vg_pgwriter_start: %s\n", err);
		return false;
	}
	return true;
}

struct vg_journal_pos rig_committed(struct rig *g)
{
	struct vg_journal_stats st;

	vg_journal_get_stats(g->j, &st);
	return st.committed;
}

bool rig_wait_all(struct rig *g, int ms)
{
	struct vg_journal_pos c;
	int waited;

	g->end = rig_journal_end(g->j);
	for(waited = 0; waited < ms; waited += 10){
		c = rig_committed(g);
		if(c.seg == g->end.seg && c.off == g->end.off){
			return true;
		}
		rig_drain(g);
		rig_sleep_ms(10);
	}
	return false;
}

void rig_close(struct rig *g)
{
	if(g->w){
		vg_pgwriter_stop(g->w, 0);
		g->w = NULL;
	}
	rig_drain(g);
	vg_queue_destroy(&g->completions);
	vg_journal_close(g->j);
	remove_dir(g->dir);
}

static int missing_lsns(const char *table, int col, const uint64_t *v, int n, bool once)
{
	char key[32];
	int i, missing = 0;

	for(i = 0; i < n && i < RIG_LSNS; i++){
		size_t c;
		snprintf(key, sizeof(key), "%" PRIu64, v[i]);
		c = fake_pq_committed_count(table, col, key);
		missing += once ? c != 1 : c == 0;
	}
	return missing;
}

int rig_missing(const struct rig *g)
{
	char key[32];
	uint64_t s;
	int k, missing = 0;

	for(s = RIG_SEQ_BASE; s < g->next_seq; s++){
		snprintf(key, sizeof(key), "%" PRIu64, s);
		missing += fake_pq_committed_count("vitals", 1, key) != 1;
	}
	for(k = 0; k < g->nevents; k++){
		snprintf(key, sizeof(key), "evt_rig_%d", k);
		missing += fake_pq_committed_count("alert_events", 0, key) != 1;
	}
	missing += missing_lsns("rejections", 9, g->rej_lsn, g->nrej, true);
	missing += missing_lsns("audit_log", 10, g->aud_lsn, g->naud, true);
	/* Delivery outcomes update alert_events: a replay may stage them again. */
	missing += missing_lsns("vg_stage_delivery", 6, g->del_lsn, g->ndel, false);
	return missing;
}
