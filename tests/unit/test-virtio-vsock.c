/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The vsock engine's protocol, driven as a Linux guest drives it: both
 * handshakes, data with credit both ways, SHUTDOWN and RST both ways, and
 * what it does with packets a guest gets wrong. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "log.h"
#include "vsock-guest.h"

static void test_guest_connects_and_data_flows_both_ways(void **state) {
        char buf[16] = {};
        VsockHdr h;
        int peer = vg_open(1000, 5000);

        assert_int_equal(vg->connects[0]->guest_port, 1000);
        assert_int_equal(vg->connects[0]->host_port, 5000);
        vg_send_data(1000, 5000, "hello", 5, 0);
        vg_process();
        assert_int_equal(read(peer, buf, sizeof(buf)), 5);
        assert_memory_equal(buf, "hello", 5);

        assert_int_equal(write(peer, "world!", 6), 6);
        vg_conn(1000, 5000)->host_readable = true;
        vg_rx_fill(1, 4096);
        vg_process();
        h = vg_expect(VSOCK_OP_RW, 1000, 5000);
        assert_int_equal(h.len, 6);
        assert_memory_equal(vg_payload, "world!", 6);
        assert_int_equal(h.fwd_cnt, 5); /* what the host took, told with every packet */
        assert_int_equal(vsock_engine_take_new_errors(&vg->e), 0);
}

static void test_host_connects_to_guest(void **state) {
        VsockConn *c, *d;
        VsockHdr h;

        assert_int_equal(vsock_engine_connect_guest(&vg->e, 7000, &c), 0);
        assert_int_equal(vsock_engine_connect_guest(&vg->e, 7000, &d), 0);
        assert_true(c->host_port >= VSOCK_HOST_PORT_MIN);
        assert_true(c->host_port != d->host_port);
        /* No rx buffer: the REQUESTs wait for one. */
        vg_process();
        vg_expect_nothing();
        vg_rx_fill(2, 4096);
        vg_process();
        h = vg_expect(VSOCK_OP_REQUEST, 7000, c->host_port);
        assert_int_equal(h.len, 0);
        vg_expect(VSOCK_OP_REQUEST, 7000, d->host_port);

        vg_send_op(VSOCK_OP_RESPONSE, 7000, c->host_port, 0);
        vg_send_op(VSOCK_OP_RST, 7000, d->host_port, 0); /* nothing listens */
        vg_process();
        assert_int_equal(vg->n_established, 1);
        assert_int_equal(c->state, VSOCK_CONN_ESTABLISHED);
        assert_int_equal(vg->n_closed, 1);
        assert_int_equal(vg->e.n_conns, 1);
        vg_expect_nothing(); /* never an answer to an RST */
}

static void test_refused_guest_connect_gets_rst(void **state) {
        vg_send_op(VSOCK_OP_REQUEST, 1000, 6000, 0);
        vg_process();
        assert_int_equal(vg->n_connects, 1);
        vsock_engine_host_connected(&vg->e, vg->connects[0], -ECONNREFUSED);
        vg_rx_fill(1, 4096);
        vg_process();
        vg_expect(VSOCK_OP_RST, 1000, 6000);
        assert_int_equal(vg->e.n_conns, 0);
        assert_int_equal(vg->e.n_connecting, 0);
}

static void test_never_more_than_the_guest_credit(void **state) {
        static const char data[20] = "0123456789abcdefghij";
        int peer = vg_open_credit(1000, 5000, 8);
        VsockConn *c = vg_conn(1000, 5000);
        VsockHdr h;

        assert_int_equal(write(peer, data, sizeof(data)), (ssize_t) sizeof(data));
        c->host_readable = true;
        vg_rx_fill(4, 4096);
        vg_process();
        h = vg_expect(VSOCK_OP_RW, 1000, 5000);
        assert_int_equal(h.len, 8);
        assert_memory_equal(vg_payload, data, 8);
        vg_expect_nothing(); /* out of credit: waits */

        h = vg_hdr(VSOCK_OP_CREDIT_UPDATE, 1000, 5000);
        h.buf_alloc = 8;
        vg_send(&h, NULL, 0); /* fwd_cnt 0: nothing new */
        vg_process();
        vg_expect_nothing();
        h = vg_hdr(VSOCK_OP_CREDIT_UPDATE, 1000, 5000);
        h.buf_alloc = 8;
        h.fwd_cnt = 8;
        vg_send(&h, NULL, 0);
        vg_process();
        h = vg_expect(VSOCK_OP_RW, 1000, 5000);
        assert_int_equal(h.len, 8);
        assert_memory_equal(vg_payload, data + 8, 8);
        h = vg_hdr(VSOCK_OP_CREDIT_UPDATE, 1000, 5000);
        h.buf_alloc = 64;
        h.fwd_cnt = 16;
        vg_send(&h, NULL, 0);
        vg_process();
        h = vg_expect(VSOCK_OP_RW, 1000, 5000);
        assert_int_equal(h.len, 4);
        assert_memory_equal(vg_payload, data + 16, 4);
}

