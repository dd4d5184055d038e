/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <endian.h>
#include <libfdt.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include <cmocka.h>

#include "boot-images.h"
#include "dtb.h"
#include "macro.h"

#define RAM_BASE UINT64_C(0x80000000)
#define RAM_SIZE (UINT64_C(32) << 20)

static VmSpec make_spec(uint32_t vcpus, const char *cmdline) {
        VmSpec s = {
                .name = "dtb-test",
                .vcpus = vcpus,
                .memory = { .size = RAM_SIZE, .base = RAM_BASE },
                .kernel = { .path = (char *) "Image", .cmdline = (char *) cmdline },
                .console = { .type = VM_CONSOLE_PL011, .base = VM_DEFAULT_PL011_BASE, .spi = 5 },
        };
        return s;
}

/* A minimal arm64 Image header: text_offset 0, image_size 64 KiB. */
static void make_kernel(uint8_t buf[4096]) {
        memset(buf, 0, 4096);
        uint64_t image_size = htole64(0x10000);
        uint32_t magic = htole32(VM_IMAGE_ARM64_MAGIC);
        memcpy(buf + 16, &image_size, 8);
        memcpy(buf + 56, &magic, 4);
        buf[0] = 0x4d; /* something recognisable at the load address */
}

static void *build(const VmSpec *s, uint64_t initrd_size, VmLayout *ret_layout) {
        uint8_t kernel[4096];
        VmImageInfo k;
        VmLayout l;
        char err[VM_LAYOUT_ERROR_MAX] = "";
        void *blob = NULL;
        size_t size = 0;

        make_kernel(kernel);
        assert_int_equal(vm_image_probe(kernel, sizeof(kernel), VM_KERNEL_FORMAT_AUTO, &k, NULL, 0), 0);
        if (vm_layout_compute(s, &k, initrd_size, false, &l, err, sizeof(err)) < 0)
                fail_msg("layout: %s", err);
        assert_int_equal(vm_dtb_build(s, &l, &blob, &size), 0);
        assert_non_null(blob);
        assert_int_equal(fdt_check_header(blob), 0);
        assert_int_equal(fdt_totalsize(blob), size);
        /* Packed: no free space left inside the blob. */
        assert_int_equal(fdt_off_dt_strings(blob) + fdt_size_dt_strings(blob), size);
        if (ret_layout)
                *ret_layout = l;
        return blob;
}

static int node(const void *fdt, const char *path) {
        int off = fdt_path_offset(fdt, path);
        if (off < 0)
                fail_msg("node %s missing: %s", path, fdt_strerror(off));
        return off;
}

static const char *prop_str(const void *fdt, const char *path, const char *name) {
        int len;
        const char *v = fdt_getprop(fdt, node(fdt, path), name, &len);
        if (!v)
                fail_msg("%s:%s missing", path, name);
        if (len < 1 || v[len - 1] != '\0')
                fail_msg("%s:%s is not a string", path, name);
        return v;
}

static uint32_t prop_u32(const void *fdt, const char *path, const char *name) {
        int len;
        const fdt32_t *v = fdt_getprop(fdt, node(fdt, path), name, &len);
        if (!v || len != 4)
                fail_msg("%s:%s missing or not one cell (len %d)", path, name, v ? len : -1);
        return fdt32_to_cpu(*v);
}

static uint64_t prop_u64(const void *fdt, const char *path, const char *name) {
        int len;
        const fdt64_t *v = fdt_getprop(fdt, node(fdt, path), name, &len);
        if (!v || len != 8)
                fail_msg("%s:%s missing or not two cells (len %d)", path, name, v ? len : -1);
        return fdt64_to_cpu(*v);
}

static bool has_prop(const void *fdt, const char *path, const char *name) {
        return fdt_getprop(fdt, node(fdt, path), name, NULL) != NULL;
}

