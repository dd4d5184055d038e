/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The EL1 virtual timer (PPI 27) and physical timer (PPI 30): each is armed
 * 10 ms ahead, the CPU waits in WFI, and the handler checks the counter has
 * passed the compare value and ISTATUS is set before masking the timer.
 * With bootarg ticks=N the virtual timer instead fires every 10 ms N times
 * while the CPU idles in WFI (the idle-cost measurement). */

#include "gicv3.h"
#include "vectors.h"

#define PPI_VTIMER 27
#define PPI_PTIMER 30

static volatile uint64_t fired;
static uint64_t period;
static bool periodic;

#define SYSREG_R(r) ({ uint64_t _v; __asm__ volatile("mrs %0, " r : "=r"(_v) : : "memory"); _v; })
#define SYSREG_W(r, v) __asm__ volatile("msr " r ", %0\nisb" : : "r"((uint64_t) (v)) : "memory")

void vec_handler(uint64_t slot, uint64_t *frame) {
        uint64_t intid;
        bool ok;
        if (slot != VEC_SLOT_IRQ_CUR) {
                uart_puts("timer: unexpected exception\n");
                psci_system_off();
        }
        intid = ICC_READ(ICC_IAR1);
        if (intid == PPI_VTIMER) {
                ok = SYSREG_R("cntvct_el0") >= SYSREG_R("cntv_cval_el0") && (SYSREG_R("cntv_ctl_el0") & 4);
                if (periodic)
                        SYSREG_W("cntv_cval_el0", SYSREG_R("cntv_cval_el0") + period);
                else
                        SYSREG_W("cntv_ctl_el0", 0);
        } else if (intid == PPI_PTIMER) {
                ok = SYSREG_R("cntpct_el0") >= SYSREG_R("cntp_cval_el0") && (SYSREG_R("cntp_ctl_el0") & 4);
                SYSREG_W("cntp_ctl_el0", 0);
        } else {
                ok = false;
        }
        if (!periodic) {
                uart_puts("timer: took ppi ");
                uart_put_dec((int64_t) intid);
                uart_puts(ok ? " after its deadline, istatus set\n" : " too early\n");
        }
        ICC_WRITE(ICC_EOIR1, intid);
        store_release(&fired, fired + 1);
}

static void wait_for(uint64_t n) {
        while (load_acquire(&fired) < n)
                __asm__ volatile("wfi");
}

void guest_main(void) {
        uint64_t ticks, freq = SYSREG_R("cntfrq_el0");

        vectors_install();
        gic_dist_init();
        gic_cpu_init(0, (1u << PPI_VTIMER) | (1u << PPI_PTIMER));
        period = freq / 100;
        ticks = guest_dtb ? fdt_bootarg(guest_dtb, "ticks", 0) : 0;
        irqs_on();

        if (ticks) {
                periodic = true;
                uart_puts("timer: idling\n");
                SYSREG_W("cntv_cval_el0", SYSREG_R("cntvct_el0") + period);
                SYSREG_W("cntv_ctl_el0", 1);
                wait_for(ticks);
                SYSREG_W("cntv_ctl_el0", 0);
                uart_puts("timer: idle done\n");
                return;
        }
        uart_puts("timer: virtual, 10 ms\n");
        SYSREG_W("cntv_tval_el0", period);
        SYSREG_W("cntv_ctl_el0", 1);
        wait_for(1);
        uart_puts("timer: virtual again, by cval\n");
        SYSREG_W("cntv_cval_el0", SYSREG_R("cntvct_el0") + period);
        SYSREG_W("cntv_ctl_el0", 1);
        wait_for(2);
        uart_puts("timer: physical, 10 ms\n");
        SYSREG_W("cntp_tval_el0", period);
        SYSREG_W("cntp_ctl_el0", 1);
        wait_for(3);
        uart_puts("timer: done\n");
}
