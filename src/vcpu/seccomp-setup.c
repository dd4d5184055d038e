/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Part of the idle filter only (sandbox_seccomp_install_idle()): what a
 * sandboxed worker does after it waited for its configuration and before its
 * backend's filter is loaded: receive the configuration, attach to the vCPU,
 * map the device page, install its signal handlers, finish the sandbox and
 * load the backend's filter. No guest code runs under it: the backend's
 * filter, stacked on top, refuses all of this again. Measured with strace -f
 * of workers running every test guest, between the recvmsg() of the
 * configuration and the second seccomp(SECCOMP_SET_MODE_FILTER); the kernel
 * backend's attach read from hv-kernel.c. Reviewed: each addition needs its
 * reason here and a line in docs/sandbox.md.
 */
#include <sys/prctl.h>

#include <linux/futex.h>

#include "gunyah-abi.h"
#include "macro.h"
#include "sandbox-seccomp.h"
#include "worker-protocol.h"

static const SeccompRule rules[] = {
        SECCOMP_ALLOW(recvmsg, "receive the WorkerConfig and its fds (SCM_RIGHTS) on fd 3"),
        SECCOMP_ALLOW(mmap, "attach: the device page, the run block or the sim's memfds; the JIT's executable code buffer"),
        SECCOMP_ALLOW(mprotect, "attach: guard pages of the sim's buffers"),
        SECCOMP_ALLOW(madvise, "attach: huge pages for the JIT's code buffer"),
        SECCOMP_ALLOW(getrandom, "malloc and hash-table seeds at the first allocations"),
        SECCOMP_ALLOW(fstat, "attach: size of the sim's shared-state and guest-memory memfds"),
        SECCOMP_ALLOW(newfstatat, "attach: fstat() of the sim's memfds (AT_EMPTY_PATH)"),
        SECCOMP_ALLOW(rt_sigaction, "install the kick handler and the sim's cross-worker kick handler"),
        SECCOMP_ALLOW(getpid, "attach: the sim publishes its pid for the cross-worker kick"),
        SECCOMP_ALLOW(gettid, "attach: the sim publishes its tid for the cross-worker kick"),
        SECCOMP_ALLOW_IF_EQ(ioctl, 1, GUNYAH_VCPU_MMAP_SIZE, "attach (kernel backend): size of the vCPU's run block"),
        SECCOMP_ALLOW(close_range, "sandbox-fds: close what attach may have opened"),
        SECCOMP_ALLOW(prlimit64, "sandbox-rlimits: lower RLIMIT_NOFILE to the handed fds, and the others to 0"),
        SECCOMP_ALLOW(setrlimit, "sandbox-rlimits, where setrlimit() is its own syscall"),
        SECCOMP_ALLOW_IF_EQ(prctl, 0, PR_SET_NO_NEW_PRIVS, "libseccomp sets no_new_privs again before loading the backend's filter"),
        SECCOMP_ALLOW(seccomp, "load the backend's filter on top of this one"),
        /* Which fds the virtio kicks are is known once configured: the
         * run filter allows exactly those (sandbox_seccomp_install()). */
        SECCOMP_ALLOW_IF_GE(write, 0, WORKER_FD_BACKEND + 2, "kick a virtio device (its eventfd follows the backend fds)"),
        SECCOMP_ALLOW_IF_EQ(futex, 1, FUTEX_WAIT, "a driver's virtio reset waits for its device (register page)"),
};

const SeccompTable seccomp_table_setup = {
        .backend = NULL,
        .rules = rules,
        .n_rules = ELEMENTSOF(rules),
};
