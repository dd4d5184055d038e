/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The vsock device process's parts (vsock-device.c: the loop and the
 * transport; vsock-host.c: host sockets; vsock-listener.c: clients of
 * <vmdir>/vsock before their CONNECT line). */

#include <stdint.h>

#include "device.h"
#include "virtio-vsock-engine.h"

#define VSOCK_CLIENTS_MAX 16u           /* accepted, CONNECT line not read yet */
#define VSOCK_CONNECT_LINE_MAX 32u
#define VSOCK_CONNECT_TIMEOUT_USEC (5u * 1000 * 1000)

/* epoll data: what an event is about (high 32 bits) and which (low). */
enum {
        VSOCK_EV_KICK = 1,
        VSOCK_EV_CONTROL,
        VSOCK_EV_LISTENER,
        VSOCK_EV_CLIENT,        /* index into clients[] */
        VSOCK_EV_CONN,          /* a VsockConn id */
};

typedef struct VsockClient {
        int fd;                 /* -1: free slot */
        uint64_t deadline_usec; /* CLOCK_MONOTONIC */
} VsockClient;

typedef struct VsockDevice {
        DeviceContext *ctx;
        VsockEngine engine;
        int listen_fd;
        VsockClient clients[VSOCK_CLIENTS_MAX];
        unsigned n_clients;
} VsockDevice;

extern const VsockHostOps vsock_host_ops;

/* Watches fd (edge-triggered for connections): what, which as above. */
int vsock_watch(VsockDevice *d, int fd, uint32_t events, uint32_t what, uint32_t which);

/* A reply of the daemon to a guest → host connect. */
void vsock_host_reply(VsockDevice *d, const DeviceReply *reply, int fd);

/* Accepts what waits on the listener. */
void vsock_listener_accept(VsockDevice *d);
/* A client's CONNECT line may have arrived. */
void vsock_client_readable(VsockDevice *d, unsigned index);
/* Closes clients past their deadline; the epoll timeout until the next
 * one (-1: none). */
int vsock_clients_expire(VsockDevice *d);
void vsock_clients_close(VsockDevice *d);