/* The cells of a property as host-order u32s; returns the count. */
static int prop_cells(const void *fdt, const char *path, const char *name, uint32_t *out, int max) {
        int len;
        const fdt32_t *v = fdt_getprop(fdt, node(fdt, path), name, &len);
        if (!v)
                fail_msg("%s:%s missing", path, name);
        int n = len / 4;
        assert_true(n <= max);
        for (int i = 0; i < n; i++)
                out[i] = fdt32_to_cpu(v[i]);
        return n;
}

static void test_dtb_root_and_memory(void **state) {
        VmSpec s = make_spec(1, NULL);
        void *fdt = build(&s, 0, NULL);

        assert_int_equal(prop_u32(fdt, "/", "#address-cells"), 2);
        assert_int_equal(prop_u32(fdt, "/", "#size-cells"), 2);
        assert_string_equal(prop_str(fdt, "/", "compatible"), "linux,dummy-virt");
        assert_int_equal(prop_u32(fdt, "/", "interrupt-parent"), VM_DTB_GIC_PHANDLE);

        /* The RM refuses a DT that already has /hypervisor. */
        assert_int_equal(fdt_path_offset(fdt, "/hypervisor"), -FDT_ERR_NOTFOUND);

        /* Only a node named exactly /memory may have device_type "memory". */
        assert_string_equal(prop_str(fdt, "/memory", "device_type"), "memory");
        int n_memory = 0;
        for (int off = fdt_next_node(fdt, -1, NULL); off >= 0; off = fdt_next_node(fdt, off, NULL)) {
                const char *dt = fdt_getprop(fdt, off, "device_type", NULL);
                if (dt && streq(dt, "memory")) {
                        char path[256];
                        assert_int_equal(fdt_get_path(fdt, off, path, sizeof(path)), 0);
                        assert_string_equal(path, "/memory");
                        n_memory++;
                }
        }
        assert_int_equal(n_memory, 1);
        uint32_t reg[4];
        assert_int_equal(prop_cells(fdt, "/memory", "reg", reg, 4), 4);
        assert_int_equal(((uint64_t) reg[0] << 32) | reg[1], RAM_BASE);
        assert_int_equal(((uint64_t) reg[2] << 32) | reg[3], RAM_SIZE);
        free(fdt);
}

static void test_dtb_chosen(void **state) {
        VmSpec s = make_spec(1, "console=ttyAMA0 earlycon");
        VmLayout l;
        void *fdt = build(&s, 0x12345, &l);

        assert_string_equal(prop_str(fdt, "/chosen", "bootargs"), "console=ttyAMA0 earlycon");
        assert_int_equal(prop_u64(fdt, "/chosen", "linux,initrd-start"), l.initrd_addr);
        assert_int_equal(prop_u64(fdt, "/chosen", "linux,initrd-end"), l.initrd_addr + 0x12345);
        assert_string_equal(prop_str(fdt, "/chosen", "stdout-path"), "/pl011@9000000");
        free(fdt);

        /* No cmdline, no initrd, no console: /chosen stays (the RM patches it) but is empty. */
        s = make_spec(1, NULL);
        s.console.type = VM_CONSOLE_NONE;
        fdt = build(&s, 0, NULL);
        node(fdt, "/chosen");
        assert_false(has_prop(fdt, "/chosen", "bootargs"));
        assert_false(has_prop(fdt, "/chosen", "linux,initrd-start"));
        assert_false(has_prop(fdt, "/chosen", "stdout-path"));
        assert_int_equal(fdt_path_offset(fdt, "/pl011@9000000"), -FDT_ERR_NOTFOUND);
        assert_int_equal(fdt_path_offset(fdt, "/gunyah-vm-config/vdevices/bell-5"), -FDT_ERR_NOTFOUND);
        free(fdt);
}

