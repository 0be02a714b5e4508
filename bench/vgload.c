/*
 * vgload: a standalone MQTT load generator for Vitalgate's benchmarks
 * (bare Mosquitto against Mosquitto + Vitalgate). See bench/README.md.
 *
 * One process, one thread, one epoll loop, one non-blocking TCP socket per
 * simulated client. Devices publish Vitalgate v1 MessagePack samples to
 * vitals/<id>; stations subscribe and match every delivery to the time its
 * sample was sent. MQTT 3.1.1 and 5 are framed and parsed here (no
 * libmosquitto): CONNECT/CONNACK, PUBLISH QoS 0/1 both ways, PUBACK,
 * SUBSCRIBE/SUBACK, PINGREQ/PINGRESP, DISCONNECT.
 *
 * DESIGN
 *  - Phases: STATIONS (every station connects and subscribes) -> CONNECT
 *    (devices, paced or all at once; a failed TCP attempt is retried with
 *    backoff until the connect deadline) -> TRAFFIC (--duration s) -> DRAIN
 *    (at most 5 s: outstanding PUBACKs and deliveries) -> CLOSING (DISCONNECT,
 *    wait at most 1 s for the broker's EOF) -> report. The run is bounded by
 *    connect-timeout + duration + 5 s (+1 s to close) whatever happens.
 *  - Publishing is a cursor, not a timer per device: the k-th publish of the
 *    run is due at t_traffic + k / (rate * M) s and belongs to device k mod M
 *    (M = devices connected when traffic starts). Every device publishes at
 *    exactly --rate and the aggregate is an even stream, not a burst per
 *    period: O(1) per message.
 *  - Output is appended to a per-connection buffer; each loop pass ends with
 *    one send() per connection that has something queued, however many
 *    packets it holds. EPOLLOUT is armed only while a backlog remains.
 *  - Input: recv() into one shared 64 KiB buffer, packets parsed in place;
 *    only a trailing partial packet is copied into the connection's buffer.
 *    Every 64 events of a batch the publish cursor runs again, so a large
 *    batch of PUBACKs does not hold the publish stream back.
 *  - Timers: connect pacing is a cursor, TCP retries sit in a binary heap,
 *    keepalive is a once-per-second scan (O(N) per second, not per message).
 *  - Memory is bounded and allocated up front per client: log-linear
 *    histograms, a ring of the last 64 (seq, send time) per device, a ring of
 *    the last 16 alert samples per alerting device, 64 in-flight slots.
 *
 * --reconnect (failover benchmarks): a device whose connection is lost
 * during traffic is not final: it goes back to the retry heap (50 ms
 * doubling to 2 s, jittered, until the traffic ends; a refused CONNACK is
 * retried too) and publishes again once connected; what it had in flight is
 * dropped, not resent. Measured: per device, from the loss (and from the
 * run's first loss) to its next accepted sample. --acked writes "id seq
 * wall_ms" of every accepted sample, to check them against the database.
 *
 * Thread: single. Memory: everything hangs off struct vgl and is freed at
 * exit (the ASan build's leak check stays quiet).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>

/* The schema's keys and bounds (generated from schemas/vitals/v1.json by
 * schemas/gen.mjs, bench/CMakeLists.txt): a vital renamed, removed or
 * narrowed below what vgload sends fails this build, not a benchmark run. */
#include "vg_schema_gen.h"

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

#define RING 64                     /* per device: last (seq, send time) */
#define ARING 16                    /* per alerting device: last alert samples */
#define INFL 64                     /* QoS 1 publishes in flight per device */
#define MAX_PACKET (1u << 20)       /* larger incoming packets are a protocol error */
#define OUT_BACKLOG_MAX (64u * 1024) /* a device this far behind skips a sample */
#define RBUF_SIZE (64 * 1024)
#define DRAIN_US 5000000LL
#define DRAIN_QUIET_US 300000LL     /* drain ends early once this quiet */
#define CLOSE_US 1000000LL
#define BACKOFF_MIN_MS 50
#define BACKOFF_MAX_MS 2000
#define MAX_STARTS_PER_PASS 1000    /* keep the loop responsive while connecting */
#define MAX_PUBS_PER_PASS 4000
#define FD_RESERVE 50               /* fds kept back from RLIMIT_NOFILE */
#define SPREAD_BLOCK 62500          /* 250 x 250 source addresses per 127.<b>/16 */

/* ---- time -------------------------------------------------------------- */

static int64_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- log-linear histogram ---------------------------------------------- */
/* Values below 64 have a bucket each; above, every power of two is split in
 * 32 buckets (error under 3.2 %). 46 bits of microseconds is two years. */
#define H_BUCKETS (64 + 41 * 32)

struct hist {
	uint64_t n;
	uint64_t max;
	uint64_t b[H_BUCKETS];
};

static unsigned hist_index(uint64_t v)
{
	unsigned msb, shift, idx;

	if(v < 64){
		return (unsigned)v;
	}
	msb = 63u - (unsigned)__builtin_clzll(v);
	shift = msb - 5u;                       /* v >> shift is in [32, 63] */
	idx = 64u + (shift - 1u) * 32u + (unsigned)((v >> shift) - 32u);
	return idx < H_BUCKETS ? idx : H_BUCKETS - 1;
}

/* Midpoint of a bucket. */
static uint64_t hist_value(unsigned idx)
{
	unsigned k, shift;
	uint64_t sub;

	if(idx < 64){
		return idx;
	}
	k = idx - 64;
	shift = k / 32 + 1;
	sub = k % 32 + 32;
	return (sub << shift) + ((1ull << shift) - 1) / 2;
}

static void hist_add(struct hist *h, int64_t v)
{
	uint64_t u = v < 0 ? 0 : (uint64_t)v;

	h->n++;
	h->b[hist_index(u)]++;
	if(u > h->max){
		h->max = u;
	}
}

/* The value at quantile q (0 < q <= 1); never above the exact maximum. */
static uint64_t hist_q(const struct hist *h, double q)
{
	uint64_t rank, cum = 0, v;
	unsigned i;

	if(h->n == 0){
		return 0;
	}
	rank = (uint64_t)ceil(q * (double)h->n);
	if(rank < 1){
		rank = 1;
	}
	for(i = 0; i < H_BUCKETS; i++){
		cum += h->b[i];
		if(cum >= rank){
			v = hist_value(i);
			return v < h->max ? v : h->max;
		}
	}
	return h->max;
}

/* ---- state -------------------------------------------------------------- */

enum cstate {
	C_IDLE,     /* not started */
	C_BACKOFF,  /* waiting in the retry heap */
	C_TCP,      /* non-blocking connect() in progress */
	C_CONNACK,  /* CONNECT sent */
	C_SUBACK,   /* station: SUBSCRIBE sent */
	C_READY,
	C_CLOSING,  /* DISCONNECT sent, waiting for the broker's EOF */
	C_REFUSED,  /* CONNACK refused: final */
	C_FAILED,   /* gave up at the connect deadline: final */
	C_LOST,     /* connection lost after CONNACK: final */
	C_DONE,
};

enum phase { P_STATIONS, P_CONNECT, P_TRAFFIC, P_DRAIN, P_CLOSING, P_END };
static const char *const phase_name[] = { "stations", "connect", "traffic", "drain", "closing", "end" };

struct ident {
	const char *id;
	const char *secret;   /* NULL: anonymous */
	const char *filters;  /* station only: comma-separated filters, or NULL */
};

struct rec {
	uint64_t seq;
	int64_t us;           /* CLOCK_MONOTONIC at send; 0: empty */
};

struct infl {
	int64_t us;
	uint64_t seq;         /* its first sample's seq (--acked) */
	uint16_t pid;         /* 0: free */
	uint8_t nb;           /* samples in it */
};

struct conn {
	int fd;
	uint8_t state;
	bool station;
	bool dirty;           /* on the flush list */
	bool want_out;        /* EPOLLOUT armed */
	bool counted;         /* resolved (ready, refused, failed) for the phase */
	bool alerting;
	uint16_t next_pid;
	uint16_t inflight;
	uint16_t recv_max;
	uint32_t keepalive_s;
	uint32_t index;       /* global: devices 0..N-1, stations N..N+K-1 */
	uint32_t retries;
	uint32_t backoff_ms;
	const struct ident *ident;
	uint8_t *in;
	uint32_t in_len, in_cap;
	uint8_t *out;
	uint32_t out_off, out_len, out_cap;
	int64_t t_first;      /* first connect attempt */
	int64_t t_lost;       /* --reconnect: connection lost at (0: not lost, or publishing again) */
	int64_t t_last_tx;
	uint64_t samples;     /* device: samples sent */
	uint64_t alerts;      /* device: alert samples sent */
	struct infl *infl;    /* device, QoS 1: INFL slots by pid % INFL */
	struct rec *ring;     /* device: RING */
	struct rec *aring;    /* alerting device: ARING */
	uint64_t *fseen;      /* station: per device, the newest seq a ward frame showed it (+1; 0: none) */
};

struct opts {
	const char *host;
	int port;
	int mqtt;
	long clients;
	const char *creds;
	bool anonymous;
	const char *id_prefix;
	long max_clients;
	double connect_rate;
	long connect_inflight;  /* devices between their first connect attempt and CONNACK, at most (0: no limit) */
	double connect_timeout;
	int syn_retries;
	int keepalive;
	bool clean;
	uint32_t session_expiry;
	double duration;
	double rate;
	int qos;
	double alert_fraction;
	int alert_every;
	int batch;          /* samples per message (1: a single map) */
	long stations;
	const char *station_creds;
	int station_qos;
	const char *station_topic;
	bool spread;
	bool quiet;
	bool reconnect;
	const char *acked;
	int64_t traffic_at_ms;
};

struct stats {
	uint64_t connack_ok;
	uint64_t connack_refused;
	uint64_t connack_codes[256];
	uint64_t connect_failed;
	uint64_t tcp_retries;
	uint64_t retry_errno[256];          /* by errno; [0]: EOF before CONNACK */
	uint64_t stations_ok;
	uint64_t suback_refused;
	uint64_t published;
	uint64_t samples_published;
	uint64_t puback_ok;
	uint64_t puback_refused;
	uint64_t puback_codes[256];
	uint64_t puback_unknown;
	uint64_t pub_skipped_window;
	uint64_t pub_skipped_backlog;
	int64_t pub_lag_max_us;
	uint64_t alerts_sent;
	uint64_t deliveries;
	uint64_t unmatched;
	uint64_t retained;
	uint64_t alert_deliveries;
	uint64_t frames;                    /* ward frames (wards/<ward>/vitals) the stations received */
	uint64_t frame_bytes;
	uint64_t frame_samples;             /* samples seen in a frame for the first time (by that station) */
	uint64_t frame_unmatched;           /* ... whose send time was no longer known */
	uint64_t device_deliveries;         /* PUBLISHes a device received */
	uint64_t disconnects;
	uint64_t server_disconnect_codes[256];
	uint64_t pings;
	uint64_t protocol_errors;
	int64_t t_last_connack;
	uint64_t reconnects;                /* --reconnect: devices connected again after a loss */
	uint64_t recovered;                 /* ... and accepted a sample again */
	uint64_t reconnect_refused;         /* CONNACKs refused while reconnecting (retried) */
	struct hist recover;                /* µs from a device's loss to its next accepted sample */
	struct hist recover_since_first;    /* µs from the run's first loss to a device's next accepted sample */
	struct hist connect;                /* µs, devices */
	struct hist puback;                 /* µs */
	struct hist d2s;                    /* µs */
	struct hist alert;                  /* µs */
	struct hist frame;                  /* µs: a sample's send to its first frame at a station */
};

