/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The daemon↔worker protocol: the configuration record with its fds both
 * ways, and the daemon's validation of what a worker sends (untrusted). */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "log.h"
#include "macro.h"
#include "worker-protocol.h"

static int sock[2];

static int setup(void **state) {
        return socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sock) < 0 ? -1 : 0;
}

static int teardown(void **state) {
        close(sock[0]);
        close(sock[1]);
        return 0;
}

static size_t count_fds(void) {
        DIR *d = opendir("/proc/self/fd");
        size_t n = 0;

        assert_non_null(d);
        for (struct dirent *de; (de = readdir(d));)
                n += de->d_name[0] != '.';
        closedir(d);
        return n;
}

static WorkerConfig valid_config(void) {
        WorkerConfig c = {
                .type = WORKER_MSG_CONFIG,
                .vcpu = 3,
                .n_backend_fds = 2,
                .n_irqfds = 1,
                .irq_labels = { 7 },
                .pl011_base = 0x9000000,
                .pl061_base = UINT64_MAX,
                .pl011_spi = 1,
                .pl061_spi = UINT32_MAX,
        };
        strcpy(c.backend, "sim");
        strcpy(c.vm, "hello");
        return c;
}

static void open_eventfds(int *fds, size_t n) {
        for (size_t i = 0; i < n; i++) {
                fds[i] = eventfd((unsigned) i, EFD_CLOEXEC);
                assert_true(fds[i] >= 0);
        }
}

static void close_fds(const int *fds, size_t n) {
        for (size_t i = 0; i < n; i++)
                close(fds[i]);
}

static void assert_same_file(int a, int b) {
        struct stat sa, sb;

        assert_int_equal(fstat(a, &sa), 0);
        assert_int_equal(fstat(b, &sb), 0);
        assert_true(sa.st_ino == sb.st_ino && sa.st_dev == sb.st_dev);
}

static void test_config_round_trip_with_fds_in_order(void **state) {
        WorkerConfig c = valid_config(), got;
        int fds[5], got_fds[WORKER_CONFIG_FDS_MAX];
        size_t n_got = 0;

        open_eventfds(fds, 5);
        assert_int_equal(worker_config_send(sock[0], &c, fds, 5), 0);
        assert_int_equal(worker_config_receive(sock[1], &got, got_fds, &n_got), 1);
        assert_memory_equal(&got, &c, sizeof(c));
        assert_int_equal(n_got, 5);
        for (size_t i = 0; i < 5; i++)
                assert_same_file(fds[i], got_fds[i]);
        close_fds(fds, 5);
        close_fds(got_fds, n_got);
}

static void test_config_validation_refuses_inconsistent_records(void **state) {
        WorkerConfig c;
        int fds[5];

        open_eventfds(fds, 5);
        c = valid_config();
        assert_int_equal(worker_config_validate(&c, 5), 0);
        assert_int_equal(worker_config_validate(&c, 4), -EBADMSG); /* fds do not match the counts */
        c.type = WORKER_MSG_READY;
        assert_int_equal(worker_config_validate(&c, 5), -EBADMSG);
        c = valid_config();
        c.n_backend_fds = 0;
        assert_int_equal(worker_config_validate(&c, 3), -EBADMSG);
        c.n_backend_fds = HV_VCPU_EXPORT_FDS_MAX + 1;
        assert_int_equal(worker_config_validate(&c, worker_config_n_fds(&c)), -EBADMSG);
        c = valid_config();
        c.n_irqfds = WORKER_IRQFDS_MAX + 1;
        assert_int_equal(worker_config_validate(&c, worker_config_n_fds(&c)), -EBADMSG);
        c = valid_config();
        memset(c.vm, 'a', sizeof(c.vm)); /* not terminated */
        assert_int_equal(worker_config_validate(&c, 5), -EBADMSG);
        c = valid_config();
        c.backend[0] = '\0';
        assert_int_equal(worker_config_validate(&c, 5), -EBADMSG);
        /* Nothing is sent when the record is wrong. */
        assert_int_equal(worker_config_send(sock[0], &c, fds, 5), -EBADMSG);
        assert_int_equal(recv(sock[1], &c, sizeof(c), MSG_DONTWAIT), -1);
        close_fds(fds, 5);
}

/* virtio transports travel as a page and a kick eventfd each; their
 * windows must not overlap, or an MMIO address would find two devices. */