static void test_dtb_cpus_psci_timer(void **state) {
        VmSpec s = make_spec(4, NULL);
        void *fdt = build(&s, 0, NULL);

        assert_int_equal(prop_u32(fdt, "/cpus", "#address-cells"), 1);
        assert_int_equal(prop_u32(fdt, "/cpus", "#size-cells"), 0);
        int n_cpus = 0, off;
        fdt_for_each_subnode(off, fdt, node(fdt, "/cpus")) {
                const char *dt = fdt_getprop(fdt, off, "device_type", NULL);
                const char *em = fdt_getprop(fdt, off, "enable-method", NULL);
                const fdt32_t *reg = fdt_getprop(fdt, off, "reg", NULL);
                assert_non_null(dt);
                assert_string_equal(dt, "cpu");
                assert_non_null(em);
                assert_string_equal(em, "psci");
                assert_non_null(reg);
                assert_int_equal(fdt32_to_cpu(*reg), n_cpus);
                assert_null(fdt_getprop(fdt, off, "status", NULL)); /* cpu@0 boots, the rest wait for CPU_ON */
                n_cpus++;
        }
        assert_int_equal(n_cpus, 4);
        assert_string_equal(prop_str(fdt, "/cpus/cpu@3", "compatible"), "arm,armv8");

        assert_int_equal(fdt_node_check_compatible(fdt, node(fdt, "/psci"), "arm,psci-0.2"), 0);
        assert_int_equal(fdt_node_check_compatible(fdt, node(fdt, "/psci"), "arm,psci-1.0"), 0);
        assert_string_equal(prop_str(fdt, "/psci", "method"), "hvc");

        assert_string_equal(prop_str(fdt, "/timer", "compatible"), "arm,armv8-timer");
        assert_true(has_prop(fdt, "/timer", "always-on"));
        assert_false(has_prop(fdt, "/timer", "clock-frequency"));
        uint32_t irq[12];
        assert_int_equal(prop_cells(fdt, "/timer", "interrupts", irq, 12), 12);
        const uint32_t ppis[] = { 13, 14, 11, 10 };
        for (int i = 0; i < 4; i++) {
                assert_int_equal(irq[3 * i], 1); /* PPI */
                assert_int_equal(irq[3 * i + 1], ppis[i]);
                assert_int_equal(irq[3 * i + 2] & 0xf, 4); /* level */
        }
        free(fdt);
}

static void test_dtb_gic(void **state) {
        VmSpec s = make_spec(4, NULL);
        void *fdt = build(&s, 0, NULL);
        const char *gic = "/intc@3fff0000";

        assert_int_equal(fdt_node_offset_by_phandle(fdt, VM_DTB_GIC_PHANDLE), node(fdt, gic));
        assert_string_equal(prop_str(fdt, gic, "compatible"), "arm,gic-v3");
        assert_true(has_prop(fdt, gic, "interrupt-controller"));
        assert_int_equal(prop_u32(fdt, gic, "#interrupt-cells"), 3);
        assert_int_equal(prop_u32(fdt, gic, "#redistributor-regions"), 1);
        assert_true(has_prop(fdt, gic, "ranges"));
        uint32_t reg[8];
        assert_int_equal(prop_cells(fdt, gic, "reg", reg, 8), 8);
        assert_int_equal(reg[1], 0x3fff0000);
        assert_int_equal(reg[3], 0x10000);
        assert_int_equal(reg[5], 0x3fff0000 - 4 * 0x20000);
        assert_int_equal(reg[7], 4 * 0x20000);
        /* No ITS: Gunyah's vGIC has none. */
        int off;
        fdt_for_each_subnode(off, fdt, node(fdt, gic))
                fail_msg("unexpected GIC child %s", fdt_get_name(fdt, off, NULL));
        free(fdt);
}