struct vgl {
	struct opts o;
	int ep;
	struct sockaddr_in broker;
	size_t ndev, nsta, nconn;
	struct conn *c;                     /* ndev devices then nsta stations */
	struct ident *dev_ids, *sta_ids;
	char *dev_file, *sta_file;          /* the credential files' text */
	char *names;                        /* generated anonymous ids */
	uint32_t *htab;                     /* device id -> index + 1 */
	size_t hmask;
	uint32_t *dirty;
	size_t ndirty;
	struct { int64_t due; uint32_t idx; } *heap;
	size_t nheap;
	uint32_t *active;                   /* devices publishing */
	size_t nactive;
	uint8_t *rbuf;
	enum phase phase;
	int64_t now;
	int64_t t0, t_start, t_connect_deadline, t_hard_deadline;
	int64_t t_traffic, t_traffic_end, t_drain, t_close, t_last_delivery;
	double pub_interval_us;
	uint64_t pub_k;
	size_t next_start;                  /* connect pacing cursor */
	size_t sta_pending, dev_pending;
	size_t dev_connecting;              /* devices started and not yet resolved */
	size_t nclosing;                    /* C_CLOSING with the socket open */
	uint64_t inflight_total;
	uint64_t seq_base;
	int64_t t_first_loss;               /* --reconnect: the first connection lost in traffic */
	FILE *acked;                        /* --acked: "id seq" of every accepted sample */
	uint64_t rng;
	bool aborted;
	struct stats st;
	int64_t t_next_second;
	uint64_t last_published, last_puback;
};

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
	(void)sig;
	g_stop = 1;
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;

	fputs("vgload: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

static void note(const struct vgl *L, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(const struct vgl *L, const char *fmt, ...)
{
	va_list ap;

	if(L->o.quiet){
		return;
	}
	fputs("vgload: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if(p == NULL){
		die("out of memory");
	}
	return p;
}

static uint64_t rnd(struct vgl *L)
{
	/* xorshift64* */
	L->rng ^= L->rng >> 12;
	L->rng ^= L->rng << 25;
	L->rng ^= L->rng >> 27;
	return L->rng * 0x2545F4914F6CDD1DULL;
}

/* ---- byte helpers ------------------------------------------------------- */

static uint8_t *put16(uint8_t *p, unsigned v)
{
	*p++ = (uint8_t)(v >> 8);
	*p++ = (uint8_t)v;
	return p;
}

static uint8_t *put32(uint8_t *p, uint32_t v)
{
	*p++ = (uint8_t)(v >> 24);
	*p++ = (uint8_t)(v >> 16);
	*p++ = (uint8_t)(v >> 8);
	*p++ = (uint8_t)v;
	return p;
}

static uint8_t *put64(uint8_t *p, uint64_t v)
{
	p = put32(p, (uint32_t)(v >> 32));
	return put32(p, (uint32_t)v);
}

static uint8_t *put_str(uint8_t *p, const char *s, size_t n)
{
	p = put16(p, (unsigned)n);
	memcpy(p, s, n);
	return p + n;
}

static uint8_t *put_varint(uint8_t *p, uint32_t v)
{
	do{
		uint8_t b = v & 0x7f;

		v >>= 7;
		*p++ = (uint8_t)(v ? b | 0x80 : b);
	}while(v);
	return p;
}

static size_t varint_len(uint32_t v)
{
	return v < 128 ? 1 : v < 16384 ? 2 : v < 2097152 ? 3 : 4;
}

static unsigned get16(const uint8_t *p)
{
	return (unsigned)p[0] << 8 | p[1];
}

/* Decodes an MQTT variable byte integer. 1: done, 0: need more, -1: bad. */
static int get_varint(const uint8_t *p, size_t len, uint32_t *v, size_t *used)
{
	uint32_t r = 0;
	size_t i;

	for(i = 0; i < 4; i++){
		if(i >= len){
			return 0;
		}
		r |= (uint32_t)(p[i] & 0x7f) << (7 * i);
		if(!(p[i] & 0x80)){
			*v = r;
			*used = i + 1;
			return 1;
		}
	}
	return -1;
}

/* ---- MessagePack -------------------------------------------------------- */

/* What a sample carries (below, in the publish loop) fits the schema. */
_Static_assert(VG_MIN_HR <= 60 && 150 <= VG_MAX_HR && 60 + 40 <= VG_MAX_HR, "hr values inside the schema's bounds");
_Static_assert(VG_MIN_SPO2 <= 94 && 94 + 5 <= VG_MAX_SPO2, "spo2 values inside the schema's bounds");
_Static_assert(VG_MIN_RR <= 12 && 12 + 8 <= VG_MAX_RR, "rr values inside the schema's bounds");
_Static_assert(VG_MIN_TEMP <= 36.5 && 37.2 <= VG_MAX_TEMP, "temp values inside the schema's bounds");
_Static_assert(7 <= VG_MAX_MAP_ENTRIES, "a sample's 7 keys fit a map");

static uint8_t *mp_key(uint8_t *p, const char *s)
{
	size_t n = strlen(s);         /* our keys are all fixstr (< 32 bytes) */

	*p++ = (uint8_t)(0xa0 | n);
	memcpy(p, s, n);
	return p + n;
}

static uint8_t *mp_uint(uint8_t *p, uint64_t v)
{
	if(v < 128){
		*p++ = (uint8_t)v;
	}else if(v <= 0xff){
		*p++ = 0xcc;
		*p++ = (uint8_t)v;
	}else if(v <= 0xffff){
		*p++ = 0xcd;
		p = put16(p, (unsigned)v);
	}else if(v <= 0xffffffffu){
		*p++ = 0xce;
		p = put32(p, (uint32_t)v);
	}else{
		*p++ = 0xcf;
		p = put64(p, v);
	}
	return p;
}

static uint8_t *mp_f64(uint8_t *p, double d)
{
	uint64_t u;

	memcpy(&u, &d, sizeof(u));
	*p++ = 0xcb;
	return put64(p, u);
}

static bool mp_need(const uint8_t *p, const uint8_t *end, size_t n)
{
	return (size_t)(end - p) >= n;
}

static uint64_t mp_be(const uint8_t *p, size_t n)
{
	uint64_t v = 0;
	size_t i;

	for(i = 0; i < n; i++){
		v = v << 8 | p[i];
	}
	return v;
}

/* Skips one object; false if truncated or too deep. */
static bool mp_skip(const uint8_t **pp, const uint8_t *end, int depth)
{
	const uint8_t *p = *pp;
	uint8_t t;
	uint64_t n = 0, i;
	size_t skip = 0;
	bool container = false, map = false;

	if(depth > 4 || !mp_need(p, end, 1)){
		return false;
	}
	t = *p++;
	if(t <= 0x7f || t >= 0xe0 || t == 0xc0 || t == 0xc2 || t == 0xc3){
		skip = 0;
	}else if(t >= 0xa0 && t <= 0xbf){
		skip = t & 0x1f;
	}else if(t >= 0x90 && t <= 0x9f){
		n = t & 0x0f;
		container = true;
	}else if(t >= 0x80 && t <= 0x8f){
		n = t & 0x0f;
		container = map = true;
	}else{
		size_t lenlen = 0;

		switch(t){
			case 0xcc: case 0xd0: skip = 1; break;
			case 0xcd: case 0xd1: skip = 2; break;
			case 0xce: case 0xd2: case 0xca: skip = 4; break;
			case 0xcf: case 0xd3: case 0xcb: skip = 8; break;
			case 0xd4: skip = 2; break;
			case 0xd5: skip = 3; break;
			case 0xd6: skip = 5; break;
			case 0xd7: skip = 9; break;
			case 0xd8: skip = 17; break;
			case 0xc4: case 0xd9: lenlen = 1; break;
			case 0xc5: case 0xda: lenlen = 2; break;
			case 0xc6: case 0xdb: lenlen = 4; break;
			case 0xc7: lenlen = 1; skip = 1; break;
			case 0xc8: lenlen = 2; skip = 1; break;
			case 0xc9: lenlen = 4; skip = 1; break;
			case 0xdc: lenlen = 2; container = true; break;
			case 0xdd: lenlen = 4; container = true; break;
			case 0xde: lenlen = 2; container = map = true; break;
			case 0xdf: lenlen = 4; container = map = true; break;
			default: return false;
		}
		if(lenlen){
			if(!mp_need(p, end, lenlen)){
				return false;
			}
			n = mp_be(p, lenlen);
			p += lenlen;
			if(!container){
				skip += (size_t)n;
			}
		}
	}
	if(container){
		if(map){
			n *= 2;
		}
		for(i = 0; i < n; i++){
			if(!mp_skip(&p, end, depth + 1)){
				return false;
			}
		}
	}else{
		if(!mp_need(p, end, skip)){
			return false;
		}
		p += skip;
	}
	*pp = p;
	return true;
}

/* The "seq" of a sample map (or of the first map of a batch). */
static bool mp_find_seq(const uint8_t *p, size_t len, uint64_t *seq)
{
	const uint8_t *end = p + len;
	uint64_t n, i;

	if(len == 0){
		return false;
	}
	if((*p >= 0x91 && *p <= 0x9f) || *p == 0xdc || *p == 0xdd){
		p += *p == 0xdc ? 3 : *p == 0xdd ? 5 : 1;
		if(p >= end){
			return false;
		}
	}
	if(*p >= 0x80 && *p <= 0x8f){
		n = *p & 0x0f;
		p++;
	}else if(*p == 0xde && mp_need(p, end, 3)){
		n = mp_be(p + 1, 2);
		p += 3;
	}else if(*p == 0xdf && mp_need(p, end, 5)){
		n = mp_be(p + 1, 4);
		p += 5;
	}else{
		return false;
	}
	for(i = 0; i < n; i++){
		const uint8_t *k = NULL;
		size_t klen = 0;

		if(!mp_need(p, end, 1)){
			return false;
		}
		if(*p >= 0xa0 && *p <= 0xbf){
			klen = *p & 0x1f;
			k = p + 1;
		}else if(*p == 0xd9 && mp_need(p, end, 2)){
			klen = p[1];
			k = p + 2;
		}
		if(!mp_skip(&p, end, 1)){
			return false;
		}
		if(k != NULL && klen == 3 && !memcmp(k, "seq", 3)){
			uint8_t t;

			if(!mp_need(p, end, 1)){
				return false;
			}
			t = *p;
			if(t <= 0x7f){
				*seq = t;
				return true;
			}
			if(t >= 0xcc && t <= 0xcf){
				size_t w = (size_t)1 << (t - 0xcc);

				if(!mp_need(p, end, 1 + w)){
					return false;
				}
				*seq = mp_be(p + 1, w);
				return true;
			}
			return false;
		}
		if(!mp_skip(&p, end, 1)){
			return false;
		}
	}
	return false;
}

/* ---- minimal JSON scanner ---------------------------------------------- */
/* Finds "key" followed by ':' and returns where the value starts. Good enough
 * for the flat-ish objects the plugin publishes; not a validator. */
static const char *json_value(const char *p, size_t len, const char *key)
{
	char pat[40];
	size_t plen;
	const char *end = p + len, *q = p;

	plen = (size_t)snprintf(pat, sizeof(pat), "\"%s\"", key);
	while(q < end){
		const char *hit = memmem(q, (size_t)(end - q), pat, plen);

		if(hit == NULL){
			return NULL;
		}
		q = hit + plen;
		while(q < end && (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r')){
			q++;
		}
		if(q < end && *q == ':'){
			q++;
			while(q < end && (*q == ' ' || *q == '\t' || *q == '\n' || *q == '\r')){
				q++;
			}
			return q < end ? q : NULL;
		}
	}
	return NULL;
}

static bool json_device_seq(const char *p, size_t len, const char **id, size_t *idlen, uint64_t *seq)
{
	const char *end = p + len, *v, *s;
	uint64_t n = 0;

	v = json_value(p, len, "device_id");
	if(v == NULL || *v != '"'){
		return false;
	}
	s = ++v;
	while(v < end && *v != '"' && *v != '\\'){
		v++;
	}
	if(v >= end || *v != '"'){
		return false;
	}
	*id = s;
	*idlen = (size_t)(v - s);
	v = json_value(p, len, "seq");
	if(v == NULL || *v < '0' || *v > '9'){
		return false;
	}
	while(v < end && *v >= '0' && *v <= '9'){
		n = n * 10 + (uint64_t)(*v - '0');
		v++;
	}
	*seq = n;
	return true;
}

/* ---- identities ----------------------------------------------------------- */

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long sz;

	if(f == NULL){
		die("cannot open %s: %s", path, strerror(errno));
	}
	if(fseek(f, 0, SEEK_END) != 0 || (sz = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0){
		die("cannot read %s: %s", path, strerror(errno));
	}
	buf = xcalloc((size_t)sz + 1, 1);
	if(sz > 0 && fread(buf, 1, (size_t)sz, f) != (size_t)sz){
		die("cannot read %s", path);
	}
	fclose(f);
	return buf;
}

/* Parses lines "id secret [filter,filter...]" in place ('#' comments and
 * blank lines skipped). Returns the number of identities. */
static size_t parse_creds(char *text, const char *path, struct ident **out)
{
	size_t cap = 1024, n = 0;
	struct ident *v = xcalloc(cap, sizeof(*v));
	char *save = NULL, *line;

	for(line = strtok_r(text, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)){
		char *fsave = NULL, *id, *secret, *filters;

		id = strtok_r(line, " \t\r", &fsave);
		if(id == NULL || id[0] == '#'){
			continue;
		}
		secret = strtok_r(NULL, " \t\r", &fsave);
		filters = strtok_r(NULL, " \t\r", &fsave);
		if(secret == NULL){
			die("%s: an entry has no secret (expected \"id secret\")", path);
		}
		if(strlen(id) > 64){
			die("%s: id longer than 64 bytes: %s", path, id);
		}
		if(n == cap){
			cap *= 2;
			v = realloc(v, cap * sizeof(*v));
			if(v == NULL){
				die("out of memory");
			}
		}
		v[n].id = id;
		v[n].secret = secret;
		v[n].filters = filters;
		n++;
	}
	*out = v;
	return n;
}

static uint32_t hash_id(const char *s, size_t n)
{
	uint32_t h = 2166136261u;
	size_t i;

	for(i = 0; i < n; i++){
		h = (h ^ (uint8_t)s[i]) * 16777619u;
	}
	return h;
}

static void htab_build(struct vgl *L)
{
	size_t size = 16, i;

	while(size < L->ndev * 2){
		size *= 2;
	}
	L->htab = xcalloc(size, sizeof(*L->htab));
	L->hmask = size - 1;
	for(i = 0; i < L->ndev; i++){
		const char *id = L->dev_ids[i].id;
		size_t h = hash_id(id, strlen(id)) & L->hmask;

		while(L->htab[h] != 0){
			if(!strcmp(L->dev_ids[L->htab[h] - 1].id, id)){
				die("device id %s appears twice", id);
			}
			h = (h + 1) & L->hmask;
		}
		L->htab[h] = (uint32_t)i + 1;
	}
}

static struct conn *device_by_id(struct vgl *L, const char *id, size_t n)
{
	size_t h = hash_id(id, n) & L->hmask;

	while(L->htab[h] != 0){
		const char *cand = L->dev_ids[L->htab[h] - 1].id;

		if(strlen(cand) == n && !memcmp(cand, id, n)){
			return &L->c[L->htab[h] - 1];
		}
		h = (h + 1) & L->hmask;
	}
	return NULL;
}

/* ---- output ----------------------------------------------------------------- */

static void mark_dirty(struct vgl *L, struct conn *c)
{
	if(!c->dirty){
		c->dirty = true;
		L->dirty[L->ndirty++] = c->index;
	}
}

/* Room for n more bytes at the end of c->out; returns where to write. */
static uint8_t *out_reserve(struct vgl *L, struct conn *c, size_t n)
{
	if(c->out_off == c->out_len){
		c->out_off = c->out_len = 0;
	}
	if(c->out_len + n > c->out_cap){
		if(c->out_off > 0){
			memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
			c->out_len -= c->out_off;
			c->out_off = 0;
		}
		if(c->out_len + n > c->out_cap){
			uint32_t cap = c->out_cap ? c->out_cap : 256;

			while(c->out_len + n > cap){
				cap *= 2;
			}
			c->out = realloc(c->out, cap);
			if(c->out == NULL){
				die("out of memory");
			}
			c->out_cap = cap;
		}
	}
	mark_dirty(L, c);
	c->t_last_tx = L->now;
	return c->out + c->out_len;
}

static void out_commit(struct conn *c, const uint8_t *end)
{
	c->out_len = (uint32_t)(end - c->out);
}

static void ep_set(struct vgl *L, struct conn *c, uint32_t events, int op)
{
	struct epoll_event ev = { .events = events, .data.u32 = c->index };

	if(epoll_ctl(L->ep, op, c->fd, &ev) != 0){
		die("epoll_ctl: %s", strerror(errno));
	}
}

static void conn_lost(struct vgl *L, struct conn *c, int err);

/* Writes what c has queued: one send() normally. */
static void conn_flush(struct vgl *L, struct conn *c)
{
	while(c->out_off < c->out_len){
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL | MSG_DONTWAIT);

		if(n > 0){
			c->out_off += (uint32_t)n;
			continue;
		}
		if(n < 0 && errno == EINTR){
			continue;
		}
		if(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)){
			if(!c->want_out){
				c->want_out = true;
				ep_set(L, c, EPOLLIN | EPOLLOUT, EPOLL_CTL_MOD);
			}
			return;
		}
		conn_lost(L, c, n < 0 ? errno : EPIPE);
		return;
	}
	c->out_off = c->out_len = 0;
	if(c->want_out){
		c->want_out = false;
		ep_set(L, c, EPOLLIN, EPOLL_CTL_MOD);
	}
}

static bool conn_open(const struct conn *c)
{
	return c->state == C_CONNACK || c->state == C_SUBACK || c->state == C_READY || c->state == C_CLOSING;
}

static void flush_dirty(struct vgl *L)
{
	size_t i;

	for(i = 0; i < L->ndirty; i++){
		struct conn *c = &L->c[L->dirty[i]];

		c->dirty = false;
		if(conn_open(c) && c->out_len > c->out_off && !c->want_out){
			conn_flush(L, c);
		}
	}
	L->ndirty = 0;
}

/* ---- MQTT packets out ----------------------------------------------------- */

static void send_connect(struct vgl *L, struct conn *c)
{
	const struct ident *id = c->ident;
	bool v5 = L->o.mqtt == 5;
	size_t idlen = strlen(id->id), slen = id->secret ? strlen(id->secret) : 0;
	size_t props = v5 ? (L->o.session_expiry ? 5 : 0) : 0;
	size_t rl = 10 + (v5 ? varint_len((uint32_t)props) + props : 0) + 2 + idlen;
	uint8_t flags = L->o.clean ? 0x02 : 0x00;
	uint8_t *p;

	if(id->secret != NULL){
		rl += 2 + idlen + 2 + slen;
		flags |= 0x80 | 0x40;
	}
	p = out_reserve(L, c, 1 + 4 + rl);
	*p++ = 0x10;
	p = put_varint(p, (uint32_t)rl);
	p = put_str(p, "MQTT", 4);
	*p++ = v5 ? 5 : 4;
	*p++ = flags;
	p = put16(p, (unsigned)L->o.keepalive);
	if(v5){
		p = put_varint(p, (uint32_t)props);
		if(props){
			*p++ = 0x11;                    /* session expiry interval */
			p = put32(p, L->o.session_expiry);
		}
	}
	p = put_str(p, id->id, idlen);
	if(id->secret != NULL){
		p = put_str(p, id->id, idlen);      /* username = client id */
		p = put_str(p, id->secret, slen);
	}
	out_commit(c, p);
}

static void send_subscribe(struct vgl *L, struct conn *c)
{
	const char *filters = c->ident->filters ? c->ident->filters : L->o.station_topic;
	bool v5 = L->o.mqtt == 5;
	size_t rl = 2 + (v5 ? 1 : 0), n;
	const char *f;
	uint8_t *p;

	for(f = filters; *f; f += n + (f[n] == ',')){
		n = strcspn(f, ",");
		if(n){
			rl += 2 + n + 1;
		}
	}
	p = out_reserve(L, c, 1 + 4 + rl);
	*p++ = 0x82;
	p = put_varint(p, (uint32_t)rl);
	p = put16(p, 1);
	if(v5){
		*p++ = 0;
	}
	for(f = filters; *f; f += n + (f[n] == ',')){
		n = strcspn(f, ",");
		if(n){
			p = put_str(p, f, n);
			*p++ = (uint8_t)L->o.station_qos;
		}
	}
	out_commit(c, p);
}

static void send_short(struct vgl *L, struct conn *c, uint8_t hdr, int pid)
{
	uint8_t *p = out_reserve(L, c, 4);

	*p++ = hdr;
	if(pid >= 0){
		*p++ = 2;
		p = put16(p, (unsigned)pid);
	}else{
		*p++ = 0;
	}
	out_commit(c, p);
}

/* One sample from device c. Returns false when skipped (window or backlog). */
static bool device_publish(struct vgl *L, struct conn *c, int64_t wall)
{
	uint8_t payload[64 * 64], *m = payload, *p;
	int k, nb = L->o.batch > 1 ? L->o.batch : 1;
	char topic[80];
	size_t tlen, plen, rl;
	uint64_t seq = L->seq_base + c->samples;
	bool alert = false;
	uint16_t pid = 0;
	uint64_t r = rnd(L);
	int64_t us;

	if(c->out_len - c->out_off > OUT_BACKLOG_MAX){
		L->st.pub_skipped_backlog++;
		return false;
	}
	if(L->o.qos == 1){
		if(c->inflight >= c->recv_max || c->infl[c->next_pid % INFL].pid != 0){
			L->st.pub_skipped_window++;
			return false;
		}
		pid = c->next_pid;
		c->next_pid = pid == 65535 ? 1 : (uint16_t)(pid + 1);
	}
	if(c->alerting && c->samples % (uint64_t)L->o.alert_every == (uint64_t)L->o.alert_every - 1){
		alert = true;
	}
	/* --batch K: an array of K samples with consecutive seqs. */
	if(nb > 1){
		if(nb <= 15){
			*m++ = (uint8_t)(0x90 | nb);           /* fixarray */
		}else{
			*m++ = 0xdc;                           /* array16 */
			*m++ = 0;
			*m++ = (uint8_t)nb;
		}
	}
	for(k = 0; k < nb; k++){
		*m++ = 0x87;                               /* fixmap, 7 entries */
		m = mp_key(m, VG_KEY_V);
		m = mp_uint(m, VG_SCHEMA_VERSION);
		m = mp_key(m, VG_KEY_SEQ);
		m = mp_uint(m, seq + (uint64_t)k);
		m = mp_key(m, VG_KEY_TS);
		m = mp_uint(m, (uint64_t)wall);
		m = mp_key(m, VG_KEY_HR);
		m = mp_uint(m, alert ? 150 : 60 + r % 41);
		m = mp_key(m, VG_KEY_SPO2);
		m = mp_uint(m, 94 + (r >> 8) % 6);
		m = mp_key(m, VG_KEY_RR);
		m = mp_uint(m, 12 + (r >> 16) % 9);
		m = mp_key(m, VG_KEY_TEMP);
		m = mp_f64(m, 36.5 + (double)((r >> 24) % 8) / 10.0);
	}
	plen = (size_t)(m - payload);

	tlen = (size_t)snprintf(topic, sizeof(topic), "vitals/%s", c->ident->id);
	rl = 2 + tlen + (pid ? 2 : 0) + (L->o.mqtt == 5 ? 1 : 0) + plen;
	p = out_reserve(L, c, 1 + 4 + rl);
	*p++ = (uint8_t)(0x30 | (L->o.qos << 1));
	p = put_varint(p, (uint32_t)rl);
	p = put_str(p, topic, tlen);
	if(pid){
		p = put16(p, pid);
	}
	if(L->o.mqtt == 5){
		*p++ = 0;                                  /* no properties */
	}
	memcpy(p, payload, plen);
	out_commit(c, p + plen);

	us = mono_us();
	c->ring[seq % RING] = (struct rec){ seq, us };
	if(alert){
		c->aring[c->alerts % ARING] = (struct rec){ seq, us };
		c->alerts++;
		L->st.alerts_sent++;
	}
	if(pid){
		c->infl[pid % INFL] = (struct infl){ us, seq, pid, (uint8_t)nb };
		c->inflight++;
		L->inflight_total++;
	}
	c->samples += (uint64_t)nb;
	L->st.published++;
	L->st.samples_published += (uint64_t)nb;
	return true;
}

/* ---- connection life cycle ---------------------------------------------- */

static void heap_push(struct vgl *L, int64_t due, uint32_t idx)
{
	size_t i = L->nheap++;

	while(i > 0){
		size_t parent = (i - 1) / 2;

		if(L->heap[parent].due <= due){
			break;
		}
		L->heap[i] = L->heap[parent];
		i = parent;
	}
	L->heap[i].due = due;
	L->heap[i].idx = idx;
}

static uint32_t heap_pop(struct vgl *L)
{
	uint32_t top = L->heap[0].idx;
	size_t i = 0, n = --L->nheap;

	if(n > 0){
		int64_t due = L->heap[n].due;
		uint32_t idx = L->heap[n].idx;

		for(;;){
			size_t l = 2 * i + 1, m = i;

			if(l < n && L->heap[l].due < due){
				m = l;
			}
			if(l + 1 < n && L->heap[l + 1].due < (m == i ? due : L->heap[l].due)){
				m = l + 1;
			}
			if(m == i){
				break;
			}
			L->heap[i] = L->heap[m];
			i = m;
		}
		L->heap[i].due = due;
		L->heap[i].idx = idx;
	}
	return top;
}

static void conn_close_fd(struct conn *c)
{
	if(c->fd >= 0){
		close(c->fd);          /* also leaves the epoll set */
		c->fd = -1;
	}
	c->in_len = 0;
	c->out_off = c->out_len = 0;
	c->want_out = false;
}

/* A device or station reached a final connect outcome. */
static void resolve(struct vgl *L, struct conn *c)
{
	if(c->counted){
		return;
	}
	c->counted = true;
	if(c->station){
		L->sta_pending--;
	}else{
		L->dev_pending--;
		if(c->t_first != 0 && L->dev_connecting > 0){
			L->dev_connecting--;
		}
	}
}

static void drop_inflight(struct vgl *L, struct conn *c)
{
	if(c->infl != NULL){
		memset(c->infl, 0, INFL * sizeof(*c->infl));
	}
	L->inflight_total -= c->inflight;
	c->inflight = 0;
}

/* A TCP attempt (or the MQTT handshake on it) failed: retry later, or give
 * up at the connect deadline. err: errno, 0 for EOF. */
static void attempt_failed(struct vgl *L, struct conn *c, int err)
{
	int64_t due;
	uint32_t jitter;

	conn_close_fd(c);
	c->retries++;
	L->st.tcp_retries++;
	L->st.retry_errno[err > 0 && err < 256 ? err : 0]++;
	c->backoff_ms = c->backoff_ms ? c->backoff_ms * 2 : BACKOFF_MIN_MS;
	if(c->backoff_ms > BACKOFF_MAX_MS){
		c->backoff_ms = BACKOFF_MAX_MS;
	}
	jitter = (uint32_t)(rnd(L) % (c->backoff_ms / 2 + 1));
	due = L->now + (int64_t)(c->backoff_ms / 2 + jitter) * 1000;  /* [b/2, b] */
	if(c->t_lost){
		/* --reconnect: retrying after a loss, until the traffic ends. */
		if(due >= L->t_traffic_end){
			c->state = C_LOST;
			return;
		}
		c->state = C_BACKOFF;
		heap_push(L, due, c->index);
		return;
	}
	if(due >= L->t_connect_deadline){
		c->state = C_FAILED;
		if(!c->station){
			L->st.connect_failed++;
		}
		resolve(L, c);
		return;
	}
	c->state = C_BACKOFF;
	heap_push(L, due, c->index);
}

static void conn_lost(struct vgl *L, struct conn *c, int err)
{
	switch(c->state){
		case C_TCP:
		case C_CONNACK:
			attempt_failed(L, c, err);
			return;
		case C_CLOSING:
			conn_close_fd(c);
			c->state = C_DONE;
			if(L->phase == P_CLOSING && L->nclosing > 0){
				L->nclosing--;
			}
			return;
		case C_SUBACK:
		case C_READY:
			conn_close_fd(c);
			drop_inflight(L, c);
			c->state = C_LOST;
			L->st.disconnects++;
			if(L->o.reconnect && !c->station && L->phase == P_TRAFFIC){
				/* Like firmware: back in 50 ms doubling to 2 s (jittered). */
				if(L->t_first_loss == 0){
					L->t_first_loss = L->now;
				}
				c->t_lost = L->now;
				c->backoff_ms = 0;
				c->state = C_TCP;
				attempt_failed(L, c, err);
				L->st.tcp_retries--;   /* not a connect-phase retry */
				if(L->st.disconnects <= 5){
					note(L, "device %s: connection lost (%s), reconnecting", c->ident->id, err ? strerror(err) : "EOF");
				}
				return;
			}
			resolve(L, c);   /* a station lost before its SUBACK */
			if(L->st.disconnects <= 5){
				note(L, "%s %s: connection lost (%s)", c->station ? "station" : "device",
						c->ident->id, err ? strerror(err) : "EOF");
			}
			return;
		default:
			conn_close_fd(c);
			return;
	}
}

static void source_addr(uint32_t i, struct sockaddr_in *sa)
{
	/* 127.(1 + i/62500 % 254).(i/250 % 250).(i%250 + 1): every client its
	 * own source address, never 127.0.0.x (see README.md). */
	uint32_t b = 1 + (i / SPREAD_BLOCK) % 254, c = (i / 250) % 250, d = i % 250 + 1;

	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_addr.s_addr = htonl(127u << 24 | b << 16 | c << 8 | d);
	sa->sin_port = 0;
}

static void conn_established(struct vgl *L, struct conn *c)
{
	c->state = C_CONNACK;
	ep_set(L, c, EPOLLIN, EPOLL_CTL_MOD);
	send_connect(L, c);
	conn_flush(L, c);
}

static void conn_start(struct vgl *L, struct conn *c)
{
	int fd, one = 1, rc;

	if(c->t_first == 0){
		c->t_first = L->now;
	}
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if(fd < 0){
		if(errno == EMFILE || errno == ENFILE){
			die("socket: %s (raise the open-file limit or lower --clients)", strerror(errno));
		}
		c->fd = -1;
		c->state = C_TCP;
		attempt_failed(L, c, errno);
		return;
	}
	c->fd = fd;
	c->state = C_TCP;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if(L->o.syn_retries > 0){
		(void)setsockopt(fd, IPPROTO_TCP, TCP_SYNCNT, &L->o.syn_retries, sizeof(L->o.syn_retries));
	}
	if(L->o.spread){
		struct sockaddr_in src;

		/* Let connect() pick the port against the full 4-tuple. */
		(void)setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
		source_addr(c->index, &src);
		if(bind(fd, (struct sockaddr *)&src, sizeof(src)) != 0){
			attempt_failed(L, c, errno);
			return;
		}
	}
	rc = connect(fd, (struct sockaddr *)&L->broker, sizeof(L->broker));
	if(rc == 0){
		ep_set(L, c, EPOLLIN, EPOLL_CTL_ADD);
		conn_established(L, c);
		return;
	}
	if(errno != EINPROGRESS){
		attempt_failed(L, c, errno);
		return;
	}
	ep_set(L, c, EPOLLOUT, EPOLL_CTL_ADD);
}

/* ---- MQTT packets in ------------------------------------------------------ */

/* Walks v5 properties; returns false on malformed input. Records the ones a
 * client must honour from a CONNACK. */
static bool parse_props(struct conn *c, const uint8_t *p, size_t len, bool connack)
{
	const uint8_t *end = p + len;

	while(p < end){
		uint8_t id = *p++;
		size_t n;

		switch(id){
			case 0x01: case 0x17: case 0x19: case 0x24: case 0x25: case 0x28: case 0x29: case 0x2a:
				n = 1;
				break;
			case 0x13: case 0x21: case 0x22: case 0x23:
				n = 2;
				break;
			case 0x02: case 0x11: case 0x18: case 0x27:
				n = 4;
				break;
			case 0x0b: {
				uint32_t v;
				if(get_varint(p, (size_t)(end - p), &v, &n) != 1){
					return false;
				}
				break;
			}
			case 0x03: case 0x08: case 0x09: case 0x12: case 0x15: case 0x16: case 0x1a: case 0x1c: case 0x1f:
				if(end - p < 2){
					return false;
				}
				n = 2 + get16(p);
				break;
			case 0x26:
				if(end - p < 2 || (size_t)(end - p) < 4 + get16(p)){
					return false;
				}
				n = 2 + get16(p);
				n += 2 + get16(p + n);
				break;
			default:
				return false;
		}
		if((size_t)(end - p) < n){
			return false;
		}
		if(connack && id == 0x21){
			unsigned rm = get16(p);
			c->recv_max = (uint16_t)(rm < INFL ? rm : INFL);
		}else if(connack && id == 0x13){
			c->keepalive_s = get16(p);
		}
		p += n;
	}
	return true;
}

static void protocol_error(struct vgl *L, struct conn *c, const char *what)
{
	L->st.protocol_errors++;
	if(L->st.protocol_errors <= 5){
		note(L, "%s: protocol error: %s", c->ident->id, what);
	}
	conn_lost(L, c, EPROTO);
}

static void on_connack(struct vgl *L, struct conn *c, const uint8_t *p, size_t rl)
{
	uint8_t rc;

	if(c->state != C_CONNACK || rl < 2){
		protocol_error(L, c, "unexpected CONNACK");
		return;
	}
	rc = p[1];
	if(L->o.mqtt == 5 && rl > 2){
		uint32_t plen;
		size_t used;

		if(get_varint(p + 2, rl - 2, &plen, &used) != 1 || plen > rl - 2 - used
				|| !parse_props(c, p + 2 + used, plen, true)){
			protocol_error(L, c, "bad CONNACK properties");
			return;
		}
	}
	if(rc != 0 && c->t_lost){
		/* Reconnecting (a cell taking its devices back may refuse them
		 * for a moment): retried like a lost connection. */
		L->st.reconnect_refused++;
		attempt_failed(L, c, 0);
		return;
	}
	if(rc != 0){
		conn_close_fd(c);
		c->state = C_REFUSED;
		if(!c->station){
			L->st.connack_refused++;
			L->st.connack_codes[rc]++;
		}else{
			note(L, "station %s: CONNACK refused, reason %u", c->ident->id, rc);
		}
		resolve(L, c);
		return;
	}
	c->backoff_ms = 0;
	if(c->station){
		c->state = C_SUBACK;
		send_subscribe(L, c);
		return;
	}
	c->state = C_READY;
	if(c->t_lost){
		L->st.reconnects++;
		return;
	}
	L->st.connack_ok++;
	L->st.t_last_connack = L->now;
	hist_add(&L->st.connect, L->now - c->t_first);
	resolve(L, c);
}

static void on_suback(struct vgl *L, struct conn *c, const uint8_t *p, size_t rl)
{
	size_t off = 2, i, granted = 0;

	if(c->state != C_SUBACK || rl < 3){
		protocol_error(L, c, "unexpected SUBACK");
		return;
	}
	if(L->o.mqtt == 5){
		uint32_t plen;
		size_t used;

		if(get_varint(p + 2, rl - 2, &plen, &used) != 1 || plen > rl - 2 - used){
			protocol_error(L, c, "bad SUBACK");
			return;
		}
		off += used + plen;
	}
	for(i = off; i < rl; i++){
		if(p[i] >= 0x80){
			L->st.suback_refused++;
			note(L, "station %s: subscription %zu refused, reason 0x%02x", c->ident->id, i - off + 1, p[i]);
		}else{
			granted++;
		}
	}
	c->state = C_READY;
	if(granted){
		L->st.stations_ok++;
	}
	resolve(L, c);
}

static void on_puback(struct vgl *L, struct conn *c, const uint8_t *p, size_t rl)
{
	unsigned pid;
	uint8_t reason = 0;
	struct infl *f;

	if(rl < 2 || c->infl == NULL){
		L->st.puback_unknown++;
		return;
	}
	pid = get16(p);
	if(L->o.mqtt == 5 && rl >= 3){
		reason = p[2];
	}
	f = &c->infl[pid % INFL];
	if(f->pid != pid || pid == 0){
		L->st.puback_unknown++;
		return;
	}
	hist_add(&L->st.puback, L->now - f->us);
	f->pid = 0;
	c->inflight--;
	L->inflight_total--;
	if(reason >= 0x80){
		L->st.puback_refused++;
		L->st.puback_codes[reason]++;
	}else{
		L->st.puback_ok++;
		if(L->acked){
			int64_t wall = wall_ms();
			uint8_t k;
			for(k = 0; k < f->nb; k++){
				fprintf(L->acked, "%s %" PRIu64 " %" PRId64 "\n", c->ident->id, f->seq + k, wall);
			}
		}
		if(c->t_lost){
			hist_add(&L->st.recover, L->now - c->t_lost);
			hist_add(&L->st.recover_since_first, L->now - L->t_first_loss);
			L->st.recovered++;
			c->t_lost = 0;
		}
	}
}

/* When a device sent sample seq (0: no longer known). */
static int64_t sent_at(const struct conn *d, uint64_t seq)
{
	const struct rec *r = &d->ring[seq % RING];
	int i;

	if(r->us != 0 && r->seq == seq){
		return r->us;
	}
	for(i = 0; d->aring != NULL && i < ARING; i++){
		if(d->aring[i].us != 0 && d->aring[i].seq == seq){
			return d->aring[i].us;
		}
	}
	return 0;
}

/* wards/<ward>/vitals: the plugin's ward frame. */
static bool is_frame_topic(const uint8_t *t, size_t n)
{
	return n > 13 && !memcmp(t, "wards/", 6) && !memcmp(t + n - 7, "/vitals", 7) && memchr(t + 6, '/', n - 13) == NULL;
}

/* A ward frame: every bed's "device_id" and "seq". A sample the station
 * sees in a frame for the first time counts once, from its send: the
 * latency of the stations feed (a sample replaced before the next frame
 * never shows, and a bed that did not change shows the same sample again). */
static void on_frame(struct vgl *L, struct conn *st, const uint8_t *pl, size_t plen)
{
	static const char key[] = "\"device_id\":\"";
	const char *p = (const char *)pl, *end = p + plen;

	L->st.frames++;
	L->st.frame_bytes += plen;
	if(st->fseen == NULL){
		st->fseen = xcalloc(L->ndev ? L->ndev : 1, sizeof(*st->fseen));
	}
	for(;;){
		const char *hit = memmem(p, (size_t)(end - p), key, sizeof(key) - 1), *id, *v;
		struct conn *d;
		uint64_t seq = 0;
		size_t idx;
		int64_t sent;

		if(hit == NULL){
			return;
		}
		id = hit + sizeof(key) - 1;
		for(p = id; p < end && *p != '"'; p++){
		}
		v = p < end ? memmem(p, (size_t)(end - p), "\"seq\":", 6) : NULL;
		if(v == NULL){
			return;
		}
		d = device_by_id(L, id, (size_t)(p - id));
		for(v += 6; v < end && *v >= '0' && *v <= '9'; v++){
			seq = seq * 10 + (uint64_t)(*v - '0');
		}
		p = v;
		if(d == NULL){
			continue;
		}
		idx = (size_t)(d - L->c);
		if(st->fseen[idx] > seq){
			continue;                 /* shown in an earlier frame already */
		}
		st->fseen[idx] = seq + 1;
		sent = sent_at(d, seq);
		if(sent == 0){
			L->st.frame_unmatched++;
			continue;
		}
		L->st.frame_samples++;
		hist_add(&L->st.frame, L->now - sent);
	}
}

/* Latency of one station delivery, from the device's send time. */
static void on_delivery(struct vgl *L, struct conn *st, const uint8_t *topic, size_t tlen, const uint8_t *pl, size_t plen,
		bool retained)
{
	struct conn *d = NULL;
	uint64_t seq = 0;
	bool found = false, alert;
	int64_t sent = 0;

	if(retained){
		L->st.retained++;    /* kept by the broker from before this subscription */
		return;
	}
	L->t_last_delivery = L->now;
	if(is_frame_topic(topic, tlen)){
		on_frame(L, st, pl, plen);
		return;
	}
	L->st.deliveries++;
	alert = tlen >= 7 && !memcmp(topic + tlen - 7, "/alerts", 7);
	if(alert){
		L->st.alert_deliveries++;
	}
	if(tlen > 7 && !memcmp(topic, "vitals/", 7)){
		d = device_by_id(L, (const char *)topic + 7, tlen - 7);
		found = d != NULL && mp_find_seq(pl, plen, &seq);
	}else{
		const char *id;
		size_t idlen;

		if(json_device_seq((const char *)pl, plen, &id, &idlen, &seq)){
			d = device_by_id(L, id, idlen);
			found = d != NULL;
		}
	}
	if(found){
		sent = sent_at(d, seq);
	}
	if(sent == 0){
		L->st.unmatched++;
		return;
	}
	hist_add(alert ? &L->st.alert : &L->st.d2s, L->now - sent);
}

static void on_publish(struct vgl *L, struct conn *c, uint8_t hdr, const uint8_t *p, size_t rl)
{
	int qos = (hdr >> 1) & 3;
	size_t tlen, off;
	int pid = -1;

	if(rl < 2 || qos == 3){
		protocol_error(L, c, "bad PUBLISH");
		return;
	}
	tlen = get16(p);
	if(tlen + 2 > rl){
		protocol_error(L, c, "bad PUBLISH");
		return;
	}
	off = 2 + tlen;
	if(qos > 0){
		if(off + 2 > rl){
			protocol_error(L, c, "bad PUBLISH");
			return;
		}
		pid = (int)get16(p + off);
		off += 2;
	}
	if(L->o.mqtt == 5){
		uint32_t plen;
		size_t used;

		if(get_varint(p + off, rl - off, &plen, &used) != 1 || plen > rl - off - used){
			protocol_error(L, c, "bad PUBLISH properties");
			return;
		}
		off += used + plen;
	}
	if(c->station){
		on_delivery(L, c, p + 2, tlen, p + off, rl - off, hdr & 1);
	}else{
		L->st.device_deliveries++;
	}
	if(qos == 1){
		send_short(L, c, 0x40, pid);          /* PUBACK */
	}else if(qos == 2){
		send_short(L, c, 0x50, pid);          /* PUBREC; PUBCOMP on PUBREL */
	}
}

/* Handles one packet; false when the connection was closed. */
static bool on_packet(struct vgl *L, struct conn *c, uint8_t hdr, const uint8_t *p, size_t rl)
{
	switch(hdr >> 4){
		case 2:
			on_connack(L, c, p, rl);
			break;
		case 3:
			on_publish(L, c, hdr, p, rl);
			break;
		case 4:
			on_puback(L, c, p, rl);
			break;
		case 6:                                    /* PUBREL */
			if(rl >= 2){
				send_short(L, c, 0x70, (int)get16(p));
			}
			break;
		case 9:
			on_suback(L, c, p, rl);
			break;
		case 13:                                   /* PINGRESP */
			break;
		case 14:                                   /* DISCONNECT from a v5 server */
			L->st.server_disconnect_codes[rl >= 1 ? p[0] : 0]++;
			conn_lost(L, c, ECONNRESET);
			break;
		default:
			protocol_error(L, c, "unexpected packet type");
			break;
	}
	return c->fd >= 0;
}

/* Parses whole packets from buf; returns bytes used, or -1 if c closed. */
static long parse_packets(struct vgl *L, struct conn *c, const uint8_t *buf, size_t len)
{
	size_t off = 0;

	while(len - off >= 2){
		uint32_t rl;
		size_t used;
		int r = get_varint(buf + off + 1, len - off - 1, &rl, &used);

		if(r == 0){
			break;
		}
		if(r < 0 || rl > MAX_PACKET){
			protocol_error(L, c, "bad remaining length");
			return -1;
		}
		if(len - off - 1 - used < rl){
			break;
		}
		if(!on_packet(L, c, buf[off], buf + off + 1 + used, rl)){
			return -1;
		}
		off += 1 + used + rl;
	}
	return (long)off;
}

static bool in_append(struct conn *c, const uint8_t *data, size_t n)
{
	if(c->in_len + n > MAX_PACKET + 8){
		return false;
	}
	if(c->in_len + n > c->in_cap){
		uint32_t cap = c->in_cap ? c->in_cap : 256;

		while(c->in_len + n > cap){
			cap *= 2;
		}
		c->in = realloc(c->in, cap);
		if(c->in == NULL){
			die("out of memory");
		}
		c->in_cap = cap;
	}
	memcpy(c->in + c->in_len, data, n);
	c->in_len += (uint32_t)n;
	return true;
}

static void conn_input(struct vgl *L, struct conn *c, const uint8_t *data, size_t n)
{
	long used;

	if(c->state == C_CLOSING){
		return;                                    /* discard */
	}
	if(c->in_len == 0){
		used = parse_packets(L, c, data, n);
		if(used >= 0 && (size_t)used < n && !in_append(c, data + used, n - (size_t)used)){
			protocol_error(L, c, "packet too large");
		}
		return;
	}
	if(!in_append(c, data, n)){
		protocol_error(L, c, "packet too large");
		return;
	}
	used = parse_packets(L, c, c->in, c->in_len);
	if(used > 0){
		memmove(c->in, c->in + used, c->in_len - (size_t)used);
		c->in_len -= (uint32_t)used;
	}
}

static void on_event(struct vgl *L, struct conn *c, uint32_t ev)
{
	if(c->fd < 0){
		return;
	}
	if(c->state == C_TCP){
		int err = 0;
		socklen_t elen = sizeof(err);

		if(getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &elen) != 0){
			err = errno;
		}
		if(err != 0){
			attempt_failed(L, c, err);
		}else if(ev & (EPOLLOUT | EPOLLIN)){
			conn_established(L, c);
		}else if(ev & (EPOLLERR | EPOLLHUP)){
			attempt_failed(L, c, ECONNRESET);
		}
		return;
	}
	if(ev & (EPOLLIN | EPOLLERR | EPOLLHUP)){
		for(;;){
			ssize_t n = recv(c->fd, L->rbuf, RBUF_SIZE, 0);

			if(n > 0){
				L->now = mono_us();
				conn_input(L, c, L->rbuf, (size_t)n);
				if(c->fd < 0 || n < RBUF_SIZE){
					break;
				}
				continue;
			}
			if(n < 0 && errno == EINTR){
				continue;
			}
			if(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)){
				break;
			}
			conn_lost(L, c, n == 0 ? 0 : errno);
			return;
		}
	}
	if(c->fd >= 0 && (ev & EPOLLOUT)){
		conn_flush(L, c);
	}
}

