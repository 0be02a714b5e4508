/*
 * Unit tests for common/vg_idcache.c: a table survives a write/read round
 * trip; a corrupt or truncated file is refused whole; a missing file is 0.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vg_idcache.h"
#include "vgtest.h"

static struct vg_ident *mk(const char *id, uint8_t role, uint16_t nwards)
{
	struct vg_ident *e = vg_ident_new(nwards);
	int i;

	snprintf(e->id, sizeof(e->id), "%s", id);
	e->role = role;
	for(i = 0; i < VG_SALT_LEN; i++){
		e->salt[i] = (uint8_t)(i + id[0]);
	}
	for(i = 0; i < VG_HASH_LEN; i++){
		e->hash[i] = (uint8_t)(i * 7 + id[1]);
	}
	e->nwards = nwards;
	return e;
}

int main(void)
{
	char dir[] = "/tmp/vg-idcache-XXXXXX";
	char path[256], err[256];
	struct vg_idtable t, u, v;
	struct vg_ident *e;
	FILE *f;
	long n, size;
	unsigned char *buf;
	int i;

	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/identities.cache", dir);
	CHECK(vg_idtable_init(&t, 16) == 0);
	CHECK(vg_idtable_init(&u, 16) == 0);
	CHECK(vg_idtable_init(&v, 16) == 0);

	CHECK_INT(vg_idcache_read(path, &u, err, sizeof(err)), 0);

	e = mk("dev-1", VG_ROLE_DEVICE, 0);
	snprintf(e->ward, sizeof(e->ward), "3W");
	snprintf(e->bed, sizeof(e->bed), "B12");
	vg_idtable_put(&t, e);
	e = mk("st-1", VG_ROLE_STATION, 3);
	snprintf(e->wards[0], sizeof(e->wards[0]), "3W");
	snprintf(e->wards[1], sizeof(e->wards[1]), "4E");
	snprintf(e->wards[2], sizeof(e->wards[2]), "ICU");
	vg_idtable_put(&t, e);
	e = mk("core-svc", VG_ROLE_SERVICE, 0);
	e->revoked = true;
	vg_idtable_put(&t, e);
	for(i = 0; i < 500; i++){
		char id[32];
		snprintf(id, sizeof(id), "bulk-%d", i);
		vg_idtable_put(&t, mk(id, VG_ROLE_DEVICE, 0));
	}

	CHECK(vg_idcache_write(path, &t, err, sizeof(err)) == 0);
	CHECK_INT(vg_idcache_read(path, &u, err, sizeof(err)), 503);
	CHECK_INT(u.count, 503);
	e = vg_idtable_find(&u, "dev-1");
	CHECK(e != NULL && e->role == VG_ROLE_DEVICE && !strcmp(e->ward, "3W") && !strcmp(e->bed, "B12"));
	CHECK(e != NULL && memcmp(e->hash, vg_idtable_find(&t, "dev-1")->hash, VG_HASH_LEN) == 0);
	CHECK(e != NULL && memcmp(e->salt, vg_idtable_find(&t, "dev-1")->salt, VG_SALT_LEN) == 0);
	e = vg_idtable_find(&u, "st-1");
	CHECK(e != NULL && e->nwards == 3 && vg_ident_has_ward(e, "ICU", 3) && !vg_ident_has_ward(e, "5N", 2));
	e = vg_idtable_find(&u, "core-svc");
	CHECK(e != NULL && e->revoked && e->role == VG_ROLE_SERVICE);

	/* Flip one byte: the whole file is refused and nothing is added. */
	f = fopen(path, "r+b");
	CHECK(f != NULL);
	fseek(f, 0, SEEK_END);
	size = ftell(f);
	buf = malloc((size_t)size);
	fseek(f, 0, SEEK_SET);
	CHECK(fread(buf, 1, (size_t)size, f) == (size_t)size);
	buf[size / 2] ^= 0x40;
	fseek(f, 0, SEEK_SET);
	fwrite(buf, 1, (size_t)size, f);
	fclose(f);
	n = vg_idcache_read(path, &v, err, sizeof(err));
	CHECK_INT(n, -1);
	CHECK(strstr(err, "corrupt") != NULL);
	CHECK_INT(v.count, 0);
	/* Truncated: refused too. */
	CHECK(truncate(path, size / 3) == 0);
	CHECK_INT(vg_idcache_read(path, &v, err, sizeof(err)), -1);
	CHECK_INT(v.count, 0);

	free(buf);
	unlink(path);
	rmdir(dir);
	vg_idtable_destroy(&t);
	vg_idtable_destroy(&u);
	vg_idtable_destroy(&v);
	return vgtest_result("test_idcache");
}
