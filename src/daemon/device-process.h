/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The daemon's side of one virtio device of a running VM (design §4): the
 * gunyah-device process that serves it, watched like a vCPU worker, and
 * everything the daemon creates for it: its virtio-mmio register page, its
 * kick eventfd (the ioeventfd of its QueueNotify address), its irq
 * eventfd (the irqfd of its SPI) and its backing fd: a disk's image,
 * flock'ed for the VM's life; vsock's listening socket; /dev/null for rng.
 * A vsock device asks it to connect to host sockets (vm-vsock.h).
 */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <systemd/sd-event.h>

#include "hv.h"
#include "layout.h"
#include "macro.h"
#include "vm-spec.h"

typedef struct Vm Vm;

typedef struct DeviceProcess {
        Vm *vm;
        char name[16];   /* "disk0", "vsock", "rng": how logs and StateReason name it */
        const char *type; /* --type= of gunyah-device */
        VmLayoutDevice where;
        uint32_t cid;    /* vsock: the guest's CID */
        const char *vsock_dir; /* vsock: where vsock_P sockets are (the instance's) */
        int regs_fd;     /* memfd, one page, sealed against resizing */
        int kick_fd;
        int irq_fd;
        int backing_fd;
        bool readonly;
        char serial[VM_DISK_SERIAL_MAX + 1];
        pid_t pid;
        int pidfd;
        int control_fd;
        sd_event_source *pid_source;
        sd_event_source *control_source;
        bool ready;
        bool exited;
        unsigned guest_errors_logged;
} DeviceProcess;

/* Guest memory a device may reach: (guest address, size, fd) each. */
typedef struct DeviceMemory {
        uint64_t guest_addr;
        uint64_t size;
        int fd;
} DeviceMemory;

/* Opens and locks disk `index` of spec and sets up its register page and
 * eventfds (registered with the hypervisor VM hv). errbuf names the disk
 * on failure (in use by another VM, missing, ...). */
int device_process_prepare_disk(Vm *vm, const HvBackendOps *ops, HvVm *hv, const VmLayoutDevice *where,
                                const VmDisk *disk, DeviceProcess **ret, char *errbuf, size_t errlen);

/* The vsock device: its register page and eventfds; listen_fd (the
 * instance's listening socket, vm-vsock.h) is taken, also on failure. */
int device_process_prepare_vsock(Vm *vm, const HvBackendOps *ops, HvVm *hv, const VmLayoutDevice *where,
                                 uint32_t cid, const char *vsock_dir, int listen_fd, DeviceProcess **ret);

/* The rng device: its register page, eventfds and /dev/null at fd 7. */
int device_process_prepare_rng(Vm *vm, const HvBackendOps *ops, HvVm *hv, const VmLayoutDevice *where,
                               DeviceProcess **ret);

typedef struct DeviceSpawnArgs {
        const char *binary;
        bool no_sandbox;
        uid_t uid;
        gid_t gid;
        const DeviceMemory *memory;
        size_t n_memory;
        const char *test_hook; /* TEST ONLY, hook builds: --test-hook=ATTEMPT, or NULL */
} DeviceSpawnArgs;

/* Starts its process and watches it. */
int device_process_spawn(DeviceProcess *d, sd_event *event, const DeviceSpawnArgs *a);

/* A device process a previous daemon started (vm-adopt.h): only its pid,
 * pidfd (-ESRCH: it ended while no daemon ran) and control socket are
 * ours; the rest is the process's. Takes both fds, also on failure. */
int device_process_adopt(Vm *vm, sd_event *event, const VmLayoutDevice *where, const char *vsock_dir, pid_t pid,
                         int pidfd, int control_fd, DeviceProcess **ret);

/* Kills (if still there) and releases everything. */
DeviceProcess *device_process_free(DeviceProcess *d);
DEFINE_TRIVIAL_CLEANUP_FUNC(DeviceProcess *, device_process_free);
/* Releases our side only: the process runs on (the daemon exits, vm-adopt.h). */
DeviceProcess *device_process_release(DeviceProcess *d);