/* ---- phases ------------------------------------------------------------- */

static void set_phase(struct vgl *L, enum phase p)
{
	L->phase = p;
	note(L, "phase %s at %.3f s", phase_name[p], (double)(L->now - L->t0) / 1e6);
}

static void start_closing(struct vgl *L)
{
	size_t i;

	for(i = 0; i < L->nconn; i++){
		struct conn *c = &L->c[i];

		if(c->state == C_READY || c->state == C_SUBACK || c->state == C_CONNACK){
			send_short(L, c, 0xe0, -1);            /* DISCONNECT */
			c->state = C_CLOSING;
		}else if(c->state == C_TCP || c->state == C_BACKOFF || c->state == C_IDLE){
			conn_close_fd(c);
			c->state = c->state == C_IDLE ? C_IDLE : C_FAILED;
		}
	}
	flush_dirty(L);
	L->nclosing = 0;
	for(i = 0; i < L->nconn; i++){
		struct conn *c = &L->c[i];

		if(c->state == C_CLOSING && c->fd >= 0){
			L->nclosing++;
			if(c->out_off == c->out_len){
				(void)shutdown(c->fd, SHUT_WR);   /* the broker answers with EOF */
			}
		}
	}
	L->t_close = L->now;
	set_phase(L, P_CLOSING);
}

