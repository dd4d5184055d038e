/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "bus-errors.h"
#include "bus-vm.h"
#include "console.h"
#include "fileio.h"
#include "id-util.h"
#include "log.h"
#include "macro.h"
#include "manager.h"
#include "string-table.h"
#include "time-util.h"
#include "vm-start.h"
#include "vm.h"
#include "worker-protocol.h"
#include "worker.h"

/* After the first exit, how long workers get to leave on their own. */
#define VM_WORKER_STOP_GRACE_USEC (2 * USEC_PER_SEC)
/* The crash restart back-off doubles up to this. */
#define VM_CRASH_BACKOFF_MAX_USEC (5 * 60 * USEC_PER_SEC)

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

const char *vm_state_to_string(VmState s) {
        return string_table_lookup(state_names, ELEMENTSOF(state_names), s);
}

VmState vm_state_from_string(const char *s) {
        return (VmState) string_table_index(state_names, ELEMENTSOF(state_names), s);
}

const char *vm_reason_to_string(VmReason r) {
        return string_table_lookup(reason_names, ELEMENTSOF(reason_names), r);
}

VmReason vm_reason_from_string(const char *s) {
        return (VmReason) string_table_index(reason_names, ELEMENTSOF(reason_names), s);
}

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

bool vm_is_active(const Vm *vm) {
        return IN_SET(vm->state, VM_STATE_STARTING, VM_STATE_RUNNING, VM_STATE_STOPPING);
}

char *vm_state_reason_string(const Vm *vm) {
        char *s;

        if (vm->reason_detail)
                return asprintf(&s, "%s: %s", vm_reason_to_string(vm->reason), vm->reason_detail) < 0 ? NULL : s;
        return strdup(vm_reason_to_string(vm->reason));
}

int vm_new(Manager *m, VmSpec *spec, Vm **ret) {
        _cleanup_free_ Vm *vm = NULL;
        int r;

        vm = calloc(1, sizeof(*vm));
        if (!vm)
                return -ENOMEM;

        vm->manager = m;
        vm->guest_mem_fd = -EBADF;
        vm->devices_fd = -EBADF;
        vm->console_read_fd = -EBADF;
        vm->exit_info.vcpu = -1;
        vm->state = VM_STATE_DEFINED;
        vm->reason = VM_REASON_NONE;
        vm->created_usec = now_realtime_usec();

        vm->name = strdup(spec->name);
        if (!vm->name)
                return -ENOMEM;

        if (spec->uuid[0])
                memcpy(vm->uuid, spec->uuid, sizeof(vm->uuid));
        else {
                r = uuid_generate_string(vm->uuid);
                if (r < 0) {
                        free(vm->name);
                        return r;
                }
        }

        r = vm_spec_to_json(spec, &vm->spec_json);
        if (r < 0) {
                free(vm->name);
                return r;
        }

        r = sd_bus_path_encode(GUNYAH_VM_PATH_PREFIX, vm->name, &vm->object_path);
        if (r < 0) {
                free(vm->spec_json);
                free(vm->name);
                return r;
        }

        r = console_new(vm->name, m->log_dir, &vm->console);
        if (r < 0) {
                free(vm->object_path);
                free(vm->spec_json);
                free(vm->name);
                return r;
        }

        vm->spec = spec;
        *ret = TAKE_PTR(vm);
        return 0;
}

Vm *vm_free(Vm *vm) {
        if (!vm)
                return NULL;

        vm_instance_teardown(vm);
        sd_event_source_disable_unref(vm->finish_stop_event);
        sd_event_source_disable_unref(vm->restart_timer);
        sd_event_source_disable_unref(vm->stop_timer);
        console_free(vm->console);
        vm_spec_free(vm->spec);
        free(vm->spec_json);
        free(vm->name);
        free(vm->object_path);
        free(vm->definition_path);
        free(vm->reason_detail);
        free(vm->dtb);
        free(vm);
        return NULL;
}

void vm_set_reason_detail(Vm *vm, const char *detail) {
        free(vm->reason_detail);
        vm->reason_detail = detail ? strdup(detail) : NULL;
}

