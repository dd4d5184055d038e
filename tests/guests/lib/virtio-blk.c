/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The test guests' virtio-blk driver (see virtio-blk.h). Registers take
 * 32-bit accesses only; ring and buffer fields are written with accesses
 * of their own size (the MMU is off: all memory is Device, no unaligned
 * or merged accesses). */

#include "virtio-blk.h"

#define VIRTIO_MAGIC 0x74726976u
#define VIRTIO_ID_BLOCK 2u
#define WAIT_TIMEOUT_US 5000000u
#define WAKE_US 10000u

#define SYSREG_R(r) ({ uint64_t _v; __asm__ volatile("mrs %0, " r : "=r"(_v) : : "memory"); _v; })
#define SYSREG_W(r, v) __asm__ volatile("msr " r ", %0\nisb" : : "r"((uint64_t) (v)) : "memory")

static inline void barrier(void) {
        __asm__ volatile("dmb sy" : : : "memory");
}

uint32_t vblk_r32(const vblk *d, uint32_t off) {
        return *(volatile uint32_t *) (uintptr_t) (d->base + off);
}

void vblk_w32(const vblk *d, uint32_t off, uint32_t v) {
        *(volatile uint32_t *) (uintptr_t) (d->base + off) = v;
}

uint64_t vblk_cfg64(const vblk *d, uint32_t off) {
        return vblk_r32(d, VIRTIO_MMIO_CONFIG + off) |
               (uint64_t) vblk_r32(d, VIRTIO_MMIO_CONFIG + off + 4) << 32;
}

uint64_t vblk_now_us(void) {
        uint64_t freq = SYSREG_R("cntfrq_el0");

        return freq ? SYSREG_R("cntvct_el0") / (freq / 1000000 ?: 1) : 0;
}

int vblk_probe(uint64_t base) {
        vblk d = { .base = base };
        uint32_t magic = vblk_r32(&d, VIRTIO_MMIO_MAGIC_VALUE), version = vblk_r32(&d, VIRTIO_MMIO_VERSION);
        uint32_t id = vblk_r32(&d, VIRTIO_MMIO_DEVICE_ID);

        if (magic == VIRTIO_MAGIC && version == 2 && id == VIRTIO_ID_BLOCK)
                return 0;
        if (magic == VIRTIO_MAGIC && id == 0)
                return 1;       /* a transport without a device (QEMU virt has 32) */
        uart_puts("vblk: not a virtio-mmio v2 block device: magic=");
        uart_put_hex(magic);
        uart_puts(" version=");
        uart_put_dec(version);
        uart_puts(" id=");
        uart_put_dec(id);
        uart_putc('\n');
        return -1;
}

