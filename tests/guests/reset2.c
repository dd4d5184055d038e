/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* PSCI SYSTEM_RESET2 (SMC64) with a vendor-specific reset type and a cookie,
 * so the exit reason words are known: reset type 0x80000001, cookie 0x1234. */

#include "lib/guest.h"

#define RESET2_TYPE   0x80000001ULL
#define RESET2_COOKIE 0x1234ULL

void guest_main(void) {
        uart_puts("reset2: requesting SYSTEM_RESET2 type=0x80000001 cookie=0x1234\n");
        int64_t r = psci_call(PSCI_SYSTEM_RESET2, RESET2_TYPE, RESET2_COOKIE, 0);
        /* Only where RESET2 is not implemented (QEMU 7.2): fall back, visibly. */
        uart_puts("reset2: SYSTEM_RESET2 returned ");
        uart_put_dec(r);
        uart_puts(", falling back to SYSTEM_RESET\n");
        (void) psci_call(PSCI_SYSTEM_RESET, 0, 0, 0);
        guest_park();
}