void vm_set_state(Vm *vm, VmState state, VmReason reason) {
        bool changed_state = vm->state != state;

        vm->state = state;
        vm->reason = reason;
        if (IN_SET(state, VM_STATE_STARTING))
                vm->started_usec = 0;
        if (state == VM_STATE_RUNNING)
                vm->started_usec = now_realtime_usec();
        if (IN_SET(state, VM_STATE_STOPPED, VM_STATE_FAILED))
                vm->stopped_usec = now_realtime_usec();

        _cleanup_free_ char *why = vm_state_reason_string(vm);
        if (changed_state)
                log_info("VM %s: %s%s%s%s", vm->name, vm_state_to_string(state), why && *why ? " (" : "",
                         why && *why ? why : "", why && *why ? ")" : "");

        /* Every transition is published, also a new reason within one state. */
        bus_vm_emit_state_changed(vm);
        manager_notify_vm_event(vm->manager, vm, "state");

        /* A spare this start took is replaced once the start is over. */
        if (state != VM_STATE_STARTING)
                manager_refill_pool(vm->manager);
}

/* ---- exits ---- */

static VmReason reason_from_exit(uint32_t status, uint16_t type) {
        if (status == GUNYAH_VM_STATUS_LOAD_FAILED)
                return VM_REASON_LOAD_FAILED;
        if (status != GUNYAH_VM_STATUS_EXITED)
                return VM_REASON_CRASHED;

        switch (type) {
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

static int on_stop_grace_expired(sd_event_source *s, uint64_t usec, void *userdata) {
        Vm *vm = userdata;
        for (size_t i = 0; i < vm->n_workers; i++)
                if (!vm->workers[i]->exited) {
                        log_warning("VM %s: worker of vCPU %u did not leave, killing it", vm->name,
                                    vm->workers[i]->vcpu);
                        worker_kill(vm->workers[i]);
                }
        return 0;
}

static void vm_arm_timer(Vm *vm, sd_event_source **slot, uint64_t usec, sd_event_time_handler_t cb) {
        int r;

        *slot = sd_event_source_disable_unref(*slot);
        r = sd_event_add_time_relative(vm->manager->event, slot, CLOCK_MONOTONIC, usec, 0, cb, vm);
        if (r < 0)
                log_error_errno(r, "VM %s: failed to arm timer: %m", vm->name);
}

/* First step of every way out of running: remember why, ask the workers to
 * leave, and kill whatever is still there after the grace period. */
static void vm_begin_stop(Vm *vm, VmReason final_reason, bool force) {
        /* The first exit decides the reason; a pending graceful stop or a
         * forced stop may still be overtaken by it. */
        if (vm->stop_decided && !force)
                return;

        vm->stop_decided = true;
        vm->pending_reason = final_reason;
        if (vm->state != VM_STATE_STOPPING)
                vm_set_state(vm, VM_STATE_STOPPING, final_reason == VM_REASON_SHUTDOWN ? VM_REASON_STOP : final_reason);

        for (size_t i = 0; i < vm->n_workers; i++) {
                if (vm->workers[i]->exited)
                        continue;
                if (force)
                        worker_kill(vm->workers[i]);
                else
                        (void) worker_request_stop(vm->workers[i]);
        }
        vm->stop_timer = sd_event_source_disable_unref(vm->stop_timer);
        if (!force)
                vm_arm_timer(vm, &vm->stop_timer, VM_WORKER_STOP_GRACE_USEC, on_stop_grace_expired);

        vm_check_workers_gone(vm);
}

void vm_on_worker_message(Vm *vm, Worker *w, const void *data) {
        const WorkerMessage *msg = data;

        w->unhandled_mmio = msg->unhandled_mmio;
        switch (msg->type) {
        case WORKER_MSG_READY:
                w->ready = true;
                log_debug("VM %s: worker of vCPU %u ready", vm->name, w->vcpu);
                vm_check_all_ready(vm);
                break;

        case WORKER_MSG_VM_EXITED:
                if (!vm->exit_info.valid) {
                        vm->exit_info = (VmExitInfo) {
                                .valid = true,
                                .status = msg->status,
                                .exit_type = msg->exit_info.type,
                                .reason_size = msg->exit_info.reason_size,
                                .vcpu = (int32_t) msg->vcpu,
                                .timestamp = now_realtime_usec(),
                        };
                        memcpy(vm->exit_info.reason, msg->exit_info.reason, sizeof(vm->exit_info.reason));
                }
                /* A graceful stop that the guest honoured is a shutdown. */
                VmReason r = reason_from_exit(msg->status, msg->exit_info.type);
                if (vm->state == VM_STATE_STOPPING && !vm->stop_decided &&
                    vm->pending_reason == VM_REASON_SHUTDOWN && r == VM_REASON_POWEROFF)
                        r = VM_REASON_SHUTDOWN;
                vm_begin_stop(vm, r, false);
                break;

        case WORKER_MSG_PAGE_FAULT:
                if (!vm->exit_info.valid)
                        vm->exit_info = (VmExitInfo) {
                                .valid = true,
                                .status = GUNYAH_VM_STATUS_CRASHED,
                                .vcpu = (int32_t) msg->vcpu,
                                .fault_addr = msg->addr,
                                .error = -msg->error,
                                .timestamp = now_realtime_usec(),
                        };
                log_warning("VM %s: vCPU %u: unrecoverable page fault at 0x%" PRIx64 ": %s", vm->name,
                            msg->vcpu, msg->addr, strerror(-msg->error));
                vm_begin_stop(vm, VM_REASON_CRASHED, false);
                break;

        case WORKER_MSG_FAILED:
                if (!vm->exit_info.valid) {
                        vm->exit_info = (VmExitInfo) {
                                .valid = true,
                                .vcpu = (int32_t) msg->vcpu,
                                .error = -msg->error,
                                .timestamp = now_realtime_usec(),
                        };
                        snprintf(vm->exit_info.step, sizeof(vm->exit_info.step), "%.*s",
                                 (int) sizeof(msg->step), msg->step);
                }
                log_error("VM %s: worker of vCPU %u failed in %.*s: %s", vm->name, msg->vcpu,
                          (int) sizeof(msg->step), msg->step, strerror(-msg->error));
                if (vm->state == VM_STATE_STARTING) {
                        char detail[128];
                        snprintf(detail, sizeof(detail), "%s: %s (worker of vCPU %u)", vm->exit_info.step,
                                 errno_to_name(vm->exit_info.error), msg->vcpu);
                        vm_fail_start(vm, detail);
                } else
                        vm_begin_stop(vm, VM_REASON_WORKER_FAILED, false);
                break;

        case WORKER_MSG_IDLE:
                break; /* a spare taken while loading says it after the assignment was queued */

        default:
                log_warning("VM %s: worker of vCPU %u sent unknown message type %u, ignoring", vm->name,
                            w->vcpu, msg->type);
        }
}

void vm_on_worker_exit(Vm *vm, Worker *w, int code, int status) {
        bool clean = code == CLD_EXITED && status == 0;
        /* Expected once a way out is decided; a graceful request alone is not one. */
        bool unexpected = !vm->stop_decided && vm_is_active(vm);

        if (unexpected) {
                /* Left while the VM ran, without telling us why: worker-failed. */
                if (!vm->exit_info.valid)
                        vm->exit_info = (VmExitInfo) {
                                .valid = true,
                                .vcpu = (int32_t) w->vcpu,
                                .signal = code == CLD_EXITED ? 0 : status,
                                .exit_code = code == CLD_EXITED ? status : 0,
                                .timestamp = now_realtime_usec(),
                        };
                if (clean)
                        log_error("VM %s: worker of vCPU %u exited without reporting why", vm->name, w->vcpu);
                else
                        log_error("VM %s: worker of vCPU %u (pid %d) %s %d", vm->name, w->vcpu, (int) w->pid,
                                  code == CLD_EXITED ? "exited with status" : "was killed by signal", status);

                if (vm->state == VM_STATE_STARTING) {
                        char detail[128];
                        if (code == CLD_EXITED)
                                snprintf(detail, sizeof(detail), "spawn-workers: worker of vCPU %u exited with status %d",
                                         w->vcpu, status);
                        else
                                snprintf(detail, sizeof(detail), "spawn-workers: worker of vCPU %u killed by SIG%s",
                                         w->vcpu, sigabbrev_np(status) ?: "?");
                        vm_fail_start(vm, detail);
                } else
                        vm_begin_stop(vm, VM_REASON_WORKER_FAILED, false);
        }

        vm_check_workers_gone(vm);
}

void vm_check_all_ready(Vm *vm) {
        if (vm->state != VM_STATE_STARTING || vm->n_workers != vm->spec->vcpus)
                return;
        for (size_t i = 0; i < vm->n_workers; i++)
                if (!vm->workers[i]->ready)
                        return;
        vm_set_state(vm, VM_STATE_RUNNING, vm->reason);
}

/* A worker could not get going: the start failed, the VM ends failed. */
void vm_fail_start(Vm *vm, const char *detail) {
        vm_set_reason_detail(vm, detail);
        vm_begin_stop(vm, VM_REASON_LOAD_FAILED, true);
}

static int on_restart_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Vm *vm = userdata;
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        vm->restart_timer = sd_event_source_disable_unref(vm->restart_timer);
        if (vm->state != VM_STATE_STOPPED)
                return 0;
        (void) vm_start(vm, VM_REASON_RESTART, &error);
        return 0;
}

static uint64_t crash_backoff_usec(const Vm *vm) {
        uint64_t usec = (uint64_t) vm->spec->crash_restart_backoff_msec * USEC_PER_MSEC;

        for (unsigned i = 1; i < vm->crash_restart_count && usec < VM_CRASH_BACKOFF_MAX_USEC; i++)
                usec *= 2;
        return MIN(usec, VM_CRASH_BACKOFF_MAX_USEC);
}

/* What the spec says to do after the VM stopped for reason. */
static void vm_apply_lifecycle(Vm *vm) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        VmLifecycleAction action;

        if (vm->manager->exiting)
                return;

        switch (vm->reason) {
        case VM_REASON_POWEROFF:
                action = vm->spec->on_poweroff;
                break;
        case VM_REASON_REBOOT:
                action = vm->spec->on_reboot;
                break;
        case VM_REASON_CRASHED:
        case VM_REASON_WATCHDOG:
        case VM_REASON_WORKER_FAILED:
                action = vm->spec->on_crash;
                break;
        default: /* stopped through the API: nothing to do */
                action = VM_ACTION_STOP;
        }

        if (vm->transient || vm->destroy_when_stopped)
                action = VM_ACTION_DESTROY;

        switch (action) {
        case VM_ACTION_STOP:
                return;
        case VM_ACTION_DESTROY:
                (void) vm_destroy(vm, &error);
                return;
        case VM_ACTION_RESTART:
                break;
        default:
                return;
        }

        if (vm->reason == VM_REASON_REBOOT || vm->reason == VM_REASON_POWEROFF) {
                (void) vm_start(vm, VM_REASON_RESTART, &error);
                return;
        }

        /* Crash restarts back off and give up after the limit. */
        if (vm->crash_restart_count >= vm->spec->crash_restart_limit) {
                log_warning("VM %s: crashed %u times, restart limit %u reached, staying stopped", vm->name,
                            vm->crash_restart_count, vm->spec->crash_restart_limit);
                return;
        }
        vm->crash_restart_count++;
        bus_vm_emit_restart_changed(vm);
        log_info("VM %s: restarting after crash %u/%u in %" PRIu64 " ms", vm->name, vm->crash_restart_count,
                 vm->spec->crash_restart_limit, crash_backoff_usec(vm) / USEC_PER_MSEC);
        vm_arm_timer(vm, &vm->restart_timer, crash_backoff_usec(vm), on_restart_timer);
}

