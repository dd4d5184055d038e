/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include "id-util.h"
#include "macro.h"

int uuid_generate_string(char ret[static 37]) {
        uint8_t b[16];
        ssize_t n;

        n = getrandom(b, sizeof(b), 0);
        if (n < 0)
                return negative_errno();
        if ((size_t) n != sizeof(b))
                return -EIO;

        b[6] = (uint8_t) ((b[6] & 0x0f) | 0x40); /* version 4 */
        b[8] = (uint8_t) ((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
        snprintf(ret, 37,
                 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
                 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
                 b[14], b[15]);
        return 0;
}

bool uuid_string_is_valid(const char *s) {
        if (!s || strlen(s) != 36)
                return false;
        for (size_t i = 0; i < 36; i++) {
                if (i == 8 || i == 13 || i == 18 || i == 23) {
                        if (s[i] != '-')
                                return false;
                } else if (!isxdigit((unsigned char) s[i]))
                        return false;
        }
        return true;
}

const char *errno_to_name(int error) {
        static __thread char buf[16];
        const char *name;

        if (error < 0)
                error = -error;
        name = strerrorname_np(error);
        if (name)
                return name;
        snprintf(buf, sizeof(buf), "E%d", error);
        return buf;
}
