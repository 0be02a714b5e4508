/*
 * test_journal: the durable journal in a temporary directory. Append and
 * read back in order, segment rolls and deletion on commit, replay from the
 * checkpoint after reopen, corrupt and torn records skipped (and logged
 * with file and offset), backpressure, lsn uniqueness, reader wake-ups;
 * the reader going back to a position; the rejection records' own budget;
 * a full disk (short writes, ENOSPC, a truncation that fails) and a failed
 * fdatasync (fail closed until safe again), injected through -Wl,--wrap of
 * writev, write, ftruncate, fdatasync and fsync (tests/CMakeLists.txt).
 *
 * Issue 16: every test above runs twice, once with appends through the
 * mapped, preallocated segment (the default on ext4, xfs and tmpfs; /tmp
 * must be one of them) and once with writev (every other filesystem).
 * In the mapped run "bytes on disk" are the data bytes (the active
 * segment's preallocated tail is not data) and only the active segment
 * may have such a tail. Then the mapped segment's own cases: a broker
 * killed with SIGKILL (a real child process) leaving its segment
 * preallocated, a torn record right before that zero tail, a full disk
 * at preallocation (fallocate), a failing mmap and mlock, and a
 * filesystem without fallocate (--wrap of fallocate, mmap, mlock).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "vg_journal.h"
#include "vg_log.h"
#include "vgtest.h"

#define SEG_HDR 16
#define REC_HDR 24

/* ---- fault injection (-Wl,--wrap) ---------------------------------------- */

ssize_t __real_writev(int fd, const struct iovec *iov, int n);
ssize_t __wrap_writev(int fd, const struct iovec *iov, int n);
ssize_t __real_write(int fd, const void *p, size_t n);
ssize_t __wrap_write(int fd, const void *p, size_t n);
int __real_ftruncate(int fd, off_t len);
int __wrap_ftruncate(int fd, off_t len);
int __real_fdatasync(int fd);
int __wrap_fdatasync(int fd);
int __real_fsync(int fd);
int __wrap_fsync(int fd);
int __real_fallocate(int fd, int mode, off_t off, off_t len);
int __wrap_fallocate(int fd, int mode, off_t off, off_t len);
void *__real_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off);
void *__wrap_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off);
int __real_mlock(const void *addr, size_t len);
int __wrap_mlock(const void *addr, size_t len);

/* writev: 0 normal; 1 the next call writes half of what it was given, the
 * call after it fails with ENOSPC (a disk filling up mid-record); 2 every
 * call fails with ENOSPC at once. */
static _Atomic int fault_writev;
static _Atomic bool fault_write_nospace;   /* write(2) fails with ENOSPC */
static _Atomic bool fault_ftruncate;       /* ftruncate fails with EIO */
static _Atomic bool fault_sync;            /* fdatasync and fsync fail with EIO */
static _Atomic int sync_calls;
static _Atomic int fault_fallocate;        /* errno fallocate fails with (0: works) */
static _Atomic int fallocate_calls;
static _Atomic bool fault_mmap;            /* mmap fails with ENOMEM */
static _Atomic bool fault_mlock;           /* mlock fails with EPERM */
static _Atomic int mlock_calls;

ssize_t __wrap_writev(int fd, const struct iovec *iov, int n)
{
	int mode = atomic_load(&fault_writev);

	if(mode == 2 || mode == 3){
		errno = ENOSPC;
		return -1;
	}
	if(mode == 1){
		size_t total = 0, half;
		int i;
		for(i = 0; i < n; i++){
			total += iov[i].iov_len;
		}
		half = total / 2;
		atomic_store(&fault_writev, 3);   /* the retry fails */
		for(i = 0; i < n && half > 0; i++){
			size_t k = iov[i].iov_len < half ? iov[i].iov_len : half;
			if(__real_write(fd, iov[i].iov_base, k) != (ssize_t)k){
				return -1;
			}
			half -= k;
		}
		return (ssize_t)(total / 2);
	}
	return __real_writev(fd, iov, n);
}

ssize_t __wrap_write(int fd, const void *p, size_t n)
{
	if(atomic_load(&fault_write_nospace)){
		errno = ENOSPC;
		return -1;
	}
	return __real_write(fd, p, n);
}

int __wrap_ftruncate(int fd, off_t len)
{
	if(atomic_load(&fault_ftruncate)){
		errno = EIO;
		return -1;
	}
	return __real_ftruncate(fd, len);
}

int __wrap_fdatasync(int fd)
{
	atomic_fetch_add(&sync_calls, 1);
	if(atomic_load(&fault_sync)){
		errno = EIO;
		return -1;
	}
	return __real_fdatasync(fd);
}

int __wrap_fsync(int fd)
{
	if(atomic_load(&fault_sync)){
		errno = EIO;
		return -1;
	}
	return __real_fsync(fd);
}

int __wrap_fallocate(int fd, int mode, off_t off, off_t len)
{
	int e = atomic_load(&fault_fallocate);

	atomic_fetch_add(&fallocate_calls, 1);
	if(e){
		errno = e;
		return -1;
	}
	return __real_fallocate(fd, mode, off, len);
}

void *__wrap_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	/* Only the journal's own mappings (of a file, writable) fail. */
	if(atomic_load(&fault_mmap) && fd >= 0 && (prot & PROT_WRITE)){
		errno = ENOMEM;
		return MAP_FAILED;
	}
	return __real_mmap(addr, len, prot, flags, fd, off);
}

int __wrap_mlock(const void *addr, size_t len)
{
	atomic_fetch_add(&mlock_calls, 1);
	if(atomic_load(&fault_mlock)){
		errno = EPERM;
		return -1;
	}
	return __real_mlock(addr, len);
}

/* ---- log capture --------------------------------------------------------- */

#define MAX_LOGS 64

struct logcap {
	int n;
	int levels[MAX_LOGS];
	char msg[MAX_LOGS][512];
};

static void log_cb(void *arg, int level, const char *msg)
{
	struct logcap *lc = arg;

	if(lc->n < MAX_LOGS){
		lc->levels[lc->n] = level;
		snprintf(lc->msg[lc->n], sizeof(lc->msg[0]), "%s", msg);
		lc->n++;
	}
}

/* Index of the first captured line containing every given needle, or -1. */
static int log_find(const struct logcap *lc, const char *a, const char *b, const char *c)
{
	int i;

	for(i = 0; i < lc->n; i++){
		if(strstr(lc->msg[i], a) && (!b || strstr(lc->msg[i], b)) && (!c || strstr(lc->msg[i], c))){
			return i;
		}
	}
	return -1;
}

/* ---- directory helpers --------------------------------------------------- */

static void make_dir(char *buf, size_t len)
{
	snprintf(buf, len, "/tmp/vg-test-journal-XXXXXX");
	if(mkdtemp(buf) == NULL){
		perror("mkdtemp");
		exit(2);
	}
}

static void remove_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char path[4096];

	if(d == NULL){
		return;
	}
	while((de = readdir(d)) != NULL){
		if(!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")){
			continue;
		}
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		unlink(path);
	}
	closedir(d);
	rmdir(dir);
}

static int is_seg_name(const char *name)
{
	size_t n = strlen(name);

	return n == 20 && !strcmp(name + 16, ".vgj");
}

/* The appends of the run in progress: VG_JOURNAL_APPEND_AUTO (mapped
 * here) or VG_JOURNAL_APPEND_WRITE. */
static int jmode = VG_JOURNAL_APPEND_WRITE;

