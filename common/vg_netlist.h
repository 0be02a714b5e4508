/*
 * vg_netlist: a short list of IP addresses and networks (CIDR), and the
 * question "is this client address in it". plugin_opt_trusted_proxies is
 * one: the addresses of the HAProxy processes in front of a cell, left out
 * of the per-address login throttle and of the "last good address"
 * exemption (behind a proxy, every client comes from the proxy's address).
 *
 * Accepted: "10.20.0.5", "10.20.0.0/24", "::1", "fd00::/8", comma-separated.
 * An IPv4-mapped IPv6 address ("::ffff:10.20.0.5", how a dual-stack
 * listener reports an IPv4 client) matches the IPv4 entries.
 *
 * Thread: any. Memory: none (the list is a fixed array in the caller's
 * struct).
 */
#ifndef VG_NETLIST_H
#define VG_NETLIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VG_NETLIST_MAX 32

struct vg_netlist {
	size_t n;
	struct vg_net {
		uint8_t family;     /* 4 or 6 */
		uint8_t prefix;     /* bits that must match */
		uint8_t addr[16];   /* IPv4 in the first 4 bytes */
	} e[VG_NETLIST_MAX];
};

/* Parses a comma-separated list into *out. Returns 0, or -1 naming the
 * offending entry in err. */
int vg_netlist_parse(const char *s, struct vg_netlist *out, char *err, size_t errlen);
/* True if addr (a textual IPv4 or IPv6 address; NULL is never in it) is in
 * one of the list's networks. */
bool vg_netlist_contains(const struct vg_netlist *l, const char *addr);

#endif
