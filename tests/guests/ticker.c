/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Keeps printing numbered lines, "ticker: N\n" from 0 on, one every few
 * thousand loop turns, and never exits: a console that must stay
 * continuous (no line lost or repeated) across a daemon restart. Only a
 * forced stop ends it. */

#include "lib/guest.h"

void guest_main(void) {
        for (int64_t n = 0;; n++) {
                uart_puts("ticker: ");
                uart_put_dec(n);
                uart_putc('\n');
                for (volatile unsigned i = 0; i < 20000; i++)
                        ;
        }
}
