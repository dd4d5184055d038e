/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* A small virtio-mmio (Version 2) + virtio-blk driver for the test guests:
 * probe, feature negotiation, one split queue of at most VBLK_QSIZE_MAX
 * entries, one request in flight, completion polled or taken as an
 * interrupt. Everything the device reads or writes (rings, request header,
 * data, status) lies in one "DMA area" at a guest address the caller
 * chooses, so that a guest whose RAM is lent puts it in the shared
 * restricted-dma-pool.
 *
 * The constants are written from the virtio 1.x spec here on purpose, not
 * taken from src/virtio: a guest that shared the device's headers would
 * share their mistakes too. */

#include "guest.h"

/* Registers (virtio 1.x §4.2.2). */
#define VIRTIO_MMIO_MAGIC_VALUE      0x000
#define VIRTIO_MMIO_VERSION          0x004
#define VIRTIO_MMIO_DEVICE_ID        0x008
#define VIRTIO_MMIO_VENDOR_ID        0x00c
#define VIRTIO_MMIO_DEVICE_FEATURES  0x010
#define VIRTIO_MMIO_DEVICE_FEATURES_SEL 0x014
#define VIRTIO_MMIO_DRIVER_FEATURES  0x020
#define VIRTIO_MMIO_DRIVER_FEATURES_SEL 0x024
#define VIRTIO_MMIO_QUEUE_SEL        0x030
#define VIRTIO_MMIO_QUEUE_NUM_MAX    0x034
#define VIRTIO_MMIO_QUEUE_NUM        0x038
#define VIRTIO_MMIO_QUEUE_READY      0x044
#define VIRTIO_MMIO_QUEUE_NOTIFY     0x050
#define VIRTIO_MMIO_INTERRUPT_STATUS 0x060
#define VIRTIO_MMIO_INTERRUPT_ACK    0x064
#define VIRTIO_MMIO_STATUS           0x070
#define VIRTIO_MMIO_QUEUE_DESC_LOW   0x080
#define VIRTIO_MMIO_QUEUE_DRIVER_LOW 0x090
#define VIRTIO_MMIO_QUEUE_DEVICE_LOW 0x0a0
#define VIRTIO_MMIO_CONFIG           0x100

#define VIRTIO_STATUS_ACKNOWLEDGE 0x01u
#define VIRTIO_STATUS_DRIVER      0x02u
#define VIRTIO_STATUS_DRIVER_OK   0x04u
#define VIRTIO_STATUS_FEATURES_OK 0x08u
#define VIRTIO_STATUS_NEEDS_RESET 0x40u

#define VIRTIO_INT_VRING  0x1u
#define VIRTIO_INT_CONFIG 0x2u

#define VIRTIO_F_VERSION_1 32
#define VIRTIO_BLK_F_SEG_MAX 2
#define VIRTIO_BLK_F_RO 5
#define VIRTIO_BLK_F_BLK_SIZE 6
#define VIRTIO_BLK_F_FLUSH 9
#define VIRTIO_BLK_F_DISCARD 13
#define VIRTIO_BLK_F_WRITE_ZEROES 14

#define VIRTIO_BLK_T_IN 0u
#define VIRTIO_BLK_T_OUT 1u
#define VIRTIO_BLK_T_FLUSH 4u
#define VIRTIO_BLK_T_GET_ID 8u
#define VIRTIO_BLK_T_DISCARD 11u
#define VIRTIO_BLK_T_WRITE_ZEROES 13u

/* virtio_blk_config offsets. */
#define VIRTIO_BLK_CFG_CAPACITY 0x00
#define VIRTIO_BLK_CFG_SEG_MAX  0x0c
#define VIRTIO_BLK_CFG_BLK_SIZE 0x14

#define VRING_DESC_F_NEXT  1u
#define VRING_DESC_F_WRITE 2u

#define VBLK_QSIZE_MAX 256u      /* the descriptor table fills its page */
#define VBLK_SECTOR 512u
/* DMA area layout (offsets): rings, then one request's header, status
 * and data buffer. */