static void test_config_virtio_devices_count_and_do_not_overlap(void **state) {
        WorkerConfig c = valid_config(), got;
        int fds[9], got_fds[WORKER_CONFIG_FDS_MAX];
        size_t n_got = 0;

        c.n_virtio = 2;
        c.virtio_base[0] = 0x0a000000;
        c.virtio_base[1] = 0x0a000200;
        assert_int_equal(worker_config_n_fds(&c), 9);
        assert_int_equal(worker_config_validate(&c, 5), -EBADMSG);
        open_eventfds(fds, 9);
        assert_int_equal(worker_config_send(sock[0], &c, fds, 9), 0);
        assert_int_equal(worker_config_receive(sock[1], &got, got_fds, &n_got), 1);
        assert_int_equal(n_got, 9);
        assert_int_equal(got.n_virtio, 2);
        assert_true(got.virtio_base[1] == 0x0a000200);
        for (size_t i = 0; i < 9; i++)
                assert_same_file(fds[i], got_fds[i]);
        close_fds(got_fds, n_got);
        close_fds(fds, 9);

        c.virtio_base[1] = 0x0a0001fc; /* inside the first window */
        assert_int_equal(worker_config_validate(&c, 9), -EBADMSG);
        c.virtio_base[1] = UINT64_MAX - 0x100; /* wraps */
        assert_int_equal(worker_config_validate(&c, 9), -EBADMSG);
        c.n_virtio = WORKER_VIRTIO_MAX + 1;
        assert_int_equal(worker_config_validate(&c, worker_config_n_fds(&c)), -EBADMSG);
}

/* Whatever arrives malformed is refused, and the fds it carried are closed. */
static void assert_receive_refuses(const void *buf, size_t size, size_t n_fds) {
        union {
                struct cmsghdr align;
                char buf[CMSG_SPACE(sizeof(int) * 8)];
        } control = {};
        struct iovec iov = { .iov_base = (void *) buf, .iov_len = size };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
        int fds[8], got_fds[WORKER_CONFIG_FDS_MAX];
        size_t before, n_got = 0;
        WorkerConfig got;

        open_eventfds(fds, n_fds);
        if (n_fds > 0) {
                struct cmsghdr *cmsg;

                mh.msg_control = &control;
                mh.msg_controllen = CMSG_SPACE(sizeof(int) * n_fds);
                cmsg = CMSG_FIRSTHDR(&mh);
                cmsg->cmsg_level = SOL_SOCKET;
                cmsg->cmsg_type = SCM_RIGHTS;
                cmsg->cmsg_len = CMSG_LEN(sizeof(int) * n_fds);
                memcpy(CMSG_DATA(cmsg), fds, sizeof(int) * n_fds);
        }
        assert_int_equal(sendmsg(sock[0], &mh, 0), (ssize_t) size);
        close_fds(fds, n_fds);
        before = count_fds();
        assert_int_equal(worker_config_receive(sock[1], &got, got_fds, &n_got), -EBADMSG);
        assert_int_equal(count_fds(), before);
}

static void test_config_receive_refuses_malformed_and_closes_its_fds(void **state) {
        WorkerConfig c = valid_config();
        char big[sizeof(c) + 8] = {};

        assert_receive_refuses(&c, sizeof(c) - 1, 5);  /* short */
        memcpy(big, &c, sizeof(c));
        assert_receive_refuses(big, sizeof(big), 5);    /* oversized */
        assert_receive_refuses(&c, sizeof(c), 4);       /* an fd missing */
        assert_receive_refuses(&c, sizeof(c), 6);       /* an fd too many */
        c.type = WORKER_MSG_STOP;
        assert_receive_refuses(&c, sizeof(c), 5);       /* not a config */
}

static void test_config_receive_reports_hangup(void **state) {
        int got_fds[WORKER_CONFIG_FDS_MAX];
        WorkerConfig got;
        size_t n_got;

        close(sock[0]);
        assert_int_equal(worker_config_receive(sock[1], &got, got_fds, &n_got), 0);
        sock[0] = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0); /* for teardown */
}

static WorkerMessage msg(uint32_t type, uint32_t vcpu) {
        return (WorkerMessage) { .type = type, .vcpu = vcpu };
}

static WorkerMessage failed(int32_t error, const char *step) {
        WorkerMessage m = msg(WORKER_MSG_FAILED, 2);

        m.error = error;
        memcpy(m.step, step, strnlen(step, sizeof(m.step)));
        return m;
}

static void assert_decode_refuses(WorkerMessage m, uint32_t vcpu) {
        WorkerMessage got = msg(0xdead, 0xdead);

        assert_int_equal(worker_message_decode(&m, sizeof(m), vcpu, &got), -EBADMSG);
        assert_int_equal(got.type, 0xdead); /* untouched */
}

