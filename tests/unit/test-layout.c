/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "layout.h"
#include "macro.h"

#define RAM_BASE UINT64_C(0x80000000)
#define RAM_SIZE (UINT64_C(64) << 20)

static VmSpec make_spec(uint32_t vcpus) {
        VmSpec s = {
                .name = "test",
                .vcpus = vcpus,
                .memory = { .size = RAM_SIZE, .base = RAM_BASE },
                .kernel = { .path = (char *) "Image" },
                .console = { .type = VM_CONSOLE_PL011, .base = VM_DEFAULT_PL011_BASE, .spi = 1 },
        };
        return s;
}

static VmImageInfo image_kernel(uint64_t text_offset, uint64_t image_size) {
        return (VmImageInfo) {
                .format = VM_KERNEL_FORMAT_IMAGE,
                .file_size = image_size,
                .text_offset = text_offset,
                .image_size = image_size,
                .load_size = image_size,
        };
}

static VmImageInfo elf_kernel(uint64_t paddr, uint64_t memsz, uint64_t entry) {
        VmImageInfo k = {
                .format = VM_KERNEL_FORMAT_ELF,
                .file_size = 0x1000,
                .entry = entry,
                .n_segments = 1,
                .load_size = memsz,
        };
        k.segments[0] = (VmImageSegment) { .paddr = paddr, .offset = 0, .filesz = 0, .memsz = memsz };
        return k;
}

static VmLayout compute_ok(const VmSpec *s, const VmImageInfo *k, uint64_t initrd, bool ctx) {
        VmLayout l;
        char err[VM_LAYOUT_ERROR_MAX] = "";
        int r = vm_layout_compute(s, k, initrd, ctx, &l, err, sizeof(err));
        if (r < 0)
                fail_msg("layout failed (%d): %s", r, err);
        return l;
}

static void compute_fails(const VmSpec *s, const VmImageInfo *k, uint64_t initrd, bool ctx, int error,
                          const char *needle) {
        VmLayout l = { .ram_base = 0xdead };
        char err[VM_LAYOUT_ERROR_MAX] = "";
        int r = vm_layout_compute(s, k, initrd, ctx, &l, err, sizeof(err));
        if (r != error)
                fail_msg("expected %d, got %d: %s", error, r, err);
        if (!strstr(err, needle))
                fail_msg("error \"%s\" does not mention \"%s\"", err, needle);
        assert_int_equal(l.ram_base, 0xdead); /* untouched on failure */
}

static void test_layout_image_at_ram_base(void **state) {
        VmSpec s = make_spec(1);
        VmImageInfo k = image_kernel(0, 0x123000);
        VmLayout l = compute_ok(&s, &k, 0, false);

        assert_int_equal(l.ram_base, RAM_BASE);
        assert_int_equal(l.ram_size, RAM_SIZE);
        assert_int_equal(l.kernel_addr, RAM_BASE);
        assert_int_equal(l.kernel_size, 0x123000);
        assert_int_equal(l.entry, RAM_BASE);
        assert_int_equal(l.initrd_addr, 0);
        assert_int_equal(l.initrd_size, 0);
        /* DTB: last 2 MiB of RAM, 2 MiB (hence 8-byte) aligned, window inside RAM. */
        assert_int_equal(l.dtb_addr, RAM_BASE + RAM_SIZE - 0x200000);
        assert_int_equal(l.dtb_window, 0x200000);
        assert_true(IS_ALIGNED(l.dtb_addr, 8));
        assert_true(l.dtb_addr + l.dtb_window <= l.ram_base + l.ram_size);
        assert_true(l.have_pl011);
        assert_int_equal(l.pl011_base, VM_DEFAULT_PL011_BASE);
        assert_int_equal(l.pl011_spi, 1);
        assert_int_equal(l.vcpus, 1);
}

static void test_layout_text_offset_needs_boot_context(void **state) {
        VmSpec s = make_spec(1);
        VmImageInfo k = image_kernel(0x80000, 0x100000);

        VmLayout l = compute_ok(&s, &k, 0, true);
        assert_int_equal(l.kernel_addr, RAM_BASE + 0x80000);
        assert_int_equal(l.entry, RAM_BASE + 0x80000);

        compute_fails(&s, &k, 0, false, -EINVAL, "SET_BOOT_CONTEXT");
}

