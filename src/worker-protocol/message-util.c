/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "macro.h"
#include "message-util.h"

int message_receive_nofds(int sock, void *buf, size_t size, size_t *ret_n) {
        struct iovec iov = { .iov_base = buf, .iov_len = size };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
        ssize_t n;

        do
                n = recvmsg(sock, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
        while (n < 0 && IN_SET(errno, EINTR, ECONNRESET));
        if (n < 0)
                return -errno;
        /* No control buffer: the kernel closed any fds it carried. */
        if (mh.msg_flags & MSG_CTRUNC)
                return -EBADMSG;
        if (n == 0)
                return 0;
        *ret_n = (mh.msg_flags & MSG_TRUNC) ? size : (size_t) n;
        return 1;
}

bool message_step_ok(const char *step, size_t size, bool empty) {
        size_t len = strnlen(step, size);

        if (len == size || (len == 0) != empty)
                return false;
        for (size_t i = 0; i < len; i++)
                if (!strchr("abcdefghijklmnopqrstuvwxyz0123456789_.-", step[i]))
                        return false;
        return true;
}

bool message_text_ok(const char *s, size_t size) {
        size_t len = strnlen(s, size);

        if (len == size)
                return false;
        for (size_t i = 0; i < len; i++)
                if (s[i] < 0x20 || s[i] > 0x7e)
                        return false;
        return true;
}

size_t message_take_fds(struct msghdr *mh, int *fds, size_t max) {
        size_t n = 0;

        for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
                if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
                        continue;
                for (size_t i = 0; i < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++, n++) {
                        int fd;

                        memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
                        if (n < max)
                                fds[n] = fd;
                        else
                                (void) close(fd);
                }
        }
        return n;
}