#define VBLK_DMA_DESC   0x0000u
#define VBLK_DMA_AVAIL  0x1000u
#define VBLK_DMA_USED   0x2000u
#define VBLK_DMA_HEADER 0x3000u
#define VBLK_DMA_STATUS 0x3010u
#define VBLK_DMA_DATA   0x4000u
#define VBLK_DATA_MAX   0x2000u
#define VBLK_DMA_SIZE   (VBLK_DMA_DATA + VBLK_DATA_MAX)

/* vblk_wait() and vblk_request() failures. */
#define VBLK_ERR_NEEDS_RESET (-2)
#define VBLK_ERR_TIMEOUT     (-3)

struct vring_desc {
        uint64_t addr;
        uint32_t len;
        uint16_t flags;
        uint16_t next;
};

typedef struct vblk {
        uint64_t base;          /* the transport's registers */
        uint64_t dma;           /* the DMA area */
        uint16_t qsize;
        uint16_t avail_idx;     /* next free avail slot (free-running) */
        uint16_t used_seen;     /* used idx consumed so far */
        uint64_t features;      /* negotiated */
        /* Interrupt-driven completion: 0 polls the used ring; else the
         * guest's GIC intid of the device (see vblk_irq_*). */
        uint32_t intid;
        volatile uint32_t irq_bits;     /* InterruptStatus bits taken, not yet waited for */
        volatile uint32_t vring_irqs;   /* interrupts with the used-ring bit */
        volatile uint32_t config_irqs;  /* ... with the config-change bit */
} vblk;

uint32_t vblk_r32(const vblk *d, uint32_t off);
void vblk_w32(const vblk *d, uint32_t off, uint32_t v);
uint64_t vblk_cfg64(const vblk *d, uint32_t off);

/* Magic "virt", Version 2 and DeviceID 2: 0; an empty transport (DeviceID
 * 0): 1; else -1 (and says why). */
int vblk_probe(uint64_t base);
uint64_t vblk_device_features(const vblk *d);
/* Reset, ACKNOWLEDGE|DRIVER, the driver's features, FEATURES_OK; returns
 * Status as read back (FEATURES_OK clear: refused). */
uint32_t vblk_negotiate(vblk *d, uint64_t features);
/* vblk_negotiate(), queue 0 with qsize entries (written as given, even
 * if not a power of two) in the DMA area (rings zeroed first if clear: a
 * re-init must not see the old indices), QueueReady, DRIVER_OK.
 * 0; -1 FEATURES_OK refused; -4 QueueReady reads back 0 (refused). */
int vblk_init(vblk *d, uint64_t base, uint64_t dma, uint64_t features, uint16_t qsize, bool clear);
void vblk_reset(vblk *d);

/* The descriptor table and the request buffers, for building chains. */
volatile struct vring_desc *vblk_desc(const vblk *d);
static inline uint64_t vblk_dma(const vblk *d, uint32_t off) {
        return d->dma + off;
}
/* Makes head available and notifies. */
void vblk_submit(vblk *d, uint16_t head);
/* Waits (at most ~5 s) for the next used element: its written length,
 * VBLK_ERR_NEEDS_RESET or VBLK_ERR_TIMEOUT. */
int vblk_wait(vblk *d);
/* Fills the request header in the DMA area (VBLK_DMA_HEADER, 16 bytes)
 * and sets the status byte (VBLK_DMA_STATUS) to 0xff. */
void vblk_header(const vblk *d, uint32_t type, uint64_t sector);
/* One request: header (type, sector), data of len bytes at
 * VBLK_DMA_DATA (device-writable when to_guest; none when len is 0),
 * status. Returns the status byte or a VBLK_ERR_*. */
int vblk_request(vblk *d, uint32_t type, uint64_t sector, uint32_t len, bool to_guest);
static inline volatile uint8_t *vblk_data(const vblk *d) {
        return (volatile uint8_t *) (uintptr_t) (d->dma + VBLK_DMA_DATA);
}

/* Interrupt-driven completion: with d->intid set, vblk_wait() sleeps in
 * WFI (the virtual timer, PPI 27, armed 10 ms ahead as a wake-up: the
 * guest enables it and masks it in its handler) until the guest's IRQ
 * handler has called vblk_irq_take() for the device's interrupt. */
#define VBLK_PPI_VTIMER 27u
/* Reads InterruptStatus, acknowledges it, records the bits. */
void vblk_irq_take(vblk *d);

/* Generic timer. */
uint64_t vblk_now_us(void);
