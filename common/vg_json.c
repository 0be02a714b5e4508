/*
 * vg_json: see vg_json.h. Thread: any. Memory: writes only into the
 * caller's buffer.
 */
#include "vg_json.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

void vg_json_init(struct vg_json *j, char *buf, size_t cap)
{
	j->buf = buf;
	j->cap = cap;
	j->len = 0;
	j->overflow = (cap == 0);
	j->need_comma = false;
	if(cap){
		buf[0] = '\0';
	}
}

static void put(struct vg_json *j, const char *s, size_t n)
{
	if(j->overflow){
		return;
	}
	if(n >= j->cap - j->len){
		j->overflow = true;
		return;
	}
	memcpy(j->buf + j->len, s, n);
	j->len += n;
	j->buf[j->len] = '\0';
}

static void putc1(struct vg_json *j, char c)
{
	put(j, &c, 1);
}

static bool plain(unsigned char c)
{
	return c >= 0x20 && c < 0x7f && c != '"' && c != '\\';
}

/* Runs of characters that need no escape (ids, keys: all of them, almost
 * always) are copied at once. */
static void put_escaped(struct vg_json *j, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t i = 0, run;
	unsigned char c;

	putc1(j, '"');
	while(i < n){
		for(run = i; run < n && plain((unsigned char)s[run]); run++){
		}
		if(run > i){
			put(j, s + i, run - i);
			i = run;
			continue;
		}
		c = (unsigned char)s[i++];
		if(c == '"' || c == '\\'){
			char e[2] = { '\\', (char)c };
			put(j, e, 2);
		}else if(c == '\n'){
			put(j, "\\n", 2);
		}else if(c == '\t'){
			put(j, "\\t", 2);
		}else{
			char e[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 0xf] };
			put(j, e, 6);
		}
	}
	putc1(j, '"');
}

static void key(struct vg_json *j, const char *k)
{
	if(j->need_comma){
		putc1(j, ',');
	}
	if(k){
		put_escaped(j, k, strlen(k));
		putc1(j, ':');
	}
	j->need_comma = true;
}

void vg_json_obj_open(struct vg_json *j)
{
	vg_json_obj_open_key(j, NULL);
}

void vg_json_obj_open_key(struct vg_json *j, const char *k)
{
	key(j, k);
	putc1(j, '{');
	j->need_comma = false;
}

void vg_json_obj_close(struct vg_json *j)
{
	putc1(j, '}');
	j->need_comma = true;
}

void vg_json_arr_open(struct vg_json *j, const char *k)
{
	key(j, k);
	putc1(j, '[');
	j->need_comma = false;
}

void vg_json_arr_close(struct vg_json *j)
{
	putc1(j, ']');
	j->need_comma = true;
}

void vg_json_strn(struct vg_json *j, const char *k, const char *val, size_t n)
{
	key(j, k);
	put_escaped(j, val, n);
}

void vg_json_str(struct vg_json *j, const char *k, const char *val)
{
	if(val == NULL){
		vg_json_null(j, k);
		return;
	}
	vg_json_strn(j, k, val, strlen(val));
}

/* Decimal digits of v, right-aligned ending at end; returns the start.
 * (The broker thread renders a JSON sample per accepted message: snprintf
 * was a measurable share of it, docs/benchmarks.md.) */
static char *u64_digits(uint64_t v, char *end)
{
	do{
		*--end = (char)('0' + v % 10);
		v /= 10;
	}while(v);
	return end;
}

void vg_json_u64(struct vg_json *j, const char *k, uint64_t val)
{
	char tmp[24];
	char *p = u64_digits(val, tmp + sizeof(tmp));

	key(j, k);
	put(j, p, (size_t)(tmp + sizeof(tmp) - p));
}

void vg_json_i64(struct vg_json *j, const char *k, int64_t val)
{
	char tmp[24];
	char *p = u64_digits(val < 0 ? (uint64_t)0 - (uint64_t)val : (uint64_t)val, tmp + sizeof(tmp));

	if(val < 0){
		*--p = '-';
	}
	key(j, k);
	put(j, p, (size_t)(tmp + sizeof(tmp) - p));
}

void vg_json_fixed(struct vg_json *j, const char *k, double val, int decimals)
{
	char tmp[48];
	int n;

	if(!isfinite(val)){
		vg_json_null(j, k);
		return;
	}
	if(decimals >= 0 && decimals <= 6 && fabs(val) < 1e12){
		/* Fast path (every vital fits): round to the decimals, then digits. */
		static const double scale[] = { 1, 10, 100, 1e3, 1e4, 1e5, 1e6 };
		double a = fabs(val), prod = a * scale[decimals];
		double err = fma(a, scale[decimals], -prod); /* exact: a*scale - prod */
		double r = floor(prod), frac = prod - r;
		uint64_t v;
		/* Round the exact decimal value as printf does: to nearest, and
		 * a true tie (only binary fractions) to even. */
		if(frac > 0.5 || (frac == 0.5 && (err > 0 || (err == 0 && fmod(r, 2) != 0)))){
			r += 1;
		}
		v = (uint64_t)r;
		char *end = tmp + sizeof(tmp), *p = end;
		int d;
		for(d = 0; d < decimals; d++){
			*--p = (char)('0' + v % 10);
			v /= 10;
		}
		if(decimals > 0){
			*--p = '.';
		}
		p = u64_digits(v, p);
		if(val < 0 && r != 0){
			*--p = '-';
		}
		key(j, k);
		put(j, p, (size_t)(end - p));
		return;
	}
	n = snprintf(tmp, sizeof(tmp), "%.*f", decimals, val);
	key(j, k);
	if(n < 0 || (size_t)n >= sizeof(tmp)){
		put(j, "null", 4);
		return;
	}
	put(j, tmp, (size_t)n);
}

void vg_json_bool(struct vg_json *j, const char *k, bool val)
{
	key(j, k);
	if(val){
		put(j, "true", 4);
	}else{
		put(j, "false", 5);
	}
}

void vg_json_null(struct vg_json *j, const char *k)
{
	key(j, k);
	put(j, "null", 4);
}

void vg_json_raw(struct vg_json *j, const char *k, const char *raw, size_t n)
{
	key(j, k);
	put(j, raw, n);
}

bool vg_json_ok(const struct vg_json *j)
{
	return !j->overflow;
}

const char *vg_json_cstr(const struct vg_json *j)
{
	return j->buf;
}