static void test_dtb_pl011_and_doorbell(void **state) {
        VmSpec s = make_spec(1, NULL);
        void *fdt = build(&s, 0, NULL);
        const char *uart = "/pl011@9000000", *bell = "/gunyah-vm-config/vdevices/bell-5";
        uint32_t cells[8];

        assert_int_equal(fdt_node_check_compatible(fdt, node(fdt, uart), "arm,pl011"), 0);
        assert_int_equal(fdt_node_check_compatible(fdt, node(fdt, uart), "arm,primecell"), 0);
        assert_int_equal(prop_cells(fdt, uart, "reg", cells, 8), 4);
        uint64_t base = ((uint64_t) cells[0] << 32) | cells[1], size = ((uint64_t) cells[2] << 32) | cells[3];
        assert_int_equal(base, VM_DEFAULT_PL011_BASE);
        assert_true(base + size <= VM_MMIO_WINDOW_BASE + VM_MMIO_WINDOW_SIZE);
        assert_int_equal(prop_cells(fdt, uart, "interrupts", cells, 8), 3);
        assert_int_equal(cells[0], 0);
        assert_int_equal(cells[1], 5);
        assert_int_equal(cells[2], 4);

        /* Clocks resolve to a fixed clock. */
        assert_int_equal(prop_cells(fdt, uart, "clocks", cells, 8), 2);
        int clk = fdt_node_offset_by_phandle(fdt, cells[0]);
        assert_true(clk >= 0);
        assert_int_equal(fdt_node_check_compatible(fdt, clk, "fixed-clock"), 0);
        assert_int_equal(fdt_stringlist_search(fdt, node(fdt, uart), "clock-names", "apb_pclk"), 1);

        /* Its doorbell: same SPI, label = SPI (the irqfd label). */
        assert_string_equal(prop_str(fdt, bell, "vdevice-type"), "doorbell");
        assert_string_equal(prop_str(fdt, bell, "generate"), "/hypervisor/bell-5");
        assert_int_equal(prop_u32(fdt, bell, "label"), 5);
        assert_true(has_prop(fdt, bell, "peer-default"));
        assert_int_equal(prop_cells(fdt, bell, "interrupts", cells, 8), 3);
        assert_int_equal(cells[0], 0);
        assert_int_equal(cells[1], 5);
        assert_int_equal(cells[2], 4);
        free(fdt);
}

static void test_dtb_power_button(void **state) {
        VmSpec s = make_spec(1, NULL);
        VmLayout l;
        void *fdt = build(&s, 0, &l);
        const char *gpio = "/pl061@9030000", *key = "/gpio-keys/poweroff", *bell = "/gunyah-vm-config/vdevices/bell-7";
        uint32_t cells[8];

        assert_int_equal(l.pl061_base, VM_PL061_BASE);
        assert_int_equal(fdt_node_check_compatible(fdt, node(fdt, gpio), "arm,pl061"), 0);
        assert_true(has_prop(fdt, gpio, "gpio-controller"));
        assert_int_equal(prop_u32(fdt, gpio, "#gpio-cells"), 2);
        assert_int_equal(prop_cells(fdt, gpio, "reg", cells, 8), 4);
        assert_true((((uint64_t) cells[0] << 32) | cells[1]) + (((uint64_t) cells[2] << 32) | cells[3]) <=
                    VM_MMIO_WINDOW_BASE + VM_MMIO_WINDOW_SIZE);
        assert_int_equal(prop_cells(fdt, gpio, "interrupts", cells, 8), 3);
        assert_int_equal(cells[1], VM_PL061_SPI);

        /* gpio-keys: KEY_POWER on line 3 of that controller, as Linux expects. */
        assert_int_equal(fdt_node_check_compatible(fdt, node(fdt, "/gpio-keys"), "gpio-keys"), 0);
        assert_int_equal(prop_u32(fdt, key, "linux,code"), 116);
        assert_int_equal(prop_cells(fdt, key, "gpios", cells, 8), 3);
        assert_int_equal(fdt_node_offset_by_phandle(fdt, cells[0]), node(fdt, gpio));
        assert_int_equal(cells[1], 3);

        /* and a doorbell for its interrupt */
        assert_int_equal(prop_u32(fdt, bell, "label"), VM_PL061_SPI);
        assert_string_equal(prop_str(fdt, bell, "vdevice-type"), "doorbell");
        free(fdt);
}

