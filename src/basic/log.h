/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdarg.h>
#include <stdbool.h>
#include <syslog.h>

#include "macro.h"

/* Logging to stderr; every *_errno variant returns -abs(error) so that
 * "return log_error_errno(r, ...)" logs and propagates in one statement.
 * "%m" in the format expands to strerror(error). */

void log_set_max_level(int level);
int log_get_max_level(void);
void log_set_prefix(const char *prefix);
/* Prefixes lines with <N> syslog priorities, as systemd's journal expects on stderr. */
void log_set_use_kmsg_prefix(int enable);

int log_internal(int level, int error, const char *file, int line, const char *func,
                 const char *format, ...) _printf_(6, 7);
int log_internalv(int level, int error, const char *file, int line, const char *func,
                  const char *format, va_list ap) _printf_(6, 0);

/* Lines about one VM: "VM NAME: " and the message; in the journal, also the
 * field GUNYAH_VM=NAME (like machined's MACHINE=), so that
 * `journalctl GUNYAH_VM=NAME` shows that VM's lines. */
int log_vm_internal(int level, int error, const char *vm, const char *file, int line, const char *func,
                    const char *format, ...) _printf_(7, 8);

/* Structured logging, installed by programs that link libsystemd
 * (log_journal_open() in log-journal.h); NULL: plain stderr. vm may be NULL. */
typedef int (*LogJournalSend)(int level, const char *vm, const char *file, int line, const char *func,
                              const char *message);
void log_set_journal_send(LogJournalSend send);

/* True if stderr is the journal stream systemd gave this process: the
 * "DEV:INODE" of $JOURNAL_STREAM is stderr's (not a redirection of it). */
bool log_stderr_is_journal(void);

#define log_full_errno(level, error, ...) \
        log_internal((level), (error), __FILE__, __LINE__, __func__, __VA_ARGS__)
#define log_full(level, ...) (void) log_full_errno((level), 0, __VA_ARGS__)

#define log_debug(...) log_full(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_full(LOG_INFO, __VA_ARGS__)
#define log_notice(...) log_full(LOG_NOTICE, __VA_ARGS__)
#define log_warning(...) log_full(LOG_WARNING, __VA_ARGS__)
#define log_error(...) log_full(LOG_ERR, __VA_ARGS__)

#define log_debug_errno(error, ...) log_full_errno(LOG_DEBUG, (error), __VA_ARGS__)
#define log_info_errno(error, ...) log_full_errno(LOG_INFO, (error), __VA_ARGS__)
#define log_notice_errno(error, ...) log_full_errno(LOG_NOTICE, (error), __VA_ARGS__)
#define log_warning_errno(error, ...) log_full_errno(LOG_WARNING, (error), __VA_ARGS__)
#define log_error_errno(error, ...) log_full_errno(LOG_ERR, (error), __VA_ARGS__)

#define log_vm_full_errno(level, error, vm, ...) \
        log_vm_internal((level), (error), (vm), __FILE__, __LINE__, __func__, __VA_ARGS__)
#define log_vm_full(level, vm, ...) (void) log_vm_full_errno((level), 0, (vm), __VA_ARGS__)

#define log_vm_debug(vm, ...) log_vm_full(LOG_DEBUG, (vm), __VA_ARGS__)
#define log_vm_info(vm, ...) log_vm_full(LOG_INFO, (vm), __VA_ARGS__)
#define log_vm_notice(vm, ...) log_vm_full(LOG_NOTICE, (vm), __VA_ARGS__)
#define log_vm_warning(vm, ...) log_vm_full(LOG_WARNING, (vm), __VA_ARGS__)
#define log_vm_error(vm, ...) log_vm_full(LOG_ERR, (vm), __VA_ARGS__)

#define log_vm_debug_errno(vm, error, ...) log_vm_full_errno(LOG_DEBUG, (error), (vm), __VA_ARGS__)
#define log_vm_warning_errno(vm, error, ...) log_vm_full_errno(LOG_WARNING, (error), (vm), __VA_ARGS__)
#define log_vm_error_errno(vm, error, ...) log_vm_full_errno(LOG_ERR, (error), (vm), __VA_ARGS__)

/* For allocation failures: logs without allocating and returns -ENOMEM. */
#define log_oom() log_full_errno(LOG_ERR, ENOMEM, "Out of memory.")

int log_level_from_string(const char *s);
