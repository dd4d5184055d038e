/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The daemon's side of the device protocol on arbitrary bytes: a device
 * process parses guest data and may be compromised, so whatever it writes
 * into its control socket goes through device_message_receive() (recvmsg,
 * then device_message_decode()), as in device.c. The input is one
 * datagram. What is accepted must satisfy what device.c relies on. The
 * same bytes also go through device_reply_decode(), the device's side.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "device-protocol.h"
#include "fuzz.h"
#include "log.h"

static int sockets[2] = { -1, -1 };

static bool text_ok(const char *s, size_t size) {
        size_t len = strnlen(s, size);

        if (len == size)
                return false;
        for (size_t i = 0; i < len; i++)
                if (s[i] < 0x20 || s[i] > 0x7e)
                        return false;
        return true;
}

static void check_accepted(const DeviceMessage *m) {
        if (!IN_SET(m->type, (uint32_t) DEVICE_MSG_READY, (uint32_t) DEVICE_MSG_FAILED,
                    (uint32_t) DEVICE_MSG_GUEST_ERROR, (uint32_t) DEVICE_MSG_VSOCK_CONNECT))
                abort();
        if (m->type != DEVICE_MSG_VSOCK_CONNECT && (m->port != 0 || m->cookie != 0))
                abort();
        if (m->type == DEVICE_MSG_VSOCK_CONNECT && (m->error != 0 || m->step[0] != '\0'))
                abort();
        if (!text_ok(m->step, sizeof(m->step)) || !text_ok(m->detail, sizeof(m->detail)))
                abort();
        if (m->type == DEVICE_MSG_FAILED && (m->error >= 0 || m->step[0] == '\0'))
                abort();
        if (m->type == DEVICE_MSG_GUEST_ERROR && m->error >= 0)
                abort();
        if (m->type == DEVICE_MSG_READY && (m->error != 0 || m->step[0] != '\0'))
                abort();
}

/* The device's side: what the daemon answers (the same bytes, with and
 * without an fd). */
static void check_reply(const uint8_t *data, size_t size) {
        DeviceReply r;

        for (int has_fd = 0; has_fd <= 1; has_fd++)
                if (device_reply_decode(data, size, has_fd, &r) >= 0 &&
                    (r.type != DEVICE_REPLY_VSOCK_CONNECTED || (r.error == 0) != has_fd || r.error > 0))
                        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        DeviceMessage m;
        int r;

        check_reply(data, size);
        if (sockets[0] < 0) {
                log_set_max_level(LOG_EMERG); /* every rejection logs a warning */
                if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sockets) < 0)
                        abort();
        }
        if (device_message_decode(data, size, "fuzz", &m) >= 0)
                check_accepted(&m);

        if (send(sockets[1], data, size, MSG_DONTWAIT) < 0)
                return 0;
        for (;;) {
                r = device_message_receive(sockets[0], "fuzz", &m);
                if (r > 0)
                        check_accepted(&m);
                else if (r != -EBADMSG)
                        break;
        }
        return 0;
}
