/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "boot-images.h"
#include "bus-errors.h" /* the object path prefix */
#include "bus-vm.h"
#include "console.h"
#include "fileio.h"
#include "id-util.h"
#include "log.h"
#include "macro.h"
#include "manager.h"
#include "string-table.h"
#include "time-util.h"
#include "vm-instance-record.h"
#include "vm-instance.h"
#include "vm-scope.h"
#include "vm.h"
#include "worker-protocol.h"
#include "worker.h"

/* The crash restart back-off doubles up to this. */
#define VM_CRASH_BACKOFF_MAX_USEC (5 * 60 * USEC_PER_SEC)

/* What an event carries besides its kind. */
typedef struct VmEventArgs {
        VmReason reason;       /* START, KILL, GUEST_EXIT */
        const char *detail;    /* shown after the reason where the transition records it */
        uint64_t timeout_usec; /* STOP */
} VmEventArgs;

static int vm_handle_event(Vm *vm, VmEvent event, const VmEventArgs *args, VmError *error);

bool vm_is_active(const Vm *vm) {
        return IN_SET(vm->state, VM_STATE_STARTING, VM_STATE_RUNNING, VM_STATE_STOPPING);
}

char *vm_state_reason_string(const Vm *vm) {
        char *s;

        if (vm->reason_detail)
                return asprintf(&s, "%s: %s", vm_reason_to_string(vm->reason), vm->reason_detail) < 0 ? NULL : s;
        return strdup(vm_reason_to_string(vm->reason));
}

size_t vm_worker_pids(const Vm *vm, pid_t *pids, size_t max) {
        return vm->instance ? vm_instance_worker_pids(vm->instance, pids, max) : 0;
}

int vm_new(Manager *m, VmSpec *spec, Vm **ret) {
        _cleanup_(vm_freep) Vm *vm = NULL;
        int r;

        vm = calloc(1, sizeof(*vm));
        if (!vm)
                return -ENOMEM;

        vm->manager = m;
        vm->exit_info.vcpu = -1;
        vm->phase = VM_PHASE_DEFINED;
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
                if (r < 0)
                        return r;
        }
        r = vm_spec_to_json(spec, &vm->spec_json);
        if (r < 0)
                return r;
        r = sd_bus_path_encode(GUNYAH_VM_PATH_PREFIX, vm->name, &vm->object_path);
        if (r < 0)
                return r;
        r = console_new(vm->name, m->log_dir, &vm->console);
        if (r < 0)
                return r;

        vm->spec = spec; /* owned from here on, only on success */
        *ret = TAKE_PTR(vm);
        return 0;
}

Vm *vm_free(Vm *vm) {
        if (!vm)
                return NULL;

        vm_instance_free(vm->instance);
        sd_event_source_disable_unref(vm->restart_timer);
        sd_event_source_disable_unref(vm->stop_timer);
        console_free(vm->console);
        vm_spec_free(vm->spec);
        free(vm->spec_json);
        free(vm->name);
        free(vm->object_path);
        free(vm->definition_path);
        free(vm->reason_detail);
        free(vm);
        return NULL;
}

static void vm_set_reason_detail(Vm *vm, const char *detail) {
        free(vm->reason_detail);
        vm->reason_detail = detail ? strdup(detail) : NULL;
}

/* Publishes a new state or reason: PropertiesChanged, varlink events, the log. */
static void vm_publish(Vm *vm, VmState state, VmReason reason) {
        bool changed_state = vm->state != state;

        if (!changed_state && vm->reason == reason)
                return;
        vm->state = state;
        vm->reason = reason;
        if (state == VM_STATE_STARTING)
                vm->started_usec = 0;
        if (state == VM_STATE_RUNNING) {
                vm->started_usec = now_realtime_usec();
                if (vm->instance)
                        (void) vm_instance_record_running(vm->instance);
        }
        if (IN_SET(state, VM_STATE_STOPPED, VM_STATE_FAILED))
                vm->stopped_usec = now_realtime_usec();

        _cleanup_free_ char *why = vm_state_reason_string(vm);
        if (changed_state)
                log_vm_info(vm->name, "%s%s%s%s", vm_state_to_string(state), why && *why ? " (" : "",
                         why && *why ? why : "", why && *why ? ")" : "");

        bus_vm_emit_state_changed(vm);
        manager_notify_vm_event(vm->manager, vm, "state");

        /* A spare this start took is replaced once the start is over. */
        if (state != VM_STATE_STARTING)
                manager_refill_pool(vm->manager);
}

