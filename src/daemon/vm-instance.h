/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * A running instance of a VM: what exists from the first start step until
 * the workers are gone. The hypervisor VM, its guest memory, the device
 * page, the irqfds, the console pipe, the workers and the devicetree the
 * guest got. vm.c owns one per active VM and decides when it goes.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "hv.h"
#include "macro.h"
#include "time-util.h"
#include "worker-protocol.h"

/* The console socket's send buffer on the worker's side (the kernel
 * doubles it): what a guest may print while no daemon reads. */
#define VM_CONSOLE_SOCKET_BUFFER (4 * 1024 * 1024)

/* After the first exit, how long workers get to leave on their own. */
#define VM_WORKER_STOP_GRACE_USEC (2 * USEC_PER_SEC)

typedef struct Vm Vm;
typedef struct Worker Worker;
typedef struct DeviceProcess DeviceProcess;
typedef struct VmScope VmScope;
typedef struct VmKeeper VmKeeper;

/* One per virtio-mmio transport of the layout. */
#define VM_INSTANCE_DEVICES_MAX 32

typedef struct VmInstance {
        Vm *vm;
        HvVm *hv;
        int guest_mem_fd;    /* RAM, or the part below the swiotlb pool */
        int swiotlb_mem_fd;  /* memory.swiotlb: shared while the rest is lent; -EBADF without */
        int devices_fd;      /* shared device page handed to every worker */
        int console_read_fd; /* read end of the console pipe */
        sd_event_source *console_source;
        Worker **workers;
        size_t n_workers;
        int irqfds[WORKER_IRQFDS_MAX]; /* eventfds registered as irqfds, one per DT doorbell */
        uint32_t irq_labels[WORKER_IRQFDS_MAX];
        size_t n_irqfds;
        DeviceProcess *devices[VM_INSTANCE_DEVICES_MAX]; /* virtio devices, in layout order */
        size_t n_devices;
        uint32_t vsock_cid; /* the CID this instance holds; 0 = no vsock */
        char *vsock_dir;    /* <runtime_dir>/vms/NAME with its listening socket; NULL without vsock */
        void *dtb;
        size_t dtb_size;
        sd_event_source *grace_timer; /* workers asked to leave: kill the rest when it fires */
        sd_event_source *gone_event;  /* deferred "every worker has exited" */
        VmScope *scope;               /* under systemd: the processes' scope unit (vm-scope.c) */
        char *record_dir;             /* <runtime_dir>/vms/NAME holding the record (vm-instance-record.h) */
        VmKeeper *keeper;             /* holds our fds across a daemon restart (vm-keeper.h) */
        bool recorded_running;        /* the record says running and the keeper holds our fds */
} VmInstance;

/* Brings up a running instance in the order of spec §6: spec → layout →
 * DTB → guest memory → bindings → images → DTB config → boot context →
 * vCPU functions → start → one worker per vCPU. On failure *ret_step names
 * the step, errbuf may say more, and nothing is left behind. */
/* TEST ONLY (hook builds): ATTEMPT if hook ("VM:ATTEMPT", from
 * --worker-test-hook or --device-test-hook) names vm, else NULL. */
const char *vm_test_hook_for(const Vm *vm, const char *hook);

int vm_instance_new(Vm *vm, VmInstance **ret, const char **ret_step, char *errbuf, size_t errlen);

/* An instance a previous daemon started (vm-adopt.h): no hypervisor VM
 * handle; its console socket and device page came from the VM's keeper.
 * Then each of its workers. Both take the fds, also on failure. */
int vm_instance_new_adopted(Vm *vm, int console_fd, int devices_fd, VmInstance **ret);
int vm_instance_add_adopted_worker(VmInstance *i, uint32_t vcpu, pid_t pid, int pidfd, int control_fd);
/* Device index (the record's order, which is the layout's: added in order)
 * after record_dir is set (a vsock device's directory is the record's). */
int vm_instance_add_adopted_device(VmInstance *i, uint32_t index, pid_t pid, int pidfd, int control_fd);

/* Releases everything: workers (killed and reaped if still there), the
 * hypervisor VM, guest memory, device page, console pipe. */
VmInstance *vm_instance_free(VmInstance *i);
DEFINE_TRIVIAL_CLEANUP_FUNC(VmInstance *, vm_instance_free);

/* Whether the daemon may exit leaving the instance running for the next
 * one to adopt (vm-adopt.h): running, recorded so, a backend whose VMs
 * outlive their handle. */
bool vm_instance_can_detach(const VmInstance *i);
/* Releases our side of it and leaves its processes, record, keeper,
 * directory and scope as they are. */
VmInstance *vm_instance_detach(VmInstance *i);

/* Asks the guest to power itself off (the power button of the device page). */
int vm_instance_press_power_button(VmInstance *i);
/* Asks every worker to leave; the ones still there after a grace period are killed. */
void vm_instance_workers_leave(VmInstance *i);
void vm_instance_workers_kill(VmInstance *i);

bool vm_instance_workers_ready(const VmInstance *i);
bool vm_instance_workers_gone(const VmInstance *i);
/* Calls done (deferred to the event loop, once) when every worker has exited. */
void vm_instance_watch_workers_gone(VmInstance *i, sd_event_handler_t done, void *userdata);

/* The PIDs of the workers still running, into pids (at most max). */
size_t vm_instance_worker_pids(const VmInstance *i, pid_t *pids, size_t max);
