/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Turns the MMU on and runs at a high (TTBR1) virtual address: code, stack
 * and console all reached through the high alias, and a word written
 * through the alias read back through the identity map. */

#include "mmu.h"

static volatile uint64_t shared_word;
/* DC ZVA's block (DCZID_EL0.BS = 4: 64 bytes) and the block after it. */
static uint8_t zva_buf[128] __attribute__((aligned(64)));

/* DC ZVA zeroes its whole block and nothing else, whatever DCZID_EL0.DZP
 * says (the simulator reports it set so that Linux avoids the instruction). */
static void dc_zva_check(uint8_t *buf) {
        uint64_t dczid;
        unsigned zeroed = 0, kept = 0;

        for (unsigned i = 0; i < sizeof(zva_buf); i++)
                buf[i] = 0xff;
        __asm__ volatile("mrs %0, dczid_el0" : "=r"(dczid));
        __asm__ volatile("dc zva, %0" : : "r"(buf + 8) : "memory");
        for (unsigned i = 0; i < 64; i++)
                zeroed += buf[i] == 0;
        for (unsigned i = 64; i < sizeof(zva_buf); i++)
                kept += buf[i] == 0xff;
        uart_puts("mmu: dczid block size field ");
        uart_put_hex(dczid & 0xf);
        uart_puts(", dc zva zeroed ");
        uart_put_hex(zeroed);
        uart_puts(" bytes, left ");
        uart_put_hex(kept);
        uart_puts(" alone\n");
}

static void high_main(void) {
        uint64_t pc, sp;
        uintptr_t word = (uintptr_t) &shared_word; /* PC-relative: already the alias here */
        volatile uint64_t *alias = (volatile uint64_t *) (word < MMU_HIGH_OFFSET ? word + MMU_HIGH_OFFSET : word);

        __asm__ volatile("adr %0, .\nmov %1, sp" : "=r"(pc), "=r"(sp));
        uart_puts(pc >= MMU_HIGH_OFFSET ? "mmu: code at a high va\n" : "mmu: code still low\n");
        uart_puts(sp >= MMU_HIGH_OFFSET ? "mmu: stack at a high va\n" : "mmu: stack still low\n");
        *alias = 0x1234abcdULL;
        dc_zva_check((uint8_t *) ((uintptr_t) zva_buf < MMU_HIGH_OFFSET ? (uintptr_t) zva_buf + MMU_HIGH_OFFSET
                                                                         : (uintptr_t) zva_buf));
}

void guest_main(void) {
        void (*high)(void) = (void (*)(void)) ((uintptr_t) high_main + MMU_HIGH_OFFSET);
        uint64_t uart = GUEST_DEFAULT_UART;

        /* The DTB may lie outside what the page tables map: read it first. */
        if (guest_dtb)
                (void) fdt_uart(guest_dtb, &uart);
        uart_puts("mmu: enabling\n");
        mmu_enable();
        uart_set_base(uart + MMU_HIGH_OFFSET);
        /* Switch the stack to its high alias, call, switch back. */
        __asm__ volatile("mov x19, sp\n"
                         "add x20, x19, %1\n"
                         "mov sp, x20\n"
                         "blr %0\n"
                         "mov sp, x19\n"
                         :
                         : "r"(high), "r"(MMU_HIGH_OFFSET)
                         : "x19", "x20", "x30", "memory", "x0", "x1", "x2", "x3", "x4", "x5", "x6", "x7", "x8",
                           "x9", "x10", "x11", "x12", "x13", "x14", "x15", "x16", "x17", "x18");
        uart_set_base(uart);
        uart_puts("mmu: back at the identity map, word written through the alias reads ");
        uart_put_hex(shared_word);
        uart_putc('\n');
}
