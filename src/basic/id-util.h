/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>

/* A random (version 4) UUID in its lowercase 36-character text form. */
int uuid_generate_string(char ret[static 37]);
bool uuid_string_is_valid(const char *s);

/* "ENOENT" for -ENOENT or ENOENT; "E<n>" when glibc has no name for it. */
const char *errno_to_name(int error);
