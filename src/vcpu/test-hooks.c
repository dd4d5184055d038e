/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* TEST ONLY: see test-hooks.h. Built only with -Dsandbox-test-hooks=true. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "macro.h"
#include "test-hooks.h"
#include "worker-protocol.h"

#if !GUNYAH_SANDBOX_TEST_HOOKS
#error "test-hooks.c is built only with -Dsandbox-test-hooks=true"
#endif

/* Marks a hook build's worker binary: tests grep the default build for it. */
const char test_hook_marker[] __attribute__((used)) = "GUNYAH-SANDBOX-TEST-HOOKS-ENABLED";

static const char *const hook_names[_TEST_HOOK_MAX] = {
        [TEST_HOOK_NONE] = "none",
        [TEST_HOOK_OPENAT] = "openat",
        [TEST_HOOK_SOCKET] = "socket",
        [TEST_HOOK_EXECVE] = "execve",
        [TEST_HOOK_PTRACE] = "ptrace",
        [TEST_HOOK_MOUNT] = "mount",
        [TEST_HOOK_KILL] = "kill",
        [TEST_HOOK_IOCTL] = "ioctl",
        [TEST_HOOK_SETUID] = "setuid",
        [TEST_HOOK_LAYERS] = "layers",
        [TEST_HOOK_SECCOMP_LOG] = "seccomp-log",
        [TEST_HOOK_CLOCK_SYSCALLS] = "clock-syscalls",
};

TestHook test_hook_from_string(const char *s) {
        for (int i = 0; i < _TEST_HOOK_MAX; i++)
                if (s && streq(hook_names[i], s))
                        return (TestHook) i;
        return _TEST_HOOK_INVALID;
}

const char *test_hook_to_string(TestHook h) {
        return h >= 0 && h < _TEST_HOOK_MAX ? hook_names[h] : NULL;
}

static int ret_of(long r) {
        return r < 0 ? -errno : 1;
}

/* AF_INET to a public address: in the empty network namespace no route. */
static int attempt_connect(void) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(53) };
        _cleanup_close_ int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

        if (fd < 0)
                return -errno;
        sa.sin_addr.s_addr = htonl(0x01010101); /* 1.1.1.1 */
        return ret_of(connect(fd, (struct sockaddr *) &sa, sizeof(sa)));
}

static int attempt_open(void) {
        int fd = openat(AT_FDCWD, "/etc/passwd", O_RDONLY | O_CLOEXEC);

        if (fd < 0)
                return -errno;
        close(fd);
        return 1;
}

int test_hook_attempt(TestHook h) {
        char *const argv[] = { (char *) "sh", NULL };
        int tiocgwinsz_arg[4];

        log_info("test-hook: attempting %s in the sandbox", test_hook_to_string(h));
        switch (h) {
        case TEST_HOOK_OPENAT:
                return attempt_open();
        case TEST_HOOK_SOCKET:
                return attempt_connect();
        case TEST_HOOK_EXECVE:
                return ret_of(execve("/bin/sh", argv, argv + 1));
        case TEST_HOOK_PTRACE:
                return ret_of(ptrace(PTRACE_ATTACH, getppid(), NULL, NULL));
        case TEST_HOOK_MOUNT:
                return ret_of(mount("none", "/", "tmpfs", 0, NULL));
        case TEST_HOOK_KILL:
                return ret_of(kill(1, 0)); /* signal 0: the permission check alone */
        case TEST_HOOK_IOCTL:
                /* Any request but VCPU_RUN, on an fd the worker owns. */
                return ret_of(ioctl(WORKER_FD_CONTROL, TIOCGWINSZ, tiocgwinsz_arg));
        case TEST_HOOK_SETUID:
                return ret_of(setuid(0));
        default:
                return -EINVAL;
        }
}

/* syscall(), not the libc calls: those would take the vDSO and prove
 * nothing on a host whose clocksource has a vDSO mode. */
static int clock_syscall(const char *name, long r) {
        if (r < 0)
                return log_error_errno(errno, "test-hook clock-syscalls: %s failed: %m", name);
        log_info("test-hook clock-syscalls: %s allowed", name);
        return 0;
}

int test_hook_clock_syscalls(void) {
        struct timespec ts;
        struct timeval tv;
        int r;

        r = clock_syscall("clock_gettime", syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &ts));
        if (r >= 0)
                r = clock_syscall("gettimeofday", syscall(SYS_gettimeofday, &tv, NULL));
        if (r >= 0)
                r = clock_syscall("clock_getres", syscall(SYS_clock_getres, CLOCK_MONOTONIC, &ts));
#ifdef SYS_time
        if (r >= 0)
                r = clock_syscall("time", syscall(SYS_time, NULL));
#endif
        return r;
}

typedef struct LayerCheck {
        const char *step;
        int (*attempt)(void);
        int expected; /* -errno */
} LayerCheck;

static int layer_execve(void) {
        return test_hook_attempt(TEST_HOOK_EXECVE);
}
static int layer_ptrace(void) {
        return test_hook_attempt(TEST_HOOK_PTRACE);
}
static int layer_mount(void) {
        return test_hook_attempt(TEST_HOOK_MOUNT);
}
static int layer_kill(void) {
        return test_hook_attempt(TEST_HOOK_KILL);
}
static int layer_setuid(void) {
        return test_hook_attempt(TEST_HOOK_SETUID);
}

/* RLIMIT_NOFILE leaves no free fd: the next checks get fd 0 for a moment. */
static int layer_free_fd0(void) {
        return close(STDIN_FILENO) < 0 ? -errno : 0;
}
static int layer_restore_fd0(void) {
        return dup2(STDOUT_FILENO, STDIN_FILENO) < 0 ? -errno : 0; /* both /dev/null */
}

int test_hook_check_layers(const char **ret_step) {
        static const LayerCheck checks[] = {
                { "hook-layers-nofile", attempt_open, -EMFILE },   /* RLIMIT_NOFILE: all fds in use */
                { "hook-layers-fd0", layer_free_fd0, 0 },
                { "hook-layers-openat", attempt_open, -ENOENT },   /* empty root */
                { "hook-layers-socket", attempt_connect, -ENETUNREACH }, /* empty netns */
                { "hook-layers-execve", layer_execve, -ENOENT },   /* empty root */
                { "hook-layers-ptrace", layer_ptrace, -EPERM },    /* no caps, not dumpable */
                { "hook-layers-mount", layer_mount, -EPERM },      /* no CAP_SYS_ADMIN */
                { "hook-layers-kill", layer_kill, -EPERM },        /* uid of init differs */
                { "hook-layers-setuid", layer_setuid, -EPERM },    /* no CAP_SETUID */
                { "hook-layers-fd0", layer_restore_fd0, 0 },
        };

        for (size_t i = 0; i < ELEMENTSOF(checks); i++) {
                int r = checks[i].attempt();

                if (r != checks[i].expected) {
                        *ret_step = checks[i].step;
                        return log_error_errno(-EEXIST, "test-hook layers: %s gave %d, expected %d",
                                               checks[i].step, r, checks[i].expected);
                }
        }
        log_info("test-hook layers: all attempts refused below seccomp");
        return 0;
}