static void test_decode_accepts_what_workers_say(void **state) {
        WorkerMessage m, got;

        m = msg(WORKER_MSG_READY, 2);
        m.unhandled_mmio = 5;
        assert_int_equal(worker_message_decode(&m, sizeof(m), 2, &got), 0);
        assert_memory_equal(&got, &m, sizeof(m));
        m = msg(WORKER_MSG_VM_EXITED, 2);
        m.exit_info.reason_size = GUNYAH_VM_MAX_EXIT_REASON_SIZE;
        assert_int_equal(worker_message_decode(&m, sizeof(m), 2, &got), 0);
        m = msg(WORKER_MSG_PAGE_FAULT, 2);
        assert_int_equal(worker_message_decode(&m, sizeof(m), 2, &got), 0);
        m = failed(-EPERM, "sandbox-setgid");
        assert_int_equal(worker_message_decode(&m, sizeof(m), 2, &got), 0);
        assert_string_equal(got.step, "sandbox-setgid");
}

static void test_decode_fills_in_the_vcpu_a_worker_cannot_know_yet(void **state) {
        WorkerMessage m = failed(-EPERM, "sandbox-setgid"), got;

        m.vcpu = WORKER_VCPU_UNKNOWN;
        assert_int_equal(worker_message_decode(&m, sizeof(m), 2, &got), 0);
        assert_int_equal(got.vcpu, 2);
        m = msg(WORKER_MSG_IDLE, WORKER_VCPU_UNKNOWN);
        assert_int_equal(worker_message_decode(&m, sizeof(m), 2, &got), 0);
        assert_int_equal(got.vcpu, 2);
        /* The pool expects no vCPU at all. */
        assert_int_equal(worker_message_decode(&m, sizeof(m), WORKER_VCPU_UNKNOWN, &got), 0);
        /* Only those two: a READY must name its vCPU. */
        assert_decode_refuses(msg(WORKER_MSG_READY, WORKER_VCPU_UNKNOWN), 2);
}

static void test_decode_refuses_wrong_sizes(void **state) {
        char buf[sizeof(WorkerMessage) + 1] = {};
        WorkerMessage m = msg(WORKER_MSG_READY, 0), got;

        memcpy(buf, &m, sizeof(m));
        assert_int_equal(worker_message_decode(buf, 0, 0, &got), -EBADMSG);
        assert_int_equal(worker_message_decode(buf, sizeof(m) - 1, 0, &got), -EBADMSG);
        assert_int_equal(worker_message_decode(buf, sizeof(buf), 0, &got), -EBADMSG);
}

static void test_decode_refuses_unknown_and_inconsistent_messages(void **state) {
        WorkerMessage m;

        assert_decode_refuses(msg(0, 2), 2);
        assert_decode_refuses(msg(99, 2), 2);
        assert_decode_refuses(msg(WORKER_MSG_STOP, 2), 2);          /* the daemon's own types */
        assert_decode_refuses(msg(WORKER_MSG_CONFIG, 2), 2);
        assert_decode_refuses(msg(WORKER_MSG_READY, 3), 2);         /* another vCPU */
        assert_decode_refuses(failed(0, "vcpu-run"), 2);            /* not a failure */
        assert_decode_refuses(failed(EPERM, "vcpu-run"), 2);        /* positive */
        assert_decode_refuses(failed(-5000, "vcpu-run"), 2);        /* not an errno */
        assert_decode_refuses(failed(-EPERM, ""), 2);               /* no step */
        assert_decode_refuses(failed(-EPERM, "Sandbox\xff"), 2);    /* not [a-z0-9_.-] */
        assert_decode_refuses(failed(-EPERM, "a b"), 2);
        m = failed(-EPERM, "x");
        memset(m.step, 'a', sizeof(m.step));                        /* not terminated */
        assert_decode_refuses(m, 2);
        m = msg(WORKER_MSG_READY, 2);
        strcpy(m.step, "ready");                                    /* a step only with FAILED */
        assert_decode_refuses(m, 2);
        m = msg(WORKER_MSG_VM_EXITED, 2);
        m.exit_info.reason_size = GUNYAH_VM_MAX_EXIT_REASON_SIZE + 1;
        assert_decode_refuses(m, 2);
}

