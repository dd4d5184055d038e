/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dtb-internal.h"
#include "dtb.h"
#include "macro.h"

/* Timer PPIs: level, with the GICv2-style CPU mask crosvm and the kernel
 * sample use in bit 8; GICv3 ignores the mask. */
#define TIMER_IRQ_FLAGS (0x100u | IRQ_TYPE_LEVEL_HIGH)
/* The PL011's PrimeCell id, so the amba bus need not read it over MMIO. */
#define PL011_PERIPHID 0x00241011u

int dtb_prop_reg(void *fdt, uint64_t addr, uint64_t size) {
        fdt64_t reg[2] = { cpu_to_fdt64(addr), cpu_to_fdt64(size) };
        return fdt_property(fdt, "reg", reg, sizeof(reg));
}

int dtb_prop_cells(void *fdt, const char *name, const uint32_t *cells, size_t n) {
        fdt32_t v[16];
        if (n > ELEMENTSOF(v))
                return -FDT_ERR_INTERNAL;
        for (size_t i = 0; i < n; i++)
                v[i] = cpu_to_fdt32(cells[i]);
        return fdt_property(fdt, name, v, n * sizeof(fdt32_t));
}

static void pl011_node_name(const VmLayout *l, char *buf, size_t len) {
        snprintf(buf, len, "pl011@%" PRIx64, l->pl011_base);
}

static int build_chosen(void *fdt, const VmSpec *spec, const VmLayout *l) {
        FDT_TRY(fdt_begin_node(fdt, "chosen"));
        if (spec->kernel.cmdline)
                FDT_TRY(fdt_property_string(fdt, "bootargs", spec->kernel.cmdline));
        if (l->initrd_size > 0) {
                FDT_TRY(fdt_property_u64(fdt, "linux,initrd-start", l->initrd_addr));
                FDT_TRY(fdt_property_u64(fdt, "linux,initrd-end", l->initrd_addr + l->initrd_size));
        }
        if (l->have_pl011) {
                char path[64];
                path[0] = '/';
                pl011_node_name(l, path + 1, sizeof(path) - 1);
                FDT_TRY(fdt_property_string(fdt, "stdout-path", path));
        }
        return fdt_end_node(fdt);
}

static int build_cpus(void *fdt, const VmLayout *l) {
        FDT_TRY(fdt_begin_node(fdt, "cpus"));
        FDT_TRY(fdt_property_u32(fdt, "#address-cells", 1));
        FDT_TRY(fdt_property_u32(fdt, "#size-cells", 0));
        for (uint32_t i = 0; i < l->vcpus; i++) {
                char name[16];
                snprintf(name, sizeof(name), "cpu@%" PRIx32, i);
                FDT_TRY(fdt_begin_node(fdt, name));
                FDT_TRY(fdt_property_string(fdt, "device_type", "cpu"));
                FDT_TRY(fdt_property_string(fdt, "compatible", "arm,armv8"));
                /* MPIDR = index: one cluster, as on the Gunyah QEMU platform. */
                FDT_TRY(fdt_property_u32(fdt, "reg", i));
                /* The RM requires it on every secondary; on the boot CPU it
                 * also switches on virtual PSCI. */
                FDT_TRY(fdt_property_string(fdt, "enable-method", "psci"));
                FDT_TRY(fdt_end_node(fdt));
        }
        return fdt_end_node(fdt);
}

static int build_psci_timer(void *fdt) {
        FDT_TRY(fdt_begin_node(fdt, "psci"));
        FDT_TRY(fdt_property_strings(fdt, "compatible", "arm,psci-1.0\0arm,psci-0.2"));
        FDT_TRY(fdt_property_string(fdt, "method", "hvc"));
        FDT_TRY(fdt_end_node(fdt));

        static const uint32_t timer_irqs[] = {
                GIC_PPI, 13, TIMER_IRQ_FLAGS, /* secure physical */
                GIC_PPI, 14, TIMER_IRQ_FLAGS, /* non-secure physical */
                GIC_PPI, 11, TIMER_IRQ_FLAGS, /* virtual */
                GIC_PPI, 10, TIMER_IRQ_FLAGS, /* hypervisor */
        };
        FDT_TRY(fdt_begin_node(fdt, "timer"));
        FDT_TRY(fdt_property_string(fdt, "compatible", "arm,armv8-timer"));
        FDT_TRY(fdt_property(fdt, "always-on", NULL, 0));
        FDT_TRY(dtb_prop_cells(fdt, "interrupts", timer_irqs, ELEMENTSOF(timer_irqs)));
        /* No clock-frequency: the QEMU platform's counter is not the usual
         * 19.2 MHz, so the guest must read CNTFRQ_EL0. */
        return fdt_end_node(fdt);
}

