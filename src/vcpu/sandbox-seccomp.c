/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Builds the worker's seccomp filter from the allow-list tables. */
#include <errno.h>
#include <linux/futex.h>
#include <seccomp.h>

#include "hv.h"
#include "log.h"
#include "macro.h"
#include "sandbox-seccomp.h"
#include "worker-protocol.h"

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

static int backend_kick_signal(const char *backend) {
        const HvBackendOps *ops = hv_backend_lookup(backend);

        return ops ? ops->vcpu_kick_signal : 0;
}

int sandbox_seccomp_install(const char *backend, bool log_only, int first_kick_fd, size_t n_kicks) {
        const SeccompTable *t = seccomp_table_for_backend(backend);
        SeccompRule virtio[WORKER_VIRTIO_MAX + 1];
        size_t n = 0;
        int kick;

        if (!t || !hv_backend_lookup(backend))
                return log_error_errno(-EPROTONOSUPPORT, "seccomp: no allow-list for backend '%s'", strna(backend));
        if (n_kicks > WORKER_VIRTIO_MAX)
                return -E2BIG;
        for (size_t i = 0; i < n_kicks; i++)
                virtio[n++] = (SeccompRule) SECCOMP_ALLOW_IF_EQ(write, 0, first_kick_fd + (int) i,
                                                                "kick a virtio device: its eventfd only");
        if (n_kicks > 0)
                virtio[n++] = (SeccompRule) SECCOMP_ALLOW_IF_EQ(futex, 1, FUTEX_WAIT,
                                                                "a driver's virtio reset waits for its device");
        kick = backend_kick_signal(backend);
        return seccomp_load_tables((const SeccompTable *const[]) {
                                           &seccomp_table_common, &seccomp_table_sanitizer, t,
                                           &(const SeccompTable) { .backend = "virtio", .rules = virtio, .n_rules = n },
                                   },
                                   4, &kick, 1, log_only ? SCMP_ACT_LOG : SCMP_ACT_KILL_PROCESS, backend);
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
