/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * TEST ONLY (meson -Dsandbox-test-hooks=true): a sandboxed worker attempts
 * something its sandbox forbids, so that integration tests see the kernel
 * enforce it. Compiled only into hook builds; a default build's worker has no
 * --test-hook option and none of this code.
 */
#include "config.h"

#if GUNYAH_SANDBOX_TEST_HOOKS
#include <stdbool.h>

typedef enum TestHook {
        TEST_HOOK_NONE,
        TEST_HOOK_OPENAT,
        TEST_HOOK_SOCKET,
        TEST_HOOK_EXECVE,
        TEST_HOOK_PTRACE,
        TEST_HOOK_MOUNT,
        TEST_HOOK_KILL,
        TEST_HOOK_IOCTL,
        TEST_HOOK_SETUID,
        TEST_HOOK_LAYERS,      /* before seccomp: each attempt fails on the layers below it */
        TEST_HOOK_SECCOMP_LOG, /* seccomp logs instead of killing: to find what a backend needs */
        TEST_HOOK_CLOCK_SYSCALLS, /* allowed: the vDSO's time fallbacks as real syscalls, then run */
        _TEST_HOOK_MAX,
        _TEST_HOOK_INVALID = -EINVAL,
} TestHook;

TestHook test_hook_from_string(const char *s);
const char *test_hook_to_string(TestHook h);

/* Attempts the forbidden syscall after the sandbox is complete. Returns only
 * if the kernel let the worker live: -errno of the attempt, or 1 if it
 * succeeded. */
int test_hook_attempt(TestHook h);

/* Makes each time syscall the vDSO may fall back to, as a real syscall,
 * under the complete sandbox. Returns only if the kernel let the worker
 * live: 0 if every call succeeded, else the first -errno. */
int test_hook_clock_syscalls(void);

/* Between sandbox_confine() and seccomp: every attempt must already fail
 * with the errno the namespaces, the uid and the capability drop give.
 * Returns 0, or -EEXIST with *ret_step naming the attempt that did not. */
int test_hook_check_layers(const char **ret_step);
#endif
