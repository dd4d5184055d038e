/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "pl011.h"

typedef struct Output {
        uint8_t bytes[64];
        size_t n;
} Output;

static void collect(uint8_t byte, void *userdata) {
        Output *o = userdata;

        assert_true(o->n < sizeof(o->bytes));
        o->bytes[o->n++] = byte;
}

static uint32_t rd(Pl011 *s, uint64_t off) {
        uint64_t v = 0xdead;

        assert_int_equal(pl011_mmio_read(s, off, 4, &v), 0);
        return (uint32_t) v;
}

static void wr(Pl011 *s, uint64_t off, uint32_t v) {
        assert_int_equal(pl011_mmio_write(s, off, 4, v, NULL, NULL), 0);
}

static Pl011 *new_uart(void) {
        static Pl011 s;

        memset(&s, 0xa5, sizeof(s));
        pl011_reset(&s);
        return &s;
}

static void test_pl011_ids_are_primecell_pl011(void **state) {
        static const uint32_t ids[8] = { 0x11, 0x10, 0x14, 0x00, 0x0d, 0xf0, 0x05, 0xb1 };
        Pl011 *s = new_uart();
        for (unsigned i = 0; i < 8; i++)
                assert_int_equal(rd(s, 0xfe0 + 4 * i), ids[i]);
}

static void test_pl011_reset_state(void **state) {
        Pl011 *s = new_uart();
        assert_int_equal(rd(s, PL011_CR), 0x300);
        assert_int_equal(rd(s, PL011_IFLS), 0x12);
        assert_int_equal(rd(s, PL011_FR), PL011_FR_TXFE | PL011_FR_RXFE);
        assert_int_equal(rd(s, PL011_RIS), PL011_INT_TX);
        assert_int_equal(rd(s, PL011_IMSC), 0);
        assert_int_equal(rd(s, PL011_MIS), 0);
        assert_int_equal(rd(s, PL011_LCR_H), 0);
        assert_false(pl011_irq_pending(s));
}

static void test_pl011_dr_write_outputs_low_byte_in_order(void **state) {
        Pl011 *s = new_uart();
        Output o = { 0 };
        assert_int_equal(pl011_mmio_write(s, PL011_DR, 4, 0x141, collect, &o), 0);
        assert_int_equal(pl011_mmio_write(s, PL011_DR, 1, 'b', collect, &o), 0);
        assert_int_equal(pl011_mmio_write(s, PL011_DR, 2, '\n', collect, &o), 0);
        assert_int_equal(o.n, 3);
        assert_memory_equal(o.bytes, "Ab\n", 3);
        /* TX never fills: FR says empty and not full, not busy. */
        assert_int_equal(rd(s, PL011_FR) & (PL011_FR_TXFF | PL011_FR_BUSY | PL011_FR_TXFE), PL011_FR_TXFE);
}

static void test_pl011_dr_write_raises_txris(void **state) {
        Pl011 *s = new_uart();
        Output o = { 0 };
        wr(s, PL011_ICR, PL011_INT_ALL);
        assert_int_equal(rd(s, PL011_RIS), 0);
        assert_int_equal(pl011_mmio_write(s, PL011_DR, 4, 'x', collect, &o), 0);
        assert_int_equal(rd(s, PL011_RIS), PL011_INT_TX);
}

static void test_pl011_stored_registers_keep_their_bits(void **state) {
        static const struct { uint32_t off, mask; } regs[] = {
                { PL011_ILPR, 0xff }, { PL011_IBRD, 0xffff }, { PL011_FBRD, 0x3f },
                { PL011_LCR_H, 0xff }, { PL011_CR, 0xffff }, { PL011_IFLS, 0x3f },
                { PL011_IMSC, 0x7ff }, { PL011_DMACR, 0x7 },
        };
        Pl011 *s = new_uart();
        for (size_t i = 0; i < sizeof(regs) / sizeof(regs[0]); i++) {
                wr(s, regs[i].off, 0xffffffff);
                assert_int_equal(rd(s, regs[i].off), regs[i].mask);
                wr(s, regs[i].off, 0x5a5a5a5a & regs[i].mask);
                assert_int_equal(rd(s, regs[i].off), 0x5a5a5a5a & regs[i].mask);
        }
}