static int build_gic(void *fdt, const VmLayout *l) {
        char name[32];
        /* Named for GICD, the first reg entry, although GICR lies below it. */
        snprintf(name, sizeof(name), "intc@%" PRIx64, l->gicd_base);
        FDT_TRY(fdt_begin_node(fdt, name));
        FDT_TRY(fdt_property_string(fdt, "compatible", "arm,gic-v3"));
        FDT_TRY(fdt_property(fdt, "interrupt-controller", NULL, 0));
        FDT_TRY(fdt_property_u32(fdt, "#interrupt-cells", 3));
        FDT_TRY(fdt_property_u32(fdt, "#address-cells", 2));
        FDT_TRY(fdt_property_u32(fdt, "#size-cells", 2));
        FDT_TRY(fdt_property(fdt, "ranges", NULL, 0));
        fdt64_t reg[4] = {
                cpu_to_fdt64(l->gicd_base), cpu_to_fdt64(l->gicd_size),
                cpu_to_fdt64(l->gicr_base), cpu_to_fdt64(l->gicr_size),
        };
        FDT_TRY(fdt_property(fdt, "reg", reg, sizeof(reg)));
        FDT_TRY(fdt_property_u32(fdt, "#redistributor-regions", 1));
        FDT_TRY(fdt_property_u32(fdt, "phandle", VM_DTB_GIC_PHANDLE));
        return fdt_end_node(fdt);
}

static int build_clock(void *fdt) {
        /* Linux's amba bus will not probe a PrimeCell without its clocks. */
        FDT_TRY(fdt_begin_node(fdt, "apb-pclk"));
        FDT_TRY(fdt_property_string(fdt, "compatible", "fixed-clock"));
        FDT_TRY(fdt_property_u32(fdt, "#clock-cells", 0));
        FDT_TRY(fdt_property_u32(fdt, "clock-frequency", VM_DTB_PL011_CLOCK_HZ));
        FDT_TRY(fdt_property_string(fdt, "clock-output-names", "clk24mhz"));
        FDT_TRY(fdt_property_u32(fdt, "phandle", VM_DTB_CLOCK_PHANDLE));
        return fdt_end_node(fdt);
}

static int build_pl011(void *fdt, const VmLayout *l) {
        char name[32];
        pl011_node_name(l, name, sizeof(name));
        uint32_t irq[] = { GIC_SPI, l->pl011_spi, IRQ_TYPE_LEVEL_HIGH };
        uint32_t clocks[] = { VM_DTB_CLOCK_PHANDLE, VM_DTB_CLOCK_PHANDLE };
        FDT_TRY(fdt_begin_node(fdt, name));
        FDT_TRY(fdt_property_strings(fdt, "compatible", "arm,pl011\0arm,primecell"));
        FDT_TRY(dtb_prop_reg(fdt, l->pl011_base, VM_PL011_SIZE));
        FDT_TRY(dtb_prop_cells(fdt, "interrupts", irq, ELEMENTSOF(irq)));
        FDT_TRY(fdt_property_strings(fdt, "clock-names", "uartclk\0apb_pclk"));
        FDT_TRY(dtb_prop_cells(fdt, "clocks", clocks, ELEMENTSOF(clocks)));
        FDT_TRY(fdt_property_u32(fdt, "arm,primecell-periphid", PL011_PERIPHID));
        return fdt_end_node(fdt);
}

