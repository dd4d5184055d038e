/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The device processes' seccomp allow-lists (src/device/seccomp-device.c)
 * under real kernel enforcement: each case forks a child that loads a
 * device type's filter and makes one syscall; the parent checks that it
 * returned (allowed: the call reached the kernel, whatever it answered) or
 * died of SIGSYS (refused). The fds of device-protocol.h need not exist in
 * the child: seccomp looks at numbers, not files.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "device-protocol.h"
#include "device.h"
#include "macro.h"

/* seccomp-device.c names its filter by type; main.c owns the table. */
const char *device_type_to_string(DeviceType t) {
        return t == DEVICE_TYPE_BLOCK ? "block" : t == DEVICE_TYPE_VSOCK ? "vsock" : t == DEVICE_TYPE_RNG ? "rng" : NULL;
}

/* The device type whose filter the next checks load. */
static DeviceType filter_type = DEVICE_TYPE_BLOCK;

static int run_filtered(int (*attempt)(void)) {
        int status;
        pid_t pid = fork();

        assert_true(pid >= 0);
        if (pid == 0) {
                if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                        _exit(100);
                if (device_seccomp_install(filter_type, false) < 0)
                        _exit(101);
                _exit(attempt()); /* exit_group is allowed */
        }
        assert_int_equal(waitpid(pid, &status, 0), pid);
        return status;
}

#define assert_allowed(attempt) check(#attempt, attempt, false)
#define assert_killed(attempt) check(#attempt, attempt, true)

static void check(const char *name, int (*attempt)(void), bool killed) {
        int status = run_filtered(attempt);

        if (killed && WIFEXITED(status))
                fail_msg("%s: %s returned; child exited %d", device_type_to_string(filter_type), name,
                         WEXITSTATUS(status));
        if (!killed && WIFSIGNALED(status))
                fail_msg("%s: %s killed the child with signal %d", device_type_to_string(filter_type), name,
                         WTERMSIG(status));
        if (killed)
                assert_int_equal(WTERMSIG(status), SIGSYS);
        else
                assert_int_equal(WEXITSTATUS(status), 0);
}

static char buf[64];
static struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };

/* Block I/O: on the backing fd (allowed) and on the register page's fd,
 * the guest memory's fd and stderr (each refused). */
static int preadv_backing(void) {
        (void) preadv(DEVICE_FD_BACKING, &iov, 1, 0);
        return 0;
}
static int pwritev_backing(void) {
        (void) pwritev(DEVICE_FD_BACKING, &iov, 1, 0);
        return 0;
}
static int pwrite_backing(void) {
        (void) pwrite(DEVICE_FD_BACKING, buf, sizeof(buf), 0);
        return 0;
}
static int fdatasync_backing(void) {
        (void) fdatasync(DEVICE_FD_BACKING);
        return 0;
}
static int fallocate_backing(void) {
        (void) fallocate(DEVICE_FD_BACKING, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 4096);
        return 0;
}
static int lseek_backing(void) {
        (void) lseek(DEVICE_FD_BACKING, 0, SEEK_END);
        return 0;
}
static int pwritev_regs(void) {
        (void) pwritev(DEVICE_FD_REGS, &iov, 1, 0);
        return 0;
}
static int pwritev_memory(void) {
        (void) pwritev(DEVICE_FD_MEMORY, &iov, 1, 0);
        return 0;
}
static int preadv_stderr(void) {
        (void) preadv(2, &iov, 1, 0);
        return 0;
}
static int fdatasync_regs(void) {
        (void) fdatasync(DEVICE_FD_REGS);
        return 0;
}
static int fallocate_memory(void) {
        (void) fallocate(DEVICE_FD_MEMORY, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 4096);
        return 0;
}
static int lseek_regs(void) {
        (void) lseek(DEVICE_FD_REGS, 0, SEEK_END);
        return 0;
}

/* read: the kick eventfd only; write: the irqfd and stderr only. */
static int read_kick(void) {
        (void) read(DEVICE_FD_KICK, buf, 8);
        return 0;
}
static int read_irq(void) {
        (void) read(DEVICE_FD_IRQ, buf, 8);
        return 0;
}
static int read_backing(void) {
        (void) read(DEVICE_FD_BACKING, buf, 8);
        return 0;
}
static int read_control(void) {
        (void) read(DEVICE_FD_CONTROL, buf, 8);
        return 0;
}
static int write_irq(void) {
        (void) write(DEVICE_FD_IRQ, buf, 0);
        return 0;
}
static int write_stderr(void) {
        return write(2, "", 0) == 0 ? 0 : 1;
}
static int write_kick(void) {
        (void) write(DEVICE_FD_KICK, buf, 0);
        return 0;
}
static int write_backing(void) {
        (void) write(DEVICE_FD_BACKING, buf, 0);
        return 0;
}
static int write_control(void) {
        (void) write(DEVICE_FD_CONTROL, buf, 0);
        return 0;
}
static int write_stdout(void) {
        (void) write(1, "", 0);
        return 0;
}
static int send_control(void) {
        (void) send(DEVICE_FD_CONTROL, buf, 0, MSG_DONTWAIT);
        return 0;
}
static int send_regs(void) {
        (void) send(DEVICE_FD_REGS, buf, 0, MSG_DONTWAIT);
        return 0;
}

