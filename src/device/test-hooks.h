/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * TEST ONLY (meson -Dsandbox-test-hooks=true): a sandboxed device process
 * attempts something its device type's allow-list forbids, so that
 * integration tests see the kernel kill it and only it. Compiled only into
 * hook builds; a default build's gunyah-device has no --test-hook option
 * and none of this code.
 */
#include "config.h"

#if GUNYAH_SANDBOX_TEST_HOOKS
#include <errno.h>

typedef enum DeviceTestHook {
        DEVICE_TEST_HOOK_NONE,
        DEVICE_TEST_HOOK_OPENAT,
        DEVICE_TEST_HOOK_SOCKET,
        DEVICE_TEST_HOOK_EXECVE,
        DEVICE_TEST_HOOK_PTRACE,
        DEVICE_TEST_HOOK_MMAP,          /* no new mappings once serving */
        DEVICE_TEST_HOOK_WRITE_CONTROL, /* write() only to the irqfd and stderr */
        DEVICE_TEST_HOOK_PWRITEV_REGS,  /* block I/O only on the backing fd */
        DEVICE_TEST_HOOK_READ_IRQ,      /* read() only of the kick eventfd */
        DEVICE_TEST_HOOK_SECCOMP_LOG,   /* seccomp logs instead of killing: to find what a device needs */
        DEVICE_TEST_HOOK_ALLOWED,       /* allowed: a log line with %m, the vDSO's time fallbacks; then serves */
        _DEVICE_TEST_HOOK_MAX,
        _DEVICE_TEST_HOOK_INVALID = -EINVAL,
} DeviceTestHook;

DeviceTestHook device_test_hook_from_string(const char *s);
const char *device_test_hook_to_string(DeviceTestHook h);

/* Once serving (READY sent): waits for the first kick or 2 s, so that the
 * VM runs and a kill is a device failure rather than a failed start, then
 * makes the forbidden call. Returns only if the kernel let the process
 * live: -errno of the attempt, or 1 if it succeeded. */
int device_test_hook_attempt(DeviceTestHook h);

/* Under the complete filter, what a device may always do and does rarely:
 * a log line through stdio with an errno text, each time syscall the vDSO
 * may fall back to (as a real syscall), a futex wake. 0 if all returned
 * success, else the first -errno; then the device serves on. */
int device_test_hook_allowed(void);
#endif
