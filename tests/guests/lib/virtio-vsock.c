/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The test guests' raw virtio-vsock driver (see virtio-vsock.h). */

#include "virtio-vsock.h"

#define VIRTIO_MAGIC 0x74726976u
#define TX_TIMEOUT_US 5000000u
#define EVENT_BUF 16u

static inline void barrier(void) {
        __asm__ volatile("dmb sy" : : : "memory");
}

int vvsock_probe(uint64_t base) {
        vblk t = { .base = base };

        if (vblk_r32(&t, VIRTIO_MMIO_MAGIC_VALUE) == VIRTIO_MAGIC && vblk_r32(&t, VIRTIO_MMIO_VERSION) == 2 &&
            vblk_r32(&t, VIRTIO_MMIO_DEVICE_ID) == VIRTIO_ID_VSOCK)
                return 0;
        return -1;
}

static volatile struct vring_desc *desc_of(const vvq *q, uint16_t i) {
        return (volatile struct vring_desc *) (uintptr_t) q->desc + i;
}

static volatile uint16_t *avail_of(const vvq *q) {
        return (volatile uint16_t *) (uintptr_t) q->avail;
}

static void set_desc(const vvq *q, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags) {
        volatile struct vring_desc *d = desc_of(q, i);

        d->addr = addr;
        d->len = len;
        d->flags = flags;
        d->next = 0;
}

static void submit(vvsock *v, unsigned qi, uint16_t head) {
        vvq *q = &v->q[qi];

        avail_of(q)[2 + q->avail_idx % q->size] = head;
        barrier();
        avail_of(q)[1] = ++q->avail_idx;
        barrier();
        vblk_w32(&v->t, VIRTIO_MMIO_QUEUE_NOTIFY, qi);
}

/* The next used element of queue qi (id and length), or false. */
static bool take_used(vvq *q, uint32_t *ret_id, uint32_t *ret_len) {
        volatile uint16_t *used = (volatile uint16_t *) (uintptr_t) q->used;
        volatile uint32_t *elems = (volatile uint32_t *) (uintptr_t) (q->used + 4);

        if (used[1] == q->used_seen)
                return false;
        barrier();
        *ret_id = elems[2 * (q->used_seen % q->size)];
        *ret_len = elems[2 * (q->used_seen % q->size) + 1];
        q->used_seen++;
        return true;
}

static int queue_init(vvsock *v, unsigned qi, uint64_t rings, uint16_t size) {
        vvq *q = &v->q[qi];

        *q = (vvq) { .desc = rings, .avail = rings + 0x1000, .used = rings + 0x2000, .size = size };
        memset((void *) (uintptr_t) rings, 0, 0x3000);
        vblk_w32(&v->t, VIRTIO_MMIO_QUEUE_SEL, qi);
        vblk_w32(&v->t, VIRTIO_MMIO_QUEUE_NUM, size);
        vblk_w32(&v->t, VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t) q->desc);
        vblk_w32(&v->t, VIRTIO_MMIO_QUEUE_DESC_LOW + 4, (uint32_t) (q->desc >> 32));
        vblk_w32(&v->t, VIRTIO_MMIO_QUEUE_DRIVER_LOW, (uint32_t) q->avail);
        vblk_w32(&v->t, VIRTIO_MMIO_QUEUE_DRIVER_LOW + 4, (uint32_t) (q->avail >> 32));
        vblk_w32(&v->t, VIRTIO_MMIO_QUEUE_DEVICE_LOW, (uint32_t) q->used);
        vblk_w32(&v->t, VIRTIO_MMIO_QUEUE_DEVICE_LOW + 4, (uint32_t) (q->used >> 32));
        barrier();
        vblk_w32(&v->t, VIRTIO_MMIO_QUEUE_READY, 1);
        return vblk_r32(&v->t, VIRTIO_MMIO_QUEUE_READY) == 1 ? 0 : -4;
}

int vvsock_init(vvsock *v, uint64_t base, uint64_t dma) {
        v->t = (vblk) { .base = base, .dma = dma };
        if (!(vblk_negotiate(&v->t, UINT64_C(1) << VIRTIO_F_VERSION_1) & VIRTIO_STATUS_FEATURES_OK))
                return -1;
        for (unsigned qi = 0; qi < VVS_QUEUES; qi++) {
                int r = queue_init(v, qi, dma + qi * 0x3000u, VVS_QSIZE);
                if (r < 0)
                        return r;
        }
        v->cid = vblk_cfg64(&v->t, VVS_CFG_GUEST_CID);
        vblk_w32(&v->t, VIRTIO_MMIO_STATUS, vblk_r32(&v->t, VIRTIO_MMIO_STATUS) | VIRTIO_STATUS_DRIVER_OK);
        /* Every rx and event buffer to the device, each its own descriptor. */
        for (uint16_t i = 0; i < VVS_QSIZE; i++) {
                set_desc(&v->q[VVS_RXQ], i, dma + VVS_DMA_RX_BUFS + i * VVS_RX_BUF, VVS_RX_BUF, VRING_DESC_F_WRITE);
                set_desc(&v->q[VVS_EVQ], i, dma + VVS_DMA_EVENTS + i * EVENT_BUF, EVENT_BUF, VRING_DESC_F_WRITE);
                submit(v, VVS_RXQ, i);
                submit(v, VVS_EVQ, i);
        }
        return 0;
}

