/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* TEST ONLY: see test-hooks.h. Built only with -Dsandbox-test-hooks=true. */
#include <fcntl.h>
#include <linux/futex.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "device-protocol.h"
#include "log.h"
#include "macro.h"
#include "string-table.h"
#include "test-hooks.h"

#if !GUNYAH_SANDBOX_TEST_HOOKS
#error "test-hooks.c is built only with -Dsandbox-test-hooks=true"
#endif

/* Marks a hook build's binary: tests grep the default build for it. */
const char device_test_hook_marker[] __attribute__((used)) = "GUNYAH-SANDBOX-TEST-HOOKS-ENABLED";

static const char *const hook_names[_DEVICE_TEST_HOOK_MAX] = {
        [DEVICE_TEST_HOOK_NONE] = "none",
        [DEVICE_TEST_HOOK_OPENAT] = "openat",
        [DEVICE_TEST_HOOK_SOCKET] = "socket",
        [DEVICE_TEST_HOOK_EXECVE] = "execve",
        [DEVICE_TEST_HOOK_PTRACE] = "ptrace",
        [DEVICE_TEST_HOOK_MMAP] = "mmap",
        [DEVICE_TEST_HOOK_WRITE_CONTROL] = "write-control",
        [DEVICE_TEST_HOOK_PWRITEV_REGS] = "pwritev-regs",
        [DEVICE_TEST_HOOK_READ_IRQ] = "read-irq",
        [DEVICE_TEST_HOOK_SECCOMP_LOG] = "seccomp-log",
        [DEVICE_TEST_HOOK_ALLOWED] = "allowed",
};

DEFINE_STRING_TABLE(device_test_hook, DeviceTestHook, hook_names);

static int ret_of(long r) {
        return r < 0 ? -errno : 1;
}

/* Guest memory a compromised device would like to map afresh. */
static int attempt_mmap(void) {
        void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, DEVICE_FD_MEMORY, 0);

        if (p == MAP_FAILED)
                return -errno;
        (void) munmap(p, 4096);
        return 1;
}

/* A message to the daemon that bypasses the protocol's sendto. */
static int attempt_write_control(void) {
        static const char junk[8] = "junk";

        return ret_of(write(DEVICE_FD_CONTROL, junk, sizeof(junk)));
}

/* Block I/O, but into the register page the vCPU workers trust. */
static int attempt_pwritev_regs(void) {
        char zeros[64] = {};
        struct iovec iov = { .iov_base = zeros, .iov_len = sizeof(zeros) };

        return ret_of(pwritev(DEVICE_FD_REGS, &iov, 1, 0));
}

static int attempt_read_irq(void) {
        uint64_t count;

        return ret_of(read(DEVICE_FD_IRQ, &count, sizeof(count)));
}

static int attempt(DeviceTestHook h) {
        char *const argv[] = { (char *) "sh", NULL };

        switch (h) {
        case DEVICE_TEST_HOOK_OPENAT:
                return ret_of(openat(AT_FDCWD, "/etc/passwd", O_RDONLY | O_CLOEXEC));
        case DEVICE_TEST_HOOK_SOCKET:
                return ret_of(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
        case DEVICE_TEST_HOOK_EXECVE:
                return ret_of(execve("/bin/sh", argv, argv + 1));
        case DEVICE_TEST_HOOK_PTRACE:
                return ret_of(ptrace(PTRACE_ATTACH, getppid(), NULL, NULL));
        case DEVICE_TEST_HOOK_MMAP:
                return attempt_mmap();
        case DEVICE_TEST_HOOK_WRITE_CONTROL:
                return attempt_write_control();
        case DEVICE_TEST_HOOK_PWRITEV_REGS:
                return attempt_pwritev_regs();
        case DEVICE_TEST_HOOK_READ_IRQ:
                return attempt_read_irq();
        default:
                return -EINVAL;
        }
}

int device_test_hook_attempt(DeviceTestHook h) {
        struct pollfd kick = { .fd = DEVICE_FD_KICK, .events = POLLIN };

        (void) poll(&kick, 1, 2000);
        log_info("test-hook: attempting %s in the sandbox", device_test_hook_to_string(h));
        return attempt(h);
}

int device_test_hook_allowed(void) {
        static uint32_t word;
        struct timespec ts;
        struct timeval tv;

        /* stdio, vsnprintf and strerror() as a guest error report uses them. */
        log_warning_errno(-EIO, "test-hook allowed: a log line with an errno text: %m");
        /* syscall(), not the libc calls: those would take the vDSO. */
        if (syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &ts) < 0 || syscall(SYS_gettimeofday, &tv, NULL) < 0 ||
            syscall(SYS_clock_getres, CLOCK_MONOTONIC, &ts) < 0)
                return log_error_errno(errno, "test-hook allowed: a time syscall failed: %m");
#ifdef SYS_time
        if (syscall(SYS_time, NULL) < 0)
                return log_error_errno(errno, "test-hook allowed: time failed: %m");
#endif
        if (syscall(SYS_futex, &word, FUTEX_WAKE, 1, NULL, NULL, 0) < 0)
                return log_error_errno(errno, "test-hook allowed: futex wake failed: %m");
        log_info("test-hook allowed: all returned");
        return 0;
}