static void vm_arm_timer(Vm *vm, sd_event_source **slot, uint64_t usec, sd_event_time_handler_t cb) {
        int r;

        *slot = sd_event_source_disable_unref(*slot);
        r = sd_event_add_time_relative(vm->manager->event, slot, CLOCK_MONOTONIC, usec, 0, cb, vm);
        if (r < 0)
                log_vm_error_errno(vm->name, r, "failed to arm timer: %m");
}

/* ---- what the workers say ---- */

static int on_workers_gone(sd_event_source *s, void *userdata) {
        Vm *vm = userdata;
        Manager *m = vm->manager;

        vm->instance->gone_event = sd_event_source_disable_unref(vm->instance->gone_event);
        if (!vm_instance_workers_gone(vm->instance))
                return 0;
        (void) vm_handle_event(vm, VM_EVENT_WORKERS_GONE, &(VmEventArgs) {}, NULL); /* may free vm */
        manager_check_exit(m);
        return 0;
}

static void vm_check_workers_gone(Vm *vm) {
        if (vm->instance && IN_SET(vm->phase, VM_PHASE_STOPPING, VM_PHASE_ABORTING))
                vm_instance_watch_workers_gone(vm->instance, on_workers_gone, vm);
}

static void vm_record_exit(Vm *vm, const VmExitInfo *e) {
        if (vm->exit_info.valid)
                return; /* the first report is the one that counts */
        vm->exit_info = *e;
        vm->exit_info.valid = true;
        if (!e->timestamp)
                vm->exit_info.timestamp = now_realtime_usec();
}

static void on_worker_exited_vm(Vm *vm, const WorkerMessage *msg) {
        VmExitInfo e = {
                .status = msg->status,
                .exit_type = msg->exit_info.type,
                .reason_size = msg->exit_info.reason_size,
                .vcpu = (int32_t) msg->vcpu,
                .timestamp = msg->realtime_usec,
        };
        VmReason r = vm_reason_from_exit(msg->status, msg->exit_info.type);

        memcpy(e.reason, msg->exit_info.reason, sizeof(e.reason));
        vm_record_exit(vm, &e);
        (void) vm_handle_event(vm, r == VM_REASON_POWEROFF ? VM_EVENT_GUEST_POWEROFF : VM_EVENT_GUEST_EXIT,
                               &(VmEventArgs) { .reason = r }, NULL);
}

static void on_worker_page_fault(Vm *vm, const WorkerMessage *msg) {
        vm_record_exit(vm, &(VmExitInfo) {
                .status = GUNYAH_VM_STATUS_CRASHED,
                .vcpu = (int32_t) msg->vcpu,
                .fault_addr = msg->addr,
                .error = -msg->error,
        });
        log_vm_warning(vm->name, "vCPU %u: unrecoverable page fault at 0x%" PRIx64 ": %s", msg->vcpu,
                    msg->addr, strerror(-msg->error));
        (void) vm_handle_event(vm, VM_EVENT_GUEST_EXIT, &(VmEventArgs) { .reason = VM_REASON_CRASHED }, NULL);
}

static void on_worker_failed(Vm *vm, const WorkerMessage *msg) {
        VmExitInfo e = { .vcpu = (int32_t) msg->vcpu, .error = -msg->error };
        char detail[128];

        snprintf(e.step, sizeof(e.step), "%.*s", (int) sizeof(msg->step), msg->step);
        vm_record_exit(vm, &e);
        log_vm_error(vm->name, "worker of vCPU %u failed in %.*s: %s", msg->vcpu, (int) sizeof(msg->step),
                  msg->step, strerror(-msg->error));
        snprintf(detail, sizeof(detail), "%s: %s (worker of vCPU %u)", vm->exit_info.step,
                 errno_to_name(vm->exit_info.error), msg->vcpu);
        (void) vm_handle_event(vm, VM_EVENT_WORKER_FAILED, &(VmEventArgs) { .detail = detail }, NULL);
}

