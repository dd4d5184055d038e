/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "macro.h"
#include "string-table.h"
#include "vm-state.h"

static const char *const state_names[_VM_STATE_MAX] = {
        [VM_STATE_DEFINED] = "defined",   [VM_STATE_STARTING] = "starting",
        [VM_STATE_RUNNING] = "running",   [VM_STATE_STOPPING] = "stopping",
        [VM_STATE_STOPPED] = "stopped",   [VM_STATE_FAILED] = "failed",
};

static const char *const reason_names[_VM_REASON_MAX] = {
        [VM_REASON_NONE] = "",
        [VM_REASON_START] = "start",
        [VM_REASON_AUTOSTART] = "autostart",
        [VM_REASON_RESTART] = "restart",
        [VM_REASON_STOP] = "stop-requested",
        [VM_REASON_POWEROFF] = "poweroff",
        [VM_REASON_REBOOT] = "reboot",
        [VM_REASON_WATCHDOG] = "watchdog",
        [VM_REASON_CRASHED] = "crashed",
        [VM_REASON_LOAD_FAILED] = "load-failed",
        [VM_REASON_KILLED] = "killed",
        [VM_REASON_SHUTDOWN] = "shutdown",
        [VM_REASON_WORKER_FAILED] = "worker-failed",
        [VM_REASON_DAEMON_EXIT] = "daemon-exit",
};

DEFINE_STRING_TABLE(vm_state, VmState, state_names)
DEFINE_STRING_TABLE(vm_reason, VmReason, reason_names)

const char *vm_exit_info_type_name(const VmExitInfo *e) {
        static const char *const names[] = {
                [GUNYAH_VM_EXIT_TYPE_VM_EXIT] = "VM_EXIT",
                [GUNYAH_VM_EXIT_TYPE_PSCI_POWER_OFF] = "PSCI_POWER_OFF",
                [GUNYAH_VM_EXIT_TYPE_PSCI_SYSTEM_RESET] = "PSCI_SYSTEM_RESET",
                [GUNYAH_VM_EXIT_TYPE_PSCI_SYSTEM_RESET2] = "PSCI_SYSTEM_RESET2",
                [GUNYAH_VM_EXIT_TYPE_WDT_BITE] = "WDT_BITE",
                [GUNYAH_VM_EXIT_TYPE_HYP_ERROR] = "HYP_ERROR",
                [GUNYAH_VM_EXIT_TYPE_ASYNC_EXT_ABORT] = "ASYNC_EXT_ABORT",
                [GUNYAH_VM_EXIT_TYPE_VM_FORCE_STOPPED] = "VM_FORCE_STOPPED",
        };

        if (e->status != GUNYAH_VM_STATUS_EXITED)
                return ""; /* the type means something only for an exited VM */
        return e->exit_type < ELEMENTSOF(names) ? names[e->exit_type] : "UNKNOWN";
}

VmReason vm_reason_from_exit(uint32_t status, uint16_t exit_type) {
        if (status == GUNYAH_VM_STATUS_LOAD_FAILED)
                return VM_REASON_LOAD_FAILED;
        if (status != GUNYAH_VM_STATUS_EXITED)
                return VM_REASON_CRASHED;

        switch (exit_type) {
        case GUNYAH_VM_EXIT_TYPE_VM_EXIT:
        case GUNYAH_VM_EXIT_TYPE_PSCI_POWER_OFF:
        case GUNYAH_VM_EXIT_TYPE_VM_FORCE_STOPPED:
                return VM_REASON_POWEROFF;
        case GUNYAH_VM_EXIT_TYPE_PSCI_SYSTEM_RESET:
        case GUNYAH_VM_EXIT_TYPE_PSCI_SYSTEM_RESET2:
                return VM_REASON_REBOOT;
        case GUNYAH_VM_EXIT_TYPE_WDT_BITE:
                return VM_REASON_WATCHDOG;
        default: /* HYP_ERROR, ASYNC_EXT_ABORT and types we do not know */
                return VM_REASON_CRASHED;
        }
}
