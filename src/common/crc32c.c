/*
 * crc32c.c -- CRC-32C (Castagnoli) for RecordBatch v2 checksums.
 *
 * On x86-64 with SSE4.2 the crc32 instruction does 8 bytes a cycle or so;
 * elsewhere a slicing-by-8 table is used.  The choice is made once, at the
 * first call, from cpuid.  CRC-32 (IEEE) for legacy messages is zlib's.
 */
#include <string.h>
#include <zlib.h>

#include "common/common.h"

#define POLY 0x82f63b78u

static uint32_t table[8][256];
static int have_sse42 = -1;

static void
init_table(void)
{
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t c = n;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? (c >> 1) ^ POLY : c >> 1;
        table[0][n] = c;
    }
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t c = table[0][n];
        for (int k = 1; k < 8; k++) {
            c = table[0][c & 0xff] ^ (c >> 8);
            table[k][n] = c;
        }
    }
}

static uint32_t
crc_sw(uint32_t crc, const uint8_t *p, size_t len)
{
    while (len && ((uintptr_t)p & 7)) {
        crc = table[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
        len--;
    }
    while (len >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
        w = __builtin_bswap64(w);
#endif
        w ^= crc;
        crc = table[7][w & 0xff] ^ table[6][(w >> 8) & 0xff] ^
              table[5][(w >> 16) & 0xff] ^ table[4][(w >> 24) & 0xff] ^
              table[3][(w >> 32) & 0xff] ^ table[2][(w >> 40) & 0xff] ^
              table[1][(w >> 48) & 0xff] ^ table[0][w >> 56];
        p += 8;
        len -= 8;
    }
    while (len--)
        crc = table[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return crc;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) static uint32_t
crc_hw(uint32_t crc, const uint8_t *p, size_t len)
{
    uint64_t c = crc;
    while (len && ((uintptr_t)p & 7)) {
        c = __builtin_ia32_crc32qi((uint32_t)c, *p++);
        len--;
    }
    while (len >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        c = __builtin_ia32_crc32di(c, w);
        p += 8;
        len -= 8;
    }
    while (len--)
        c = __builtin_ia32_crc32qi((uint32_t)c, *p++);
    return (uint32_t)c;
}
#endif

static void
crc_init(void)
{
    init_table();
#if defined(__x86_64__)
    __builtin_cpu_init();
    have_sse42 = __builtin_cpu_supports("sse4.2") ? 1 : 0;
#else
    have_sse42 = 0;
#endif
}

/* Exposed for tests: force the portable path. */
uint32_t kfk_crc32c_sw(uint32_t crc, const void *data, size_t len);

uint32_t
kfk_crc32c_sw(uint32_t crc, const void *data, size_t len)
{
    if (have_sse42 < 0) crc_init();
    return ~crc_sw(~crc, data, len);
}

uint32_t
kfk_crc32c(uint32_t crc, const void *data, size_t len)
{
    if (kfk_unlikely(have_sse42 < 0)) crc_init();
#if defined(__x86_64__)
    if (have_sse42) return ~crc_hw(~crc, data, len);
#endif
    return ~crc_sw(~crc, data, len);
}

uint32_t
kfk_crc32(uint32_t crc, const void *data, size_t len)
{
    uLong c = crc;
    const Bytef *p = data;
    while (len) {
        uInt n = len > 0x40000000u ? 0x40000000u : (uInt)len;
        c = crc32(c, p, n);
        p += n;
        len -= n;
    }
    return (uint32_t)c;
}