void vm_on_worker_message(Vm *vm, Worker *w, const void *data) {
        const WorkerMessage *msg = data;

        w->unhandled_mmio = msg->unhandled_mmio;
        switch (msg->type) {
        case WORKER_MSG_READY:
                w->ready = true;
                log_vm_debug(vm->name, "worker of vCPU %u ready", w->vcpu);
                if (vm->instance && vm_instance_workers_ready(vm->instance))
                        (void) vm_handle_event(vm, VM_EVENT_READY, &(VmEventArgs) {}, NULL);
                break;
        case WORKER_MSG_VM_EXITED:
                on_worker_exited_vm(vm, msg);
                break;
        case WORKER_MSG_PAGE_FAULT:
                on_worker_page_fault(vm, msg);
                break;
        case WORKER_MSG_FAILED:
                on_worker_failed(vm, msg);
                break;
        case WORKER_MSG_IDLE:
                break; /* a spare taken while loading says it after the assignment was queued */
        default:
                log_vm_warning(vm->name, "worker of vCPU %u sent unknown message type %u, ignoring",
                            w->vcpu, msg->type);
        }
}

void vm_on_worker_exit(Vm *vm, Worker *w, int code, int status) {
        char detail[128];

        /* Expected once a way out is decided; a graceful request alone is not one. */
        if (IN_SET(vm->phase, VM_PHASE_STARTING, VM_PHASE_RUNNING, VM_PHASE_STOP_REQUESTED)) {
                vm_record_exit(vm, &(VmExitInfo) {
                        .vcpu = (int32_t) w->vcpu,
                        .signal = code == CLD_EXITED ? 0 : status,
                        .exit_code = code == CLD_EXITED ? status : 0,
                });
                if (code == CLD_EXITED && status == 0)
                        log_vm_error(vm->name, "worker of vCPU %u exited without reporting why", w->vcpu);
                else
                        log_vm_error(vm->name, "worker of vCPU %u (pid %d) %s %d", w->vcpu, (int) w->pid,
                                  code == CLD_EXITED ? "exited with status" : "was killed by signal", status);
                if (code == CLD_EXITED)
                        snprintf(detail, sizeof(detail), "spawn-workers: worker of vCPU %u exited with status %d",
                                 w->vcpu, status);
                else
                        snprintf(detail, sizeof(detail), "spawn-workers: worker of vCPU %u killed by SIG%s",
                                 w->vcpu, sigabbrev_np(status) ?: "?");
                (void) vm_handle_event(vm, VM_EVENT_WORKER_FAILED, &(VmEventArgs) { .detail = detail }, NULL);
        }
        vm_check_workers_gone(vm);
}

void vm_on_device_failed(Vm *vm, const char *detail, const VmExitInfo *e) {
        /* Expected once a way out is decided, as for workers. */
        if (!IN_SET(vm->phase, VM_PHASE_STARTING, VM_PHASE_RUNNING, VM_PHASE_STOP_REQUESTED))
                return;
        vm_record_exit(vm, e);
        log_vm_error(vm->name, "%s", detail);
        (void) vm_handle_event(vm, VM_EVENT_DEVICE_FAILED, &(VmEventArgs) { .detail = detail }, NULL);
}

/* ---- lifecycle actions (design §5) ---- */

static int on_restart_timer(sd_event_source *s, uint64_t usec, void *userdata) {
        Vm *vm = userdata;

        vm->restart_timer = sd_event_source_disable_unref(vm->restart_timer);
        if (IN_SET(vm->state, VM_STATE_STOPPED, VM_STATE_FAILED))
                (void) vm_start(vm, VM_REASON_RESTART, NULL);
        return 0;
}

static uint64_t crash_backoff_usec(const Vm *vm) {
        uint64_t usec = (uint64_t) vm->spec->crash_restart_backoff_msec * USEC_PER_MSEC;

        for (unsigned i = 1; i < vm->crash_restart_count && usec < VM_CRASH_BACKOFF_MAX_USEC; i++)
                usec *= 2;
        return MIN(usec, VM_CRASH_BACKOFF_MAX_USEC);
}

/* Whether the VM ended because a restart the lifecycle asked for was refused. */
static bool vm_restart_refused(const Vm *vm) {
        return vm->reason == VM_REASON_LOAD_FAILED && vm->start_reason == VM_REASON_RESTART;
}

