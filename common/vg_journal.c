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
 * - Append (broker thread), mapped (the default where it is safe, see
 *   below): the active segment is mapped MAP_SHARED and the record is
 *   copied into it, payload first, header (with its CRC) last; then the new
 *   end is published under the lock. No system call per record: the pages
 *   belong to the page cache, so a kill -9 of the broker right after the
 *   copy keeps the record exactly as a write(2) would. (One writev per
 *   loop pass instead is not possible: Mosquitto 2.0.11 writes the PUBACK
 *   to the socket from inside handle__publish, packet__queue ->
 *   packet__write, right after the ACL check that journals the sample.)
 * - Disk space for the mapping is allocated ahead of the data with
 *   fallocate(), PREALLOC_CHUNK at a time, before anything is copied: a
 *   full filesystem makes that call fail (the append is refused with
 *   VG_JOURNAL_NOSPACE, nothing written, the next append tries again),
 *   never a store into the mapping, which would be SIGBUS. The mapping is
 *   never touched at or past alloc_end. The pages from the one holding the
 *   end up to alloc_end are mlock()ed (when RLIMIT_MEMLOCK allows), so a
 *   partly written page is never evicted and read back from disk by a page
 *   fault (a read error there would be SIGBUS too).
 * - Only on ext4, XFS and tmpfs: there fallocate() reserves real blocks
 *   (or pages) that later stores need nothing more for. Other filesystems
 *   (copy-on-write ones such as btrfs may still need space at the first
 *   store; NFS, overlayfs...) append with one writev() per record, as
 *   before issue 16 (append_mode WRITE forces it).
 * - Sizes: the journal counts data bytes (segment header and records),
 *   never the preallocated tail. A segment is cut back to its data end
 *   when it stops being active (roll, close). A broker that crashed leaves
 *   its active segment with a zeroed tail: at open, every segment that
 *   ends with a zero byte is scanned to its data end (past the last valid
 *   record, and past any torn or corrupt bytes, which stay for the reader
 *   to report) and the zeros after it are cut off. The reader also steps
 *   over a zero tail that could not be cut.
 * - The reader polls (its wait times out every few ms) and is signalled
 *   only when 64 KiB piled up, so a busy broker does not pay a futex wake
 *   per record.
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
 * - Disk full: mapped, see above. With writev, a write that fails
 *   (ENOSPC) or stops short is truncated away, the append returns
 *   VG_JOURNAL_NOSPACE and the next one tries again; if even the
 *   truncation fails, the next append starts a new segment so that no
 *   record follows the torn bytes.
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
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include <linux/magic.h>
#include <openssl/rand.h>

#define SEG_MAGIC "VGJSEG01"
#define SEG_HDR 16u
#define REC_MAGIC 0x524a4756u /* "VGJR" little-endian */
#define REC_HDR 24u
#define WAKE_BYTES (64u * 1024u)
#define PREALLOC_CHUNK (128u * 1024u)  /* disk allocated ahead of the data, mapped */
#define LOCK_MAX (1u << 20)            /* most bytes mlock()ed at once */

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
	 * written by it under lock and read by the reader and syncer (the
	 * broker thread reads them without the lock: it is their only writer). */
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

	/* Mapped appends (broker thread only): the active segment's mapping;
	 * bytes below alloc_end exist in the file, the mapping is never
	 * touched at or past it. [locked_lo, alloc_end) is mlock()ed. */
	bool mapped;                     /* this journal appends through a mapping */
	uint8_t *map;                    /* NULL: the active segment is written with writev */
	size_t map_len;
	uint64_t alloc_end;
	uint64_t locked_lo;
	bool lock_failed;                /* mlock refused once: not tried again */

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

static uint64_t trim_segment(struct vg_journal *j, const char *name, uint64_t size);

/* Open: lists existing segment numbers: min, max, count and total bytes;
 * cuts the zero tail a crash left (trim_segment) first. */
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
		*bytes += trim_segment(j, de->d_name, (uint64_t)st.st_size);
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

static uint64_t page_up(uint64_t n)
{
	uint64_t pg = (uint64_t)sysconf(_SC_PAGESIZE);

	return (n + pg - 1) / pg * pg;
}

static uint64_t page_down(uint64_t n)
{
	uint64_t pg = (uint64_t)sysconf(_SC_PAGESIZE);

	return n / pg * pg;
}

/* Open: true when the journal's filesystem keeps fallocate()d blocks
 * writable through a mapping without needing anything more (see DESIGN);
 * *name says which one it is. */