static void start_traffic(struct vgl *L)
{
	size_t i;

	L->nactive = 0;
	for(i = 0; i < L->ndev; i++){
		if(L->c[i].state == C_READY){
			L->active[L->nactive++] = (uint32_t)i;
		}
	}
	if(L->o.duration <= 0 || L->nactive == 0){
		if(L->o.duration > 0){
			note(L, "no device connected: no traffic");
		}
		start_closing(L);
		return;
	}
	L->pub_interval_us = 1e6 / (L->o.rate * (double)L->nactive);
	L->pub_k = 0;
	L->t_traffic = L->now;
	L->t_traffic_end = L->now + (int64_t)(L->o.duration * 1e6);
	set_phase(L, P_TRAFFIC);
}

static void end_connect_phase(struct vgl *L)
{
	size_t i;

	/* Give up on every device still trying. */
	for(i = 0; i < L->ndev; i++){
		struct conn *c = &L->c[i];

		if(c->state == C_IDLE || c->state == C_BACKOFF || c->state == C_TCP || c->state == C_CONNACK){
			conn_close_fd(c);
			c->state = C_FAILED;
			L->st.connect_failed++;
			resolve(L, c);
		}
	}
	note(L, "connected %" PRIu64 "/%zu devices, last CONNACK at %.1f ms, %" PRIu64 " refused, %" PRIu64
			" failed, %" PRIu64 " TCP retries", L->st.connack_ok, L->ndev,
			L->st.connack_ok ? (double)(L->st.t_last_connack - L->t_start) / 1e3 : 0.0,
			L->st.connack_refused, L->st.connect_failed, L->st.tcp_retries);
	start_traffic(L);
}

