/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * ARM PrimeCell PL011 UART model, enough for polling guests and for Linux's
 * amba-pl011 driver (IDs, FIFO flags, interrupt mask/status/clear).
 *
 * Pl011 is plain data with no pointers: the vCPU workers of one VM map it
 * in a shared page, so every vCPU sees one UART. Each call takes the lock
 * word inside the struct (an atomic spin lock that works across processes),
 * so callers need no lock of their own. TX is instantaneous: written bytes
 * go to the caller's output function, outside the lock.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PL011_MMIO_SIZE  0x1000u
#define PL011_FIFO_DEPTH 32u

/* Register offsets. */
enum {
        PL011_DR = 0x000,
        PL011_RSR = 0x004,       /* read: RSR, write: ECR */
        PL011_FR = 0x018,
        PL011_ILPR = 0x020,
        PL011_IBRD = 0x024,
        PL011_FBRD = 0x028,
        PL011_LCR_H = 0x02c,
        PL011_CR = 0x030,
        PL011_IFLS = 0x034,
        PL011_IMSC = 0x038,
        PL011_RIS = 0x03c,
        PL011_MIS = 0x040,
        PL011_ICR = 0x044,
        PL011_DMACR = 0x048,
        PL011_PERIPH_ID0 = 0xfe0,
        PL011_PCELL_ID0 = 0xff0,
};

/* FR bits. */
#define PL011_FR_BUSY (1u << 3)
#define PL011_FR_RXFE (1u << 4)
#define PL011_FR_TXFF (1u << 5)
#define PL011_FR_RXFF (1u << 6)
#define PL011_FR_TXFE (1u << 7)

#define PL011_LCR_H_FEN (1u << 4)
#define PL011_CR_LBE    (1u << 7)

/* Interrupt bits (IMSC, RIS, MIS, ICR). */
#define PL011_INT_RX  (1u << 4)
#define PL011_INT_TX  (1u << 5)
#define PL011_INT_RT  (1u << 6)
#define PL011_INT_ALL 0x7ffu

typedef struct Pl011 {
        uint32_t lock;          /* 0 free, 1 held; only through pl011_* */
        uint32_t rsr;
        uint32_t ilpr;
        uint32_t ibrd;
        uint32_t fbrd;
        uint32_t lcr_h;
        uint32_t cr;
        uint32_t ifls;
        uint32_t imsc;
        uint32_t ris;
        uint32_t dmacr;
        uint32_t rx_head;       /* index of the oldest byte in rx_fifo */
        uint32_t rx_count;
        uint16_t rx_fifo[PL011_FIFO_DEPTH];   /* data in bits 0-7, errors in 8-11 */
} Pl011;

/* Receives one transmitted byte; called without the device lock held. */
typedef void (*Pl011OutputFn)(uint8_t byte, void *userdata);

/* Puts the UART in its reset state; call once before first use. */
void pl011_reset(Pl011 *s);

/*
 * One guest access of len bytes (1, 2 or 4) at offset into the MMIO window.
 * Returns 0 when the access hit a register; -EINVAL for a size or alignment
 * the device does not decode, -ENXIO for an offset with no register and
 * -EACCES for a write to a read-only (or read of a write-only) register.
 * Unhandled reads return 0, unhandled writes are ignored.
 */
int pl011_mmio_read(Pl011 *s, uint64_t offset, unsigned len, uint64_t *ret);
int pl011_mmio_write(Pl011 *s, uint64_t offset, unsigned len, uint64_t value,
                     Pl011OutputFn output, void *userdata);

/* Console input: queues up to n bytes; returns how many fit (the rest must
 * be offered again after the guest has read). */
size_t pl011_rx_push(Pl011 *s, const uint8_t *buf, size_t n);
/* How many bytes pl011_rx_push() would accept now. */
size_t pl011_rx_room(Pl011 *s);

/* The interrupt line: any raw interrupt that is not masked (MIS != 0). */
bool pl011_irq_pending(Pl011 *s);
