/*
 * vg_journal: durable local journal (see vg_journal.h, docs/journal.md).
 *
 * DESIGN
 * - Files: <dir>/<16 hex>.vgj segments, numbered upwards; <dir>/journal-id
 *   (random, created once); <dir>/checkpoint (last committed position,
 *   replaced by rename, never fsynced: losing it only replays records that
 *   the writer stores idempotently).
 * - A segment starts with a 16-byte header ("VGJSEG01", segment number LE)
 *   followed by records: magic u32 | len u32 | lsn u64 | type u8 | 3 zero
 *   bytes | crc32c u32 | payload. The CRC covers bytes 4..20 of the header and
 *   the payload. All integers little-endian.
 * - Each open starts a new segment, so a torn tail left by a crash stays at
 *   the end of an old segment and lsn = (segment << 32) | index is unique
 *   without scanning old files.
 * - Append (broker thread): one writev() of header + payload, then publish
 *   the new end under the lock. No fsync here. The reader polls (its wait
 *   times out every few ms) and is signalled only when 64 KiB piled up, so
 *   a busy broker does not pay a futex wake per record.
 * - Syncer thread: every sync_ms, fdatasync()s what was appended since the
 *   last pass (group commit), through its own read-only descriptor so that a
 *   segment roll on the broker thread never races a close.
 * - Reader (one consumer thread): reads records in order up to the end the
 *   appender published; a record failing its magic, length or CRC is logged
 *   with file and offset and skipped by scanning forward for the next valid
 *   record. Commit deletes segments wholly before the committed position.
 * - Backpressure: before each append the record's class is checked against
 *   its room (vg_journal.h): samples against max_bytes, alerts and audit
 *   against max_bytes plus a reserve, rejection records against a budget of
 *   their own. Rejection bytes are counted per segment (rsegs, under the
 *   lock) so that deleting a segment gives their budget back. A full class
 *   refuses, it never drops.
 * - Disk full: a write that fails (ENOSPC) or stops short is truncated
 *   away, the append returns VG_JOURNAL_NOSPACE and the next one tries
 *   again; if even the truncation fails, the next append starts a new
 *   segment so that no record follows the torn bytes.
 * - Failed sync (fail closed): after a failed fdatasync Linux may have
 *   dropped the dirty pages' error state, and retrying the same file may
 *   "succeed" over lost data. So the syncer marks the journal unsafe and
 *   every append is refused (VG_JOURNAL_UNSAFE). The broker thread then
 *   starts a fresh segment (on its next append or TICK, at most once a
 *   second while syncs keep failing); the journal is safe again when that
 *   fresh segment and the directory sync, AND the consumer has committed
 *   everything appended before the failure (unsafe_upto): PostgreSQL then
 *   holds the only copy known good. The syncer checks this every pass and
 *   logs both transitions.
 */
#include "vg_journal.h"
#include "vg_crc32c.h"
#include "vg_log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>

#define SEG_MAGIC "VGJSEG01"
#define SEG_HDR 16u
#define REC_MAGIC 0x524a4756u /* "VGJR" little-endian */
#define REC_HDR 24u
#define WAKE_BYTES (64u * 1024u)

struct vg_journal {
	char *dir;
	int dirfd;
	int lockfd;         /* flock: one broker per journal */
	struct vg_journal_opts opts;
	char id[VG_JOURNAL_ID_LEN + 1];

	pthread_mutex_t lock;
	pthread_cond_t data_cond;   /* reader waits here for appends */
	pthread_cond_t sync_cond;   /* syncer sleeps here */

	/* Append side: fd and rec_index only on the broker thread; seg/end are
	 * written by it under lock and read by the reader and syncer. */
	int fd;
	uint32_t rec_index;
	uint64_t seg;
	uint64_t end;
	bool reader_waiting;
	uint64_t signalled_end;  /* end when the reader was last woken */
	bool stopping;
	bool woken;

	uint64_t first_seg;          /* under lock */
	struct vg_journal_pos committed; /* consumer thread */
	int64_t last_ckpt_ms;

	/* Broker thread only. */
	struct vg_journal_pos last_end;  /* end of the last record appended this run */
	bool tail_torn;                  /* a failed write could not be truncated away */
	int64_t last_probe_ms;           /* last fresh segment started after a failed sync */

	/* Rejection records per segment (under lock): what deleting the
	 * segment gives back to their budget. */
	struct rseg { uint64_t seg; uint64_t bytes; } *rsegs;
	size_t nrsegs, caprsegs;

	/* Failed sync (under lock; `unsafe` is also read without it). */
	_Atomic bool unsafe;
	bool roll_wanted;                /* the broker thread must start a fresh segment */
	uint64_t fresh_seg;              /* the segment started after the failure (0: none yet) */
	uint64_t probe_seg;              /* the last segment that synced since the failure */
	struct vg_journal_pos unsafe_upto; /* everything before it must be committed */
	char unsafe_error[160];

	_Atomic uint64_t disk_bytes;
	_Atomic uint64_t rej_bytes;
	_Atomic uint64_t segments;
	_Atomic uint64_t appended;
	_Atomic uint64_t append_errors;
	_Atomic uint64_t nospace_errors;
	_Atomic uint64_t fsyncs;
	_Atomic uint64_t sync_failures;
	_Atomic uint64_t sync_max_us;
	_Atomic uint64_t corrupt_skips;

	pthread_t syncer;
	bool syncer_started;
};

struct vg_journal_reader {
	struct vg_journal *j;
	uint64_t seg;
	uint64_t off;
	int fd;
	uint64_t fd_seg;
	uint8_t *buf;
	size_t cap;
	uint64_t buf_off;   /* file offset of buf[0] */
	size_t buf_len;
	uint64_t limit;     /* never buffer past the end the appender published */
};

