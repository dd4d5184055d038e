/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Drives the VM's virtio-blk disks (every "virtio,mmio" node of the
 * devicetree, in order) with lib/virtio-blk.c and prints what the device
 * answered, one "blk: disk=K op=OP key=value..." line per step, for
 * tests/integration/test_virtio_blk.py to check against the images.
 *
 * Bootargs:
 *   test=io|malformed|all (default io): the request suite on every disk;
 *     the malformed chains on disk 0; both.
 *   irq=1: completions are taken as the device's interrupt through the
 *     GIC (SPI 16 + transport index), not polled from the used ring.
 *   dma=ADDR: the DMA area (rings and buffers, 64 KiB per disk); default
 *     the restricted-dma-pool of /reserved-memory when there is one (RAM
 *     lent, only the pool shared), else the 64 KiB after the image.
 *
 * The request suite (sectors of 512 bytes): the feature offer and config;
 * FEATURES_OK without VERSION_1 and with a bit not offered (both
 * refused); WRITE_ZEROES with only VERSION_1 negotiated; then with the
 * offered features this driver knows: GET_ID, a read of sectors 0-7 (FNV-1a 64 of the
 * bytes), a write of pattern() to sectors 8-15 and its read-back, FLUSH,
 * WRITE_ZEROES of 16-23 and its read-back, DISCARD of 24-31, reads at and
 * across the end, an unknown type, a read of sectors 0-7 split into SEG_MAX
 * data segments.
 *
 * The malformed chains, each followed by a reset, a re-init and a read of
 * sector 0 ("op=recover"): a data descriptor outside the memory the device
 * may reach (past the end of RAM, and the DTB, which gunyahd lends even
 * when RAM is shared; with a pool, lent RAM holding a secret, both as the
 * source of a write to sector 40 and as the target of a read), a
 * descriptor loop, a read with SEG_MAX + 1 data segments, a queue size of
 * 6, rings outside reachable memory. Each must leave DEVICE_NEEDS_RESET
 * (0x40) in Status.
 * Ends with "blk: irqs vring=N config=M" (irq=1) and "blk: done". */

#include "gicv3.h"
#include "lib/virtio-blk.h"
#include "vectors.h"

#define DISKS_MAX 8
#define TRANSPORTS_MAX 32       /* QEMU virt's */
#define DMA_STRIDE 0x10000u
#define VIRTIO_MMIO_BASE 0x0a000000u
#define VIRTIO_MMIO_WINDOW 0x200u
#define VIRTIO_SPI_BASE 16u
#define IO_SECTORS 8u
#define WRITE_SECTOR 8u
#define ZERO_SECTOR 16u
#define DISCARD_SECTOR 24u
#define LENT_SECTOR 40u
#define UNKNOWN_TYPE 0x7fu
#define UNOFFERED_BIT 28        /* VIRTIO_RING_F_INDIRECT_DESC */
#define QSIZE 8u
#define BIG_QSIZE 256u          /* for chains of many segments */
#define PIECE 16u               /* bytes per data segment of split_read() */
#define BAD_QSIZE 6u
#define SECRET 0xc5u
#define V1 (UINT64_C(1) << VIRTIO_F_VERSION_1)
#define F(bit) (UINT64_C(1) << (bit))
/* What this driver knows how to use: it accepts no other offered bit
 * (EVENT_IDX, say, would change when the device interrupts). */
#define DRIVER_FEATURES (V1 | F(VIRTIO_BLK_F_SEG_MAX) | F(VIRTIO_BLK_F_RO) | F(VIRTIO_BLK_F_BLK_SIZE) | \
                         F(VIRTIO_BLK_F_FLUSH) | F(VIRTIO_BLK_F_DISCARD) | F(VIRTIO_BLK_F_WRITE_ZEROES))

#define GICD_IGROUPR 0x0080
#define GICD_ISENABLER 0x0100
#define GICD_IPRIORITYR 0x0400
#define GICD_IROUTER 0x6000

static vblk *irq_dev;
static bool use_irq;
/* Lent RAM in lend mode (in the image, below the pool): never reachable
 * by the device. Page aligned, room for a set of rings. */
