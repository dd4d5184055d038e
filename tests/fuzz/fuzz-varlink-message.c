/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The varlink message reader on the bytes any local client may send: the
 * input is cut at each NUL as the server frames it, and every message is
 * parsed. What it accepts must be what a handler may rely on; what it
 * refuses must come with an error to answer. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "macro.h"
#include "varlink-server.h"

static void check_message(const char *text, size_t size) {
        VarlinkCall call;
        VarlinkCallError e = {};
        int r = varlink_call_parse(text, size, &call, &e);

        if (r < 0) {
                if (!IN_SET(r, -EMSGSIZE, -EBADMSG, -EINVAL) || !e.error || !e.message || call.message)
                        abort();
                return;
        }
        if (!call.message || !call.method || !json_object_is_type(call.message, json_type_object) ||
            (call.parameters && !json_object_is_type(call.parameters, json_type_object)))
                abort();
        /* A handler reads the parameters and the reply echoes values back. */
        if (!json_object_to_json_string_ext(call.message, JSON_C_TO_STRING_PLAIN))
                abort();
        varlink_call_done(&call);
        if (call.message)
                abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        const char *p = (const char *) data, *end = p + size;

        while (p < end) {
                const char *nul = memchr(p, 0, (size_t) (end - p));
                if (!nul)
                        break; /* an unfinished message waits for more bytes */
                check_message(p, (size_t) (nul - p));
                p = nul + 1;
        }
        return 0;
}