/* The host stops taking data: the guest may fill our buffer, no more; when
 * the host drains it, the guest hears of the room. */
static void test_our_credit_exhausted_then_resumed(void **state) {
        static uint8_t chunk[4096], got[VSOCK_BUF_ALLOC];
        int peer = vg_open(1000, 5000);
        VsockConn *c = vg_conn(1000, 5000);
        size_t n = 0;
        VsockHdr h;

        memset(chunk, 'x', sizeof(chunk));
        vg->stalled[c->fd] = true;
        for (unsigned i = 0; i < VSOCK_BUF_ALLOC / sizeof(chunk); i++)
                vg_send_data(1000, 5000, chunk, sizeof(chunk), 0);
        vg_process();
        assert_int_equal(c->buf_used, VSOCK_BUF_ALLOC);
        assert_int_equal(vg->e.stats.resets, 0);
        vg_rx_fill(2, 4096);
        vg_process();
        vg_expect_nothing(); /* nothing freed: nothing to tell */

        vg->stalled[c->fd] = false;
        c->host_writable = true;
        vg_process();
        while (n < sizeof(got)) {
                ssize_t k = read(peer, got + n, sizeof(got) - n);
                assert_true(k > 0);
                n += (size_t) k;
        }
        assert_null(c->buf); /* drained: the memory went back */
        h = vg_expect(VSOCK_OP_CREDIT_UPDATE, 1000, 5000);
        assert_int_equal(h.fwd_cnt, VSOCK_BUF_ALLOC);

        vg_send_op(VSOCK_OP_CREDIT_REQUEST, 1000, 5000, 0);
        vg_process();
        h = vg_expect(VSOCK_OP_CREDIT_UPDATE, 1000, 5000);
        assert_int_equal(h.fwd_cnt, VSOCK_BUF_ALLOC);
}

static void test_credit_overflow_resets(void **state) {
        static uint8_t chunk[VSOCK_BUF_ALLOC];
        VsockConn *c;

        vg_open(1000, 5000);
        c = vg_conn(1000, 5000);
        vg->stalled[c->fd] = true;
        vg_send_data(1000, 5000, chunk, VSOCK_BUF_ALLOC, 0);
        vg_send_data(1000, 5000, "!", 1, 0);
        vg_rx_fill(1, 4096);
        vg_process();
        vg_expect(VSOCK_OP_RST, 1000, 5000);
        assert_int_equal(vg->n_closed, 1);
        assert_int_equal(vg->e.n_conns, 0);
        assert_int_equal(vsock_engine_take_new_errors(&vg->e), VSOCK_ERROR_CREDIT);
}

static void test_host_eof_becomes_shutdown_send(void **state) {
        int peer = vg_open(1000, 5000);
        VsockHdr h;

        assert_int_equal(write(peer, "bye", 3), 3);
        assert_int_equal(shutdown(peer, SHUT_WR), 0);
        vg_conn(1000, 5000)->host_readable = true;
        vg_rx_fill(3, 4096);
        vg_process();
        h = vg_expect(VSOCK_OP_RW, 1000, 5000);
        assert_int_equal(h.len, 3);
        h = vg_expect(VSOCK_OP_SHUTDOWN, 1000, 5000);
        assert_int_equal(h.flags, VSOCK_SHUTDOWN_SEND);
        vg_expect_nothing();

        /* The guest closes: both flags, answered with RST. */
        vg_send_op(VSOCK_OP_SHUTDOWN, 1000, 5000, VSOCK_SHUTDOWN_BOTH);
        vg_process();
        vg_expect(VSOCK_OP_RST, 1000, 5000);
        assert_int_equal(vg->n_closed, 1);
        assert_int_equal(vg->e.n_conns, 0);
}