static uint8_t lent[VBLK_DMA_HEADER] __attribute__((aligned(4096)));

void vec_handler(uint64_t slot, uint64_t *frame) {
        uint64_t intid;

        if (slot != VEC_SLOT_IRQ_CUR) {
                uart_puts("blk: unexpected exception\n");
                psci_system_off();
        }
        intid = ICC_READ(ICC_IAR1);
        if (intid >= 1020)
                return;         /* spurious */
        if (intid == VBLK_PPI_VTIMER)
                __asm__ volatile("msr cntv_ctl_el0, xzr\nisb");
        else if (irq_dev && intid == irq_dev->intid)
                vblk_irq_take(irq_dev);
        else {
                uart_puts("blk: unexpected intid ");
                uart_put_dec((int64_t) intid);
                uart_putc('\n');
        }
        ICC_WRITE(ICC_EOIR1, intid);
}

static void irq_setup(void) {
        vectors_install();
        gic_dist_init();
        gic_cpu_init(0, 1u << VBLK_PPI_VTIMER);
}

/* The device's SPI to CPU 0; d's completions through it from now on. */
static void irq_attach(vblk *d, uint32_t index) {
        uint32_t intid = 32 + VIRTIO_SPI_BASE + index;

        /* Group 1, the one the CPU interface takes (a GIC resets SPIs to 0). */
        mmio_w32(gicd_base + GICD_IGROUPR + 4 * (intid / 32),
                 mmio_r32(gicd_base + GICD_IGROUPR + 4 * (intid / 32)) | 1u << (intid % 32));
        *(volatile uint8_t *) (uintptr_t) (gicd_base + GICD_IPRIORITYR + intid) = 0xa0;
        mmio_w32(gicd_base + GICD_IROUTER + 8 * intid, 0);
        mmio_w32(gicd_base + GICD_IROUTER + 8 * intid + 4, 0);
        mmio_w32(gicd_base + GICD_ISENABLER + 4 * (intid / 32), 1u << (intid % 32));
        d->intid = intid;
        irq_dev = d;
        irqs_on();
}

/* --- console lines --- */

static void say(unsigned disk, const char *op) {
        uart_puts("blk: disk=");
        uart_put_dec(disk);
        uart_puts(" op=");
        uart_puts(op);
}

static void kv(const char *key, uint64_t v) {
        uart_putc(' ');
        uart_puts(key);
        uart_putc('=');
        uart_put_dec((int64_t) v);
}

static void kvx(const char *key, uint64_t v) {
        uart_putc(' ');
        uart_puts(key);
        uart_putc('=');
        uart_put_hex(v);
}

static void kvs(const char *key, const char *v) {
        uart_putc(' ');
        uart_puts(key);
        uart_putc('=');
        uart_puts(v);
}

static void kv_status(int st) {
        if (st == VBLK_ERR_NEEDS_RESET)
                kvs("status", "needs_reset");
        else if (st == VBLK_ERR_TIMEOUT)
                kvs("status", "timeout");
        else
                kv("status", (uint64_t) st);
}

static void end(void) {
        uart_putc('\n');
}

/* --- data --- */

/* Byte j of sector s written to disk k (the host test computes the same). */
static uint8_t pattern(unsigned k, uint64_t s, uint32_t j) {
        return (uint8_t) (s * 13 + j * 7 + k * 101 + 1);
}

static uint64_t fnv1a(const volatile uint8_t *p, uint32_t n) {
        uint64_t h = 0xcbf29ce484222325ULL;

        for (uint32_t i = 0; i < n; i++)
                h = (h ^ p[i]) * 0x100000001b3ULL;
        return h;
}

static void fill(volatile uint8_t *p, uint8_t v, uint32_t n) {
        for (uint32_t i = 0; i < n; i++)
                p[i] = v;
}

static bool all_equal(const volatile uint8_t *p, uint8_t v, uint32_t n) {
        for (uint32_t i = 0; i < n; i++)
                if (p[i] != v)
                        return false;
        return true;
}