static void start_devices(struct vgl *L)
{
	size_t i;

	for(i = 0; i < L->nsta; i++){
		struct conn *c = &L->c[L->ndev + i];

		if(c->state != C_READY && c->state != C_REFUSED && c->state != C_LOST){
			conn_close_fd(c);
			c->state = C_FAILED;
			resolve(L, c);
		}
	}
	if(L->nsta){
		note(L, "%" PRIu64 "/%zu stations subscribed", L->st.stations_ok, L->nsta);
	}
	L->t_start = L->now;
	L->next_start = 0;
	set_phase(L, P_CONNECT);
}

/* Starts the clients whose connect time has come (pacing cursor). */
static void pace_starts(struct vgl *L)
{
	size_t budget = MAX_STARTS_PER_PASS;

	while(L->next_start < L->ndev && budget-- > 0){
		struct conn *c = &L->c[L->next_start];

		if(L->o.connect_inflight > 0 && L->dev_connecting >= (size_t)L->o.connect_inflight){
			break;                              /* a CONNACK frees a slot */
		}
		if(L->o.connect_rate > 0){
			int64_t due = L->t_start + (int64_t)((double)L->next_start * 1e6 / L->o.connect_rate);

			if(due > L->now){
				break;
			}
			c->t_first = due;                   /* connect time counts from the schedule */
		}else{
			c->t_first = L->o.connect_inflight > 0 ? L->now : L->t_start;
		}
		L->next_start++;
		L->dev_connecting++;
		conn_start(L, c);
	}
}