volatile uint8_t *vvsock_tx_buf(const vvsock *v) {
        return (volatile uint8_t *) (uintptr_t) (v->t.dma + VVS_DMA_TX_BUF);
}

/* The header's fields sit at their natural alignment in the 44 bytes. */
void vvsock_put_hdr(volatile uint8_t *p, const vsock_hdr *h) {
        *(volatile uint64_t *) (p + 0) = h->src_cid;
        *(volatile uint64_t *) (p + 8) = h->dst_cid;
        *(volatile uint32_t *) (p + 16) = h->src_port;
        *(volatile uint32_t *) (p + 20) = h->dst_port;
        *(volatile uint32_t *) (p + 24) = h->len;
        *(volatile uint16_t *) (p + 28) = h->type;
        *(volatile uint16_t *) (p + 30) = h->op;
        *(volatile uint32_t *) (p + 32) = h->flags;
        *(volatile uint32_t *) (p + 36) = h->buf_alloc;
        *(volatile uint32_t *) (p + 40) = h->fwd_cnt;
}

static void get_hdr(const volatile uint8_t *p, vsock_hdr *h) {
        h->src_cid = *(const volatile uint64_t *) (p + 0);
        h->dst_cid = *(const volatile uint64_t *) (p + 8);
        h->src_port = *(const volatile uint32_t *) (p + 16);
        h->dst_port = *(const volatile uint32_t *) (p + 20);
        h->len = *(const volatile uint32_t *) (p + 24);
        h->type = *(const volatile uint16_t *) (p + 28);
        h->op = *(const volatile uint16_t *) (p + 30);
        h->flags = *(const volatile uint32_t *) (p + 32);
        h->buf_alloc = *(const volatile uint32_t *) (p + 36);
        h->fwd_cnt = *(const volatile uint32_t *) (p + 40);
}

int vvsock_send_raw(vvsock *v, uint32_t chain_len) {
        vvq *q = &v->q[VVS_TXQ];
        uint64_t deadline = vblk_now_us() + TX_TIMEOUT_US;
        uint32_t id, len;

        set_desc(q, 0, v->t.dma + VVS_DMA_TX_BUF, chain_len, 0);
        submit(v, VVS_TXQ, 0);
        while (!take_used(q, &id, &len)) {
                if (vblk_r32(&v->t, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_NEEDS_RESET)
                        return VBLK_ERR_NEEDS_RESET;
                if (vblk_now_us() > deadline)
                        return VVS_ERR_TIMEOUT;
        }
        return 0;
}

int vvsock_send(vvsock *v, const vsock_hdr *h, const void *payload, uint32_t n) {
        volatile uint8_t *buf = vvsock_tx_buf(v);
        vsock_hdr with_len = *h;

        if (n > VVS_TX_MAX - VSOCK_HDR_SIZE)
                n = VVS_TX_MAX - VSOCK_HDR_SIZE;
        with_len.len = n;
        vvsock_put_hdr(buf, &with_len);
        for (uint32_t i = 0; i < n; i++)
                buf[VSOCK_HDR_SIZE + i] = ((const uint8_t *) payload)[i];
        return vvsock_send_raw(v, VSOCK_HDR_SIZE + n);
}

int vvsock_recv(vvsock *v, vsock_hdr *ret, uint8_t *payload, uint32_t max, uint64_t timeout_us) {
        vvq *q = &v->q[VVS_RXQ];
        uint64_t deadline = vblk_now_us() + timeout_us;
        uint32_t id, len;

        while (!take_used(q, &id, &len))
                if (vblk_now_us() > deadline)
                        return VVS_ERR_TIMEOUT;
        const volatile uint8_t *buf = (const volatile uint8_t *) (uintptr_t) (v->t.dma + VVS_DMA_RX_BUFS +
                                                                              (id % VVS_QSIZE) * VVS_RX_BUF);
        get_hdr(buf, ret);
        uint32_t n = len > VSOCK_HDR_SIZE ? len - VSOCK_HDR_SIZE : 0;
        if (n > ret->len)
                n = ret->len;
        if (n > max)
                n = max;
        for (uint32_t i = 0; i < n; i++)
                payload[i] = buf[VSOCK_HDR_SIZE + i];
        submit(v, VVS_RXQ, (uint16_t) (id % VVS_QSIZE));
        return (int) n;
}
