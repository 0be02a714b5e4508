/*
 * vg_journal: the durable local journal in spool_dir.
 *
 * Every accepted sample (and every rejection, alert and audit event) is
 * appended here by the broker thread before the ACL check of the publish
 * returns, so before the PUBACK. The PostgreSQL writer reads the journal
 * back, writes batches, and commits the position it reached; fully
 * committed segments are deleted. An append is a copy into the mapped,
 * preallocated active segment (no system call; ext4, xfs, tmpfs) or one
 * writev(2) (other filesystems). A kill -9 of the broker loses nothing that
 * was appended (the page cache survives the process); a syncer thread
 * fdatasync()s in groups every
 * sync_ms, bounding what an OS crash or power cut could lose. A failed
 * fdatasync makes the journal refuse every append (fail closed) until it is
 * safe again; a full filesystem refuses the append that did not fit.
 *
 * See docs/journal.md for the on-disk format.
 *
 * Threads:
 *  - append side (vg_journal_append, vg_journal_pending_bytes): broker thread;
 *  - read side (vg_journal_reader_*, vg_journal_commit): one consumer thread;
 *  - an internal syncer thread started by vg_journal_open.
 * Memory: the journal owns its file descriptors, the reader owns its buffer;
 * record payloads returned by the reader stay valid until the next read.
 */
#ifndef VG_JOURNAL_H
#define VG_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VG_JOURNAL_MAX_RECORD (1u << 20)
#define VG_JOURNAL_ID_LEN 16

/* Admission classes, each with its own room, so that what one kind of
 * traffic does to the journal never takes the room another needs:
 *  - BULK (samples): refused first, once the journal holds max_bytes
 *    (rejection records not counted);
 *  - PRIORITY (alerts, audit events, webhook outcomes): may use a reserve
 *    beyond max_bytes (a sixteenth of it, at least 1 MiB);
 *  - REJECTION (records of refused messages and their summaries): their
 *    own budget (a sixteenth of max_bytes, at least 1 MiB), counted apart,
 *    so devices sending invalid messages can fill only that budget. */
enum vg_journal_class {
	VG_JOURNAL_CLASS_BULK = 0,
	VG_JOURNAL_CLASS_PRIORITY = 1,
	VG_JOURNAL_CLASS_REJECTION = 2,
};

enum {
	VG_JOURNAL_OK = 0,
	VG_JOURNAL_FULL = 1,    /* the class's room is used up: nothing written */
	VG_JOURNAL_IOERR = 2,   /* write failed: nothing durable, see errno */
	VG_JOURNAL_TOOBIG = 3,  /* record larger than VG_JOURNAL_MAX_RECORD */
	VG_JOURNAL_NOSPACE = 4, /* the filesystem is full (ENOSPC, EDQUOT): nothing written */
	VG_JOURNAL_UNSAFE = 5,  /* an fdatasync failed: every append is refused until
	                         * a fresh segment syncs and everything appended
	                         * before the failure is committed (vg_journal_commit) */
};

/* Log hook: the journal never logs by itself (workers must not call the
 * broker's logger); it reports through this function, on the calling
 * thread. level is a VG_LOG_* value (vg_log.h). */
typedef void (*vg_journal_log_fn)(void *arg, int level, const char *msg);

/* How appends reach the file (vg_journal.c, DESIGN). */
enum vg_journal_append_mode {
	VG_JOURNAL_APPEND_AUTO = 0,   /* mapped on ext4, xfs and tmpfs; writev elsewhere */
	VG_JOURNAL_APPEND_WRITE = 1,  /* writev everywhere (tests, benchmarks) */
};

struct vg_journal_opts {
	const char *dir;            /* created if missing */
	int append_mode;            /* enum vg_journal_append_mode */
	uint64_t max_bytes;         /* backpressure limit on data bytes on disk (segment
	                             * headers and records; not the active segment's
	                             * preallocated tail, at most 128 KiB) */
	uint64_t segment_bytes;     /* roll to a new segment past this size */
	int sync_ms;                /* group fdatasync period; 0 = never */
	vg_journal_log_fn log;
	void *log_arg;
};

struct vg_journal_pos {
	uint64_t seg;
	uint64_t off;
};

struct vg_journal_rec {
	uint64_t lsn;               /* (segment << 32) | index: unique forever */
	uint8_t type;
	uint32_t len;
	const uint8_t *payload;
	struct vg_journal_pos next; /* position just after this record */
};

