/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Shared by the vm-spec tests: documents and assertions on parse results. */

#include <stddef.h>

#include "vm-spec.h"

/* Documents: a minimal valid spec plus the keys a case is about. */
#define KERNEL "\"kernel\": \"/k\""
#define SPEC0 "{\"name\": \"t\", " KERNEL "}"
#define SPEC(...) "{\"name\": \"t\", " KERNEL ", " __VA_ARGS__ "}"
#define N16 "abcdefghijklmnop"
#define N64 N16 N16 N16 N16
#define SHARE "\"memory\": {\"mode\": \"share\"}"

/* A document parsing must refuse: the error's path and part of its message. */
typedef struct InvalidCase {
        const char *json;
        const char *path;
        const char *substring;
} InvalidCase;

/* Parses json (the file checks skipped, or with flags) and fails the test
 * with the error if it is refused. */
VmSpec *parse_ok_flags(const char *json, unsigned flags);
VmSpec *parse_ok(const char *json);

/* Checks that parsing fails with r, the error names path, and the message
 * contains substring; that *ret stays untouched. */
void check_error(int r, int expected_r, const VmSpecError *e, const VmSpec *s,
                 const char *what, const char *path, const char *substring);
void parse_fails_len(const char *json, size_t len, unsigned flags, int expected_r,
                     const char *path, const char *substring);
/* As parse_fails_len() for a NUL-terminated json, the file checks skipped, -EINVAL. */
void parse_fails(const char *json, const char *path, const char *substring);
