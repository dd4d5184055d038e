/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "macro.h"
#include "vm-spec-assert.h"

VmSpec *parse_ok_flags(const char *json, unsigned flags) {
        VmSpecError e = {};
        VmSpec *s = NULL;
        char buf[600];
        int r;

        r = vm_spec_parse(json, strlen(json), flags, &s, &e);
        if (r < 0)
                fail_msg("parsing %s failed (%d): %s", json, r, vm_spec_error_to_string(&e, buf, sizeof(buf)));
        assert_non_null(s);
        return s;
}

VmSpec *parse_ok(const char *json) {
        return parse_ok_flags(json, VM_SPEC_SKIP_FILE_CHECKS);
}

void check_error(int r, int expected_r, const VmSpecError *e, const VmSpec *s,
                 const char *what, const char *path, const char *substring) {
        char buf[600];

        if (r != expected_r)
                fail_msg("%s: expected %d, got %d (%s)", what, expected_r, r,
                         r < 0 ? vm_spec_error_to_string(e, buf, sizeof(buf)) : "accepted");
        if (s != (VmSpec *) 0x1)
                fail_msg("%s: *ret was written on failure", what);
        if (!streq(e->path, path))
                fail_msg("%s: expected error path \"%s\", got \"%s\" (%s)", what, path, e->path, e->message);
        if (!strstr(e->message, substring))
                fail_msg("%s: expected message containing \"%s\", got \"%s\"", what, substring, e->message);
}

void parse_fails_len(const char *json, size_t len, unsigned flags, int expected_r,
                     const char *path, const char *substring) {
        VmSpecError e = {};
        VmSpec *s = (VmSpec *) 0x1;
        int r;

        r = vm_spec_parse(json, len, flags, &s, &e);
        check_error(r, expected_r, &e, s, json, path, substring);
}

void parse_fails(const char *json, const char *path, const char *substring) {
        parse_fails_len(json, strlen(json), VM_SPEC_SKIP_FILE_CHECKS, -EINVAL, path, substring);
}
