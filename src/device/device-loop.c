/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What every device process does between READY and its end: wait for the
 * kick eventfd, tell the daemon what went wrong once, raise interrupts. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <unistd.h>

#include "device.h"
#include "eventfd-util.h"
#include "log.h"
#include "macro.h"

void device_report_guest_error(DeviceContext *c, uint32_t kind, int error, const char *detail) {
        DeviceMessage m = { .type = DEVICE_MSG_GUEST_ERROR, .error = error < 0 ? error : -EIO };

        if (c->guest_errors_reported & kind)
                return;
        c->guest_errors_reported |= kind;
        snprintf(m.detail, sizeof(m.detail), "%s", detail);
        log_warning_errno(m.error, "%s: %m", detail);
        (void) device_message_send(c->control_fd, &m);
}

void device_interrupt(DeviceContext *c, uint32_t bits) {
        int r;

        virtio_mmio_raise_interrupt(c->regs, bits);
        r = eventfd_ring(c->irq_fd);
        if (r < 0)
                log_error_errno(r, "cannot ring the irqfd: %m");
}

/* A read of the eventfd resets it: kicks that arrive while the device
 * works are seen on the next round, none is lost. */
static int drain_kick(int fd) {
        uint64_t count;

        if (read(fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
                return log_error_errno(errno, "cannot read the kick eventfd: %m");
        return 0;
}

int device_control_receive(DeviceContext *c, DeviceReply *ret, int *ret_fd) {
        int r;

        for (;;) {
                r = device_reply_receive(c->control_fd, ret, ret_fd);
                if (r != -EBADMSG)
                        return r == -EAGAIN || r >= 0 ? r : log_error_errno(r, "cannot read the control socket: %m");
        }
}

/* A device that asks nothing gets no reply: one is dropped. 0 when the
 * daemon hung up, 1 otherwise. */
static int control_readable(DeviceContext *c) {
        DeviceReply reply;
        int r, fd;

        for (;;) {
                r = device_control_receive(c, &reply, &fd);
                if (r <= 0)
                        return r == -EAGAIN; /* EOF, or a socket that fails: gone */
                log_warning("unexpected reply of type %u from the daemon, dropped", reply.type);
                if (fd >= 0)
                        (void) close(fd);
        }
}

int device_loop(DeviceContext *c, int (*on_kick)(DeviceContext *c, void *userdata), void *userdata) {
        struct pollfd fds[] = {
                { .fd = c->kick_fd, .events = POLLIN },
                { .fd = c->control_fd, .events = POLLIN },
        };
        int r;

        /* A kick may have come before the device was there to see it. */
        r = on_kick(c, userdata);
        if (r < 0)
                return r;
        for (;;) {
                if (poll(fds, ELEMENTSOF(fds), -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        return log_error_errno(errno, "poll failed: %m");
                }
                /* EOF: the daemon is gone. */
                if (fds[1].revents && control_readable(c) == 0)
                        return 0;
                if (fds[0].revents & POLLIN) {
                        r = drain_kick(c->kick_fd);
                        if (r >= 0)
                                r = on_kick(c, userdata);
                        if (r < 0)
                                return r;
                }
        }
}
