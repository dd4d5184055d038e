/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The graceful-stop contract of the test guests: idle until the power button
 * is pressed (line 3 of the PL061 the devicetree describes, the gpio-keys
 * KEY_POWER line, which gunyahd's Stop() presses) or the console delivers
 * the line "poweroff" (terminated by \n or \r), then SYSTEM_OFF. Any other
 * non-empty line is answered with "idle: ignored\n", so a test can see that
 * noise never stops the guest. */

#include "lib/guest.h"

static const char command[] = "poweroff";
#define COMMAND_LEN (sizeof(command) - 1)

#define PL061_POWER_LINE 3u

/* PL061 GPIODATA: address bits [9:2] select the lines a read returns. */
static bool power_button_pressed(uint64_t pl061) {
        volatile uint32_t *data = (volatile uint32_t *) (uintptr_t) (pl061 + ((1u << PL061_POWER_LINE) << 2));

        return pl061 && (*data & (1u << PL061_POWER_LINE));
}

void guest_main(void) {
        size_t len = 0;         /* bytes of the current line */
        bool match = true;      /* the line so far is a prefix of command */
        uint64_t pl061 = 0;

        if (!guest_dtb || fdt_compatible_reg(guest_dtb, "arm,pl061", &pl061) < 0)
                pl061 = 0;

        uart_puts("idle: waiting\n");
        for (;;) {
                if (power_button_pressed(pl061)) {
                        uart_puts("idle: power button\n");
                        break;
                }
                if (!uart_rx_ready())
                        continue;

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
