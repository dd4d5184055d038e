/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* PL011 console: only DR and FR are used, so the guests work on a VMM that
 * never initialises the UART (QEMU, the simulator, Gunyah VMMs). */

#include "guest.h"

#define UART_DR 0x000
#define UART_FR 0x018
#define FR_RXFE (1U << 4)
#define FR_TXFF (1U << 5)

static uintptr_t uart_base = GUEST_DEFAULT_UART;

static inline uint32_t reg_read(unsigned off) {
        return *(volatile uint32_t *) (uart_base + off);
}

static inline void reg_write(unsigned off, uint32_t v) {
        *(volatile uint32_t *) (uart_base + off) = v;
}

void uart_set_base(uintptr_t base) {
        uart_base = base;
}

void uart_write_raw(char c) {
        reg_write(UART_DR, (uint8_t) c);
}

void uart_putc(char c) {
        while (reg_read(UART_FR) & FR_TXFF)
                ;
        reg_write(UART_DR, (uint8_t) c);
}

void uart_puts(const char *s) {
        while (*s)
                uart_putc(*s++);
}

void uart_put_hex(uint64_t v) {
        char buf[16];
        int n = 0;

        do {
                buf[n++] = "0123456789abcdef"[v & 0xf];
                v >>= 4;
        } while (v);
        uart_puts("0x");
        while (n > 0)
                uart_putc(buf[--n]);
}

void uart_put_dec(int64_t v) {
        char buf[20];
        uint64_t u = v < 0 ? -(uint64_t) v : (uint64_t) v;
        int n = 0;

        if (v < 0)
                uart_putc('-');
        do {
                buf[n++] = (char) ('0' + u % 10);
                u /= 10;
        } while (u);
        while (n > 0)
                uart_putc(buf[--n]);
}

bool uart_rx_ready(void) {
        return !(reg_read(UART_FR) & FR_RXFE);
}

char uart_getc(void) {
        while (!uart_rx_ready())
                ;
        return (char) (reg_read(UART_DR) & 0xff);
}
