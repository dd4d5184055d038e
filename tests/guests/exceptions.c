/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Synchronous exceptions taken through the guest's own vector table: UDF,
 * BRK, SVC from EL0, and (with the MMU on) a data abort and an instruction
 * abort on an unmapped VA. The handler prints what the CPU wrote (ESR,
 * ELR, FAR for aborts) and resumes after the instruction. */

#include "mmu.h"
#include "vectors.h"


#define EC_SVC64 0x15u
#define EC_IABT_CUR 0x21u
#define EC_DABT_CUR 0x25u

void vec_handler(uint64_t slot, uint64_t *frame) {
        uint64_t esr, elr, far;
        uint32_t ec;

        __asm__ volatile("mrs %0, esr_el1\nmrs %1, elr_el1\nmrs %2, far_el1" : "=r"(esr), "=r"(elr), "=r"(far));
        ec = (uint32_t) (esr >> 26);
        uart_puts("exceptions: vector ");
        uart_put_hex(slot * 0x80);
        uart_puts(" esr=");
        uart_put_hex(esr);
        uart_puts(" elr=");
        uart_put_hex(elr);
        if (ec == EC_IABT_CUR || ec == EC_DABT_CUR) {
                uart_puts(" far=");
                uart_put_hex(far);
        }
        uart_putc('\n');

        if (ec == EC_SVC64) {
                /* Back to EL1h (DAIF masked) where enter_el0 left off. */
                __asm__ volatile("msr elr_el1, %0\nmsr spsr_el1, %1" : : "r"(el1_resume), "r"(0x3c5ULL));
                return;
        }
        elr = ec == EC_IABT_CUR ? frame[30] : elr + 4;
        __asm__ volatile("msr elr_el1, %0" : : "r"(elr));
}

static uint64_t el0_stack[64] __attribute__((aligned(16)));

void guest_main(void) {
        volatile uint64_t *unmapped = (volatile uint64_t *) MMU_UNMAPPED_HIGH;
        void (*bad_fn)(void) = (void (*)(void)) (MMU_UNMAPPED_HIGH + 0x1000);

        vectors_install();
        uart_puts("exceptions: udf\n");
        __asm__ volatile("udf #7");
        uart_puts("exceptions: brk\n");
        __asm__ volatile("brk #0x42");
        uart_puts("exceptions: svc from el0\n");
        enter_el0((uint64_t) (uintptr_t) el0_code, (uint64_t) (uintptr_t) (el0_stack + 64));
        uart_puts("exceptions: mmu on, data abort\n");
        mmu_enable();
        (void) *unmapped;
        uart_puts("exceptions: instruction abort\n");
        bad_fn();
        uart_puts("exceptions: done\n");
}