/* A DISCARD / WRITE_ZEROES segment as the request's data. */
static void range_segment(vblk *d, uint64_t sector, uint32_t n) {
        volatile uint32_t *seg = (volatile uint32_t *) vblk_data(d);

        seg[0] = (uint32_t) sector;
        seg[1] = (uint32_t) (sector >> 32);
        seg[2] = n;
        seg[3] = 0;
}

/* Runs one request and starts its line; the caller may add to it. */
static int request(vblk *d, unsigned k, const char *op, uint32_t type, uint64_t sector, uint32_t len,
                   bool to_guest) {
        int st = vblk_request(d, type, sector, len, to_guest);

        say(k, op);
        kv("sector", sector);
        kv("len", len);
        kv_status(st);
        return st;
}

/* A read of sectors 0-7 into n data descriptors (16 bytes each, the
 * last takes the rest) between the header and the status: n + 2
 * segments. Returns the status or a VBLK_ERR_*. */
static int split_read(vblk *d, unsigned n) {
        volatile struct vring_desc *desc = vblk_desc(d);
        const uint32_t len = IO_SECTORS * VBLK_SECTOR;

        vblk_header(d, VIRTIO_BLK_T_IN, 0);
        desc[0] = (struct vring_desc) { vblk_dma(d, VBLK_DMA_HEADER), 16, VRING_DESC_F_NEXT, 1 };
        for (unsigned i = 0; i < n; i++)
                desc[1 + i] = (struct vring_desc) { vblk_dma(d, VBLK_DMA_DATA + i * PIECE),
                                                    i + 1 < n ? PIECE : len - (n - 1) * PIECE,
                                                    VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, (uint16_t) (i + 2) };
        desc[n + 1] = (struct vring_desc) { vblk_dma(d, VBLK_DMA_STATUS), 1, VRING_DESC_F_WRITE, 0 };
        vblk_submit(d, 0);
        int r = vblk_wait(d);
        return r < 0 ? r : *(volatile uint8_t *) (uintptr_t) vblk_dma(d, VBLK_DMA_STATUS);
}

/* SEG_MAX data segments, as many as the table allows. */
static unsigned seg_max(const vblk *d) {
        uint32_t n = vblk_r32(d, VIRTIO_MMIO_CONFIG + VIRTIO_BLK_CFG_SEG_MAX);

        return n < BIG_QSIZE - 2 ? n : BIG_QSIZE - 2;
}

/* --- the request suite --- */

/* The offer, the config, and what FEATURES_OK refuses. */
static uint64_t feature_checks(vblk *d, unsigned k, uint64_t dma) {
        uint64_t offered = vblk_device_features(d);
        uint32_t st;

        say(k, "probe");
        kvx("vendor", vblk_r32(d, VIRTIO_MMIO_VENDOR_ID));
        kvx("features", offered);
        kv("capacity", vblk_cfg64(d, VIRTIO_BLK_CFG_CAPACITY));
        kv("seg_max", vblk_r32(d, VIRTIO_MMIO_CONFIG + VIRTIO_BLK_CFG_SEG_MAX));
        kv("blk_size", vblk_r32(d, VIRTIO_MMIO_CONFIG + VIRTIO_BLK_CFG_BLK_SIZE));
        kv("queue_num_max", vblk_r32(d, VIRTIO_MMIO_QUEUE_NUM_MAX));
        end();

        st = vblk_negotiate(d, offered & ~V1);
        say(k, "no-version-1");
        kv("features_ok", !!(st & VIRTIO_STATUS_FEATURES_OK));
        end();
        st = vblk_negotiate(d, offered | UINT64_C(1) << UNOFFERED_BIT);
        say(k, "unoffered-bit");
        kv("features_ok", !!(st & VIRTIO_STATUS_FEATURES_OK));
        end();

        /* Only VERSION_1: a WRITE_ZEROES is a type not negotiated. */
        say(k, "init-version-1");
        kv("result", (uint64_t) -vblk_init(d, d->base, dma, V1, QSIZE, true));
        end();
        range_segment(d, ZERO_SECTOR, IO_SECTORS);
        (void) request(d, k, "write-zeroes-unnegotiated", VIRTIO_BLK_T_WRITE_ZEROES, 0, 16, false);
        end();
        return offered;
}

