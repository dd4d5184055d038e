/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The contract between gunyahd and its device processes (design §4): one
 * gunyah-device process per virtio device of a running VM, fork+exec'd by
 * the daemon as
 *
 *     gunyah-device --type=TYPE --vm=NAME --device=NAME (--uid=UID --gid=GID | --no-sandbox)
 *                   --memory=GPA:SIZE[,GPA:SIZE...] [--readonly] [--serial=SERIAL]
 *
 * with its fds on fixed numbers: control socket, the device's virtio-mmio
 * register page, its kick eventfd (the ioeventfd of its QueueNotify
 * address; vCPU workers ring it too), its irq eventfd (an irqfd of its
 * SPI), its backing file, then one fd per --memory region, in order: the
 * guest memory it may reach (all of it for a shared VM, only the swiotlb
 * pool for a lent one). It maps what it needs, enters the sandbox, says
 * DEVICE_MSG_READY and serves the guest until the daemon hangs up (EOF on
 * the control socket). The daemon answers some requests (a vsock device's
 * connects to host sockets) with a DeviceReply on the same socket.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DEVICE_FD_CONTROL 3 /* SOCK_SEQPACKET, DeviceMessage device → daemon */
#define DEVICE_FD_REGS 4    /* memfd: VirtioMmioShared, shared with the vCPU workers */
#define DEVICE_FD_KICK 5    /* eventfd: the driver wants the device to look */
#define DEVICE_FD_IRQ 6     /* eventfd: registered as the irqfd of the device's SPI */
#define DEVICE_FD_BACKING 7 /* the disk image (block), the listening socket <vmdir>/vsock (vsock) */
#define DEVICE_FD_MEMORY 8  /* first guest memory fd */
#define DEVICE_MEMORY_REGIONS_MAX 4

typedef enum DeviceMessageType {
        DEVICE_MSG_READY = 1,       /* sandboxed, serving */
        DEVICE_MSG_FAILED = 2,      /* could not start or went wrong for good (error, step) */
        DEVICE_MSG_GUEST_ERROR = 3, /* the guest drove the device wrong (error, detail): logged once */
        DEVICE_MSG_VSOCK_CONNECT = 4, /* connect to <vmdir>/vsock_<port> for me (port, cookie): a DeviceReply follows */
} DeviceMessageType;

typedef struct DeviceMessage {
        uint32_t type;    /* DeviceMessageType */
        int32_t error;    /* -errno for FAILED and GUEST_ERROR */
        uint32_t port;    /* VSOCK_CONNECT: the host port; 0 otherwise */
        uint32_t cookie;  /* VSOCK_CONNECT: the device's request id, echoed in the reply; 0 otherwise */
        char step[32];    /* NUL-terminated [a-z0-9_.-] for FAILED */
        char detail[80];  /* NUL-terminated printable ASCII */
} DeviceMessage;

_Static_assert(sizeof(DeviceMessage) == 128, "DeviceMessage layout is part of the device ABI");

/* daemon → device. */
typedef enum DeviceReplyType {
        DEVICE_REPLY_VSOCK_CONNECTED = 1, /* the answer to DEVICE_MSG_VSOCK_CONNECT */
} DeviceReplyType;

typedef struct DeviceReply {
        uint32_t type;    /* DeviceReplyType */
        int32_t error;    /* 0: the connected, non-blocking fd rides along (SCM_RIGHTS); else -errno, no fd */
        uint32_t port;
        uint32_t cookie;
} DeviceReply;

_Static_assert(sizeof(DeviceReply) == 16, "DeviceReply layout is part of the device ABI");

/* daemon: what a device process sent is untrusted bytes (it parses guest
 * data and may be compromised). Accepts exactly one DeviceMessage of a
 * known type with terminated, well-formed strings and a negative errno
 * where one belongs. -EBADMSG with a log line naming what is wrong. */
int device_message_decode(const void *buf, size_t n, const char *device, DeviceMessage *ret);

/* daemon: reads the next message without blocking. 1: a message; 0: EOF;
 * -EAGAIN: nothing pending; -EBADMSG: one invalid message dropped. */
int device_message_receive(int sock, const char *device, DeviceMessage *ret);

/* device: sends one message (the daemon gone is not its problem). */
int device_message_send(int sock, const DeviceMessage *m);

/* device: a reply and whether an fd came with it, checked: a known type,
 * an fd exactly when error is 0, else a -errno. -EBADMSG otherwise. */
int device_reply_decode(const void *buf, size_t n, bool has_fd, DeviceReply *ret);

/* daemon: sends one reply with fd (-1: none) attached. */
int device_reply_send(int sock, const DeviceReply *r, int fd);

/* device: reads the next reply without blocking. 1: a reply (*ret_fd the
 * fd that came with it, or -1); 0: EOF (the daemon is gone); -EAGAIN:
 * nothing pending; -EBADMSG: one invalid message dropped (its fds closed). */
int device_reply_receive(int sock, DeviceReply *ret, int *ret_fd);
