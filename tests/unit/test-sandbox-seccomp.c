/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The worker's seccomp allow-lists under real kernel enforcement: each case
 * forks a child that loads a backend's filter and makes one syscall; the
 * parent checks it returned (allowed) or died of SIGSYS (refused). The
 * kernel backend cannot run here without /dev/gunyah; its filter can. The
 * simulator's filter is checked where the simulator is built (-Dsim): a
 * build without it has no "sim" backend, hence no filter to check.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/time.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "gunyah-abi.h"
#include "hv.h"
#include "macro.h"
#include "sandbox-seccomp.h"
#include "sandbox.h"

/* The signal the simulator kicks other workers' vCPUs with: the one signal
 * its workers may send (docs/sandbox.md). */
#define KICK_SIGNAL SIGURG

/* The child's ids, read before its filter: getpid and gettid are not allowed. */
static pid_t child_pid, child_tid;

/* The virtio kick eventfds the next filter lets the worker write: n from first. */
static int kick_first, kick_count;

/* "idle": the idle filter alone; "idle+BACKEND": BACKEND's stacked on it,
 * as a worker runs guest code; else BACKEND's alone. */
static int install(const char *backend) {
        if (strneq(backend, "idle", 4)) {
                if (sandbox_seccomp_install_idle() < 0)
                        return -1;
                if (backend[4] != '+')
                        return 0;
                backend += 5;
        }
        return sandbox_seccomp_install(backend, false, kick_first, (size_t) kick_count);
}

/* Runs attempt() in a child under backend's filter; returns the child's
 * wait status. attempt returns the exit code the child leaves with. */
static int run_filtered(const char *backend, int (*attempt)(void)) {
        int status;
        pid_t pid = fork();

        assert_true(pid >= 0);
        if (pid == 0) {
                child_pid = getpid();
                child_tid = (pid_t) syscall(SYS_gettid);
                if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                        _exit(100);
                if (install(backend) < 0)
                        _exit(101);
                /* exit_group is allowed; _exit() is exit_group. */
                _exit(attempt());
        }
        assert_int_equal(waitpid(pid, &status, 0), pid);
        return status;
}

static void assert_allowed(const char *backend, int (*attempt)(void)) {
        int status = run_filtered(backend, attempt);

        if (WIFSIGNALED(status))
                fail_msg("%s: allowed syscall killed the child with signal %d", backend, WTERMSIG(status));
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
}

static void assert_killed(const char *backend, int (*attempt)(void)) {
        int status = run_filtered(backend, attempt);

        if (WIFEXITED(status))
                fail_msg("%s: refused syscall returned; child exited %d", backend, WEXITSTATUS(status));
        assert_true(WIFSIGNALED(status));
        assert_int_equal(WTERMSIG(status), SIGSYS);
}

/* The vDSO's fallbacks as real syscalls (no vDSO in the way): each must
 * return, with success. */
static int clock_syscalls(void) {
        struct timespec ts;
        struct timeval tv;

        if (syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &ts) < 0 ||
            syscall(SYS_gettimeofday, &tv, NULL) < 0 ||
            syscall(SYS_clock_getres, CLOCK_MONOTONIC, &ts) < 0)
                return 1;
#ifdef SYS_time
        if (syscall(SYS_time, NULL) < 0)
                return 1;
#endif
        return 0;
}