static void test_pl011_rx_fifo_holds_32_in_order(void **state) {
        Pl011 *s = new_uart();
        uint8_t in[40];
        for (unsigned i = 0; i < sizeof(in); i++)
                in[i] = (uint8_t) (0x30 + i);
        wr(s, PL011_LCR_H, PL011_LCR_H_FEN);
        assert_int_equal(pl011_rx_room(s), 32);
        assert_int_equal(pl011_rx_push(s, in, sizeof(in)), 32);
        assert_int_equal(pl011_rx_room(s), 0);
        assert_int_equal(pl011_rx_push(s, in, 1), 0);
        assert_int_equal(rd(s, PL011_FR) & (PL011_FR_RXFF | PL011_FR_RXFE), PL011_FR_RXFF);
        for (unsigned i = 0; i < 32; i++) {
                assert_int_equal(rd(s, PL011_DR), in[i]);
                /* Wrap-around: refill one slot each time. */
                if (i < 8)
                        assert_int_equal(pl011_rx_push(s, &in[32 + i], 1), 1);
        }
        for (unsigned i = 32; i < 40; i++)
                assert_int_equal(rd(s, PL011_DR), in[i]);
        assert_int_equal(rd(s, PL011_FR) & (PL011_FR_RXFF | PL011_FR_RXFE), PL011_FR_RXFE);
        assert_int_equal(rd(s, PL011_DR), 0);   /* empty FIFO reads as 0 */
}

static void test_pl011_rx_without_fifo_holds_one_byte(void **state) {
        Pl011 *s = new_uart();
        assert_int_equal(pl011_rx_room(s), 1);
        assert_int_equal(pl011_rx_push(s, (const uint8_t *) "ab", 2), 1);
        assert_int_equal(rd(s, PL011_FR) & (PL011_FR_RXFF | PL011_FR_RXFE), PL011_FR_RXFF);
        assert_int_equal(rd(s, PL011_DR), 'a');
        assert_int_equal(pl011_rx_push(s, (const uint8_t *) "b", 1), 1);
        assert_int_equal(rd(s, PL011_DR), 'b');
}

static void test_pl011_fifo_enable_change_flushes(void **state) {
        Pl011 *s = new_uart();
        wr(s, PL011_LCR_H, PL011_LCR_H_FEN);
        assert_int_equal(pl011_rx_push(s, (const uint8_t *) "abc", 3), 3);
        wr(s, PL011_LCR_H, PL011_LCR_H_FEN | 0x60);   /* word length only: kept */
        assert_int_equal(rd(s, PL011_DR), 'a');
        wr(s, PL011_LCR_H, 0x60);
        assert_true(rd(s, PL011_FR) & PL011_FR_RXFE);
        assert_int_equal(rd(s, PL011_RIS) & (PL011_INT_RX | PL011_INT_RT), 0);
}

static void test_pl011_rx_interrupts_follow_trigger_level(void **state) {
        Pl011 *s = new_uart();
        uint8_t buf[16] = { 0 };
        wr(s, PL011_LCR_H, PL011_LCR_H_FEN);   /* IFLS reset: RX at 1/2 = 16 */
        wr(s, PL011_ICR, PL011_INT_ALL);
        assert_int_equal(pl011_rx_push(s, buf, 15), 15);
        assert_int_equal(rd(s, PL011_RIS), PL011_INT_RT);
        assert_int_equal(pl011_rx_push(s, buf, 1), 1);
        assert_int_equal(rd(s, PL011_RIS), PL011_INT_RT | PL011_INT_RX);
        (void) rd(s, PL011_DR);
        assert_int_equal(rd(s, PL011_RIS), PL011_INT_RT);
        wr(s, PL011_IFLS, 0);                   /* 1/8 = 4 */
        assert_int_equal(rd(s, PL011_RIS), PL011_INT_RT | PL011_INT_RX);
        for (unsigned i = 0; i < 15; i++)
                (void) rd(s, PL011_DR);
        assert_int_equal(rd(s, PL011_RIS), 0);
}

static void test_pl011_rx_interrupt_without_fifo_on_first_byte(void **state) {
        Pl011 *s = new_uart();
        wr(s, PL011_ICR, PL011_INT_ALL);
        assert_int_equal(pl011_rx_push(s, (const uint8_t *) "z", 1), 1);
        assert_int_equal(rd(s, PL011_RIS), PL011_INT_RT | PL011_INT_RX);
}

