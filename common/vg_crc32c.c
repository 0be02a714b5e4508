/*
 * vg_crc32c: see vg_crc32c.h. The table is built on first use under
 * pthread_once. Thread: any. Memory: a static 1 KiB table.
 */
#include "vg_crc32c.h"

#include <pthread.h>
#include <string.h>

static uint32_t table[256];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;
static int have_sse42;

static void table_init(void)
{
	uint32_t i, j, c;

	for(i = 0; i < 256; i++){
		c = i;
		for(j = 0; j < 8; j++){
			c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
		}
		table[i] = c;
	}
#if defined(__x86_64__)
	__builtin_cpu_init();
	have_sse42 = __builtin_cpu_supports("sse4.2");
#endif
}

#if defined(__x86_64__)
__attribute__((target("sse4.2")))
static uint32_t crc_hw(uint32_t c, const uint8_t *p, size_t n)
{
	uint64_t c64 = c;

	while(n >= 8){
		uint64_t w;
		memcpy(&w, p, 8);
		c64 = __builtin_ia32_crc32di(c64, w);
		p += 8;
		n -= 8;
	}
	c = (uint32_t)c64;
	while(n--){
		c = __builtin_ia32_crc32qi(c, *p++);
	}
	return c;
}
#endif

uint32_t vg_crc32c(uint32_t crc, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint32_t c = ~crc;

	pthread_once(&table_once, table_init);
#if defined(__x86_64__)
	if(have_sse42){
		return ~crc_hw(c, p, len);
	}
#endif
	while(len--){
		c = table[(c ^ *p++) & 0xff] ^ (c >> 8);
	}
	return ~c;
}
