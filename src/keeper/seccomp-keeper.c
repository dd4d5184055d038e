/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What gunyah-keeper may do once it runs: wait, take a daemon's connection,
 * move fds in and out over SCM_RIGHTS, close them, log, leave. It opens
 * nothing, maps nothing, spawns nothing. Reviewed: each addition needs its
 * reason here and a line in docs/sandbox.md.
 */
#include <sys/socket.h>
#include <sys/syscall.h>

#include "keeper-protocol.h"
#include "keeper.h"
#include "macro.h"
#include "seccomp-util.h"

static const SeccompRule keeper_rules[] = {
        SECCOMP_ALLOW(ppoll, "wait for a daemon, its messages or a VM process's hangup (poll() on arm64)"),
#ifdef __NR_poll
        SECCOMP_ALLOW(poll, "the same (poll() on x86_64)"),
#endif
        SECCOMP_ALLOW_IF_EQ(accept4, 0, KEEPER_FD_LISTEN, "a new daemon's connection, and nothing else"),
        SECCOMP_ALLOW_IF_EQ(getsockopt, 2, SO_PEERCRED, "who connected: root only"),
        SECCOMP_ALLOW(recvmsg, "the daemon's messages and the fds it deposits"),
        SECCOMP_ALLOW(sendmsg, "the held fds back to a daemon"),
        SECCOMP_ALLOW(close, "a refused connection, a gone daemon's, everything at the end"),
        SECCOMP_ALLOW_IF_EQ(write, 0, 2, "log lines to stderr (fd 2, the daemon's journal stream)"),
        SECCOMP_ALLOW(brk, "malloc of the C library's stdio when logging"),
        SECCOMP_ALLOW(rt_sigreturn, "return from a signal handler (sanitizer builds)"),
        SECCOMP_ALLOW(restart_syscall, "resume a wait after SIGSTOP/SIGCONT (cgroup freezer)"),
        SECCOMP_ALLOW(exit_group, "leave"),
};

static const SeccompTable keeper_table = {
        .backend = "keeper",
        .rules = keeper_rules,
        .n_rules = ELEMENTSOF(keeper_rules),
};

int keeper_seccomp_install(void) {
        return seccomp_load_tables((const SeccompTable *const[]) { &keeper_table, &seccomp_table_sanitizer }, 2, NULL,
                                   0, SCMP_ACT_KILL_PROCESS, "keeper");
}
