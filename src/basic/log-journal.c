/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdbool.h>
#include <systemd/sd-journal.h>

#include "log-journal.h"
#include "log.h"

static int send_line(int level, const char *vm, const char *file, int line, const char *func,
                     const char *message) {
        if (vm)
                return sd_journal_send("MESSAGE=%s", message, "PRIORITY=%i", level, "GUNYAH_VM=%s", vm,
                                       "CODE_FILE=%s", file, "CODE_LINE=%i", line, "CODE_FUNC=%s", func, NULL);
        return sd_journal_send("MESSAGE=%s", message, "PRIORITY=%i", level,
                               "CODE_FILE=%s", file, "CODE_LINE=%i", line, "CODE_FUNC=%s", func, NULL);
}

bool log_journal_open(void) {
        if (!log_stderr_is_journal())
                return false;
        log_set_journal_send(send_line);
        return true;
}
