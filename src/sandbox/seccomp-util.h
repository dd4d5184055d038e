/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Seccomp allow-lists as reviewed tables: every line is one syscall,
 * optionally limited by one argument, with the reason it is needed
 * (docs/sandbox.md lists them). The vCPU worker has one table per backend
 * (src/vcpu/seccomp-*.c), a device process one per device type
 * (src/device/seccomp-*.c). */

#include <seccomp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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
/* Allowed only when argument i >= value (unsigned). */
#define SECCOMP_ALLOW_IF_GE(sys, i, value, why)                                          \
        { .nr = SCMP_SYS(sys), .name = #sys, .has_arg = true,                            \
          .arg = { .arg = (i), .op = SCMP_CMP_GE, .datum_a = (scmp_datum_t) (value) },   \
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

/* Empty unless built with -Db_sanitize: what the sanitizer runtimes need. */
extern const SeccompTable seccomp_table_sanitizer;

/* Loads one filter allowing what the tables allow, plus tgkill with each
 * given kick signal (0: none); `deny` for anything else. Filters stack: a
 * later one can only narrow what an earlier one allows. `what` names the
 * filter in errors. */
int seccomp_load_tables(const SeccompTable *const *tables, size_t n_tables, const int *kick_signals,
                        size_t n_kicks, uint32_t deny, const char *what);