static void run_retries(struct vgl *L)
{
	size_t budget = MAX_STARTS_PER_PASS;

	while(L->nheap > 0 && L->heap[0].due <= L->now && budget-- > 0){
		struct conn *c = &L->c[heap_pop(L)];

		if(c->state == C_BACKOFF){
			conn_start(L, c);
		}
	}
}

static void run_publishes(struct vgl *L)
{
	size_t budget = MAX_PUBS_PER_PASS;
	int64_t wall = wall_ms();

	while(budget-- > 0){
		int64_t due = L->t_traffic + (int64_t)((double)L->pub_k * L->pub_interval_us);
		struct conn *c;

		if(due > L->now || due >= L->t_traffic_end){
			break;
		}
		if(L->now - due > L->st.pub_lag_max_us){
			L->st.pub_lag_max_us = L->now - due;
		}
		c = &L->c[L->active[L->pub_k % L->nactive]];
		L->pub_k++;
		if(c->state == C_READY){
			device_publish(L, c, wall);
		}
	}
}

static void keepalive_scan(struct vgl *L)
{
	size_t i;

	for(i = 0; i < L->nconn; i++){
		struct conn *c = &L->c[i];

		if((c->state == C_READY || c->state == C_SUBACK) && c->keepalive_s > 0
				&& L->now - c->t_last_tx >= (int64_t)c->keepalive_s * 1000000){
			send_short(L, c, 0xc0, -1);            /* PINGREQ */
			L->st.pings++;
		}
	}
}

static void progress(struct vgl *L)
{
	double t = (double)(L->now - L->t0) / 1e6;

	switch(L->phase){
		case P_STATIONS:
			note(L, "t=%.1fs stations: %zu pending, %" PRIu64 " subscribed", t, L->sta_pending, L->st.stations_ok);
			break;
		case P_CONNECT:
			note(L, "t=%.1fs connect: %" PRIu64 "/%zu CONNACK ok, %" PRIu64 " refused, %" PRIu64 " TCP retries",
					t, L->st.connack_ok, L->ndev, L->st.connack_refused, L->st.tcp_retries);
			break;
		case P_TRAFFIC:
		case P_DRAIN:
			note(L, "t=%.1fs %s: %" PRIu64 " published (+%" PRIu64 "/s), %" PRIu64 " acked (+%" PRIu64
					"/s), %" PRIu64 " in flight, %" PRIu64 " deliveries, %" PRIu64 " lost connections",
					t, phase_name[L->phase], L->st.published, L->st.published - L->last_published,
					L->st.puback_ok + L->st.puback_refused,
					L->st.puback_ok + L->st.puback_refused - L->last_puback, L->inflight_total,
					L->st.deliveries, L->st.disconnects);
			break;
		default:
			break;
	}
	L->last_published = L->st.published;
	L->last_puback = L->st.puback_ok + L->st.puback_refused;
}

/* Phase transitions; called once per loop pass. */
static void advance(struct vgl *L)
{
	if(L->now >= L->t_hard_deadline){
		if(L->phase != P_END){
			note(L, "hard deadline reached in phase %s: stopping", phase_name[L->phase]);
			L->aborted = true;
			L->phase = P_END;
		}
		return;
	}
	if(g_stop && L->phase < P_CLOSING){
		note(L, "interrupted");
		L->aborted = true;
		g_stop = 0;
		start_closing(L);
		return;
	}
	switch(L->phase){
		case P_STATIONS:
			if(L->sta_pending == 0 || L->now >= L->t_connect_deadline){
				start_devices(L);
			}
			break;
		case P_CONNECT:
			/* --traffic-at: several load generators start their traffic
			 * together, once every one of them has connected. */
			if((L->dev_pending == 0 && (L->o.traffic_at_ms == 0 || wall_ms() >= L->o.traffic_at_ms))
					|| L->now >= L->t_connect_deadline){
				end_connect_phase(L);
			}
			break;
		case P_TRAFFIC:
			if(L->now >= L->t_traffic_end
					&& L->t_traffic + (int64_t)((double)L->pub_k * L->pub_interval_us) >= L->t_traffic_end){
				L->t_drain = L->now;
				set_phase(L, P_DRAIN);
			}
			break;
		case P_DRAIN:
			if(L->now - L->t_drain >= DRAIN_US
					|| (L->inflight_total == 0
						&& (L->nsta == 0 || L->now - L->t_last_delivery >= DRAIN_QUIET_US)
						&& L->now - L->t_drain >= DRAIN_QUIET_US / 3)){
				start_closing(L);
			}
			break;
		case P_CLOSING:
			if(L->now - L->t_close >= CLOSE_US || L->nclosing == 0){
				L->phase = P_END;
			}
			break;
		case P_END:
			break;
	}
}

/* Milliseconds epoll_wait may sleep. */
static int next_timeout(const struct vgl *L)
{
	int64_t next = L->t_next_second;

	if(L->phase == P_CONNECT && L->next_start < L->ndev){
		int64_t due;

		if(L->o.connect_rate <= 0){
			/* All at once: start more now, unless the in-flight limit
			 * holds them until a CONNACK (an event) frees a slot. */
			if(L->o.connect_inflight > 0 && L->dev_connecting >= (size_t)L->o.connect_inflight){
				goto rest;
			}
			return 0;
		}
		due = L->t_start + (int64_t)((double)L->next_start * 1e6 / L->o.connect_rate);
		if(due < next){
			next = due;
		}
	}
rest:
	if(L->nheap > 0 && L->heap[0].due < next){
		next = L->heap[0].due;
	}
	if(L->phase <= P_CONNECT && L->t_connect_deadline < next){
		next = L->t_connect_deadline;
	}
	if(L->phase == P_TRAFFIC){
		int64_t due = L->t_traffic + (int64_t)((double)L->pub_k * L->pub_interval_us);

		if(due < next){
			next = due;
		}
		if(L->t_traffic_end < next){
			next = L->t_traffic_end;
		}
	}
	if(L->phase == P_DRAIN || L->phase == P_CLOSING || L->phase == P_STATIONS){
		int64_t soon = L->now + 20000;          /* re-check the phase often */
		if(soon < next){
			next = soon;
		}
	}
	if(L->t_hard_deadline < next){
		next = L->t_hard_deadline;
	}
	if(next <= L->now){
		return 0;
	}
	return (int)((next - L->now + 999) / 1000);
}

static void event_loop(struct vgl *L)
{
	struct epoll_event evs[1024];

	while(L->phase != P_END){
		int n, i, timeout;

		L->now = mono_us();
		if(L->phase == P_TRAFFIC){
			run_publishes(L);      /* before advance(): the last due ones too */
		}
		advance(L);
		if(L->phase == P_END){
			break;
		}
		if(L->phase == P_CONNECT){
			pace_starts(L);
		}
		if(L->phase <= P_CONNECT || (L->o.reconnect && L->phase == P_TRAFFIC)){
			run_retries(L);
		}
		if(L->now >= L->t_next_second){
			keepalive_scan(L);
			progress(L);
			L->t_next_second = L->now + 1000000;
		}
		flush_dirty(L);
		timeout = next_timeout(L);
		n = epoll_wait(L->ep, evs, (int)(sizeof(evs) / sizeof(evs[0])), timeout);
		if(n < 0){
			if(errno == EINTR){
				continue;
			}
			die("epoll_wait: %s", strerror(errno));
		}
		L->now = mono_us();
		for(i = 0; i < n; i++){
			on_event(L, &L->c[evs[i].data.u32], evs[i].events);
			/* A full batch is milliseconds of recv(): keep the publish
			 * stream even by serving what is due in between. */
			if(L->phase == P_TRAFFIC && (i & 63) == 63){
				L->now = mono_us();
				run_publishes(L);
				flush_dirty(L);
			}
		}
		flush_dirty(L);
	}
}

/* ---- report --------------------------------------------------------------- */

static void json_codes(FILE *f, const char *key, const uint64_t *codes)
{
	int i;
	bool first = true;

	fprintf(f, ",\"%s\":{", key);
	for(i = 0; i < 256; i++){
		if(codes[i]){
			fprintf(f, "%s\"%d\":%" PRIu64, first ? "" : ",", i, codes[i]);
			first = false;
		}
	}
	fputc('}', f);
}

static void json_errnos(FILE *f, const char *key, const uint64_t *codes)
{
	int i;
	bool first = true;

	fprintf(f, ",\"%s\":{", key);
	for(i = 0; i < 256; i++){
		if(codes[i]){
			const char *name = i == 0 ? "EOF" : strerrorname_np(i);

			fprintf(f, "%s\"%s\":%" PRIu64, first ? "" : ",", name ? name : "?", codes[i]);
			first = false;
		}
	}
	fputc('}', f);
}

/* "<prefix>_p50<unit>":v,... ; null when there is no sample. */
static void json_hist(FILE *f, const char *prefix, const struct hist *h, bool ms, bool p999)
{
	static const struct { const char *name; double q; } qs[] = {
		{ "p50", 0.50 }, { "p99", 0.99 }, { "p999", 0.999 },
	};
	const char *unit = ms ? "ms" : "us";
	size_t i;

	for(i = 0; i < sizeof(qs) / sizeof(qs[0]); i++){
		if(i == 2 && !p999){
			continue;
		}
		if(h->n == 0){
			fprintf(f, ",\"%s_%s_%s\":null", prefix, qs[i].name, unit);
		}else if(ms){
			fprintf(f, ",\"%s_%s_%s\":%.1f", prefix, qs[i].name, unit, (double)hist_q(h, qs[i].q) / 1e3);
		}else{
			fprintf(f, ",\"%s_%s_%s\":%" PRIu64, prefix, qs[i].name, unit, hist_q(h, qs[i].q));
		}
	}
	if(h->n == 0){
		fprintf(f, ",\"%s_max_%s\":null", prefix, unit);
	}else if(ms){
		fprintf(f, ",\"%s_max_%s\":%.1f", prefix, unit, (double)h->max / 1e3);
	}else{
		fprintf(f, ",\"%s_max_%s\":%" PRIu64, prefix, unit, h->max);
	}
}