/* The power button: a PL061 whose line 3 is KEY_POWER for gpio-keys, as on
 * QEMU's virt machine, so Linux (systemd-logind) and our test guests can
 * honour a graceful stop request. */
static int build_power_button(void *fdt, const VmLayout *l) {
        char name[32];
        uint32_t irq[] = { GIC_SPI, l->pl061_spi, IRQ_TYPE_LEVEL_HIGH };
        uint32_t gpios[] = { VM_DTB_GPIO_PHANDLE, 3, 0 };

        snprintf(name, sizeof(name), "pl061@%" PRIx64, l->pl061_base);
        FDT_TRY(fdt_begin_node(fdt, name));
        FDT_TRY(fdt_property_strings(fdt, "compatible", "arm,pl061\0arm,primecell"));
        FDT_TRY(dtb_prop_reg(fdt, l->pl061_base, VM_PL061_SIZE));
        FDT_TRY(dtb_prop_cells(fdt, "interrupts", irq, ELEMENTSOF(irq)));
        FDT_TRY(fdt_property(fdt, "gpio-controller", NULL, 0));
        FDT_TRY(fdt_property_u32(fdt, "#gpio-cells", 2));
        FDT_TRY(fdt_property_string(fdt, "clock-names", "apb_pclk"));
        FDT_TRY(fdt_property_u32(fdt, "clocks", VM_DTB_CLOCK_PHANDLE));
        FDT_TRY(fdt_property_u32(fdt, "phandle", VM_DTB_GPIO_PHANDLE));
        FDT_TRY(fdt_end_node(fdt));

        FDT_TRY(fdt_begin_node(fdt, "gpio-keys"));
        FDT_TRY(fdt_property_string(fdt, "compatible", "gpio-keys"));
        FDT_TRY(fdt_begin_node(fdt, "poweroff"));
        FDT_TRY(fdt_property_string(fdt, "label", "GPIO Key Poweroff"));
        FDT_TRY(fdt_property_u32(fdt, "linux,code", VM_DTB_KEY_POWER));
        FDT_TRY(dtb_prop_cells(fdt, "gpios", gpios, ELEMENTSOF(gpios)));
        FDT_TRY(fdt_end_node(fdt));
        return fdt_end_node(fdt);
}

/* One doorbell per interrupt the VMM raises through an irqfd; its label is
 * the irqfd label, which is the SPI number. */
int dtb_build_doorbell(void *fdt, uint32_t spi, uint32_t irq_type) {
        char name[32], generate[48];
        uint32_t irq[] = { GIC_SPI, spi, irq_type };

        snprintf(name, sizeof(name), "bell-%" PRIx32, spi);
        snprintf(generate, sizeof(generate), "/hypervisor/%s", name);
        FDT_TRY(fdt_begin_node(fdt, name));
        FDT_TRY(fdt_property_string(fdt, "vdevice-type", "doorbell"));
        FDT_TRY(fdt_property_string(fdt, "generate", generate));
        FDT_TRY(fdt_property_u32(fdt, "label", spi));
        FDT_TRY(fdt_property(fdt, "peer-default", NULL, 0));
        /* A level line: the VMM must be able to withdraw it when the device
         * condition goes away before the guest sees it. An edge (virtio)
         * is never withdrawn. */
        if (irq_type == IRQ_TYPE_LEVEL_HIGH)
                FDT_TRY(fdt_property(fdt, "source-can-clear", NULL, 0));
        FDT_TRY(dtb_prop_cells(fdt, "interrupts", irq, ELEMENTSOF(irq)));
        return fdt_end_node(fdt);
}

