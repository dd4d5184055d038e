/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdarg.h>
#include <stdio.h>

#include "spec-error.h"

int spec_error(VmSpecError *error, int r, const char *path, const char *format, ...) {
        va_list ap;

        if (!error)
                return r;
        snprintf(error->path, sizeof(error->path), "%s", path);
        va_start(ap, format);
        vsnprintf(error->message, sizeof(error->message), format, ap);
        va_end(ap);
        return r;
}

const char *vm_spec_error_to_string(const VmSpecError *e, char *buf, size_t len) {
        if (!e)
                snprintf(buf, len, "unknown error");
        else if (e->path[0] == '\0')
                snprintf(buf, len, "%s", e->message);
        else
                snprintf(buf, len, "%s: %s", e->path, e->message);
        return buf;
}

void spec_path_join(char *buf, size_t size, const char *parent, const char *key) {
        snprintf(buf, size, "%s%s%s", parent, parent[0] ? "." : "", key);
}

const char *spec_quote(char *buf, size_t size, const char *s, size_t len) {
        size_t o = 0;

        buf[o++] = '"';
        for (size_t i = 0; i < len; i++) {
                unsigned char c = (unsigned char) s[i];
                /* Room for one escaped character, "...", the quote and NUL. */
                if (o + 4 + 3 + 2 > size) {
                        o += (size_t) snprintf(buf + o, size - o, "...");
                        break;
                }
                if (c == '"' || c == '\\')
                        o += (size_t) snprintf(buf + o, size - o, "\\%c", c);
                else if (c < 0x20 || c >= 0x7f)
                        o += (size_t) snprintf(buf + o, size - o, "\\x%02x", c);
                else
                        buf[o++] = (char) c;
        }
        buf[o++] = '"';
        buf[o] = '\0';
        return buf;
}
