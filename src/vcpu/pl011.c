/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* PL011 UART model (ARM DDI 0183). See pl011.h for the sharing model. */

#include <errno.h>
#include <sched.h>

#include "macro.h"
#include "pl011.h"

_Static_assert(sizeof(Pl011) <= 4096, "Pl011 must fit in the shared device page");

/* Reset values from the TRM: TXE|RXE enabled, FIFO levels at 1/2. */
#define CR_RESET   0x0300u
#define IFLS_RESET 0x0012u

static const uint8_t pl011_ids[8] = {
        0x11, 0x10, 0x14, 0x00,   /* PeriphID0-3: part 0x011, designer ARM, r1p4 */
        0x0d, 0xf0, 0x05, 0xb1,   /* PCellID0-3: the PrimeCell signature */
};

/* The lock word may sit in memory shared between processes, so it is a
 * plain atomic word rather than a pthread mutex. Critical sections are a
 * few loads and stores; a contended waiter yields rather than burning its
 * time slice. */
static void pl011_lock(Pl011 *s) {
        while (__atomic_exchange_n(&s->lock, 1, __ATOMIC_ACQUIRE) != 0)
                while (__atomic_load_n(&s->lock, __ATOMIC_RELAXED) != 0)
                        sched_yield();
}

static void pl011_unlock(Pl011 *s) {
        __atomic_store_n(&s->lock, 0, __ATOMIC_RELEASE);
}

static unsigned fifo_capacity(const Pl011 *s) {
        return (s->lcr_h & PL011_LCR_H_FEN) ? PL011_FIFO_DEPTH : 1;
}

/* RX interrupt level from IFLS.RXIFLSEL: 1/8, 1/4, 1/2, 3/4, 7/8 full. */
static unsigned rx_trigger(const Pl011 *s) {
        static const unsigned eighths[8] = { 1, 2, 4, 6, 7, 4, 4, 4 };

        if (!(s->lcr_h & PL011_LCR_H_FEN))
                return 1;
        return PL011_FIFO_DEPTH * eighths[(s->ifls >> 3) & 7] / 8;
}

/* RXRIS follows the fill level; RTRIS stands for "data left waiting": with
 * no line timing, the receive timeout is taken to expire at once, so a
 * guest using interrupts never leaves bytes below the trigger unread. */
static void update_rx_interrupts(Pl011 *s) {
        if (s->rx_count >= rx_trigger(s))
                s->ris |= PL011_INT_RX;
        else
                s->ris &= ~PL011_INT_RX;
        if (s->rx_count == 0)
                s->ris &= ~PL011_INT_RT;
}

static size_t rx_push_locked(Pl011 *s, const uint8_t *buf, size_t n) {
        size_t i;

        for (i = 0; i < n && s->rx_count < fifo_capacity(s); i++) {
                s->rx_fifo[(s->rx_head + s->rx_count) % PL011_FIFO_DEPTH] = buf[i];
                s->rx_count++;
        }
        if (i > 0)
                s->ris |= PL011_INT_RT;
        update_rx_interrupts(s);
        return i;
}

static void flush_fifo(Pl011 *s) {
        s->rx_head = s->rx_count = 0;
        update_rx_interrupts(s);
}

void pl011_reset(Pl011 *s) {
        *s = (Pl011) {
                .cr = CR_RESET,
                .ifls = IFLS_RESET,
                /* The TX FIFO is empty, hence at or below any trigger level. */
                .ris = PL011_INT_TX,
        };
}

static uint32_t read_dr(Pl011 *s) {
        uint32_t v;

        if (s->rx_count == 0)
                return 0;
        v = s->rx_fifo[s->rx_head];
        s->rx_head = (s->rx_head + 1) % PL011_FIFO_DEPTH;
        s->rx_count--;
        s->rsr = (v >> 8) & 0xf;
        update_rx_interrupts(s);
        return v;
}

static uint32_t read_fr(const Pl011 *s) {
        uint32_t fr = PL011_FR_TXFE;   /* TX drains instantly: never full, never busy */

        if (s->rx_count == 0)
                fr |= PL011_FR_RXFE;
        if (s->rx_count >= fifo_capacity(s))
                fr |= PL011_FR_RXFF;
        return fr;
}

