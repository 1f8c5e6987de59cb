/*
 * hex.h -- read the hex dumps under tests/golden (64 hex digits a line).
 */
#ifndef KFK_TEST_HEX_H
#define KFK_TEST_HEX_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* Read a hex file into a malloc'd buffer; NULL if it cannot be read. */
static inline uint8_t *
hex_read_file(const char *path, size_t *lenp)
{
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    size_t cap = 4096, n = 0;
    uint8_t *out = malloc(cap);
    int hi = -1, c;
    while (out && (c = fgetc(f)) != EOF) {
        int v;
        if (c >= '0' && c <= '9')
            v = c - '0';
        else if (c >= 'a' && c <= 'f')
            v = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            v = c - 'A' + 10;
        else
            continue;
        if (hi < 0) {
            hi = v;
            continue;
        }
        if (n == cap) {
            uint8_t *t = realloc(out, cap *= 2);
            if (!t) {
                free(out);
                out = NULL;
                break;
            }
            out = t;
        }
        out[n++] = (uint8_t)(hi << 4 | v);
        hi = -1;
    }
    fclose(f);
    *lenp = n;
    return out;
}

#endif