static int on_workers_gone(sd_event_source *s, void *userdata) {
        Vm *vm = userdata;
        Manager *m = vm->manager;
        vm->finish_stop_event = sd_event_source_disable_unref(vm->finish_stop_event);
        if (vm->state != VM_STATE_STOPPING)
                return 0;
        for (size_t i = 0; i < vm->n_workers; i++)
                if (!vm->workers[i]->exited)
                        return 0;

        vm->stop_timer = sd_event_source_disable_unref(vm->stop_timer);
        vm_instance_teardown(vm);
        if (!vm->exit_info.timestamp)
                vm->exit_info.timestamp = now_realtime_usec();
        vm->exit_info.valid = true;
        /* A start that failed in a worker ends failed, everything else stopped. */
        vm_set_state(vm, vm->pending_reason == VM_REASON_LOAD_FAILED ? VM_STATE_FAILED : VM_STATE_STOPPED,
                     vm->pending_reason);
        vm_apply_lifecycle(vm); /* may free vm */
        manager_check_exit(m);
        return 0;
}

/* Finishing a stop frees the workers and may free the VM itself, so it never
 * runs inside a worker's or a caller's callback: it is deferred to the loop. */
void vm_check_workers_gone(Vm *vm) {
        int r;

        if (vm->state != VM_STATE_STOPPING || vm->finish_stop_event)
                return;
        for (size_t i = 0; i < vm->n_workers; i++)
                if (!vm->workers[i]->exited)
                        return;
        r = sd_event_add_defer(vm->manager->event, &vm->finish_stop_event, on_workers_gone, vm);
        if (r < 0)
                log_error_errno(r, "VM %s: cannot schedule the end of its stop: %m", vm->name);
}

