/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * gunyahctl vsock NAME PORT: stdin and stdout bridged to the guest's vsock
 * port, for scripts (as `socat - VSOCK-CONNECT:cid:port` inside a guest).
 * ConnectVsock hands over a socket with "CONNECT PORT\n" already sent; the
 * device answers "OK <hostport>\n" or closes it (nothing listens). Both
 * directions are buffered and the socket never blocks this process, so a
 * peer that echoes what it reads cannot deadlock against it.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bus-errors.h"
#include "ctl-bus.h"
#include "fileio.h"
#include "gunyahctl.h"
#include "macro.h"
#include "parse-util.h"

#define BRIDGE_BUFFER (64 * 1024)
#define OK_LINE_MAX 32

/* Reads the device's answer a byte at a time: what follows it is the
 * guest's. 1: "OK <n>"; 0: EOF (nothing listens); -errno, -EBADMSG. */
static int read_ok_line(int fd) {
        char line[OK_LINE_MAX + 1];
        size_t n = 0;

        for (;;) {
                ssize_t k = read(fd, line + n, 1);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k < 0)
                        return -errno;
                if (k == 0)
                        return 0;
                if (line[n] == '\n')
                        break;
                if (++n >= OK_LINE_MAX)
                        return -EBADMSG;
        }
        line[n] = '\0';
        return strneq(line, "OK ", 3) ? 1 : -EBADMSG;
}

typedef struct Pipe {
        char buf[BRIDGE_BUFFER];
        size_t len;
        bool eof; /* its source ended */
} Pipe;

/* Moves what poll said is ready: stdin into the buffer, the buffer to the
 * socket (stdin's end, once sent, half-closes it), the socket to stdout. */
static int bridge_step(int sock, Pipe *in, Pipe *out, struct pollfd *fds) {
        ssize_t k;

        if (fds[0].revents && !in->eof && in->len < sizeof(in->buf)) {
                k = read(STDIN_FILENO, in->buf + in->len, sizeof(in->buf) - in->len);
                if (k < 0 && errno != EINTR && errno != EAGAIN)
                        return -errno;
                in->eof = k == 0;
                in->len += k > 0 ? (size_t) k : 0;
        }
        if ((fds[1].revents & POLLOUT) && in->len > 0) {
                k = send(sock, in->buf, in->len, MSG_NOSIGNAL | MSG_DONTWAIT);
                if (k < 0 && errno != EAGAIN && errno != EINTR)
                        return -errno;
                if (k > 0) {
                        in->len -= (size_t) k;
                        memmove(in->buf, in->buf + k, in->len);
                }
        }
        if (in->eof && in->len == 0 && shutdown(sock, SHUT_WR) < 0 && errno != ENOTCONN)
                return -errno;
        if ((fds[1].revents & (POLLIN | POLLHUP | POLLERR)) && !out->eof) {
                k = recv(sock, out->buf, sizeof(out->buf), MSG_DONTWAIT);
                if (k < 0 && errno != EAGAIN && errno != EINTR)
                        return -errno;
                out->eof = k == 0;
                if (k > 0 && loop_write(STDOUT_FILENO, out->buf, (size_t) k) < 0)
                        return -errno;
        }
        return 0;
}

static int bridge(int sock) {
        Pipe *in = calloc(1, sizeof(Pipe)), *out = calloc(1, sizeof(Pipe));
        int r = 0;

        if (!in || !out)
                r = -ENOMEM;
        /* Until the guest's side ends: stdin's end only half-closes. */
        while (r >= 0 && !out->eof) {
                bool shut = in->eof && in->len == 0;
                struct pollfd fds[] = {
                        { .fd = shut || in->len == sizeof(in->buf) ? -1 : STDIN_FILENO, .events = POLLIN },
                        { .fd = sock, .events = POLLIN | (in->len > 0 ? POLLOUT : 0) },
                };
                if (poll(fds, ELEMENTSOF(fds), -1) < 0) {
                        r = errno == EINTR ? 0 : -errno;
                        continue;
                }
                r = bridge_step(sock, in, out, fds);
        }
        free(in);
        free(out);
        return r;
}

static int connect_vsock(const char *what, const char *name, uint32_t port, int *ret_fd) {
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(sd_bus_unrefp) sd_bus *bus = NULL;
        _cleanup_free_ char *path = NULL;
        int fd, r;

        r = ctl_bus_connect(what, &bus);
        if (r < 0)
                return r;
        r = ctl_bus_vm_path(bus, name, &error, &path);
        if (r >= 0)
                r = sd_bus_call_method(bus, GUNYAH_BUS_NAME, path, GUNYAH_VM_INTERFACE, "ConnectVsock", &error, &reply,
                                       "u", port);
        if (r >= 0)
                r = sd_bus_message_read(reply, "h", &fd);
        if (r < 0)
                return -ctl_bus_report(what, &error, r);
        *ret_fd = fcntl(fd, F_DUPFD_CLOEXEC, 3); /* the reply owns fd */
        if (*ret_fd < 0)
                return -ctl_bus_report(what, NULL, -errno);
        return 0;
}

static int verb_vsock(int argc, char *argv[]) {
        _cleanup_free_ char *what = NULL;
        _cleanup_close_ int sock = -EBADF;
        uint32_t port;
        int r;

        if (ctl_args.varlink_path)
                return ctl_usage_error(argv[0], "vsock needs D-Bus: the connection is a file descriptor, which "
                                       "varlink cannot pass; drop --varlink");
        if (argc != 3)
                return ctl_usage_error(argv[0], "expected NAME PORT");
        if (parse_u32(argv[2], &port) < 0)
                return ctl_usage_error(argv[0], "PORT '%s' is not a number from 0 to 4294967295", argv[2]);
        if (asprintf(&what, "vsock %s %s", argv[1], argv[2]) < 0)
                return CTL_EXIT_FAILURE;
        r = connect_vsock(what, argv[1], port, &sock);
        if (r < 0)
                return -r;
        r = read_ok_line(sock);
        if (r == 0) {
                fprintf(stderr, "gunyahctl: %s: nothing listens on port %" PRIu32 " in VM %s\n", what, port, argv[1]);
                return CTL_EXIT_FAILURE;
        }
        if (r < 0) {
                fprintf(stderr, "gunyahctl: %s: no answer from the VM's vsock device: %s\n", what,
                        r == -EBADMSG ? "not an OK line" : strerror(-r));
                return CTL_EXIT_FAILURE;
        }
        r = bridge(sock);
        if (r < 0) {
                fprintf(stderr, "gunyahctl: %s: %s\n", what, strerror(-r));
                return CTL_EXIT_FAILURE;
        }
        return CTL_EXIT_SUCCESS;
}

const CtlVerb ctl_vsock_verbs[] = {
        { "vsock", "NAME PORT", "Bridge stdin and stdout to the guest's vsock port PORT", verb_vsock },
        {}
};