static void test_dtb_vm_config(void **state) {
        VmSpec s = make_spec(2, NULL);
        s.memory.base = 0x100000000;
        void *fdt = build(&s, 0, NULL);

        assert_string_equal(prop_str(fdt, "/gunyah-vm-config", "image-name"), "dtb-test");
        assert_string_equal(prop_str(fdt, "/gunyah-vm-config", "os-type"), "linux");
        assert_int_equal(prop_u32(fdt, "/gunyah-vm-config/memory", "#address-cells"), 2);
        assert_int_equal(prop_u32(fdt, "/gunyah-vm-config/memory", "#size-cells"), 2);
        assert_int_equal(prop_u64(fdt, "/gunyah-vm-config/memory", "base-address"), 0x100000000);
        assert_int_equal(prop_u32(fdt, "/gunyah-vm-config/interrupts", "config"),
                         fdt_get_phandle(fdt, node(fdt, "/intc@3fff0000")));
        assert_string_equal(prop_str(fdt, "/gunyah-vm-config/vcpus", "affinity"), "proxy");
        assert_string_equal(prop_str(fdt, "/gunyah-vm-config/vdevices", "generate"), "/hypervisor");
        free(fdt);
}

static void test_dtb_64_vcpus_long_cmdline(void **state) {
        char cmdline[2048];
        memset(cmdline, 'x', sizeof(cmdline) - 1);
        cmdline[sizeof(cmdline) - 1] = '\0';
        VmSpec s = make_spec(VM_VCPUS_MAX, cmdline);
        VmLayout l;
        void *fdt = build(&s, 0, &l);

        node(fdt, "/cpus/cpu@3f");
        /* all 2047 bytes of the command line, not a truncation */
        assert_string_equal(prop_str(fdt, "/chosen", "bootargs"), cmdline);
        assert_int_equal(vm_layout_check_dtb(&l, fdt_totalsize(fdt), NULL, 0), 0);
        free(fdt);
}

static void add_disks(VmSpec *s, uint32_t n) {
        s->n_disks = n;
        for (uint32_t i = 0; i < n; i++)
                s->disks[i].path = (char *) "/disk.img";
}

static uint64_t reg_cell(const uint32_t *cells, int i) {
        return ((uint64_t) cells[2 * i] << 32) | cells[2 * i + 1];
}

/* As QEMU virt writes them (tests/golden/check-qemu-virtio.sh compares with
 * QEMU's own), each with an edge-triggered doorbell. */
