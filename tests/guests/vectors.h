/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A vector table for the guests that take exceptions and interrupts: every
 * one of the 16 entries saves x0-x30 in a frame on SP_EL1 and calls
 * vec_handler(entry index, frame), which the guest defines; x0-x30 are
 * restored from the frame (so the handler may change them) before ERET.
 * Also enter_el0(entry, sp): runs entry at EL0t; an SVC handler that sets
 * ELR_EL1 = el1_resume and SPSR_EL1 = EL1h returns from enter_el0. */

#include <stdint.h>

#define VEC_SLOT_SYNC_CUR 4u  /* 0x200: current EL, SP_ELx */
#define VEC_SLOT_IRQ_CUR 5u   /* 0x280 */
#define VEC_SLOT_SYNC_LOWER 8u /* 0x400: from EL0, AArch64 */

void vec_handler(uint64_t slot, uint64_t *frame);
void enter_el0(uint64_t entry, uint64_t sp);
extern char el0_code[];
uint64_t el1_resume;

__asm__(".section .text.vectors, \"ax\"\n"
        ".balign 0x800\n"
        ".global vectors\n"
        "vectors:\n"
        ".irp slot, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15\n"
        ".balign 0x80\n"
        "sub sp, sp, #256\n"
        "stp x0, x1, [sp, #0]\n"
        "mov x0, #\\slot\n"
        "b vec_common\n"
        ".endr\n"
        "vec_common:\n"
        "stp x2, x3, [sp, #16]\n stp x4, x5, [sp, #32]\n stp x6, x7, [sp, #48]\n"
        "stp x8, x9, [sp, #64]\n stp x10, x11, [sp, #80]\n stp x12, x13, [sp, #96]\n"
        "stp x14, x15, [sp, #112]\n stp x16, x17, [sp, #128]\n stp x18, x19, [sp, #144]\n"
        "stp x20, x21, [sp, #160]\n stp x22, x23, [sp, #176]\n stp x24, x25, [sp, #192]\n"
        "stp x26, x27, [sp, #208]\n stp x28, x29, [sp, #224]\n str x30, [sp, #240]\n"
        "mov x1, sp\n"
        "bl vec_handler\n"
        "ldp x2, x3, [sp, #16]\n ldp x4, x5, [sp, #32]\n ldp x6, x7, [sp, #48]\n"
        "ldp x8, x9, [sp, #64]\n ldp x10, x11, [sp, #80]\n ldp x12, x13, [sp, #96]\n"
        "ldp x14, x15, [sp, #112]\n ldp x16, x17, [sp, #128]\n ldp x18, x19, [sp, #144]\n"
        "ldp x20, x21, [sp, #160]\n ldp x22, x23, [sp, #176]\n ldp x24, x25, [sp, #192]\n"
        "ldp x26, x27, [sp, #208]\n ldp x28, x29, [sp, #224]\n ldr x30, [sp, #240]\n"
        "ldp x0, x1, [sp, #0]\n"
        "add sp, sp, #256\n"
        "eret\n"
        /* enter_el0(entry, sp): runs entry at EL0t; its SVC returns here. */
        ".global enter_el0\n"
        "enter_el0:\n"
        "stp x29, x30, [sp, #-16]!\n"
        "adr x2, 1f\n"
        "adrp x3, el1_resume\n"
        "str x2, [x3, :lo12:el1_resume]\n"
        "msr sp_el0, x1\n"
        "msr elr_el1, x0\n"
        "msr spsr_el1, xzr\n"
        "eret\n"
        "1: ldp x29, x30, [sp], #16\n"
        "ret\n"
        ".global el0_code\n"
        "el0_code:\n"
        "svc #0x33\n"
        "b el0_code\n"
        ".text\n");

extern char vectors[];

static inline void vectors_install(void) {
        __asm__ volatile("msr vbar_el1, %0\nisb" : : "r"(vectors));
}