static void test_pl011_mask_gates_the_line(void **state) {
        Pl011 *s = new_uart();
        assert_false(pl011_irq_pending(s));          /* TXRIS set, masked */
        wr(s, PL011_IMSC, PL011_INT_RX | PL011_INT_RT);
        assert_false(pl011_irq_pending(s));
        assert_int_equal(pl011_rx_push(s, (const uint8_t *) "q", 1), 1);
        assert_true(pl011_irq_pending(s));
        assert_int_equal(rd(s, PL011_MIS), PL011_INT_RX | PL011_INT_RT);
        wr(s, PL011_IMSC, PL011_INT_TX);
        assert_int_equal(rd(s, PL011_MIS), PL011_INT_TX);
        assert_true(pl011_irq_pending(s));
        wr(s, PL011_IMSC, 0);
        assert_int_equal(rd(s, PL011_MIS), 0);
        assert_false(pl011_irq_pending(s));
        /* Masking does not lose the raw state. */
        assert_int_equal(rd(s, PL011_RIS), PL011_INT_TX | PL011_INT_RX | PL011_INT_RT);
}

static void test_pl011_icr_clears_only_written_ones(void **state) {
        Pl011 *s = new_uart();
        assert_int_equal(pl011_rx_push(s, (const uint8_t *) "q", 1), 1);
        wr(s, PL011_IMSC, PL011_INT_ALL);
        wr(s, PL011_ICR, PL011_INT_TX);
        assert_int_equal(rd(s, PL011_RIS), PL011_INT_RX | PL011_INT_RT);
        wr(s, PL011_ICR, PL011_INT_RT);
        assert_int_equal(rd(s, PL011_MIS), PL011_INT_RX);
        wr(s, PL011_ICR, 0);
        assert_int_equal(rd(s, PL011_MIS), PL011_INT_RX);
        wr(s, PL011_ICR, PL011_INT_RX);
        assert_false(pl011_irq_pending(s));
}

static void test_pl011_loopback_feeds_rx(void **state) {
        Pl011 *s = new_uart();
        Output o = { 0 };
        wr(s, PL011_CR, 0x301 | PL011_CR_LBE);
        assert_int_equal(pl011_mmio_write(s, PL011_DR, 4, 'L', collect, &o), 0);
        assert_int_equal(o.n, 0);
        assert_int_equal(rd(s, PL011_DR), 'L');
}

static void test_pl011_rsr_ecr(void **state) {
        Pl011 *s = new_uart();
        s->rsr = 0xf;   /* no input path produces errors; set one directly */
        assert_int_equal(rd(s, PL011_RSR), 0xf);
        wr(s, PL011_RSR, 0);
        assert_int_equal(rd(s, PL011_RSR), 0);
}

static void test_pl011_subword_accesses(void **state) {
        Pl011 *s = new_uart();
        uint64_t v;
        wr(s, PL011_IBRD, 0x1234);
        assert_int_equal(pl011_mmio_read(s, PL011_IBRD, 2, &v), 0);
        assert_int_equal(v, 0x1234);
        assert_int_equal(pl011_mmio_read(s, PL011_IBRD, 1, &v), 0);
        assert_int_equal(v, 0x34);
        assert_int_equal(pl011_mmio_write(s, PL011_IBRD, 1, 0x1ff, NULL, NULL), 0);
        assert_int_equal(rd(s, PL011_IBRD), 0xff);
}

static void test_pl011_bad_sizes_and_alignment_are_unhandled(void **state) {
        static const struct { uint64_t off; unsigned len; } bad[] = {
                { PL011_CR, 0 }, { PL011_CR, 3 }, { PL011_CR, 8 },
                { PL011_CR + 1, 1 }, { PL011_CR + 2, 2 }, { PL011_DR + 1, 4 },
                { PL011_MMIO_SIZE, 4 }, { UINT64_MAX - 3, 4 },
        };
        Pl011 *s = new_uart();
        Output o = { 0 };
        wr(s, PL011_CR, 0x301);
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                uint64_t v = 0xdead;
                assert_int_equal(pl011_mmio_read(s, bad[i].off, bad[i].len, &v), -EINVAL);
                assert_int_equal(v, 0);
                assert_int_equal(pl011_mmio_write(s, bad[i].off, bad[i].len, 0, collect, &o), -EINVAL);
        }
        assert_int_equal(pl011_mmio_write(s, PL011_DR, 8, 'x', collect, &o), -EINVAL);
        assert_int_equal(o.n, 0);
        assert_int_equal(rd(s, PL011_CR), 0x301);
}