static void test_receive_reads_reports_and_refuses(void **state) {
        WorkerMessage m = msg(WORKER_MSG_READY, 1), got;
        char big[sizeof(m) + 16] = {};

        assert_int_equal(worker_message_receive(sock[0], 1, &got), -EAGAIN);
        assert_int_equal(worker_message_send(sock[1], &m, 0), 0);
        assert_int_equal(worker_message_receive(sock[0], 1, &got), 1);
        assert_int_equal(got.type, WORKER_MSG_READY);
        memcpy(big, &m, sizeof(m));
        assert_int_equal(send(sock[1], big, sizeof(big), 0), (ssize_t) sizeof(big));
        assert_int_equal(worker_message_receive(sock[0], 1, &got), -EBADMSG);
        assert_int_equal(send(sock[1], &m, 10, 0), 10);
        assert_int_equal(worker_message_receive(sock[0], 1, &got), -EBADMSG);
        /* Read on after a bad one. */
        assert_int_equal(worker_message_send(sock[1], &m, 0), 0);
        assert_int_equal(worker_message_receive(sock[0], 1, &got), 1);
        assert_int_equal(worker_message_receive(sock[0], 1, &got), -EAGAIN);
        close(sock[1]);
        assert_int_equal(worker_message_receive(sock[0], 1, &got), 0);
        sock[1] = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0); /* for teardown */
}

/* A worker that dies without reading its config leaves the daemon's end an
 * ECONNRESET that recvmsg() reports before the messages still queued: its
 * last words (the step it failed at) must still be read. */
static void test_receive_reads_last_words_of_a_peer_that_left_unread_data(void **state) {
        WorkerMessage failed = msg(WORKER_MSG_FAILED, 1), config = msg(WORKER_MSG_STOP, 1), got;

        failed.error = -EPERM;
        strcpy(failed.step, "sandbox-setgid");
        assert_int_equal(worker_message_send(sock[0], &config, 0), 0); /* never read by the peer */
        assert_int_equal(worker_message_send(sock[1], &failed, 0), 0);
        close(sock[1]);
        assert_int_equal(worker_message_receive(sock[0], 1, &got), 1);
        assert_int_equal(got.type, WORKER_MSG_FAILED);
        assert_string_equal(got.step, "sandbox-setgid");
        assert_int_equal(worker_message_receive(sock[0], 1, &got), 0);
        sock[1] = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0); /* for teardown */
}

/* A worker must not hand the daemon fds: they would pile up in it. */
static void test_receive_refuses_and_drops_fds_from_a_worker(void **state) {
        WorkerMessage m = msg(WORKER_MSG_READY, 1), got;
        union {
                struct cmsghdr align;
                char buf[CMSG_SPACE(sizeof(int) * 4)];
        } control = {};
        struct iovec iov = { .iov_base = &m, .iov_len = sizeof(m) };
        struct msghdr mh = {
                .msg_iov = &iov, .msg_iovlen = 1,
                .msg_control = &control, .msg_controllen = CMSG_SPACE(sizeof(int) * 4),
        };
        struct cmsghdr *cmsg = CMSG_FIRSTHDR(&mh);
        int fds[4];
        size_t before;

        open_eventfds(fds, 4);
        cmsg->cmsg_level = SOL_SOCKET;
        cmsg->cmsg_type = SCM_RIGHTS;
        cmsg->cmsg_len = CMSG_LEN(sizeof(int) * 4);
        memcpy(CMSG_DATA(cmsg), fds, sizeof(fds));
        assert_int_equal(sendmsg(sock[1], &mh, 0), (ssize_t) sizeof(m));
        close_fds(fds, 4);
        before = count_fds();
        assert_int_equal(worker_message_receive(sock[0], 1, &got), -EBADMSG);
        assert_int_equal(count_fds(), before);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_config_round_trip_with_fds_in_order, setup, teardown),
                cmocka_unit_test_setup_teardown(test_config_validation_refuses_inconsistent_records, setup, teardown),
                cmocka_unit_test_setup_teardown(test_config_virtio_devices_count_and_do_not_overlap, setup, teardown),
                cmocka_unit_test_setup_teardown(test_config_receive_refuses_malformed_and_closes_its_fds, setup, teardown),
                cmocka_unit_test_setup_teardown(test_config_receive_reports_hangup, setup, teardown),
                cmocka_unit_test(test_decode_accepts_what_workers_say),
                cmocka_unit_test(test_decode_fills_in_the_vcpu_a_worker_cannot_know_yet),
                cmocka_unit_test(test_decode_refuses_wrong_sizes),
                cmocka_unit_test(test_decode_refuses_unknown_and_inconsistent_messages),
                cmocka_unit_test_setup_teardown(test_receive_reads_reports_and_refuses, setup, teardown),
                cmocka_unit_test_setup_teardown(test_receive_refuses_and_drops_fds_from_a_worker, setup, teardown),
                cmocka_unit_test_setup_teardown(test_receive_reads_last_words_of_a_peer_that_left_unread_data, setup,
                                                teardown),
        };

        log_set_max_level(LOG_CRIT); /* every refusal logs a warning */
        return cmocka_run_group_tests(tests, NULL, NULL);
}