static bool fs_maps_safely(int dirfd, const char **name, unsigned long *type)
{
	struct statfs sf;

	*name = "unknown";
	*type = 0;
	if(fstatfs(dirfd, &sf) != 0){
		return false;
	}
	*type = (unsigned long)sf.f_type;
	switch(*type){
		case EXT4_SUPER_MAGIC:  /* also ext2 and ext3: fallocate says EOPNOTSUPP there */
			*name = "ext4";
			return true;
		case XFS_SUPER_MAGIC:
			*name = "xfs";
			return true;
		case TMPFS_MAGIC:
			*name = "tmpfs";
			return true;
		default:
			return false;
	}
}

/* Broker thread: keeps [page of end, alloc_end) locked in memory after the
 * allocation grew from `from` to alloc_end, and lets go of the pages below
 * the end, which are never written again. At most LOCK_MAX bytes are
 * locked: beyond that (a first record larger than a megabyte) only the
 * tail is, the rest being fresh pages that a fault never reads from disk. */
static void lock_window(struct vg_journal *j, uint64_t from, uint64_t need)
{
	uint64_t lo = page_down(j->end), lock_from = from;

	if(j->lock_failed){
		return;
	}
	if(j->alloc_end - lock_from > LOCK_MAX){
		lock_from = page_down(need) > from ? page_down(need) : from;
	}
	if(mlock(j->map + lock_from, (size_t)(j->alloc_end - lock_from)) != 0){
		j->lock_failed = true;
		jlog(j, VG_LOG_NOTICE, "Vitalgate journal: cannot lock the active segment's last pages in memory (mlock: %s, "
				"see RLIMIT_MEMLOCK); continuing without", strerror(errno));
		munlock(j->map, j->map_len);
		return;
	}
	if(lo > j->locked_lo){
		munlock(j->map + j->locked_lo, (size_t)(lo - j->locked_lo));
		j->locked_lo = lo;
	}
}

/* Broker thread: makes [0, need) of the active segment allocated on disk
 * and mapped: the mapping grows for a first record larger than the
 * segment, the allocation by PREALLOC_CHUNK steps (never past the
 * mapping). -1 with errno (ENOSPC: the filesystem is full); nothing was
 * written then. */
static int map_reserve(struct vg_journal *j, uint64_t need)
{
	uint64_t target, from = j->alloc_end;
	void *p;
	int rc;

	if(need > j->map_len){
		p = mremap(j->map, j->map_len, (size_t)page_up(need), MREMAP_MAYMOVE);
		if(p == MAP_FAILED){
			return -1;
		}
		j->map = p;
		j->map_len = (size_t)page_up(need);
	}
	target = (need + PREALLOC_CHUNK - 1) / PREALLOC_CHUNK * PREALLOC_CHUNK;
	if(target > j->map_len){
		target = j->map_len;
	}
	do{
		rc = fallocate(j->fd, 0, (off_t)from, (off_t)(target - from));
	}while(rc != 0 && errno == EINTR);
	if(rc != 0){
		return -1;
	}
	j->alloc_end = target;
	lock_window(j, from, need);
	return 0;
}

/* Broker thread: the active segment stops being active: unmapped and cut
 * back to its data, or just closed (writev); synced first at close. A cut that fails leaves a
 * zero tail the reader steps over; its bytes are counted, as they are on
 * disk until the segment is deleted. */
static void retire_segment(struct vg_journal *j, bool sync)
{
	char name[32];

	if(j->fd < 0){
		return;
	}
	if(j->map){
		munmap(j->map, j->map_len);
		j->map = NULL;
		if(j->alloc_end > j->end && ftruncate(j->fd, (off_t)j->end) != 0){
			seg_name(j->seg, name, sizeof(name));
			atomic_fetch_add(&j->disk_bytes, j->alloc_end - j->end);
			jlog(j, VG_LOG_WARNING, "Vitalgate journal: cannot cut %s/%s back to its data (%s); its %" PRIu64
					" preallocated bytes stay until it is deleted", j->dir, name, strerror(errno), j->alloc_end - j->end);
		}
	}
	if(sync){
		fdatasync(j->fd);
	}
	close(j->fd);
	j->fd = -1;
}

