/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Boot preparation (boot-images.h): the same path for the daemon, gunyahctl
 * dtb and the simulator tests, so what `gunyahctl dtb` shows is what the
 * guest gets.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "boot-images.h"
#include "dtb.h"
#include "errbuf.h"
#include "fileio.h"

VmBootImages *vm_boot_images_free(VmBootImages *b) {
        if (b) {
                free(b->kernel);
                free(b->initrd);
                free(b->dtb);
                free(b);
        }
        return NULL;
}

static int boot_images_build(const VmSpec *spec, VmBootImages *b, bool have_boot_context,
                             char *errbuf, size_t errlen) {
        char msg[VM_IMAGE_ERROR_MAX];
        int r;

        r = vm_image_probe(b->kernel, b->kernel_size, spec->kernel.format, &b->kernel_info, msg, sizeof(msg));
        if (r < 0)
                return errbuf_set(errbuf, errlen, r, "kernel %s: %s", strna(spec->kernel.path), msg);
        r = vm_layout_compute(spec, &b->kernel_info, b->initrd_size, have_boot_context, &b->layout,
                              msg, sizeof(msg));
        if (r < 0)
                return errbuf_set(errbuf, errlen, r, "%s", msg);
        r = vm_dtb_build(spec, &b->layout, &b->dtb, &b->dtb_size);
        if (r < 0)
                return errbuf_set(errbuf, errlen, r, "building the devicetree failed: %s", strerror(-r));
        r = vm_layout_check_dtb(&b->layout, b->dtb_size, msg, sizeof(msg));
        if (r < 0)
                return errbuf_set(errbuf, errlen, r, "%s", msg);
        return 0;
}

static void *memdup_or_null(const void *p, size_t n) {
        void *q = malloc(n > 0 ? n : 1);
        if (q && n > 0)
                memcpy(q, p, n);
        return q;
}

int vm_boot_images_prepare_from_memory(const VmSpec *spec, const void *kernel, size_t kernel_size,
                                       const void *initrd, size_t initrd_size, bool have_boot_context,
                                       VmBootImages **ret, char *errbuf, size_t errlen) {
        _cleanup_(vm_boot_images_freep) VmBootImages *b = NULL;
        int r;

        if (!spec || !kernel || !ret)
                return -EINVAL;
        b = calloc(1, sizeof(*b));
        if (!b)
                return -ENOMEM;
        b->kernel = memdup_or_null(kernel, kernel_size);
        if (!b->kernel)
                return -ENOMEM;
        b->kernel_size = kernel_size;
        if (initrd) {
                b->initrd = memdup_or_null(initrd, initrd_size);
                if (!b->initrd)
                        return -ENOMEM;
                b->initrd_size = initrd_size;
        }
        r = boot_images_build(spec, b, have_boot_context, errbuf, errlen);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(b);
        return 0;
}

static int read_image_file(const char *what, const char *path, uint64_t max, char **ret, size_t *ret_size,
                           char *errbuf, size_t errlen) {
        int r = read_full_file(path, (size_t) MIN(max, (uint64_t) SIZE_MAX - 1), ret, ret_size);
        if (r == -EFBIG)
                return errbuf_set(errbuf, errlen, r, "%s %s is larger than guest memory (%" PRIu64 " bytes)",
                                  what, path, max);
        if (r < 0)
                return errbuf_set(errbuf, errlen, r, "%s %s: %s", what, path, strerror(-r));
        return 0;
}

int vm_boot_images_prepare(const VmSpec *spec, bool have_boot_context,
                           VmBootImages **ret, char *errbuf, size_t errlen) {
        _cleanup_(vm_boot_images_freep) VmBootImages *b = NULL;
        char *data = NULL;
        size_t size;
        int r;

        if (!spec || !spec->kernel.path || !ret)
                return -EINVAL;
        b = calloc(1, sizeof(*b));
        if (!b)
                return -ENOMEM;

        r = read_image_file("kernel", spec->kernel.path, spec->memory.size, &data, &size, errbuf, errlen);
        if (r < 0)
                return r;
        b->kernel = data;
        b->kernel_size = size;
        if (spec->initrd) {
                r = read_image_file("initrd", spec->initrd, spec->memory.size, &data, &size, errbuf, errlen);
                if (r < 0)
                        return r;
                b->initrd = data;
                b->initrd_size = size;
        }
        r = boot_images_build(spec, b, have_boot_context, errbuf, errlen);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(b);
        return 0;
}

int vm_boot_images_load(const VmBootImages *b, void *ram, uint64_t ram_size, char *errbuf, size_t errlen) {
        const VmLayout *l = &b->layout;
        int r;

        /* Everything lies below the pool, so the lent part alone will do. */
        if (ram_size != l->ram_size && ram_size != l->ram_size - l->swiotlb_size)
                return errbuf_set(errbuf, errlen, -EINVAL,
                                  "guest RAM mapping of %" PRIu64 " bytes matches neither the layout's %" PRIu64
                                  " nor the %" PRIu64 " below its swiotlb pool",
                                  ram_size, l->ram_size, l->ram_size - l->swiotlb_size);
        r = vm_image_load(b->kernel, b->kernel_size, &b->kernel_info, l->kernel_addr, ram, l->ram_base,
                          ram_size, errbuf, errlen);
        if (r < 0)
                return r;
        /* The layout placed initrd and DTB inside RAM; offsets cannot overflow. */
        if (b->initrd_size > 0)
                memcpy((uint8_t *) ram + (l->initrd_addr - l->ram_base), b->initrd, b->initrd_size);
        uint8_t *dtb = (uint8_t *) ram + (l->dtb_addr - l->ram_base);
        memcpy(dtb, b->dtb, b->dtb_size);
        /* The RM works in the rest of the window; leave no stale bytes there. */
        memset(dtb + b->dtb_size, 0, l->dtb_window - b->dtb_size);
        return 0;
}

int vm_guest_prepare(const VmSpec *spec, void *ram, uint64_t ram_size, bool have_boot_context,
                     VmLayout *ret_layout, char *errbuf, size_t errlen) {
        _cleanup_(vm_boot_images_freep) VmBootImages *b = NULL;
        int r;

        r = vm_boot_images_prepare(spec, have_boot_context, &b, errbuf, errlen);
        if (r < 0)
                return r;
        r = vm_boot_images_load(b, ram, ram_size, errbuf, errlen);
        if (r < 0)
                return r;
        if (ret_layout)
                *ret_layout = b->layout;
        return 0;
}
