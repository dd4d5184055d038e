/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <string.h>

#include "macro.h"
#include "psci.h"

void sim_exit_info_from_words(struct gunyah_vm_exit_info *info, uint16_t type, const uint32_t *words, uint32_t n_words) {
        uint8_t bytes[64] = {};
        uint32_t size = n_words * 4;

        memset(info, 0, sizeof(*info));
        info->type = type;
        info->reason_size = size;
        /* The words travel little-endian, as the RM sends them. */
        for (uint32_t i = 0; i < n_words && i < 16; i++)
                for (unsigned b = 0; b < 4; b++)
                        bytes[i * 4 + b] = (uint8_t) (words[i] >> (8 * b));
        memcpy(info->reason, bytes, MIN(size, (uint32_t) GUNYAH_VM_MAX_EXIT_REASON_SIZE));
}

static bool is_smc64(uint32_t fn) {
        return fn & 0x40000000u;
}

/* MPIDR affinity → vCPU index: the sim gives vCPU i the MPIDR Aff0 = i. */
static int psci_target(SimShared *s, uint64_t mpidr) {
        if (mpidr & ~UINT64_C(0xff))
                return -1;
        if (mpidr >= SIM_VCPUS_MAX || !s->vcpus[mpidr].present)
                return -1;
        return (int) mpidr;
}

static int64_t psci_cpu_on(SimShared *s, uint32_t fn, const uint64_t x[4]) {
        uint64_t entry = x[2], ctx = x[3];
        int t = psci_target(s, is_smc64(fn) ? x[1] : (uint32_t) x[1]);
        SimVcpuShared *v;
        uint32_t off = SIM_POWER_OFF;

        if (t < 0)
                return PSCI_RET_INVALID_PARAMETERS;
        if (!is_smc64(fn)) {
                entry = (uint32_t) entry;
                ctx = (uint32_t) ctx;
        }
        v = &s->vcpus[t];
        /* Entry and context go in before the power word that publishes them. */
        v->entry = entry;
        v->context_id = ctx;
        v->boot = 0;
        if (!__atomic_compare_exchange_n(&v->power, &off, SIM_POWER_ON_PENDING, false,
                                         __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
                return off == SIM_POWER_ON_PENDING ? PSCI_RET_ON_PENDING : PSCI_RET_ALREADY_ON;
        sim_vcpu_shared_wake(s, (uint32_t) t);
        return PSCI_RET_SUCCESS;
}

static int64_t psci_affinity_info(SimShared *s, uint32_t fn, const uint64_t x[4]) {
        int t = psci_target(s, is_smc64(fn) ? x[1] : (uint32_t) x[1]);

        if (t < 0 || x[2] != 0) /* only affinity level 0 exists */
                return PSCI_RET_INVALID_PARAMETERS;
        return sim_load(&s->vcpus[t].power);
}

static bool psci_supported(uint32_t fn) {
        static const uint32_t fns[] = {
                PSCI_VERSION_FN, PSCI_CPU_OFF, PSCI_CPU_ON_32, PSCI_CPU_ON_64,
                PSCI_AFFINITY_INFO_32, PSCI_AFFINITY_INFO_64, PSCI_MIGRATE_INFO_TYPE,
                PSCI_SYSTEM_OFF, PSCI_SYSTEM_RESET, PSCI_FEATURES,
                PSCI_SYSTEM_RESET2_32, PSCI_SYSTEM_RESET2_64, SMCCC_VERSION_FN,
        };
        for (size_t i = 0; i < ELEMENTSOF(fns); i++)
                if (fns[i] == fn)
                        return true;
        return false;
}

static void psci_end(SimShared *s, uint32_t self, uint16_t type, const uint32_t *words, uint32_t n) {
        struct gunyah_vm_exit_info info;

        sim_exit_info_from_words(&info, type, words, n);
        (void) sim_shared_end_vm(s, GUNYAH_VM_STATUS_EXITED, &info, self);
}

uint64_t psci_handle(SimShared *s, uint32_t self, const uint64_t x[4], PsciAction *ret_action) {
        uint32_t fn = (uint32_t) x[0];
        uint32_t words[4] = {};

        *ret_action = PSCI_ACTION_NONE;
        switch (fn) {
        case PSCI_VERSION_FN:
                return PSCI_VERSION_1_1;
        case SMCCC_VERSION_FN:
                return SMCCC_VERSION_1_1;
        case PSCI_FEATURES:
                return psci_supported((uint32_t) x[1]) ? 0 : (uint64_t) (int64_t) PSCI_RET_NOT_SUPPORTED;
        case PSCI_MIGRATE_INFO_TYPE:
                return PSCI_MIGRATE_NOT_REQUIRED;
        case PSCI_CPU_ON_32:
        case PSCI_CPU_ON_64:
                return (uint64_t) psci_cpu_on(s, fn, x);
        case PSCI_AFFINITY_INFO_32:
        case PSCI_AFFINITY_INFO_64:
                return (uint64_t) psci_affinity_info(s, fn, x);
        case PSCI_CPU_OFF:
                sim_store(&s->vcpus[self].power, SIM_POWER_OFF);
                *ret_action = PSCI_ACTION_CPU_OFF;
                return PSCI_RET_SUCCESS;
        case PSCI_SYSTEM_OFF:
                psci_end(s, self, GUNYAH_VM_EXIT_TYPE_PSCI_POWER_OFF, words, 1);
                *ret_action = PSCI_ACTION_VM_ENDED;
                return PSCI_RET_SUCCESS;
        case PSCI_SYSTEM_RESET:
                psci_end(s, self, GUNYAH_VM_EXIT_TYPE_PSCI_SYSTEM_RESET, words, 1);
                *ret_action = PSCI_ACTION_VM_ENDED;
                return PSCI_RET_SUCCESS;
        case PSCI_SYSTEM_RESET2_32:
        case PSCI_SYSTEM_RESET2_64: {
                uint64_t cookie = is_smc64(fn) ? x[2] : (uint32_t) x[2];

                /* RM words: flags | code << 16, reset_type, cookie low, cookie high. */
                words[0] = (is_smc64(fn) ? SIM_EXIT_FLAG_RESET2_SMC64 : 0) | (SIM_EXIT_CODE_NORMAL << 16);
                words[1] = (uint32_t) x[1];
                words[2] = (uint32_t) cookie;
                words[3] = (uint32_t) (cookie >> 32);
                psci_end(s, self, GUNYAH_VM_EXIT_TYPE_PSCI_SYSTEM_RESET2, words, 4);
                *ret_action = PSCI_ACTION_VM_ENDED;
                return PSCI_RET_SUCCESS;
        }
        default:
                return (uint64_t) (int64_t) PSCI_RET_NOT_SUPPORTED;
        }
}
