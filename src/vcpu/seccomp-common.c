/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Allow-list shared by every backend: the run loop (main.c), the control
 * socket and console (devices.c), logging, and the way out. Reviewed: each
 * addition needs its reason here and a line in docs/sandbox.md.
 */
#include <sys/syscall.h>

#include "macro.h"
#include "sandbox-seccomp.h"

static const SeccompRule rules[] = {
        SECCOMP_ALLOW(recvfrom, "recv() of control messages (fd 3) and console input (fd 4)"),
        SECCOMP_ALLOW(sendto, "send() of control messages (fd 3) and console output (fd 4)"),
        SECCOMP_ALLOW_IF_EQ(write, 0, 2, "log lines to stderr (fd 2, the daemon's journal stream) only"),
        SECCOMP_ALLOW(rt_sigreturn, "return from the kick signal's handler"),
        SECCOMP_ALLOW(rt_sigprocmask, "block the kick signal before detaching; the sim saves/restores the mask around guest code"),
        SECCOMP_ALLOW(restart_syscall, "resume a timed wait after SIGSTOP/SIGCONT (cgroup freezer)"),
        SECCOMP_ALLOW(sched_yield, "contended spin locks of the shared device page (devices.c, pl011.c)"),
        /* The vDSO's time functions make the real syscall when the
         * clocksource has no vDSO mode (hpet, acpi_pm; arm64 timers with
         * errata workarounds) or the host boots with vdso=0. */
        SECCOMP_ALLOW(clock_gettime, "clock_gettime() (sim-timer.c, unicorn) where the clocksource has no vDSO"),
        SECCOMP_ALLOW(gettimeofday, "gettimeofday() (unicorn) where the clocksource has no vDSO"),
        SECCOMP_ALLOW(clock_getres, "clock_getres(), the vDSO's third time call, same fallback"),
#ifdef __NR_time
        SECCOMP_ALLOW(time, "time() where the vDSO is missing (x86_64 only: no such syscall on arm64)"),
#endif
        SECCOMP_ALLOW(munmap, "detach: unmap the run block and the device page; unicorn and malloc release memory"),
        SECCOMP_ALLOW(brk, "malloc/free grow or trim the heap (unicorn's per-region state, detach)"),
        SECCOMP_ALLOW(close, "detach: close the fds the worker was handed"),
        SECCOMP_ALLOW(exit_group, "leave (single-threaded: exit is never needed)"),
};

const SeccompTable seccomp_table_common = {
        .backend = NULL,
        .rules = rules,
        .n_rules = ELEMENTSOF(rules),
};
