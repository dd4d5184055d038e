/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdint.h>

/* Parses an unsigned integer: decimal, or hexadecimal with a 0x prefix.
 * No sign, no whitespace, no trailing characters. -EINVAL or -ERANGE. */
int parse_u64(const char *s, uint64_t *ret);

/* Parses a byte size: an integer as parse_u64(), optionally followed by one
 * of K, M, G, T (binary multiples; an optional trailing "iB" or "B" is
 * accepted, e.g. "256M", "1GiB", "2048K"). -EINVAL, or -ERANGE on overflow. */
int parse_size(const char *s, uint64_t *ret);

int parse_u32(const char *s, uint32_t *ret);
int parse_int(const char *s, int *ret);

/* Formats a byte size in the largest binary unit that divides it exactly ("256M"). */
const char *format_size(char *buf, size_t len, uint64_t size);
#define FORMAT_SIZE_MAX 32
