/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Internal to the spec parser (vm-spec.c, spec-field.c, json-strict.c,
 * image-path.c): filling a VmSpecError, and quoting what the user wrote so
 * that a hostile spec cannot flood or garble the logs its errors end up in.
 */

#include <stddef.h>
#include <string.h>

#include "macro.h"
#include "vm-spec.h"

/* Sets error (may be NULL) to path and the formatted message; returns r. */
int spec_error(VmSpecError *error, int r, const char *path, const char *format, ...) _printf_(4, 5);

/* "parent.key", or "key" at the top level. */
void spec_path_join(char *buf, size_t size, const char *parent, const char *key);

/* Quotes len bytes of s into buf: escapes what is not printable ASCII and
 * shortens it with "..." to fit size. Returns buf. */
const char *spec_quote(char *buf, size_t size, const char *s, size_t len);

#define SPEC_QUOTE_MAX 80
#define QUOTE(s, len) spec_quote((char[SPEC_QUOTE_MAX]){}, SPEC_QUOTE_MAX, (s), (len))
/* File paths are shown in full up to the lengths a message can hold. */
#define QUOTE_PATH(s) spec_quote((char[256]){}, 256, (s), strlen(s))