static void jlog(struct vg_journal *j, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void jlog(struct vg_journal *j, int level, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if(j->opts.log == NULL){
		return;
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	j->opts.log(j->opts.log_arg, level, msg);
}

static void put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
}

static void put_le64(uint8_t *p, uint64_t v)
{
	put_le32(p, (uint32_t)v);
	put_le32(p + 4, (uint32_t)(v >> 32));
}

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get_le64(const uint8_t *p)
{
	return (uint64_t)get_le32(p) | (uint64_t)get_le32(p + 4) << 32;
}

static int64_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t mono_ms(void)
{
	return mono_us() / 1000;
}

static void seg_name(uint64_t seg, char *buf, size_t len)
{
	snprintf(buf, len, "%016" PRIx64 ".vgj", seg);
}

static bool parse_seg_name(const char *name, uint64_t *seg)
{
	char *end = NULL;
	unsigned long long v;

	if(strlen(name) != 20 || strcmp(name + 16, ".vgj") != 0){
		return false;
	}
	errno = 0;
	v = strtoull(name, &end, 16);
	if(errno || end != name + 16){
		return false;
	}
	*seg = v;
	return true;
}

/* Lists existing segment numbers: min, max, count and total bytes. */
static int scan_segments(struct vg_journal *j, uint64_t *min, uint64_t *max, uint64_t *count, uint64_t *bytes)
{
	DIR *d;
	struct dirent *de;
	struct stat st;
	uint64_t seg;
	int fd;

	*min = UINT64_MAX;
	*max = 0;
	*count = 0;
	*bytes = 0;
	fd = openat(j->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if(fd < 0){
		return -1;
	}
	d = fdopendir(fd);
	if(d == NULL){
		close(fd);
		return -1;
	}
	while((de = readdir(d)) != NULL){
		if(!parse_seg_name(de->d_name, &seg)){
			continue;
		}
		if(fstatat(j->dirfd, de->d_name, &st, 0) != 0){
			continue;
		}
		if(seg < *min) *min = seg;
		if(seg > *max) *max = seg;
		(*count)++;
		*bytes += (uint64_t)st.st_size;
	}
	closedir(d);
	return 0;
}

/* Smallest existing segment number > after (UINT64_MAX if none). */
static uint64_t next_existing_segment(struct vg_journal *j, uint64_t after)
{
	DIR *d;
	struct dirent *de;
	uint64_t seg, best = UINT64_MAX;
	int fd;

	fd = openat(j->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if(fd < 0){
		return UINT64_MAX;
	}
	d = fdopendir(fd);
	if(d == NULL){
		close(fd);
		return UINT64_MAX;
	}
	while((de = readdir(d)) != NULL){
		if(parse_seg_name(de->d_name, &seg) && seg > after && seg < best){
			best = seg;
		}
	}
	closedir(d);
	return best;
}

static int load_or_create_id(struct vg_journal *j, char *err, size_t errlen)
{
	char buf[64];
	ssize_t n;
	int fd;
	uint8_t raw[VG_JOURNAL_ID_LEN / 2];
	int i;

	fd = openat(j->dirfd, "journal-id", O_RDONLY | O_CLOEXEC);
	if(fd >= 0){
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if(n >= VG_JOURNAL_ID_LEN){
			buf[VG_JOURNAL_ID_LEN] = '\0';
			for(i = 0; i < VG_JOURNAL_ID_LEN; i++){
				if(!((buf[i] >= '0' && buf[i] <= '9') || (buf[i] >= 'a' && buf[i] <= 'f'))){
					break;
				}
			}
			if(i == VG_JOURNAL_ID_LEN){
				memcpy(j->id, buf, VG_JOURNAL_ID_LEN + 1);
				return 0;
			}
		}
		snprintf(err, errlen, "%s/journal-id is corrupt: remove it only if the journal is empty", j->dir);
		return -1;
	}
	if(errno != ENOENT){
		snprintf(err, errlen, "cannot read %s/journal-id: %s", j->dir, strerror(errno));
		return -1;
	}
	if(RAND_bytes(raw, sizeof(raw)) != 1){
		snprintf(err, errlen, "no randomness for the journal id");
		return -1;
	}
	for(i = 0; i < (int)sizeof(raw); i++){
		snprintf(j->id + 2 * i, 3, "%02x", raw[i]);
	}
	fd = openat(j->dirfd, "journal-id.tmp", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if(fd < 0 || write(fd, j->id, VG_JOURNAL_ID_LEN) != VG_JOURNAL_ID_LEN || write(fd, "\n", 1) != 1
			|| fsync(fd) != 0){
		snprintf(err, errlen, "cannot write %s/journal-id: %s", j->dir, strerror(errno));
		if(fd >= 0) close(fd);
		return -1;
	}
	close(fd);
	if(renameat(j->dirfd, "journal-id.tmp", j->dirfd, "journal-id") != 0){
		snprintf(err, errlen, "cannot create %s/journal-id: %s", j->dir, strerror(errno));
		return -1;
	}
	fsync(j->dirfd);
	return 0;
}

static void load_checkpoint(struct vg_journal *j)
{
	char buf[128];
	unsigned long long seg, off, crc;
	ssize_t n;
	int fd;
	uint8_t raw[16];

	j->committed.seg = 0;
	j->committed.off = 0;
	fd = openat(j->dirfd, "checkpoint", O_RDONLY | O_CLOEXEC);
	if(fd < 0){
		return;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if(n <= 0){
		return;
	}
	buf[n] = '\0';
	if(sscanf(buf, "%llx %llx %llx", &seg, &off, &crc) != 3){
		jlog(j, VG_LOG_WARNING, "Vitalgate journal: %s/checkpoint unreadable, replaying from the oldest segment", j->dir);
		return;
	}
	put_le64(raw, seg);
	put_le64(raw + 8, off);
	if(vg_crc32c(0, raw, sizeof(raw)) != (uint32_t)crc){
		jlog(j, VG_LOG_WARNING, "Vitalgate journal: %s/checkpoint fails its checksum, replaying from the oldest segment", j->dir);
		return;
	}
	j->committed.seg = seg;
	j->committed.off = off;
}

static int save_checkpoint(struct vg_journal *j, struct vg_journal_pos p)
{
	char buf[128];
	uint8_t raw[16];
	int fd, n;

	put_le64(raw, p.seg);
	put_le64(raw + 8, p.off);
	n = snprintf(buf, sizeof(buf), "%" PRIx64 " %" PRIx64 " %" PRIx32 "\n", p.seg, p.off, vg_crc32c(0, raw, sizeof(raw)));
	fd = openat(j->dirfd, "checkpoint.tmp", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if(fd < 0){
		return -1;
	}
	if(write(fd, buf, (size_t)n) != n){
		close(fd);
		return -1;
	}
	close(fd);
	return renameat(j->dirfd, "checkpoint.tmp", j->dirfd, "checkpoint");
}

/* Writes all n bytes; -1 with errno set (ENOSPC for a full disk, EIO when
 * the file stopped taking bytes without saying why). */
static int write_all(int fd, const void *p, size_t n)
{
	const uint8_t *b = p;
	ssize_t w;

	while(n > 0){
		w = write(fd, b, n);
		if(w < 0 && errno == EINTR){
			continue;
		}
		if(w <= 0){
			if(w == 0){
				errno = EIO;
			}
			return -1;
		}
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Broker thread (or open): creates segment `seg` and makes it active. */
static int start_segment(struct vg_journal *j, uint64_t seg)
{
	char name[32];
	uint8_t hdr[SEG_HDR];
	int fd;

	seg_name(seg, name, sizeof(name));
	fd = openat(j->dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0600);
	if(fd < 0){
		return -1;
	}
	memcpy(hdr, SEG_MAGIC, 8);
	put_le64(hdr + 8, seg);
	if(write_all(fd, hdr, SEG_HDR) != 0){
		int e = errno;
		close(fd);
		unlinkat(j->dirfd, name, 0);
		errno = e;
		return -1;
	}
	if(j->fd >= 0){
		close(j->fd);
	}
	j->fd = fd;
	j->rec_index = 0;
	atomic_fetch_add(&j->disk_bytes, SEG_HDR);
	atomic_fetch_add(&j->segments, 1);
	pthread_mutex_lock(&j->lock);
	j->seg = seg;
	j->end = SEG_HDR;
	j->signalled_end = SEG_HDR;
	pthread_cond_broadcast(&j->data_cond);
	pthread_mutex_unlock(&j->lock);
	return 0;
}

static int sync_segment_file(struct vg_journal *j, uint64_t seg)
{
	char name[32];
	int fd, rc;

	seg_name(seg, name, sizeof(name));
	fd = openat(j->dirfd, name, O_RDONLY | O_CLOEXEC);
	if(fd < 0){
		return errno == ENOENT ? 0 : -1;
	}
	rc = fdatasync(fd);
	close(fd);
	return rc;
}

static bool pos_ge(struct vg_journal_pos a, struct vg_journal_pos b)
{
	return a.seg > b.seg || (a.seg == b.seg && a.off >= b.off);
}

/* Syncer thread: a sync failed. Appends are refused from now on, and the
 * broker thread is asked for a fresh segment. */
static void sync_failed(struct vg_journal *j, const char *what, uint64_t seg, int err)
{
	bool first;

	atomic_fetch_add(&j->sync_failures, 1);
	pthread_mutex_lock(&j->lock);
	first = !atomic_load(&j->unsafe);
	atomic_store(&j->unsafe, true);
	j->roll_wanted = true;
	j->fresh_seg = 0;
	j->probe_seg = 0;
	if(first){
		snprintf(j->unsafe_error, sizeof(j->unsafe_error), "%s of segment %016" PRIx64 " failed: %s", what, seg,
				strerror(err));
	}
	pthread_mutex_unlock(&j->lock);
	if(first){
		jlog(j, VG_LOG_ERR, "Vitalgate ALARM: journal %s of segment %016" PRIx64 " in %s failed (%s): what was "
				"acknowledged may not be on disk; refusing every sample (backpressure) until a fresh segment syncs "
				"and PostgreSQL holds everything appended before", what, seg, j->dir, strerror(err));
	}
}

/* Syncer thread: safe again once a segment started after the failure has
 * synced and the consumer committed everything appended before it. */
static void check_recovered(struct vg_journal *j)
{
	bool recovered = false;

	pthread_mutex_lock(&j->lock);
	if(atomic_load(&j->unsafe) && !j->roll_wanted && j->fresh_seg != 0 && j->probe_seg >= j->fresh_seg
			&& pos_ge(j->committed, j->unsafe_upto)){
		atomic_store(&j->unsafe, false);
		j->fresh_seg = 0;
		j->unsafe_error[0] = '\0';
		recovered = true;
	}
	pthread_mutex_unlock(&j->lock);
	if(recovered){
		jlog(j, VG_LOG_NOTICE, "Vitalgate journal: fdatasync works again on a fresh segment and PostgreSQL holds "
				"everything appended before the failure; accepting again");
	}
}

static void *syncer_main(void *arg)
{
	struct vg_journal *j = arg;
	uint64_t synced_seg = 0, synced_end = 0, dir_synced_seg = 0, seg, end, s, us;
	int sync_fd = -1;
	int64_t t0;
	struct timespec deadline;
	bool stop;

	for(;;){
		pthread_mutex_lock(&j->lock);
		if(!j->stopping){
			clock_gettime(CLOCK_MONOTONIC, &deadline);
			deadline.tv_nsec += (long)j->opts.sync_ms * 1000000L;
			while(deadline.tv_nsec >= 1000000000L){
				deadline.tv_sec++;
				deadline.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&j->sync_cond, &j->lock, &deadline);
		}
		stop = j->stopping;
		seg = j->seg;
		end = j->end;
		pthread_mutex_unlock(&j->lock);

		if(seg != synced_seg){
			/* Finish the segments the appender rolled past, then follow the
			 * new one; fsync the directory so the new file entry is durable. */
			if(sync_fd >= 0){
				if(fdatasync(sync_fd) != 0){
					sync_failed(j, "fdatasync", synced_seg, errno);
				}
				close(sync_fd);
				sync_fd = -1;
			}
			for(s = synced_seg ? synced_seg + 1 : seg; s < seg; s++){
				if(sync_segment_file(j, s) != 0){
					sync_failed(j, "fdatasync", s, errno);
				}
			}
			if(fsync(j->dirfd) == 0){
				dir_synced_seg = seg;
			}else{
				sync_failed(j, "directory fsync", seg, errno);
			}
			{
				char name[32];
				seg_name(seg, name, sizeof(name));
				sync_fd = openat(j->dirfd, name, O_RDONLY | O_CLOEXEC);
			}
			synced_seg = seg;
			synced_end = 0;
		}
		if(sync_fd >= 0 && end > synced_end){
			t0 = mono_us();
			if(fdatasync(sync_fd) == 0){
				us = (uint64_t)(mono_us() - t0);
				if(us > atomic_load(&j->sync_max_us)){
					atomic_store(&j->sync_max_us, us);
				}
				synced_end = end;
				atomic_fetch_add(&j->fsyncs, 1);
				if(dir_synced_seg == seg && atomic_load(&j->unsafe)){
					pthread_mutex_lock(&j->lock);
					j->probe_seg = seg;
					pthread_mutex_unlock(&j->lock);
				}
			}else{
				sync_failed(j, "fdatasync", seg, errno);
			}
		}
		if(atomic_load(&j->unsafe)){
			check_recovered(j);
		}
		if(stop){
			break;
		}
	}
	if(sync_fd >= 0){
		close(sync_fd);
	}
	return NULL;
}

static int mkdir_p(const char *path)
{
	char tmp[4096];
	size_t i, n = strlen(path);

	if(n == 0 || n >= sizeof(tmp)){
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(tmp, path, n + 1);
	for(i = 1; i <= n; i++){
		if(tmp[i] == '/' || tmp[i] == '\0'){
			char c = tmp[i];
			tmp[i] = '\0';
			if(mkdir(tmp, 0700) != 0 && errno != EEXIST){
				return -1;
			}
			tmp[i] = c;
		}
	}
	return 0;
}

int vg_journal_open(struct vg_journal **out, const struct vg_journal_opts *o, char *err, size_t errlen)
{
	struct vg_journal *j;
	pthread_condattr_t ca;
	uint64_t min, max, count, bytes;

	*out = NULL;
	j = calloc(1, sizeof(*j));
	if(j == NULL){
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	j->opts = *o;
	j->fd = -1;
	j->dirfd = -1;
	j->lockfd = -1;
	j->dir = strdup(o->dir);
	if(j->dir == NULL){
		free(j);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	j->opts.dir = j->dir;
	if(j->opts.segment_bytes < 4096){
		j->opts.segment_bytes = 4096;
	}
	pthread_mutex_init(&j->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&j->data_cond, &ca);
	pthread_cond_init(&j->sync_cond, &ca);
	pthread_condattr_destroy(&ca);

	if(mkdir_p(j->dir) != 0){
		snprintf(err, errlen, "cannot create journal directory %s: %s", j->dir, strerror(errno));
		goto error;
	}
	j->dirfd = open(j->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if(j->dirfd < 0){
		snprintf(err, errlen, "cannot open journal directory %s: %s", j->dir, strerror(errno));
		goto error;
	}
	/* Two brokers appending to one journal would interleave segments and
	 * replay each other's records: refuse to share it. */
	j->lockfd = openat(j->dirfd, "lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if(j->lockfd < 0 || flock(j->lockfd, LOCK_EX | LOCK_NB) != 0){
		snprintf(err, errlen, "journal %s is in use by another broker (or not writable): %s", j->dir, strerror(errno));
		goto error;
	}
	if(load_or_create_id(j, err, errlen) != 0){
		goto error;
	}
	load_checkpoint(j);
	if(scan_segments(j, &min, &max, &count, &bytes) != 0){
		snprintf(err, errlen, "cannot list journal directory %s: %s", j->dir, strerror(errno));
		goto error;
	}
	atomic_store(&j->disk_bytes, bytes);
	atomic_store(&j->segments, count);
	j->first_seg = count ? min : max + 1;
	if(count){
		jlog(j, VG_LOG_NOTICE, "Vitalgate journal: %" PRIu64 " segment(s), %" PRIu64 " bytes to replay from %s",
				count, bytes, j->dir);
	}
	/* Always append to a fresh segment: a torn tail from a crash stays at
	 * the end of an old file, and lsn stays unique. */
	if(start_segment(j, count ? max + 1 : 1) != 0){
		snprintf(err, errlen, "cannot create a journal segment in %s: %s", j->dir, strerror(errno));
		goto error;
	}
	if(count == 0){
		j->first_seg = j->seg;
	}
	if(j->opts.sync_ms > 0){
		if(pthread_create(&j->syncer, NULL, syncer_main, j) != 0){
			snprintf(err, errlen, "cannot start the journal sync thread");
			goto error;
		}
		j->syncer_started = true;
	}
	*out = j;
	return 0;

error:
	if(j->fd >= 0) close(j->fd);
	if(j->lockfd >= 0) close(j->lockfd);
	if(j->dirfd >= 0) close(j->dirfd);
	pthread_cond_destroy(&j->data_cond);
	pthread_cond_destroy(&j->sync_cond);
	pthread_mutex_destroy(&j->lock);
	free(j->dir);
	free(j);
	return -1;
}

void vg_journal_close(struct vg_journal *j)
{
	if(j == NULL){
		return;
	}
	pthread_mutex_lock(&j->lock);
	j->stopping = true;
	pthread_cond_broadcast(&j->sync_cond);
	pthread_cond_broadcast(&j->data_cond);
	pthread_mutex_unlock(&j->lock);
	if(j->syncer_started){
		pthread_join(j->syncer, NULL);
	}
	if(j->fd >= 0){
		fdatasync(j->fd);
		close(j->fd);
	}
	if(j->lockfd >= 0){
		close(j->lockfd);
	}
	if(j->dirfd >= 0){
		close(j->dirfd);
	}
	pthread_cond_destroy(&j->data_cond);
	pthread_cond_destroy(&j->sync_cond);
	pthread_mutex_destroy(&j->lock);
	free(j->rsegs);
	free(j->dir);
	free(j);
}

int vg_journal_append(struct vg_journal *j, uint8_t type, const void *payload, uint32_t len, uint64_t *lsn_out)
{
	return vg_journal_append_class(j, VG_JOURNAL_CLASS_BULK, type, payload, len, lsn_out);
}

/* Room of a class (see vg_journal.h): the reserve of alerts and audit
 * events, and the budget of rejection records. */
static uint64_t side_room(const struct vg_journal *j)
{
	uint64_t r = j->opts.max_bytes / 16;

	return r < (1u << 20) ? (1u << 20) : r;
}

static bool has_room(struct vg_journal *j, enum vg_journal_class cls, uint64_t total)
{
	uint64_t disk = atomic_load(&j->disk_bytes), rej = atomic_load(&j->rej_bytes);
	uint64_t other = disk > rej ? disk - rej : 0;

	switch(cls){
		case VG_JOURNAL_CLASS_REJECTION:
			return rej + total <= side_room(j);
		case VG_JOURNAL_CLASS_PRIORITY:
			return other + total <= j->opts.max_bytes + side_room(j);
		default:
			return other + total <= j->opts.max_bytes;
	}
}

/* Broker thread: makes sure rsegs can take an entry for the active segment
 * without allocating after the write. False when out of memory. */
static bool rseg_reserve(struct vg_journal *j)
{
	bool ok = true;

	pthread_mutex_lock(&j->lock);
	if(j->nrsegs == j->caprsegs && (j->nrsegs == 0 || j->rsegs[j->nrsegs - 1].seg != j->seg)){
		size_t cap = j->caprsegs ? j->caprsegs * 2 : 16;
		struct rseg *p = realloc(j->rsegs, cap * sizeof(*p));
		if(p){
			j->rsegs = p;
			j->caprsegs = cap;
		}else{
			ok = false;
		}
	}
	pthread_mutex_unlock(&j->lock);
	return ok;
}

/* Broker thread, under lock: counts bytes of rejection records. */
static void rseg_add(struct vg_journal *j, uint64_t bytes)
{
	if(j->nrsegs == 0 || j->rsegs[j->nrsegs - 1].seg != j->seg){
		j->rsegs[j->nrsegs].seg = j->seg;
		j->rsegs[j->nrsegs].bytes = 0;
		j->nrsegs++;
	}
	j->rsegs[j->nrsegs - 1].bytes += bytes;
	atomic_fetch_add(&j->rej_bytes, bytes);
}

/* Consumer thread: segment seg was deleted; its rejection bytes go back to
 * their budget. */
static void rseg_release(struct vg_journal *j, uint64_t seg)
{
	size_t k = 0;

	pthread_mutex_lock(&j->lock);
	while(k < j->nrsegs && j->rsegs[k].seg <= seg){
		atomic_fetch_sub(&j->rej_bytes, j->rsegs[k].bytes);
		k++;
	}
	if(k){
		memmove(j->rsegs, j->rsegs + k, (j->nrsegs - k) * sizeof(*j->rsegs));
		j->nrsegs -= k;
	}
	pthread_mutex_unlock(&j->lock);
}

static int write_error_result(int e)
{
	return (e == ENOSPC || e == EDQUOT) ? VG_JOURNAL_NOSPACE : VG_JOURNAL_IOERR;
}

/* Broker thread, while unsafe: starts the fresh segment whose sync is the
 * first half of being safe again (at most once a second while syncs keep
 * failing, so a dead disk does not get a new file per append). */
static void roll_after_failure(struct vg_journal *j)
{
	int64_t now = mono_ms();
	bool want;

	if(now - j->last_probe_ms < 1000){
		return;
	}
	pthread_mutex_lock(&j->lock);
	want = j->roll_wanted;
	if(want){
		/* Set before the segment is published, so the syncer cannot sync
		 * it before we say which one counts. */
		j->roll_wanted = false;
		j->fresh_seg = j->seg + 1;
		j->probe_seg = 0;
		j->unsafe_upto = j->last_end;
	}
	pthread_mutex_unlock(&j->lock);
	if(!want){
		return;
	}
	j->last_probe_ms = now;
	if(start_segment(j, j->seg + 1) != 0){
		pthread_mutex_lock(&j->lock);
		j->roll_wanted = true;
		pthread_mutex_unlock(&j->lock);
	}
}

/* Appends n records with one writev (one, or a batch): the room check,
 * segment rotation, framing, and publication to the reader. *first_lsn
 * (optional) gets the first record's lsn. */
static int append_records(struct vg_journal *j, enum vg_journal_class cls, uint8_t type, const uint8_t *payloads,
		const uint32_t *offs, const uint32_t *lens, int n, uint64_t *first_lsn)
{
	uint8_t hdrs[256][REC_HDR];
	struct iovec iov[512];
	uint64_t total = 0, end, lsn;
	uint32_t crc;
	int i, k = 0, vi = 0;
	size_t done = 0, skip;
	ssize_t w;

	if(n <= 0){
		return VG_JOURNAL_OK;
	}
	if(n > 256){
		return VG_JOURNAL_TOOBIG;
	}
	if(atomic_load(&j->unsafe)){
		roll_after_failure(j);
		return VG_JOURNAL_UNSAFE;
	}
	for(i = 0; i < n; i++){
		if(lens[i] > VG_JOURNAL_MAX_RECORD){
			return VG_JOURNAL_TOOBIG;
		}
		total += REC_HDR + (uint64_t)lens[i];
	}
	if(!has_room(j, cls, total)){
		return VG_JOURNAL_FULL;
	}
	pthread_mutex_lock(&j->lock);
	end = j->end;
	pthread_mutex_unlock(&j->lock);
	if((end + total > j->opts.segment_bytes && end > SEG_HDR) || j->tail_torn){
		if(start_segment(j, j->seg + 1) != 0){
			int e = errno;
			atomic_fetch_add(&j->append_errors, 1);
			if(write_error_result(e) == VG_JOURNAL_NOSPACE){
				atomic_fetch_add(&j->nospace_errors, 1);
			}
			errno = e;
			return write_error_result(e);
		}
		j->tail_torn = false;
		end = SEG_HDR;
	}
	if(cls == VG_JOURNAL_CLASS_REJECTION && !rseg_reserve(j)){
		return VG_JOURNAL_FULL;
	}
	if(first_lsn){
		*first_lsn = (j->seg << 32) | j->rec_index;
	}
	for(i = 0; i < n; i++){
		lsn = (j->seg << 32) | (j->rec_index + (uint32_t)i);
		put_le32(hdrs[i], REC_MAGIC);
		put_le32(hdrs[i] + 4, lens[i]);
		put_le64(hdrs[i] + 8, lsn);
		hdrs[i][16] = type;
		hdrs[i][17] = hdrs[i][18] = hdrs[i][19] = 0;
		crc = vg_crc32c(0, hdrs[i] + 4, 16);
		crc = vg_crc32c(crc, payloads + offs[i], lens[i]);
		put_le32(hdrs[i] + 20, crc);
		iov[k].iov_base = hdrs[i];
		iov[k++].iov_len = REC_HDR;
		iov[k].iov_base = (void *)(payloads + offs[i]);
		iov[k++].iov_len = lens[i];
	}
	/* One writev; on a short write continue from where it stopped (a
	 * second call that fails tells why: ENOSPC for a full disk). */
	while(done < total){
		w = writev(j->fd, iov + vi, k - vi);
		if(w < 0){
			if(errno == EINTR){
				continue;
			}
			break;
		}
		if(w == 0){
			errno = EIO;
			break;
		}
		done += (size_t)w;
		skip = (size_t)w;
		while(vi < k && skip >= iov[vi].iov_len){
			skip -= iov[vi].iov_len;
			vi++;
		}
		if(vi < k){
			iov[vi].iov_base = (uint8_t *)iov[vi].iov_base + skip;
			iov[vi].iov_len -= skip;
		}
	}
	if(done < total){
		int e = errno;
		/* Nothing of a failed append may stay: a later record written
		 * after torn bytes would be past the end the reader was told. */
		if(done > 0 && ftruncate(j->fd, (off_t)end) != 0){
			j->tail_torn = true;   /* the next append starts a new segment */
		}
		atomic_fetch_add(&j->append_errors, 1);
		if(write_error_result(e) == VG_JOURNAL_NOSPACE){
			atomic_fetch_add(&j->nospace_errors, 1);
		}
		errno = e;
		return write_error_result(e);
	}
	j->rec_index += (uint32_t)n;
	atomic_fetch_add(&j->disk_bytes, total);
	atomic_fetch_add(&j->appended, (uint64_t)n);
	j->last_end.seg = j->seg;
	j->last_end.off = end + total;
	pthread_mutex_lock(&j->lock);
	if(cls == VG_JOURNAL_CLASS_REJECTION){
		rseg_add(j, total);
	}
	j->end = end + total;
	/* Waking the reader costs a futex call and a context switch per
	 * record; instead it polls every few ms (its wait's timeout) and is
	 * woken early only when a good batch has piled up. */
	if(j->reader_waiting && j->end - j->signalled_end >= WAKE_BYTES){
		j->signalled_end = j->end;
		pthread_cond_signal(&j->data_cond);
	}
	pthread_mutex_unlock(&j->lock);
	return VG_JOURNAL_OK;
}

int vg_journal_append_class(struct vg_journal *j, enum vg_journal_class cls, uint8_t type, const void *payload,
		uint32_t len, uint64_t *lsn_out)
{
	uint32_t off = 0;
	uint64_t lsn;
	int rc = append_records(j, cls, type, payload, &off, &len, 1, &lsn);

	if(rc == VG_JOURNAL_OK && lsn_out){
		*lsn_out = lsn;
	}
	return rc;
}

int vg_journal_append_batch(struct vg_journal *j, enum vg_journal_class cls, uint8_t type, const uint8_t *payloads,
		const uint32_t *offs, const uint32_t *lens, int n)
{
	return append_records(j, cls, type, payloads, offs, lens, n, NULL);
}

uint64_t vg_journal_disk_bytes(struct vg_journal *j)
{
	return atomic_load(&j->disk_bytes);
}

void vg_journal_get_stats(struct vg_journal *j, struct vg_journal_stats *st)
{
	st->disk_bytes = atomic_load(&j->disk_bytes);
	st->rejection_bytes = atomic_load(&j->rej_bytes);
	st->segments = atomic_load(&j->segments);
	st->appended_records = atomic_load(&j->appended);
	st->append_errors = atomic_load(&j->append_errors);
	st->nospace_errors = atomic_load(&j->nospace_errors);
	st->fsyncs = atomic_load(&j->fsyncs);
	st->sync_failures = atomic_load(&j->sync_failures);
	st->sync_max_us = atomic_load(&j->sync_max_us);
	st->corrupt_skips = atomic_load(&j->corrupt_skips);
	pthread_mutex_lock(&j->lock);
	st->committed = j->committed;
	st->unsafe = atomic_load(&j->unsafe);
	memcpy(st->unsafe_error, j->unsafe_error, sizeof(st->unsafe_error));
	pthread_mutex_unlock(&j->lock);
}

const char *vg_journal_id(const struct vg_journal *j)
{
	return j->id;
}

int vg_journal_sync_now(struct vg_journal *j)
{
	return fdatasync(j->fd);
}

void vg_journal_tick(struct vg_journal *j)
{
	if(atomic_load(&j->unsafe)){
		roll_after_failure(j);
	}
}

bool vg_journal_unsafe(struct vg_journal *j)
{
	return atomic_load(&j->unsafe);
}

/* ---- reader ------------------------------------------------------------- */

int vg_journal_reader_open(struct vg_journal *j, struct vg_journal_reader **out)
{
	struct vg_journal_reader *r = calloc(1, sizeof(*r));

	if(r == NULL){
		return -1;
	}
	r->j = j;
	r->fd = -1;
	r->cap = 1u << 20;
	if(r->cap < VG_JOURNAL_MAX_RECORD + REC_HDR){
		r->cap = VG_JOURNAL_MAX_RECORD + REC_HDR;
	}
	r->buf = malloc(r->cap);
	if(r->buf == NULL){
		free(r);
		return -1;
	}
	pthread_mutex_lock(&j->lock);
	if(j->committed.seg >= j->first_seg && j->committed.seg <= j->seg){
		r->seg = j->committed.seg;
		r->off = j->committed.off < SEG_HDR ? SEG_HDR : j->committed.off;
	}else{
		r->seg = j->first_seg;
		r->off = SEG_HDR;
	}
	pthread_mutex_unlock(&j->lock);
	*out = r;
	return 0;
}

void vg_journal_reader_close(struct vg_journal_reader *r)
{
	if(r == NULL){
		return;
	}
	if(r->fd >= 0){
		close(r->fd);
	}
	free(r->buf);
	free(r);
}

struct vg_journal_pos vg_journal_reader_pos(const struct vg_journal_reader *r)
{
	struct vg_journal_pos p = { r->seg, r->off };

	return p;
}

void vg_journal_reader_seek(struct vg_journal_reader *r, struct vg_journal_pos p)
{
	/* The buffer stays: it is keyed by segment and file offset, and
	 * reader_open_seg drops it when the segment changes. */
	r->seg = p.seg;
	r->off = p.off < SEG_HDR ? SEG_HDR : p.off;
}

void vg_journal_wake(struct vg_journal *j)
{
	pthread_mutex_lock(&j->lock);
	j->woken = true;
	pthread_cond_broadcast(&j->data_cond);
	pthread_mutex_unlock(&j->lock);
}

/* Opens r->seg for reading if needed. Returns 0, 1 if the segment does not
 * exist, -1 on error. */
static int reader_open_seg(struct vg_journal_reader *r)
{
	char name[32];

	if(r->fd >= 0 && r->fd_seg == r->seg){
		return 0;
	}
	if(r->fd >= 0){
		close(r->fd);
		r->fd = -1;
	}
	r->buf_len = 0;
	r->buf_off = 0;
	r->limit = 0;
	seg_name(r->seg, name, sizeof(name));
	r->fd = openat(r->j->dirfd, name, O_RDONLY | O_CLOEXEC);
	if(r->fd < 0){
		return errno == ENOENT ? 1 : -1;
	}
	r->fd_seg = r->seg;
	return 0;
}

/* Makes [off, off+n) available in the buffer; returns a pointer or NULL if
 * the file is shorter. */
static const uint8_t *reader_fetch(struct vg_journal_reader *r, uint64_t off, size_t n)
{
	ssize_t got;
	size_t want;

	if(off >= r->buf_off && off + n <= r->buf_off + r->buf_len){
		return r->buf + (off - r->buf_off);
	}
	if(n > r->cap || off + n > r->limit){
		return NULL;
	}
	/* Bytes past the published end may be a record still being written:
	 * they must never sit in the buffer. */
	want = r->limit - off < r->cap ? (size_t)(r->limit - off) : r->cap;
	r->buf_off = off;
	r->buf_len = 0;
	while(r->buf_len < want){
		got = pread(r->fd, r->buf + r->buf_len, want - r->buf_len, (off_t)(off + r->buf_len));
		if(got < 0){
			if(errno == EINTR){
				continue;
			}
			return NULL;
		}
		if(got == 0){
			break;
		}
		r->buf_len += (size_t)got;
		if(r->buf_len >= n){
			break;
		}
	}
	if(r->buf_len < n){
		return NULL;
	}
	return r->buf;
}

static uint64_t file_size(int fd)
{
	struct stat st;

	if(fstat(fd, &st) != 0){
		return 0;
	}
	return (uint64_t)st.st_size;
}

/* Validates the record at off (limit = readable end). 1 valid, 0 invalid,
 * -1 incomplete (fewer bytes than the header announces). */
static int record_at(struct vg_journal_reader *r, uint64_t off, uint64_t limit, struct vg_journal_rec *rec)
{
	const uint8_t *h, *p;
	uint32_t len, crc;

	if(limit - off < REC_HDR){
		return -1;
	}
	h = reader_fetch(r, off, REC_HDR);
	if(h == NULL){
		return -1;
	}
	if(get_le32(h) != REC_MAGIC){
		return 0;
	}
	len = get_le32(h + 4);
	if(len > VG_JOURNAL_MAX_RECORD || h[17] || h[18] || h[19]){
		return 0;
	}
	if(limit - off < REC_HDR + (uint64_t)len){
		return -1;
	}
	p = reader_fetch(r, off, REC_HDR + len);
	if(p == NULL){
		return -1;
	}
	crc = vg_crc32c(0, p + 4, 16);
	crc = vg_crc32c(crc, p + REC_HDR, len);
	if(crc != get_le32(p + 20)){
		return 0;
	}
	rec->lsn = get_le64(p + 8);
	rec->type = p[16];
	rec->len = len;
	rec->payload = p + REC_HDR;
	rec->next.seg = r->seg;
	rec->next.off = off + REC_HDR + len;
	return 1;
}

/* Scans forward from off+1 for the next valid record; returns its offset or
 * limit if none. */
static uint64_t resync(struct vg_journal_reader *r, uint64_t off, uint64_t limit)
{
	struct vg_journal_rec tmp;
	uint64_t o;

	for(o = off + 1; o + REC_HDR <= limit; o++){
		const uint8_t *b = reader_fetch(r, o, 4);
		if(b == NULL){
			break;
		}
		if(get_le32(b) == REC_MAGIC && record_at(r, o, limit, &tmp) == 1){
			return o;
		}
	}
	return limit;
}

int vg_journal_read(struct vg_journal_reader *r, struct vg_journal_rec *rec, int timeout_ms)
{
	struct vg_journal *j = r->j;
	uint64_t active_seg, active_end, limit, nxt;
	int rc;
	struct timespec deadline = { 0, 0 };
	bool have_deadline = false, timed_out, stop;
	char name[32];

	for(;;){
		pthread_mutex_lock(&j->lock);
		active_seg = j->seg;
		active_end = j->end;
		pthread_mutex_unlock(&j->lock);

		if(r->seg > active_seg){
			return 0;
		}
		rc = reader_open_seg(r);
		if(rc == 1){
			/* Missing segment (removed by hand?): move to the next one. */
			nxt = next_existing_segment(j, r->seg);
			if(nxt == UINT64_MAX || nxt > active_seg){
				nxt = active_seg;
			}
			if(nxt == r->seg){
				return 0;
			}
			jlog(j, VG_LOG_WARNING, "Vitalgate journal: segment %016" PRIx64 " is missing, continuing at %016" PRIx64, r->seg, nxt);
			r->seg = nxt;
			r->off = SEG_HDR;
			continue;
		}else if(rc < 0){
			seg_name(r->seg, name, sizeof(name));
			jlog(j, VG_LOG_ERR, "Vitalgate journal: cannot open %s/%s: %s", j->dir, name, strerror(errno));
			return -1;
		}
		limit = (r->seg == active_seg) ? active_end : file_size(r->fd);
		if(limit < r->limit && r->fd_seg == r->seg){
			/* Never shrinks in normal operation; drop the buffer if it did. */
			r->buf_len = 0;
		}
		r->limit = limit;
		if(r->off < limit){
			rc = record_at(r, r->off, limit, rec);
			if(rc == 1){
				r->off = rec->next.off;
				return 1;
			}
			seg_name(r->seg, name, sizeof(name));
			if(rc == 0){
				nxt = resync(r, r->off, limit);
				atomic_fetch_add(&j->corrupt_skips, 1);
				jlog(j, VG_LOG_WARNING, "Vitalgate journal: corrupt record in %s/%s at offset %" PRIu64
						", skipped %" PRIu64 " bytes", j->dir, name, r->off, nxt - r->off);
				r->off = nxt;
				continue;
			}
			/* Incomplete record: only an old segment's torn tail. */
			if(r->seg != active_seg){
				/* Unless a valid record follows: then the length field is
				 * what is corrupt, and only this record is lost. */
				nxt = resync(r, r->off, limit);
				if(nxt < limit){
					atomic_fetch_add(&j->corrupt_skips, 1);
					jlog(j, VG_LOG_WARNING, "Vitalgate journal: corrupt record in %s/%s at offset %" PRIu64
							", skipped %" PRIu64 " bytes", j->dir, name, r->off, nxt - r->off);
					r->off = nxt;
					continue;
				}
				atomic_fetch_add(&j->corrupt_skips, 1);
				jlog(j, VG_LOG_WARNING, "Vitalgate journal: torn record at the end of %s/%s at offset %" PRIu64
						" (%" PRIu64 " bytes), skipped", j->dir, name, r->off, limit - r->off);
				r->off = limit;
				continue;
			}
		}else if(r->seg < active_seg){
			/* Old segment read to its end: continue with the next one. */
			nxt = next_existing_segment(j, r->seg);
			r->seg = (nxt == UINT64_MAX || nxt > active_seg) ? active_seg : nxt;
			r->off = SEG_HDR;
			continue;
		}
		/* Caught up with the appender: wait until something new arrives or
		 * the deadline (fixed at the first wait) passes. A wake-up that
		 * brings nothing readable yet (a segment roll) waits again. */
		if(timeout_ms == 0){
			return 0;
		}
		if(!have_deadline){
			clock_gettime(CLOCK_MONOTONIC, &deadline);
			deadline.tv_sec += timeout_ms / 1000;
			deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
			if(deadline.tv_nsec >= 1000000000L){
				deadline.tv_sec++;
				deadline.tv_nsec -= 1000000000L;
			}
			have_deadline = true;
		}
		pthread_mutex_lock(&j->lock);
		timed_out = false;
		if(j->seg == active_seg && j->end == active_end && !j->stopping && !j->woken){
			j->reader_waiting = true;
			timed_out = pthread_cond_timedwait(&j->data_cond, &j->lock, &deadline) == ETIMEDOUT;
			j->reader_waiting = false;
		}
		stop = j->stopping || j->woken;
		j->woken = false;
		rc = (j->seg != active_seg || j->end != active_end);
		pthread_mutex_unlock(&j->lock);
		if(!rc && (timed_out || stop)){
			return 0;
		}
	}
}

int vg_journal_checkpoint_flush(struct vg_journal *j)
{
	struct vg_journal_pos p;

	pthread_mutex_lock(&j->lock);
	p = j->committed;
	pthread_mutex_unlock(&j->lock);
	if(p.seg == 0){
		return 0;
	}
	j->last_ckpt_ms = mono_ms();
	return save_checkpoint(j, p);
}

int vg_journal_commit(struct vg_journal *j, struct vg_journal_pos upto)
{
	uint64_t s, first, active;
	char name[32];
	struct stat st;
	bool deleted = false;
	int64_t now = mono_ms();

	pthread_mutex_lock(&j->lock);
	j->committed = upto;
	first = j->first_seg;
	active = j->seg;
	pthread_mutex_unlock(&j->lock);

	for(s = first; s < upto.seg && s < active; s++){
		seg_name(s, name, sizeof(name));
		if(fstatat(j->dirfd, name, &st, 0) == 0){
			if(!deleted){
				/* The checkpoint must move past a segment before it goes. */
				save_checkpoint(j, upto);
				j->last_ckpt_ms = now;
			}
			if(unlinkat(j->dirfd, name, 0) == 0){
				atomic_fetch_sub(&j->disk_bytes, (uint64_t)st.st_size);
				atomic_fetch_sub(&j->segments, 1);
				rseg_release(j, s);
				deleted = true;
			}
		}
	}
	if(s > first){
		pthread_mutex_lock(&j->lock);
		j->first_seg = s;
		pthread_mutex_unlock(&j->lock);
	}
	/* Checkpoints are cheap but not free: at most five a second. */
	if(!deleted && now - j->last_ckpt_ms >= 200){
		if(save_checkpoint(j, upto) != 0){
			jlog(j, VG_LOG_WARNING, "Vitalgate journal: cannot write %s/checkpoint: %s", j->dir, strerror(errno));
		}
		j->last_ckpt_ms = now;
	}
	return 0;
}
