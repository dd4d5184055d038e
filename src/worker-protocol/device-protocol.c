/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <sys/socket.h>

#include "device-protocol.h"
#include "log.h"
#include "message-util.h"

static int device_message_check(const DeviceMessage *m) {
        bool has_error = m->error < 0 && m->error >= -MESSAGE_ERRNO_MAX;

        if (!message_text_ok(m->detail, sizeof(m->detail)))
                return log_warning_errno(-EBADMSG, "detail unterminated or not printable ASCII");
        switch (m->type) {
        case DEVICE_MSG_READY:
                if (m->error != 0 || !message_step_ok(m->step, sizeof(m->step), true))
                        return log_warning_errno(-EBADMSG, "READY with an error or a step");
                return 0;
        case DEVICE_MSG_FAILED:
                if (!has_error || !message_step_ok(m->step, sizeof(m->step), false))
                        return log_warning_errno(-EBADMSG, "FAILED without a -errno or a [a-z0-9_.-] step");
                return 0;
        case DEVICE_MSG_GUEST_ERROR:
                if (!has_error || !message_step_ok(m->step, sizeof(m->step), true))
                        return log_warning_errno(-EBADMSG, "GUEST_ERROR without a -errno, or with a step");
                return 0;
        default:
                return log_warning_errno(-EBADMSG, "unknown message type %" PRIu32, m->type);
        }
}

int device_message_decode(const void *buf, size_t n, const char *device, DeviceMessage *ret) {
        DeviceMessage m;

        if (n != sizeof(m))
                return log_warning_errno(-EBADMSG, "device %s sent a %s %zu-byte message (expected %zu)", device,
                                         n < sizeof(m) ? "short" : "oversized", n, sizeof(m));
        memcpy(&m, buf, sizeof(m));
        if (device_message_check(&m) < 0)
                return log_warning_errno(-EBADMSG, "device %s: message rejected", device);
        *ret = m;
        return 0;
}

int device_message_receive(int sock, const char *device, DeviceMessage *ret) {
        char buf[sizeof(DeviceMessage) + 1];
        size_t n;
        int r;

        r = message_receive_nofds(sock, buf, sizeof(buf), &n);
        if (r == -EBADMSG)
                return log_warning_errno(r, "device %s attached fds to a message, rejected", device);
        if (r <= 0)
                return r;
        return device_message_decode(buf, n, device, ret) < 0 ? -EBADMSG : 1;
}

int device_message_send(int sock, const DeviceMessage *m) {
        if (send(sock, m, sizeof(*m), MSG_NOSIGNAL) < 0)
                return negative_errno();
        return 0;
}
