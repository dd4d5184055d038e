/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Allow-list of the kernel backend's worker on top of seccomp-common.c: the
 * vCPU fd was mmapped at attach, so VCPU_RUN is all that is left to do.
 */
#include "gunyah-abi.h"
#include "macro.h"
#include "sandbox-seccomp.h"

static const SeccompRule rules[] = {
        SECCOMP_ALLOW_IF_EQ(ioctl, 1, GUNYAH_VCPU_RUN, "GUNYAH_VCPU_RUN on the vCPU fd; no other request"),
};

const SeccompTable seccomp_table_kernel = {
        .backend = "kernel",
        .rules = rules,
        .n_rules = ELEMENTSOF(rules),
};
