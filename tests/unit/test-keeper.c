/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * gunyah-keeper and its protocol (keeper-protocol.h): messages checked on
 * both sides; the real program holds what it is given, hands it back in
 * order to a daemon that connects later, refuses a second daemon, and
 * leaves when told or when the processes it watches are gone.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "keeper-protocol.h"
#include "macro.h"
#include "vm-keeper.h"

static char dir[] = "/tmp/test-keeper-XXXXXX";

static void test_decode_refuses(void **state) {
        KeeperMessage m = { .type = KEEPER_MSG_DEPOSIT, .n_fds = 2, .watch = { 1, 0 } }, out;

        assert_int_equal(keeper_message_decode(&m, sizeof(m), 2, &out), 0);
        assert_int_equal(keeper_message_decode(&m, sizeof(m) - 1, 2, &out), -EBADMSG); /* short */
        assert_int_equal(keeper_message_decode(&m, sizeof(m), 1, &out), -EBADMSG);     /* fds != n_fds */
        m.watch[2] = 1;                                                                /* past n_fds */
        assert_int_equal(keeper_message_decode(&m, sizeof(m), 2, &out), -EBADMSG);
        m.watch[2] = 0;
        m.watch[0] = 2;
        assert_int_equal(keeper_message_decode(&m, sizeof(m), 2, &out), -EBADMSG);
        m = (KeeperMessage) { .type = KEEPER_MSG_QUIT, .n_fds = 1 };
        assert_int_equal(keeper_message_decode(&m, sizeof(m), 1, &out), -EBADMSG); /* QUIT carries none */
        m = (KeeperMessage) { .type = KEEPER_MSG_FDS, .n_fds = 2, .total = 1 };
        assert_int_equal(keeper_message_decode(&m, sizeof(m), 2, &out), -EBADMSG);
        m = (KeeperMessage) { .type = KEEPER_MSG_FDS, .total = KEEPER_FDS_MAX + 1 };
        assert_int_equal(keeper_message_decode(&m, sizeof(m), 0, &out), -EBADMSG);
        m = (KeeperMessage) { .type = 99 };
        assert_int_equal(keeper_message_decode(&m, sizeof(m), 0, &out), -EBADMSG);
}

static void test_send_receive_with_fds(void **state) {
        int pair[2], fds[KEEPER_FDS_PER_MESSAGE], sent[2] = { 0, 1 };
        KeeperMessage m = { .type = KEEPER_MSG_DEPOSIT, .n_fds = 2, .watch = { 0, 1 } }, got;

        assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair), 0);
        assert_int_equal(keeper_message_send(pair[0], &m, sent), 0);
        assert_int_equal(keeper_message_receive(pair[1], &got, fds), 1);
        assert_int_equal(got.n_fds, 2);
        assert_int_equal(got.watch[1], 1);
        assert_true(fcntl(fds[0], F_GETFD) & FD_CLOEXEC);
        close(fds[0]);
        close(fds[1]);
        /* a message that says one fd but carries none */
        m = (KeeperMessage) { .type = KEEPER_MSG_DEPOSIT, .n_fds = 1 };
        assert_int_equal(send(pair[0], &m, sizeof(m), 0), (ssize_t) sizeof(m));
        assert_int_equal(keeper_message_receive(pair[1], &got, fds), -EBADMSG);
        close(pair[0]);
        assert_int_equal(keeper_message_receive(pair[1], &got, fds), 0); /* EOF */
        close(pair[1]);
}

static int connect_keeper(void) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

        assert_true(fd >= 0);
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/" KEEPER_SOCKET, dir);
        assert_int_equal(connect(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
        return fd;
}

static bool exits_within(pid_t pid, int msec) {
        for (int i = 0; i < msec / 10; i++) {
                if (waitpid(pid, NULL, WNOHANG) == pid)
                        return true;
                usleep(10000);
        }
        return false;
}

/* n socketpairs: [i][0] given to the keeper (watched), [i][1] the "VM process". */
static VmKeeper *keeper_holding(int (*pairs)[2], size_t n) {
        int fds[8];
        bool watch[8];
        VmKeeper *k = NULL;

        assert_int_equal(vm_keeper_spawn(getenv("GUNYAH_KEEPER"), "vm1", dir, &k), 0);
        for (size_t i = 0; i < n; i++) {
                assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pairs[i]), 0);
                fds[i] = pairs[i][0];
                watch[i] = true;
        }
        assert_int_equal(vm_keeper_deposit(k, fds, watch, n), 0);
        for (size_t i = 0; i < n; i++)
                close(pairs[i][0]); /* only the keeper holds that end now */
        return k;
}

