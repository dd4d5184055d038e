/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * A fake /dev/gunyah for unit tests.
 *
 * How it is reached: the test binary is linked with -Wl,--wrap=ioctl, so
 * every ioctl() of the code under test (src/hv is linked in unchanged) goes
 * to __wrap_ioctl here. No open() wrapping is needed: the device is a memfd
 * and fake_gunyah_setup() returns its /proc/self/fd path, which the code
 * under test opens like /dev/gunyah. Every object the fake hands out (VM,
 * guest memory, vCPU) is a memfd too, and an fd is recognised by its inode,
 * so dup(), SCM_RIGHTS and fd-number reuse cannot confuse it, guest memory
 * and vCPU run blocks can really be mmap()ed, and ioctls on any other fd
 * pass through to the real ioctl().
 *
 * What it checks: request numbers (anything else is ENOTTY, or EINVAL on an
 * A14 vCPU, as the kernels answer), the argument bytes copied the way the
 * kernel copies them (_IOC_SIZE bytes; ADD/REMOVE_FUNCTION also copy
 * arg_size bytes from desc.arg), and for U17 the validation and bookkeeping
 * of src/hv/hv-rules.c, the same model the simulator uses, so the fake and
 * the rules cannot drift. START asks /proc/self/maps whether lent guest
 * memory is still mapped; an irqfd or ioeventfd whose fd is no eventfd is
 * -EINVAL (-EBADF for no open fd), as the kernel. A14 region rules (spec §4.1) are checked here.
 *
 * Every call is recorded (request, fd kind, argument bytes, result) for
 * assertions.
 */

#include <stddef.h>
#include <stdint.h>

#include "gunyah-abi.h"
#include "hv-rules.h"

typedef enum FakeGunyahMode {
        FAKE_GUNYAH_U17,
        FAKE_GUNYAH_A14,     /* with GH_ANDROID_TENTATIVE_UAPI */
        FAKE_GUNYAH_A14_OLD, /* an android14 build without it */
        FAKE_GUNYAH_A15,
        FAKE_GUNYAH_VENDOR,  /* Qualcomm 0xB2 ABI */
        FAKE_GUNYAH_MISSING, /* no device node */
        _FAKE_GUNYAH_MODE_MAX,
} FakeGunyahMode;

typedef enum FakeGunyahKind {
        FAKE_GUNYAH_KIND_DEVICE,
        FAKE_GUNYAH_KIND_VM,
        FAKE_GUNYAH_KIND_GUEST_MEM,
        FAKE_GUNYAH_KIND_VCPU,
        _FAKE_GUNYAH_KIND_MAX,
} FakeGunyahKind;

#define FAKE_GUNYAH_PAGE_SIZE 4096u
#define FAKE_GUNYAH_MAX_CALLS 256

typedef struct FakeGunyahCall {
        FakeGunyahKind kind; /* what the fd was */
        int vm;              /* index of the VM (VM and vCPU fds), else -1 */
        uint32_t request;
        unsigned long int_arg;   /* the raw third argument */
        uint8_t arg[64];         /* _IOC_SIZE(request) bytes copied from it */
        size_t arg_size;
        uint8_t fn_arg[GUNYAH_FN_MAX_ARG_SIZE]; /* ADD/REMOVE_FUNCTION: desc.arg bytes */
        size_t fn_arg_size;
        int result; /* what the ioctl returned: value, or -errno */
} FakeGunyahCall;

/* Starts a fake device speaking mode; returns the path to open (for
 * FAKE_GUNYAH_MISSING, a path that does not exist). Resets all state. */
const char *fake_gunyah_setup(FakeGunyahMode mode);
/* Closes everything the fake holds. */
void fake_gunyah_teardown(void);

/* Makes every later ioctl with this request fail with -error (0 clears),
 * to play kernels whose answers the spec does not describe. */
void fake_gunyah_force_errno(uint32_t request, int error);
/* The same for the next count calls only (count 0: every call). */
void fake_gunyah_force_errno_n(uint32_t request, int error, unsigned count);

/* Makes CREATE_GUEST_MEM with any of these flags fail with -EINVAL, as a
 * kernel that does not know them (0 clears). */
void fake_gunyah_refuse_guest_mem_flags(uint64_t flags);

/* Queues what the next VCPU_RUN of vCPU id reports: bytes 8.. of the run
 * block (exit_reason and the union) are copied from exit. Without a queued
 * exit, VCPU_RUN fails with -EIO (a test bug). */
void fake_gunyah_queue_exit(uint32_t vcpu_id, const struct gunyah_vcpu_run *exit);

size_t fake_gunyah_n_calls(void);
const FakeGunyahCall *fake_gunyah_call(size_t i);
/* Calls with this request, in order: the n-th (0-based), NULL if fewer. */
const FakeGunyahCall *fake_gunyah_find_call(uint32_t request, size_t n);

/* Objects (device, VMs, guest memory, vCPUs) the fake holds a reference
 * fd for; lets a test tell its own fds from leaked ones. */
size_t fake_gunyah_n_objects(void);
int fake_gunyah_n_vms(void);
/* The kernel-side model of VM i (U17 rules; A14 keeps functions and state here too). */
const GhRulesVm *fake_gunyah_vm_rules(int vm);
/* A14: number of regions registered on VM i, and region j's arguments and
 * whether it was lent (ANDROID_LEND_USER_MEM) rather than shared. */
size_t fake_gunyah_a14_n_regions(int vm);
const struct gunyah_userspace_memory_region *fake_gunyah_a14_region(int vm, size_t j, int *ret_lent);

const char *fake_gunyah_request_name(uint32_t request);