struct vg_journal;
struct vg_journal_reader;

struct vg_journal_stats {
	uint64_t disk_bytes;
	uint64_t rejection_bytes;     /* of disk_bytes: rejection records appended this run */
	uint64_t segments;
	uint64_t appended_records;
	uint64_t append_errors;
	uint64_t nospace_errors;      /* appends refused because the filesystem was full */
	uint64_t fsyncs;
	uint64_t sync_failures;       /* fdatasync/fsync calls that failed */
	uint64_t sync_max_us;         /* longest fdatasync so far */
	uint64_t corrupt_skips;
	bool mapped;                  /* appends copy into a mapped segment (else writev) */
	bool unsafe;                  /* appends refused after a failed sync */
	char unsafe_error[160];       /* what failed, while unsafe */
	struct vg_journal_pos committed;
};

/* Broker thread at plugin init. Returns 0, or -1 with a message in err. */
int vg_journal_open(struct vg_journal **out, const struct vg_journal_opts *o, char *err, size_t errlen);
/* Broker thread at cleanup, after the reader is closed: final sync. */
void vg_journal_close(struct vg_journal *j);

/* Broker thread. Appends one record (a copy into the mapped segment, or
 * one writev(2); never an fsync), in the bulk class. */
int vg_journal_append(struct vg_journal *j, uint8_t type, const void *payload, uint32_t len, uint64_t *lsn_out);
int vg_journal_append_class(struct vg_journal *j, enum vg_journal_class cls, uint8_t type, const void *payload,
		uint32_t len, uint64_t *lsn_out);
/* Broker thread. Appends n records of one type at once (one copy, or a
 * single writev(2)): record i is lens[i] bytes at payloads + offs[i]. All
 * or nothing. n <= 256. */
int vg_journal_append_batch(struct vg_journal *j, enum vg_journal_class cls, uint8_t type, const uint8_t *payloads,
		const uint32_t *offs, const uint32_t *lens, int n);
/* Any thread: data bytes currently on disk (what max_bytes limits). */
uint64_t vg_journal_disk_bytes(struct vg_journal *j);
/* Any thread: counters snapshot. */
void vg_journal_get_stats(struct vg_journal *j, struct vg_journal_stats *st);
/* The 16-hex-char id of this journal (stable across restarts). */
const char *vg_journal_id(const struct vg_journal *j);
/* Synchronously fdatasync everything appended so far (shutdown, tests). */
int vg_journal_sync_now(struct vg_journal *j);
/* Broker thread, from TICK: after a failed sync, starts the fresh segment
 * whose successful sync (with everything before it in PostgreSQL) makes
 * the journal safe again, even when no append comes to do it. Cheap. */
void vg_journal_tick(struct vg_journal *j);
/* Any thread: true while appends are refused after a failed sync. */
bool vg_journal_unsafe(struct vg_journal *j);

/* Consumer thread. Starts at the last committed position. */
int vg_journal_reader_open(struct vg_journal *j, struct vg_journal_reader **out);
void vg_journal_reader_close(struct vg_journal_reader *r);
/* Returns 1 with *rec filled, 0 if nothing new arrived within timeout_ms
 * (0: don't wait; appends wake a waiting reader only once 64 KiB piled up,
 * so keep timeout_ms short), -1 on an I/O error (logged). Corrupt or torn records are
 * logged with file and offset and skipped. */
int vg_journal_read(struct vg_journal_reader *r, struct vg_journal_rec *rec, int timeout_ms);
/* Consumer thread: the position of the record the next read returns. */
struct vg_journal_pos vg_journal_reader_pos(const struct vg_journal_reader *r);
/* Consumer thread: moves the reader back (or forward) to p, a position
 * vg_journal_reader_pos or a record's `next` gave: the next read returns
 * the record at p again. For a consumer that took a record it could not
 * handle (out of memory) and must not skip it. */
void vg_journal_reader_seek(struct vg_journal_reader *r, struct vg_journal_pos p);
/* Wakes a reader blocked in vg_journal_read (shutdown). */
void vg_journal_wake(struct vg_journal *j);

/* Consumer thread, after the records up to `upto` are safely stored:
 * persists the checkpoint and deletes segments wholly before it. */
int vg_journal_commit(struct vg_journal *j, struct vg_journal_pos upto);
/* Consumer thread at shutdown: writes the throttled checkpoint now. */
int vg_journal_checkpoint_flush(struct vg_journal *j);

#endif