/* Returns 0 with *ret set, or -ENXIO/-EACCES. Called with the lock held. */
static int read_register(Pl011 *s, uint64_t offset, uint32_t *ret) {
        if (offset >= PL011_PERIPH_ID0 && offset < PL011_MMIO_SIZE) {
                *ret = pl011_ids[(offset - PL011_PERIPH_ID0) / 4];
                return 0;
        }
        switch (offset) {
        case PL011_DR:    *ret = read_dr(s); return 0;
        case PL011_RSR:   *ret = s->rsr; return 0;
        case PL011_FR:    *ret = read_fr(s); return 0;
        case PL011_ILPR:  *ret = s->ilpr; return 0;
        case PL011_IBRD:  *ret = s->ibrd; return 0;
        case PL011_FBRD:  *ret = s->fbrd; return 0;
        case PL011_LCR_H: *ret = s->lcr_h; return 0;
        case PL011_CR:    *ret = s->cr; return 0;
        case PL011_IFLS:  *ret = s->ifls; return 0;
        case PL011_IMSC:  *ret = s->imsc; return 0;
        case PL011_RIS:   *ret = s->ris; return 0;
        case PL011_MIS:   *ret = s->ris & s->imsc; return 0;
        case PL011_DMACR: *ret = s->dmacr; return 0;
        case PL011_ICR:   return -EACCES;
        default:          return -ENXIO;
        }
}

/* Registers are 32 bits wide at word offsets; 8- and 16-bit accesses to a
 * register's low bytes are decoded too (Linux uses 16-bit accessors for
 * ARM's PL011, earlycon may use 8-bit stores). */
static bool access_ok(uint64_t offset, unsigned len) {
        return (len == 1 || len == 2 || len == 4) && offset % 4 == 0 && offset < PL011_MMIO_SIZE;
}

int pl011_mmio_read(Pl011 *s, uint64_t offset, unsigned len, uint64_t *ret) {
        uint32_t v = 0;
        int r;

        if (!access_ok(offset, len)) {
                *ret = 0;
                return -EINVAL;
        }
        pl011_lock(s);
        r = read_register(s, offset, &v);
        pl011_unlock(s);
        *ret = r < 0 ? 0 : (len == 4 ? v : v & ((1u << (8 * len)) - 1));
        return r;
}

/* Returns 0 or -ENXIO/-EACCES; *tx is set when a byte must be output. */
static int write_register(Pl011 *s, uint64_t offset, uint32_t v, int *tx) {
        switch (offset) {
        case PL011_DR:
                s->ris |= PL011_INT_TX;
                if (s->cr & PL011_CR_LBE)
                        (void) rx_push_locked(s, &(uint8_t) { v & 0xff }, 1);
                else
                        *tx = v & 0xff;
                return 0;
        case PL011_RSR:   s->rsr = 0; return 0;     /* ECR: any write clears */
        case PL011_ILPR:  s->ilpr = v & 0xff; return 0;
        case PL011_IBRD:  s->ibrd = v & 0xffff; return 0;
        case PL011_FBRD:  s->fbrd = v & 0x3f; return 0;
        case PL011_LCR_H:
                /* Switching the FIFOs on or off empties them, as QEMU does. */
                if ((s->lcr_h ^ v) & PL011_LCR_H_FEN) {
                        s->lcr_h = v & 0xff;
                        flush_fifo(s);
                }
                s->lcr_h = v & 0xff;
                return 0;
        case PL011_CR:    s->cr = v & 0xffff; return 0;
        case PL011_IFLS:
                s->ifls = v & 0x3f;
                update_rx_interrupts(s);
                return 0;
        case PL011_IMSC:  s->imsc = v & PL011_INT_ALL; return 0;
        case PL011_ICR:   s->ris &= ~(v & PL011_INT_ALL); return 0;
        case PL011_DMACR: s->dmacr = v & 0x7; return 0;
        case PL011_FR:
        case PL011_RIS:
        case PL011_MIS:
                return -EACCES;
        default:
                return offset >= PL011_PERIPH_ID0 ? -EACCES : -ENXIO;
        }
}

int pl011_mmio_write(Pl011 *s, uint64_t offset, unsigned len, uint64_t value,
                     Pl011OutputFn output, void *userdata) {
        int tx = -1, r;

        if (!access_ok(offset, len))
                return -EINVAL;
        if (len < 4)
                value &= (1u << (8 * len)) - 1;
        pl011_lock(s);
        r = write_register(s, offset, (uint32_t) value, &tx);
        pl011_unlock(s);
        /* Outside the lock: the output may block on a slow console. */
        if (tx >= 0 && output)
                output((uint8_t) tx, userdata);
        return r;
}

size_t pl011_rx_push(Pl011 *s, const uint8_t *buf, size_t n) {
        size_t done;

        pl011_lock(s);
        done = rx_push_locked(s, buf, n);
        pl011_unlock(s);
        return done;
}

size_t pl011_rx_room(Pl011 *s) {
        size_t room;

        pl011_lock(s);
        room = fifo_capacity(s) - MIN(s->rx_count, fifo_capacity(s));
        pl011_unlock(s);
        return room;
}

bool pl011_irq_pending(Pl011 *s) {
        bool pending;

        pl011_lock(s);
        pending = (s->ris & s->imsc) != 0;
        pl011_unlock(s);
        return pending;
}