/* What a device never does once serving. */
static int open_file(void) {
        (void) syscall(SYS_openat, AT_FDCWD, "/", O_RDONLY | O_DIRECTORY);
        return 0;
}
#ifdef SYS_open
static int open_legacy(void) {
        (void) syscall(SYS_open, "/", O_RDONLY | O_DIRECTORY);
        return 0;
}
#endif
static int make_socket(void) {
        (void) syscall(SYS_socket, AF_UNIX, SOCK_STREAM, 0);
        return 0;
}
static int map_memory(void) {
        (void) mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        return 0;
}
static int map_exec_memory(void) {
        (void) mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        return 0;
}
static int make_executable(void) {
        (void) mprotect(buf, 1, PROT_READ | PROT_EXEC);
        return 0;
}
static int run_program(void) {
        char *const argv[] = { (char *) "true", NULL };
        (void) syscall(SYS_execve, "/bin/true", argv, argv + 1);
        return 0;
}
static int do_fork(void) {
        (void) syscall(SYS_clone, SIGCHLD, 0, NULL, NULL, 0);
        return 0;
}
static int do_ioctl(void) {
        (void) syscall(SYS_ioctl, DEVICE_FD_BACKING, 0x1260 /* BLKGETSIZE */, buf);
        return 0;
}

/* What the loop and the register page's lock need. */
static int poll_kick(void) {
        struct pollfd p = { .fd = DEVICE_FD_KICK, .events = POLLIN };
        (void) poll(&p, 1, 0);
        return 0;
}
static int futex_wake(void) {
        static uint32_t word;
        return syscall(SYS_futex, &word, FUTEX_WAKE, 1, NULL, NULL, 0) >= 0 ? 0 : 1;
}
static int futex_wait(void) {
        static uint32_t word = 1;
        (void) syscall(SYS_futex, &word, FUTEX_WAIT, 0, NULL, NULL, 0);
        return 0;
}
static int clock_syscalls(void) {
        struct timespec ts;
        struct timeval tv;

        if (syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &ts) < 0 || syscall(SYS_gettimeofday, &tv, NULL) < 0 ||
            syscall(SYS_clock_getres, CLOCK_MONOTONIC, &ts) < 0)
                return 1;
        return 0;
}

static void test_block_io_only_on_the_backing_fd(void **state) {
        assert_allowed(preadv_backing);
        assert_allowed(pwritev_backing);
        assert_allowed(pwrite_backing);
        assert_allowed(fdatasync_backing);
        assert_allowed(fallocate_backing);
        assert_allowed(lseek_backing);
        assert_killed(pwritev_regs);
        assert_killed(pwritev_memory);
        assert_killed(preadv_stderr);
        assert_killed(fdatasync_regs);
        assert_killed(fallocate_memory);
        assert_killed(lseek_regs);
}

static void test_read_only_the_kick_fd(void **state) {
        assert_allowed(read_kick);
        assert_killed(read_irq);
        assert_killed(read_backing);
        assert_killed(read_control);
}

static void test_write_only_the_irqfd_and_stderr(void **state) {
        assert_allowed(write_irq);
        assert_allowed(write_stderr);
        assert_killed(write_kick);
        assert_killed(write_backing);
        assert_killed(write_control);
        assert_killed(write_stdout);
}

static void test_send_only_to_the_daemon(void **state) {
        assert_allowed(send_control);
        assert_killed(send_regs);
}

static void test_no_open_socket_map_exec_fork_or_ioctl(void **state) {
        assert_killed(open_file);
#ifdef SYS_open
        assert_killed(open_legacy);
#endif
        assert_killed(make_socket);
        assert_killed(map_memory);
        assert_killed(make_executable);
        assert_killed(run_program);
        assert_killed(do_fork);
        assert_killed(do_ioctl);
}

static void test_the_loop_and_the_register_lock_work(void **state) {
        assert_allowed(poll_kick);
        assert_allowed(futex_wake);
        assert_allowed(clock_syscalls);
        assert_killed(futex_wait);
}