static void serial_request(vblk *d, unsigned k) {
        volatile uint8_t *data = vblk_data(d);
        char serial[21];
        unsigned n;

        fill(data, 0, 20);
        int st = request(d, k, "get-id", VIRTIO_BLK_T_GET_ID, 0, 20, true);
        for (n = 0; st == 0 && n < 20 && data[n]; n++)
                serial[n] = (char) data[n];
        serial[n] = '\0';
        kvs("serial", serial);
        end();
}

static void read_write_requests(vblk *d, unsigned k) {
        volatile uint8_t *data = vblk_data(d);
        const uint32_t len = IO_SECTORS * VBLK_SECTOR;
        bool match = true;

        if (request(d, k, "read", VIRTIO_BLK_T_IN, 0, len, true) == 0)
                kvx("fnv", fnv1a(data, len));
        end();

        for (uint32_t i = 0; i < len; i++)
                data[i] = pattern(k, WRITE_SECTOR + i / VBLK_SECTOR, i % VBLK_SECTOR);
        (void) request(d, k, "write", VIRTIO_BLK_T_OUT, WRITE_SECTOR, len, false);
        end();
        fill(data, 0, len);
        (void) request(d, k, "read-back", VIRTIO_BLK_T_IN, WRITE_SECTOR, len, true);
        for (uint32_t i = 0; i < len; i++)
                match = match && data[i] == pattern(k, WRITE_SECTOR + i / VBLK_SECTOR, i % VBLK_SECTOR);
        kv("match", match);
        end();
        (void) request(d, k, "flush", VIRTIO_BLK_T_FLUSH, 0, 0, false);
        end();
}

static void range_requests(vblk *d, unsigned k, uint64_t capacity) {
        volatile uint8_t *data = vblk_data(d);
        const uint32_t len = IO_SECTORS * VBLK_SECTOR;

        range_segment(d, ZERO_SECTOR, IO_SECTORS);
        (void) request(d, k, "write-zeroes", VIRTIO_BLK_T_WRITE_ZEROES, 0, 16, false);
        end();
        fill(data, 0xee, len);
        if (request(d, k, "read-zeroed", VIRTIO_BLK_T_IN, ZERO_SECTOR, len, true) == 0)
                kv("zero", all_equal(data, 0, len));
        end();
        range_segment(d, DISCARD_SECTOR, IO_SECTORS);
        (void) request(d, k, "discard", VIRTIO_BLK_T_DISCARD, 0, 16, false);
        end();
        (void) request(d, k, "read-past-end", VIRTIO_BLK_T_IN, capacity, VBLK_SECTOR, true);
        end();
        (void) request(d, k, "read-across-end", VIRTIO_BLK_T_IN, capacity - 1, 2 * VBLK_SECTOR, true);
        end();
        (void) request(d, k, "unknown-type", UNKNOWN_TYPE, 0, 0, false);
        end();
}

static void io_suite(vblk *d, unsigned k, uint64_t dma) {
        uint64_t accepted = feature_checks(d, k, dma) & DRIVER_FEATURES;
        int r = vblk_init(d, d->base, dma, accepted, QSIZE, true);

        say(k, "init");
        kvx("features", accepted);
        kv("result", (uint64_t) -r);
        end();
        if (r < 0)
                return;
        serial_request(d, k);
        read_write_requests(d, k);
        range_requests(d, k, vblk_cfg64(d, VIRTIO_BLK_CFG_CAPACITY));

        /* As many data segments as SEG_MAX allows: one request. */
        unsigned n = seg_max(d);
        r = vblk_init(d, d->base, dma, accepted, BIG_QSIZE, true);
        int st = r < 0 ? r : split_read(d, n);
        say(k, "read-seg-max");
        kv("segments", n);
        kv_status(st);
        if (st == 0)
                kvx("fnv", fnv1a(vblk_data(d), IO_SECTORS * VBLK_SECTOR));
        end();
}

/* --- malformed chains --- */

