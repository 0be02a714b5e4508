/*
 * writer_rig: a journal in a temporary directory, records appended to it,
 * and the PostgreSQL writer (bridge/pgwriter.c) reading it into fake_pq,
 * for the writer's unit tests (test_pgwriter, test_pgwriter_errors).
 *
 * Every journal commit the writer makes is checked first (link with
 * -Wl,--wrap=vg_journal_commit): each record it releases must be in a
 * committed transaction of the fake, in the writer's tables (vitals,
 * alert_events, rejections, audit_log; delivery outcomes in their staging
 * table). A commit past a record that is not is a violation.
 *
 * Thread: the test's; the commit check runs on the writer's thread and
 * sets rig_immune there while it runs. Memory: the rig owns its journal,
 * queue and writer; rig_close frees them and removes the directory.
 */
#ifndef WRITER_RIG_H
#define WRITER_RIG_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "pgwriter.h"
#include "vg_journal.h"
#include "vg_queue.h"

#define RIG_SEQ_BASE 777000000ull
#define RIG_NOTES 256
#define RIG_LSNS 1024

/* A completion the writer posted: a log line or a DB state. */
struct rig_note {
	int type;                  /* VG_C_LOG or VG_C_DB_STATE */
	int level;                 /* VG_C_LOG: MOSQ_LOG_* */
	bool up;                   /* VG_C_DB_STATE */
	char msg[400];
};

struct rig {
	char dir[64];
	struct vg_journal *j;
	struct vg_queue completions;
	struct vg_pgwriter *w;
	bool alerts;               /* records also carry alert events and delivery outcomes */
	int nrecs;
	uint64_t next_seq;
	int nevents;               /* alert events "evt_rig_<k>", k < nevents */
	int nrej, naud, ndel;      /* rejection, audit and delivery records, their lsns: */
	uint64_t rej_lsn[RIG_LSNS], aud_lsn[RIG_LSNS], del_lsn[RIG_LSNS];
	struct vg_journal_pos end;
	struct rig_note notes[RIG_NOTES];
	int nnotes;                /* kept (at most RIG_NOTES) */
};

/* Set on a thread whose allocations a test must never fail. */
extern __thread bool rig_immune;
/* Journal commits past a record not stored, the first one's description,
 * commits checked. */
extern _Atomic int rig_violations;
extern _Atomic int rig_commits_checked;
extern char rig_first_violation[256];

void rig_sleep_ms(int ms);
/* A fresh journal with nrecs records; alerts: see struct rig. */
bool rig_open(struct rig *g, int nrecs, bool alerts);
/* Record i: samples (1 to 3, unique seqs, devices dev-a and dev-b), an
 * audit record every third, a rejection every fifth; with alerts, an alert
 * event with every fourth and a delivery outcome every sixth. False if
 * one could not be encoded or appended. */
bool rig_append(struct rig *g, int n);
bool rig_start(struct rig *g, int batch_rows);
/* With a commit budget in ms (0: the writer's default). */
bool rig_start_with(struct rig *g, int batch_rows, int commit_ms);
/* Waits until the writer committed everything appended; true if it did. */
bool rig_wait_all(struct rig *g, int ms);
/* Where the journal's appended records end now. */
struct vg_journal_pos rig_journal_end(struct vg_journal *j);
/* The journal position committed now. */
struct vg_journal_pos rig_committed(struct rig *g);
/* Takes the completions posted so far (keeping logs and DB states). */
void rig_drain(struct rig *g);
/* Stops the writer (if started), drains, frees, removes the directory. */
void rig_close(struct rig *g);
/* Appended records' rows not stored exactly once (samples, events,
 * rejections, audit records, delivery outcomes at least once). */
int rig_missing(const struct rig *g);

#endif
