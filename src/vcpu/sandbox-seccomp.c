/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Builds the worker's seccomp filter from the allow-list tables. */
#include <errno.h>
#include <seccomp.h>

#include "hv.h"
#include "log.h"
#include "macro.h"
#include "sandbox-seccomp.h"
#include "sandbox.h"

static const SeccompTable *const backend_tables[] = {
        &seccomp_table_kernel,
        &seccomp_table_sim,
};

const SeccompTable *seccomp_table_for_backend(const char *backend) {
        for (size_t i = 0; i < ELEMENTSOF(backend_tables); i++)
                if (backend && streq(backend_tables[i]->backend, backend))
                        return backend_tables[i];
        return NULL;
}

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

/* Loads one filter allowing what the tables allow, plus tgkill with each
 * given kick signal (0: none); deny for anything else. Filters stack: a later
 * one can only narrow what an earlier one allows. */
static int seccomp_load_tables(const SeccompTable *const *tables, size_t n_tables, const int *kick_signals,
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

static int backend_kick_signal(const char *backend) {
        const HvBackendOps *ops = hv_backend_lookup(backend);

        return ops ? ops->vcpu_kick_signal : 0;
}

int sandbox_seccomp_install(const char *backend, bool log_only) {
        const SeccompTable *t = seccomp_table_for_backend(backend);
        int kick;

        if (!t || !hv_backend_lookup(backend))
                return log_error_errno(-EPROTONOSUPPORT, "seccomp: no allow-list for backend '%s'", strna(backend));
        kick = backend_kick_signal(backend);
        return seccomp_load_tables((const SeccompTable *const[]) { &seccomp_table_common, &seccomp_table_sanitizer, t },
                                   3, &kick, 1, log_only ? SCMP_ACT_LOG : SCMP_ACT_KILL_PROCESS, backend);
}

int sandbox_seccomp_install_idle(void) {
        const SeccompTable *tables[3 + ELEMENTSOF(backend_tables)] = {
                &seccomp_table_common, &seccomp_table_sanitizer, &seccomp_table_setup,
        };

        int kicks[ELEMENTSOF(backend_tables)];

        /* Every backend's run loop too: the backend's own filter narrows it. */
        for (size_t i = 0; i < ELEMENTSOF(backend_tables); i++) {
                tables[3 + i] = backend_tables[i];
                kicks[i] = backend_kick_signal(backend_tables[i]->backend);
        }
        return seccomp_load_tables(tables, ELEMENTSOF(tables), kicks, ELEMENTSOF(kicks), SCMP_ACT_KILL_PROCESS, "idle");
}