/* Guest SHUTDOWN SEND: the host sees EOF after every byte before it. */
static void test_guest_shutdown_send_after_the_data(void **state) {
        char buf[16];
        int peer = vg_open(1000, 5000);
        VsockConn *c = vg_conn(1000, 5000);

        vg->stalled[c->fd] = true;
        vg_send_data(1000, 5000, "last", 4, 0);
        vg_send_op(VSOCK_OP_SHUTDOWN, 1000, 5000, VSOCK_SHUTDOWN_SEND);
        vg_process();
        assert_int_equal(vg->n_shutdown_write, 0);
        assert_int_equal(read(peer, buf, sizeof(buf)), -1);
        vg->stalled[c->fd] = false;
        c->host_writable = true;
        vg_process();
        assert_int_equal(vg->n_shutdown_write, 1);
        assert_int_equal(read(peer, buf, sizeof(buf)), 4);
        assert_int_equal(read(peer, buf, sizeof(buf)), 0);
        /* The other direction still works. */
        assert_int_equal(write(peer, "reply", 5), 5);
        c->host_readable = true;
        vg_rx_fill(1, 4096);
        vg_process();
        assert_int_equal(vg_expect(VSOCK_OP_RW, 1000, 5000).len, 5);
        /* Data after SHUTDOWN SEND is a guest error. */
        vg_send_data(1000, 5000, "more", 4, 0);
        vg_rx_fill(1, 4096);
        vg_process();
        vg_expect(VSOCK_OP_RST, 1000, 5000);
        assert_int_equal(vsock_engine_take_new_errors(&vg->e), VSOCK_ERROR_STATE);
}

static void test_guest_rst_closes_the_host_side(void **state) {
        char buf[4];
        int peer = vg_open(1000, 5000);

        vg_send_op(VSOCK_OP_RST, 1000, 5000, 0);
        vg_process();
        assert_int_equal(vg->n_closed, 1);
        assert_int_equal(read(peer, buf, sizeof(buf)), 0);
        vg_rx_fill(1, 4096);
        vg_process();
        vg_expect_nothing();
}

static void test_host_failure_resets_the_guest(void **state) {
        int peer = vg_open(1000, 5000);

        vg_close_peer(peer);
        vg_send_data(1000, 5000, "lost", 4, 0);
        vg_rx_fill(1, 4096);
        vg_process();
        vg_expect(VSOCK_OP_RST, 1000, 5000);
        assert_int_equal(vg->e.n_conns, 0);
        assert_int_equal(vsock_engine_take_new_errors(&vg->e), 0); /* not the guest's fault */
}

static void test_unknown_connection_gets_rst(void **state) {
        VsockHdr h;

        vg_send_data(1234, 80, "?", 1, 0);
        vg_send_op(VSOCK_OP_RST, 1235, 80, 0);
        vg_send_op(VSOCK_OP_CREDIT_UPDATE, 1236, 80, 0);
        vg_rx_fill(3, 4096);
        vg_process();
        h = vg_expect(VSOCK_OP_RST, 1234, 80);
        assert_int_equal(h.len, 0);
        vg_expect(VSOCK_OP_RST, 1236, 80);
        vg_expect_nothing();
        assert_int_equal(vg->e.n_conns, 0);
}

static void test_wrong_lengths_reset(void **state) {
        VsockHdr h = vg_hdr(VSOCK_OP_RW, 1000, 5000);
        DriverBuf short_buf;

        vg_open(1000, 5000);
        h.len = 10;
        vg_send(&h, "12345", 5); /* says 10, carries 5 */
        vg_rx_fill(4, 4096);
        vg_process();
        vg_expect(VSOCK_OP_RST, 1000, 5000);
        assert_int_equal(vg->n_closed, 1);
        assert_int_equal(vsock_engine_take_new_errors(&vg->e), VSOCK_ERROR_LENGTH);

        h = vg_hdr(VSOCK_OP_REQUEST, 1001, 5000);
        h.len = 4;
        vg_send(&h, "abcd", 4); /* a control packet with a payload */
        vg_process();
        vg_expect(VSOCK_OP_RST, 1001, 5000);
        assert_int_equal(vg->n_connects, 1);

        /* Shorter than a header: nobody to answer, dropped. */
        short_buf = (DriverBuf) { .gpa = driver_alloc(&vg->tx, 20), .len = 20 };
        driver_add(&vg->tx, &short_buf, 1);
        vg_process();
        vg_expect_nothing();
        assert_int_equal(vg->e.stats.tx_packets, 4);
}

