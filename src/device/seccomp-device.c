/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The allow-lists of the device processes, as crosvm keeps one policy per
 * device: this common table for the loop every device runs (device-loop.c),
 * plus one table per device type in a file of its own (seccomp-block.c)
 * with only what its I/O needs. Reviewed: each addition needs its reason
 * here and a line in docs/sandbox.md.
 */
#include <errno.h>
#include <linux/futex.h>
#include <sys/syscall.h>

#include "device-protocol.h"
#include "device.h"
#include "log.h"
#include "macro.h"
#include "seccomp-util.h"

static const SeccompRule common_rules[] = {
        SECCOMP_ALLOW(ppoll, "wait for a kick or the daemon's hangup (poll() on arm64)"),
#ifdef __NR_poll
        SECCOMP_ALLOW(poll, "wait for a kick or the daemon's hangup (poll() on x86_64)"),
#endif
        SECCOMP_ALLOW_IF_EQ(read, 0, DEVICE_FD_KICK, "read (reset) the kick eventfd, and nothing else"),
        SECCOMP_ALLOW_IF_EQ(write, 0, DEVICE_FD_IRQ, "ring the irqfd"),
        SECCOMP_ALLOW_IF_EQ(write, 0, 2, "log lines to stderr (fd 2, the daemon's journal stream)"),
        SECCOMP_ALLOW_IF_EQ(sendto, 0, DEVICE_FD_CONTROL, "messages to the daemon (fd 3)"),
        SECCOMP_ALLOW_IF_EQ(recvmsg, 0, DEVICE_FD_CONTROL, "the daemon's replies and its hangup (fd 3)"),
        SECCOMP_ALLOW(close, "fds that came with a reply, a vsock device's ended connections"),
        SECCOMP_ALLOW_IF_EQ(futex, 1, FUTEX_WAKE, "wake a vCPU waiting for a reset to complete"),
        SECCOMP_ALLOW(sched_yield, "the register page's contended spin lock"),
        SECCOMP_ALLOW(clock_gettime, "the register page lock's lease where the clocksource has no vDSO"),
        SECCOMP_ALLOW(gettimeofday, "time where the clocksource has no vDSO"),
        SECCOMP_ALLOW(clock_getres, "the vDSO's third time call, same fallback"),
#ifdef __NR_time
        SECCOMP_ALLOW(time, "time() where the vDSO is missing (x86_64 only)"),
#endif
        SECCOMP_ALLOW(rt_sigreturn, "return from a signal handler (sanitizer builds)"),
        SECCOMP_ALLOW(restart_syscall, "resume a wait after SIGSTOP/SIGCONT (cgroup freezer)"),
        SECCOMP_ALLOW(brk, "malloc of the C library's stdio when logging"),
        SECCOMP_ALLOW(exit_group, "leave"),
};

static const SeccompTable common_table = {
        .backend = "device",
        .rules = common_rules,
        .n_rules = ELEMENTSOF(common_rules),
};

int device_seccomp_install(DeviceType t, bool log_only) {
        const SeccompTable *type_table;

        switch (t) {
        case DEVICE_TYPE_BLOCK:
                type_table = &seccomp_table_block;
                break;
        case DEVICE_TYPE_RNG:
                type_table = &seccomp_table_rng;
                break;
        case DEVICE_TYPE_VSOCK:
                type_table = &seccomp_table_vsock;
                break;
        default:
                return log_error_errno(-EPROTONOSUPPORT, "seccomp: no allow-list for device type %d", t);
        }
        return seccomp_load_tables((const SeccompTable *const[]) { &common_table, &seccomp_table_sanitizer, type_table },
                                   3, NULL, 0, log_only ? SCMP_ACT_LOG : SCMP_ACT_KILL_PROCESS,
                                   device_type_to_string(t));
}