/* Broker thread (or open): creates segment `seg` and makes it active. */
static int start_segment(struct vg_journal *j, uint64_t seg)
{
	char name[32];
	uint8_t hdr[SEG_HDR];
	uint8_t *map = NULL;
	size_t map_len = 0;
	uint64_t alloc = 0;
	int fd, e;

	seg_name(seg, name, sizeof(name));
	memcpy(hdr, SEG_MAGIC, 8);
	put_le64(hdr + 8, seg);
again:
	fd = openat(j->dirfd, name, O_CREAT | O_EXCL | O_CLOEXEC | (j->mapped ? O_RDWR : O_WRONLY | O_APPEND), 0600);
	if(fd < 0){
		return -1;
	}
	if(j->mapped){
		map_len = (size_t)page_up(j->opts.segment_bytes);
		alloc = PREALLOC_CHUNK < map_len ? PREALLOC_CHUNK : map_len;
		while((e = fallocate(fd, 0, 0, (off_t)alloc)) != 0 && errno == EINTR){
		}
		if(e == 0){
			map = mmap(NULL, map_len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
			e = map == MAP_FAILED ? -1 : 0;
		}
		if(e != 0){
			e = errno;
			close(fd);
			unlinkat(j->dirfd, name, 0);
			if(e == EOPNOTSUPP){
				/* ext2/3 under the ext4 driver: no fallocate, so no mapping. */
				j->mapped = false;
				jlog(j, VG_LOG_NOTICE, "Vitalgate journal: %s cannot preallocate (fallocate: %s); appending with "
						"writev(2)", j->dir, strerror(e));
				goto again;
			}
			errno = e;
			return -1;
		}
		memcpy(map, hdr, SEG_HDR);
	}else if(write_all(fd, hdr, SEG_HDR) != 0){
		e = errno;
		close(fd);
		unlinkat(j->dirfd, name, 0);
		errno = e;
		return -1;
	}
	retire_segment(j, false);
	j->fd = fd;
	j->map = map;
	j->map_len = map_len;
	j->alloc_end = alloc;
	j->locked_lo = 0;
	j->rec_index = 0;
	atomic_fetch_add(&j->disk_bytes, SEG_HDR);
	atomic_fetch_add(&j->segments, 1);
	pthread_mutex_lock(&j->lock);
	j->seg = seg;
	j->end = SEG_HDR;
	j->signalled_end = SEG_HDR;
	pthread_cond_broadcast(&j->data_cond);
	pthread_mutex_unlock(&j->lock);
	if(map){
		lock_window(j, 0, SEG_HDR);
	}
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
	{
		const char *fs;
		unsigned long type;
		bool safe = fs_maps_safely(j->dirfd, &fs, &type);
		j->mapped = safe && o->append_mode != VG_JOURNAL_APPEND_WRITE;
		if(j->mapped){
			jlog(j, VG_LOG_NOTICE, "Vitalgate journal: %s is on %s: appending through a mapped segment, preallocated "
					"%u KiB at a time", j->dir, fs, PREALLOC_CHUNK / 1024);
		}else if(!safe){
			jlog(j, VG_LOG_NOTICE, "Vitalgate journal: %s is on a filesystem of type 0x%lx, where a preallocated mapping "
					"is not known to be safe (ext4, xfs, tmpfs): appending with writev(2)", j->dir, type);
		}
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
	retire_segment(j, false);
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
	retire_segment(j, true);
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

/* Broker thread: writes the framed records at `end` with one writev (on
 * a short write it continues from where it stopped: a second call that
 * fails tells why, ENOSPC for a full disk). On failure nothing of it may
 * stay: a later record written after torn bytes would be past the end the
 * reader was told; if even the truncation fails, the next append starts a
 * new segment. Returns 0 or -1 with errno. */
static int write_records(struct vg_journal *j, struct iovec *iov, int k, uint64_t end, uint64_t total)
{
	size_t done = 0, skip;
	ssize_t w;
	int vi = 0, e;

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
	if(done == total){
		return 0;
	}
	e = errno;
	if(done > 0 && ftruncate(j->fd, (off_t)end) != 0){
		j->tail_torn = true;
	}
	errno = e;
	return -1;
}

/* Broker thread: copies the framed records into the mapping at `end`
 * (allocated and mapped by the caller). Each payload goes first and its
 * header last, so a broker killed in the middle leaves a record without
 * its magic, never a header announcing bytes that are not there. */
static void copy_records(struct vg_journal *j, const struct iovec *iov, int k, uint64_t end)
{
	uint8_t *dst = j->map + end;
	int i;

	for(i = 0; i + 1 < k; i += 2){
		memcpy(dst + REC_HDR, iov[i + 1].iov_base, iov[i + 1].iov_len);
		atomic_signal_fence(memory_order_seq_cst);
		memcpy(dst, iov[i].iov_base, REC_HDR);
		dst += REC_HDR + iov[i + 1].iov_len;
	}
}

/* Appends n records (one, or a batch) all or nothing: the room check,
 * segment rotation, framing, the copy (mapped) or one writev, and
 * publication to the reader. *first_lsn (optional) gets the first
 * record's lsn. */
static int append_records(struct vg_journal *j, enum vg_journal_class cls, uint8_t type, const uint8_t *payloads,
		const uint32_t *offs, const uint32_t *lens, int n, uint64_t *first_lsn)
{
	uint8_t hdrs[256][REC_HDR];
	struct iovec iov[512];
	uint64_t total = 0, end, lsn;
	uint32_t crc;
	int i, k = 0, e;

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
	end = j->end;   /* this thread is its only writer */
	if((end + total > j->opts.segment_bytes && end > SEG_HDR) || j->tail_torn){
		if(start_segment(j, j->seg + 1) != 0){
			e = errno;
			goto failed;
		}
		j->tail_torn = false;
		end = SEG_HDR;
	}
	if(j->map && end + total > j->alloc_end && map_reserve(j, end + total) != 0){
		e = errno;
		goto failed;
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
	if(j->map){
		copy_records(j, iov, k, end);
	}else if(write_records(j, iov, k, end, total) != 0){
		e = errno;
		goto failed;
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

failed:
	atomic_fetch_add(&j->append_errors, 1);
	if(write_error_result(e) == VG_JOURNAL_NOSPACE){
		atomic_fetch_add(&j->nospace_errors, 1);
	}
	errno = e;
	return write_error_result(e);
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
	st->mapped = j->mapped;
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

/* 1 + the offset of the last byte in [from, limit) that is not zero, or
 * `from` when all are (limit = readable end). */
static uint64_t nonzero_end(struct vg_journal_reader *r, uint64_t from, uint64_t limit)
{
	uint64_t off = from, last = from;
	const uint8_t *b;
	size_t n, i;

	while(off < limit){
		n = limit - off < 65536 ? (size_t)(limit - off) : 65536;
		b = reader_fetch(r, off, n);
		if(b == NULL){
			return limit;   /* unreadable: assume data */
		}
		for(i = n; i > 0; i--){
			if(b[i - 1] != 0){
				last = off + i;
				break;
			}
		}
		off += n;
	}
	return last;
}

/* Open: where the data of a segment of `size` bytes ends: after its last
 * valid record, or after the last byte that is not zero when torn or
 * corrupt bytes come last (they stay, for the reader to report). What
 * follows is the zeroed tail a preallocated segment keeps after a crash. */
static uint64_t data_end(struct vg_journal_reader *r, uint64_t size)
{
	struct vg_journal_rec rec;
	uint64_t off = SEG_HDR, nz, o;
	const uint8_t *b;

	while(off < size){
		if(record_at(r, off, size, &rec) == 1){
			off = rec.next.off;
			continue;
		}
		nz = nonzero_end(r, off, size);
		if(nz == off){
			return off;
		}
		/* A valid record further on (one may end in zero bytes)? None can
		 * start in the zeros after nz. */
		for(o = off + 1; o < nz; o++){
			b = reader_fetch(r, o, 4);
			if(b && get_le32(b) == REC_MAGIC && record_at(r, o, size, &rec) == 1){
				break;
			}
		}
		if(o >= nz){
			return nz;
		}
		off = o;
	}
	return off;
}

/* Open: a segment that was active when its broker was killed keeps the
 * zeros preallocated after its data; cut them off, so that its size is its
 * data again (what the journal counts) and the reader never reads them.
 * Only segments ending with a zero byte are scanned (a segment closed
 * cleanly ends with a record), and only zeros are ever cut. Returns the
 * segment's size after it. */
static uint64_t trim_segment(struct vg_journal *j, const char *name, uint64_t size)
{
	struct vg_journal_reader r;
	uint8_t last;
	uint64_t end;
	int fd;

	if(size <= SEG_HDR){
		return size;
	}
	fd = openat(j->dirfd, name, O_RDWR | O_CLOEXEC);
	if(fd < 0){
		return size;
	}
	if(pread(fd, &last, 1, (off_t)(size - 1)) != 1 || last != 0){
		close(fd);
		return size;
	}
	memset(&r, 0, sizeof(r));
	r.j = j;
	r.fd = fd;
	r.cap = VG_JOURNAL_MAX_RECORD + REC_HDR;
	r.limit = size;
	r.buf = malloc(r.cap);
	if(r.buf == NULL){
		close(fd);
		return size;
	}
	end = data_end(&r, size);
	free(r.buf);
	if(end < size){
		if(ftruncate(fd, (off_t)end) == 0){
			jlog(j, VG_LOG_NOTICE, "Vitalgate journal: %s/%s was active when its broker stopped: its data ends at offset %"
					PRIu64 ", %" PRIu64 " preallocated zero bytes after it cut off", j->dir, name, end, size - end);
			size = end;
		}else{
			jlog(j, VG_LOG_WARNING, "Vitalgate journal: cannot cut the %" PRIu64 " zero bytes after offset %" PRIu64
					" of %s/%s: %s", size - end, end, j->dir, name, strerror(errno));
		}
	}
	close(fd);
	return size;
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
			if(r->seg != active_seg && nonzero_end(r, r->off, limit) == r->off){
				/* Preallocated zeros a crash left and the open could not
				 * cut: not a record, nothing lost. */
				jlog(j, VG_LOG_NOTICE, "Vitalgate journal: %s/%s ends with %" PRIu64 " zero bytes from offset %" PRIu64
						" (preallocated); skipped", j->dir, name, limit - r->off, r->off);
				r->off = limit;
				continue;
			}
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
