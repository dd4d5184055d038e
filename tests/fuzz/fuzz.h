/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stddef.h>
#include <stdint.h>

/* The libFuzzer entry point every target defines. Linked with libFuzzer
 * under -Dfuzz=true (clang), else with standalone-main.c, which feeds it
 * each file of the seed corpus once. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
