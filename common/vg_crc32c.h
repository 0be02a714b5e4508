/*
 * vg_crc32c: CRC-32C (Castagnoli), the journal's per-record checksum.
 * Uses the SSE4.2 instruction when the CPU has it, a table otherwise.
 * Thread: any. Memory: none.
 */
#ifndef VG_CRC32C_H
#define VG_CRC32C_H

#include <stddef.h>
#include <stdint.h>

uint32_t vg_crc32c(uint32_t crc, const void *buf, size_t len);

#endif
