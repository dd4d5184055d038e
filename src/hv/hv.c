/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <string.h>

#include "hv.h"
#include "macro.h"
#include "string-table.h"

/* Weak: a program links the simulator in (link_whole) only if it wants it.
 * The kernel backend lives in this library (hv-kernel.c). */
extern const HvBackendOps hv_sim_ops __attribute__((weak));

static const char *const abi_names[_HV_ABI_MAX] = {
        [HV_ABI_U17] = "U17",
        [HV_ABI_A14] = "A14",
};

static const char *const mem_access_names[_HV_MEM_ACCESS_MAX] = {
        [HV_MEM_LEND] = "lend",
        [HV_MEM_SHARE] = "share",
};

const char *hv_abi_to_string(HvAbi abi) {
        return string_table_lookup(abi_names, ELEMENTSOF(abi_names), abi);
}

HvAbi hv_abi_from_string(const char *s) {
        return (HvAbi) string_table_index(abi_names, ELEMENTSOF(abi_names), s);
}

const char *hv_mem_access_to_string(HvMemAccess a) {
        return string_table_lookup(mem_access_names, ELEMENTSOF(mem_access_names), a);
}

HvMemAccess hv_mem_access_from_string(const char *s) {
        return (HvMemAccess) string_table_index(mem_access_names, ELEMENTSOF(mem_access_names), s);
}

const HvBackendOps *hv_backend_lookup(const char *name) {
        const HvBackendOps *candidates[] = { &hv_kernel_ops, &hv_sim_ops };

        if (!name)
                return NULL;
        for (size_t i = 0; i < ELEMENTSOF(candidates); i++)
                if (candidates[i] && candidates[i]->name && streq(candidates[i]->name, name))
                        return candidates[i];
        return NULL;
}