static void test_dtb_virtio_mmio(void **state) {
        VmSpec s = make_spec(1, NULL);
        s.memory.mode = VM_MEMORY_SHARE;
        add_disks(&s, 2);
        void *fdt = build(&s, 0, NULL);
        uint32_t cells[8];

        for (uint32_t i = 0; i < 2; i++) {
                char path[64], bell[64];
                snprintf(path, sizeof(path), "/virtio_mmio@%x", 0x0a000000 + i * 0x200);
                snprintf(bell, sizeof(bell), "/gunyah-vm-config/vdevices/bell-%x", 16 + i);

                assert_string_equal(prop_str(fdt, path, "compatible"), "virtio,mmio");
                assert_int_equal(prop_cells(fdt, path, "reg", cells, 8), 4);
                assert_int_equal(reg_cell(cells, 0), 0x0a000000 + i * 0x200);
                assert_int_equal(reg_cell(cells, 1), 0x200);
                assert_int_equal(prop_cells(fdt, path, "interrupts", cells, 8), 3);
                assert_int_equal(cells[0], 0);      /* GIC_SPI */
                assert_int_equal(cells[1], 16 + i);
                assert_int_equal(cells[2], 1);      /* IRQ_TYPE_EDGE_RISING */
                assert_true(has_prop(fdt, path, "dma-coherent"));
                assert_false(has_prop(fdt, path, "memory-region")); /* shared RAM: no pool */

                assert_string_equal(prop_str(fdt, bell, "vdevice-type"), "doorbell");
                assert_int_equal(prop_u32(fdt, bell, "label"), 16 + i);
                assert_true(has_prop(fdt, bell, "peer-default"));
                assert_int_equal(prop_cells(fdt, bell, "interrupts", cells, 8), 3);
                assert_int_equal(cells[1], 16 + i);
                assert_int_equal(cells[2], 1);
                assert_false(has_prop(fdt, bell, "source-can-clear"));
        }
        assert_int_equal(fdt_path_offset(fdt, "/virtio_mmio@a000400"), -FDT_ERR_NOTFOUND);
        /* Shared RAM: no pool, but the lent DTB window is kept from the
         * guest's allocator (mapped: no no-map), its only reserved node. */
        int rm = fdt_path_offset(fdt, "/reserved-memory"), w;
        assert_true(rm >= 0);
        w = fdt_first_subnode(fdt, rm);
        assert_true(w >= 0);
        assert_memory_equal(fdt_get_name(fdt, w, NULL), "dtb_window@", 11);
        assert_null(fdt_getprop(fdt, w, "no-map", NULL));
        assert_null(fdt_getprop(fdt, w, "reusable", NULL));
        assert_int_equal(fdt_getprop(fdt, w, "reg", NULL) ? 0 : -1, 0);
        assert_int_equal(fdt_next_subnode(fdt, w), -FDT_ERR_NOTFOUND);
        /* The level-triggered doorbells keep what they had. */
        assert_true(has_prop(fdt, "/gunyah-vm-config/vdevices/bell-5", "source-can-clear"));
        free(fdt);

        s = make_spec(1, NULL);
        fdt = build(&s, 0, NULL);
        int off;
        fdt_for_each_subnode(off, fdt, 0)
                if (fdt_node_check_compatible(fdt, off, "virtio,mmio") == 0)
                        fail_msg("a virtio node without disks: %s", fdt_get_name(fdt, off, NULL));
        free(fdt);
}

static void test_dtb_swiotlb_pool(void **state) {
        VmSpec s = make_spec(1, NULL);
        s.memory.swiotlb = 8 * MiB;
        add_disks(&s, 1);
        VmLayout l;
        void *fdt = build(&s, 0, &l);
        const char *pool = "/reserved-memory/restricted_dma_reserved@81800000";
        uint32_t cells[8];

        assert_int_equal(l.swiotlb_addr, 0x81800000);
        assert_int_equal(prop_u32(fdt, "/reserved-memory", "#address-cells"), 2);
        assert_int_equal(prop_u32(fdt, "/reserved-memory", "#size-cells"), 2);
        assert_true(has_prop(fdt, "/reserved-memory", "ranges"));
        assert_string_equal(prop_str(fdt, pool, "compatible"), "restricted-dma-pool");
        assert_int_equal(prop_cells(fdt, pool, "reg", cells, 8), 4);
        assert_int_equal(reg_cell(cells, 0), RAM_BASE + RAM_SIZE - 8 * MiB);
        assert_int_equal(reg_cell(cells, 1), 8 * MiB);
        assert_int_equal(prop_u64(fdt, pool, "alignment"), 0x10000); /* #size-cells wide */
        /* Kept from the page allocator but mapped: neither of these. */
        assert_false(has_prop(fdt, pool, "reusable"));
        assert_false(has_prop(fdt, pool, "no-map"));
        /* /memory still names all of RAM, or Linux would not map the pool. */
        assert_int_equal(prop_cells(fdt, "/memory", "reg", cells, 8), 4);
        assert_int_equal(reg_cell(cells, 1), RAM_SIZE);

        /* The device node points at it. */
        assert_int_equal(fdt_node_offset_by_phandle(fdt, prop_u32(fdt, "/virtio_mmio@a000000", "memory-region")),
                         node(fdt, pool));
        assert_int_equal(prop_u32(fdt, pool, "phandle"), VM_DTB_SWIOTLB_PHANDLE);
        free(fdt);

        /* A pool without devices is still reserved: the host can read it, so
         * the guest must never use it as ordinary memory. */
        s.n_disks = 0;
        fdt = build(&s, 0, NULL);
        node(fdt, pool);
        assert_int_equal(fdt_path_offset(fdt, "/virtio_mmio@a000000"), -FDT_ERR_NOTFOUND);
        free(fdt);
}