static uint32_t wait_needs_reset(vblk *d) {
        uint64_t deadline = vblk_now_us() + 5000000;
        uint32_t st;

        while (!((st = vblk_r32(d, VIRTIO_MMIO_STATUS)) & VIRTIO_STATUS_NEEDS_RESET) && vblk_now_us() < deadline)
                ;
        return st;
}

/* result: a request's status (a VBLK_ERR_*), or with init what
 * vblk_init() returned. */
static void case_line(vblk *d, unsigned k, const char *name, int result, bool init) {
        uint32_t st = wait_needs_reset(d);

        say(k, "case");
        kvs("name", name);
        if (init)
                kv("init", (uint64_t) -result);
        else
                kv_status(result);
        kvx("device_status", st);
        kv("needs_reset", !!(st & VIRTIO_STATUS_NEEDS_RESET));
        end();
}

/* After a case: reset, re-init with the good rings, read sector 0. */
static void recover(vblk *d, unsigned k, uint64_t dma, const char *after) {
        int r = vblk_init(d, d->base, dma, V1, QSIZE, true);
        int st = r < 0 ? r : vblk_request(d, VIRTIO_BLK_T_IN, 0, VBLK_SECTOR, true);

        say(k, "recover");
        kvs("after", after);
        kv("init", (uint64_t) -r);
        kv_status(st);
        if (st == 0)
                kvx("fnv", fnv1a(vblk_data(d), VBLK_SECTOR));
        end();
}

/* header, one data descriptor at addr, status. */
static int bad_data_request(vblk *d, uint32_t type, uint64_t sector, uint64_t addr) {
        volatile struct vring_desc *desc = vblk_desc(d);
        bool to_guest = type == VIRTIO_BLK_T_IN;

        vblk_header(d, type, sector);
        desc[0] = (struct vring_desc) { vblk_dma(d, VBLK_DMA_HEADER), 16, VRING_DESC_F_NEXT, 1 };
        desc[1] = (struct vring_desc) { addr, VBLK_SECTOR,
                                        VRING_DESC_F_NEXT | (to_guest ? VRING_DESC_F_WRITE : 0), 2 };
        desc[2] = (struct vring_desc) { vblk_dma(d, VBLK_DMA_STATUS), 1, VRING_DESC_F_WRITE, 0 };
        vblk_submit(d, 0);
        return vblk_wait(d);
}

/* 0 -> 1 -> 2 -> 1 ...: readable descriptors in a cycle. */
static int loop_request(vblk *d) {
        volatile struct vring_desc *desc = vblk_desc(d);

        desc[0] = (struct vring_desc) { vblk_dma(d, VBLK_DMA_HEADER), 16, VRING_DESC_F_NEXT, 1 };
        desc[1] = (struct vring_desc) { vblk_dma(d, VBLK_DMA_DATA), VBLK_SECTOR, VRING_DESC_F_NEXT, 2 };
        desc[2] = (struct vring_desc) { vblk_dma(d, VBLK_DMA_DATA + VBLK_SECTOR), VBLK_SECTOR,
                                        VRING_DESC_F_NEXT, 1 };
        vblk_submit(d, 0);
        return vblk_wait(d);
}

/* bad: an address the device must not reach; lent: whether it is lent
 * RAM the guest may use (then the device must neither read nor write it). */
