/*
 * vg_sbuf: see vg_sbuf.h. Thread: one owner. Memory: owns b->p.
 */
#include "vg_sbuf.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void vg_sbuf_init(struct vg_sbuf *b)
{
	b->p = NULL;
	b->len = 0;
	b->cap = 0;
	b->oom = false;
}

void vg_sbuf_free(struct vg_sbuf *b)
{
	free(b->p);
	vg_sbuf_init(b);
}

void vg_sbuf_reset(struct vg_sbuf *b)
{
	vg_sbuf_truncate(b, 0);
}

void vg_sbuf_truncate(struct vg_sbuf *b, size_t len)
{
	if(len < b->len){
		b->len = len;
	}
	b->oom = false;
	if(b->p){
		b->p[b->len] = '\0';
	}
}

static bool reserve(struct vg_sbuf *b, size_t extra)
{
	size_t need, ncap;
	char *np;

	if(b->oom){
		return false;
	}
	need = b->len + extra + 1;
	if(need <= b->cap){
		return true;
	}
	ncap = b->cap ? b->cap : 256;
	while(ncap < need){
		ncap *= 2;
	}
	np = realloc(b->p, ncap);
	if(np == NULL){
		b->oom = true;
		return false;
	}
	b->p = np;
	b->cap = ncap;
	return true;
}

void vg_sbuf_put(struct vg_sbuf *b, const void *p, size_t n)
{
	if(!reserve(b, n)){
		return;
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void vg_sbuf_puts(struct vg_sbuf *b, const char *s)
{
	vg_sbuf_put(b, s, strlen(s));
}

void vg_sbuf_putc(struct vg_sbuf *b, char c)
{
	vg_sbuf_put(b, &c, 1);
}

void vg_sbuf_printf(struct vg_sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if(n < 0 || !reserve(b, (size_t)n)){
		return;
	}
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

void vg_sbuf_u64(struct vg_sbuf *b, uint64_t v)
{
	char tmp[24];
	int i = sizeof(tmp);

	do{
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	}while(v);
	vg_sbuf_put(b, tmp + i, sizeof(tmp) - (size_t)i);
}

void vg_sbuf_i64(struct vg_sbuf *b, int64_t v)
{
	if(v < 0){
		vg_sbuf_putc(b, '-');
		vg_sbuf_u64(b, (uint64_t)0 - (uint64_t)v);
	}else{
		vg_sbuf_u64(b, (uint64_t)v);
	}
}

void vg_sbuf_copy_text(struct vg_sbuf *b, const char *s, size_t n)
{
	size_t i;

	for(i = 0; i < n; i++){
		char c = s[i];
		switch(c){
			case '\\': vg_sbuf_put(b, "\\\\", 2); break;
			case '\t': vg_sbuf_put(b, "\\t", 2); break;
			case '\n': vg_sbuf_put(b, "\\n", 2); break;
			case '\r': vg_sbuf_put(b, "\\r", 2); break;
			case '\0': break; /* text columns cannot hold NUL */
			default: vg_sbuf_putc(b, c); break;
		}
	}
}

void vg_sbuf_copy_bytea(struct vg_sbuf *b, const void *p, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	const uint8_t *u = p;
	size_t i;

	if(!reserve(b, 3 + 2 * n)){
		return;
	}
	memcpy(b->p + b->len, "\\\\x", 3);
	b->len += 3;
	for(i = 0; i < n; i++){
		b->p[b->len++] = hex[u[i] >> 4];
		b->p[b->len++] = hex[u[i] & 0xf];
	}
	b->p[b->len] = '\0';
}

bool vg_sbuf_ok(const struct vg_sbuf *b)
{
	return !b->oom;
}
