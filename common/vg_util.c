/*
 * vg_util: see vg_util.h. Thread: any. Memory: none owned.
 */
#include "vg_util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static bool id_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

bool vg_id_valid_n(const char *s, size_t n)
{
	size_t i;

	if(s == NULL || n == 0 || n > VG_ID_MAX){
		return false;
	}
	for(i = 0; i < n; i++){
		if(!id_char((unsigned char)s[i])){
			return false;
		}
	}
	return true;
}

bool vg_id_valid(const char *s)
{
	if(s == NULL){
		return false;
	}
	return vg_id_valid_n(s, strnlen(s, VG_ID_MAX + 1));
}

int64_t vg_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t vg_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static __thread int64_t rfc_day = INT64_MIN;
static __thread char rfc_date[48];   /* "YYYY-MM-DDT" of rfc_day */

static void two_digits(char *p, int v)
{
	p[0] = (char)('0' + v / 10);
	p[1] = (char)('0' + v % 10);
}

void vg_rfc3339(int64_t ms, char *buf, size_t len)
{
	int64_t secs, day, sod, rem;

	if(len < 25){
		if(len){
			buf[0] = '\0';
		}
		return;
	}
	/* Floor division: times before 1970 too. */
	secs = ms / 1000;
	rem = ms % 1000;
	if(rem < 0){
		rem += 1000;
		secs -= 1;
	}
	day = secs / 86400;
	sod = secs % 86400;
	if(sod < 0){
		sod += 86400;
		day -= 1;
	}
	/* The date changes once a day: formatted once per thread and day (this
	 * runs twice per sample a ward frame shows); the time of day is
	 * arithmetic. */
	if(day != rfc_day){
		time_t t = (time_t)(day * 86400);
		struct tm tm;

		if(gmtime_r(&t, &tm) == NULL || tm.tm_year + 1900 < 0 || tm.tm_year + 1900 > 9999){
			buf[0] = '\0';
			return;
		}
		snprintf(rfc_date, sizeof(rfc_date), "%04d-%02d-%02dT", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
		rfc_day = day;
	}
	memcpy(buf, rfc_date, 11);
	two_digits(buf + 11, (int)(sod / 3600));
	buf[13] = ':';
	two_digits(buf + 14, (int)(sod / 60 % 60));
	buf[16] = ':';
	two_digits(buf + 17, (int)(sod % 60));
	buf[19] = '.';
	buf[20] = (char)('0' + rem / 100);
	buf[21] = (char)('0' + rem / 10 % 10);
	buf[22] = (char)('0' + rem % 10);
	buf[23] = 'Z';
	buf[24] = '\0';
}

bool vg_strlcpy(char *dst, const char *src, size_t size)
{
	size_t n;

	if(size == 0){
		return false;
	}
	n = strnlen(src, size);
	if(n >= size){
		memcpy(dst, src, size - 1);
		dst[size - 1] = '\0';
		return false;
	}
	memcpy(dst, src, n + 1);
	return true;
}

bool vg_parse_i64(const char *s, int64_t min, int64_t max, int64_t *out)
{
	char *end = NULL;
	long long v;

	if(s == NULL || *s == '\0'){
		return false;
	}
	errno = 0;
	v = strtoll(s, &end, 10);
	if(errno != 0 || end == s || *end != '\0'){
		return false;
	}
	if(v < min || v > max){
		return false;
	}
	*out = (int64_t)v;
	return true;
}

void vg_sanitize(char *dst, size_t cap, const char *src)
{
	size_t i = 0;

	if(cap == 0){
		return;
	}
	if(src == NULL){
		dst[0] = '\0';
		return;
	}
	for(; src[i] && i + 1 < cap; i++){
		unsigned char c = (unsigned char)src[i];
		dst[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	dst[i] = '\0';
	if(src[i] && cap >= 4){
		memcpy(dst + cap - 4, "...", 4);
	}
	/* A secret typed into the username field (or used as a client id) must
	 * not reach a log line or an audit row. */
	if(!strncmp(src, "vgs_", 4) || !strncmp(src, "whsec_", 6)){
		snprintf(dst, cap, "%s", "[redacted: looks like a secret]");
	}
}

bool vg_concat(char *dst, size_t cap, ...)
{
	va_list ap;
	const char *s;
	size_t len = 0;
	bool ok = true;

	if(cap == 0){
		return false;
	}
	va_start(ap, cap);
	while((s = va_arg(ap, const char *)) != NULL){
		size_t n = strlen(s);
		if(len + n >= cap){
			n = cap - 1 - len;
			ok = false;
		}
		memcpy(dst + len, s, n);
		len += n;
		if(!ok){
			break;
		}
	}
	va_end(ap);
	dst[len] = '\0';
	return ok;
}

uint64_t vg_fnv1a(const void *p, size_t n)
{
	const unsigned char *b = p;
	uint64_t h = 1469598103934665603ull;
	size_t i;

	for(i = 0; i < n; i++){
		h ^= b[i];
		h *= 1099511628211ull;
	}
	return h;
}

void vg_hex_encode(const uint8_t *p, size_t n, char *out)
{
	static const char hex[] = "0123456789abcdef";
	size_t i;

	for(i = 0; i < n; i++){
		out[2 * i] = hex[p[i] >> 4];
		out[2 * i + 1] = hex[p[i] & 0xf];
	}
	out[2 * n] = '\0';
}

static int hexval(char c)
{
	if(c >= '0' && c <= '9') return c - '0';
	if(c >= 'a' && c <= 'f') return c - 'a' + 10;
	if(c >= 'A' && c <= 'F') return c - 'A' + 10;
	return -1;
}

bool vg_hex_decode(const char *s, size_t n, uint8_t *out)
{
	size_t i;

	for(i = 0; i < n; i++){
		int hi = hexval(s[2 * i]);
		int lo = hi < 0 ? -1 : hexval(s[2 * i + 1]);
		if(hi < 0 || lo < 0){
			return false;
		}
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return true;
}
