/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The daemon↔device protocol: the device's VSOCK_CONNECT request as the
 * daemon decodes it, and the daemon's reply with its fd both ways. */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "device-protocol.h"
#include "log.h"

static int sock[2];

static int setup(void **state) {
        return socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sock) < 0 ? -1 : 0;
}

static int teardown(void **state) {
        close(sock[0]);
        close(sock[1]);
        return 0;
}

static void test_connect_request_round_trip(void **state) {
        DeviceMessage m = { .type = DEVICE_MSG_VSOCK_CONNECT, .port = 5000, .cookie = 77 }, got;

        assert_int_equal(device_message_send(sock[0], &m), 0);
        assert_int_equal(device_message_receive(sock[1], "vsock", &got), 1);
        assert_int_equal(got.type, DEVICE_MSG_VSOCK_CONNECT);
        assert_int_equal(got.port, 5000);
        assert_int_equal(got.cookie, 77);
}

static void test_decode_refuses_inconsistent_connect_and_stray_ports(void **state) {
        DeviceMessage m = { .type = DEVICE_MSG_VSOCK_CONNECT, .error = -EIO, .port = 1 }, got;

        assert_int_equal(device_message_decode(&m, sizeof(m), "vsock", &got), -EBADMSG);
        m = (DeviceMessage) { .type = DEVICE_MSG_VSOCK_CONNECT, .port = 1, .step = "x" };
        assert_int_equal(device_message_decode(&m, sizeof(m), "vsock", &got), -EBADMSG);
        m = (DeviceMessage) { .type = DEVICE_MSG_READY, .cookie = 1 };
        assert_int_equal(device_message_decode(&m, sizeof(m), "vsock", &got), -EBADMSG);
        m = (DeviceMessage) { .type = DEVICE_MSG_READY };
        assert_int_equal(device_message_decode(&m, sizeof(m), "vsock", &got), 0);
}

static void test_reply_carries_its_fd(void **state) {
        DeviceReply r = { .type = DEVICE_REPLY_VSOCK_CONNECTED, .port = 9, .cookie = 3 }, got;
        struct stat a, b;
        int fd = open("/dev/null", O_RDONLY | O_CLOEXEC), got_fd = -2;

        assert_true(fd >= 0);
        assert_int_equal(device_reply_send(sock[0], &r, fd), 0);
        assert_int_equal(device_reply_receive(sock[1], &got, &got_fd), 1);
        assert_true(got_fd >= 0 && got_fd != fd);
        assert_int_equal(fstat(fd, &a), 0);
        assert_int_equal(fstat(got_fd, &b), 0);
        assert_true(a.st_ino == b.st_ino && a.st_dev == b.st_dev);
        assert_int_equal(got.error, 0);
        assert_int_equal(got.port, 9);
        assert_int_equal(got.cookie, 3);
        close(fd);
        close(got_fd);
}

static void test_reply_error_without_fd(void **state) {
        DeviceReply r = { .type = DEVICE_REPLY_VSOCK_CONNECTED, .error = -ECONNREFUSED, .cookie = 4 }, got;
        int got_fd = -2;

        assert_int_equal(device_reply_send(sock[0], &r, -1), 0);
        assert_int_equal(device_reply_receive(sock[1], &got, &got_fd), 1);
        assert_int_equal(got_fd, -1);
        assert_int_equal(got.error, -ECONNREFUSED);
        assert_int_equal(device_reply_receive(sock[1], &got, &got_fd), -EAGAIN);
}

static void test_reply_refuses_inconsistent_and_closes_fds(void **state) {
        DeviceReply ok_no_fd = { .type = DEVICE_REPLY_VSOCK_CONNECTED }, got;
        DeviceReply err_with_fd = { .type = DEVICE_REPLY_VSOCK_CONNECTED, .error = -EIO };
        DeviceReply bad_type = { .type = 7, .error = -EIO };
        int fd = open("/dev/null", O_RDONLY | O_CLOEXEC), got_fd = -2;
        char junk[3] = "abc";

        assert_int_equal(device_reply_send(sock[0], &ok_no_fd, -1), 0);
        assert_int_equal(device_reply_receive(sock[1], &got, &got_fd), -EBADMSG);
        assert_int_equal(device_reply_send(sock[0], &err_with_fd, fd), 0);
        assert_int_equal(device_reply_receive(sock[1], &got, &got_fd), -EBADMSG);
        assert_int_equal(device_reply_send(sock[0], &bad_type, -1), 0);
        assert_int_equal(device_reply_receive(sock[1], &got, &got_fd), -EBADMSG);
        assert_int_equal(send(sock[0], junk, sizeof(junk), 0), (ssize_t) sizeof(junk));
        assert_int_equal(device_reply_receive(sock[1], &got, &got_fd), -EBADMSG);
        assert_int_equal(got_fd, -2);
        close(fd);
}

static void test_reply_receive_reports_hangup_after_pending_replies(void **state) {
        DeviceReply r = { .type = DEVICE_REPLY_VSOCK_CONNECTED, .error = -ENOENT }, got;
        int got_fd;

        assert_int_equal(device_reply_send(sock[0], &r, -1), 0);
        assert_int_equal(shutdown(sock[0], SHUT_WR), 0);
        assert_int_equal(device_reply_receive(sock[1], &got, &got_fd), 1);
        assert_int_equal(device_reply_receive(sock[1], &got, &got_fd), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_connect_request_round_trip, setup, teardown),
                cmocka_unit_test(test_decode_refuses_inconsistent_connect_and_stray_ports),
                cmocka_unit_test_setup_teardown(test_reply_carries_its_fd, setup, teardown),
                cmocka_unit_test_setup_teardown(test_reply_error_without_fd, setup, teardown),
                cmocka_unit_test_setup_teardown(test_reply_refuses_inconsistent_and_closes_fds, setup, teardown),
                cmocka_unit_test_setup_teardown(test_reply_receive_reports_hangup_after_pending_replies, setup, teardown),
        };

        log_set_max_level(LOG_EMERG);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
