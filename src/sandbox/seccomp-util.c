/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Builds seccomp filters from reviewed allow-list tables. */
#include <errno.h>
#include <seccomp.h>

#include "log.h"
#include "macro.h"
#include "seccomp-util.h"

static void seccomp_releasep(scmp_filter_ctx *ctx) {
        if (*ctx)
                seccomp_release(*ctx);
}

static int seccomp_add_table(scmp_filter_ctx ctx, const SeccompTable *t) {
        for (size_t i = 0; i < t->n_rules; i++) {
                const SeccompRule *rule = &t->rules[i];
                int r;

                /* A syscall this architecture does not have (open on arm64):
                 * its modern equivalent is in the table too. */
                if (rule->nr < 0)
                        continue;
                if (rule->has_arg)
                        r = seccomp_rule_add_exact(ctx, SCMP_ACT_ALLOW, rule->nr, 1, rule->arg);
                else
                        r = seccomp_rule_add_exact(ctx, SCMP_ACT_ALLOW, rule->nr, 0);
                if (r < 0)
                        return log_error_errno(r, "seccomp: cannot allow %s (%s table): %m", rule->name,
                                               t->backend ?: "common");
        }
        return 0;
}

int seccomp_load_tables(const SeccompTable *const *tables, size_t n_tables, const int *kick_signals,
                        size_t n_kicks, uint32_t deny, const char *what) {
        _cleanup_(seccomp_releasep) scmp_filter_ctx ctx = NULL;
        int r;

        ctx = seccomp_init(deny);
        if (!ctx)
                return log_oom();
        /* Another architecture's syscall numbers (x32, compat) kill as well. */
        r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
        if (r < 0)
                return log_error_errno(r, "seccomp: cannot set the bad-arch action: %m");
        /* no_new_privs is already set by the sandbox; say it is required. */
        r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 1);
        if (r < 0)
                return log_error_errno(r, "seccomp: cannot require no_new_privs: %m");

        for (size_t i = 0; i < n_tables; i++) {
                r = seccomp_add_table(ctx, tables[i]);
                if (r < 0)
                        return r;
        }
        /* tgkill with the signal a backend kicks other workers' vCPUs with,
         * and no other: it could otherwise kill any thread of the worker's user. */
        for (size_t i = 0; i < n_kicks; i++) {
                const SeccompRule kick = SECCOMP_ALLOW_IF_EQ(tgkill, 2, kick_signals[i],
                        "kick another worker's vCPU out of guest code, with the backend's vcpu_kick_signal only");
                if (kick_signals[i] == 0)
                        continue;
                r = seccomp_add_table(ctx, &(const SeccompTable) { .backend = what, .rules = &kick, .n_rules = 1 });
                if (r < 0)
                        return r;
        }
        r = seccomp_load(ctx);
        if (r < 0)
                return log_error_errno(r, "seccomp: cannot load the %s filter: %m", what);
        return 0;
}