static void test_layout_elf_entry(void **state) {
        VmSpec s = make_spec(1);

        /* Linked at RAM base, entering at RAM base: fine on every ABI. */
        VmImageInfo k = elf_kernel(RAM_BASE, 0x4000, RAM_BASE);
        VmLayout l = compute_ok(&s, &k, 0, false);
        assert_int_equal(l.entry, RAM_BASE);
        assert_int_equal(l.kernel_addr, RAM_BASE);

        /* Entry elsewhere needs a boot context. */
        k = elf_kernel(RAM_BASE + 0x10000, 0x4000, RAM_BASE + 0x10100);
        l = compute_ok(&s, &k, 0, true);
        assert_int_equal(l.entry, RAM_BASE + 0x10100);
        assert_int_equal(l.kernel_addr, RAM_BASE + 0x10000);
        compute_fails(&s, &k, 0, false, -EINVAL, "not the RAM base");

        /* Linked below RAM. */
        k = elf_kernel(0x40000000, 0x4000, 0x40000000);
        compute_fails(&s, &k, 0, true, -EINVAL, "outside guest RAM");

        /* Runs into the DTB window. */
        k = elf_kernel(RAM_BASE, RAM_SIZE - 0x200000 + 1, RAM_BASE);
        compute_fails(&s, &k, 0, true, -ENOSPC, "short by 1 bytes");
}

static void test_layout_raw(void **state) {
        VmSpec s = make_spec(1);
        VmImageInfo k = { .format = VM_KERNEL_FORMAT_RAW, .file_size = 100, .load_size = 100 };
        VmLayout l = compute_ok(&s, &k, 0, false);
        assert_int_equal(l.kernel_addr, RAM_BASE);
        assert_int_equal(l.entry, RAM_BASE);
        assert_int_equal(l.kernel_size, 100);

        VmImageInfo unprobed = { .format = VM_KERNEL_FORMAT_AUTO };
        compute_fails(&s, &unprobed, 0, true, -EINVAL, "not probed");
}

static void test_layout_initrd_after_kernel(void **state) {
        VmSpec s = make_spec(1);
        VmImageInfo k = image_kernel(0, 0x300001);
        VmLayout l = compute_ok(&s, &k, 0x1000, false);

        assert_int_equal(l.initrd_addr, RAM_BASE + 0x400000); /* 2 MiB aligned past the kernel */
        assert_int_equal(l.initrd_size, 0x1000);
        assert_true(l.initrd_addr >= l.kernel_addr + l.kernel_size);
        assert_true(l.initrd_addr + l.initrd_size <= l.dtb_addr);
}

static void test_layout_exact_fit_and_one_byte_over(void **state) {
        VmSpec s = make_spec(1);
        VmImageInfo k = image_kernel(0, 0x200000);
        uint64_t room = RAM_SIZE - 0x200000 /* kernel */ - 0x200000 /* DTB window */;

        VmLayout l = compute_ok(&s, &k, room, false);
        assert_int_equal(l.initrd_addr + l.initrd_size, l.dtb_addr);

        compute_fails(&s, &k, room + 1, false, -ENOSPC, "initrd");
        compute_fails(&s, &k, room + 1, false, -ENOSPC, "short by 1 bytes");
        /* 64 MiB was 1 byte short: the message asks for the next 2 MiB step. */
        compute_fails(&s, &k, room + 1, false, -ENOSPC, "at least 66 MiB");

        VmImageInfo big = image_kernel(0, RAM_SIZE);
        compute_fails(&s, &big, 0, false, -ENOSPC, "kernel");
        compute_fails(&s, &big, 0, false, -ENOSPC, "short by 2097152 bytes");

        compute_fails(&s, &k, UINT64_MAX, false, -ENOSPC, "initrd");
}

