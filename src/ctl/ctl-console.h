/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * A VM's console on this terminal: OpenConsole()'s socket copied to stdout,
 * stdin copied to it. A terminal on stdin goes raw (restored by
 * ctl_console_free, which signal exits reach too since the loop catches
 * SIGINT/SIGTERM) and Ctrl-] detaches; other stdin is copied byte for byte
 * until EOF, after which output keeps coming. Used by "console" and by
 * "start --console".
 */

#include <stdbool.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-event.h>

#define CTL_CONSOLE_DETACH_CHAR 0x1d /* Ctrl-] */

typedef struct CtlConsole CtlConsole;
/* The console has finished: detached (Ctrl-]), or drained after
 * ctl_console_drain(), or the daemon closed it. r < 0 on an I/O error. */
typedef void (*CtlConsoleDone)(CtlConsole *c, bool detached, int r, void *userdata);

int ctl_console_open(sd_bus *bus, sd_event *event, const char *path, const char *vm_name, CtlConsoleDone done,
                     void *userdata, sd_bus_error *error, CtlConsole **ret);
/* The VM ended: print what output is still coming, then finish. */
void ctl_console_drain(CtlConsole *c);
CtlConsole *ctl_console_free(CtlConsole *c);
static inline void ctl_console_freep(CtlConsole **c) {
        if (*c)
                ctl_console_free(*c);
}