uint64_t vblk_device_features(const vblk *d) {
        uint64_t f;

        vblk_w32(d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
        f = vblk_r32(d, VIRTIO_MMIO_DEVICE_FEATURES);
        vblk_w32(d, VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
        return f | (uint64_t) vblk_r32(d, VIRTIO_MMIO_DEVICE_FEATURES) << 32;
}

void vblk_reset(vblk *d) {
        vblk_w32(d, VIRTIO_MMIO_STATUS, 0);
        /* The write completes once the device let go of the rings; the
         * spec still has the driver read 0 back. */
        while (vblk_r32(d, VIRTIO_MMIO_STATUS) != 0)
                ;
        d->irq_bits = 0;
}

uint32_t vblk_negotiate(vblk *d, uint64_t features) {
        uint32_t s = VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER;

        vblk_reset(d);
        vblk_w32(d, VIRTIO_MMIO_STATUS, VIRTIO_STATUS_ACKNOWLEDGE);
        vblk_w32(d, VIRTIO_MMIO_STATUS, s);
        vblk_w32(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
        vblk_w32(d, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t) features);
        vblk_w32(d, VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
        vblk_w32(d, VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t) (features >> 32));
        vblk_w32(d, VIRTIO_MMIO_STATUS, s | VIRTIO_STATUS_FEATURES_OK);
        d->features = features;
        return vblk_r32(d, VIRTIO_MMIO_STATUS);
}

static void w64(const vblk *d, uint32_t low, uint64_t v) {
        vblk_w32(d, low, (uint32_t) v);
        vblk_w32(d, low + 4, (uint32_t) (v >> 32));
}

int vblk_init(vblk *d, uint64_t base, uint64_t dma, uint64_t features, uint16_t qsize, bool clear) {
        d->base = base;
        d->dma = dma;
        d->qsize = qsize;
        d->avail_idx = d->used_seen = 0;
        if (!(vblk_negotiate(d, features) & VIRTIO_STATUS_FEATURES_OK))
                return -1;
        if (clear)
                memset((void *) (uintptr_t) dma, 0, VBLK_DMA_HEADER);
        vblk_w32(d, VIRTIO_MMIO_QUEUE_SEL, 0);
        vblk_w32(d, VIRTIO_MMIO_QUEUE_NUM, qsize);
        w64(d, VIRTIO_MMIO_QUEUE_DESC_LOW, dma + VBLK_DMA_DESC);
        w64(d, VIRTIO_MMIO_QUEUE_DRIVER_LOW, dma + VBLK_DMA_AVAIL);
        w64(d, VIRTIO_MMIO_QUEUE_DEVICE_LOW, dma + VBLK_DMA_USED);
        barrier();
        vblk_w32(d, VIRTIO_MMIO_QUEUE_READY, 1);
        if (vblk_r32(d, VIRTIO_MMIO_QUEUE_READY) != 1)
                return -4;
        vblk_w32(d, VIRTIO_MMIO_STATUS, vblk_r32(d, VIRTIO_MMIO_STATUS) | VIRTIO_STATUS_DRIVER_OK);
        return 0;
}

volatile struct vring_desc *vblk_desc(const vblk *d) {
        return (volatile struct vring_desc *) (uintptr_t) (d->dma + VBLK_DMA_DESC);
}

static volatile uint16_t *ring16(const vblk *d, uint32_t off) {
        return (volatile uint16_t *) (uintptr_t) (d->dma + off);
}

void vblk_submit(vblk *d, uint16_t head) {
        volatile uint16_t *avail = ring16(d, VBLK_DMA_AVAIL);

        avail[2 + d->avail_idx % d->qsize] = head;
        barrier();      /* descriptors and slot before the index */
        avail[1] = ++d->avail_idx;
        barrier();
        vblk_w32(d, VIRTIO_MMIO_QUEUE_NOTIFY, 0);
}

/* The next used element's length, or -1 when none is there yet. */
static int take_used(vblk *d) {
        volatile uint16_t *used = ring16(d, VBLK_DMA_USED);
        volatile uint32_t *elems = (volatile uint32_t *) (uintptr_t) (d->dma + VBLK_DMA_USED + 4);

        if (used[1] == d->used_seen)
                return -1;
        barrier();
        uint32_t len = elems[2 * (d->used_seen % d->qsize) + 1];
        d->used_seen++;
        return (int) len;
}

void vblk_irq_take(vblk *d) {
        uint32_t bits = vblk_r32(d, VIRTIO_MMIO_INTERRUPT_STATUS);

        vblk_w32(d, VIRTIO_MMIO_INTERRUPT_ACK, bits);
        d->irq_bits |= bits;
        if (bits & VIRTIO_INT_VRING)
                d->vring_irqs++;
        if (bits & VIRTIO_INT_CONFIG)
                d->config_irqs++;
}

/* Sleeps until the handler recorded an interrupt of the device and
 * consumes it; the virtual timer wakes the CPU now and then to look at the
 * clock. */
static int wait_interrupt(vblk *d, uint64_t deadline) {
        for (;;) {
                __asm__ volatile("msr daifset, #2" : : : "memory");
                if (d->irq_bits) {
                        d->irq_bits = 0;
                        __asm__ volatile("msr daifclr, #2" : : : "memory");
                        return 0;
                }
                if (vblk_now_us() > deadline)
                        return VBLK_ERR_TIMEOUT;
                SYSREG_W("cntv_tval_el0", SYSREG_R("cntfrq_el0") / (1000000 / WAKE_US));
                SYSREG_W("cntv_ctl_el0", 1);
                /* Masked while deciding to sleep: a pending interrupt still
                 * ends the WFI and is taken once I is clear. */
                __asm__ volatile("wfi");
                __asm__ volatile("msr daifclr, #2\nisb" : : : "memory");
        }
}

int vblk_wait(vblk *d) {
        uint64_t deadline = vblk_now_us() + WAIT_TIMEOUT_US;

        for (;;) {
                if (d->intid) {
                        if (wait_interrupt(d, deadline) < 0)
                                return VBLK_ERR_TIMEOUT;
                }
                int len = take_used(d);
                if (len >= 0)
                        return len;
                if (vblk_r32(d, VIRTIO_MMIO_STATUS) & VIRTIO_STATUS_NEEDS_RESET)
                        return VBLK_ERR_NEEDS_RESET;
                if (vblk_now_us() > deadline)
                        return VBLK_ERR_TIMEOUT;
        }
}

static void set_desc(const vblk *d, uint16_t i, uint64_t addr, uint32_t len, uint16_t flags, uint16_t next) {
        volatile struct vring_desc *desc = vblk_desc(d);

        desc[i].addr = addr;
        desc[i].len = len;
        desc[i].flags = flags;
        desc[i].next = next;
}

void vblk_header(const vblk *d, uint32_t type, uint64_t sector) {
        volatile uint32_t *hdr = (volatile uint32_t *) (uintptr_t) vblk_dma(d, VBLK_DMA_HEADER);

        hdr[0] = type;
        hdr[1] = 0;
        hdr[2] = (uint32_t) sector;
        hdr[3] = (uint32_t) (sector >> 32);
        *(volatile uint8_t *) (uintptr_t) vblk_dma(d, VBLK_DMA_STATUS) = 0xff;
}

int vblk_request(vblk *d, uint32_t type, uint64_t sector, uint32_t len, bool to_guest) {
        volatile uint8_t *status = (volatile uint8_t *) (uintptr_t) vblk_dma(d, VBLK_DMA_STATUS);
        uint16_t n = 0;

        vblk_header(d, type, sector);
        set_desc(d, n, vblk_dma(d, VBLK_DMA_HEADER), 16, VRING_DESC_F_NEXT, n + 1);
        n++;
        if (len > 0) {
                set_desc(d, n, vblk_dma(d, VBLK_DMA_DATA), len,
                         VRING_DESC_F_NEXT | (to_guest ? VRING_DESC_F_WRITE : 0), n + 1);
                n++;
        }
        set_desc(d, n, vblk_dma(d, VBLK_DMA_STATUS), 1, VRING_DESC_F_WRITE, 0);
        vblk_submit(d, 0);
        int r = vblk_wait(d);
        if (r < 0)
                return r;
        barrier();
        return *status;
}