static void report(struct vgl *L)
{
	const struct stats *s = &L->st;
	int64_t traffic_us = L->t_traffic ? (L->t_traffic_end < L->now ? L->t_traffic_end : L->now) - L->t_traffic : 0;
	double pub_rate = traffic_us > 0 ? (double)s->published * 1e6 / (double)traffic_us : 0.0;
	uint64_t missing = L->inflight_total;
	FILE *f = stdout;

	fprintf(stderr, "vgload: --- results (MQTT %s, QoS %d) ---\n", L->o.mqtt == 5 ? "5" : "3.1.1", L->o.qos);
	fprintf(stderr, "vgload: connect: %" PRIu64 "/%zu CONNACK ok in %.1f ms (last), %" PRIu64 " refused, %" PRIu64
			" failed, %" PRIu64 " TCP retries; per client p50 %.1f ms, p99 %.1f ms, max %.1f ms\n",
			s->connack_ok, L->ndev, s->connack_ok ? (double)(s->t_last_connack - L->t_start) / 1e3 : 0.0,
			s->connack_refused, s->connect_failed, s->tcp_retries,
			(double)hist_q(&s->connect, 0.5) / 1e3, (double)hist_q(&s->connect, 0.99) / 1e3, (double)s->connect.max / 1e3);
	if(L->t_traffic){
		fprintf(stderr, "vgload: publish: %" PRIu64 " sent in %.1f s (%.1f/s), %" PRIu64 " accepted, %" PRIu64
				" refused, %" PRIu64 " unacknowledged, %" PRIu64 " skipped; PUBACK p50 %" PRIu64 " us, p99 %" PRIu64
				" us, p99.9 %" PRIu64 " us, max %" PRIu64 " us; publisher lag max %" PRId64 " us\n",
				s->published, (double)traffic_us / 1e6, pub_rate, s->puback_ok, s->puback_refused, missing,
				s->pub_skipped_window + s->pub_skipped_backlog, hist_q(&s->puback, 0.5),
				hist_q(&s->puback, 0.99), hist_q(&s->puback, 0.999), s->puback.max, s->pub_lag_max_us);
	}
	if(L->nsta){
		fprintf(stderr, "vgload: stations: %" PRIu64 "/%zu subscribed, %" PRIu64 " deliveries (%" PRIu64
				" unmatched, %" PRIu64 " retained ignored); device->station p50 %" PRIu64 " us, p99 %" PRIu64
				" us, p99.9 %" PRIu64 " us, max %" PRIu64 " us; %" PRIu64 " alert deliveries (p50 %" PRIu64 " us)\n",
				s->stations_ok, L->nsta, s->deliveries, s->unmatched, s->retained, hist_q(&s->d2s, 0.5),
				hist_q(&s->d2s, 0.99), hist_q(&s->d2s, 0.999), s->d2s.max, s->alert_deliveries,
				hist_q(&s->alert, 0.5));
		if(s->frames){
			fprintf(stderr, "vgload: ward frames: %" PRIu64 " (%.0f bytes each), %" PRIu64 " samples first seen in one "
					"(%" PRIu64 " unmatched); sample->frame p50 %" PRIu64 " us, p99 %" PRIu64 " us, max %" PRIu64 " us\n",
					s->frames, (double)s->frame_bytes / (double)s->frames, s->frame_samples, s->frame_unmatched,
					hist_q(&s->frame, 0.5), hist_q(&s->frame, 0.99), s->frame.max);
		}
	}
	if(s->disconnects || s->protocol_errors){
		fprintf(stderr, "vgload: %" PRIu64 " connections lost, %" PRIu64 " protocol errors\n",
				s->disconnects, s->protocol_errors);
	}

	fprintf(f, "{\"mqtt\":%d,\"qos\":%d,\"clients\":%zu,\"stations\":%zu,\"rate_hz\":%g,\"duration_s\":%g",
			L->o.mqtt, L->o.qos, L->ndev, L->nsta, L->o.rate, L->o.duration);
	fprintf(f, ",\"connect_rate\":%g,\"connect_inflight\":%ld", L->o.connect_rate, L->o.connect_inflight);
	if(s->connack_ok){
		fprintf(f, ",\"connect_ms_last\":%.1f", (double)(s->t_last_connack - L->t_start) / 1e3);
	}else{
		fputs(",\"connect_ms_last\":null", f);
	}
	fprintf(f, ",\"connack_ok\":%" PRIu64 ",\"connack_refused_total\":%" PRIu64, s->connack_ok, s->connack_refused);
	json_codes(f, "connack_refused", s->connack_codes);
	fprintf(f, ",\"connect_failed\":%" PRIu64 ",\"tcp_retries\":%" PRIu64, s->connect_failed, s->tcp_retries);
	json_errnos(f, "tcp_retry_errors", s->retry_errno);
	json_hist(f, "connect", &s->connect, true, false);
	fprintf(f, ",\"stations_ok\":%" PRIu64 ",\"suback_refused\":%" PRIu64, s->stations_ok, s->suback_refused);
	fprintf(f, ",\"published\":%" PRIu64 ",\"puback_ok\":%" PRIu64 ",\"puback_refused\":%" PRIu64,
			s->published, s->puback_ok, s->puback_refused);
	json_codes(f, "puback_refused_codes", s->puback_codes);
	fprintf(f, ",\"puback_missing\":%" PRIu64 ",\"puback_unknown\":%" PRIu64, missing, s->puback_unknown);
	json_hist(f, "puback", &s->puback, false, true);
	fprintf(f, ",\"traffic_s\":%.3f,\"pub_rate\":%.1f,\"pub_skipped\":%" PRIu64 ",\"pub_lag_max_us\":%" PRId64,
			(double)traffic_us / 1e6, pub_rate, s->pub_skipped_window + s->pub_skipped_backlog, s->pub_lag_max_us);
	fprintf(f, ",\"samples_published\":%" PRIu64 ",\"sample_rate\":%.1f", s->samples_published,
			traffic_us > 0 ? (double)s->samples_published * 1e6 / (double)traffic_us : 0.0);
	fprintf(f, ",\"alerts_sent\":%" PRIu64 ",\"deliveries\":%" PRIu64, s->alerts_sent, s->deliveries);
	json_hist(f, "d2s", &s->d2s, false, true);
	fprintf(f, ",\"unmatched\":%" PRIu64 ",\"retained_ignored\":%" PRIu64 ",\"alert_deliveries\":%" PRIu64,
			s->unmatched, s->retained, s->alert_deliveries);
	json_hist(f, "alert", &s->alert, false, true);
	fprintf(f, ",\"frames\":%" PRIu64 ",\"frame_bytes\":%" PRIu64 ",\"frame_samples\":%" PRIu64 ",\"frame_unmatched\":%" PRIu64,
			s->frames, s->frame_bytes, s->frame_samples, s->frame_unmatched);
	json_hist(f, "frame", &s->frame, false, true);
	fprintf(f, ",\"device_deliveries\":%" PRIu64 ",\"disconnects\":%" PRIu64, s->device_deliveries, s->disconnects);
	fprintf(f, ",\"reconnects\":%" PRIu64 ",\"recovered\":%" PRIu64 ",\"reconnect_refused\":%" PRIu64, s->reconnects,
			s->recovered, s->reconnect_refused);
	json_hist(f, "recover", &s->recover, true, false);
	json_hist(f, "recover_since_first_loss", &s->recover_since_first, true, false);
	json_codes(f, "server_disconnects", s->server_disconnect_codes);
	fprintf(f, ",\"pings\":%" PRIu64 ",\"protocol_errors\":%" PRIu64 ",\"elapsed_s\":%.3f,\"aborted\":%s}\n",
			s->pings, s->protocol_errors, (double)(L->now - L->t0) / 1e6, L->aborted ? "true" : "false");
	fflush(f);
}

/* ---- options and set-up ------------------------------------------------------ */

static void usage(FILE *f)
{
	fputs(
"usage: vgload [options]\n"
"  broker        --host ADDR (127.0.0.1)  --port N (1883)  --mqtt 3|5 (5)\n"
"  devices       --creds FILE (lines \"id secret\") | --anonymous [--id-prefix P (dev-)]\n"
"                --clients N (default: every line of --creds)  --max-clients N (19000)\n"
"  connecting    --connect-rate R (clients/s, 0 = all at once; default 0)\n"
"                --connect-inflight N (all at once, but at most N devices between\n"
"                  their CONNECT and its CONNACK; 0 = no limit, the default)\n"
"                --connect-timeout S (60)  --keepalive S (60)  --no-clean\n"
"                --session-expiry S (v5, 0)  --syn-retries N (kernel default)\n"
"                --no-spread (all clients from 127.0.0.1, see README)\n"
"  traffic       --duration S (0: connect only)  --rate HZ (per device, 1)  --qos 0|1 (1)\n"
"                --batch K (samples per message, 1..64; 1 sends a single map)\n"
"                --alert-fraction F (0)  --alert-every K (10)\n"
"                --reconnect (a device whose connection is lost in traffic comes back,\n"
"                50 ms doubling to 2 s, and publishes again; unacknowledged samples are not resent)\n"
"                --acked FILE (\"id seq wall_ms\" of every accepted sample)\n"
"                --traffic-at MS (traffic starts at this Unix time in ms, or once connected if later)\n"
"  stations      --stations K  --station-creds FILE (lines \"id secret [filter,...]\")\n"
"                --station-qos 0|1 (1)  --station-topic F[,F...] (wards/+/vitals)\n"
"  output        --quiet (no progress on stderr)\n"
"Prints progress and a summary on stderr, one JSON object on stdout.\n", f);
}

static double num_arg(const char *name, const char *s, double lo, double hi)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if(errno != 0 || end == s || *end != '\0' || !(v >= lo && v <= hi)){
		die("--%s: expected a number in [%g, %g], got \"%s\"", name, lo, hi, s);
	}
	return v;
}

static long int_arg(const char *name, const char *s, long lo, long hi)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if(errno != 0 || end == s || *end != '\0' || v < lo || v > hi){
		die("--%s: expected an integer in [%ld, %ld], got \"%s\"", name, lo, hi, s);
	}
	return v;
}