static int vcpu_run_on_bad_fd(void) {
        /* Reaches the kernel (EBADF), so the filter let it through. */
        return ioctl(-1, GUNYAH_VCPU_RUN) < 0 && errno == EBADF ? 0 : 1;
}
static int other_ioctl(void) {
        struct termios t;
        (void) ioctl(0, TCGETS, &t);
        return 0;
}
static int open_file(void) {
        (void) openat(AT_FDCWD, "/", O_RDONLY | O_DIRECTORY);
        return 0;
}
static int write_stderr(void) {
        return write(2, "", 0) == 0 ? 0 : 1;
}
static int write_stdout(void) {
        (void) write(1, "", 0);
        return 0;
}
/* write() to fd 7 (irqfd 1 of the kernel backend; the sim's first guest memory) returns, whatever fd 7 is. */
static int write_irqfd(void) {
        (void) write(7, "", 0);
        return 0;
}
/* The sim's doorbell eventfds come after its state (6) and first memory (7). */
static int write_doorbell(void) {
        (void) write(8, "", 0);
        return 0;
}
static int read_doorbell(void) {
        (void) read(8, NULL, 0);
        return 0;
}
static int read_device_page(void) {
        (void) read(5, NULL, 0);
        return 0;
}
static int write_vcpu_fd(void) {
        (void) write(6, "", 0);
        return 0;
}
static int mmap_rw(void) {
        void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        return p != MAP_FAILED && munmap(p, 4096) == 0 ? 0 : 1;
}
static int mmap_exec(void) {
        (void) mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        return 0;
}
static int mmap_exec_checked(void) {
        void *p = mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        return p != MAP_FAILED && munmap(p, 4096) == 0 ? 0 : 1;
}
static int mprotect_exec(void) {
        static char page[4096] __attribute__((aligned(4096)));
        (void) mprotect(page, sizeof(page), PROT_READ | PROT_EXEC);
        return 0;
}
static int futex_wake(void) {
        static uint32_t word;
        return syscall(SYS_futex, &word, FUTEX_WAKE, 1, NULL, NULL, 0) >= 0 ? 0 : 1;
}
static int futex_lock_pi(void) {
        static uint32_t word;
        (void) syscall(SYS_futex, &word, FUTEX_LOCK_PI, 0, NULL, NULL, 0);
        return 0;
}
/* A virtio reset waits for its device: the value differs, EAGAIN at once. */
static int futex_wait(void) {
        static uint32_t word = 1;
        return syscall(SYS_futex, &word, FUTEX_WAIT, 0, NULL, NULL, 0) < 0 && errno == EAGAIN ? 0 : 1;
}
/* After the kernel backend's irqfds (7 .. 10) and a gap: the kick eventfds 12, 13. */
#define KICK_FIRST 12
static int write_kick_first(void) {
        (void) write(KICK_FIRST, "", 0);
        return 0;
}
static int write_kick_last(void) {
        (void) write(KICK_FIRST + 1, "", 0);
        return 0;
}
static int write_below_kicks(void) {
        (void) write(KICK_FIRST - 1, "", 0);
        return 0;
}
static int write_above_kicks(void) {
        (void) write(KICK_FIRST + 2, "", 0);
        return 0;
}
static int kick_self(void) {
        /* The kick signal (SIGURG) is ignored by default: harmless to send. */
        return syscall(SYS_tgkill, child_pid, child_tid, KICK_SIGNAL) == 0 ? 0 : 1;
}
static int kill_self_term(void) {
        /* SIGSYS, not SIGTERM, must end us: tgkill is limited to the kick. */
        (void) syscall(SYS_tgkill, child_pid, child_tid, SIGTERM);
        return 0;
}
static int do_fork(void) {
        (void) syscall(SYS_clone, SIGCHLD, 0, NULL, NULL, 0);
        return 0;
}
static int do_socket(void) {
        (void) syscall(SYS_socket, AF_UNIX, SOCK_STREAM, 0);
        return 0;
}

/* The backend a parametrised case checks (cmocka prestate). The simulator's
 * filter exists only where the simulator is built in: skipped in a
 * -Dsim=disabled build. */
static const char *backend_of(void **state) {
        const char *backend = *state;

        if (!hv_backend_lookup(backend))
                skip();
        return backend;
}

/* A case run against one backend's filter, named test/backend. */
#define backend_test(f, backend) { #f "/" backend, f, NULL, NULL, (void *) (backend) }

static void test_kernel_allows_vcpu_run_ioctl_only(void **state) {
        assert_allowed("kernel", vcpu_run_on_bad_fd);
        assert_killed("kernel", other_ioctl);
}

