/*
 * crc32c.c -- CRC-32C (Castagnoli) for RecordBatch v2 checksums.
 *
 * On x86-64 with SSE4.2 the crc32 instruction is used.  One crc32 has a
 * latency of three cycles but the CPU can start one every cycle, so long
 * buffers are cut in three parts whose CRCs run interleaved, then joined:
 * CRC is linear, so crc(A||B) = shift(crc(A), |B|) ^ crc0(B), where shift
 * appends |B| zero bytes, a fixed linear map on 32 bits done with four
 * table look-ups.  Elsewhere a slicing-by-8 table is used.  The choice is
 * made once, at the first call, from cpuid.  CRC-32 (IEEE) for legacy
 * messages is zlib's.
 */
#include <pthread.h>
#include <string.h>
#include <zlib.h>

#include "common/common.h"

#define POLY 0x82f63b78u

static uint32_t table[8][256];
static int have_sse42 = -1;
static pthread_once_t init_once = PTHREAD_ONCE_INIT;

/* Stream lengths of the three-way interleave, and the tables that append
 * that many zero bytes to a (raw) CRC state. */
#define LONG_BLOCK  8192
#define SHORT_BLOCK 256
static uint32_t long_shift[4][256];
static uint32_t short_shift[4][256];

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

/* The tables of "append len zero bytes": the map is linear, so its value
 * on each bit of the state gives it on any state. */
static void
make_shift(uint32_t tab[4][256], size_t len)
{
    static const uint8_t zeros[LONG_BLOCK];
    uint32_t basis[32];
    for (int i = 0; i < 32; i++)
        basis[i] = crc_sw(1u << i, zeros, len);
    for (int k = 0; k < 4; k++) {
        for (uint32_t b = 0; b < 256; b++) {
            uint32_t x = 0;
            for (int j = 0; j < 8; j++)
                if (b >> j & 1) x ^= basis[8 * k + j];
            tab[k][b] = x;
        }
    }
}

static inline uint32_t
shift(uint32_t tab[4][256], uint32_t c)
{
    return tab[0][c & 0xff] ^ tab[1][(c >> 8) & 0xff] ^
           tab[2][(c >> 16) & 0xff] ^ tab[3][c >> 24];
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
    /* Three interleaved streams, long blocks then short ones. */
    static const size_t blocks[2] = {LONG_BLOCK, SHORT_BLOCK};
    for (int k = 0; k < 2; k++) {
        size_t n = blocks[k];
        uint32_t(*tab)[256] = k == 0 ? long_shift : short_shift;
        while (len >= 3 * n) {
            uint64_t c1 = 0, c2 = 0;
            const uint8_t *end = p + n;
            do {
                uint64_t w0, w1, w2;
                memcpy(&w0, p, 8);
                memcpy(&w1, p + n, 8);
                memcpy(&w2, p + 2 * n, 8);
                c = __builtin_ia32_crc32di(c, w0);
                c1 = __builtin_ia32_crc32di(c1, w1);
                c2 = __builtin_ia32_crc32di(c2, w2);
                p += 8;
            } while (p < end);
            c = shift(tab, (uint32_t)c) ^ (uint32_t)c1;
            c = shift(tab, (uint32_t)c) ^ (uint32_t)c2;
            p += 2 * n;
            len -= 3 * n;
        }
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
    make_shift(long_shift, LONG_BLOCK);
    make_shift(short_shift, SHORT_BLOCK);
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
    pthread_once(&init_once, crc_init);
    return ~crc_sw(~crc, data, len);
}

uint32_t
kfk_crc32c(uint32_t crc, const void *data, size_t len)
{
    pthread_once(&init_once, crc_init);
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
