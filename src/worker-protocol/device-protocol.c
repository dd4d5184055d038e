/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include "device-protocol.h"
#include "log.h"
#include "macro.h"
#include "message-util.h"

static int device_message_check(const DeviceMessage *m) {
        bool has_error = m->error < 0 && m->error >= -MESSAGE_ERRNO_MAX;

        if (!message_text_ok(m->detail, sizeof(m->detail)))
                return log_warning_errno(-EBADMSG, "detail unterminated or not printable ASCII");
        if (m->type != DEVICE_MSG_VSOCK_CONNECT && (m->port != 0 || m->cookie != 0))
                return log_warning_errno(-EBADMSG, "a port or cookie in a message of type %" PRIu32, m->type);
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
        case DEVICE_MSG_VSOCK_CONNECT:
                if (m->error != 0 || !message_step_ok(m->step, sizeof(m->step), true))
                        return log_warning_errno(-EBADMSG, "VSOCK_CONNECT with an error or a step");
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

int device_reply_decode(const void *buf, size_t n, bool has_fd, DeviceReply *ret) {
        DeviceReply r;

        if (n != sizeof(r))
                return log_warning_errno(-EBADMSG, "daemon sent a %zu-byte reply (expected %zu)", n, sizeof(r));
        memcpy(&r, buf, sizeof(r));
        if (r.type != DEVICE_REPLY_VSOCK_CONNECTED)
                return log_warning_errno(-EBADMSG, "unknown reply type %" PRIu32, r.type);
        if (r.error == 0 ? !has_fd : (has_fd || r.error > 0 || r.error < -MESSAGE_ERRNO_MAX))
                return log_warning_errno(-EBADMSG, "reply with error %" PRIi32 " and %s fd", r.error,
                                         has_fd ? "an" : "no");
        *ret = r;
        return 0;
}

int device_reply_send(int sock, const DeviceReply *r, int fd) {
        union {
                struct cmsghdr align;
                char buf[CMSG_SPACE(sizeof(int))];
        } control = {};
        struct iovec iov = { .iov_base = (void *) r, .iov_len = sizeof(*r) };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

        if (fd >= 0) {
                struct cmsghdr *cmsg;

                mh.msg_control = &control;
                mh.msg_controllen = sizeof(control);
                cmsg = CMSG_FIRSTHDR(&mh);
                cmsg->cmsg_level = SOL_SOCKET;
                cmsg->cmsg_type = SCM_RIGHTS;
                cmsg->cmsg_len = CMSG_LEN(sizeof(int));
                memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
        }
        if (sendmsg(sock, &mh, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
                return negative_errno();
        return 0;
}

int device_reply_receive(int sock, DeviceReply *ret, int *ret_fd) {
        union {
                struct cmsghdr align;
                char buf[CMSG_SPACE(sizeof(int) * 4)];
        } control;
        char buf[sizeof(DeviceReply) + 1];
        struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
        struct msghdr mh = {
                .msg_iov = &iov, .msg_iovlen = 1,
                .msg_control = &control, .msg_controllen = sizeof(control),
        };
        size_t n_fds;
        ssize_t n;
        int fd;

        /* As message_receive_nofds(): an ECONNRESET comes ahead of what was sent. */
        do
                n = recvmsg(sock, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
        while (n < 0 && IN_SET(errno, EINTR, ECONNRESET));
        if (n < 0)
                return -errno;
        fd = -1;
        n_fds = message_take_fds(&mh, &fd, 1);
        if (n == 0 && n_fds == 0)
                return 0;
        if (n_fds > 1 || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) ||
            device_reply_decode(buf, (size_t) n, n_fds == 1, ret) < 0) {
                if (fd >= 0)
                        (void) close(fd);
                return log_warning_errno(-EBADMSG, "invalid reply from the daemon (%zd bytes, %zu fds), dropped", n, n_fds);
        }
        *ret_fd = fd;
        return 1;
}
