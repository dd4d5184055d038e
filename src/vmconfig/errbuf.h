/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Internal to image.c, layout.c, dtb.c: errors carried to the caller as a
 * negative errno plus a human message in a caller-supplied buffer, because
 * the same code runs in the daemon (which logs it per VM), in gunyahctl
 * (which prints it) and under the fuzzers (which must stay quiet). */

#include <stdarg.h>
#include <stdio.h>

#include "macro.h"

static inline _printf_(4, 5) int errbuf_set(char *buf, size_t len, int r, const char *fmt, ...) {
        if (buf && len > 0) {
                va_list ap;
                va_start(ap, fmt);
                (void) vsnprintf(buf, len, fmt, ap);
                va_end(ap);
        }
        return r;
}
