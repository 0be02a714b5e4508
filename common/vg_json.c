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

static void put_escaped(struct vg_json *j, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t i;

	putc1(j, '"');
	for(i = 0; i < n; i++){
		unsigned char c = (unsigned char)s[i];
		if(c == '"' || c == '\\'){
			char e[2] = { '\\', (char)c };
			put(j, e, 2);
		}else if(c == '\n'){
			put(j, "\\n", 2);
		}else if(c == '\t'){
			put(j, "\\t", 2);
		}else if(c < 0x20 || c >= 0x7f){
			char e[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 0xf] };
			put(j, e, 6);
		}else{
			putc1(j, (char)c);
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

void vg_json_u64(struct vg_json *j, const char *k, uint64_t val)
{
	char tmp[24];
	int n = snprintf(tmp, sizeof(tmp), "%" PRIu64, val);

	key(j, k);
	put(j, tmp, (size_t)n);
}

void vg_json_i64(struct vg_json *j, const char *k, int64_t val)
{
	char tmp[24];
	int n = snprintf(tmp, sizeof(tmp), "%" PRId64, val);

	key(j, k);
	put(j, tmp, (size_t)n);
}

void vg_json_fixed(struct vg_json *j, const char *k, double val, int decimals)
{
	char tmp[48];
	int n;

	if(!isfinite(val)){
		vg_json_null(j, k);
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
