/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Which /dev/gunyah ABI the running kernel speaks, decided by the probe
 * sequence of spec gunyah-abi.md §8 (there is no version ioctl). Only U17
 * and A14 are supported; A15 is recognised and refused (it needs the
 * VM-creating process to run the vCPUs, design §3), the vendor 0xB2 ABI
 * and any combination of answers the spec does not describe are refused
 * with the answers in the reason.
 */

#include <errno.h>

#include "hv.h"

#define ABI_PROBE_DEFAULT_PATH "/dev/gunyah"

typedef enum AbiKind {
        ABI_KIND_U17,
        ABI_KIND_A14,
        ABI_KIND_A15,       /* android15-6.6: recognised, not supported yet */
        ABI_KIND_VENDOR,    /* Qualcomm 0xB2 ABI: cannot boot arbitrary guests */
        ABI_KIND_NO_DEVICE, /* the device node cannot be opened */
        ABI_KIND_UNKNOWN,   /* answers match no known generation */
        _ABI_KIND_MAX,
        _ABI_KIND_INVALID = -EINVAL,
} AbiKind;

const char *abi_kind_to_string(AbiKind k);
AbiKind abi_kind_from_string(const char *s);

typedef struct AbiProbe {
        AbiKind kind;
        HvAbi abi;            /* U17/A14, else _HV_ABI_INVALID */
        int open_error;       /* -errno of open() for ABI_KIND_NO_DEVICE, else 0 */
        char reason[256];     /* human-readable verdict with the answers seen */
} AbiProbe;

/* Probes the device at path (NULL: ABI_PROBE_DEFAULT_PATH). Every verdict,
 * supported or not, is a result: returns 0 and fills *ret. Creates and
 * closes one probe VM (A14 allocates a VMID for it). */
int abi_probe(const char *path, AbiProbe *ret);

/* 0 if the probed ABI is supported; -ENOENT (or the open errno) without a
 * device; -EOPNOTSUPP for a recognised but unsupported or unknown ABI. */
int abi_probe_to_errno(const AbiProbe *p);