static VmLifecycleAction vm_lifecycle_action(const Vm *vm, VmEvent event) {
        /* A start someone asked for and the daemon refused is answered to
         * them; the VM stays failed (and is not freed under the caller). */
        if (event == VM_EVENT_START_FAILED && !vm_restart_refused(vm))
                return VM_ACTION_STOP;
        if (vm->transient || vm->destroy_when_stopped)
                return VM_ACTION_DESTROY;
        if (vm_restart_refused(vm))
                return VM_ACTION_RESTART; /* again, with the crash back-off and limit */
        switch (vm->reason) {
        case VM_REASON_POWEROFF:
                return vm->spec->on_poweroff;
        case VM_REASON_REBOOT:
                return vm->spec->on_reboot;
        case VM_REASON_CRASHED:
        case VM_REASON_WATCHDOG:
        case VM_REASON_WORKER_FAILED:
                return vm->spec->on_crash;
        default: /* stopped through the API: nothing to do */
                return VM_ACTION_STOP;
        }
}

/* What the spec says to do after the VM stopped, or after a restart it
 * asked for was refused (event: what ended the VM). May free vm. */
static void vm_apply_lifecycle(Vm *vm, VmEvent event) {
        if (vm->manager->exiting)
                return;

        switch (vm_lifecycle_action(vm, event)) {
        case VM_ACTION_DESTROY:
                (void) vm_handle_event(vm, VM_EVENT_DESTROY, &(VmEventArgs) {}, NULL);
                return;
        case VM_ACTION_RESTART:
                break;
        default:
                return;
        }

        if (IN_SET(vm->reason, VM_REASON_REBOOT, VM_REASON_POWEROFF)) {
                (void) vm_start(vm, VM_REASON_RESTART, NULL);
                return;
        }

        /* Crash restarts, and restarts the hypervisor refused (a Resource
         * Manager that allows one VM per boot refuses every one), back off
         * and give up after the limit: never a tight loop. */
        if (vm->crash_restart_count >= vm->spec->crash_restart_limit) {
                if (vm_restart_refused(vm))
                        log_vm_warning(vm->name, "restart refused, restart limit %u reached, staying failed",
                                       vm->spec->crash_restart_limit);
                else
                        log_vm_warning(vm->name, "crashed %u times, restart limit %u reached, staying stopped",
                                       vm->crash_restart_count, vm->spec->crash_restart_limit);
                return;
        }
        vm->crash_restart_count++;
        bus_vm_emit_restart_changed(vm);
        log_vm_info(vm->name, "%s %u/%u in %" PRIu64 " ms",
                    vm_restart_refused(vm) ? "retrying the refused restart" : "restarting after crash",
                    vm->crash_restart_count, vm->spec->crash_restart_limit, crash_backoff_usec(vm) / USEC_PER_MSEC);
        vm_arm_timer(vm, &vm->restart_timer, crash_backoff_usec(vm), on_restart_timer);
}

/* ---- the state machine's actions ---- */

static int on_stop_timeout(sd_event_source *s, uint64_t usec, void *userdata) {
        Vm *vm = userdata;

        vm->stop_timer = sd_event_source_disable_unref(vm->stop_timer);
        if (vm->phase == VM_PHASE_STOP_REQUESTED)
                log_vm_notice(vm->name, "guest did not stop within its timeout, forcing it off");
        (void) vm_handle_event(vm, VM_EVENT_STOP_TIMEOUT, &(VmEventArgs) { .detail = "stop timeout expired" }, NULL);
        return 0;
}

static void vm_press_button(Vm *vm, uint64_t timeout_usec) {
        (void) vm_instance_press_power_button(vm->instance);
        if (timeout_usec == 0) /* no time to wait: forced at once */
                (void) vm_handle_event(vm, VM_EVENT_KILL, &(VmEventArgs) { .reason = VM_REASON_KILLED }, NULL);
        else
                vm_arm_timer(vm, &vm->stop_timer, timeout_usec, on_stop_timeout);
}

/* Before a start: nothing of the last run is carried over. */
static void vm_reset_run(Vm *vm, VmReason reason) {
        vm->restart_timer = sd_event_source_disable_unref(vm->restart_timer);
        vm->start_reason = reason;
        if (reason != VM_REASON_RESTART)
                vm->crash_restart_count = 0;
        vm->exit_info = (VmExitInfo) { .vcpu = -1 };
        vm_set_reason_detail(vm, NULL);
}

