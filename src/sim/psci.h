/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * PSCI 1.1 and the SMCCC 1.1 discovery calls, as Gunyah's virtual PSCI
 * answers them over HVC (design §3). Plain logic over the shared VM state:
 * the caller (the HVC hook) passes X0-X3 and writes the result to X0.
 */

#include <stdint.h>

#include "sim-shared.h"

#define PSCI_VERSION_FN 0x84000000u
#define PSCI_CPU_SUSPEND_32 0x84000001u
#define PSCI_CPU_SUSPEND_64 0xC4000001u
#define PSCI_CPU_OFF 0x84000002u
#define PSCI_CPU_ON_32 0x84000003u
#define PSCI_CPU_ON_64 0xC4000003u
#define PSCI_AFFINITY_INFO_32 0x84000004u
#define PSCI_AFFINITY_INFO_64 0xC4000004u
#define PSCI_MIGRATE_INFO_TYPE 0x84000006u
#define PSCI_SYSTEM_OFF 0x84000008u
#define PSCI_SYSTEM_RESET 0x84000009u
#define PSCI_FEATURES 0x8400000Au
#define PSCI_SYSTEM_RESET2_32 0x84000012u
#define PSCI_SYSTEM_RESET2_64 0xC4000012u
#define SMCCC_VERSION_FN 0x80000000u
#define SMCCC_ARCH_FEATURES 0x80000001u

#define PSCI_RET_SUCCESS 0
#define PSCI_RET_NOT_SUPPORTED (-1)
#define PSCI_RET_INVALID_PARAMETERS (-2)
#define PSCI_RET_ALREADY_ON (-4)
#define PSCI_RET_ON_PENDING (-5)

#define PSCI_VERSION_1_1 0x10001u
#define SMCCC_VERSION_1_1 0x10001u
/* MIGRATE_INFO_TYPE: Trusted OS not present / migration not required. */
#define PSCI_MIGRATE_NOT_REQUIRED 2u

/* RM exit reason word 0 (vmm-on-gunyah §5.1). */
#define SIM_EXIT_FLAG_RESET2_SMC64 (1u << 15)
#define SIM_EXIT_CODE_NORMAL 0u

typedef enum PsciAction {
        PSCI_ACTION_NONE,     /* continue the guest */
        PSCI_ACTION_CPU_OFF,  /* the calling vCPU is now powered off */
        PSCI_ACTION_VM_ENDED, /* the VM ended (SYSTEM_OFF/RESET/RESET2) */
} PsciAction;

/* Handles one call from vCPU self. x: X0..X3 at the HVC. Returns the value
 * for X0 (for CPU_OFF and the system calls it is not seen by the guest). */
uint64_t psci_handle(SimShared *s, uint32_t self, const uint64_t x[4], PsciAction *ret_action);

/* Fills exit info the way the kernel copies the RM's VM_EXITED payload:
 * at most GUNYAH_VM_MAX_EXIT_REASON_SIZE bytes of the reason words, and
 * reason_size as the RM sent it. */
void sim_exit_info_from_words(struct gunyah_vm_exit_info *info, uint16_t type, const uint32_t *words, uint32_t n_words);
