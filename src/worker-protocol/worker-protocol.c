/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Encoding, sending, receiving and validating the daemon↔worker messages
 * (worker-protocol.h). */
#include <inttypes.h>
#include <string.h>
#include <sys/socket.h>

#include "log.h"
#include "macro.h"
#include "message-util.h"
#include "worker-protocol.h"


static int string_field_ok(const char *s, size_t size) {
        size_t len = strnlen(s, size);

        return len > 0 && len < size;
}

int worker_config_validate(const WorkerConfig *c, size_t n_fds) {
        if (c->type != WORKER_MSG_CONFIG)
                return log_error_errno(-EBADMSG, "worker config: type %" PRIu32 ", expected %d", c->type,
                                       WORKER_MSG_CONFIG);
        if (c->n_backend_fds == 0 || c->n_backend_fds > HV_VCPU_EXPORT_FDS_MAX)
                return log_error_errno(-EBADMSG, "worker config: %" PRIu32 " backend fds, must be 1..%d",
                                       c->n_backend_fds, HV_VCPU_EXPORT_FDS_MAX);
        if (c->n_irqfds > WORKER_IRQFDS_MAX)
                return log_error_errno(-EBADMSG, "worker config: %" PRIu32 " irqfds, at most %d", c->n_irqfds,
                                       WORKER_IRQFDS_MAX);
        if (c->n_virtio > WORKER_VIRTIO_MAX)
                return log_error_errno(-EBADMSG, "worker config: %" PRIu32 " virtio devices, at most %d", c->n_virtio,
                                       WORKER_VIRTIO_MAX);
        for (uint32_t i = 0; i < c->n_virtio; i++) {
                /* 0x200-byte windows: no wrap, no overlap, so an MMIO address finds one device. */
                if (c->virtio_base[i] > UINT64_MAX - 0x200)
                        return log_error_errno(-EBADMSG, "worker config: virtio device %" PRIu32 " wraps", i);
                for (uint32_t j = 0; j < i; j++)
                        if (c->virtio_base[i] < c->virtio_base[j] + 0x200 && c->virtio_base[j] < c->virtio_base[i] + 0x200)
                                return log_error_errno(-EBADMSG, "worker config: virtio devices %" PRIu32 " and %" PRIu32
                                                       " overlap", j, i);
        }
        if (n_fds != worker_config_n_fds(c))
                return log_error_errno(-EBADMSG, "worker config: %zu fds attached, it describes %zu", n_fds,
                                       worker_config_n_fds(c));
        if (!string_field_ok(c->backend, sizeof(c->backend)) || !string_field_ok(c->vm, sizeof(c->vm)))
                return log_error_errno(-EBADMSG, "worker config: backend or VM name empty or not terminated");
        return 0;
}

