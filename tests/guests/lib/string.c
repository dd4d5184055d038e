/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The compiler may emit calls to memset/memcpy even when freestanding. Byte
 * loops only: with the MMU off, memory is Device and unaligned wide
 * accesses would fault. */

#include "guest.h"

void *memset(void *s, int c, size_t n) {
        volatile unsigned char *p = s;

        while (n--)
                *p++ = (unsigned char) c;
        return s;
}

void *memcpy(void *d, const void *s, size_t n) {
        volatile unsigned char *dp = d;
        const unsigned char *sp = s;

        while (n--)
                *dp++ = *sp++;
        return d;
}

int memcmp(const void *a, const void *b, size_t n) {
        const unsigned char *x = a, *y = b;

        for (; n; n--, x++, y++)
                if (*x != *y)
                        return *x - *y;
        return 0;
}

size_t strlen(const char *s) {
        size_t n = 0;

        while (s[n])
                n++;
        return n;
}

int strncmp(const char *a, const char *b, size_t n) {
        for (; n; n--, a++, b++) {
                if (*a != *b)
                        return (unsigned char) *a - (unsigned char) *b;
                if (!*a)
                        return 0;
        }
        return 0;
}

int strcmp(const char *a, const char *b) {
        return strncmp(a, b, SIZE_MAX);
}