/* ---- boot preparation: files -> RAM ---- */

static void test_boot_images_load_into_ram(void **state) {
        uint8_t kernel[4096], initrd[3000];
        _cleanup_(vm_boot_images_freep) VmBootImages *b = NULL;
        char err[VM_BOOT_ERROR_MAX] = "";
        VmSpec s = make_spec(2, "quiet");

        make_kernel(kernel);
        memset(initrd, 0x5a, sizeof(initrd));
        assert_int_equal(vm_boot_images_prepare_from_memory(&s, kernel, sizeof(kernel), initrd, sizeof(initrd),
                                                            false, &b, err, sizeof(err)), 0);
        uint8_t *ram = malloc(RAM_SIZE);
        assert_non_null(ram);
        memset(ram, 0xaa, RAM_SIZE);
        assert_int_equal(vm_boot_images_load(b, ram, RAM_SIZE, err, sizeof(err)), 0);

        const VmLayout *l = &b->layout;
        assert_int_equal(l->entry, RAM_BASE);
        assert_memory_equal(ram + (l->kernel_addr - RAM_BASE), kernel, sizeof(kernel));
        assert_int_equal(ram[sizeof(kernel)], 0); /* Image BSS zeroed */
        assert_memory_equal(ram + (l->initrd_addr - RAM_BASE), initrd, sizeof(initrd));
        const void *dtb = ram + (l->dtb_addr - RAM_BASE);
        assert_int_equal(fdt_check_header(dtb), 0);
        assert_memory_equal(dtb, b->dtb, b->dtb_size);
        assert_int_equal(ram[l->dtb_addr - RAM_BASE + l->dtb_window - 1], 0); /* window cleared */
        assert_string_equal(fdt_getprop(dtb, fdt_path_offset(dtb, "/chosen"), "bootargs", NULL), "quiet");

        /* A mapping of the wrong size is refused. */
        assert_int_equal(vm_boot_images_load(b, ram, RAM_SIZE / 2, err, sizeof(err)), -EINVAL);
        free(ram);
}

/* With a pool, the images go into the lent part alone: the daemon maps only
 * that (the pool is a separate memory). */
static void test_boot_images_load_below_the_pool(void **state) {
        uint8_t kernel[4096], initrd[3000];
        _cleanup_(vm_boot_images_freep) VmBootImages *b = NULL;
        char err[VM_BOOT_ERROR_MAX] = "";
        VmSpec s = make_spec(1, NULL);
        uint64_t lent = RAM_SIZE - 8 * MiB;

        s.memory.swiotlb = 8 * MiB;
        make_kernel(kernel);
        memset(initrd, 0x5a, sizeof(initrd));
        assert_int_equal(vm_boot_images_prepare_from_memory(&s, kernel, sizeof(kernel), initrd, sizeof(initrd),
                                                            false, &b, err, sizeof(err)), 0);
        uint8_t *ram = calloc(1, RAM_SIZE);
        assert_non_null(ram);
        assert_int_equal(vm_boot_images_load(b, ram, lent, err, sizeof(err)), 0);
        const VmLayout *l = &b->layout;
        assert_true(l->dtb_addr + l->dtb_window <= RAM_BASE + lent);
        assert_int_equal(fdt_check_header(ram + (l->dtb_addr - RAM_BASE)), 0);
        assert_memory_equal(ram + (l->initrd_addr - RAM_BASE), initrd, sizeof(initrd));
        /* all of RAM works too; anything else does not */
        assert_int_equal(vm_boot_images_load(b, ram, RAM_SIZE, err, sizeof(err)), 0);
        assert_int_equal(vm_boot_images_load(b, ram, lent - 2 * MiB, err, sizeof(err)), -EINVAL);
        assert_non_null(strstr(err, "below its swiotlb pool"));
        free(ram);
}

