/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The contract between gunyahd and its gunyah-vcpu workers (design §4).
 *
 * gunyahd fork+execs one worker per vCPU with exactly these fds open:
 */
#define WORKER_FD_CONTROL 3 /* SOCK_SEQPACKET, WorkerMessage both ways */
#define WORKER_FD_CONSOLE 4 /* SOCK_STREAM: guest output written, console input read */
#define WORKER_FD_DEVICES 5 /* memfd: device state shared by the workers of one VM;
                             * opaque to the daemon, which never emulates devices */
#define WORKER_FD_BACKEND 6 /* first of --backend-fds=N backend fds (hv vcpu_export),
                             * then one eventfd per --irqfd=LABEL, in that order */

/*
 * Command line: gunyah-vcpu --backend=NAME --vcpu=ID --vm=NAME --backend-fds=N
 *               [--irqfd=LABEL]... [--no-sandbox] [--uid=UID --gid=GID]
 *
 * Or, started ahead of time as the daemon's spare (docs/worker-pool.md):
 *               gunyah-vcpu --spare
 * with fd 3 (control) as its only fd beyond stdio. It loads, reports
 * WORKER_MSG_IDLE and blocks until a WorkerAssign arrives carrying every
 * other fd above (SCM_RIGHTS, in fd-number order); from then on it is the
 * worker that command line would have started.
 *
 * The daemon kicks a worker out of a blocking run with WORKER_KICK_SIGNAL; the
 * worker then reads pending control messages (WORKER_MSG_STOP: leave, exit 0).
 */
#include <signal.h>
#include <stdint.h>

#include "gunyah-abi.h"
#include "hv.h"

#define WORKER_KICK_SIGNAL SIGUSR1
#define WORKER_DEVICES_SIZE 4096

typedef enum WorkerMessageType {
        WORKER_MSG_READY = 1,      /* worker → daemon: attached, about to run */
        WORKER_MSG_VM_EXITED = 2,  /* worker → daemon: run returned STATUS (status, exit_info) */
        WORKER_MSG_FAILED = 3,     /* worker → daemon: run failed (error = -errno, step) */
        WORKER_MSG_PAGE_FAULT = 4, /* worker → daemon: unrecoverable guest page fault */
        WORKER_MSG_IDLE = 5,       /* spare → daemon: loaded, waiting for WORKER_MSG_ASSIGN */
        WORKER_MSG_STOP = 16,      /* daemon → worker: leave the run loop and exit 0 */
        WORKER_MSG_POWER_BUTTON = 17, /* daemon → worker: press the guest's power button */
        WORKER_MSG_ASSIGN = 18,    /* daemon → spare: a WorkerAssign plus the VM's fds */
} WorkerMessageType;

typedef struct WorkerMessage {
        uint32_t type;   /* WorkerMessageType */
        uint32_t vcpu;
        int32_t error;   /* -errno for FAILED, attempt for PAGE_FAULT */
        uint32_t status; /* enum gunyah_vm_status for VM_EXITED */
        uint64_t addr;   /* faulting guest address for PAGE_FAULT */
        uint64_t unhandled_mmio; /* accesses answered by the default policy so far */
        struct gunyah_vm_exit_info exit_info;
        char step[32];   /* NUL-terminated: what the worker was doing when it failed */
} WorkerMessage;

_Static_assert(sizeof(WorkerMessage) == 80, "WorkerMessage layout is part of the worker ABI");

/* Doorbells a worker may ring through irqfds (the PL011 and the power button). */
#define WORKER_IRQFDS_MAX 4
#define WORKER_ASSIGN_NAME_MAX 64 /* VM_NAME_MAX */

/* fds a WorkerAssign carries at most: console, device page, backend, irqfds. */
#define WORKER_ASSIGN_FDS_MAX (2 + HV_VCPU_EXPORT_FDS_MAX + WORKER_IRQFDS_MAX)

#define WORKER_ASSIGN_NO_SANDBOX 0x1u

/* daemon → spare: what the command line says to a worker started for a VM.
 * Sent once, with console, device page, backend fds and irqfds attached in
 * that order. */
typedef struct WorkerAssign {
        uint32_t type;          /* WORKER_MSG_ASSIGN */
        uint32_t vcpu;
        uint32_t n_backend_fds; /* 1 .. HV_VCPU_EXPORT_FDS_MAX */
        uint32_t n_irqfds;      /* 0 .. WORKER_IRQFDS_MAX */
        uint32_t flags;         /* WORKER_ASSIGN_* */
        uint32_t uid;           /* sandbox identity, unless NO_SANDBOX */
        uint32_t gid;
        uint32_t pl011_spi;
        uint32_t pl061_spi;
        uint32_t irq_labels[WORKER_IRQFDS_MAX];
        uint32_t reserved;
        uint64_t pl011_base;    /* UINT64_MAX: none */
        uint64_t pl061_base;
        char backend[16];       /* NUL-terminated */
        char vm[WORKER_ASSIGN_NAME_MAX + 1]; /* NUL-terminated */
} WorkerAssign;

_Static_assert(sizeof(WorkerAssign) == 160, "WorkerAssign layout is part of the worker ABI");