static int build_vm_config(void *fdt, const VmSpec *spec, const VmLayout *l) {
        FDT_TRY(fdt_begin_node(fdt, "gunyah-vm-config"));
        FDT_TRY(fdt_property_string(fdt, "image-name", spec->name));
        FDT_TRY(fdt_property_string(fdt, "os-type", "linux"));

        FDT_TRY(fdt_begin_node(fdt, "memory"));
        FDT_TRY(fdt_property_u32(fdt, "#address-cells", 2));
        FDT_TRY(fdt_property_u32(fdt, "#size-cells", 2));
        FDT_TRY(fdt_property_u64(fdt, "base-address", l->ram_base));
        FDT_TRY(fdt_end_node(fdt));

        FDT_TRY(fdt_begin_node(fdt, "interrupts"));
        FDT_TRY(fdt_property_u32(fdt, "config", VM_DTB_GIC_PHANDLE));
        FDT_TRY(fdt_end_node(fdt));

        FDT_TRY(fdt_begin_node(fdt, "vcpus"));
        FDT_TRY(fdt_property_string(fdt, "affinity", "proxy"));
        FDT_TRY(fdt_end_node(fdt));

        FDT_TRY(fdt_begin_node(fdt, "vdevices"));
        FDT_TRY(fdt_property_string(fdt, "generate", "/hypervisor"));
        if (l->have_pl011)
                FDT_TRY(dtb_build_doorbell(fdt, l->pl011_spi, IRQ_TYPE_LEVEL_HIGH));
        FDT_TRY(dtb_build_doorbell(fdt, l->pl061_spi, IRQ_TYPE_LEVEL_HIGH));
        FDT_TRY(dtb_build_virtio_doorbells(fdt, l));
        FDT_TRY(fdt_end_node(fdt));

        return fdt_end_node(fdt);
}

static int build_tree(void *fdt, const VmSpec *spec, const VmLayout *l) {
        FDT_TRY(fdt_finish_reservemap(fdt));
        FDT_TRY(fdt_begin_node(fdt, ""));
        FDT_TRY(fdt_property_u32(fdt, "#address-cells", 2));
        FDT_TRY(fdt_property_u32(fdt, "#size-cells", 2));
        FDT_TRY(fdt_property_string(fdt, "compatible", "linux,dummy-virt"));
        FDT_TRY(fdt_property_u32(fdt, "interrupt-parent", VM_DTB_GIC_PHANDLE));

        FDT_TRY(build_chosen(fdt, spec, l));
        /* Named exactly /memory: the RM rejects any other memory node. */
        FDT_TRY(fdt_begin_node(fdt, "memory"));
        FDT_TRY(fdt_property_string(fdt, "device_type", "memory"));
        FDT_TRY(dtb_prop_reg(fdt, l->ram_base, l->ram_size));
        FDT_TRY(fdt_end_node(fdt));
        FDT_TRY(dtb_build_reserved_memory(fdt, l));
        FDT_TRY(build_cpus(fdt, l));
        FDT_TRY(build_psci_timer(fdt));
        FDT_TRY(build_gic(fdt, l));
        FDT_TRY(build_clock(fdt));
        if (l->have_pl011)
                FDT_TRY(build_pl011(fdt, l));
        FDT_TRY(build_power_button(fdt, l));
        FDT_TRY(dtb_build_virtio_mmio(fdt, l));
        FDT_TRY(build_vm_config(fdt, spec, l));

        FDT_TRY(fdt_end_node(fdt));
        return fdt_finish(fdt);
}

int vm_dtb_build(const VmSpec *spec, const VmLayout *layout, void **ret_blob, size_t *ret_size) {
        if (!spec || !layout || !ret_blob || !ret_size)
                return -EINVAL;

        /* A tree with 64 CPUs and a long command line is still a few KiB;
         * grow anyway rather than guess. */
        for (size_t size = 16 * 1024; size <= VM_DTB_WINDOW_MAX; size *= 2) {
                _cleanup_free_ void *buf = calloc(1, size);
                if (!buf)
                        return -ENOMEM;

                int e = fdt_create(buf, (int) size);
                if (e == 0)
                        e = build_tree(buf, spec, layout);
                if (e == -FDT_ERR_NOSPACE)
                        continue;
                if (e == 0)
                        e = fdt_pack(buf);
                if (e == 0)
                        e = fdt_check_header(buf);
                if (e < 0)
                        return -EINVAL;

                *ret_size = fdt_totalsize(buf);
                *ret_blob = TAKE_PTR(buf);
                return 0;
        }
        return -E2BIG;
}