void vm_adopt(Vm *vm, VmInstance *i, const char *uuid, uint64_t started_usec, uint64_t console_log_offset) {
        vm_reset_run(vm, VM_REASON_START);
        vm->instance = i;
        snprintf(vm->uuid, sizeof(vm->uuid), "%s", uuid);
        i->recorded_running = true;
        console_resume_run(vm->console, console_log_offset);
        if (vm_scope_adopt(vm, &i->scope) < 0)
                log_oom();
        vm->phase = VM_PHASE_RUNNING;
        vm->state = VM_STATE_RUNNING;
        vm->reason = VM_REASON_START;
        vm->started_usec = started_usec;
        log_vm_info(vm->name, "running (adopted from a previous gunyahd, %zu worker(s))", i->n_workers);
        bus_vm_emit_state_changed(vm);
        manager_notify_vm_event(vm->manager, vm, "state");
}

int vm_detach(Vm *vm) {
        if (vm->phase != VM_PHASE_RUNNING || !vm->instance || !vm_instance_can_detach(vm->instance))
                return -EBUSY;
        vm->instance = vm_instance_detach(vm->instance);
        /* Not published: the daemon is about to exit; the next one adopts it. */
        vm->phase = VM_PHASE_STOPPED;
        vm->state = VM_STATE_STOPPED;
        log_vm_info(vm->name, "left running for the next gunyahd (its keeper holds on)");
        return 0;
}

void vm_mark_start_interrupted(Vm *vm) {
        vm_reset_run(vm, VM_REASON_START);
        vm->exit_info = (VmExitInfo) { .valid = true, .vcpu = -1, .timestamp = now_realtime_usec() };
        snprintf(vm->exit_info.step, sizeof(vm->exit_info.step), "daemon-restart");
        vm_set_reason_detail(vm, "daemon-restart");
        vm->phase = VM_PHASE_FAILED;
        vm->state = VM_STATE_FAILED;
        vm->reason = VM_REASON_LOAD_FAILED;
        vm->stopped_usec = vm->exit_info.timestamp;
        log_vm_warning(vm->name, "failed (load-failed: daemon-restart): the previous gunyahd died while starting it");
        bus_vm_emit_state_changed(vm);
        manager_notify_vm_event(vm->manager, vm, "state");
}

static void vm_tear_down(Vm *vm) {
        vm->stop_timer = sd_event_source_disable_unref(vm->stop_timer);
        vm->instance = vm_instance_free(vm->instance);
        if (!vm->exit_info.timestamp)
                vm->exit_info.timestamp = now_realtime_usec();
        vm->exit_info.valid = true;
}

static int vm_bring_up(Vm *vm, VmError *error) {
        _cleanup_free_ char *detail = NULL;
        char errbuf[512] = "";
        const char *step = NULL;
        int r;

        r = vm_instance_new(vm, &vm->instance, &step, errbuf, sizeof(errbuf));
        if (r >= 0)
                return 0; /* running once every worker has reported ready */

        vm->exit_info = (VmExitInfo) { .valid = true, .vcpu = -1, .error = -r, .timestamp = now_realtime_usec() };
        snprintf(vm->exit_info.step, sizeof(vm->exit_info.step), "%s", strna(step));
        if (asprintf(&detail, "%s: %s%s%s", strna(step), errno_to_name(r), errbuf[0] ? ": " : "", errbuf) < 0)
                detail = NULL;
        log_vm_error_errno(vm->name, r, "start failed at step %s: %s%s%m", strna(step), errbuf,
                        errbuf[0] ? ": " : "");
        /* Set before the event: the lifecycle it applies may arm a restart. */
        r = vm_error_set(error, VM_ERROR_START_FAILED, r, NULL, "Starting VM '%s' failed at %s: %s%s%s", vm->name,
                         strna(step), errbuf, errbuf[0] ? ": " : "", strerror(-r));
        (void) vm_handle_event(vm, VM_EVENT_START_FAILED, &(VmEventArgs) { .detail = detail }, NULL);
        return r;
}

