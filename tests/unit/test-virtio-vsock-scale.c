/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The vsock engine under load: many connections at once, the limits, and
 * fairness (a host peer that never reads stalls only its connection). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>

#include "log.h"
#include "macro.h"
#include "vsock-guest.h"

#define MANY 100u

static int peers[VSOCK_CONNS_MAX];

static void test_many_connections_move_data_both_ways(void **state) {
        static unsigned got_from_host[MANY];
        char buf[64];

        for (unsigned i = 0; i < MANY; i++)
                peers[i] = vg_open(1000 + i, 5000);
        assert_int_equal(vg->e.n_conns, MANY);
        for (unsigned i = 0; i < MANY; i++) {
                snprintf(buf, sizeof(buf), "to host %u", i);
                vg_send_data(1000 + i, 5000, buf, (uint32_t) strlen(buf), 0);
                snprintf(buf, sizeof(buf), "to guest %u", i);
                assert_int_equal(write(peers[i], buf, strlen(buf)), (ssize_t) strlen(buf));
                vg_conn(1000 + i, 5000)->host_readable = true;
        }
        vg_rx_fill(MANY, 256);
        vg_process();
        for (unsigned i = 0; i < MANY; i++) {
                char want[64];
                ssize_t n = read(peers[i], buf, sizeof(buf));

                snprintf(want, sizeof(want), "to host %u", i);
                assert_int_equal(n, (ssize_t) strlen(want));
                assert_memory_equal(buf, want, strlen(want));
        }
        for (unsigned k = 0; k < MANY; k++) {
                VsockHdr h;
                unsigned i;
                char want[64];

                assert_true(vg_rx_take(&h, vg_payload, sizeof(vg_payload)));
                assert_int_equal(h.op, VSOCK_OP_RW);
                i = h.dst_port - 1000;
                assert_true(i < MANY);
                got_from_host[i]++;
                snprintf(want, sizeof(want), "to guest %u", i);
                assert_int_equal(h.len, strlen(want));
                assert_memory_equal(vg_payload, want, strlen(want));
        }
        for (unsigned i = 0; i < MANY; i++)
                assert_int_equal(got_from_host[i], 1);
}

static void test_connection_limit(void **state) {
        struct rlimit rl;

        assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
        if (rl.rlim_cur < 2 * VSOCK_CONNS_MAX + 64) {
                rl.rlim_cur = MIN(rl.rlim_max, (rlim_t) FD_MAX);
                assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
        }
        for (unsigned i = 0; i < VSOCK_CONNS_MAX; i++)
                (void) vg_open(1000 + i, 5000);
        assert_int_equal(vg->e.n_conns, VSOCK_CONNS_MAX);
        vg_send_op(VSOCK_OP_REQUEST, 9999, 5000, 0);
        vg_rx_fill(1, 64);
        vg_process();
        vg_expect(VSOCK_OP_RST, 9999, 5000);
        assert_int_equal(vg->n_connects, VSOCK_CONNS_MAX);
        assert_int_equal(vsock_engine_connect_guest(&vg->e, 1, &(VsockConn *) { NULL }), -EBUSY);
        assert_int_equal(vsock_engine_take_new_errors(&vg->e), VSOCK_ERROR_LIMIT);
}

/* A burst of REQUESTs beyond what the host works on at once waits, in
 * order, and is reset by nothing. */
static void test_outstanding_connects_limit(void **state) {
        for (unsigned i = 0; i < VSOCK_CONNECTING_MAX + 2; i++)
                vg_send_op(VSOCK_OP_REQUEST, 1000 + i, 5000, 0);
        vg_rx_fill(4, 64);
        vg_process();
        assert_int_equal(vg->n_connects, VSOCK_CONNECTING_MAX);
        vg_expect_nothing();
        assert_int_equal(vsock_engine_take_new_errors(&vg->e), 0);
        /* One answered: the oldest waiting one goes to the host. */
        (void) vg_accept(vg->connects[0]);
        vg_process();
        vg_expect(VSOCK_OP_RESPONSE, 1000, 5000);
        assert_int_equal(vg->n_connects, VSOCK_CONNECTING_MAX + 1);
        assert_int_equal(vg->connects[VSOCK_CONNECTING_MAX]->guest_port, 1000 + VSOCK_CONNECTING_MAX);
        /* One refused: its RST, and the last one goes. */
        vsock_engine_host_connected(&vg->e, vg->connects[1], -ECONNREFUSED);
        vg_process();
        vg_expect(VSOCK_OP_RST, 1001, 5000);
        assert_int_equal(vg->n_connects, VSOCK_CONNECTING_MAX + 2);
        assert_int_equal(vg->connects[VSOCK_CONNECTING_MAX + 1]->guest_port, 1000 + VSOCK_CONNECTING_MAX + 1);
}

/* Host peer A never reads and has more for the guest than the guest takes
 * on A; B keeps moving both ways, and the rx queue goes to B. */