static void test_unknown_op_and_type_reset(void **state) {
        VsockHdr h;

        vg_open(1000, 5000);
        vg_send_op(99, 1000, 5000, 0);
        vg_rx_fill(2, 4096);
        vg_process();
        vg_expect(VSOCK_OP_RST, 1000, 5000);
        assert_int_equal(vg->n_closed, 1);

        h = vg_hdr(VSOCK_OP_REQUEST, 1001, 5000);
        h.type = 2; /* SEQPACKET: not offered */
        vg_send(&h, NULL, 0);
        vg_process();
        vg_expect(VSOCK_OP_RST, 1001, 5000);
        assert_int_equal(vg->n_connects, 1);
        assert_int_equal(vsock_engine_take_new_errors(&vg->e), VSOCK_ERROR_OP);
        assert_int_equal(vsock_engine_take_new_errors(&vg->e), 0); /* once per kind */
}

static void test_other_cids(void **state) {
        VsockHdr h = vg_hdr(VSOCK_OP_REQUEST, 1000, 5000), got;

        h.dst_cid = 4; /* another VM: not ours to reach */
        vg_send(&h, NULL, 0);
        h = vg_hdr(VSOCK_OP_REQUEST, 1001, 5000);
        h.src_cid = 9; /* not the guest's CID: dropped */
        vg_send(&h, NULL, 0);
        vg_rx_fill(2, 4096);
        vg_process();
        assert_true(vg_rx_take(&got, vg_payload, sizeof(vg_payload)));
        assert_int_equal(got.op, VSOCK_OP_RST);
        assert_int_equal(got.src_cid, 4);
        assert_int_equal(got.dst_port, 1000);
        vg_expect_nothing();
        assert_int_equal(vg->n_connects, 0);
        assert_int_equal(vsock_engine_take_new_errors(&vg->e), VSOCK_ERROR_CID);
}

static void test_rst_flood_is_bounded(void **state) {
        for (uint32_t i = 0; i < 40; i++)
                vg_send_data(2000 + i, 80, "x", 1, 0);
        vg_process();
        assert_int_equal(vg->e.rst_n, VSOCK_RST_QUEUE);
        assert_int_equal(vg->e.stats.rst_dropped, 40 - VSOCK_RST_QUEUE);
        vg_rx_fill(40, 64);
        vg_process();
        for (uint32_t i = 0; i < VSOCK_RST_QUEUE; i++)
                vg_expect(VSOCK_OP_RST, 2000 + i, 80);
        vg_expect_nothing();
        assert_int_equal(vsock_engine_take_new_errors(&vg->e), VSOCK_ERROR_LIMIT);
}

static void test_small_rx_buffers_are_refused(void **state) {
        DriverBuf tiny = { .gpa = driver_alloc(&vg->rx, 16), .len = 16, .writable = true };
        uint32_t id, len;

        driver_add(&vg->rx, &tiny, 1);
        vg_send_data(1234, 80, "?", 1, 0);
        vg_process();
        assert_true(driver_take_used(&vg->rx, &id, &len));
        assert_int_equal(len, 0);
        assert_int_equal(vg->e.rst_n, 1); /* waits for a real buffer */
        assert_int_equal(vsock_engine_take_new_errors(&vg->e), VSOCK_ERROR_RX_BUFFER);
}

int main(void) {
        const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, vg_setup, vg_teardown)
                T(test_guest_connects_and_data_flows_both_ways),
                T(test_host_connects_to_guest),
                T(test_refused_guest_connect_gets_rst),
                T(test_never_more_than_the_guest_credit),
                T(test_our_credit_exhausted_then_resumed),
                T(test_credit_overflow_resets),
                T(test_host_eof_becomes_shutdown_send),
                T(test_guest_shutdown_send_after_the_data),
                T(test_guest_rst_closes_the_host_side),
                T(test_host_failure_resets_the_guest),
                T(test_unknown_connection_gets_rst),
                T(test_wrong_lengths_reset),
                T(test_unknown_op_and_type_reset),
                T(test_other_cids),
                T(test_rst_flood_is_bounded),
                T(test_small_rx_buffers_are_refused),
#undef T
        };

        log_set_max_level(LOG_EMERG);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