/* ---- API operations ---- */

static int invalid_state(Vm *vm, sd_bus_error *error, const char *verb) {
        return sd_bus_error_setf(error, GUNYAH_ERROR_INVALID_STATE, "Cannot %s VM '%s': it is %s.", verb,
                                 vm->name, vm_state_to_string(vm->state));
}

int vm_start(Vm *vm, VmReason reason, sd_bus_error *error) {
        char errbuf[512] = "";
        const char *step = NULL;
        int r;

        if (!IN_SET(vm->state, VM_STATE_DEFINED, VM_STATE_STOPPED, VM_STATE_FAILED))
                return invalid_state(vm, error, "start");

        vm->restart_timer = sd_event_source_disable_unref(vm->restart_timer);
        if (reason != VM_REASON_RESTART)
                vm->crash_restart_count = 0;
        vm->exit_info = (VmExitInfo) { .vcpu = -1 };
        vm->pending_reason = VM_REASON_NONE;
        vm->stop_decided = false;
        vm_set_reason_detail(vm, NULL);
        vm_set_state(vm, VM_STATE_STARTING, reason);

        r = vm_instance_start(vm, &step, errbuf, sizeof(errbuf));
        if (r < 0) {
                _cleanup_free_ char *detail = NULL;

                vm_instance_teardown(vm);
                vm->exit_info = (VmExitInfo) {
                        .valid = true,
                        .vcpu = -1,
                        .error = -r,
                        .timestamp = now_realtime_usec(),
                };
                snprintf(vm->exit_info.step, sizeof(vm->exit_info.step), "%s", strna(step));
                if (asprintf(&detail, "%s: %s%s%s", strna(step), errno_to_name(r), errbuf[0] ? ": " : "",
                             errbuf) < 0)
                        detail = NULL;
                vm_set_reason_detail(vm, detail);
                log_error_errno(r, "VM %s: start failed at step %s: %s%s%m", vm->name, strna(step), errbuf,
                                errbuf[0] ? ": " : "");
                vm_set_state(vm, VM_STATE_FAILED, VM_REASON_LOAD_FAILED);
                return sd_bus_error_setf(error, GUNYAH_ERROR_START_FAILED, "Starting VM '%s' failed at %s: %s%s%s",
                                         vm->name, strna(step), errbuf, errbuf[0] ? ": " : "", strerror(-r));
        }

        /* running once every worker has reported ready (vm_check_all_ready) */
        return 0;
}

