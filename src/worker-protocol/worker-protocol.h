/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The contract between gunyahd and its gunyah-vcpu workers (design §4,
 * docs/worker-pool.md), and the code both sides use to speak it.
 *
 * gunyahd fork+execs every worker the same way, whether a VM waits for it
 * or it is the pool's spare:
 *
 *     gunyah-vcpu [--spare] (--uid=UID --gid=GID | --no-sandbox) [--test-hook=ATTEMPT]
 *
 * with fd 3 (control) its only fd beyond stdio. The command line says only
 * who the process is (its sandbox identity); it enters the VM-independent
 * part of its sandbox, reports WORKER_MSG_IDLE and waits for one
 * WorkerConfig carrying every other fd below (SCM_RIGHTS, in fd-number
 * order), which names the VM and vCPU it runs. --spare only labels a
 * process started ahead of time.
 */
#define WORKER_FD_CONTROL 3 /* SOCK_SEQPACKET, WorkerMessage both ways */
#define WORKER_FD_CONSOLE 4 /* SOCK_STREAM: guest output written, console input read */
#define WORKER_FD_DEVICES 5 /* memfd: device state shared by the workers of one VM;
                             * opaque to the daemon, which never emulates devices */
#define WORKER_FD_BACKEND 6 /* first of n_backend_fds backend fds (hv vcpu_export),
                             * then the n_irqfds eventfds, then per virtio
                             * device its register page, then per virtio
                             * device its kick eventfd, in that order */
/*
 * The daemon kicks a worker out of a blocking run with WORKER_KICK_SIGNAL; the
 * worker then reads pending control messages (WORKER_MSG_STOP: leave, exit 0).
 */
#include <signal.h>
#include <stddef.h>
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
        WORKER_MSG_IDLE = 5,       /* worker → daemon: sandboxed, waiting for WORKER_MSG_CONFIG */
        WORKER_MSG_STOP = 16,      /* daemon → worker: leave the run loop and exit 0 */
        WORKER_MSG_POWER_BUTTON = 17, /* daemon → worker: press the guest's power button */
        WORKER_MSG_CONFIG = 18,    /* daemon → worker: a WorkerConfig plus the VM's fds */
} WorkerMessageType;

/* vcpu of a message sent before the worker was configured (IDLE, or FAILED
 * while entering the sandbox): the daemon knows which vCPU it gave it. */
#define WORKER_VCPU_UNKNOWN UINT32_MAX

typedef struct WorkerMessage {
        uint32_t type;   /* WorkerMessageType */
        uint32_t vcpu;
        int32_t error;   /* -errno for FAILED, attempt for PAGE_FAULT */
        uint32_t status; /* enum gunyah_vm_status for VM_EXITED */
        union {
                uint64_t addr;          /* faulting guest address for PAGE_FAULT */
                uint64_t realtime_usec; /* VM_EXITED: when (it may be read by a later daemon) */
        };
        uint64_t unhandled_mmio; /* accesses answered by the default policy so far */
        struct gunyah_vm_exit_info exit_info;
        char step[32];   /* NUL-terminated [a-z0-9_.-]: what the worker was doing when it failed */
} WorkerMessage;

_Static_assert(sizeof(WorkerMessage) == 80, "WorkerMessage layout is part of the worker ABI");
_Static_assert(offsetof(WorkerMessage, addr) == 16, "WorkerMessage layout is part of the worker ABI");
_Static_assert(offsetof(WorkerMessage, exit_info) == 32, "WorkerMessage layout is part of the worker ABI");
_Static_assert(offsetof(WorkerMessage, step) == 48, "WorkerMessage layout is part of the worker ABI");

/* Doorbells a worker may ring through irqfds (the PL011 and the power button). */
#define WORKER_IRQFDS_MAX 4
#define WORKER_CONFIG_NAME_MAX 64 /* VM_NAME_MAX */

/* virtio-mmio transports a worker answers for (their register pages are
 * shared with the device processes, device-protocol.h). */
#define WORKER_VIRTIO_MAX 16

/* fds a WorkerConfig carries: console, device page, backend fds, irqfds,
 * virtio register pages, virtio kick eventfds. */
#define WORKER_CONFIG_FDS_MIN 3
#define WORKER_CONFIG_FDS_MAX (2 + HV_VCPU_EXPORT_FDS_MAX + WORKER_IRQFDS_MAX + 2 * WORKER_VIRTIO_MAX)