/* Forgets an inactive VM; DESTROY also removes what the API created for it. */
static int vm_forget(Vm *vm, bool destroy, VmError *error) {
        Manager *m = vm->manager;
        int r;

        if (destroy && vm->persistent && vm->definition_path && unlink(vm->definition_path) < 0 && errno != ENOENT) {
                r = log_vm_error_errno(vm->name, errno, "failed to remove %s: %m", vm->definition_path);
                return vm_error_set(error, VM_ERROR_SYSTEM, r, NULL, "Failed to remove %s: %s", vm->definition_path,
                                    strerror(-r));
        }
        if (destroy)
                console_remove_log(vm->console);
        else
                log_vm_info(vm->name, "%s was removed, forgetting the VM", vm->definition_path);
        manager_remove_vm(m, vm);
        vm_free(vm);
        return 0;
}

static int resolve_reason(int rule, VmReason current, VmReason from_event, VmReason final) {
        switch (rule) {
        case VM_REASON_KEEP:
                return current;
        case VM_REASON_FROM_EVENT:
                return from_event;
        case VM_REASON_FINAL:
                return final;
        default:
                return rule;
        }
}

/* The only place a VM's phase changes: looks the event up in the table and
 * carries out what the transition says. May free vm (destroy, lifecycle). */
static int vm_handle_event(Vm *vm, VmEvent event, const VmEventArgs *a, VmError *error) {
        const VmTransition *t = vm_transition_lookup(vm->phase, event);

        if (!t) {
                if (vm_event_is_request(event))
                        return vm_error_set(error, VM_ERROR_INVALID_STATE, EBUSY, NULL, "Cannot %s VM '%s': it is %s.",
                                            vm_event_to_string(event), vm->name, vm_state_to_string(vm->state));
                log_vm_debug(vm->name, "%s ignored while %s", vm_event_to_string(event),
                          vm_phase_to_string(vm->phase));
                return 0;
        }
        if (t->actions & (VM_DO_DESTROY | VM_DO_FORGET))
                return vm_forget(vm, t->actions & VM_DO_DESTROY, error);

        vm->final_reason = resolve_reason(t->final_reason, vm->final_reason, a->reason, vm->final_reason);
        if (t->actions & VM_DO_DESTROY_LATER)
                vm->destroy_when_stopped = true;
        if (t->record_detail && a->detail)
                vm_set_reason_detail(vm, a->detail);
        if (t->actions & VM_DO_BRING_UP)
                vm_reset_run(vm, a->reason);
        if (t->actions & VM_DO_TEAR_DOWN)
                vm_tear_down(vm);

        vm->phase = t->next;
        vm_publish(vm, vm_phase_to_state(t->next), resolve_reason(t->reason, vm->reason, a->reason, vm->final_reason));

        if (t->actions & VM_DO_PRESS_BUTTON)
                vm_press_button(vm, a->timeout_usec);
        if (t->actions & VM_DO_WORKERS_LEAVE)
                vm_instance_workers_leave(vm->instance);
        if (t->actions & VM_DO_WORKERS_KILL)
                vm_instance_workers_kill(vm->instance);
        vm_check_workers_gone(vm);
        if (t->actions & VM_DO_BRING_UP)
                return vm_bring_up(vm, error);
        if (t->actions & VM_DO_LIFECYCLE)
                vm_apply_lifecycle(vm, event);
        return 0;
}

/* ---- API operations ---- */

int vm_start(Vm *vm, VmReason reason, VmError *error) {
        return vm_handle_event(vm, VM_EVENT_START, &(VmEventArgs) { .reason = reason }, error);
}

static int vm_stop(Vm *vm, uint64_t timeout_usec, VmError *error) {
        return vm_handle_event(vm, VM_EVENT_STOP, &(VmEventArgs) { .timeout_usec = timeout_usec }, error);
}

int vm_kill(Vm *vm, VmReason reason, const char *detail, VmError *error) {
        return vm_handle_event(vm, VM_EVENT_KILL, &(VmEventArgs) { .reason = reason, .detail = detail }, error);
}

int vm_destroy(Vm *vm, VmError *error) {
        if (vm->read_only)
                return vm_error_set(error, VM_ERROR_READ_ONLY, EROFS, NULL,
                                    "VM '%s' is defined by %s; remove that file to remove it.", vm->name,
                                    strna(vm->definition_path));
        return vm_handle_event(vm, VM_EVENT_DESTROY, &(VmEventArgs) {}, error);
}

