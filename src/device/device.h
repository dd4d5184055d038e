/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * gunyah-device: one virtio device of one VM, in a process of its own
 * (design §4). What the command line and the fds of device-protocol.h say
 * it is, and the loop that serves the guest.
 */

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "config.h"
#include "device-protocol.h"
#include "guest-memory.h"
#include "seccomp-util.h"
#include "virtio-mmio.h"

typedef enum DeviceType {
        DEVICE_TYPE_BLOCK,
        DEVICE_TYPE_RNG,
        DEVICE_TYPE_VSOCK,
        _DEVICE_TYPE_MAX,
        _DEVICE_TYPE_INVALID = -EINVAL,
} DeviceType;

const char *device_type_to_string(DeviceType t);
DeviceType device_type_from_string(const char *s);

typedef struct DeviceOptions {
        DeviceType type;
        const char *vm;
        const char *device;
        uid_t uid;
        gid_t gid;
        bool no_sandbox;
        unsigned n_memory;
        struct {
                uint64_t guest_addr, size;
        } memory[DEVICE_MEMORY_REGIONS_MAX];
        bool readonly;
        const char *serial;
        uint64_t cid;           /* vsock: the guest's CID */
#if GUNYAH_SANDBOX_TEST_HOOKS
        int test_hook; /* TEST ONLY: DeviceTestHook, test-hooks.h */
#endif
} DeviceOptions;

/* What every device type serves with. */
typedef struct DeviceContext {
        const DeviceOptions *options;
        VirtioMmioShared *regs;
        GuestMemory memory;
        int kick_fd;
        int irq_fd;
        int control_fd;
        int epoll_fd;           /* vsock: made before the sandbox, -1 otherwise */
        uint32_t guest_errors_reported; /* kinds already sent to the daemon */
} DeviceContext;

/* Parses --memory=GPA:SIZE[,GPA:SIZE...] into o. */
int device_parse_memory(const char *arg, DeviceOptions *o);

/* Tells the daemon once per kind of guest error (kind: a bit). */
void device_report_guest_error(DeviceContext *c, uint32_t kind, int error, const char *detail);

/* Raises the device's interrupt: InterruptStatus bits, then the irqfd. */
void device_interrupt(DeviceContext *c, uint32_t bits);

/* What the daemon sent on the control socket: 1 with a reply (*ret_fd: its
 * fd or -1); 0: the daemon hung up; -EAGAIN: nothing more pending.
 * Invalid replies are dropped (logged). */
int device_control_receive(DeviceContext *c, DeviceReply *ret, int *ret_fd);

/* Waits for kicks and calls on_kick after each, until the daemon hangs up
 * (0) or on_kick fails (its -errno). */
int device_loop(DeviceContext *c, int (*on_kick)(DeviceContext *c, void *userdata), void *userdata);

/* Serves a block device until the daemon hangs up: 0, or -errno. */
int block_device_serve(DeviceContext *c, int backing_fd);
int rng_device_serve(DeviceContext *c);

/* Serves a vsock device (host connections accepted on listen_fd) until the
 * daemon hangs up: 0, or -errno. c->epoll_fd must be there. */
int vsock_device_serve(DeviceContext *c, int listen_fd);
/* RLIMIT_NOFILE a vsock device needs: its fixed fds up to last_fd, every
 * connection, every connect and client it may have pending. */
unsigned vsock_device_nofile(unsigned last_fd);

/* The seccomp filter of a device of type t, after the sandbox. log_only
 * (test-hook builds only) logs instead of killing, to find what a device
 * type needs. */
int device_seccomp_install(DeviceType t, bool log_only);

extern const SeccompTable seccomp_table_block; /* seccomp-block.c */
extern const SeccompTable seccomp_table_rng;   /* seccomp-rng.c */
extern const SeccompTable seccomp_table_vsock; /* seccomp-vsock.c */