static void test_layout_gic(void **state) {
        VmImageInfo k = image_kernel(0, 0x1000);

        VmSpec s = make_spec(1);
        VmLayout l = compute_ok(&s, &k, 0, false);
        assert_int_equal(l.gicd_base, 0x3fff0000);
        assert_int_equal(l.gicd_size, 0x10000);
        assert_int_equal(l.gicr_base, 0x3ffd0000);
        assert_int_equal(l.gicr_size, 0x20000);

        s = make_spec(4);
        l = compute_ok(&s, &k, 0, false);
        assert_int_equal(l.gicr_base, 0x3ff70000);
        assert_int_equal(l.gicr_size, 0x80000);
        assert_int_equal(l.gicr_base + l.gicr_size, l.gicd_base);
        assert_int_equal(l.vcpus, 4);

        s = make_spec(0);
        compute_fails(&s, &k, 0, false, -EINVAL, "vcpus");
        s = make_spec(VM_VCPUS_MAX + 1);
        compute_fails(&s, &k, 0, false, -EINVAL, "vcpus");
}

static void test_layout_console(void **state) {
        VmImageInfo k = image_kernel(0, 0x1000);
        VmSpec s = make_spec(4);

        s.console.base = 0x40000000;
        compute_fails(&s, &k, 0, false, -EINVAL, "MMIO window");
        s.console.base = UINT64_MAX & ~UINT64_C(0xfff);
        compute_fails(&s, &k, 0, false, -EINVAL, "MMIO window");
        s.console.base = 0x9000800;
        compute_fails(&s, &k, 0, false, -EINVAL, "aligned");
        s.console.base = 0x3ff70000; /* the lowest GICR frame of 4 vCPUs */
        compute_fails(&s, &k, 0, false, -EINVAL, "overlaps the GIC");
        s.console.base = 0x3ff6f000; /* just below it */
        compute_ok(&s, &k, 0, false);

        s.console.spi = 988;
        compute_fails(&s, &k, 0, false, -EINVAL, "console.spi");

        s.console.type = VM_CONSOLE_NONE;
        VmLayout l = compute_ok(&s, &k, 0, false);
        assert_false(l.have_pl011);
}

static void test_layout_ram_rules(void **state) {
        VmImageInfo k = image_kernel(0, 0x1000);
        VmSpec s = make_spec(1);

        s.memory.size = 0x200000;
        compute_fails(&s, &k, 0, false, -ENOSPC, "at least 4 MiB");
        s.memory.size = 0x300000;
        compute_fails(&s, &k, 0, false, -EINVAL, "multiple of 2 MiB");
        s = make_spec(1);
        s.memory.base = 0x80100000;
        compute_fails(&s, &k, 0, false, -EINVAL, "2 MiB aligned");
        s.memory.base = 0x20000000;
        compute_fails(&s, &k, 0, false, -EINVAL, "memory.base");
        s.memory.base = VM_IPA_LIMIT - 0x200000;
        compute_fails(&s, &k, 0, false, -EINVAL, "36-bit");
}

static void add_disks(VmSpec *s, uint32_t n) {
        s->n_disks = n;
        for (uint32_t i = 0; i < n && i < VM_DISKS_MAX; i++)
                s->disks[i].path = (char *) "/disk.img";
}

static bool overlaps(uint64_t a, uint64_t a_size, uint64_t b, uint64_t b_size) {
        return a < b + b_size && b < a + a_size;
}

/* Where QEMU virt puts its virtio-mmio transports, clear of everything else
 * even with 64 vCPUs' GIC frames and all 8 disks. */
