/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * A strict JSON reader for documents written by people: the document must be
 * one JSON object, UTF-8, with nothing after it, no comments, no
 * single-quoted strings, and no key twice in one object (json-c keeps the
 * last of duplicate keys and says nothing, so a spec with two "memory" keys
 * would silently ignore one of them).
 */

#include <json-c/json.h>
#include <stddef.h>

#include "vm-spec.h"

/* Parses len bytes of json (no NUL terminator needed; an embedded NUL is
 * refused). On failure returns -EINVAL with error (may be NULL) naming the
 * line and column of a syntax error or the path of a duplicate key, or
 * -ENOMEM; *ret is written only on success. */
int json_strict_parse_object(const char *json, size_t len, json_object **ret, VmSpecError *error);