static void test_kernel_writes_irqfds_only(void **state) {
        assert_allowed("kernel", write_irqfd);
        assert_killed("kernel", write_vcpu_fd);
}

/* Each kick eventfd handed to the worker may be written, its neighbours not;
 * without virtio devices no kick fd and no futex wait. */
static void test_kernel_writes_its_virtio_kick_fds_only(void **state) {
        kick_first = KICK_FIRST;
        kick_count = 2;
        assert_allowed("kernel", write_kick_first);
        assert_allowed("kernel", write_kick_last);
        assert_allowed("kernel", futex_wait);
        assert_killed("kernel", write_below_kicks);
        assert_killed("kernel", write_above_kicks);
        assert_killed("kernel", futex_wake);
        kick_first = kick_count = 0;
        assert_killed("kernel", write_kick_first);
        assert_killed("kernel", futex_wait);
}

static void test_kernel_has_none_of_the_sims_needs(void **state) {
        assert_killed("kernel", mmap_rw);
        assert_killed("kernel", futex_wake);
        assert_killed("kernel", kick_self);
}

static void test_sim_has_no_ioctl_and_no_irqfd(void **state) {
        const char *sim = backend_of(state);

        assert_killed(sim, vcpu_run_on_bad_fd);
        assert_killed(sim, other_ioctl);
        assert_killed(sim, write_irqfd);
}

static void test_sim_rings_doorbells_after_its_memory(void **state) {
        const char *sim = backend_of(state);

        assert_allowed(sim, write_doorbell);
        assert_allowed(sim, read_doorbell);
        /* the idle filter stays below the backend's: it must let them through too */
        assert_allowed("idle", write_doorbell);
        assert_allowed("idle", read_doorbell);
        assert_killed(sim, write_vcpu_fd);
        assert_killed(sim, read_device_page);
        assert_killed("kernel", read_doorbell);
}

static void test_common_writes_to_stderr_only(void **state) {
        const char *backend = backend_of(state);

        assert_allowed(backend, write_stderr);
        assert_killed(backend, write_stdout);
}

/* A host whose clocksource has no vDSO mode (hpet under QEMU TCG) turns
 * unicorn's gettimeofday() into the syscall: it killed every worker once. */
static void test_common_allows_the_vdso_fallbacks(void **state) {
        const char *backend = backend_of(state);

        assert_allowed(backend, clock_syscalls);
        assert_allowed("idle", clock_syscalls);
        if (streq(backend, "sim"))
                assert_allowed("idle+sim", clock_syscalls);
}

static void test_no_backend_opens_forks_or_makes_sockets(void **state) {
        const char *backend = backend_of(state);

        assert_killed(backend, open_file);
        assert_killed(backend, do_fork);
        assert_killed(backend, do_socket);
}

static void test_sim_maps_memory_but_never_executable(void **state) {
        const char *sim = backend_of(state);

        assert_allowed(sim, mmap_rw);
        assert_killed(sim, mmap_exec);
        assert_killed(sim, mprotect_exec);
}

static void test_sim_futex_wait_wake_only(void **state) {
        const char *sim = backend_of(state);

        assert_allowed(sim, futex_wake);
        assert_killed(sim, futex_lock_pi);
}

static void test_sim_tgkill_sends_the_kick_only(void **state) {
        const char *sim = backend_of(state);

        assert_allowed(sim, kick_self);
        assert_killed(sim, kill_self_term);
}

/* The tgkill rule follows the backend's declared kick signal (HvBackendOps):
 * the simulator's is the reviewed one; the kernel backend sends none. */
static void test_kick_signal_is_the_backends(void **state) {
        const char *sim = backend_of(state);

        assert_int_equal(hv_backend_lookup(sim)->vcpu_kick_signal, KICK_SIGNAL);
        assert_int_equal(hv_backend_lookup("kernel")->vcpu_kick_signal, 0);
}

