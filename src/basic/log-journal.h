/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>

/* Structured journal logging for programs that link libsystemd (gunyahd);
 * kept out of log.c so that the vCPU worker, which may only write() to
 * stderr, links nothing of it. */

/* When stderr is the journal stream (log_stderr_is_journal()), sends every
 * log line with sd_journal_send(): PRIORITY, CODE_*, and GUNYAH_VM for
 * lines about one VM. Returns true if it did, false (stderr stays) if not. */
bool log_journal_open(void);
