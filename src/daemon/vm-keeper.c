/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "keeper-protocol.h"
#include "log.h"
#include "macro.h"
#include "process-util.h"
#include "vm-keeper.h"

static int listen_at(const char *path, int *ret_fd) {
        _cleanup_close_ int fd = -EBADF;
        struct sockaddr_un sa = { .sun_family = AF_UNIX };

        if (strlen(path) >= sizeof(sa.sun_path))
                return -ENAMETOOLONG;
        strcpy(sa.sun_path, path);
        fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return negative_errno();
        (void) unlink(path); /* a stale one: a keeper before it died */
        /* Root only: the directory may be the vsock group's; the keeper checks the peer too. */
        if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) < 0 || chmod(path, 0600) < 0 || listen(fd, 4) < 0)
                return negative_errno();
        *ret_fd = TAKE_FD(fd);
        return 0;
}

int vm_keeper_spawn(const char *binary, const char *name, const char *dir, VmKeeper **ret) {
        _cleanup_free_ char *vm_arg = NULL;
        _cleanup_close_ int listen_fd = -EBADF;
        int pair[2], r;
        VmKeeper *k;

        /* The exec happens in the child: a missing program would only show as its exit. */
        if (access(binary, X_OK) < 0)
                return negative_errno();
        k = calloc(1, sizeof(*k));
        if (!k)
                return -ENOMEM;
        *k = (VmKeeper) { .pid = 0, .pidfd = -EBADF, .control_fd = -EBADF };
        if (asprintf(&vm_arg, "--vm=%s", name) < 0)
                vm_arg = NULL;
        if (!vm_arg || asprintf(&k->socket_path, "%s/" KEEPER_SOCKET, dir) < 0) {
                k->socket_path = NULL;
                vm_keeper_free(k);
                return -ENOMEM;
        }
        r = listen_at(k->socket_path, &listen_fd);
        if (r >= 0 && socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) < 0)
                r = negative_errno();
        if (r < 0) {
                vm_keeper_free(k);
                return r;
        }
        k->control_fd = pair[0];
        r = process_spawn_with_fds(binary, (char *const[]) { (char *) "gunyah-keeper", vm_arg, NULL },
                                   (const int[]) { pair[1], listen_fd }, 2, &k->pid, &k->pidfd);
        safe_close(pair[1]);
        if (r < 0) {
                vm_keeper_free(k);
                return r;
        }
        *ret = k;
        return 0;
}

int vm_keeper_deposit(VmKeeper *k, const int *fds, const bool *watch, size_t n) {
        for (size_t done = 0; done < n;) {
                KeeperMessage m = { .type = KEEPER_MSG_DEPOSIT };
                int r;

                m.n_fds = (uint32_t) MIN(n - done, (size_t) KEEPER_FDS_PER_MESSAGE);
                for (size_t i = 0; i < m.n_fds; i++)
                        m.watch[i] = watch[done + i];
                r = keeper_message_send(k->control_fd, &m, fds + done);
                if (r < 0)
                        return r;
                done += m.n_fds;
        }
        return 0;
}

int vm_keeper_adopt(pid_t pid, int pidfd, int sock, const char *dir, VmKeeper **ret) {
        VmKeeper *k = calloc(1, sizeof(*k));

        if (!k || asprintf(&k->socket_path, "%s/" KEEPER_SOCKET, dir) < 0) {
                free(k);
                safe_close(pidfd);
                safe_close(sock);
                return -ENOMEM;
        }
        k->pid = pid;
        k->pidfd = pidfd;
        k->control_fd = sock;
        *ret = k;
        return 0;
}

static VmKeeper *keeper_free(VmKeeper *k, bool end) {
        if (!k)
                return NULL;
        if (end && k->control_fd >= 0)
                (void) keeper_message_send(k->control_fd, &(KeeperMessage) { .type = KEEPER_MSG_QUIT }, NULL);
        safe_close(k->control_fd);
        if (end && k->pid > 0)
                process_kill_and_reap(k->pid, k->pidfd);
        safe_close(k->pidfd);
        if (end && k->socket_path && unlink(k->socket_path) < 0 && errno != ENOENT)
                log_warning_errno(errno, "cannot remove %s: %m", k->socket_path);
        free(k->socket_path);
        free(k);
        return NULL;
}

VmKeeper *vm_keeper_free(VmKeeper *k) {
        return keeper_free(k, true);
}

VmKeeper *vm_keeper_release(VmKeeper *k) {
        return keeper_free(k, false);
}
