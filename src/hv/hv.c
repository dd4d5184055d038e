/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

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

DEFINE_STRING_TABLE(hv_abi, HvAbi, abi_names)
DEFINE_STRING_TABLE(hv_mem_access, HvMemAccess, mem_access_names)

const HvBackendOps *hv_backend_lookup(const char *name) {
        const HvBackendOps *candidates[] = { &hv_kernel_ops, &hv_sim_ops };

        if (!name)
                return NULL;
        for (size_t i = 0; i < ELEMENTSOF(candidates); i++)
                if (candidates[i] && candidates[i]->name && streq(candidates[i]->name, name))
                        return candidates[i];
        return NULL;
}

int hv_check_eventfd(int fd) {
        char path[64], target[64];
        ssize_t n;

        if (fd < 0 || fcntl(fd, F_GETFD) < 0)
                return -EBADF;
        snprintf(path, sizeof(path), "/proc/self/fd/%i", fd);
        n = readlink(path, target, sizeof(target) - 1);
        if (n < 0)
                return -EINVAL;
        target[n] = 0;
        /* eventfd_ctx_fdget(): any other file is -EINVAL */
        return streq(target, "anon_inode:[eventfd]") ? 0 : -EINVAL;
}

/* What a real Resource Manager stack meant by each START errno
 * (docs/real-gunyah.md, gunyahd(8) TROUBLESHOOTING). */
static const struct {
        int error;
        const char *meaning;
} start_errors[] = {
        { EOPNOTSUPP, "the Gunyah driver needs Resource Manager calls this hypervisor build lacks "
                      "(driver newer than the hypervisor)" },
        { EPERM, "the Resource Manager denied the VM (some builds allow one VM per boot), "
                 "or lent memory was still mapped in the host" },
        { ENOMEM, "the driver could not allocate the memory parcels (a driver bug seen with "
                  "memory.mode share; try lend) or the host is out of memory" },
        { ENOENT, "the devicetree lies outside the VM's memory (a gunyahd bug)" },
};

const char *hv_start_error_meaning(int error) {
        error = error < 0 ? -error : error;
        for (size_t i = 0; i < ELEMENTSOF(start_errors); i++)
                if (start_errors[i].error == error)
                        return start_errors[i].meaning;
        return NULL;
}

uint64_t hv_guest_mem_flags(uint64_t size) {
        /* Hugepage memory binds in 2 MiB units only: ask for it only where
         * the whole memory can be bound that way. */
        if (size > 0 && size % HV_GUEST_MEM_HUGEPAGE_SIZE == 0)
                return GHMF_CLOEXEC | GHMF_ALLOW_HUGEPAGE;
        return GHMF_CLOEXEC;
}