static void test_pl011_unmapped_offsets_read_zero(void **state) {
        static const uint64_t holes[] = { 0x008, 0x014, 0x01c, 0x04c, 0x800, 0xfdc };
        Pl011 *s = new_uart();
        for (size_t i = 0; i < sizeof(holes) / sizeof(holes[0]); i++) {
                uint64_t v = 0xdead;
                assert_int_equal(pl011_mmio_read(s, holes[i], 4, &v), -ENXIO);
                assert_int_equal(v, 0);
                assert_int_equal(pl011_mmio_write(s, holes[i], 4, 0xffffffff, NULL, NULL), -ENXIO);
        }
        assert_int_equal(rd(s, PL011_CR), 0x300);
        assert_int_equal(rd(s, PL011_IMSC), 0);
}

static void test_pl011_read_only_and_write_only_registers(void **state) {
        static const uint64_t read_only[] = { PL011_FR, PL011_RIS, PL011_MIS, 0xfe0, 0xffc };
        Pl011 *s = new_uart();
        uint64_t v = 0xdead;
        for (size_t i = 0; i < sizeof(read_only) / sizeof(read_only[0]); i++)
                assert_int_equal(pl011_mmio_write(s, read_only[i], 4, 0, NULL, NULL), -EACCES);
        assert_int_equal(rd(s, PL011_RIS), PL011_INT_TX);
        assert_int_equal(rd(s, 0xfe0), 0x11);
        assert_int_equal(pl011_mmio_read(s, PL011_ICR, 4, &v), -EACCES);
        assert_int_equal(v, 0);
}

/* Two processes share one UART: a producer pushes a counting sequence while
 * the consumer reads it through DR. A lock that did not work across
 * processes would lose, repeat or reorder bytes. */
static void test_pl011_shared_between_processes(void **state) {
        enum { N = 20000 };
        Pl011 *s = mmap(NULL, sizeof(Pl011), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        /* Only a guard against hanging forever: progress under any load counts. */
        time_t deadline = time(NULL) + 120;
        unsigned i = 0, got = 0;
        bool mismatch = false;
        pid_t pid;
        int status;
        assert_true(s != MAP_FAILED);
        pl011_reset(s);
        wr(s, PL011_LCR_H, PL011_LCR_H_FEN);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                /* Never outlive a failed test. */
                (void) prctl(PR_SET_PDEATHSIG, SIGKILL);
                for (unsigned k = 0; k < N;) {
                        uint8_t b = (uint8_t) k;
                        k += pl011_rx_push(s, &b, 1);
                }
                _exit(0);
        }
        while (i < N && !mismatch && time(NULL) < deadline) {
                if (rd(s, PL011_FR) & PL011_FR_RXFE)
                        continue;
                got = rd(s, PL011_DR);
                mismatch = got != (uint8_t) i;
                if (!mismatch)
                        i++;
        }
        (void) kill(pid, SIGKILL);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        munmap(s, sizeof(Pl011));
        if (mismatch)
                fail_msg("byte %u: got 0x%x, expected 0x%x", i, got, (uint8_t) i);
        if (i < N)
                fail_msg("only %u of %u bytes arrived within 120s", i, (unsigned) N);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_pl011_ids_are_primecell_pl011),
                cmocka_unit_test(test_pl011_reset_state),
                cmocka_unit_test(test_pl011_dr_write_outputs_low_byte_in_order),
                cmocka_unit_test(test_pl011_dr_write_raises_txris),
                cmocka_unit_test(test_pl011_stored_registers_keep_their_bits),
                cmocka_unit_test(test_pl011_rx_fifo_holds_32_in_order),
                cmocka_unit_test(test_pl011_rx_without_fifo_holds_one_byte),
                cmocka_unit_test(test_pl011_fifo_enable_change_flushes),
                cmocka_unit_test(test_pl011_rx_interrupts_follow_trigger_level),
                cmocka_unit_test(test_pl011_rx_interrupt_without_fifo_on_first_byte),
                cmocka_unit_test(test_pl011_mask_gates_the_line),
                cmocka_unit_test(test_pl011_icr_clears_only_written_ones),
                cmocka_unit_test(test_pl011_loopback_feeds_rx),
                cmocka_unit_test(test_pl011_rsr_ecr),
                cmocka_unit_test(test_pl011_subword_accesses),
                cmocka_unit_test(test_pl011_bad_sizes_and_alignment_are_unhandled),
                cmocka_unit_test(test_pl011_unmapped_offsets_read_zero),
                cmocka_unit_test(test_pl011_read_only_and_write_only_registers),
                cmocka_unit_test(test_pl011_shared_between_processes),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