static void parse_opts(struct opts *o, int argc, char **argv)
{
	enum {
		O_HOST = 256, O_PORT, O_MQTT, O_CLIENTS, O_CREDS, O_ANON, O_PREFIX, O_MAXC, O_CRATE, O_CTIMEOUT,
		O_SYN, O_KEEPALIVE, O_NOCLEAN, O_SESSION, O_DURATION, O_RATE, O_QOS, O_AFRAC, O_AEVERY, O_BATCH,
		O_STATIONS, O_SCREDS, O_SQOS, O_STOPIC, O_NOSPREAD, O_QUIET, O_HELP, O_CINFL, O_RECONNECT, O_ACKED, O_TRAFFIC_AT,
	};
	static const struct option lo[] = {
		{ "host", required_argument, NULL, O_HOST },
		{ "port", required_argument, NULL, O_PORT },
		{ "mqtt", required_argument, NULL, O_MQTT },
		{ "clients", required_argument, NULL, O_CLIENTS },
		{ "creds", required_argument, NULL, O_CREDS },
		{ "anonymous", no_argument, NULL, O_ANON },
		{ "id-prefix", required_argument, NULL, O_PREFIX },
		{ "max-clients", required_argument, NULL, O_MAXC },
		{ "connect-rate", required_argument, NULL, O_CRATE },
		{ "connect-inflight", required_argument, NULL, O_CINFL },
		{ "connect-timeout", required_argument, NULL, O_CTIMEOUT },
		{ "syn-retries", required_argument, NULL, O_SYN },
		{ "keepalive", required_argument, NULL, O_KEEPALIVE },
		{ "no-clean", no_argument, NULL, O_NOCLEAN },
		{ "session-expiry", required_argument, NULL, O_SESSION },
		{ "duration", required_argument, NULL, O_DURATION },
		{ "rate", required_argument, NULL, O_RATE },
		{ "qos", required_argument, NULL, O_QOS },
		{ "alert-fraction", required_argument, NULL, O_AFRAC },
		{ "alert-every", required_argument, NULL, O_AEVERY },
		{ "batch", required_argument, NULL, O_BATCH },
		{ "stations", required_argument, NULL, O_STATIONS },
		{ "station-creds", required_argument, NULL, O_SCREDS },
		{ "station-qos", required_argument, NULL, O_SQOS },
		{ "station-topic", required_argument, NULL, O_STOPIC },
		{ "no-spread", no_argument, NULL, O_NOSPREAD },
		{ "reconnect", no_argument, NULL, O_RECONNECT },
		{ "acked", required_argument, NULL, O_ACKED },
		{ "traffic-at", required_argument, NULL, O_TRAFFIC_AT },
		{ "quiet", no_argument, NULL, O_QUIET },
		{ "help", no_argument, NULL, O_HELP },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	*o = (struct opts){
		.host = "127.0.0.1", .port = 1883, .mqtt = 5, .clients = -1, .id_prefix = "dev-",
		.max_clients = 19000, .connect_rate = 0, .connect_timeout = 60, .keepalive = 60, .clean = true,
		.duration = 0, .rate = 1, .qos = 1, .alert_fraction = 0, .alert_every = 10, .batch = 1, .stations = 0,
		.station_qos = 1, .station_topic = "wards/+/vitals", .spread = true,
	};
	while((ch = getopt_long(argc, argv, "h", lo, NULL)) != -1){
		switch(ch){
			case O_HOST: o->host = optarg; break;
			case O_PORT: o->port = (int)int_arg("port", optarg, 1, 65535); break;
			case O_MQTT: o->mqtt = (int)int_arg("mqtt", optarg, 3, 5); break;
			case O_CLIENTS: o->clients = int_arg("clients", optarg, 0, 10000000); break;
			case O_CREDS: o->creds = optarg; break;
			case O_ANON: o->anonymous = true; break;
			case O_PREFIX: o->id_prefix = optarg; break;
			case O_MAXC: o->max_clients = int_arg("max-clients", optarg, 1, 10000000); break;
			case O_CRATE: o->connect_rate = num_arg("connect-rate", optarg, 0, 1e7); break;
			case O_CINFL: o->connect_inflight = int_arg("connect-inflight", optarg, 0, 10000000); break;
			case O_CTIMEOUT: o->connect_timeout = num_arg("connect-timeout", optarg, 0.1, 86400); break;
			case O_SYN: o->syn_retries = (int)int_arg("syn-retries", optarg, 1, 127); break;
			case O_KEEPALIVE: o->keepalive = (int)int_arg("keepalive", optarg, 0, 65535); break;
			case O_NOCLEAN: o->clean = false; break;
			case O_SESSION: o->session_expiry = (uint32_t)int_arg("session-expiry", optarg, 0, 4294967295L); break;
			case O_DURATION: o->duration = num_arg("duration", optarg, 0, 30 * 86400); break;
			case O_RATE: o->rate = num_arg("rate", optarg, 0.001, 100000); break;
			case O_QOS: o->qos = (int)int_arg("qos", optarg, 0, 1); break;
			case O_AFRAC: o->alert_fraction = num_arg("alert-fraction", optarg, 0, 1); break;
			case O_AEVERY: o->alert_every = (int)int_arg("alert-every", optarg, 1, 1000000); break;
			case O_BATCH: o->batch = (int)int_arg("batch", optarg, 1, 64); break;
			case O_STATIONS: o->stations = int_arg("stations", optarg, 0, 100000); break;
			case O_SCREDS: o->station_creds = optarg; break;
			case O_SQOS: o->station_qos = (int)int_arg("station-qos", optarg, 0, 1); break;
			case O_STOPIC: o->station_topic = optarg; break;
			case O_NOSPREAD: o->spread = false; break;
			case O_RECONNECT: o->reconnect = true; break;
			case O_ACKED: o->acked = optarg; break;
			case O_TRAFFIC_AT: o->traffic_at_ms = int_arg("traffic-at", optarg, 0, 4102444800000L); break;
			case O_QUIET: o->quiet = true; break;
			case O_HELP: case 'h': usage(stdout); exit(0);
			default: usage(stderr); exit(2);
		}
	}
	if(optind < argc){
		die("unexpected argument \"%s\" (see --help)", argv[optind]);
	}
	if(o->mqtt == 4){
		die("--mqtt: 3 (3.1.1) or 5");
	}
	if(o->connect_inflight > 0 && o->connect_rate > 0){
		die("--connect-inflight and --connect-rate exclude each other");
	}
	if(o->creds != NULL && o->anonymous){
		die("--creds and --anonymous exclude each other");
	}
	if(o->creds == NULL && !o->anonymous){
		die("give --creds FILE or --anonymous");
	}
	if(o->anonymous && o->clients < 0){
		die("--anonymous needs --clients N");
	}
	if(o->stations > 0 && o->station_creds == NULL && !o->anonymous){
		die("--stations needs --station-creds FILE (or --anonymous)");
	}
}

/* Ids dev-<n> / sta-<n> for anonymous runs. */
static struct ident *make_anonymous(struct vgl *L, size_t n, const char *prefix, size_t cap, size_t *used)
{
	struct ident *v = xcalloc(n, sizeof(*v));
	char *p = L->names + *used;
	size_t i;

	for(i = 0; i < n; i++){
		int w = snprintf(p, cap - (size_t)(p - L->names), "%s%zu", prefix, i);

		if(w < 0 || (size_t)w >= cap - (size_t)(p - L->names)){
			die("id buffer too small");
		}

		v[i].id = p;
		p += w + 1;
	}
	*used = (size_t)(p - L->names);
	return v;
}

static void setup(struct vgl *L)
{
	struct opts *o = &L->o;
	struct rlimit rl;
	size_t ncred = 0, i, names = 0, need;
	long limit;

	if(o->creds != NULL){
		L->dev_file = read_file(o->creds);
		ncred = parse_creds(L->dev_file, o->creds, &L->dev_ids);
		if(o->clients < 0){
			o->clients = (long)ncred;
		}
		if((size_t)o->clients > ncred){
			die("--clients %ld but %s has only %zu identities", o->clients, o->creds, ncred);
		}
	}
	if(o->station_creds != NULL){
		L->sta_file = read_file(o->station_creds);
		i = parse_creds(L->sta_file, o->station_creds, &L->sta_ids);
		if((size_t)o->stations > i){
			die("--stations %ld but %s has only %zu identities", o->stations, o->station_creds, i);
		}
	}
	L->ndev = (size_t)o->clients;
	L->nsta = (size_t)o->stations;
	L->nconn = L->ndev + L->nsta;
	if(o->clients > o->max_clients){
		die("--clients %ld is over the safety cap --max-clients %ld", o->clients, o->max_clients);
	}

	/* One fd per client, plus epoll and stdio: refuse what the limit cannot hold. */
	if(getrlimit(RLIMIT_NOFILE, &rl) != 0){
		die("getrlimit: %s", strerror(errno));
	}
	if(rl.rlim_cur < rl.rlim_max){
		struct rlimit want = { rl.rlim_max, rl.rlim_max };

		if(setrlimit(RLIMIT_NOFILE, &want) == 0){
			rl = want;
		}
	}
	limit = rl.rlim_cur == RLIM_INFINITY ? 1L << 30 : (long)rl.rlim_cur - FD_RESERVE;
	if((long)L->nconn > limit){
		die("%zu clients (%zu devices + %zu stations) need %zu file descriptors; the open-file limit"
				" is %ld (RLIMIT_NOFILE %llu minus %d in reserve): lower --clients", L->nconn, L->ndev,
				L->nsta, L->nconn, limit, (unsigned long long)rl.rlim_cur, FD_RESERVE);
	}

	if(o->anonymous){
		need = (L->ndev + L->nsta) * 32 + strlen(o->id_prefix) * L->ndev + 64;
		L->names = xcalloc(need, 1);
		if(L->dev_ids == NULL){
			L->dev_ids = make_anonymous(L, L->ndev, o->id_prefix, need, &names);
		}
		if(L->sta_ids == NULL && L->nsta){
			L->sta_ids = make_anonymous(L, L->nsta, "sta-", need, &names);
		}
	}
	if(L->dev_ids == NULL){
		L->dev_ids = xcalloc(1, sizeof(*L->dev_ids));
	}
	htab_build(L);

	memset(&L->broker, 0, sizeof(L->broker));
	L->broker.sin_family = AF_INET;
	L->broker.sin_port = htons((uint16_t)o->port);
	if(inet_pton(AF_INET, o->host, &L->broker.sin_addr) != 1){
		die("--host: an IPv4 address, got \"%s\"", o->host);
	}
	if(o->spread && (ntohl(L->broker.sin_addr.s_addr) >> 24) != 127){
		note(L, "--host is not on 127.0.0.0/8: source address spreading disabled");
		o->spread = false;
	}

	L->c = xcalloc(L->nconn, sizeof(*L->c));
	for(i = 0; i < L->nconn; i++){
		struct conn *c = &L->c[i];

		c->fd = -1;
		c->index = (uint32_t)i;
		c->station = i >= L->ndev;
		c->ident = c->station ? &L->sta_ids[i - L->ndev] : &L->dev_ids[i];
		c->keepalive_s = (uint32_t)o->keepalive;
		c->recv_max = INFL;
		c->next_pid = 1;
		if(!c->station){
			c->ring = xcalloc(RING, sizeof(*c->ring));
			if(o->qos == 1){
				c->infl = xcalloc(INFL, sizeof(*c->infl));
			}
			/* Spread alerting devices evenly: floor((i+1)F) > floor(iF). */
			c->alerting = floor((double)(i + 1) * o->alert_fraction) > floor((double)i * o->alert_fraction);
			if(c->alerting){
				c->aring = xcalloc(ARING, sizeof(*c->aring));
			}
		}
	}
	L->dirty = xcalloc(L->nconn, sizeof(*L->dirty));
	L->heap = xcalloc(L->nconn, sizeof(*L->heap));
	L->active = xcalloc(L->ndev, sizeof(*L->active));
	L->rbuf = xcalloc(RBUF_SIZE, 1);
	L->ep = epoll_create1(EPOLL_CLOEXEC);
	if(L->ep < 0){
		die("epoll_create1: %s", strerror(errno));
	}
	L->rng = (uint64_t)wall_ms() * 2654435761u ^ (uint64_t)getpid();
	if(L->rng == 0){
		L->rng = 1;
	}
	/* A per-run base: later runs (and restarts) never reuse a device's seq. */
	L->seq_base = (uint64_t)wall_ms() * 1000;
	if(L->o.acked){
		L->acked = fopen(L->o.acked, "w");
		if(L->acked == NULL){
			die("--acked %s: %s", L->o.acked, strerror(errno));
		}
	}
}

static void teardown(struct vgl *L)
{
	size_t i;

	for(i = 0; i < L->nconn; i++){
		struct conn *c = &L->c[i];

		if(c->fd >= 0){
			close(c->fd);
		}
		free(c->in);
		free(c->out);
		free(c->infl);
		free(c->ring);
		free(c->aring);
		free(c->fseen);
	}
	if(L->ep >= 0){
		close(L->ep);
	}
	free(L->c);
	free(L->dev_ids);
	free(L->sta_ids);
	free(L->dev_file);
	free(L->sta_file);
	free(L->names);
	free(L->htab);
	free(L->dirty);
	free(L->heap);
	free(L->active);
	free(L->rbuf);
	if(L->acked){
		fclose(L->acked);
	}
}

int main(int argc, char **argv)
{
	struct vgl *L = xcalloc(1, sizeof(*L));
	struct sigaction sa;
	size_t i;

	L->ep = -1;
	parse_opts(&L->o, argc, argv);
	setup(L);

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);

	L->now = L->t0 = mono_us();
	L->t_connect_deadline = L->t0 + (int64_t)(L->o.connect_timeout * 1e6);
	L->t_hard_deadline = L->t_connect_deadline + (int64_t)(L->o.duration * 1e6) + DRAIN_US + CLOSE_US + 500000;
	L->t_next_second = L->t0;
	L->sta_pending = L->nsta;
	L->dev_pending = L->ndev;
	note(L, "%zu devices, %zu stations -> %s:%d, MQTT %s, %s, source addresses %s", L->ndev, L->nsta,
			L->o.host, L->o.port, L->o.mqtt == 5 ? "5" : "3.1.1",
			L->o.connect_rate > 0 ? "paced connects" : "all connects at once",
			L->o.spread ? "spread over 127.0.0.0/8" : "127.0.0.1 only");
	L->phase = P_STATIONS;
	for(i = 0; i < L->nsta; i++){
		struct conn *c = &L->c[L->ndev + i];

		c->t_first = L->now;
		conn_start(L, c);
	}
	event_loop(L);
	report(L);
	teardown(L);
	free(L);
	return 0;
}