/* What attach needs (the sim's executable JIT buffer, the kernel's ioctl),
 * allowed while idle; still nothing that reaches out of the sandbox. */
static void test_idle_filter_lets_attach_happen(void **state) {
        assert_allowed("idle", mmap_rw);
        assert_allowed("idle", mmap_exec_checked);
        assert_allowed("idle", futex_wake);
        assert_allowed("idle", write_stderr);
        assert_allowed("idle", vcpu_run_on_bad_fd);
}

static void test_idle_filter_opens_forks_or_makes_sockets_never(void **state) {
        assert_killed("idle", open_file);
        assert_killed("idle", do_fork);
        assert_killed("idle", do_socket);
        assert_killed("idle", write_stdout);
        assert_killed("idle", other_ioctl);
        assert_killed("idle", kill_self_term);
}

static void test_backend_filter_narrows_the_idle_one(void **state) {
        (void) backend_of(state); /* skips where the simulator is not built */
        assert_allowed("idle+sim", mmap_rw);
        assert_killed("idle+sim", mmap_exec);
        assert_killed("idle+kernel", mmap_rw);
        assert_allowed("idle+kernel", vcpu_run_on_bad_fd);
        assert_killed("idle+sim", vcpu_run_on_bad_fd);
}

static void test_unknown_backend_is_refused(void **state) {
        assert_null(seccomp_table_for_backend("qemu"));
        assert_int_equal(sandbox_seccomp_install("qemu", false, 0, 0), -EPROTONOSUPPORT);
        /* A backend this build leaves out has no filter either. */
        if (!hv_backend_lookup("sim"))
                assert_int_equal(sandbox_seccomp_install("sim", false, 0, 0), -EPROTONOSUPPORT);
}

static void test_every_rule_has_a_reason(void **state) {
        const SeccompTable *tables[] = { &seccomp_table_common, &seccomp_table_sanitizer, &seccomp_table_kernel,
                                         &seccomp_table_sim, &seccomp_table_setup };
        for (size_t t = 0; t < ELEMENTSOF(tables); t++)
                for (size_t i = 0; i < tables[t]->n_rules; i++) {
                        const SeccompRule *r = &tables[t]->rules[i];
                        if (!r->reason || strlen(r->reason) < 10)
                                fail_msg("%s: %s has no reason", tables[t]->backend ?: "common", r->name);
                }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_kernel_allows_vcpu_run_ioctl_only),
                cmocka_unit_test(test_kernel_writes_irqfds_only),
                cmocka_unit_test(test_kernel_writes_its_virtio_kick_fds_only),
                cmocka_unit_test(test_kernel_has_none_of_the_sims_needs),
                backend_test(test_sim_has_no_ioctl_and_no_irqfd, "sim"),
                backend_test(test_sim_rings_doorbells_after_its_memory, "sim"),
                backend_test(test_common_writes_to_stderr_only, "kernel"),
                backend_test(test_common_writes_to_stderr_only, "sim"),
                backend_test(test_common_allows_the_vdso_fallbacks, "kernel"),
                backend_test(test_common_allows_the_vdso_fallbacks, "sim"),
                backend_test(test_no_backend_opens_forks_or_makes_sockets, "kernel"),
                backend_test(test_no_backend_opens_forks_or_makes_sockets, "sim"),
                backend_test(test_sim_maps_memory_but_never_executable, "sim"),
                backend_test(test_sim_futex_wait_wake_only, "sim"),
                backend_test(test_sim_tgkill_sends_the_kick_only, "sim"),
                backend_test(test_kick_signal_is_the_backends, "sim"),
                cmocka_unit_test(test_idle_filter_lets_attach_happen),
                cmocka_unit_test(test_idle_filter_opens_forks_or_makes_sockets_never),
                backend_test(test_backend_filter_narrows_the_idle_one, "sim"),
                cmocka_unit_test(test_unknown_backend_is_refused),
                cmocka_unit_test(test_every_rule_has_a_reason),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
