/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The seccomp allow-lists of the worker: one reviewed table per backend
 * (seccomp-kernel.c, seccomp-sim.c) on top of the run loop's common table
 * (seccomp-common.c). Every line is one syscall, optionally limited by one
 * argument, with the reason it is needed. docs/sandbox.md lists them. */

#include <seccomp.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct SeccompRule {
        int nr;              /* SCMP_SYS(name): native number, or libseccomp's negative pseudo number */
        const char *name;
        bool has_arg;        /* allowed only when arg matches */
        struct scmp_arg_cmp arg;
        const char *reason;
} SeccompRule;

#define SECCOMP_ALLOW(sys, why) { .nr = SCMP_SYS(sys), .name = #sys, .reason = (why) }
/* Allowed only when argument i equals value. */
#define SECCOMP_ALLOW_IF_EQ(sys, i, value, why)                                          \
        { .nr = SCMP_SYS(sys), .name = #sys, .has_arg = true,                            \
          .arg = { .arg = (i), .op = SCMP_CMP_EQ, .datum_a = (scmp_datum_t) (value) },   \
          .reason = (why) }
/* Allowed only when (argument i & mask) equals value. */
#define SECCOMP_ALLOW_IF_MASKED_EQ(sys, i, mask, value, why)                             \
        { .nr = SCMP_SYS(sys), .name = #sys, .has_arg = true,                            \
          .arg = { .arg = (i), .op = SCMP_CMP_MASKED_EQ, .datum_a = (scmp_datum_t) (mask), \
                   .datum_b = (scmp_datum_t) (value) },                                  \
          .reason = (why) }

typedef struct SeccompTable {
        const char *backend; /* NULL for the common table */
        const SeccompRule *rules;
        size_t n_rules;
} SeccompTable;

extern const SeccompTable seccomp_table_common;
/* Empty unless built with -Db_sanitize: what the sanitizer runtimes need. */
extern const SeccompTable seccomp_table_sanitizer;
/* What a worker does between waiting for its configuration and loading its
 * backend's filter (seccomp-setup.c): part of the idle filter only. */
extern const SeccompTable seccomp_table_setup;
extern const SeccompTable seccomp_table_kernel;
extern const SeccompTable seccomp_table_sim;

/* The backend's table, or NULL for a backend that has none (refused). */
const SeccompTable *seccomp_table_for_backend(const char *backend);