static void test_stalled_connection_blocks_no_other(void **state) {
        static uint8_t chunk[4096], big[VSOCK_BUF_ALLOC];
        int a = vg_open_credit(1000, 5000, 4096), b = vg_open(1001, 5000);
        VsockConn *ca = vg_conn(1000, 5000), *cb = vg_conn(1001, 5000);
        char buf[16];

        vg->stalled[ca->fd] = true;
        for (unsigned i = 0; i < VSOCK_BUF_ALLOC / sizeof(chunk); i++) {
                VsockHdr h = vg_hdr(VSOCK_OP_RW, 1000, 5000);

                h.len = sizeof(chunk);
                h.buf_alloc = 4096; /* the guest's receive buffer on A stays small */
                vg_send(&h, chunk, sizeof(chunk));
        }
        assert_int_equal(write(a, big, sizeof(big)), (ssize_t) sizeof(big));
        ca->host_readable = true;
        vg_rx_fill(8, 4096);
        vg_process();
        assert_int_equal(vg_expect(VSOCK_OP_RW, 1000, 5000).len, 4096); /* A's whole credit */
        assert_int_equal(ca->buf_used, VSOCK_BUF_ALLOC);

        for (unsigned round = 0; round < 4; round++) {
                vg_send_data(1001, 5000, "ping", 4, 0);
                vg_process();
                assert_int_equal(read(b, buf, sizeof(buf)), 4);
                assert_int_equal(write(b, "pong", 4), 4);
                cb->host_readable = true;
                vg_process();
                assert_int_equal(vg_expect(VSOCK_OP_RW, 1001, 5000).len, 4);
                assert_memory_equal(vg_payload, "pong", 4);
                vg_expect_nothing();
        }
        assert_int_equal(vg->e.stats.resets, 0);
}

/* A Linux guest's socket (6.1.192 and later) charges each queued packet
 * SKB_TRUESIZE(0) besides its payload and drops, credit or not, a packet
 * that does not fit buf_alloc; its rx buffers hold 3732 payload bytes.
 * Packets of one connection go to a guest that does not read: returns
 * the payload it queued, none dropped. */
#define LINUX_SKB_TRUESIZE 576u
#define LINUX_RX_PAYLOAD 3732u

static uint32_t linux_guest_queues(VsockConn *c, int peer) {
        static uint8_t chunk[16 * 1024];
        uint32_t queued = 0, packets = 0;
        bool moved = true;
        VsockHdr h;

        while (moved) {
                moved = false;
                (void) send(peer, chunk, sizeof(chunk), MSG_DONTWAIT);
                c->host_readable = true;
                if (vg->rx_outstanding == 0)
                        vg_rx_fill(8, LINUX_RX_PAYLOAD);
                vg_process();
                while (vg_rx_take(&h, vg_payload, sizeof(vg_payload))) {
                        assert_int_equal(h.op, VSOCK_OP_RW);
                        assert_true((uint64_t) (packets + 1) * LINUX_SKB_TRUESIZE + queued + h.len <= GUEST_BUF_ALLOC);
                        queued += h.len;
                        packets++;
                        moved = true;
                }
        }
        return queued;
}

static void test_a_guest_that_does_not_read_drops_nothing(void **state) {
        int peer = vg_open(1000, 5000);
        VsockConn *c = vg_conn(1000, 5000);
        uint32_t first, second;
        VsockHdr h;

        first = linux_guest_queues(c, peer);
        /* Out of room, yet not starved. */
        assert_true(first >= GUEST_BUF_ALLOC / 2);
        /* The guest reads it all and says so: as much again. */
        h = vg_hdr(VSOCK_OP_CREDIT_UPDATE, 1000, 5000);
        h.fwd_cnt = first;
        vg_send(&h, NULL, 0);
        second = linux_guest_queues(c, peer);
        assert_true(second >= GUEST_BUF_ALLOC / 2);
        assert_int_equal(c->tx_cnt, first + second);
        assert_int_equal(vg->e.stats.resets, 0);
}

static void test_ready_connections_served_in_turn(void **state) {
        static uint8_t data[3 * 1024];
        int a = vg_open(1000, 5000), b = vg_open(1001, 5000);

        assert_int_equal(write(a, data, sizeof(data)), (ssize_t) sizeof(data));
        assert_int_equal(write(b, data, sizeof(data)), (ssize_t) sizeof(data));
        vg_conn(1000, 5000)->host_readable = true;
        vg_conn(1001, 5000)->host_readable = true;
        vg_rx_fill(4, 1024);
        vg_process();
        vg_expect(VSOCK_OP_RW, 1000, 5000);
        vg_expect(VSOCK_OP_RW, 1001, 5000);
        vg_expect(VSOCK_OP_RW, 1000, 5000);
        vg_expect(VSOCK_OP_RW, 1001, 5000);
}

static void test_driver_reset_closes_everything(void **state) {
        char buf[4];
        int a = vg_open(1000, 5000);
        VsockConn *c;

        assert_int_equal(vsock_engine_connect_guest(&vg->e, 7, &c), 0);
        vsock_engine_reset(&vg->e);
        assert_int_equal(vg->n_closed, 2);
        assert_int_equal(vg->e.n_conns, 0);
        assert_false(vg->e.live);
        assert_int_equal(read(a, buf, sizeof(buf)), 0);
        assert_int_equal(vsock_engine_connect_guest(&vg->e, 7, &c), -ENOTCONN);
}

int main(void) {
        const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, vg_setup, vg_teardown)
                T(test_many_connections_move_data_both_ways),
                T(test_connection_limit),
                T(test_outstanding_connects_limit),
                T(test_stalled_connection_blocks_no_other),
                T(test_a_guest_that_does_not_read_drops_nothing),
                T(test_ready_connections_served_in_turn),
                T(test_driver_reset_closes_everything),
#undef T
        };

        log_set_max_level(LOG_EMERG);
        return cmocka_run_group_tests(tests, NULL, NULL);
}
