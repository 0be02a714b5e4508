/*
 * vg_idcache: identity table snapshot file (see vg_idcache.h).
 * Format: "VGIDC001" | u32 count | count x entry | u32 crc32c of all that.
 * Entry: str8 id | u8 role | u8 revoked | 16 salt | 32 hash | str8 ward |
 * str8 bed | u16 nwards | nwards x str8 ward. Integers little-endian.
 * Thread: any. Memory: temporary buffers only.
 */
#include "vg_idcache.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vg_crc32c.h"
#include "vg_sbuf.h"

#define MAGIC "VGIDC001"
#define MAX_FILE (256u << 20)

static void put_u16(struct vg_sbuf *b, uint16_t v)
{
	uint8_t x[2] = { (uint8_t)v, (uint8_t)(v >> 8) };
	vg_sbuf_put(b, x, 2);
}

static void put_u32(struct vg_sbuf *b, uint32_t v)
{
	uint8_t x[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24) };
	vg_sbuf_put(b, x, 4);
}

static void put_str8(struct vg_sbuf *b, const char *s)
{
	size_t n = strnlen(s, VG_ID_MAX);
	uint8_t len = (uint8_t)n;

	vg_sbuf_put(b, &len, 1);
	vg_sbuf_put(b, s, n);
}

int vg_idcache_write(const char *path, const struct vg_idtable *t, char *err, size_t errlen)
{
	struct vg_sbuf b;
	char tmp[4096];
	size_t i;
	int fd;
	uint32_t count = 0;
	uint8_t flag;
	bool ok;

	vg_sbuf_init(&b);
	vg_sbuf_put(&b, MAGIC, 8);
	put_u32(&b, 0);
	for(i = 0; i < t->cap; i++){
		const struct vg_ident *e = t->slots[i];
		uint16_t w;
		if(e == NULL){
			continue;
		}
		put_str8(&b, e->id);
		vg_sbuf_put(&b, &e->role, 1);
		flag = e->revoked ? 1 : 0;
		vg_sbuf_put(&b, &flag, 1);
		vg_sbuf_put(&b, e->salt, VG_SALT_LEN);
		vg_sbuf_put(&b, e->hash, VG_HASH_LEN);
		put_str8(&b, e->ward);
		put_str8(&b, e->bed);
		put_u16(&b, e->nwards);
		for(w = 0; w < e->nwards; w++){
			put_str8(&b, e->wards[w]);
		}
		count++;
	}
	if(!vg_sbuf_ok(&b)){
		vg_sbuf_free(&b);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	b.p[8] = (char)count;
	b.p[9] = (char)(count >> 8);
	b.p[10] = (char)(count >> 16);
	b.p[11] = (char)(count >> 24);
	put_u32(&b, vg_crc32c(0, b.p, b.len));
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ok = fd >= 0 && vg_sbuf_ok(&b) && write(fd, b.p, b.len) == (ssize_t)b.len && fsync(fd) == 0;
	if(fd >= 0){
		close(fd);
	}
	vg_sbuf_free(&b);
	if(!ok || rename(tmp, path) != 0){
		snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
}

struct rd {
	const uint8_t *p;
	size_t len, pos;
	bool bad;
};

static const uint8_t *take(struct rd *r, size_t n)
{
	const uint8_t *p;

	if(r->bad || r->len - r->pos < n){
		r->bad = true;
		return NULL;
	}
	p = r->p + r->pos;
	r->pos += n;
	return p;
}

static bool take_str8(struct rd *r, char *out, size_t cap)
{
	const uint8_t *n = take(r, 1);
	const uint8_t *s;

	if(n == NULL || *n >= cap){
		r->bad = true;
		return false;
	}
	s = take(r, *n);
	if(s == NULL){
		return false;
	}
	memcpy(out, s, *n);
	out[*n] = '\0';
	return true;
}

long vg_idcache_read(const char *path, struct vg_idtable *t, char *err, size_t errlen)
{
	struct stat st;
	uint8_t *buf;
	struct rd r;
	uint32_t count, i, crc;
	long loaded = 0;
	int fd;
	struct vg_idtable tmp;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if(fd < 0){
		if(errno == ENOENT){
			return 0;
		}
		snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
		return -1;
	}
	if(fstat(fd, &st) != 0 || st.st_size < 16 || (uint64_t)st.st_size > MAX_FILE){
		close(fd);
		snprintf(err, errlen, "%s: unexpected size", path);
		return -1;
	}
	buf = malloc((size_t)st.st_size);
	if(buf == NULL || read(fd, buf, (size_t)st.st_size) != st.st_size){
		free(buf);
		close(fd);
		snprintf(err, errlen, "cannot read %s", path);
		return -1;
	}
	close(fd);
	crc = (uint32_t)buf[st.st_size - 4] | (uint32_t)buf[st.st_size - 3] << 8 | (uint32_t)buf[st.st_size - 2] << 16
		| (uint32_t)buf[st.st_size - 1] << 24;
	if(memcmp(buf, MAGIC, 8) != 0 || vg_crc32c(0, buf, (size_t)st.st_size - 4) != crc){
		free(buf);
		snprintf(err, errlen, "%s is corrupt (bad magic or checksum)", path);
		return -1;
	}
	r.p = buf;
	r.len = (size_t)st.st_size - 4;
	r.pos = 8;
	r.bad = false;
	{
		const uint8_t *c = take(&r, 4);
		count = (uint32_t)c[0] | (uint32_t)c[1] << 8 | (uint32_t)c[2] << 16 | (uint32_t)c[3] << 24;
	}
	/* Parse into a scratch table first: a bad file adds nothing. */
	if(vg_idtable_init(&tmp, count) != 0){
		free(buf);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for(i = 0; i < count && !r.bad; i++){
		char id[VG_ID_MAX + 1], ward[VG_ID_MAX + 1], bed[VG_ID_MAX + 1];
		const uint8_t *role, *rev, *salt, *hash, *nw;
		uint16_t n, w;
		struct vg_ident *e;

		if(!take_str8(&r, id, sizeof(id))){
			break;
		}
		role = take(&r, 1);
		rev = take(&r, 1);
		salt = take(&r, VG_SALT_LEN);
		hash = take(&r, VG_HASH_LEN);
		if(!take_str8(&r, ward, sizeof(ward)) || !take_str8(&r, bed, sizeof(bed))){
			break;
		}
		nw = take(&r, 2);
		if(r.bad){
			break;
		}
		n = (uint16_t)(nw[0] | nw[1] << 8);
		e = vg_ident_new(n);
		if(e == NULL){
			r.bad = true;
			break;
		}
		memcpy(e->id, id, sizeof(id));
		e->role = *role;
		e->revoked = *rev != 0;
		memcpy(e->salt, salt, VG_SALT_LEN);
		memcpy(e->hash, hash, VG_HASH_LEN);
		memcpy(e->ward, ward, sizeof(ward));
		memcpy(e->bed, bed, sizeof(bed));
		e->nwards = n;
		for(w = 0; w < n; w++){
			if(!take_str8(&r, e->wards[w], VG_ID_MAX + 1)){
				break;
			}
		}
		if(r.bad || !vg_id_valid(e->id) || e->role < VG_ROLE_DEVICE || e->role > VG_ROLE_CELL
				|| vg_idtable_put(&tmp, e) != 0){
			vg_ident_free(e);
			r.bad = true;
			break;
		}
	}
	free(buf);
	if(r.bad || r.pos != r.len){
		vg_idtable_destroy(&tmp);
		snprintf(err, errlen, "%s is corrupt (bad entry)", path);
		return -1;
	}
	for(i = 0; i < tmp.cap; i++){
		if(tmp.slots[i]){
			if(vg_idtable_put(t, tmp.slots[i]) == 0){
				loaded++;
			}else{
				vg_ident_free(tmp.slots[i]);
			}
			tmp.slots[i] = NULL;
		}
	}
	vg_idtable_destroy(&tmp);
	return loaded;
}
