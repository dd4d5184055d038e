/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What a virtio-rng device process may do beyond the common device table
 * (seccomp-device.c): read the kernel's random numbers, nothing else.
 * Its fd 7 is /dev/null and never used.
 */
#include "device.h"
#include "macro.h"
#include "seccomp-util.h"

static const SeccompRule rng_rules[] = {
        SECCOMP_ALLOW(getrandom, "fill the guest's requests"),
};

const SeccompTable seccomp_table_rng = {
        .backend = "rng",
        .rules = rng_rules,
        .n_rules = ELEMENTSOF(rng_rules),
};
