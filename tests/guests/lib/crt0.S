/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Entry for the boot vCPU (_start: x0 = DTB IPA, EL1h, DAIF masked, MMU off,
 * no stack) and for vCPUs started by PSCI CPU_ON (secondary_entry: x0 =
 * context id). The MMU stays off: the guests must not depend on a page table. */

#define GUEST_MAX_CPUS   8
#define GUEST_STACK_SIZE 0x4000

        .section .text.boot, "ax"
        .global _start
_start:
        mov     x19, x0
        bl      set_stack
        /* Only the boot vCPU runs this: secondaries are still off. */
        adrp    x1, __bss_start
        add     x1, x1, :lo12:__bss_start
        adrp    x2, __bss_end
        add     x2, x2, :lo12:__bss_end
1:      cmp     x1, x2
        b.hs    2f
        str     xzr, [x1], #8
        b       1b
2:      mov     x0, x19
        bl      guest_boot
        b       guest_park

        .global secondary_entry
secondary_entry:
        mov     x19, x0
        bl      set_stack
        mov     x0, x19
        bl      guest_secondary
        b       guest_park

/* SP = __stacks_end - Aff0 * GUEST_STACK_SIZE, so each vCPU has its own stack. */
set_stack:
        mrs     x1, mpidr_el1
        and     x1, x1, #0xff
        cmp     x1, #GUEST_MAX_CPUS
        b.hs    guest_park
        adrp    x2, __stacks_end
        add     x2, x2, :lo12:__stacks_end
        mov     x3, #GUEST_STACK_SIZE
        msub    x2, x1, x3, x2
        mov     sp, x2
        ret

/* Nothing left to do: WFI sleeps (interrupts are masked and none is
 * expected), and the loop covers a spurious wake-up. */
        .global guest_park
guest_park:
        wfi
        b       guest_park