static int on_stop_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        Vm *vm = userdata;
        vm->stop_timer = sd_event_source_disable_unref(vm->stop_timer);
        if (vm->state != VM_STATE_STOPPING || vm->stop_decided)
                return 0;
        log_notice("VM %s: guest did not stop within its timeout, forcing it off", vm->name);
        vm_set_reason_detail(vm, "stop timeout expired");
        vm_begin_stop(vm, VM_REASON_KILLED, true);
        return 0;
}

int vm_stop(Vm *vm, uint64_t timeout_usec, sd_bus_error *error) {
        if (vm->state == VM_STATE_STOPPING && !vm->stop_decided)
                return 0; /* already asked */
        if (vm->state != VM_STATE_RUNNING)
                return invalid_state(vm, error, "stop");

        vm->pending_reason = VM_REASON_SHUTDOWN;
        vm_set_state(vm, VM_STATE_STOPPING, VM_REASON_STOP);
        (void) vm_instance_request_poweroff(vm);

        if (timeout_usec == 0) {
                vm_begin_stop(vm, VM_REASON_KILLED, true);
                return 0;
        }
        vm_arm_timer(vm, &vm->stop_timer, timeout_usec, on_stop_timeout);
        return 0;
}

int vm_kill(Vm *vm, VmReason reason, sd_bus_error *error) {
        if (!IN_SET(vm->state, VM_STATE_STARTING, VM_STATE_RUNNING, VM_STATE_STOPPING))
                return invalid_state(vm, error, "kill");

        vm_begin_stop(vm, reason, true);
        return 0;
}