static void malformed_suite(vblk *d, unsigned k, uint64_t dma, uint64_t bad, bool lent_ram) {
        int r;

        recover(d, k, dma, "start");
        if (lent_ram) {
                fill(lent, SECRET, sizeof(lent));
                case_line(d, k, "lent-write-source", bad_data_request(d, VIRTIO_BLK_T_OUT, LENT_SECTOR, bad), false);
                recover(d, k, dma, "lent-write-source");
                case_line(d, k, "lent-read-target", bad_data_request(d, VIRTIO_BLK_T_IN, 0, bad), false);
                say(k, "lent-intact");
                kv("intact", all_equal(lent, SECRET, sizeof(lent)));
                end();
                recover(d, k, dma, "lent-read-target");
                if (vblk_request(d, VIRTIO_BLK_T_IN, LENT_SECTOR, VBLK_SECTOR, true) == 0) {
                        say(k, "lent-sector");
                        kv("secret", all_equal(vblk_data(d), SECRET, VBLK_SECTOR));
                        end();
                }
        } else {
                case_line(d, k, "outside", bad_data_request(d, VIRTIO_BLK_T_OUT, LENT_SECTOR, bad), false);
                recover(d, k, dma, "outside");
                /* RAM, but the DTB window is lent even when RAM is shared. */
                case_line(d, k, "dtb-window", bad_data_request(d, VIRTIO_BLK_T_OUT, LENT_SECTOR,
                                                               (uint64_t) (uintptr_t) guest_dtb), false);
                recover(d, k, dma, "dtb-window");
        }
        case_line(d, k, "loop", loop_request(d), false);
        recover(d, k, dma, "loop");
        r = vblk_init(d, d->base, dma, V1, BIG_QSIZE, true);
        case_line(d, k, "seg-max-exceeded", r < 0 ? r : split_read(d, seg_max(d) + 1), false);
        recover(d, k, dma, "seg-max-exceeded");
        r = vblk_init(d, d->base, dma, V1, BAD_QSIZE, true);
        case_line(d, k, "queue-size-6", r, true);
        recover(d, k, dma, "queue-size-6");
        r = vblk_init(d, d->base, bad, V1, QSIZE, lent_ram);
        case_line(d, k, "rings-outside", r, true);
        recover(d, k, dma, "rings-outside");
}

/* --- main --- */

static uint64_t dma_area(bool *ret_pool) {
        uint64_t pool, dflt = ((uint64_t) (uintptr_t) __image_end + DMA_STRIDE - 1) & ~(uint64_t) (DMA_STRIDE - 1);

        *ret_pool = guest_dtb && fdt_compatible_reg(guest_dtb, "restricted-dma-pool", &pool) == 0;
        if (*ret_pool)
                dflt = pool;
        return fdt_bootarg(guest_dtb, "dma", dflt);
}

void guest_main(void) {
        static vblk disks[DISKS_MAX];
        uint64_t bases[TRANSPORTS_MAX], ram_base = 0, ram_size = 0;
        bool pool, io = true, malformed = false;
        uint64_t dma = dma_area(&pool);
        unsigned n = guest_dtb ? fdt_compatible_regs(guest_dtb, "virtio,mmio", bases, TRANSPORTS_MAX) : 0;

        if (fdt_bootarg_is(guest_dtb, "test", "malformed") || fdt_bootarg_is(guest_dtb, "test", "all")) {
                malformed = true;
                io = fdt_bootarg_is(guest_dtb, "test", "all");
        }
        use_irq = fdt_bootarg(guest_dtb, "irq", 0) != 0;
        if (guest_dtb)
                (void) fdt_memory(guest_dtb, &ram_base, &ram_size);
        uart_puts("blk: transports=");
        uart_put_dec(n);
        kvx("dma", dma);
        kv("pool", pool);
        kv("irq", use_irq);
        end();
        if (use_irq)
                irq_setup();

        for (unsigned i = 0, k = 0; i < n && k < DISKS_MAX; i++) {
                vblk *d = &disks[k];
                uint64_t area = dma + (uint64_t) k * DMA_STRIDE;

                d->base = bases[i];
                if (vblk_probe(d->base) != 0)
                        continue;
                if (use_irq)
                        irq_attach(d, (uint32_t) ((d->base - VIRTIO_MMIO_BASE) / VIRTIO_MMIO_WINDOW));
                if (io)
                        io_suite(d, k, area);
                /* With a pool, lent RAM is the outside; else past the end of RAM. */
                if (malformed && k == 0)
                        malformed_suite(d, k, area, pool ? (uint64_t) (uintptr_t) lent : ram_base + ram_size, pool);
                vblk_reset(d);
                k++;
        }
        if (use_irq) {
                uint64_t vring = 0, config = 0;
                for (unsigned k = 0; k < DISKS_MAX; k++) {
                        vring += disks[k].vring_irqs;
                        config += disks[k].config_irqs;
                }
                uart_puts("blk: irqs");
                kv("vring", vring);
                kv("config", config);
                end();
        }
        uart_puts("blk: done\n");
}