int worker_config_send(int sock, const WorkerConfig *c, const int *fds, size_t n_fds) {
        union {
                struct cmsghdr align;
                char buf[CMSG_SPACE(sizeof(int) * WORKER_CONFIG_FDS_MAX)];
        } control = {};
        struct iovec iov = { .iov_base = (void *) c, .iov_len = sizeof(*c) };
        struct msghdr mh = {
                .msg_iov = &iov,
                .msg_iovlen = 1,
                .msg_control = &control,
                .msg_controllen = CMSG_SPACE(sizeof(int) * n_fds),
        };
        struct cmsghdr *cmsg = CMSG_FIRSTHDR(&mh);
        int r;

        r = worker_config_validate(c, n_fds);
        if (r < 0)
                return r;
        cmsg->cmsg_level = SOL_SOCKET;
        cmsg->cmsg_type = SCM_RIGHTS;
        cmsg->cmsg_len = CMSG_LEN(sizeof(int) * n_fds);
        memcpy(CMSG_DATA(cmsg), fds, sizeof(int) * n_fds);

        if (sendmsg(sock, &mh, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
                return negative_errno();
        return 0;
}

static void close_all(const int *fds, size_t n) {
        for (size_t i = 0; i < n; i++)
                (void) close(fds[i]);
}

int worker_config_receive(int sock, WorkerConfig *ret, int ret_fds[static WORKER_CONFIG_FDS_MAX], size_t *ret_n_fds) {
        union {
                struct cmsghdr align;
                char buf[CMSG_SPACE(sizeof(int) * WORKER_CONFIG_FDS_MAX)];
        } control;
        WorkerConfig c;
        /* One byte more than a config: a longer message shows as oversized. */
        char buf[sizeof(c) + 1];
        struct iovec iov = { .iov_base = buf, .iov_len = sizeof(buf) };
        struct msghdr mh = {
                .msg_iov = &iov, .msg_iovlen = 1,
                .msg_control = &control, .msg_controllen = sizeof(control),
        };
        size_t n_fds;
        ssize_t n;
        int r;

        do
                n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return log_error_errno(errno, "cannot receive the worker config: %m");
        n_fds = message_take_fds(&mh, ret_fds, WORKER_CONFIG_FDS_MAX);
        if (n == 0 && n_fds == 0)
                return 0;
        if ((size_t) n != sizeof(c) || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || n_fds > WORKER_CONFIG_FDS_MAX) {
                close_all(ret_fds, MIN(n_fds, (size_t) WORKER_CONFIG_FDS_MAX));
                return log_error_errno(-EBADMSG, "worker config: %zd bytes (expected %zu) with %zu fds%s", n,
                                       sizeof(c), n_fds, mh.msg_flags & MSG_CTRUNC ? ", fds truncated" : "");
        }
        memcpy(&c, buf, sizeof(c));
        r = worker_config_validate(&c, n_fds);
        if (r < 0) {
                close_all(ret_fds, n_fds);
                return r;
        }
        *ret = c;
        *ret_n_fds = n_fds;
        return 1;
}

/* A step goes into StateReason and onto D-Bus: plain ASCII only. */
static int message_check_fields(const WorkerMessage *m) {
        switch (m->type) {
        case WORKER_MSG_FAILED:
                if (m->error >= 0 || m->error < -MESSAGE_ERRNO_MAX)
                        return log_warning_errno(-EBADMSG, "FAILED with error %" PRIi32 ", not a -errno", m->error);
                if (!message_step_ok(m->step, sizeof(m->step), false))
                        return log_warning_errno(-EBADMSG, "FAILED with an empty, unterminated or non [a-z0-9_.-] step");
                return 0;
        case WORKER_MSG_VM_EXITED:
                if (m->exit_info.reason_size > GUNYAH_VM_MAX_EXIT_REASON_SIZE)
                        return log_warning_errno(-EBADMSG, "VM_EXITED with a %" PRIu32 "-byte exit reason (at most %u)",
                                                 m->exit_info.reason_size, GUNYAH_VM_MAX_EXIT_REASON_SIZE);
                break;
        case WORKER_MSG_READY:
        case WORKER_MSG_PAGE_FAULT:
        case WORKER_MSG_IDLE:
                break;
        default:
                return log_warning_errno(-EBADMSG, "unknown message type %" PRIu32, m->type);
        }
        if (!message_step_ok(m->step, sizeof(m->step), true))
                return log_warning_errno(-EBADMSG, "message type %" PRIu32 " carries a step", m->type);
        return 0;
}

int worker_message_decode(const void *buf, size_t n, uint32_t vcpu, WorkerMessage *ret) {
        WorkerMessage m;
        int r;

        if (n != sizeof(m))
                return log_warning_errno(-EBADMSG, "worker of vCPU %" PRIu32 " sent a %s %zu-byte message (expected %zu)",
                                         vcpu, n < sizeof(m) ? "short" : "oversized", n, sizeof(m));
        memcpy(&m, buf, sizeof(m));
        r = message_check_fields(&m);
        if (r < 0)
                return log_warning_errno(r, "worker of vCPU %" PRIu32 ": message rejected", vcpu);
        /* Only what a worker may say before it knows its vCPU may omit it. */
        if (m.vcpu == WORKER_VCPU_UNKNOWN && IN_SET(m.type, (uint32_t) WORKER_MSG_IDLE, (uint32_t) WORKER_MSG_FAILED))
                m.vcpu = vcpu;
        if (m.vcpu != vcpu && m.type != (uint32_t) WORKER_MSG_IDLE)
                return log_warning_errno(-EBADMSG, "worker of vCPU %" PRIu32 " sent a message for vCPU %" PRIu32
                                         ", rejected", vcpu, m.vcpu);
        *ret = m;
        return 0;
}

int worker_message_receive(int sock, uint32_t vcpu, WorkerMessage *ret) {
        /* One byte more than a message: a longer one shows as oversized. */
        char buf[sizeof(WorkerMessage) + 1];
        size_t n;
        int r;

        r = message_receive_nofds(sock, buf, sizeof(buf), &n);
        if (r == -EBADMSG)
                return log_warning_errno(r, "worker of vCPU %" PRIu32 " attached fds to a message, rejected", vcpu);
        if (r <= 0)
                return r;
        return worker_message_decode(buf, n, vcpu, ret) < 0 ? -EBADMSG : 1;
}

int worker_message_send(int sock, const WorkerMessage *m, int flags) {
        if (send(sock, m, sizeof(*m), flags | MSG_NOSIGNAL) < 0)
                return negative_errno();
        return 0;
}