int vm_destroy(Vm *vm, sd_bus_error *error) {
        Manager *m = vm->manager;
        int r;

        if (vm->read_only)
                return sd_bus_error_setf(error, GUNYAH_ERROR_READ_ONLY,
                                         "VM '%s' is defined by %s; remove that file to remove it.", vm->name,
                                         strna(vm->definition_path));
        if (vm_is_active(vm)) {
                /* Destroy of a running VM: kill it, forget it once gone. */
                vm->destroy_when_stopped = true;
                if (!vm->stop_decided)
                        return vm_kill(vm, VM_REASON_KILLED, error);
                return 0;
        }

        /* The file goes only after the VM is gone. */
        if (vm->persistent && vm->definition_path) {
                if (unlink(vm->definition_path) < 0 && errno != ENOENT) {
                        r = -errno;
                        log_error_errno(r, "VM %s: failed to remove %s: %m", vm->name, vm->definition_path);
                        return sd_bus_error_set_errnof(error, r, "Failed to remove %s: %m", vm->definition_path);
                }
        }
        console_remove_log(vm->console);
        manager_remove_vm(m, vm);
        vm_free(vm);
        return 0;
}

int vm_set_autostart(Vm *vm, bool b, sd_bus_error *error) {
        int r;

        if (vm->read_only)
                return sd_bus_error_setf(error, GUNYAH_ERROR_READ_ONLY,
                                         "VM '%s' is defined by %s and cannot be changed over the bus.",
                                         vm->name, strna(vm->definition_path));
        if (vm->spec->autostart == b)
                return 0;

        vm->spec->autostart = b;
        char *json = NULL;
        r = vm_spec_to_json(vm->spec, &json);
        if (r < 0) {
                vm->spec->autostart = !b;
                return r;
        }
        free(vm->spec_json);
        vm->spec_json = json;

        if (vm->persistent) {
                r = vm_save_definition(vm);
                if (r < 0) {
                        vm->spec->autostart = !b;
                        return sd_bus_error_set_errnof(error, r, "Failed to save VM '%s': %m", vm->name);
                }
        }
        bus_vm_emit_spec_changed(vm);
        return 0;
}

static const char *const verb_names[_VM_VERB_MAX] = {
        [VM_VERB_START] = "start",
        [VM_VERB_STOP] = "stop",
        [VM_VERB_KILL] = "kill",
        [VM_VERB_DESTROY] = "destroy",
};

const char *vm_verb_to_string(VmVerb v) {
        return string_table_lookup(verb_names, ELEMENTSOF(verb_names), v);
}

int vm_apply_verb(Vm *vm, VmVerb verb, uint64_t timeout_usec, sd_bus_error *error) {
        switch (verb) {
        case VM_VERB_START:
                return vm_start(vm, VM_REASON_START, error);
        case VM_VERB_STOP:
                return vm_stop(vm, timeout_usec, error);
        case VM_VERB_KILL:
                return vm_kill(vm, VM_REASON_KILLED, error);
        case VM_VERB_DESTROY:
                return vm_destroy(vm, error);
        default:
                return -EINVAL;
        }
}

int vm_save_definition(Vm *vm) {
        Manager *m = vm->manager;
        _cleanup_free_ char *path = NULL;
        int r;

        if (asprintf(&path, "%s/%s.json", m->vm_state_dir, vm->name) < 0)
                return -ENOMEM;

        r = write_file_atomic(path, vm->spec_json, strlen(vm->spec_json), 0600);
        if (r < 0)
                return log_error_errno(r, "VM %s: failed to write %s: %m", vm->name, path);

        free(vm->definition_path);
        vm->definition_path = TAKE_PTR(path);
        vm->persistent = true;
        return 0;
}