static void test_layout_virtio_placement(void **state) {
        VmImageInfo k = image_kernel(0, 0x1000);
        VmSpec s = make_spec(VM_VCPUS_MAX);
        VmLayout l = compute_ok(&s, &k, 0, false);

        assert_int_equal(l.n_devices, 0);

        add_disks(&s, VM_DISKS_MAX);
        l = compute_ok(&s, &k, 0, false);
        assert_int_equal(l.n_devices, VM_DISKS_MAX);
        for (uint32_t i = 0; i < l.n_devices; i++) {
                const VmLayoutDevice *d = &l.devices[i];
                assert_int_equal(d->kind, VM_DEVICE_VIRTIO_BLK);
                assert_int_equal(d->spec_index, i);
                assert_int_equal(d->base, 0x0a000000 + i * 0x200);
                assert_int_equal(d->size, 0x200);
                assert_int_equal(d->spi, 16 + i);
                assert_true(d->base + d->size <= VM_MMIO_WINDOW_BASE + VM_MMIO_WINDOW_SIZE);
                assert_false(overlaps(d->base, d->size, l.gicr_base, l.gicd_base + l.gicd_size - l.gicr_base));
                assert_false(overlaps(d->base, d->size, l.pl011_base, VM_PL011_SIZE));
                assert_false(overlaps(d->base, d->size, l.pl061_base, VM_PL061_SIZE));
                assert_false(overlaps(d->base, d->size, l.ram_base, l.ram_size));
                assert_int_not_equal(d->spi, l.pl011_spi);
                assert_int_not_equal(d->spi, l.pl061_spi);
                for (uint32_t j = 0; j < i; j++) {
                        assert_false(overlaps(d->base, d->size, l.devices[j].base, l.devices[j].size));
                        assert_int_not_equal(d->spi, l.devices[j].spi);
                }
        }
}

static void test_layout_virtio_collisions(void **state) {
        VmImageInfo k = image_kernel(0, 0x1000);
        VmSpec s = make_spec(1);

        add_disks(&s, 1);
        s.console.base = 0x0a000000;
        compute_fails(&s, &k, 0, false, -EINVAL, "overlaps the virtio-mmio transport of disks[0]");
        s.console.type = VM_CONSOLE_NONE; /* no PL011, nothing to collide with */
        compute_ok(&s, &k, 0, false);

        s = make_spec(1);
        add_disks(&s, 4);
        s.console.spi = 19;
        compute_fails(&s, &k, 0, false, -EINVAL, "console.spi 19 is the interrupt of disks[3]");
        s.console.spi = 20;
        compute_ok(&s, &k, 0, false);

        add_disks(&s, VM_DISKS_MAX + 1);
        compute_fails(&s, &k, 0, false, -EINVAL, "at most 8");
}

/* vsock and rng follow the disks, in that order, on the next transports. */
static void test_layout_vsock_rng_after_disks(void **state) {
        VmImageInfo k = image_kernel(0, 0x1000);
        VmSpec s = make_spec(1);
        VmLayout l;

        s.memory.mode = VM_MEMORY_SHARE;
        s.rng = true;
        l = compute_ok(&s, &k, 0, false);
        assert_int_equal(l.n_devices, 1);
        assert_int_equal(l.devices[0].kind, VM_DEVICE_VIRTIO_RNG);
        assert_int_equal(l.devices[0].base, 0x0a000000);
        assert_int_equal(l.devices[0].spi, 16);
        assert_true(l.reserve_dtb_window); /* a shared VM with a device */

        add_disks(&s, 2);
        s.has_vsock = true;
        s.vsock.cid = 3;
        l = compute_ok(&s, &k, 0, false);
        assert_int_equal(l.n_devices, 4);
        assert_int_equal(l.devices[1].kind, VM_DEVICE_VIRTIO_BLK);
        assert_int_equal(l.devices[1].spec_index, 1);
        assert_int_equal(l.devices[2].kind, VM_DEVICE_VIRTIO_VSOCK);
        assert_int_equal(l.devices[2].base, 0x0a000400);
        assert_int_equal(l.devices[2].spi, 18);
        assert_int_equal(l.devices[3].kind, VM_DEVICE_VIRTIO_RNG);
        assert_int_equal(l.devices[3].base, 0x0a000600);
        assert_int_equal(l.devices[3].spi, 19);

        s.rng = false;
        l = compute_ok(&s, &k, 0, false);
        assert_int_equal(l.n_devices, 3);
        assert_int_equal(l.devices[2].kind, VM_DEVICE_VIRTIO_VSOCK);

        s.console.spi = 18;
        compute_fails(&s, &k, 0, false, -EINVAL, "console.spi 18 is the interrupt of vsock");
        s.console.spi = 1;
        s.rng = true;
        s.console.base = 0x0a000000;
        s.n_disks = 0;
        s.has_vsock = false;
        compute_fails(&s, &k, 0, false, -EINVAL, "overlaps the virtio-mmio transport of rng at 0xa000000");
}