void vm_undefine(Vm *vm) {
        if (vm_is_active(vm))
                log_vm_notice(vm->name, "%s was removed; the VM goes once it has stopped",
                              vm->definition_path);
        vm->read_only = false;
        (void) vm_handle_event(vm, VM_EVENT_UNDEFINE, &(VmEventArgs) {}, NULL);
}

static int vm_write_definition(Vm *vm, const char *json) {
        _cleanup_free_ char *path = NULL;
        int r;

        if (asprintf(&path, "%s/%s.json", vm->manager->vm_state_dir, vm->name) < 0)
                return -ENOMEM;
        r = write_file_atomic(path, json, strlen(json), 0600);
        if (r < 0)
                return log_vm_error_errno(vm->name, r, "failed to write %s: %m", path);

        free(vm->definition_path);
        vm->definition_path = TAKE_PTR(path);
        vm->persistent = true;
        return 0;
}

int vm_save_definition(Vm *vm) {
        return vm_write_definition(vm, vm->spec_json);
}

int vm_set_autostart(Vm *vm, bool b, VmError *error) {
        _cleanup_free_ char *json = NULL;
        int r;

        if (vm->read_only)
                return vm_error_set(error, VM_ERROR_READ_ONLY, EROFS, NULL,
                                    "VM '%s' is defined by %s and cannot be changed over the bus.", vm->name,
                                    strna(vm->definition_path));
        if (vm->spec->autostart == b)
                return 0;

        /* The model changes only once the new definition is on disk. */
        vm->spec->autostart = b;
        r = vm_spec_to_json(vm->spec, &json);
        if (r >= 0 && vm->persistent)
                r = vm_write_definition(vm, json);
        if (r < 0) {
                vm->spec->autostart = !b;
                return vm_error_set(error, VM_ERROR_SYSTEM, r, NULL, "Failed to save VM '%s': %s", vm->name,
                                    strerror(-r));
        }
        free(vm->spec_json);
        vm->spec_json = TAKE_PTR(json);
        bus_vm_emit_spec_changed(vm);
        return 0;
}

static const char *const verb_names[_VM_VERB_MAX] = {
        [VM_VERB_START] = "start",
        [VM_VERB_STOP] = "stop",
        [VM_VERB_KILL] = "kill",
        [VM_VERB_DESTROY] = "destroy",
};

DEFINE_STRING_TABLE_TO_STRING(vm_verb, VmVerb, verb_names)

int vm_apply_verb(Vm *vm, VmVerb verb, uint64_t timeout_usec, VmError *error) {
        switch (verb) {
        case VM_VERB_START:
                return vm_start(vm, VM_REASON_START, error);
        case VM_VERB_STOP:
                return vm_stop(vm, timeout_usec, error);
        case VM_VERB_KILL:
                return vm_kill(vm, VM_REASON_KILLED, NULL, error);
        case VM_VERB_DESTROY:
                return vm_destroy(vm, error);
        default:
                return vm_error_set(error, VM_ERROR_INVALID_ARGUMENT, EINVAL, "verb", "Unknown verb %d.", verb);
        }
}

int vm_device_tree(Vm *vm, void **ret, size_t *ret_size, VmError *error) {
        _cleanup_(vm_boot_images_freep) VmBootImages *boot = NULL;
        Manager *m = vm->manager;
        char errbuf[512] = "";
        void *copy;
        int r;

        if (vm->instance && vm->instance->dtb) {
                copy = malloc(vm->instance->dtb_size);
                if (!copy)
                        return -ENOMEM;
                *ret = memcpy(copy, vm->instance->dtb, vm->instance->dtb_size);
                *ret_size = vm->instance->dtb_size;
                return 0;
        }

        /* Not running: build it exactly as a start would. */
        r = vm_boot_images_prepare(vm->spec, m->ops->abi(m->backend) != HV_ABI_A14, &boot, errbuf, sizeof(errbuf));
        if (r < 0)
                return vm_error_set(error, VM_ERROR_INVALID_SPEC, r, NULL, "Cannot build the devicetree of VM '%s': %s",
                                    vm->name, errbuf[0] ? errbuf : strerror(-r));
        *ret = TAKE_PTR(boot->dtb);
        *ret_size = boot->dtb_size;
        return 0;
}
