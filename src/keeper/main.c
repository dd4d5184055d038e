/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * gunyah-keeper --vm=NAME: one per running VM (keeper-protocol.h). Holds
 * dups of the daemon's ends of the VM's fds so that the VM's processes see
 * no EOF while no daemon runs, and hands them to the next daemon. Exits
 * when told, or when the daemon that started it went away before it
 * deposited anything. A VM whose processes all ended while no daemon ran
 * keeps its keeper until the next daemon came for what they said last
 * (their exit info, queued on the sockets it holds).
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "keeper-protocol.h"
#include "keeper.h"
#include "log.h"
#include "macro.h"

typedef struct Keeper {
        int control; /* the daemon's connection, -1 while none */
        int fds[KEEPER_FDS_MAX];
        bool watch[KEEPER_FDS_MAX];
        bool hung_up[KEEPER_FDS_MAX];
        size_t n_fds;
} Keeper;

static size_t watched_count(const Keeper *k) {
        size_t watched = 0;

        for (size_t i = 0; i < k->n_fds; i++)
                watched += k->watch[i];
        return watched;
}

static int deposit(Keeper *k, const KeeperMessage *m, const int *fds) {
        if (k->n_fds + m->n_fds > KEEPER_FDS_MAX) {
                for (size_t i = 0; i < m->n_fds; i++)
                        (void) close(fds[i]);
                return log_error_errno(-E2BIG, "more than %d fds to hold, refused", KEEPER_FDS_MAX);
        }
        for (size_t i = 0; i < m->n_fds; i++) {
                k->fds[k->n_fds] = fds[i];
                k->watch[k->n_fds] = m->watch[i];
                k->hung_up[k->n_fds++] = false;
        }
        return 0;
}

static int hand_back(Keeper *k) {
        size_t done = 0;
        int r;

        do {
                KeeperMessage m = { .type = KEEPER_MSG_FDS, .total = (uint32_t) k->n_fds };

                m.n_fds = (uint32_t) MIN(k->n_fds - done, (size_t) KEEPER_FDS_PER_MESSAGE);
                for (size_t i = 0; i < m.n_fds; i++)
                        m.watch[i] = k->watch[done + i];
                r = keeper_message_send(k->control, &m, k->fds + done);
                if (r < 0)
                        return log_warning_errno(r, "cannot hand the fds back: %m");
                done += m.n_fds;
        } while (done < k->n_fds);
        return 0;
}

static void drop_control(Keeper *k) {
        (void) close(k->control);
        k->control = -1;
}

/* 1: told to quit. */
static int on_control(Keeper *k) {
        int fds[KEEPER_FDS_PER_MESSAGE];
        KeeperMessage m;
        int r;

        r = keeper_message_receive(k->control, &m, fds);
        if (r == -EBADMSG) {
                log_warning("malformed message from the daemon, dropped");
                return 0;
        }
        if (r <= 0) {
                log_debug("the daemon is gone: holding %zu fds", k->n_fds);
                drop_control(k);
                return 0;
        }
        switch (m.type) {
        case KEEPER_MSG_DEPOSIT:
                (void) deposit(k, &m, fds);
                return 0;
        case KEEPER_MSG_HANDBACK:
                if (hand_back(k) < 0)
                        drop_control(k);
                return 0;
        case KEEPER_MSG_QUIT:
                return 1;
        default: /* FDS: only the keeper sends it */
                for (size_t i = 0; i < m.n_fds; i++)
                        (void) close(fds[i]);
                return 0;
        }
}

static void on_connect(Keeper *k) {
        struct ucred cred;
        socklen_t len = sizeof(cred);
        int fd = accept4(KEEPER_FD_LISTEN, NULL, NULL, SOCK_CLOEXEC);

        if (fd < 0)
                return;
        if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || cred.uid != 0) {
                log_warning("connection of uid %d refused: root only", len == sizeof(cred) ? (int) cred.uid : -1);
                (void) close(fd);
                return;
        }
        if (k->control >= 0) {
                /* One daemon at a time; the next tries again once this one is gone. */
                (void) close(fd);
                return;
        }
        log_debug("daemon [%d] connected", (int) cred.pid);
        k->control = fd;
}

static int serve(Keeper *k) {
        for (;;) {
                struct pollfd p[2 + KEEPER_FDS_MAX];
                size_t index[KEEPER_FDS_MAX], n = 2, watched = watched_count(k);

                /* Once it holds a VM's sockets, only a daemon tells it to go: a VM
                 * that ended meanwhile left its exit info queued on them. */
                if (k->control < 0 && watched == 0)
                        return 0; /* the daemon that started it died before handing it anything */
                p[0] = (struct pollfd) { .fd = k->control, .events = POLLIN };
                p[1] = (struct pollfd) { .fd = KEEPER_FD_LISTEN, .events = POLLIN };
                for (size_t i = 0; i < k->n_fds; i++)
                        if (k->watch[i] && !k->hung_up[i]) {
                                index[n - 2] = i;
                                p[n++] = (struct pollfd) { .fd = k->fds[i] }; /* hangups only: never read */
                        }
                if (ppoll(p, n, NULL, NULL) < 0) {
                        if (errno == EINTR)
                                continue;
                        return log_error_errno(errno, "ppoll: %m");
                }
                for (size_t j = 2; j < n; j++)
                        if (p[j].revents & (POLLHUP | POLLERR | POLLNVAL))
                                k->hung_up[index[j - 2]] = true;
                /* A gone daemon's EOF before a new daemon's connection. */
                if (k->control >= 0 && p[0].revents && on_control(k) > 0)
                        return 0;
                if (p[1].revents)
                        on_connect(k);
        }
}

int main(int argc, char *argv[]) {
        static const struct option options[] = {
                { "vm", required_argument, NULL, 'v' },
                {},
        };
        static Keeper k = { .control = KEEPER_FD_CONTROL };
        static char prefix[128];
        const char *vm = NULL;
        int c, r;

        while ((c = getopt_long(argc, argv, "", options, NULL)) >= 0)
                if (c == 'v')
                        vm = optarg;
                else
                        return EXIT_FAILURE;
        snprintf(prefix, sizeof(prefix), "gunyah-keeper[%s]", vm ?: "?");
        log_set_prefix(prefix);
        r = keeper_seccomp_install();
        if (r < 0) {
                log_error_errno(r, "cannot load the seccomp filter: %m");
                return EXIT_FAILURE;
        }
        r = serve(&k);
        return r < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
}