/* The pool at the very top, everything the guest boots from below it. */
static void test_layout_swiotlb(void **state) {
        VmImageInfo k = image_kernel(0, 0x200000);
        VmSpec s = make_spec(1);
        uint64_t pool = 16 * MiB, room = RAM_SIZE - pool - 0x200000 /* kernel */ - 0x200000 /* DTB window */;

        VmLayout l = compute_ok(&s, &k, 0, false);
        assert_int_equal(l.swiotlb_addr, 0);
        assert_int_equal(l.swiotlb_size, 0);

        s.memory.swiotlb = pool;
        l = compute_ok(&s, &k, room, false);
        assert_int_equal(l.swiotlb_addr, RAM_BASE + RAM_SIZE - pool);
        assert_int_equal(l.swiotlb_size, pool);
        assert_int_equal(l.dtb_addr, l.swiotlb_addr - 0x200000);
        assert_int_equal(l.dtb_addr + l.dtb_window, l.swiotlb_addr);
        assert_int_equal(l.initrd_addr + l.initrd_size, l.dtb_addr);
        assert_true(IS_ALIGNED(l.swiotlb_addr, 0x200000));

        /* One byte more: the message counts the pool in the memory.size it
         * asks for (the next 2 MiB step, 66 MiB, not the 50 MiB the images need). */
        compute_fails(&s, &k, room + 1, false, -ENOSPC, "at least 66 MiB");

        /* A guest linked into the pool cannot boot from it. */
        VmImageInfo in_pool = elf_kernel(RAM_BASE + RAM_SIZE - pool, 0x1000, RAM_BASE + RAM_SIZE - pool);
        compute_fails(&s, &in_pool, 0, true, -ENOSPC, "kernel");

        s.memory.swiotlb = MiB;
        compute_fails(&s, &k, 0, false, -EINVAL, "memory.swiotlb");
        s.memory.swiotlb = RAM_SIZE - 2 * MiB;
        compute_fails(&s, &k, 0, false, -EINVAL, "at least 4 MiB");
        s.memory.swiotlb = RAM_SIZE - 4 * MiB; /* the least RAM left that still boots a tiny guest */
        VmImageInfo tiny = image_kernel(0, 0x1000);
        l = compute_ok(&s, &tiny, 0, false);
        assert_int_equal(l.dtb_addr, RAM_BASE + 2 * MiB);
}

static void test_layout_dtb_room_for_overlay(void **state) {
        VmLayout l = { .dtb_window = 0x200000 };
        char err[VM_LAYOUT_ERROR_MAX] = "";

        assert_int_equal(vm_layout_check_dtb(&l, 0x100000, err, sizeof(err)), 0);
        assert_int_equal(vm_layout_check_dtb(&l, 0x100001, err, sizeof(err)), -ENOSPC);
        assert_non_null(strstr(err, "overlay"));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_layout_image_at_ram_base),
                cmocka_unit_test(test_layout_text_offset_needs_boot_context),
                cmocka_unit_test(test_layout_elf_entry),
                cmocka_unit_test(test_layout_raw),
                cmocka_unit_test(test_layout_initrd_after_kernel),
                cmocka_unit_test(test_layout_exact_fit_and_one_byte_over),
                cmocka_unit_test(test_layout_gic),
                cmocka_unit_test(test_layout_console),
                cmocka_unit_test(test_layout_ram_rules),
                cmocka_unit_test(test_layout_virtio_placement),
                cmocka_unit_test(test_layout_virtio_collisions),
                cmocka_unit_test(test_layout_vsock_rng_after_disks),
                cmocka_unit_test(test_layout_swiotlb),
                cmocka_unit_test(test_layout_dtb_room_for_overlay),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
