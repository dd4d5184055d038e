/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Allow-list of the kernel backend's worker on top of seccomp-common.c: the
 * vCPU fd was mmapped at attach, so VCPU_RUN is all that is left to do.
 */
#include "gunyah-abi.h"
#include "macro.h"
#include "sandbox-seccomp.h"
#include "worker-protocol.h"

_Static_assert(WORKER_IRQFDS_MAX == 4, "one write rule per irqfd below");

static const SeccompRule rules[] = {
        SECCOMP_ALLOW_IF_EQ(ioctl, 1, GUNYAH_VCPU_RUN, "GUNYAH_VCPU_RUN on the vCPU fd; no other request"),
        /* The irqfds follow the one backend fd (6): fds 7 .. 6 + WORKER_IRQFDS_MAX. */
        SECCOMP_ALLOW_IF_EQ(write, 0, WORKER_FD_BACKEND + 1, "ring a doorbell: write to irqfd 1"),
        SECCOMP_ALLOW_IF_EQ(write, 0, WORKER_FD_BACKEND + 2, "ring a doorbell: write to irqfd 2"),
        SECCOMP_ALLOW_IF_EQ(write, 0, WORKER_FD_BACKEND + 3, "ring a doorbell: write to irqfd 3"),
        SECCOMP_ALLOW_IF_EQ(write, 0, WORKER_FD_BACKEND + 4, "ring a doorbell: write to irqfd 4"),
};

const SeccompTable seccomp_table_kernel = {
        .backend = "kernel",
        .rules = rules,
        .n_rules = ELEMENTSOF(rules),
};
