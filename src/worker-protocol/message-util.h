/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* What the daemon's protocols with its helper processes share: reading one
 * untrusted fixed-size message, checking its string fields. */

#include <stdbool.h>
#include <stddef.h>

#define MESSAGE_ERRNO_MAX 4095

/* Reads one message without blocking into buf (size: one byte more than
 * the largest valid message, so that a longer one shows as oversized).
 * 1 with *ret_n; 0: EOF; -EAGAIN: nothing pending; -EBADMSG: it carried
 * fds (closed by the kernel); other -errno. A peer that exited before
 * reading what we sent leaves an ECONNRESET that recvmsg() reports (once)
 * ahead of the messages it sent before dying: those are read on. */
int message_receive_nofds(int sock, void *buf, size_t size, size_t *ret_n);

struct msghdr;
/* Every fd of every SCM_RIGHTS header of a received message: the first max
 * into fds, the rest closed. How many there were. */
size_t message_take_fds(struct msghdr *mh, int *fds, size_t max);

/* A NUL-terminated step name of [a-z0-9_.-] in a field of size bytes;
 * empty must be empty, or must not be. */
bool message_step_ok(const char *step, size_t size, bool empty);

/* A NUL-terminated field of printable ASCII (may be empty). */
bool message_text_ok(const char *s, size_t size);
