/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "keeper-protocol.h"
#include "macro.h"
#include "message-util.h"

int keeper_message_decode(const void *buf, size_t n, size_t n_fds, KeeperMessage *ret) {
        KeeperMessage m;

        if (n != sizeof(m))
                return -EBADMSG;
        memcpy(&m, buf, sizeof(m));
        if (m.n_fds != n_fds || m.n_fds > KEEPER_FDS_PER_MESSAGE)
                return -EBADMSG;
        switch (m.type) {
        case KEEPER_MSG_DEPOSIT:
        case KEEPER_MSG_FDS:
                break;
        case KEEPER_MSG_HANDBACK:
        case KEEPER_MSG_QUIT:
                if (m.n_fds != 0)
                        return -EBADMSG;
                break;
        default:
                return -EBADMSG;
        }
        if (m.type == KEEPER_MSG_FDS ? (m.total > KEEPER_FDS_MAX || m.n_fds > m.total) : m.total != 0)
                return -EBADMSG;
        for (size_t i = 0; i < KEEPER_FDS_PER_MESSAGE; i++)
                if (m.watch[i] > 1 || (i >= m.n_fds && m.watch[i] != 0))
                        return -EBADMSG;
        *ret = m;
        return 0;
}

int keeper_message_send(int sock, const KeeperMessage *m, const int *fds) {
        union {
                struct cmsghdr align;
                char buf[CMSG_SPACE(sizeof(int) * KEEPER_FDS_PER_MESSAGE)];
        } control = {};
        struct iovec iov = { .iov_base = (void *) m, .iov_len = sizeof(*m) };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
        ssize_t k;

        if (m->n_fds > KEEPER_FDS_PER_MESSAGE)
                return -E2BIG;
        if (m->n_fds > 0) {
                struct cmsghdr *cmsg;

                mh.msg_control = &control;
                mh.msg_controllen = CMSG_SPACE(sizeof(int) * m->n_fds);
                cmsg = CMSG_FIRSTHDR(&mh);
                cmsg->cmsg_level = SOL_SOCKET;
                cmsg->cmsg_type = SCM_RIGHTS;
                cmsg->cmsg_len = CMSG_LEN(sizeof(int) * m->n_fds);
                memcpy(CMSG_DATA(cmsg), fds, sizeof(int) * m->n_fds);
        }
        do
                k = sendmsg(sock, &mh, MSG_NOSIGNAL);
        while (k < 0 && errno == EINTR);
        return k < 0 ? negative_errno() : 0;
}

int keeper_message_receive(int sock, KeeperMessage *ret, int *fds) {
        union {
                struct cmsghdr align;
                char buf[CMSG_SPACE(sizeof(int) * (KEEPER_FDS_PER_MESSAGE + 1))];
        } control;
        char buf[sizeof(KeeperMessage) + 1];
        struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
        struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = &control,
                             .msg_controllen = sizeof(control) };
        size_t n_fds;
        ssize_t n;

        do
                n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return negative_errno();
        n_fds = message_take_fds(&mh, fds, KEEPER_FDS_PER_MESSAGE);
        if (n == 0 && n_fds == 0)
                return 0;
        if ((mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || keeper_message_decode(buf, (size_t) n, n_fds, ret) < 0) {
                for (size_t i = 0; i < MIN(n_fds, (size_t) KEEPER_FDS_PER_MESSAGE); i++)
                        (void) close(fds[i]);
                return -EBADMSG;
        }
        return 1;
}
