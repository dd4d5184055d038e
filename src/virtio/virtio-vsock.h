/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * The virtio-vsock device (virtio 1.x "Socket Device"): what the daemon
 * (it fills the register page) and the device process must agree on.
 * Three queues: rx (device → driver packets), tx (driver → device),
 * event (transport events; we only ever leave it alone). Stream sockets
 * only: VIRTIO_VSOCK_F_SEQPACKET is not offered, only VERSION_1.
 */

#include <stdint.h>

#define VIRTIO_VSOCK_DEVICE_ID 19
#define VIRTIO_VSOCK_QUEUES 3
#define VIRTIO_VSOCK_QUEUE_MAX 256
#define VIRTIO_VSOCK_QUEUE_RX 0
#define VIRTIO_VSOCK_QUEUE_TX 1
#define VIRTIO_VSOCK_QUEUE_EVENT 2

#define VIRTIO_VSOCK_CONFIG_SIZE 8

/* struct virtio_vsock_config: le64 guest_cid. */
static inline void virtio_vsock_config(uint64_t cid, uint8_t out[VIRTIO_VSOCK_CONFIG_SIZE]) {
        for (unsigned i = 0; i < VIRTIO_VSOCK_CONFIG_SIZE; i++)
                out[i] = (uint8_t) (cid >> (8 * i));
}
