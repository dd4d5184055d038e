/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The daemon's side of the worker protocol on arbitrary bytes: a worker may
 * be compromised, so whatever it writes into its control socket goes through
 * worker_message_receive() (recvmsg, then worker_message_decode()), as in
 * worker.c and worker-pool.c. The first input byte picks the vCPU the daemon
 * expects (odd: a spare, WORKER_VCPU_UNKNOWN); the rest is one datagram. What
 * is accepted must satisfy what vm.c relies on.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "fuzz.h"
#include "log.h"
#include "worker-protocol.h"

static int sockets[2] = { -1, -1 };

static void check_accepted(const WorkerMessage *m, uint32_t vcpu) {
        if (!IN_SET(m->type, (uint32_t) WORKER_MSG_READY, (uint32_t) WORKER_MSG_VM_EXITED, (uint32_t) WORKER_MSG_FAILED,
                    (uint32_t) WORKER_MSG_PAGE_FAULT, (uint32_t) WORKER_MSG_IDLE))
                abort();
        if (m->vcpu != vcpu && m->type != WORKER_MSG_IDLE)
                abort();
        if (strnlen(m->step, sizeof(m->step)) == sizeof(m->step))
                abort();
        if (m->type == WORKER_MSG_FAILED && (m->error >= 0 || m->step[0] == '\0'))
                abort();
        if (m->type == WORKER_MSG_VM_EXITED && m->exit_info.reason_size > GUNYAH_VM_MAX_EXIT_REASON_SIZE)
                abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        WorkerMessage m;
        uint32_t vcpu;
        int r;

        if (size < 1)
                return 0;
        if (sockets[0] < 0) {
                log_set_max_level(LOG_EMERG); /* every rejection logs a warning */
                if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sockets) < 0)
                        abort();
        }
        vcpu = data[0] & 1 ? WORKER_VCPU_UNKNOWN : data[0] >> 1;
        data++, size--;

        /* The decoder alone, on exactly these bytes. */
        if (worker_message_decode(data, size, vcpu, &m) >= 0)
                check_accepted(&m, vcpu);

        /* The daemon's receive path: one datagram as the worker sent it. */
        if (send(sockets[1], data, size, MSG_DONTWAIT) < 0)
                return 0; /* larger than the socket takes: the worker could not send it either */
        for (;;) {
                r = worker_message_receive(sockets[0], vcpu, &m);
                if (r > 0)
                        check_accepted(&m, vcpu);
                else if (r != -EBADMSG)
                        break; /* -EAGAIN: all read; 0: an empty datagram reads as EOF */
        }
        return 0;
}
