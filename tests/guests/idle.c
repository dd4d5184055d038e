/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The graceful-stop contract of the test guests: idle until the console
 * delivers the line "poweroff" (terminated by \n or \r), then SYSTEM_OFF.
 * Any other non-empty line is answered with "idle: ignored\n", so a test can
 * see that noise never stops the guest. */

#include "lib/guest.h"

static const char command[] = "poweroff";
#define COMMAND_LEN (sizeof(command) - 1)

void guest_main(void) {
        size_t len = 0;         /* bytes of the current line */
        bool match = true;      /* the line so far is a prefix of command */

        uart_puts("idle: waiting\n");
        for (;;) {
                char c = uart_getc();

                if (c == '\n' || c == '\r') {
                        if (match && len == COMMAND_LEN)
                                break;
                        if (len > 0)
                                uart_puts("idle: ignored\n");
                        len = 0;
                        match = true;
                        continue;
                }
                match = match && len < COMMAND_LEN && c == command[len];
                len++;
        }
        uart_puts("idle: powering off\n");
        psci_system_off();
}