/* The daemon dies (its control socket closes); a new one gets the fds back in order. */
static void test_hand_back_to_a_new_daemon(void **state) {
        int pairs[3][2], fds[KEEPER_FDS_PER_MESSAGE], second;
        KeeperMessage m;
        char c;
        VmKeeper *k = keeper_holding(pairs, 3);
        pid_t pid = k->pid;

        k->control_fd = safe_close(k->control_fd); /* as if killed */
        usleep(100000);
        assert_int_equal(send(pairs[1][1], "x", 1, 0), 1); /* no EOF: the keeper holds the other end */
        int fd = connect_keeper();
        assert_int_equal(keeper_message_send(fd, &(KeeperMessage) { .type = KEEPER_MSG_HANDBACK }, NULL), 0);
        assert_int_equal(keeper_message_receive(fd, &m, fds), 1);
        assert_int_equal(m.type, KEEPER_MSG_FDS);
        assert_int_equal(m.total, 3);
        assert_int_equal(m.n_fds, 3);
        assert_int_equal(m.watch[2], 1);
        /* fds[1] is the end whose peer is pairs[1][1]: it reads what was sent there */
        assert_int_equal(recv(fds[1], &c, 1, MSG_DONTWAIT), 1);
        assert_int_equal(c, 'x');
        /* a second daemon is not let in while this one is connected */
        second = connect_keeper();
        struct pollfd p = { .fd = second, .events = POLLIN };
        assert_int_equal(poll(&p, 1, 2000), 1);
        assert_int_equal(recv(second, &c, 1, 0), 0);
        close(second);
        assert_int_equal(keeper_message_send(fd, &(KeeperMessage) { .type = KEEPER_MSG_QUIT }, NULL), 0);
        assert_true(exits_within(pid, 2000));
        k->pid = 0;
        for (size_t i = 0; i < 3; i++) {
                close(fds[i]);
                close(pairs[i][1]);
        }
        close(fd);
        vm_keeper_free(k);
}

/* The VM's processes ended while no daemon ran: the keeper stays and hands
 * the next daemon what they said last. */
static void test_stays_with_the_last_words_of_processes_gone(void **state) {
        int pairs[2][2], fds[KEEPER_FDS_PER_MESSAGE];
        KeeperMessage m;
        char c;
        VmKeeper *k = keeper_holding(pairs, 2);
        pid_t pid = k->pid;

        k->control_fd = safe_close(k->control_fd); /* the daemon dies */
        assert_int_equal(send(pairs[0][1], "e", 1, 0), 1); /* a worker's exit report */
        close(pairs[0][1]);
        close(pairs[1][1]);
        assert_false(exits_within(pid, 500));
        int fd = connect_keeper();
        assert_int_equal(keeper_message_send(fd, &(KeeperMessage) { .type = KEEPER_MSG_HANDBACK }, NULL), 0);
        assert_int_equal(keeper_message_receive(fd, &m, fds), 1);
        assert_int_equal(m.n_fds, 2);
        assert_int_equal(recv(fds[0], &c, 1, MSG_DONTWAIT), 1);
        assert_int_equal(c, 'e');
        assert_int_equal(recv(fds[0], &c, 1, MSG_DONTWAIT), 0); /* then EOF: it has ended */
        assert_int_equal(keeper_message_send(fd, &(KeeperMessage) { .type = KEEPER_MSG_QUIT }, NULL), 0);
        assert_true(exits_within(pid, 2000));
        k->pid = 0;
        close(fds[0]);
        close(fds[1]);
        close(fd);
        vm_keeper_free(k);
}

/* A daemon that died before depositing anything leaves nothing to keep. */
static void test_leaves_when_its_daemon_died_before_a_deposit(void **state) {
        VmKeeper *k = NULL;
        pid_t pid;

        assert_int_equal(vm_keeper_spawn(getenv("GUNYAH_KEEPER"), "vm1", dir, &k), 0);
        pid = k->pid;
        assert_false(exits_within(pid, 200));
        k->control_fd = safe_close(k->control_fd);
        assert_true(exits_within(pid, 2000));
        k->pid = 0;
        vm_keeper_free(k);
}

static void test_a_missing_program_fails_the_spawn(void **state) {
        char path[128];
        VmKeeper *k = NULL;

        assert_int_equal(vm_keeper_spawn("/nonexistent/gunyah-keeper", "vm1", dir, &k), -ENOENT);
        assert_null(k);
        snprintf(path, sizeof(path), "%s/" KEEPER_SOCKET, dir);
        assert_int_equal(access(path, F_OK), -1);
}

static void test_free_quits_and_removes_the_socket(void **state) {
        int pairs[1][2];
        char path[128];
        VmKeeper *k = keeper_holding(pairs, 1);
        struct pollfd p = { .fd = pairs[0][1] };

        snprintf(path, sizeof(path), "%s/" KEEPER_SOCKET, dir);
        assert_int_equal(access(path, F_OK), 0);
        vm_keeper_free(k);
        assert_int_equal(access(path, F_OK), -1);
        assert_int_equal(poll(&p, 1, 2000), 1); /* the VM process's peer is gone */
        assert_true(p.revents & POLLHUP);
        close(pairs[0][1]);
}

static int setup(void **state) {
        return mkdtemp(dir) && getenv("GUNYAH_KEEPER") ? 0 : -1;
}

static int teardown(void **state) {
        return rmdir(dir);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_decode_refuses),
                cmocka_unit_test(test_send_receive_with_fds),
                cmocka_unit_test(test_hand_back_to_a_new_daemon),
                cmocka_unit_test(test_stays_with_the_last_words_of_processes_gone),
                cmocka_unit_test(test_leaves_when_its_daemon_died_before_a_deposit),
                cmocka_unit_test(test_free_quits_and_removes_the_socket),
                cmocka_unit_test(test_a_missing_program_fails_the_spawn),
        };

        return cmocka_run_group_tests(tests, setup, teardown);
}
