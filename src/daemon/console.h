/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * A VM's console: guest output kept in a bounded ring buffer and appended
 * to a size-capped log file (rotated once to NAME.log.1); readers opened
 * with OpenConsole() get the buffer replayed, then live output, and what
 * they write goes to the guest's UART. Each reader has a bounded queue: a
 * reader that does not keep up loses output (and is told so once), it never
 * blocks the guest or the daemon.
 */

#include <stddef.h>
#include <stdint.h>
#include <systemd/sd-event.h>

#include "macro.h"

#define CONSOLE_RING_SIZE (64u * 1024u)
#define CONSOLE_CLIENT_QUEUE_MAX (256u * 1024u)
#define CONSOLE_LOG_SIZE_MAX (1024u * 1024u)
#define CONSOLE_CLIENTS_MAX 16u

typedef struct Console Console;

int console_new(const char *vm_name, const char *log_dir, Console **ret);
Console *console_free(Console *c);
DEFINE_TRIVIAL_CLEANUP_FUNC(Console *, console_free);

/* Bytes the guest wrote. */
void console_feed_output(Console *c, const void *data, size_t size);

/* The fd console input is written to (the daemon end of the workers'
 * console socket), or -EBADF while the VM is not running. */
void console_attach_input(Console *c, int fd);

/* The guest starts again: a reader that attaches from now on is replayed
 * this run's output only (the log file keeps every run). */
void console_begin_run(Console *c);

/* Where this run's output begins in the log file (for the VM's record). */
uint64_t console_run_log_offset(const Console *c);
/* A run a previous daemon began (vm-adopt.h): its history is read back
 * from the log file, from offset (the record's) on, at most the ring's
 * size of the newest bytes. */
void console_resume_run(Console *c, uint64_t offset);

/* Opens a new reader; returns the caller's end of a socket pair. */
int console_open_client(Console *c, sd_event *event, int *ret_fd);



/* Removes the log files (the VM is being destroyed). */
void console_remove_log(Console *c);