static uint32_t le32_at(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The data of a segment file (this test's own reading of the format):
 * its size, unless its records are followed by zeros only (a
 * preallocated tail), then where the zeros start. */
static uint64_t data_len(const char *path, uint64_t *file_size)
{
	FILE *f = fopen(path, "rb");
	uint8_t *b;
	long n;
	uint64_t off = SEG_HDR, k, size;

	*file_size = 0;
	if(f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0){
		if(f) fclose(f);
		return 0;
	}
	size = *file_size = (uint64_t)n;
	b = malloc(size + 1);
	rewind(f);
	if(b == NULL || fread(b, 1, size, f) != size){
		free(b);
		fclose(f);
		return size;
	}
	fclose(f);
	while(off + REC_HDR <= size && le32_at(b + off) == 0x524a4756u && off + REC_HDR + le32_at(b + off + 4) <= size){
		off += REC_HDR + le32_at(b + off + 4);
	}
	for(k = off; k < size && b[k] == 0; k++){
	}
	free(b);
	return k == size && off < size ? off : size;
}

/* Segment files: count, total data bytes (data_len), lowest and highest
 * number. Only the highest (the active one, while the journal is open)
 * may have a preallocated tail, and only with mapped appends. */
static void seg_files(const char *dir, uint64_t *count, uint64_t *bytes, uint64_t *min, uint64_t *max)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char path[4096];
	struct stat st;
	uint64_t tailed = 0, ntailed = 0;

	*count = 0;
	*bytes = 0;
	*min = UINT64_MAX;
	*max = 0;
	if(d == NULL){
		return;
	}
	while((de = readdir(d)) != NULL){
		uint64_t seg, size, data;
		if(!is_seg_name(de->d_name)){
			continue;
		}
		seg = strtoull(de->d_name, NULL, 16);
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if(stat(path, &st) == 0){
			data = data_len(path, &size);
			(*count)++;
			*bytes += data;
			if(seg < *min) *min = seg;
			if(seg > *max) *max = seg;
			if(data != size){
				tailed = seg;
				ntailed++;
			}
		}
	}
	closedir(d);
	CHECK(ntailed == 0 || (jmode != VG_JOURNAL_APPEND_WRITE && ntailed == 1 && tailed == *max));
}

static bool seg_exists(const char *dir, uint64_t seg)
{
	char path[4096];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%016" PRIx64 ".vgj", dir, seg);
	return stat(path, &st) == 0;
}

static void seg_path(const char *dir, uint64_t seg, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%016" PRIx64 ".vgj", dir, seg);
}

/* ---- records ------------------------------------------------------------- */

/* Record i: at least 4 bytes (its index, little-endian), then a ramp of
 * bytes. Consecutive bytes rise by one, so the payload never contains the
 * record magic "VGJR". */
static uint32_t rec_len(int i)
{
	return 4 + (uint32_t)((i * 37) % 600);
}

static void rec_fill(int i, uint8_t *p, uint32_t len)
{
	uint32_t k;

	p[0] = (uint8_t)i;
	p[1] = (uint8_t)(i >> 8);
	p[2] = (uint8_t)(i >> 16);
	p[3] = (uint8_t)(i >> 24);
	for(k = 4; k < len; k++){
		p[k] = (uint8_t)(i * 7 + k);
	}
}

static int rec_index(const struct vg_journal_rec *r)
{
	if(r->len < 4){
		return -1;
	}
	return (int)((uint32_t)r->payload[0] | (uint32_t)r->payload[1] << 8 | (uint32_t)r->payload[2] << 16
			| (uint32_t)r->payload[3] << 24);
}

/* True if rec is exactly record i as written by append_rec. */
static bool rec_matches(const struct vg_journal_rec *r, int i)
{
	uint8_t buf[700];

	if(r->len != rec_len(i) || r->type != (uint8_t)(1 + i % 3)){
		return false;
	}
	rec_fill(i, buf, r->len);
	return memcmp(buf, r->payload, r->len) == 0;
}

static int append_rec(struct vg_journal *j, int i, uint64_t *lsn)
{
	uint8_t buf[700];
	uint32_t len = rec_len(i);

	rec_fill(i, buf, len);
	return vg_journal_append(j, (uint8_t)(1 + i % 3), buf, len, lsn);
}

static int open_jx(struct vg_journal **j, const char *dir, uint64_t max_bytes, int sync_ms, struct logcap *lc,
		uint64_t segment_bytes)
{
	struct vg_journal_opts o = {
		.dir = dir,
		.append_mode = jmode,
		.max_bytes = max_bytes,
		.segment_bytes = segment_bytes,
		.sync_ms = sync_ms,
		.log = lc ? log_cb : NULL,
		.log_arg = lc,
	};
	char err[256] = "";
	int rc = vg_journal_open(j, &o, err, sizeof(err));

	if(rc != 0){
		fprintf(stderr, "vg_journal_open: %s\n", err);
	}
	return rc;
}

static int open_j(struct vg_journal **j, const char *dir, uint64_t max_bytes, int sync_ms, struct logcap *lc)
{
	return open_jx(j, dir, max_bytes, sync_ms, lc, 4096);
}

/* Reads up to max records (timeout 0); returns how many. */
static int read_all(struct vg_journal_reader *r, struct vg_journal_rec *last, int *idx, int max)
{
	struct vg_journal_rec rec;
	int n = 0, rc;

	while(n < max && (rc = vg_journal_read(r, &rec, 0)) == 1){
		idx[n++] = rec_index(&rec);
		if(last){
			*last = rec;
		}
	}
	return n;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* ---- tests --------------------------------------------------------------- */

#define N1 120
#define N2 15

static void test_append_read_commit_reopen(void)
{
	char dir[64], sub[128];
	struct vg_journal *j = NULL;
	struct vg_journal_reader *r = NULL;
	struct vg_journal_rec rec, at_commit = { 0 };
	struct vg_journal_stats st;
	struct logcap lc = { 0 };
	uint64_t lsns[N1 + N2 + 1], seen_lsn[N1];
	uint64_t count, bytes, min, max, first_seg_after, max_seg_before;
	char id[VG_JOURNAL_ID_LEN + 1];
	int i, n, wrong = 0, commit_after = 70, idx[N1 + N2 + 8];

	make_dir(dir, sizeof(dir));
	/* The directory is created if missing (and its parents). */
	snprintf(sub, sizeof(sub), "%s/a/b", dir);
	CHECK_INT(open_j(&j, sub, 1u << 30, 0, &lc), 0);
	if(j == NULL){
		return;
	}
	snprintf(id, sizeof(id), "%s", vg_journal_id(j));
	CHECK_INT(strlen(id), VG_JOURNAL_ID_LEN);
	CHECK_INT(strspn(id, "0123456789abcdef"), VG_JOURNAL_ID_LEN);

	for(i = 0; i < N1; i++){
		CHECK_INT(append_rec(j, i, &lsns[i]), VG_JOURNAL_OK);
	}
	/* lsn = (segment << 32) | index within the segment. */
	CHECK(lsns[0] == ((uint64_t)1 << 32));
	for(i = 1; i < N1; i++){
		if(lsns[i] <= lsns[i - 1]) wrong++;
	}
	CHECK_INT(wrong, 0);
	vg_journal_get_stats(j, &st);
	CHECK_INT(st.appended_records, N1);
	CHECK_INT(st.append_errors, 0);
	seg_files(sub, &count, &bytes, &min, &max);
	CHECK(count > 5);    /* ~37 KB in 4 KiB segments */
	CHECK_INT(st.segments, count);
	CHECK_INT(st.disk_bytes, bytes);
	CHECK_INT(vg_journal_disk_bytes(j), bytes);
	CHECK_INT(min, 1);
	CHECK_INT(max, count);
	/* No segment much over segment_bytes (a record may straddle the limit
	 * only when it is the first of its segment). */
	CHECK(bytes <= count * (4096 + REC_HDR + 700));

	/* Read everything back, in order, exactly. */
	CHECK_INT(vg_journal_reader_open(j, &r), 0);
	wrong = 0;
	for(i = 0; i < N1; i++){
		if(vg_journal_read(r, &rec, 0) != 1){
			wrong++;
			break;
		}
		if(!rec_matches(&rec, i) || rec.lsn != lsns[i]){
			wrong++;
		}
		seen_lsn[i] = rec.lsn;
		if(i == commit_after){
			at_commit = rec;
		}
	}
	CHECK_INT(wrong, 0);
	CHECK(seen_lsn[N1 - 1] == lsns[N1 - 1]);
	CHECK_INT(vg_journal_read(r, &rec, 0), 0);   /* caught up */
	{
		/* A timed wait with nothing new returns 0 after the timeout. */
		struct timespec t0, t1;
		long ms;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		CHECK_INT(vg_journal_read(r, &rec, 100), 0);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
		CHECK(ms >= 90);
		CHECK(ms < 5000);
	}

	/* Commit past several rolls: the segments wholly before go. */
	CHECK(at_commit.next.seg > 2);
	CHECK_INT(vg_journal_commit(j, at_commit.next), 0);
	for(i = 1; i < (int)at_commit.next.seg; i++){
		CHECK(!seg_exists(sub, (uint64_t)i));
	}
	CHECK(seg_exists(sub, at_commit.next.seg));
	CHECK(seg_exists(sub, max));
	seg_files(sub, &count, &bytes, &min, &max_seg_before);
	vg_journal_get_stats(j, &st);
	CHECK_INT(min, at_commit.next.seg);
	CHECK_INT(st.segments, count);
	CHECK_INT(st.disk_bytes, bytes);
	CHECK_INT(st.committed.seg, at_commit.next.seg);
	CHECK_INT(st.committed.off, at_commit.next.off);
	/* Committing the same position again deletes nothing more. */
	CHECK_INT(vg_journal_commit(j, at_commit.next), 0);
	seg_files(sub, &count, &bytes, &min, &max);
	CHECK_INT(min, at_commit.next.seg);
	CHECK_INT(vg_journal_checkpoint_flush(j), 0);
	vg_journal_reader_close(r);
	vg_journal_close(j);
	j = NULL;

	/* Reopen: replay starts right after the committed record. */
	CHECK_INT(open_j(&j, sub, 1u << 30, 0, &lc), 0);
	if(j == NULL){
		remove_dir(sub);
		return;
	}
	CHECK_STR(vg_journal_id(j), id);   /* stable across restarts */
	CHECK(log_find(&lc, "segment(s)", "replay", NULL) >= 0);
	seg_files(sub, &count, &bytes, &first_seg_after, &max);
	CHECK_INT(max, max_seg_before + 1);   /* a fresh segment per open */
	CHECK_INT(vg_journal_reader_open(j, &r), 0);
	n = read_all(r, &rec, idx, N1 + N2 + 8);
	CHECK_INT(n, N1 - commit_after - 1);
	wrong = 0;
	for(i = 0; i < n; i++){
		if(idx[i] != commit_after + 1 + i) wrong++;
	}
	CHECK_INT(wrong, 0);
	CHECK(n > 0 && idx[0] == commit_after + 1);
	CHECK(rec.lsn == lsns[N1 - 1]);   /* stored lsn comes back unchanged */

	/* New appends get lsns never used before and are read after the old. */
	for(i = N1; i < N1 + N2; i++){
		CHECK_INT(append_rec(j, i, &lsns[i]), VG_JOURNAL_OK);
		CHECK((lsns[i] >> 32) > max_seg_before);
	}
	n = read_all(r, &rec, idx, N1 + N2 + 8);
	CHECK_INT(n, N2);
	CHECK(n > 0 && idx[0] == N1 && idx[n - 1] == N1 + N2 - 1);
	CHECK(rec_matches(&rec, N1 + N2 - 1));
	qsort(lsns, N1 + N2, sizeof(lsns[0]), cmp_u64);
	wrong = 0;
	for(i = 1; i < N1 + N2; i++){
		if(lsns[i] == lsns[i - 1]) wrong++;
	}
	CHECK_INT(wrong, 0);

	/* Commit everything: all old segments go, the active one stays. */
	CHECK_INT(vg_journal_commit(j, rec.next), 0);
	seg_files(sub, &count, &bytes, &min, &max);
	CHECK_INT(count, 1);
	CHECK_INT(min, rec.next.seg);
	vg_journal_get_stats(j, &st);
	CHECK_INT(st.segments, 1);
	CHECK_INT(st.disk_bytes, bytes);
	vg_journal_reader_close(r);
	vg_journal_close(j);

	/* Third open: nothing to replay. */
	CHECK_INT(open_j(&j, sub, 1u << 30, 0, NULL), 0);
	if(j){
		CHECK_INT(vg_journal_reader_open(j, &r), 0);
		CHECK_INT(vg_journal_read(r, &rec, 0), 0);
		vg_journal_reader_close(r);
		vg_journal_close(j);
	}
	remove_dir(sub);
	snprintf(sub, sizeof(sub), "%s/a", dir);
	rmdir(sub);
	rmdir(dir);
}

/* Commit deleting a segment writes the checkpoint itself (no flush). */
static void test_checkpoint_without_flush(void)
{
	char dir[64];
	struct vg_journal *j = NULL;
	struct vg_journal_reader *r = NULL;
	struct vg_journal_rec rec, mark = { 0 };
	int i, n, idx[64], target = -1;

	make_dir(dir, sizeof(dir));
	CHECK_INT(open_j(&j, dir, 1u << 30, 0, NULL), 0);
	if(j == NULL){
		return;
	}
	for(i = 0; i < 40; i++){
		CHECK_INT(append_rec(j, i, NULL), VG_JOURNAL_OK);
	}
	CHECK_INT(vg_journal_reader_open(j, &r), 0);
	for(i = 0; i < 40 && vg_journal_read(r, &rec, 0) == 1; i++){
		if(target < 0 && rec.next.seg >= 3){
			mark = rec;
			target = rec_index(&rec);
		}
	}
	CHECK(target > 0);
	CHECK_INT(vg_journal_commit(j, mark.next), 0);
	CHECK(!seg_exists(dir, 1));
	vg_journal_reader_close(r);
	vg_journal_close(j);

	CHECK_INT(open_j(&j, dir, 1u << 30, 0, NULL), 0);
	if(j){
		CHECK_INT(vg_journal_reader_open(j, &r), 0);
		n = read_all(r, NULL, idx, 64);
		CHECK_INT(n, 40 - target - 1);
		CHECK(n > 0 && idx[0] == target + 1);
		vg_journal_reader_close(r);
		vg_journal_close(j);
	}
	remove_dir(dir);
}

/* Writes len bytes at off of a file, or truncates it to off (buf NULL). */
static int patch_file(const char *path, off_t off, const void *buf, size_t len)
{
	int fd = open(path, O_WRONLY);
	int rc;

	if(fd < 0){
		return -1;
	}
	if(buf){
		rc = pwrite(fd, buf, len, off) == (ssize_t)len ? 0 : -1;
	}else{
		rc = ftruncate(fd, off);
	}
	close(fd);
	return rc;
}

/* Offset of record k in a segment holding records first.. from its start. */
static uint64_t rec_offset(int first, int k)
{
	uint64_t off = SEG_HDR;
	int i;

	for(i = first; i < k; i++){
		off += REC_HDR + rec_len(i);
	}
	return off;
}

#define NC 8   /* records per old segment in the corruption tests */

/* Writes NC small records (all in segment 1) and closes. */
static void write_small_segment(const char *dir, uint64_t *seg1_bytes)
{
	struct vg_journal *j = NULL;
	int i;

	CHECK_INT(open_j(&j, dir, 1u << 30, 0, NULL), 0);
	if(j == NULL){
		return;
	}
	for(i = 0; i < NC; i++){
		CHECK_INT(append_rec(j, i, NULL), VG_JOURNAL_OK);
	}
	vg_journal_close(j);
	*seg1_bytes = rec_offset(0, NC);
	CHECK(*seg1_bytes <= 4096);   /* rec_len(0..7) keep them in one segment */
}

static void test_corrupt_payload_skipped(void)
{
	char dir[64], path[128], where[64];
	struct vg_journal *j = NULL;
	struct vg_journal_reader *r = NULL;
	struct vg_journal_stats st;
	struct logcap lc = { 0 };
	uint64_t seg1_bytes = 0, off3 = rec_offset(0, 3);
	uint8_t b;
	int n, idx[32], li;

	make_dir(dir, sizeof(dir));
	write_small_segment(dir, &seg1_bytes);
	seg_path(dir, 1, path, sizeof(path));
	/* Flip one payload byte of record 3. */
	{
		int fd = open(path, O_RDONLY);
		CHECK(fd >= 0);
		CHECK(pread(fd, &b, 1, (off_t)(off3 + REC_HDR + 5)) == 1);
		close(fd);
	}
	b ^= 0x01;
	CHECK_INT(patch_file(path, (off_t)(off3 + REC_HDR + 5), &b, 1), 0);

	CHECK_INT(open_j(&j, dir, 1u << 30, 0, &lc), 0);
	if(j == NULL){
		remove_dir(dir);
		return;
	}
	/* A later record in a new segment too. */
	CHECK_INT(append_rec(j, 100, NULL), VG_JOURNAL_OK);
	CHECK_INT(vg_journal_reader_open(j, &r), 0);
	n = read_all(r, NULL, idx, 32);
	CHECK_INT(n, NC);   /* NC - 1 old + 1 new */
	CHECK(n == NC && idx[0] == 0 && idx[1] == 1 && idx[2] == 2 && idx[3] == 4 && idx[NC - 2] == NC - 1 && idx[NC - 1] == 100);
	vg_journal_get_stats(j, &st);
	CHECK_INT(st.corrupt_skips, 1);
	snprintf(where, sizeof(where), "offset %" PRIu64, off3);
	li = log_find(&lc, "corrupt", "0000000000000001.vgj", where);
	CHECK(li >= 0);
	CHECK(li >= 0 && strstr(lc.msg[li], dir) != NULL);
	CHECK(li >= 0 && lc.levels[li] == VG_LOG_WARNING);
	{
		/* It names how much was skipped: exactly record 3. */
		char skipped[64];
		snprintf(skipped, sizeof(skipped), "skipped %" PRIu32 " bytes", REC_HDR + rec_len(3));
		CHECK(li >= 0 && strstr(lc.msg[li], skipped) != NULL);
	}
	vg_journal_reader_close(r);
	vg_journal_close(j);
	remove_dir(dir);
}

static void test_corrupt_header_skipped(void)
{
	char dir[64], path[128], where[64];
	struct vg_journal *j = NULL;
	struct vg_journal_reader *r = NULL;
	struct vg_journal_stats st;
	struct logcap lc = { 0 };
	uint64_t seg1_bytes = 0, off2 = rec_offset(0, 2), off5 = rec_offset(0, 5);
	static const uint8_t junk[4] = { 'j', 'u', 'n', 'k' };
	/* A length that runs past the end of the file. */
	static const uint8_t biglen[4] = { 0x00, 0x00, 0x08, 0x00 };   /* 512 KiB */
	int n, idx[32];

	make_dir(dir, sizeof(dir));
	write_small_segment(dir, &seg1_bytes);
	seg_path(dir, 1, path, sizeof(path));
	CHECK_INT(patch_file(path, (off_t)off2, junk, sizeof(junk)), 0);       /* record 2: bad magic */
	CHECK_INT(patch_file(path, (off_t)off5 + 4, biglen, sizeof(biglen)), 0); /* record 5: bad length */

	CHECK_INT(open_j(&j, dir, 1u << 30, 0, &lc), 0);
	if(j == NULL){
		remove_dir(dir);
		return;
	}
	CHECK_INT(vg_journal_reader_open(j, &r), 0);
	n = read_all(r, NULL, idx, 32);
	/* Records 0 1 3 4 6 7: a bad header costs that record only. */
	CHECK_INT(n, NC - 2);
	CHECK(n == NC - 2 && idx[0] == 0 && idx[1] == 1 && idx[2] == 3 && idx[3] == 4 && idx[4] == 6 && idx[5] == 7);
	vg_journal_get_stats(j, &st);
	CHECK_INT(st.corrupt_skips, 2);
	snprintf(where, sizeof(where), "offset %" PRIu64, off2);
	CHECK(log_find(&lc, "0000000000000001.vgj", where, NULL) >= 0);
	snprintf(where, sizeof(where), "offset %" PRIu64, off5);
	CHECK(log_find(&lc, "0000000000000001.vgj", where, NULL) >= 0);
	vg_journal_reader_close(r);
	vg_journal_close(j);
	remove_dir(dir);
}

static void test_torn_tail_skipped(void)
{
	char dir[64], path[128], where[64];
	struct vg_journal *j = NULL;
	struct vg_journal_reader *r = NULL;
	struct vg_journal_stats st;
	struct logcap lc = { 0 };
	uint64_t seg1_bytes = 0, off_last = rec_offset(0, NC - 1);
	int n, idx[32], li, i;

	make_dir(dir, sizeof(dir));
	write_small_segment(dir, &seg1_bytes);
	seg_path(dir, 1, path, sizeof(path));
	/* Cut the last record in half, as a crash mid-write would. */
	CHECK_INT(patch_file(path, (off_t)(off_last + (REC_HDR + rec_len(NC - 1)) / 2), NULL, 0), 0);

	CHECK_INT(open_j(&j, dir, 1u << 30, 0, &lc), 0);
	if(j == NULL){
		remove_dir(dir);
		return;
	}
	CHECK_INT(vg_journal_reader_open(j, &r), 0);
	n = read_all(r, NULL, idx, 32);
	CHECK_INT(n, NC - 1);
	for(i = 0; i < n && i < NC - 1; i++){
		CHECK_INT(idx[i], i);
	}
	vg_journal_get_stats(j, &st);
	CHECK_INT(st.corrupt_skips, 1);
	snprintf(where, sizeof(where), "offset %" PRIu64, off_last);
	li = log_find(&lc, "torn", "0000000000000001.vgj", where);
	CHECK(li >= 0);
	/* Appends after the reopen are read after the torn tail. */
	CHECK_INT(append_rec(j, 200, NULL), VG_JOURNAL_OK);
	CHECK_INT(append_rec(j, 201, NULL), VG_JOURNAL_OK);
	n = read_all(r, NULL, idx, 32);
	CHECK_INT(n, 2);
	CHECK(n == 2 && idx[0] == 200 && idx[1] == 201);
	vg_journal_get_stats(j, &st);
	CHECK_INT(st.corrupt_skips, 1);

	/* A tail shorter than a record header is torn too. */
	vg_journal_reader_close(r);
	vg_journal_close(j);
	CHECK_INT(patch_file(path, (off_t)(off_last + 10), NULL, 0), 0);
	lc.n = 0;
	CHECK_INT(open_j(&j, dir, 1u << 30, 0, &lc), 0);
	if(j){
		CHECK_INT(vg_journal_reader_open(j, &r), 0);
		n = read_all(r, NULL, idx, 32);
		CHECK_INT(n, NC - 1 + 2);
		CHECK(log_find(&lc, "torn", "0000000000000001.vgj", where) >= 0);
		vg_journal_reader_close(r);
		vg_journal_close(j);
	}
	remove_dir(dir);
}

static void test_full(void)
{
	char dir[64];
	struct vg_journal *j = NULL;
	struct vg_journal_stats st;
	uint64_t count, bytes, bytes2, min, max, lsn = 12345;
	uint8_t payload[100];
	uint8_t *big;
	int i;

	make_dir(dir, sizeof(dir));
	memset(payload, 0x11, sizeof(payload));
	/* Room for the segment header and exactly five 100-byte records. */
	CHECK_INT(open_j(&j, dir, SEG_HDR + 5 * (REC_HDR + 100), 0, NULL), 0);
	if(j == NULL){
		return;
	}
	for(i = 0; i < 5; i++){
		CHECK_INT(vg_journal_append(j, 1, payload, sizeof(payload), NULL), VG_JOURNAL_OK);
	}
	seg_files(dir, &count, &bytes, &min, &max);
	CHECK_INT(bytes, SEG_HDR + 5 * (REC_HDR + 100));
	CHECK_INT(vg_journal_append(j, 1, payload, sizeof(payload), &lsn), VG_JOURNAL_FULL);
	CHECK_INT(lsn, 12345);   /* untouched */
	CHECK_INT(vg_journal_append(j, 1, payload, 1, NULL), VG_JOURNAL_FULL);
	seg_files(dir, &count, &bytes2, &min, &max);
	CHECK_INT(bytes2, bytes);   /* nothing written */
	vg_journal_get_stats(j, &st);
	CHECK_INT(st.appended_records, 5);
	CHECK_INT(st.disk_bytes, bytes);
	/* A zero-length record still needs its header: refused too. */
	CHECK_INT(vg_journal_append(j, 1, payload, 0, NULL), VG_JOURNAL_FULL);

	/* Too big is its own answer, whatever the room. */
	big = calloc(1, VG_JOURNAL_MAX_RECORD + 1);
	CHECK(big != NULL);
	if(big){
		CHECK_INT(vg_journal_append(j, 1, big, VG_JOURNAL_MAX_RECORD + 1, NULL), VG_JOURNAL_TOOBIG);
		free(big);
	}
	vg_journal_close(j);

	/* The limit counts what is already on disk at open. */
	CHECK_INT(open_j(&j, dir, SEG_HDR + 5 * (REC_HDR + 100) + SEG_HDR + (REC_HDR + 100), 0, NULL), 0);
	if(j){
		CHECK_INT(vg_journal_append(j, 1, payload, sizeof(payload), NULL), VG_JOURNAL_OK);
		CHECK_INT(vg_journal_append(j, 1, payload, sizeof(payload), NULL), VG_JOURNAL_FULL);
		vg_journal_close(j);
	}
	remove_dir(dir);
}

static void test_zero_length_and_big_records(void)
{
	char dir[64];
	struct vg_journal *j = NULL;
	struct vg_journal_reader *r = NULL;
	struct vg_journal_rec rec;
	uint8_t *big = malloc(VG_JOURNAL_MAX_RECORD);
	uint32_t k;

	make_dir(dir, sizeof(dir));
	CHECK(big != NULL);
	CHECK_INT(open_j(&j, dir, 1u << 30, 0, NULL), 0);
	if(j == NULL || big == NULL){
		free(big);
		remove_dir(dir);
		return;
	}
	for(k = 0; k < VG_JOURNAL_MAX_RECORD; k++){
		big[k] = (uint8_t)(k * 13 + (k >> 9));
	}
	CHECK_INT(vg_journal_append(j, 9, "", 0, NULL), VG_JOURNAL_OK);
	CHECK_INT(vg_journal_append(j, 8, big, VG_JOURNAL_MAX_RECORD, NULL), VG_JOURNAL_OK);
	CHECK_INT(vg_journal_append(j, 7, "x", 1, NULL), VG_JOURNAL_OK);
	CHECK_INT(vg_journal_reader_open(j, &r), 0);
	CHECK_INT(vg_journal_read(r, &rec, 0), 1);
	CHECK_INT(rec.type, 9);
	CHECK_INT(rec.len, 0);
	CHECK_INT(vg_journal_read(r, &rec, 0), 1);
	CHECK_INT(rec.type, 8);
	CHECK_INT(rec.len, VG_JOURNAL_MAX_RECORD);
	CHECK(rec.len == VG_JOURNAL_MAX_RECORD && memcmp(rec.payload, big, VG_JOURNAL_MAX_RECORD) == 0);
	CHECK_INT(vg_journal_read(r, &rec, 0), 1);
	CHECK_INT(rec.type, 7);
	CHECK(rec.len == 1 && rec.payload[0] == 'x');
	CHECK_INT(vg_journal_read(r, &rec, 0), 0);
	vg_journal_reader_close(r);
	vg_journal_close(j);
	free(big);
	remove_dir(dir);
}

struct rthread {
	struct vg_journal_reader *r;
	int timeout_ms;
	int rc;
	int idx;
	long waited_ms;
	atomic_int started;
};

static void *reader_main(void *arg)
{
	struct rthread *t = arg;
	struct vg_journal_rec rec;
	struct timespec t0, t1;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	atomic_store(&t->started, 1);
	t->rc = vg_journal_read(t->r, &rec, t->timeout_ms);
	t->idx = t->rc == 1 ? rec_index(&rec) : -1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	t->waited_ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	return NULL;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static void test_reader_wakeups(void)
{
	char dir[64];
	struct vg_journal *j = NULL;
	struct vg_journal_reader *r = NULL;
	struct vg_journal_stats st;
	struct rthread t = { 0 };
	pthread_t th;

	make_dir(dir, sizeof(dir));
	/* With a syncer: sync_ms 5. */
	CHECK_INT(open_j(&j, dir, 1u << 30, 5, NULL), 0);
	if(j == NULL){
		return;
	}
	CHECK_INT(vg_journal_reader_open(j, &r), 0);

	/* A small append does not wake a waiting reader (no futex call per
	 * record): the reader finds it when its wait times out. */
	t.r = r;
	t.timeout_ms = 700;
	CHECK_INT(pthread_create(&th, NULL, reader_main, &t), 0);
	while(!atomic_load(&t.started)){
		sleep_ms(1);
	}
	sleep_ms(50);
	CHECK_INT(append_rec(j, 42, NULL), VG_JOURNAL_OK);
	pthread_join(th, NULL);
	CHECK_INT(t.rc, 1);
	CHECK_INT(t.idx, 42);
	CHECK(t.waited_ms >= 600);

	/* 64 KiB piling up wakes a reader blocked in a long wait at once. */
	memset(&t, 0, sizeof(t));
	t.r = r;
	t.timeout_ms = 20000;
	CHECK_INT(pthread_create(&th, NULL, reader_main, &t), 0);
	while(!atomic_load(&t.started)){
		sleep_ms(1);
	}
	sleep_ms(50);
	{
		static uint8_t big[70 * 1024];
		memset(big, 0x5a, sizeof(big));
		CHECK_INT(vg_journal_append(j, 9, big, sizeof(big), NULL), VG_JOURNAL_OK);
	}
	pthread_join(th, NULL);
	CHECK_INT(t.rc, 1);
	CHECK(t.waited_ms < 10000);

	/* vg_journal_wake releases it with nothing read. */
	memset(&t, 0, sizeof(t));
	t.r = r;
	t.timeout_ms = 20000;
	CHECK_INT(pthread_create(&th, NULL, reader_main, &t), 0);
	while(!atomic_load(&t.started)){
		sleep_ms(1);
	}
	sleep_ms(50);
	vg_journal_wake(j);
	pthread_join(th, NULL);
	CHECK_INT(t.rc, 0);
	CHECK(t.waited_ms < 10000);

	/* The syncer ran for the appended record. */
	sleep_ms(100);
	vg_journal_get_stats(j, &st);
	CHECK(st.fsyncs >= 1);
	CHECK_INT(vg_journal_sync_now(j), 0);
	vg_journal_reader_close(r);
	vg_journal_close(j);
	remove_dir(dir);
}

/* A damaged checkpoint replays from the oldest segment, with a warning. */
static void test_bad_checkpoint(void)
{
	char dir[64], path[128];
	struct vg_journal *j = NULL;
	struct vg_journal_reader *r = NULL;
	struct vg_journal_rec rec;
	struct logcap lc = { 0 };
	int idx[32], n, fd;
	uint64_t seg1_bytes = 0;

	make_dir(dir, sizeof(dir));
	write_small_segment(dir, &seg1_bytes);
	/* Commit after record 3 and persist the checkpoint. */
	CHECK_INT(open_j(&j, dir, 1u << 30, 0, NULL), 0);
	if(j == NULL){
		remove_dir(dir);
		return;
	}
	CHECK_INT(vg_journal_reader_open(j, &r), 0);
	for(n = 0; n < 4; n++){
		CHECK_INT(vg_journal_read(r, &rec, 0), 1);
	}
	CHECK_INT(vg_journal_commit(j, rec.next), 0);
	CHECK_INT(vg_journal_checkpoint_flush(j), 0);
	vg_journal_reader_close(r);
	vg_journal_close(j);

	/* Intact: resumes at record 4. */
	CHECK_INT(open_j(&j, dir, 1u << 30, 0, NULL), 0);
	if(j){
		CHECK_INT(vg_journal_reader_open(j, &r), 0);
		n = read_all(r, NULL, idx, 32);
		CHECK_INT(n, NC - 4);
		CHECK(n > 0 && idx[0] == 4);
		vg_journal_reader_close(r);
		vg_journal_close(j);
	}

	/* Damaged (checksum no longer matches): everything again. */
	snprintf(path, sizeof(path), "%s/checkpoint", dir);
	fd = open(path, O_WRONLY | O_TRUNC);
	CHECK(fd >= 0);
	if(fd >= 0){
		CHECK(write(fd, "1 20 0\n", 7) == 7);
		close(fd);
	}
	CHECK_INT(open_j(&j, dir, 1u << 30, 0, &lc), 0);
	if(j){
		CHECK(log_find(&lc, "checkpoint", "checksum", NULL) >= 0);
		CHECK_INT(vg_journal_reader_open(j, &r), 0);
		n = read_all(r, NULL, idx, 32);
		CHECK_INT(n, NC);
		CHECK(n > 0 && idx[0] == 0);
		vg_journal_reader_close(r);
		vg_journal_close(j);
	}
	remove_dir(dir);
}

static void test_open_errors(void)
{
	struct vg_journal *j = (struct vg_journal *)1;
	struct vg_journal_opts o = { .dir = "/proc/vg-no-such-dir/x", .max_bytes = 1u << 20, .segment_bytes = 4096 };
	char err[256] = "";

	CHECK_INT(vg_journal_open(&j, &o, err, sizeof(err)), -1);
	CHECK(j == NULL);
	CHECK(strstr(err, "/proc/vg-no-such-dir/x") != NULL);
	vg_journal_close(NULL);   /* harmless */
}

static uint64_t file_bytes(const char *dir, uint64_t seg)
{
	char path[4096];
	struct stat st;

	seg_path(dir, seg, path, sizeof(path));
	return stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
}

/* 12.13: a consumer that took a record it cannot handle goes back to the
 * position before it and reads it again, within a segment and across a
 * segment roll. */
static void test_reader_seek(void)
{
	char dir[64];
	struct vg_journal *j = NULL;
	struct vg_journal_reader *r = NULL;
	struct vg_journal_rec rec;
	struct vg_journal_pos before, at5;
	int i, n = 0, idx[64], crossed = 0;

	make_dir(dir, sizeof(dir));
	CHECK_INT(open_j(&j, dir, 1u << 30, 0, NULL), 0);
	if(j == NULL){
		return;
	}
	for(i = 0; i < 40; i++){
		CHECK_INT(append_rec(j, i, NULL), VG_JOURNAL_OK);
	}
	CHECK_INT(vg_journal_reader_open(j, &r), 0);
	for(i = 0; i < 5; i++){
		CHECK_INT(vg_journal_read(r, &rec, 0), 1);
	}
	at5 = vg_journal_reader_pos(r);
	CHECK_INT(at5.seg, rec.next.seg);
	CHECK_INT(at5.off, rec.next.off);
	for(i = 5; i < 8; i++){
		CHECK_INT(vg_journal_read(r, &rec, 0), 1);
		CHECK(rec_matches(&rec, i));
	}
	vg_journal_reader_seek(r, at5);
	CHECK_INT(vg_journal_read(r, &rec, 0), 1);
	CHECK(rec_matches(&rec, 5));
	/* Every record once more from wherever, including the first record of
	 * a segment (taken through the position at the end of the previous). */
	for(i = 6; i < 40; i++){
		before = vg_journal_reader_pos(r);
		CHECK_INT(vg_journal_read(r, &rec, 0), 1);
		CHECK(rec_matches(&rec, i));
		crossed += rec.next.seg != before.seg;
		vg_journal_reader_seek(r, before);
		CHECK_INT(vg_journal_read(r, &rec, 0), 1);
		CHECK(rec_matches(&rec, i));
	}
	n = read_all(r, NULL, idx, 64);
	CHECK_INT(n, 0);
	CHECK(crossed >= 2);   /* 40 records fill several 4 KiB segments */
	vg_journal_reader_close(r);
	vg_journal_close(j);
	remove_dir(dir);
}

/* 12.2: rejection records have a budget of their own. Filling it refuses
 * only them; samples and priority records keep all of their room; and
 * committing gives the budget back. */
static void test_rejection_budget(void)
{
	char dir[64];
	struct vg_journal *j = NULL;
	struct vg_journal_reader *r = NULL;
	struct vg_journal_rec rec, last;
	struct vg_journal_stats st;
	uint8_t payload[1000];
	uint64_t max = 64 * 1024;
	int i, rej = 0, rc;

	make_dir(dir, sizeof(dir));
	memset(payload, 0x22, sizeof(payload));
	CHECK_INT(open_j(&j, dir, max, 0, NULL), 0);
	if(j == NULL){
		return;
	}
	/* The budget is a sixteenth of max_bytes, at least 1 MiB. */
	for(i = 0; i < 2000; i++){
		rc = vg_journal_append_class(j, VG_JOURNAL_CLASS_REJECTION, 2, payload, sizeof(payload), NULL);
		if(rc != VG_JOURNAL_OK){
			CHECK_INT(rc, VG_JOURNAL_FULL);
			break;
		}
		rej++;
	}
	CHECK_INT(rej, (1u << 20) / (REC_HDR + sizeof(payload)));
	vg_journal_get_stats(j, &st);
	CHECK_INT(st.rejection_bytes, (uint64_t)rej * (REC_HDR + sizeof(payload)));
	CHECK(st.disk_bytes > st.rejection_bytes);   /* plus segment headers */
	/* Samples: their room is still there (less the 16-byte headers of the
	 * segments the rejections filled: headers count as samples' bytes). */
	for(i = 0; i < 3; i++){
		CHECK_INT(vg_journal_append(j, 1, payload, 100, NULL), VG_JOURNAL_OK);
	}
	/* Priority records: their reserve. */
	CHECK_INT(vg_journal_append_class(j, VG_JOURNAL_CLASS_PRIORITY, 3, payload, sizeof(payload), NULL), VG_JOURNAL_OK);
	/* Rejections still refused. */
	CHECK_INT(vg_journal_append_class(j, VG_JOURNAL_CLASS_REJECTION, 2, payload, sizeof(payload), NULL), VG_JOURNAL_FULL);

	/* The writer stores everything: deleted segments give the budget back. */
	CHECK_INT(vg_journal_reader_open(j, &r), 0);
	i = 0;
	while(vg_journal_read(r, &rec, 0) == 1){
		last = rec;
		i++;
	}
	CHECK_INT(i, rej + 4);
	CHECK_INT(vg_journal_commit(j, last.next), 0);
	vg_journal_get_stats(j, &st);
	CHECK(st.rejection_bytes < 4096);   /* only what the active segment holds */
	CHECK_INT(vg_journal_append_class(j, VG_JOURNAL_CLASS_REJECTION, 2, payload, sizeof(payload), NULL), VG_JOURNAL_OK);
	vg_journal_reader_close(r);
	vg_journal_close(j);
	remove_dir(dir);
}

/* 12.17: the disk fills up in the middle of a record: the append is
 * refused with NOSPACE, nothing of it stays, and the next append (once
 * there is room) works; the reader sees exactly the records acknowledged. */
static void test_disk_full(void)
{
	char dir[64];
	struct vg_journal *j = NULL;
	struct vg_journal_reader *r = NULL;
	struct vg_journal_stats st;
	struct logcap lc = { 0 };
	uint64_t before, count, bytes, min, max;
	int n, idx[64];

	make_dir(dir, sizeof(dir));
	CHECK_INT(open_j(&j, dir, 1u << 30, 0, &lc), 0);
	if(j == NULL){
		return;
	}
	CHECK_INT(append_rec(j, 0, NULL), VG_JOURNAL_OK);
	CHECK_INT(append_rec(j, 1, NULL), VG_JOURNAL_OK);
	before = file_bytes(dir, 1);
	/* Half a record written, then ENOSPC. */
	atomic_store(&fault_writev, 1);
	CHECK_INT(append_rec(j, 2, NULL), VG_JOURNAL_NOSPACE);
	CHECK_INT(file_bytes(dir, 1), before);     /* truncated away */
	/* Still full. */
	atomic_store(&fault_writev, 2);
	CHECK_INT(append_rec(j, 3, NULL), VG_JOURNAL_NOSPACE);
	CHECK_INT(file_bytes(dir, 1), before);
	/* Room again. */
	atomic_store(&fault_writev, 0);
	CHECK_INT(append_rec(j, 4, NULL), VG_JOURNAL_OK);

	/* Half a record, and the truncation fails too: the torn bytes stay,
	 * so the next append goes to a new segment, never after them. */
	atomic_store(&fault_writev, 1);
	atomic_store(&fault_ftruncate, true);
	CHECK_INT(append_rec(j, 5, NULL), VG_JOURNAL_NOSPACE);
	atomic_store(&fault_ftruncate, false);
	atomic_store(&fault_writev, 0);
	CHECK(file_bytes(dir, 1) > before);
	CHECK_INT(append_rec(j, 6, NULL), VG_JOURNAL_OK);
	seg_files(dir, &count, &bytes, &min, &max);
	CHECK_INT(max, 2);

	/* No room for a new segment's header either. */
	atomic_store(&fault_write_nospace, true);
	{
		uint8_t big[4000];
		memset(big, 1, sizeof(big));
		CHECK_INT(vg_journal_append(j, 1, big, sizeof(big), NULL), VG_JOURNAL_NOSPACE);
		CHECK_INT(vg_journal_append(j, 1, big, sizeof(big), NULL), VG_JOURNAL_NOSPACE);
	}
	atomic_store(&fault_write_nospace, false);
	seg_files(dir, &count, &bytes, &min, &max);
	CHECK_INT(max, 2);   /* the failed segment file was removed */
	CHECK_INT(append_rec(j, 7, NULL), VG_JOURNAL_OK);

	vg_journal_get_stats(j, &st);
	CHECK_INT(st.nospace_errors, 5);
	CHECK_INT(vg_journal_reader_open(j, &r), 0);
	n = read_all(r, NULL, idx, 64);
	CHECK_INT(n, 5);
	CHECK(n == 5 && idx[0] == 0 && idx[1] == 1 && idx[2] == 4 && idx[3] == 6 && idx[4] == 7);
	vg_journal_get_stats(j, &st);
	CHECK_INT(st.corrupt_skips, 1);   /* the torn half record of segment 1 */
	vg_journal_reader_close(r);
	vg_journal_close(j);
	remove_dir(dir);
}

/* Polls vg_journal_tick (what TICK does) until the journal's unsafe state
 * is `want` or ms pass. */
static bool wait_unsafe(struct vg_journal *j, bool want, int ms)
{
	int waited;

	for(waited = 0; waited < ms; waited += 10){
		vg_journal_tick(j);
		if(vg_journal_unsafe(j) == want){
			return true;
		}
		sleep_ms(10);
	}
	return vg_journal_unsafe(j) == want;
}

/* 12.16: a failed fdatasync refuses every append (fail closed) with an
 * alarm; working syncs alone do not end it: only a fresh segment that
 * synced AND everything appended before the failure committed do. */
static void test_sync_failure(void)
{
	char dir[64];
	struct vg_journal *j = NULL;
	struct vg_journal_reader *r = NULL;
	struct vg_journal_rec rec, last;
	struct vg_journal_stats st;
	struct logcap lc = { 0 };
	int n = 0, idx[64], calls;

	make_dir(dir, sizeof(dir));
	CHECK_INT(open_j(&j, dir, 1u << 30, 5, &lc), 0);
	if(j == NULL){
		return;
	}
	CHECK_INT(append_rec(j, 0, NULL), VG_JOURNAL_OK);
	CHECK_INT(append_rec(j, 1, NULL), VG_JOURNAL_OK);
	calls = atomic_load(&sync_calls);
	for(n = 0; n < 200 && atomic_load(&sync_calls) == calls; n++){
		sleep_ms(5);   /* the syncer's first pass (directory, then data) */
	}
	n = 0;
	atomic_store(&fault_sync, true);
	CHECK_INT(append_rec(j, 2, NULL), VG_JOURNAL_OK);   /* before the syncer saw it fail */
	CHECK(wait_unsafe(j, true, 2000));
	CHECK_INT(append_rec(j, 3, NULL), VG_JOURNAL_UNSAFE);
	CHECK_INT(vg_journal_append_class(j, VG_JOURNAL_CLASS_PRIORITY, 3, "x", 1, NULL), VG_JOURNAL_UNSAFE);
	vg_journal_get_stats(j, &st);
	CHECK(st.unsafe);
	CHECK(st.sync_failures >= 1);
	CHECK(strstr(st.unsafe_error, "fdatasync of segment 0000000000000001 failed") != NULL);
	CHECK(log_find(&lc, "ALARM", "fdatasync", "0000000000000001") >= 0);

	/* The disk works again, but records 0..2 are not in the database:
	 * still unsafe, however many syncs succeed. */
	atomic_store(&fault_sync, false);
	calls = atomic_load(&sync_calls);
	CHECK(!wait_unsafe(j, false, 1500));
	CHECK(atomic_load(&sync_calls) > calls);
	CHECK_INT(append_rec(j, 4, NULL), VG_JOURNAL_UNSAFE);

	/* Everything appended before the failure committed: safe again. */
	CHECK_INT(vg_journal_reader_open(j, &r), 0);
	while(vg_journal_read(r, &rec, 0) == 1){
		idx[n++] = rec_index(&rec);
		last = rec;
	}
	CHECK_INT(n, 3);
	CHECK_INT(vg_journal_commit(j, last.next), 0);
	CHECK(wait_unsafe(j, false, 3000));
	CHECK(log_find(&lc, "accepting again", NULL, NULL) >= 0);
	CHECK_INT(append_rec(j, 5, NULL), VG_JOURNAL_OK);
	n = read_all(r, NULL, idx, 64);
	CHECK(n == 1 && idx[0] == 5);
	vg_journal_get_stats(j, &st);
	CHECK(!st.unsafe);
	CHECK_INT(st.unsafe_error[0], '\0');
	vg_journal_reader_close(r);
	vg_journal_close(j);
	remove_dir(dir);
}

/* ---- mapped appends (issue 16) -------------------------------------------- */

static uint64_t file_size_of(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
}

/* The mapped segment: while it is active its file is preallocated ahead of
 * the data (the journal counts the data only); rolled and closed segments
 * are cut back to their data. A filesystem without fallocate appends with
 * writev instead. */
static void test_mapped_sizes(void)
{
	char dir[64], path[128];
	struct vg_journal *j = NULL;
	struct vg_journal_reader *r = NULL;
	struct vg_journal_stats st;
	struct logcap lc = { 0 };
	uint64_t count, bytes, min, max, size, data;
	int i, n, idx[500];

	make_dir(dir, sizeof(dir));
	CHECK_INT(open_jx(&j, dir, 1u << 30, 5, &lc, 1u << 20), 0);
	if(j == NULL){
		return;
	}
	vg_journal_get_stats(j, &st);
	CHECK(st.mapped);   /* /tmp is ext4, xfs or tmpfs here */
	CHECK(log_find(&lc, "mapped segment", NULL, NULL) >= 0);
	seg_path(dir, 1, path, sizeof(path));
	CHECK_INT(file_size_of(path), 128 * 1024);   /* the first chunk */
	for(i = 0; i < 300; i++){
		CHECK_INT(append_rec(j, i, NULL), VG_JOURNAL_OK);
	}
	/* ~100 KB of records in 1 MiB segments: still the first chunk; past
	 * it, the next chunk. */
	CHECK(rec_offset(0, 300) < 128 * 1024 && rec_offset(0, 500) > 128 * 1024);
	vg_journal_get_stats(j, &st);
	data = data_len(path, &size);
	CHECK_INT(st.disk_bytes, rec_offset(0, 300));
	CHECK_INT(data, rec_offset(0, 300));
	CHECK_INT(size, 128 * 1024);
	for(i = 300; i < 500; i++){
		CHECK_INT(append_rec(j, i, NULL), VG_JOURNAL_OK);
	}
	data = data_len(path, &size);
	CHECK_INT(data, rec_offset(0, 500));
	CHECK_INT(size, 256 * 1024);
	vg_journal_get_stats(j, &st);
	CHECK_INT(st.disk_bytes, data);
	CHECK_INT(vg_journal_reader_open(j, &r), 0);
	n = read_all(r, NULL, idx, 500);
	CHECK_INT(n, 500);
	CHECK(n == 500 && idx[0] == 0 && idx[499] == 499);
	vg_journal_reader_close(r);
	vg_journal_close(j);
	/* Closed: cut back to its data. */
	CHECK_INT(file_size_of(path), rec_offset(0, 500));
	remove_dir(dir);

	/* Small segments: each rolled one is cut back as it stops being active. */
	make_dir(dir, sizeof(dir));
	CHECK_INT(open_j(&j, dir, 1u << 30, 0, NULL), 0);
	if(j){
		for(i = 0; i < 60; i++){
			CHECK_INT(append_rec(j, i, NULL), VG_JOURNAL_OK);
		}
		seg_files(dir, &count, &bytes, &min, &max);   /* checks: only the active one has a tail */
		CHECK(count > 3);
		vg_journal_get_stats(j, &st);
		CHECK_INT(st.disk_bytes, bytes);
		seg_path(dir, max, path, sizeof(path));
		CHECK_INT(file_size_of(path), 4096);
		vg_journal_close(j);
		CHECK(data_len(path, &size) == size && size < 4096);
	}
	remove_dir(dir);

	/* No fallocate (ext2/3 under the ext4 driver): writev, and it says so. */
	make_dir(dir, sizeof(dir));
	lc.n = 0;
	atomic_store(&fault_fallocate, EOPNOTSUPP);
	CHECK_INT(open_j(&j, dir, 1u << 30, 0, &lc), 0);
	atomic_store(&fault_fallocate, 0);
	if(j){
		vg_journal_get_stats(j, &st);
		CHECK(!st.mapped);
		CHECK(log_find(&lc, "cannot preallocate", "writev", NULL) >= 0);
		for(i = 0; i < 5; i++){
			CHECK_INT(append_rec(j, i, NULL), VG_JOURNAL_OK);
		}
		seg_path(dir, 1, path, sizeof(path));
		CHECK_INT(file_size_of(path), rec_offset(0, 5));
		CHECK_INT(vg_journal_reader_open(j, &r), 0);
		CHECK_INT(read_all(r, NULL, idx, 500), 5);
		vg_journal_reader_close(r);
		vg_journal_close(j);
	}
	remove_dir(dir);
}

/* A child process opens the journal, appends `n` records (record 0.. n-1,
 * then, with zero_last, one whose payload ends in zero bytes, index n) and
 * is killed with SIGKILL: what the kernel keeps is the page cache, exactly
 * as for a broker killed with kill -9. Returns the data end the child
 * reached, or 0. */
static uint64_t crash_child(const char *dir, int n, bool zero_last)
{
	int fds[2];
	pid_t pid;
	uint64_t end = 0;
	int status = 0;

	if(pipe(fds) != 0){
		return 0;
	}
	fflush(NULL);
	pid = fork();
	if(pid == 0){
		struct vg_journal *j = NULL;
		struct vg_journal_opts o = { .dir = dir, .max_bytes = 1u << 30, .segment_bytes = 1u << 20, .sync_ms = 0 };
		char err[256];
		uint8_t z[40];
		uint64_t off = SEG_HDR;
		int i;

		close(fds[0]);
		if(vg_journal_open(&j, &o, err, sizeof(err)) != 0){
			_exit(3);
		}
		for(i = 0; i < n; i++){
			if(append_rec(j, i, NULL) != VG_JOURNAL_OK){
				_exit(4);
			}
			off += REC_HDR + rec_len(i);
		}
		if(zero_last){
			memset(z, 0, sizeof(z));
			rec_fill(n, z, 12);   /* index, a ramp, then 28 zero bytes */
			if(vg_journal_append(j, (uint8_t)(1 + n % 3), z, sizeof(z), NULL) != VG_JOURNAL_OK){
				_exit(5);
			}
			off += REC_HDR + sizeof(z);
		}
		if(write(fds[1], &off, sizeof(off)) != sizeof(off)){
			_exit(6);
		}
		kill(getpid(), SIGKILL);
		_exit(7);
	}
	close(fds[1]);
	if(pid < 0 || read(fds[0], &end, sizeof(end)) != sizeof(end)){
		end = 0;
	}
	close(fds[0]);
	if(pid > 0){
		waitpid(pid, &status, 0);
		CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	}
	return end;
}

/* 16.2: a broker killed with SIGKILL leaves its mapped segment
 * preallocated. At the next open the journal finds where the data ends,
 * cuts the zeros off (counting only data), and every record the dead
 * process appended is read back, then the new ones after them; including
 * a last record whose payload itself ends with zero bytes. */
static void test_crash_preallocated_segment(void)
{
	char dir[64], path[128];
	struct vg_journal *j = NULL;
	struct vg_journal_reader *r = NULL;
	struct vg_journal_rec rec;
	struct vg_journal_stats st;
	struct logcap lc = { 0 };
	uint64_t end, size, count, bytes, min, max;
	int i, n, wrong = 0, idx[64];

	make_dir(dir, sizeof(dir));
	end = crash_child(dir, 30, true);
	CHECK(end > SEG_HDR);
	seg_path(dir, 1, path, sizeof(path));
	CHECK_INT(file_size_of(path), 128 * 1024);   /* left preallocated */
	CHECK_INT(data_len(path, &size), end);

	CHECK_INT(open_j(&j, dir, 1u << 30, 0, &lc), 0);
	if(j == NULL){
		remove_dir(dir);
		return;
	}
	CHECK(log_find(&lc, "0000000000000001.vgj was active", "cut off", NULL) >= 0);
	CHECK_INT(file_size_of(path), end);
	seg_files(dir, &count, &bytes, &min, &max);
	vg_journal_get_stats(j, &st);
	CHECK_INT(st.disk_bytes, bytes);
	CHECK_INT(st.disk_bytes, end + SEG_HDR);   /* plus the new segment's header */
	CHECK_INT(vg_journal_reader_open(j, &r), 0);
	for(i = 0; i < 30; i++){
		if(vg_journal_read(r, &rec, 0) != 1 || !rec_matches(&rec, i)){
			wrong++;
		}
	}
	CHECK_INT(wrong, 0);
	CHECK_INT(vg_journal_read(r, &rec, 0), 1);
	CHECK(rec.len == 40 && rec_index(&rec) == 30 && rec.payload[39] == 0 && rec.payload[12] == 0);
	CHECK_INT(vg_journal_read(r, &rec, 0), 0);
	CHECK_INT(append_rec(j, 100, NULL), VG_JOURNAL_OK);
	n = read_all(r, NULL, idx, 64);
	CHECK(n == 1 && idx[0] == 100);
	vg_journal_get_stats(j, &st);
	CHECK_INT(st.corrupt_skips, 0);
	vg_journal_reader_close(r);
	vg_journal_close(j);

	/* A segment killed before its header was copied: zeros only. */
	lc.n = 0;
	seg_path(dir, 9, path, sizeof(path));
	{
		int fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
		CHECK(fd >= 0 && ftruncate(fd, 128 * 1024) == 0);
		if(fd >= 0) close(fd);
	}
	CHECK_INT(open_j(&j, dir, 1u << 30, 0, &lc), 0);
	if(j){
		CHECK_INT(file_size_of(path), SEG_HDR);
		CHECK_INT(vg_journal_reader_open(j, &r), 0);
		n = read_all(r, NULL, idx, 64);
		CHECK(n == 32 && idx[30] == 30 && idx[31] == 100);
		vg_journal_get_stats(j, &st);
		CHECK_INT(st.corrupt_skips, 0);
		vg_journal_reader_close(r);
		vg_journal_close(j);
	}
	remove_dir(dir);
}

/* 16.2: a torn record right before the zero tail (the broker killed in
 * the middle of a copy: the payload there, the header not yet; or, after
 * a power cut, the header there and half the payload). The records before
 * it are read, it is skipped with a log line naming file and offset, the
 * zeros after it are cut, nothing after the reopen is lost. */
static void test_torn_before_zero_tail(void)
{
	char dir[64], path[128], where[64];
	struct vg_journal *j = NULL;
	struct vg_journal_reader *r = NULL;
	struct vg_journal_stats st;
	struct logcap lc = { 0 };
	uint8_t torn[REC_HDR + 300];
	uint64_t end, size;
	int pass, n, idx[64];

	for(pass = 0; pass < 2; pass++){
		make_dir(dir, sizeof(dir));
		end = crash_child(dir, 20, false);
		CHECK(end > SEG_HDR);
		seg_path(dir, 1, path, sizeof(path));
		/* Record 20 as the broker would have framed it, from the journal
		 * itself: append it to a scratch journal and copy its bytes. */
		{
			char sdir[64], spath[128];
			struct vg_journal *sj = NULL;
			int fd;
			make_dir(sdir, sizeof(sdir));
			CHECK_INT(open_jx(&sj, sdir, 1u << 30, 0, NULL, 1u << 20), 0);
			if(sj){
				uint8_t p[300];
				rec_fill(20, p, sizeof(p));
				CHECK_INT(vg_journal_append(sj, 1, p, sizeof(p), NULL), VG_JOURNAL_OK);
				vg_journal_close(sj);
			}
			seg_path(sdir, 1, spath, sizeof(spath));
			fd = open(spath, O_RDONLY);
			CHECK(fd >= 0 && pread(fd, torn, sizeof(torn), SEG_HDR) == (ssize_t)sizeof(torn));
			if(fd >= 0) close(fd);
			remove_dir(sdir);
		}
		if(pass == 0){
			/* Killed mid-copy: the payload's first 200 bytes, no header. */
			CHECK_INT(patch_file(path, (off_t)(end + REC_HDR), torn + REC_HDR, 200), 0);
		}else{
			/* Power cut: the header and half the payload. */
			CHECK_INT(patch_file(path, (off_t)end, torn, REC_HDR + 150), 0);
		}
		CHECK_INT(file_size_of(path), 128 * 1024);
		lc.n = 0;
		CHECK_INT(open_j(&j, dir, 1u << 30, 0, &lc), 0);
		if(j == NULL){
			remove_dir(dir);
			continue;
		}
		/* Only zeros were cut: the torn bytes stay for the reader. */
		size = file_size_of(path);
		CHECK_INT(size, pass == 0 ? end + REC_HDR + 200 : end + REC_HDR + 150);
		CHECK_INT(vg_journal_reader_open(j, &r), 0);
		n = read_all(r, NULL, idx, 64);
		CHECK_INT(n, 20);
		CHECK(n == 20 && idx[0] == 0 && idx[19] == 19);
		snprintf(where, sizeof(where), "offset %" PRIu64, end);
		CHECK(log_find(&lc, pass == 0 ? "corrupt record" : "torn record", "0000000000000001.vgj", where) >= 0);
		vg_journal_get_stats(j, &st);
		CHECK_INT(st.corrupt_skips, 1);
		CHECK_INT(append_rec(j, 200, NULL), VG_JOURNAL_OK);
		n = read_all(r, NULL, idx, 64);
		CHECK(n == 1 && idx[0] == 200);
		vg_journal_reader_close(r);
		vg_journal_close(j);
		remove_dir(dir);
	}
}

/* 16.2: with a mapped segment, a full disk shows when space is allocated
 * ahead of the data (a new chunk, a new segment): the append is refused
 * with NOSPACE, nothing of it is written or counted, the process never
 * touches unallocated pages (that would be SIGBUS and end this test), and
 * the next append once there is room works. A failing mmap refuses the
 * append (IOERR) and leaves no file behind; a refused mlock is said once
 * and appends go on. */
static void test_disk_full_mapped(void)
{
	char dir[64], path[128];
	struct vg_journal *j = NULL;
	struct vg_journal_reader *r = NULL;
	struct vg_journal_stats st;
	struct logcap lc = { 0 };
	uint64_t count, bytes, min, max, before, left;
	static int idx[4096], expect[4096];
	int i, n, next = 0, nexp = 0, wrong = 0, calls;

	make_dir(dir, sizeof(dir));
	CHECK_INT(open_jx(&j, dir, 1u << 30, 0, &lc, 256 * 1024), 0);
	if(j == NULL){
		return;
	}
	seg_path(dir, 1, path, sizeof(path));
	/* Fill the first chunk up to the record that would cross it. */
	while(rec_offset(0, next + 1) <= 128 * 1024){
		CHECK_INT(append_rec(j, next, NULL), VG_JOURNAL_OK);
		expect[nexp++] = next++;
	}
	before = vg_journal_disk_bytes(j);
	atomic_store(&fault_fallocate, ENOSPC);
	CHECK_INT(append_rec(j, next, NULL), VG_JOURNAL_NOSPACE);
	CHECK_INT(append_rec(j, next, NULL), VG_JOURNAL_NOSPACE);
	CHECK_INT(vg_journal_disk_bytes(j), before);
	CHECK_INT(file_size_of(path), 128 * 1024);
	/* A record that still fits in the chunk goes in, disk full or not. */
	left = 128 * 1024 - rec_offset(0, next);
	if(left >= REC_HDR + 4){
		uint8_t p[700];
		rec_fill(5000, p, (uint32_t)(left - REC_HDR));
		CHECK_INT(vg_journal_append(j, 9, p, (uint32_t)(left - REC_HDR), NULL), VG_JOURNAL_OK);
		expect[nexp++] = 5000;
	}
	atomic_store(&fault_fallocate, 0);
	CHECK_INT(append_rec(j, next, NULL), VG_JOURNAL_OK);
	expect[nexp++] = next++;
	CHECK_INT(file_size_of(path), 256 * 1024);

	/* The segment is full: no room for the next one's first chunk. */
	for(;;){
		atomic_store(&fault_fallocate, ENOSPC);
		i = append_rec(j, next, NULL);
		atomic_store(&fault_fallocate, 0);
		if(i != VG_JOURNAL_OK){
			CHECK_INT(i, VG_JOURNAL_NOSPACE);   /* the roll's fallocate */
			break;
		}
		expect[nexp++] = next++;
	}
	seg_files(dir, &count, &bytes, &min, &max);
	CHECK_INT(count, 1);   /* the new segment's file was removed */
	CHECK_INT(append_rec(j, next, NULL), VG_JOURNAL_OK);
	expect[nexp++] = next++;
	seg_files(dir, &count, &bytes, &min, &max);
	CHECK_INT(count, 2);
	vg_journal_get_stats(j, &st);
	CHECK_INT(st.disk_bytes, bytes);
	CHECK_INT(st.nospace_errors, 3);

	/* mmap fails at the next roll: refused as an I/O error, no file left. */
	for(;;){
		atomic_store(&fault_mmap, true);
		i = append_rec(j, next, NULL);
		atomic_store(&fault_mmap, false);
		if(i != VG_JOURNAL_OK){
			CHECK_INT(i, VG_JOURNAL_IOERR);
			break;
		}
		expect[nexp++] = next++;
	}
	seg_files(dir, &count, &bytes, &min, &max);
	CHECK_INT(count, 2);
	CHECK_INT(append_rec(j, next, NULL), VG_JOURNAL_OK);
	expect[nexp++] = next++;

	/* Everything acknowledged is read back, in order, nothing else. */
	CHECK_INT(vg_journal_reader_open(j, &r), 0);
	n = read_all(r, NULL, idx, 4096);
	CHECK_INT(n, nexp);
	for(i = 0; i < n && i < nexp; i++){
		if(idx[i] != expect[i]){
			wrong++;
		}
	}
	CHECK_INT(wrong, 0);
	vg_journal_reader_close(r);
	vg_journal_close(j);
	remove_dir(dir);

	/* mlock refused (RLIMIT_MEMLOCK): said once, appends go on. */
	make_dir(dir, sizeof(dir));
	lc.n = 0;
	calls = atomic_load(&mlock_calls);
	atomic_store(&fault_mlock, true);
	CHECK_INT(open_j(&j, dir, 1u << 30, 0, &lc), 0);
	if(j){
		for(i = 0; i < 40; i++){
			CHECK_INT(append_rec(j, i, NULL), VG_JOURNAL_OK);
		}
		CHECK_INT(atomic_load(&mlock_calls) - calls, 1);
		CHECK(log_find(&lc, "cannot lock", "mlock", NULL) >= 0);
		CHECK_INT(vg_journal_reader_open(j, &r), 0);
		CHECK_INT(read_all(r, NULL, idx, 64), 40);
		vg_journal_reader_close(r);
		vg_journal_close(j);
	}
	atomic_store(&fault_mlock, false);
	remove_dir(dir);
}

static void run_suite(int mode)
{
	jmode = mode;
	test_append_read_commit_reopen();
	test_checkpoint_without_flush();
	test_corrupt_payload_skipped();
	test_corrupt_header_skipped();
	test_torn_tail_skipped();
	test_full();
	test_zero_length_and_big_records();
	test_reader_wakeups();
	test_bad_checkpoint();
	test_open_errors();
	test_reader_seek();
	test_rejection_budget();
	if(mode == VG_JOURNAL_APPEND_WRITE){
		test_disk_full();   /* writev's short writes and truncation */
	}
	test_sync_failure();
}

int main(void)
{
	run_suite(VG_JOURNAL_APPEND_WRITE);
	run_suite(VG_JOURNAL_APPEND_AUTO);
	jmode = VG_JOURNAL_APPEND_AUTO;
	test_mapped_sizes();
	test_crash_preallocated_segment();
	test_torn_before_zero_tail();
	test_disk_full_mapped();
	return vgtest_result("test_journal");
}