/* The daemon's replies, for every device type. */
static int recvmsg_control(void) {
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
        (void) recvmsg(DEVICE_FD_CONTROL, &mh, MSG_DONTWAIT);
        return 0;
}
static int recvmsg_regs(void) {
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
        (void) recvmsg(DEVICE_FD_REGS, &mh, MSG_DONTWAIT);
        return 0;
}

/* vsock: accept on the listener only, bytes on any socket, no new socket. */
static int accept_listener(void) {
        (void) accept4(DEVICE_FD_BACKING, NULL, NULL, SOCK_NONBLOCK);
        return 0;
}
static int accept_control(void) {
        (void) accept4(DEVICE_FD_CONTROL, NULL, NULL, SOCK_NONBLOCK);
        return 0;
}
static int connection_io(void) {
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
        (void) readv(100, &iov, 1);
        (void) sendmsg(100, &mh, MSG_DONTWAIT);
        (void) recv(100, buf, 1, MSG_PEEK | MSG_DONTWAIT);
        (void) send(100, buf, 0, MSG_DONTWAIT);
        (void) shutdown(100, SHUT_WR);
        (void) close(100);
        return 0;
}
static int epoll_calls(void) {
        struct epoll_event ev = { .events = EPOLLIN };
        (void) epoll_ctl(9, EPOLL_CTL_ADD, DEVICE_FD_KICK, &ev);
        (void) epoll_wait(9, &ev, 1, 0);
        return 0;
}
static int make_epoll(void) {
        (void) epoll_create1(EPOLL_CLOEXEC);
        return 0;
}
static int connect_socket(void) {
        struct sockaddr sa = { .sa_family = AF_UNIX };
        (void) connect(100, &sa, sizeof(sa));
        return 0;
}

static void test_replies_only_on_the_control_socket(void **state) {
        assert_allowed(recvmsg_control);
        assert_killed(recvmsg_regs);
        filter_type = DEVICE_TYPE_VSOCK;
        assert_allowed(recvmsg_control);
        assert_killed(recvmsg_regs);
}

static void test_vsock_sockets_but_no_new_ones(void **state) {
        filter_type = DEVICE_TYPE_VSOCK;
        assert_allowed(accept_listener);
        assert_allowed(connection_io);
        assert_allowed(epoll_calls);
        assert_allowed(read_kick);
        assert_killed(accept_control);
        assert_killed(make_socket);
        assert_killed(connect_socket);
        assert_killed(make_epoll);
        assert_allowed(map_memory);     /* connection buffers: malloc may map */
        assert_killed(map_exec_memory);
        assert_killed(open_file);
        assert_killed(read_backing);
        assert_killed(preadv_backing); /* block's I/O is not vsock's */
        assert_killed(do_fork);
}

static void test_block_has_no_vsock_calls(void **state) {
        assert_killed(accept_listener);
        assert_killed(connection_io);
        assert_killed(epoll_calls);
}

/* rng: getrandom and the common loop; fd 7 (/dev/null) untouchable. */
static int fill_with_getrandom(void) {
        return getrandom(buf, sizeof(buf), 0) == (ssize_t) sizeof(buf) ? 0 : 1;
}

static void test_rng_may_getrandom_and_nothing_else(void **state) {
        assert_killed(fill_with_getrandom); /* not in the block filter */
        filter_type = DEVICE_TYPE_RNG;
        assert_allowed(fill_with_getrandom);
        assert_allowed(read_kick);
        assert_allowed(poll_kick);
        assert_killed(read_backing);
        assert_killed(preadv_backing);
        assert_killed(write_backing);
        assert_killed(accept_listener);
        assert_killed(make_socket);
}

static int reset_type(void **state) {
        filter_type = DEVICE_TYPE_BLOCK;
        return 0;
}

static void test_unknown_device_type_is_refused(void **state) {
        /* Refused before anything is loaded: the test process stays unfiltered. */
        assert_int_equal(device_seccomp_install(_DEVICE_TYPE_MAX, false), -EPROTONOSUPPORT);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_block_io_only_on_the_backing_fd),
                cmocka_unit_test(test_read_only_the_kick_fd),
                cmocka_unit_test(test_write_only_the_irqfd_and_stderr),
                cmocka_unit_test(test_send_only_to_the_daemon),
                cmocka_unit_test(test_no_open_socket_map_exec_fork_or_ioctl),
                cmocka_unit_test(test_the_loop_and_the_register_lock_work),
                cmocka_unit_test_teardown(test_replies_only_on_the_control_socket, reset_type),
                cmocka_unit_test_teardown(test_vsock_sockets_but_no_new_ones, reset_type),
                cmocka_unit_test(test_block_has_no_vsock_calls),
                cmocka_unit_test_teardown(test_rng_may_getrandom_and_nothing_else, reset_type),
                cmocka_unit_test(test_unknown_device_type_is_refused),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
