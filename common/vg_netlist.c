/*
 * vg_netlist: address lists (see vg_netlist.h). Thread: any. Memory: none.
 */
#include "vg_netlist.h"

#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>

#include "vg_util.h"

/* A textual address as (family, 16 bytes); an IPv4-mapped IPv6 address
 * becomes IPv4. */
static bool to_bytes(const char *s, uint8_t *family, uint8_t out[16])
{
	static const uint8_t mapped[12] = { [10] = 0xff, [11] = 0xff };

	memset(out, 0, 16);
	if(inet_pton(AF_INET, s, out) == 1){
		*family = 4;
		return true;
	}
	if(inet_pton(AF_INET6, s, out) != 1){
		return false;
	}
	if(!memcmp(out, mapped, sizeof(mapped))){
		memmove(out, out + 12, 4);
		memset(out + 4, 0, 12);
		*family = 4;
		return true;
	}
	*family = 6;
	return true;
}

static bool prefix_match(const uint8_t *a, const uint8_t *b, unsigned bits)
{
	unsigned full = bits / 8, rest = bits % 8;

	if(memcmp(a, b, full) != 0){
		return false;
	}
	if(rest == 0){
		return true;
	}
	return ((a[full] ^ b[full]) & (uint8_t)(0xff << (8 - rest))) == 0;
}

int vg_netlist_parse(const char *s, struct vg_netlist *out, char *err, size_t errlen)
{
	const char *p = s;

	memset(out, 0, sizeof(*out));
	for(;;){
		const char *comma = strchr(p, ',');
		size_t len = comma ? (size_t)(comma - p) : strlen(p);
		char item[64], *slash;
		struct vg_net *e;
		int64_t bits;

		if(len == 0 || len >= sizeof(item)){
			snprintf(err, errlen, "\"%.*s\" is not an address or network", (int)(len < 60 ? len : 60), p);
			return -1;
		}
		if(out->n == VG_NETLIST_MAX){
			snprintf(err, errlen, "more than %d entries", VG_NETLIST_MAX);
			return -1;
		}
		memcpy(item, p, len);
		item[len] = '\0';
		e = &out->e[out->n];
		slash = strchr(item, '/');
		if(slash){
			*slash = '\0';
		}
		if(!to_bytes(item, &e->family, e->addr)){
			snprintf(err, errlen, "\"%s\" is not an IPv4 or IPv6 address", item);
			return -1;
		}
		if(slash && (!vg_parse_i64(slash + 1, 0, e->family == 4 ? 32 : 128, &bits))){
			snprintf(err, errlen, "\"%s\": the prefix length must be 0..%d", slash + 1, e->family == 4 ? 32 : 128);
			return -1;
		}
		e->prefix = (uint8_t)(slash ? bits : (e->family == 4 ? 32 : 128));
		out->n++;
		if(comma == NULL){
			return 0;
		}
		p = comma + 1;
	}
}

bool vg_netlist_contains(const struct vg_netlist *l, const char *addr)
{
	uint8_t fam, a[16];
	size_t i;

	if(addr == NULL || l->n == 0 || !to_bytes(addr, &fam, a)){
		return false;
	}
	for(i = 0; i < l->n; i++){
		if(l->e[i].family == fam && prefix_match(l->e[i].addr, a, l->e[i].prefix)){
			return true;
		}
	}
	return false;
}
