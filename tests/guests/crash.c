/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* An undefined instruction with no vector table installed: the VMM must
 * report the VM as crashed (the guest cannot handle it). */

#include "lib/guest.h"

void guest_main(void) {
        uart_puts("crash: executing udf #0\n");
        __asm__ volatile("udf #0");
        uart_puts("crash: survived udf\n");
        guest_park();
}
