/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Guest kernel images: recognising an arm64 Linux Image, an ELF64 AArch64
 * executable or a raw binary, validating its headers against the file that
 * carries them, and copying it into a host mapping of guest RAM.
 *
 * Nothing here trusts the image: every header field is checked against the
 * file size before use, and loading refuses to write outside the RAM window.
 */

#include <stddef.h>
#include <stdint.h>

#include "vm-spec.h"

/* arm64 Image header (Documentation/arch/arm64/booting.rst). */
#define VM_IMAGE_ARM64_HEADER_SIZE 64u
#define VM_IMAGE_ARM64_MAGIC UINT32_C(0x644d5241) /* "ARM\x64", at offset 56 */
#define VM_IMAGE_ARM64_OLD_TEXT_OFFSET UINT64_C(0x80000) /* image_size == 0 */

/* More PT_LOAD segments than this is not a guest we know how to boot. */
#define VM_IMAGE_SEGMENTS_MAX 16u
/* e_phnum above this is refused outright as absurd. */
#define VM_IMAGE_PHNUM_MAX 256u

/* Room for an error message from the functions below. */
#define VM_IMAGE_ERROR_MAX 256u

typedef struct VmImageSegment {
        uint64_t paddr;  /* guest physical load address (p_paddr) */
        uint64_t offset; /* in the file */
        uint64_t filesz; /* bytes copied from the file */
        uint64_t memsz;  /* bytes occupied in memory; the tail is zeroed */
        uint32_t flags;  /* p_flags (PF_X 1, PF_W 2, PF_R 4) */
} VmImageSegment;

typedef struct VmImageInfo {
        VmKernelFormat format; /* never VM_KERNEL_FORMAT_AUTO after a probe */
        uint64_t file_size;

        /* VM_KERNEL_FORMAT_IMAGE: header fields, image_size already
         * replaced by the file size for pre-3.17 kernels (image_size 0). */
        uint64_t text_offset;
        uint64_t image_size;
        uint64_t flags;

        /* VM_KERNEL_FORMAT_ELF: PT_LOAD segments sorted by paddr. */
        uint64_t entry; /* e_entry */
        size_t n_segments;
        VmImageSegment segments[VM_IMAGE_SEGMENTS_MAX];

        /* All formats: bytes of guest memory the kernel occupies from its
         * load address (Image: image_size; ELF: lowest paddr to the end of
         * the highest segment; raw: file size). For ELF the load address is
         * segments[0].paddr; for Image and raw the layout chooses it. */
        uint64_t load_size;
} VmImageInfo;

/* Recognises and validates an image. requested is the spec's kernel.format:
 * AUTO detects (Image magic, then ELF magic, else raw); any other value
 * insists on that format. Returns -EINVAL (bad or lying header, wrong
 * format) or -EFBIG, with a message in errbuf (may be NULL). */
int vm_image_probe(const void *data, size_t size, VmKernelFormat requested,
                   VmImageInfo *ret, char *errbuf, size_t errlen);

/* Copies a probed image into ram, a host mapping of guest physical
 * [ram_base, ram_base + ram_size). load_addr is where an Image or raw
 * binary goes (ignored for ELF, whose segments carry their addresses).
 * Zero-fills ELF memsz tails and the Image's image_size tail (BSS).
 * Returns -ERANGE with a message if anything would land outside RAM. */
int vm_image_load(const void *data, size_t size, const VmImageInfo *info,
                  uint64_t load_addr, void *ram, uint64_t ram_base, uint64_t ram_size,
                  char *errbuf, size_t errlen);