/* daemon → worker, once: which vCPU of which VM it runs and how. Sent with
 * console, device page, backend fds, irqfds, virtio register pages and
 * virtio kick eventfds attached in that order. */
typedef struct WorkerConfig {
        uint32_t type;          /* WORKER_MSG_CONFIG */
        uint32_t vcpu;
        uint32_t n_backend_fds; /* 1 .. HV_VCPU_EXPORT_FDS_MAX */
        uint32_t n_irqfds;      /* 0 .. WORKER_IRQFDS_MAX */
        uint32_t irq_labels[WORKER_IRQFDS_MAX]; /* doorbell label of each irqfd */
        uint64_t pl011_base;    /* UINT64_MAX: none */
        uint64_t pl061_base;    /* UINT64_MAX: none */
        uint32_t pl011_spi;     /* their interrupt lines (doorbell labels) */
        uint32_t pl061_spi;
        char backend[16];       /* NUL-terminated hv backend name */
        char vm[WORKER_CONFIG_NAME_MAX + 1]; /* NUL-terminated */
        uint8_t reserved[3];    /* zero */
        uint32_t n_virtio;      /* 0 .. WORKER_VIRTIO_MAX */
        uint64_t virtio_base[WORKER_VIRTIO_MAX]; /* each transport's VIRTIO_MMIO_WINDOW, non-overlapping */
} WorkerConfig;

_Static_assert(sizeof(WorkerConfig) == 272, "WorkerConfig layout is part of the worker ABI");
_Static_assert(offsetof(WorkerConfig, n_virtio) == 140, "WorkerConfig layout is part of the worker ABI");
_Static_assert(offsetof(WorkerConfig, irq_labels) == 16, "WorkerConfig layout is part of the worker ABI");
_Static_assert(offsetof(WorkerConfig, pl011_base) == 32, "WorkerConfig layout is part of the worker ABI");
_Static_assert(offsetof(WorkerConfig, backend) == 56, "WorkerConfig layout is part of the worker ABI");
_Static_assert(offsetof(WorkerConfig, vm) == 72, "WorkerConfig layout is part of the worker ABI");

/* The fds of one configuration, in the order they travel. */
static inline size_t worker_config_n_fds(const WorkerConfig *c) {
        return 2 + (size_t) c->n_backend_fds + c->n_irqfds + 2 * (size_t) c->n_virtio;
}

/* Checks a configuration before it is sent or used: known type, counts in
 * range, names NUL-terminated and non-empty, n_fds matching. -EBADMSG with a
 * log line naming what is wrong. */
int worker_config_validate(const WorkerConfig *c, size_t n_fds);

/* daemon: sends c with its n_fds fds (validated first). */
int worker_config_send(int sock, const WorkerConfig *c, const int *fds, size_t n_fds);

/* worker: blocks for the configuration; its fds land in ret_fds (O_CLOEXEC).
 * Returns 1 with a validated configuration, 0 if the daemon hung up, or
 * -errno (-EBADMSG: malformed; every fd it carried is closed). */
int worker_config_receive(int sock, WorkerConfig *ret, int ret_fds[static WORKER_CONFIG_FDS_MAX], size_t *ret_n_fds);

/* daemon: what a worker sent is untrusted bytes (it may be compromised).
 * Accepts exactly one WorkerMessage of a worker → daemon type whose fields
 * agree with it; vcpu must be the worker's own (WORKER_VCPU_UNKNOWN becomes
 * it where a worker may not know it yet). -EBADMSG with a log line naming
 * what is wrong; *ret is written only on success. */
int worker_message_decode(const void *buf, size_t n, uint32_t vcpu, WorkerMessage *ret);

/* daemon: reads the next message from a worker's control socket without
 * blocking. 1: a valid message in *ret; 0: EOF; -EAGAIN: nothing pending;
 * -EBADMSG: one invalid message was dropped (logged), read on; other
 * -errno: the socket failed. Any fds a worker attached are discarded. */
int worker_message_receive(int sock, uint32_t vcpu, WorkerMessage *ret);

/* Both ways: one fixed-size message (SOCK_SEQPACKET keeps it whole); flags
 * as send()'s (the daemon never blocks: MSG_DONTWAIT), plus MSG_NOSIGNAL. */
int worker_message_send(int sock, const WorkerMessage *m, int flags);
