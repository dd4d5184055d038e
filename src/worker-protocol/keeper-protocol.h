/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * gunyahd ↔ gunyah-keeper: the keeper holds dups of the daemon's ends of a
 * running VM's fds (control sockets, console socket, ...) so that the VM's
 * processes see no EOF while no daemon runs, and hands them to the next
 * daemon (design §4, "VMs outlive the daemon"). Root on both sides.
 *
 * The daemon that spawns the keeper talks on KEEPER_FD_CONTROL; a later
 * daemon connects to <runtime_dir>/vms/NAME/keeper (KEEPER_FD_LISTEN,
 * SOCK_SEQPACKET; the keeper takes only uid 0 peers) and that connection
 * becomes the control connection. On it:
 *   DEPOSIT  daemon → keeper: fds to hold, appended in order; watch[i] says
 *            that fd i's peer is a VM process (the keeper ends when every
 *            watched fd has hung up and no daemon is connected)
 *   HANDBACK daemon → keeper: send every held fd back
 *   FDS      keeper → daemon: a batch of them in deposit order, `total`
 *            in all (a HANDBACK of nothing gets one FDS with no fds)
 *   QUIT     daemon → keeper: close everything and exit
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KEEPER_FD_CONTROL 3
#define KEEPER_FD_LISTEN 4
#define KEEPER_SOCKET "keeper"
#define KEEPER_FDS_MAX 512
#define KEEPER_FDS_PER_MESSAGE 64

typedef enum KeeperMessageType {
        KEEPER_MSG_DEPOSIT = 1,
        KEEPER_MSG_HANDBACK,
        KEEPER_MSG_FDS,
        KEEPER_MSG_QUIT,
} KeeperMessageType;

typedef struct KeeperMessage {
        uint32_t type;
        uint32_t n_fds; /* fds that come with this message (SCM_RIGHTS) */
        uint32_t total; /* FDS: how many the keeper holds in all */
        uint8_t watch[KEEPER_FDS_PER_MESSAGE];
} KeeperMessage;

/* Checks n bytes that arrived with n_fds fds. 0 or -EBADMSG. */
int keeper_message_decode(const void *buf, size_t n, size_t n_fds, KeeperMessage *ret);

/* Sends m with its m->n_fds fds (blocking: the peer reads at once). */
int keeper_message_send(int sock, const KeeperMessage *m, const int *fds);

/* Reads one message (blocking unless the socket is not) with its fds into
 * fds (room for KEEPER_FDS_PER_MESSAGE, O_CLOEXEC). 1; 0 at EOF; -EBADMSG
 * for a malformed one (its fds closed); other -errno. */
int keeper_message_receive(int sock, KeeperMessage *ret, int *fds);
