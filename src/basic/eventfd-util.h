/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* Signals an eventfd once (a doorbell, an irqfd, a device's kick): 0, or
 * -errno. A full counter (EAGAIN on a non-blocking eventfd) counts as
 * signalled: whoever waits on it has not read it yet and will. */
int eventfd_ring(int fd);
