/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "macro.h"
#include "parse-util.h"

int parse_u64(const char *s, uint64_t *ret) {
        unsigned long long v;
        char *end;
        int base = 10;

        if (!s || !isdigit((unsigned char) s[0]))
                return -EINVAL;
        if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
                base = 16;
                s += 2;
                if (!isxdigit((unsigned char) s[0]))
                        return -EINVAL;
        }

        errno = 0;
        v = strtoull(s, &end, base);
        if (errno == ERANGE)
                return -ERANGE;
        if (errno != 0 || end == s || *end != '\0')
                return -EINVAL;

        *ret = (uint64_t) v;
        return 0;
}

int parse_u32(const char *s, uint32_t *ret) {
        uint64_t v;
        int r;

        r = parse_u64(s, &v);
        if (r < 0)
                return r;
        if (v > UINT32_MAX)
                return -ERANGE;
        *ret = (uint32_t) v;
        return 0;
}

int parse_int(const char *s, int *ret) {
        long v;
        char *end;

        if (!s || !*s || isspace((unsigned char) s[0]))
                return -EINVAL;
        errno = 0;
        v = strtol(s, &end, 10);
        if (errno == ERANGE || v > INT_MAX || v < INT_MIN)
                return -ERANGE;
        if (errno != 0 || *end != '\0')
                return -EINVAL;
        *ret = (int) v;
        return 0;
}

static int suffix_shift(const char *suffix, unsigned *ret_shift) {
        static const struct {
                char letter;
                unsigned shift;
        } units[] = {
                { 'K', 10 }, { 'M', 20 }, { 'G', 30 }, { 'T', 40 },
        };

        if (*suffix == '\0') {
                *ret_shift = 0;
                return 0;
        }
        if (streq(suffix, "B")) {
                *ret_shift = 0;
                return 0;
        }
        for (size_t i = 0; i < ELEMENTSOF(units); i++) {
                if (toupper((unsigned char) suffix[0]) != units[i].letter)
                        continue;
                if (suffix[1] == '\0' || streq(suffix + 1, "iB") || streq(suffix + 1, "B")) {
                        *ret_shift = units[i].shift;
                        return 0;
                }
        }
        return -EINVAL;
}

int parse_size(const char *s, uint64_t *ret) {
        char number[32];
        const char *p = s;
        unsigned shift;
        uint64_t v;
        size_t n;
        int r;

        if (!s)
                return -EINVAL;

        /* Split the numeric part (decimal or 0x-hex) from the unit suffix. */
        if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
                p += 2;
                while (isxdigit((unsigned char) *p))
                        p++;
        } else
                while (isdigit((unsigned char) *p))
                        p++;

        n = (size_t) (p - s);
        if (n == 0 || n >= sizeof(number))
                return n == 0 ? -EINVAL : -ERANGE;
        memcpy(number, s, n);
        number[n] = '\0';

        r = parse_u64(number, &v);
        if (r < 0)
                return r;
        r = suffix_shift(p, &shift);
        if (r < 0)
                return r;
        if (shift > 0 && v > (UINT64_MAX >> shift))
                return -ERANGE;

        *ret = v << shift;
        return 0;
}

const char *format_size(char *buf, size_t len, uint64_t size) {
        static const char units[] = { 'T', 'G', 'M', 'K' };
        static const unsigned shifts[] = { 40, 30, 20, 10 };

        for (size_t i = 0; i < ELEMENTSOF(units); i++) {
                uint64_t m = UINT64_C(1) << shifts[i];
                if (size != 0 && size % m == 0) {
                        snprintf(buf, len, "%" PRIu64 "%c", size / m, units[i]);
                        return buf;
                }
        }
        snprintf(buf, len, "%" PRIu64, size);
        return buf;
}
