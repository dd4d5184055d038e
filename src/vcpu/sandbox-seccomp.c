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

/* tgkill with the signal the backend kicks other workers' vCPUs with, and no
 * other: it could otherwise kill any thread of the worker's user. */
static int seccomp_add_kick(scmp_filter_ctx ctx, const HvBackendOps *ops) {
        const SeccompRule kick = SECCOMP_ALLOW_IF_EQ(tgkill, 2, ops->vcpu_kick_signal,
                "kick another worker's vCPU out of guest code, with the backend's vcpu_kick_signal only");

        if (ops->vcpu_kick_signal == 0)
                return 0;
        return seccomp_add_table(ctx, &(const SeccompTable) { .backend = ops->name, .rules = &kick, .n_rules = 1 });
}

int sandbox_seccomp_install(const char *backend, bool log_only) {
        _cleanup_(seccomp_releasep) scmp_filter_ctx ctx = NULL;
        uint32_t deny = log_only ? SCMP_ACT_LOG : SCMP_ACT_KILL_PROCESS;
        const HvBackendOps *ops;
        const SeccompTable *t;
        int r;

        ops = hv_backend_lookup(backend);
        t = seccomp_table_for_backend(backend);
        if (!ops || !t)
                return log_error_errno(-EPROTONOSUPPORT, "seccomp: no allow-list for backend '%s'", strna(backend));

        ctx = seccomp_init(deny);
        if (!ctx)
                return log_oom();
        /* Another architecture's syscall numbers (x32, compat) kill as well. */
        r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
        if (r < 0)
                return log_error_errno(r, "seccomp: cannot set the bad-arch action: %m");
        /* no_new_privs is already set by sandbox_confine(); say it is required. */
        r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 1);
        if (r < 0)
                return log_error_errno(r, "seccomp: cannot require no_new_privs: %m");

        r = seccomp_add_table(ctx, &seccomp_table_common);
        if (r >= 0 && seccomp_table_sanitizer.n_rules > 0)
                r = seccomp_add_table(ctx, &seccomp_table_sanitizer);
        if (r >= 0)
                r = seccomp_add_table(ctx, t);
        if (r >= 0)
                r = seccomp_add_kick(ctx, ops);
        if (r < 0)
                return r;

        r = seccomp_load(ctx);
        if (r < 0)
                return log_error_errno(r, "seccomp: cannot load the %s filter: %m", backend);
        return 0;
}
