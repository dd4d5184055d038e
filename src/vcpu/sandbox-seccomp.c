/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Builds the worker's seccomp filter from the allow-list tables. */
#include <errno.h>
#include <seccomp.h>

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

/* Loads one filter allowing what the tables allow; deny for anything else.
 * Filters stack: a later one can only narrow what an earlier one allows. */
static int seccomp_load_tables(const SeccompTable *const *tables, size_t n_tables, uint32_t deny, const char *what) {
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
        r = seccomp_load(ctx);
        if (r < 0)
                return log_error_errno(r, "seccomp: cannot load the %s filter: %m", what);
        return 0;
}

int sandbox_seccomp_install(const char *backend, bool log_only) {
        const SeccompTable *t = seccomp_table_for_backend(backend);

        if (!t)
                return log_error_errno(-EPROTONOSUPPORT, "seccomp: no allow-list for backend '%s'", strna(backend));
        return seccomp_load_tables((const SeccompTable *const[]) { &seccomp_table_common, &seccomp_table_sanitizer, t },
                                   3, log_only ? SCMP_ACT_LOG : SCMP_ACT_KILL_PROCESS, backend);
}

int sandbox_seccomp_install_idle(void) {
        const SeccompTable *tables[3 + ELEMENTSOF(backend_tables)] = {
                &seccomp_table_common, &seccomp_table_sanitizer, &seccomp_table_setup,
        };

        /* Every backend's run loop too: the backend's own filter narrows it. */
        for (size_t i = 0; i < ELEMENTSOF(backend_tables); i++)
                tables[3 + i] = backend_tables[i];
        return seccomp_load_tables(tables, ELEMENTSOF(tables), SCMP_ACT_KILL_PROCESS, "idle");
}