static void test_boot_images_errors_name_the_file(void **state) {
        VmBootImages *b = NULL;
        char err[VM_BOOT_ERROR_MAX] = "";
        VmSpec s = make_spec(1, NULL);

        s.kernel.path = (char *) "/nonexistent/kernel-image";
        assert_int_equal(vm_guest_prepare(&s, NULL, RAM_SIZE, false, NULL, err, sizeof(err)), -ENOENT);
        assert_non_null(strstr(err, "/nonexistent/kernel-image"));

        /* A kernel whose header lies is reported with its path. */
        char path[] = "/tmp/test-dtb-kernel-XXXXXX";
        int fd = mkstemp(path);
        assert_true(fd >= 0);
        uint8_t kernel[4096];
        make_kernel(kernel);
        uint64_t tiny = htole64(100); /* image_size smaller than the file */
        memcpy(kernel + 16, &tiny, 8);
        assert_int_equal(write(fd, kernel, sizeof(kernel)), (ssize_t) sizeof(kernel));
        close(fd);
        s.kernel.path = path;
        assert_int_equal(vm_boot_images_prepare(&s, false, &b, err, sizeof(err)), -EINVAL);
        assert_null(b);
        assert_non_null(strstr(err, path));
        assert_non_null(strstr(err, "smaller than the file"));

        /* From a file, the happy path into RAM. */
        make_kernel(kernel);
        fd = open(path, O_WRONLY | O_TRUNC);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, kernel, sizeof(kernel)), (ssize_t) sizeof(kernel));
        close(fd);
        uint8_t *ram = calloc(1, RAM_SIZE);
        assert_non_null(ram);
        VmLayout l;
        assert_int_equal(vm_guest_prepare(&s, ram, RAM_SIZE, false, &l, err, sizeof(err)), 0);
        assert_int_equal(l.dtb_addr, RAM_BASE + RAM_SIZE - 0x200000);
        assert_int_equal(ram[0], 0x4d);
        assert_int_equal(fdt_check_header(ram + (l.dtb_addr - RAM_BASE)), 0);

        /* The layout error surfaces too: a kernel larger than RAM allows. */
        s.memory.size = 4 << 20;
        uint64_t huge = htole64(3 << 20);
        memcpy(kernel + 16, &huge, 8);
        fd = open(path, O_WRONLY | O_TRUNC);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, kernel, sizeof(kernel)), (ssize_t) sizeof(kernel));
        close(fd);
        assert_int_equal(vm_boot_images_prepare(&s, false, &b, err, sizeof(err)), -ENOSPC);
        assert_non_null(strstr(err, "kernel"));

        free(ram);
        unlink(path);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_dtb_root_and_memory),
                cmocka_unit_test(test_dtb_chosen),
                cmocka_unit_test(test_dtb_cpus_psci_timer),
                cmocka_unit_test(test_dtb_gic),
                cmocka_unit_test(test_dtb_pl011_and_doorbell),
                cmocka_unit_test(test_dtb_power_button),
                cmocka_unit_test(test_dtb_vm_config),
                cmocka_unit_test(test_dtb_64_vcpus_long_cmdline),
                cmocka_unit_test(test_dtb_virtio_mmio),
                cmocka_unit_test(test_dtb_swiotlb_pool),
                cmocka_unit_test(test_boot_images_load_into_ram),
                cmocka_unit_test(test_boot_images_load_below_the_pool),
                cmocka_unit_test(test_boot_images_errors_name_the_file),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
