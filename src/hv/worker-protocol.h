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
#define WORKER_FD_BACKEND 6 /* first of --backend-fds=N backend fds (hv vcpu_export) */

/*
 * Command line: gunyah-vcpu --backend=NAME --vcpu=ID --vm=NAME --backend-fds=N
 *               [--no-sandbox] [--uid=UID --gid=GID]
 *
 * The daemon kicks a worker out of a blocking run with WORKER_KICK_SIGNAL; the
 * worker then reads pending control messages (WORKER_MSG_STOP: leave, exit 0).
 */
#include <signal.h>
#include <stdint.h>

#include "gunyah-abi.h"

#define WORKER_KICK_SIGNAL SIGUSR1
#define WORKER_DEVICES_SIZE 4096

typedef enum WorkerMessageType {
        WORKER_MSG_READY = 1,      /* worker → daemon: attached, about to run */
        WORKER_MSG_VM_EXITED = 2,  /* worker → daemon: run returned STATUS (status, exit_info) */
        WORKER_MSG_FAILED = 3,     /* worker → daemon: run failed (error = -errno, step) */
        WORKER_MSG_PAGE_FAULT = 4, /* worker → daemon: unrecoverable guest page fault */
        WORKER_MSG_STOP = 16,      /* daemon → worker: leave the run loop and exit 0 */
        WORKER_MSG_POWER_BUTTON = 17, /* daemon → worker: press the guest's power button */
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
