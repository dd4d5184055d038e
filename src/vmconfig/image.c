/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <elf.h>
#include <endian.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "errbuf.h"
#include "image.h"

/* Header fields are read with explicit little-endian loads from the byte
 * buffer: the buffer need not be aligned and the host need not be LE. */
static uint32_t get_le32(const uint8_t *p) {
        uint32_t v;
        memcpy(&v, p, sizeof(v));
        return le32toh(v);
}

static uint64_t get_le64(const uint8_t *p) {
        uint64_t v;
        memcpy(&v, p, sizeof(v));
        return le64toh(v);
}

static bool has_arm64_magic(const uint8_t *p, size_t size) {
        return size >= VM_IMAGE_ARM64_HEADER_SIZE && get_le32(p + 56) == VM_IMAGE_ARM64_MAGIC;
}

static bool has_elf_magic(const uint8_t *p, size_t size) {
        return size >= SELFMAG && memcmp(p, ELFMAG, SELFMAG) == 0;
}

static int probe_arm64(const uint8_t *p, size_t size, VmImageInfo *info, char *errbuf, size_t errlen) {
        if (size < VM_IMAGE_ARM64_HEADER_SIZE)
                return errbuf_set(errbuf, errlen, -EINVAL,
                                  "truncated arm64 Image: %zu bytes, the header alone is %u", size,
                                  VM_IMAGE_ARM64_HEADER_SIZE);
        if (!has_arm64_magic(p, size))
                return errbuf_set(errbuf, errlen, -EINVAL,
                                  "not an arm64 Image: no \"ARM\\x64\" magic at offset 56");

        uint64_t text_offset = get_le64(p + 8), image_size = get_le64(p + 16), flags = get_le64(p + 24);

        if (image_size == 0) {
                /* Before Linux 3.17 the header had no size and the offset was fixed. */
                text_offset = VM_IMAGE_ARM64_OLD_TEXT_OFFSET;
                image_size = size;
        } else if (image_size < size)
                return errbuf_set(errbuf, errlen, -EINVAL,
                                  "arm64 Image header lies: image_size 0x%" PRIx64
                                  " is smaller than the file (%zu bytes)", image_size, size);

        if (flags & 1)
                return errbuf_set(errbuf, errlen, -EINVAL, "big-endian arm64 Image is not supported");
        /* The kernel sits text_offset into a 2 MiB aligned block; anything
         * larger is not a header a real kernel writes. */
        if (text_offset >= VM_RAM_ALIGN || text_offset % 4096 != 0)
                return errbuf_set(errbuf, errlen, -EINVAL,
                                  "arm64 Image text_offset 0x%" PRIx64
                                  " is not a 4 KiB aligned offset below 2 MiB", text_offset);
        if (image_size > VM_IPA_LIMIT)
                return errbuf_set(errbuf, errlen, -EFBIG,
                                  "arm64 Image image_size 0x%" PRIx64 " exceeds the 36-bit address space",
                                  image_size);

        info->format = VM_KERNEL_FORMAT_IMAGE;
        info->text_offset = text_offset;
        info->image_size = image_size;
        info->flags = flags;
        info->load_size = image_size;
        return 0;
}

static int elf_check_header(const Elf64_Ehdr *eh, size_t size, char *errbuf, size_t errlen) {
        if (eh->e_ident[EI_CLASS] != ELFCLASS64)
                return errbuf_set(errbuf, errlen, -EINVAL, "ELF is not 64-bit (EI_CLASS %u)",
                                  eh->e_ident[EI_CLASS]);
        if (eh->e_ident[EI_DATA] != ELFDATA2LSB)
                return errbuf_set(errbuf, errlen, -EINVAL, "ELF is not little-endian (EI_DATA %u)",
                                  eh->e_ident[EI_DATA]);
        if (le16toh(eh->e_machine) != EM_AARCH64)
                return errbuf_set(errbuf, errlen, -EINVAL, "ELF machine %u is not AArch64 (%u)",
                                  le16toh(eh->e_machine), EM_AARCH64);
        if (le16toh(eh->e_type) != ET_EXEC)
                return errbuf_set(errbuf, errlen, -EINVAL,
                                  "ELF type %u is not an executable (ET_EXEC); a guest must be linked at "
                                  "fixed addresses", le16toh(eh->e_type));

        uint64_t phoff = le64toh(eh->e_phoff);
        unsigned phnum = le16toh(eh->e_phnum), phentsize = le16toh(eh->e_phentsize);
        if (phnum == 0)
                return errbuf_set(errbuf, errlen, -EINVAL, "ELF has no program headers");
        if (phnum > VM_IMAGE_PHNUM_MAX)
                return errbuf_set(errbuf, errlen, -EINVAL, "ELF e_phnum %u is absurd (at most %u)", phnum,
                                  VM_IMAGE_PHNUM_MAX);
        if (phentsize != sizeof(Elf64_Phdr))
                return errbuf_set(errbuf, errlen, -EINVAL, "ELF e_phentsize %u, expected %zu", phentsize,
                                  sizeof(Elf64_Phdr));
        /* phnum * phentsize is at most 256 * 56: only phoff can overflow. */
        if (phoff > size || size - phoff < (uint64_t) phnum * phentsize)
                return errbuf_set(errbuf, errlen, -EINVAL,
                                  "truncated ELF: program headers at 0x%" PRIx64 " (%u x %u bytes) "
                                  "run past the end of the file (%zu bytes)", phoff, phnum, phentsize, size);
        return 0;
}

static int elf_add_segment(const uint8_t *ph, size_t size, unsigned idx, VmImageInfo *info,
                           char *errbuf, size_t errlen) {
        Elf64_Phdr p;
        memcpy(&p, ph, sizeof(p));
        if (le32toh(p.p_type) != PT_LOAD)
                return 0;

        VmImageSegment s = {
                .paddr = le64toh(p.p_paddr),
                .offset = le64toh(p.p_offset),
                .filesz = le64toh(p.p_filesz),
                .memsz = le64toh(p.p_memsz),
                .flags = le32toh(p.p_flags),
        };
        if (s.memsz == 0)
                return 0; /* occupies nothing */
        if (s.filesz > s.memsz)
                return errbuf_set(errbuf, errlen, -EINVAL,
                                  "ELF segment %u: p_filesz 0x%" PRIx64 " exceeds p_memsz 0x%" PRIx64, idx,
                                  s.filesz, s.memsz);
        if (s.offset > size || size - s.offset < s.filesz)
                return errbuf_set(errbuf, errlen, -EINVAL,
                                  "truncated ELF: segment %u at file offset 0x%" PRIx64 " + 0x%" PRIx64
                                  " runs past the end of the file (%zu bytes)", idx, s.offset, s.filesz, size);
        if (s.paddr >= VM_IPA_LIMIT || VM_IPA_LIMIT - s.paddr < s.memsz)
                return errbuf_set(errbuf, errlen, -EINVAL,
                                  "ELF segment %u at 0x%" PRIx64 " + 0x%" PRIx64
                                  " is outside the 36-bit guest address space", idx, s.paddr, s.memsz);
        if (info->n_segments >= VM_IMAGE_SEGMENTS_MAX)
                return errbuf_set(errbuf, errlen, -EINVAL, "ELF has more than %u PT_LOAD segments",
                                  VM_IMAGE_SEGMENTS_MAX);
        info->segments[info->n_segments++] = s;
        return 0;
}

static int segment_cmp(const void *a, const void *b) {
        const VmImageSegment *x = a, *y = b;
        return x->paddr < y->paddr ? -1 : x->paddr > y->paddr;
}

static int elf_check_segments(VmImageInfo *info, char *errbuf, size_t errlen) {
        if (info->n_segments == 0)
                return errbuf_set(errbuf, errlen, -EINVAL, "ELF has no PT_LOAD segment");

        qsort(info->segments, info->n_segments, sizeof(VmImageSegment), segment_cmp);
        for (size_t i = 1; i < info->n_segments; i++) {
                const VmImageSegment *a = &info->segments[i - 1], *b = &info->segments[i];
                if (a->paddr + a->memsz > b->paddr)
                        return errbuf_set(errbuf, errlen, -EINVAL,
                                          "ELF segments overlap: [0x%" PRIx64 ", 0x%" PRIx64
                                          ") and [0x%" PRIx64 ", 0x%" PRIx64 ")", a->paddr,
                                          a->paddr + a->memsz, b->paddr, b->paddr + b->memsz);
        }

        bool entry_ok = false;
        for (size_t i = 0; i < info->n_segments; i++) {
                const VmImageSegment *s = &info->segments[i];
                if (info->entry >= s->paddr && info->entry - s->paddr < s->memsz)
                        entry_ok = true;
        }
        if (!entry_ok)
                return errbuf_set(errbuf, errlen, -EINVAL,
                                  "ELF entry point 0x%" PRIx64 " is not inside any PT_LOAD segment",
                                  info->entry);

        const VmImageSegment *first = &info->segments[0], *last = &info->segments[info->n_segments - 1];
        info->load_size = last->paddr + last->memsz - first->paddr;
        return 0;
}

static int probe_elf(const uint8_t *p, size_t size, VmImageInfo *info, char *errbuf, size_t errlen) {
        Elf64_Ehdr eh;
        int r;

        if (!has_elf_magic(p, size))
                return errbuf_set(errbuf, errlen, -EINVAL, "not an ELF file: no \\x7fELF magic");
        if (size < sizeof(eh))
                return errbuf_set(errbuf, errlen, -EINVAL,
                                  "truncated ELF: %zu bytes, the ELF64 header alone is %zu", size, sizeof(eh));
        memcpy(&eh, p, sizeof(eh));
        r = elf_check_header(&eh, size, errbuf, errlen);
        if (r < 0)
                return r;

        info->format = VM_KERNEL_FORMAT_ELF;
        info->entry = le64toh(eh.e_entry);
        uint64_t phoff = le64toh(eh.e_phoff);
        for (unsigned i = 0; i < le16toh(eh.e_phnum); i++) {
                r = elf_add_segment(p + phoff + (uint64_t) i * sizeof(Elf64_Phdr), size, i, info, errbuf, errlen);
                if (r < 0)
                        return r;
        }
        return elf_check_segments(info, errbuf, errlen);
}

int vm_image_probe(const void *data, size_t size, VmKernelFormat requested,
                   VmImageInfo *ret, char *errbuf, size_t errlen) {
        const uint8_t *p = data;
        VmImageInfo info = { .file_size = size };
        int r;

        if (!data && size > 0)
                return -EINVAL;
        if (size == 0)
                return errbuf_set(errbuf, errlen, -EINVAL, "kernel image is empty");
        if ((uint64_t) size > VM_IPA_LIMIT)
                return errbuf_set(errbuf, errlen, -EFBIG, "kernel image of %zu bytes is larger than the "
                                  "guest address space", size);

        if (requested == VM_KERNEL_FORMAT_AUTO)
                requested = has_arm64_magic(p, size) ? VM_KERNEL_FORMAT_IMAGE :
                            has_elf_magic(p, size)   ? VM_KERNEL_FORMAT_ELF :
                                                       VM_KERNEL_FORMAT_RAW;

        switch (requested) {
        case VM_KERNEL_FORMAT_IMAGE:
                r = probe_arm64(p, size, &info, errbuf, errlen);
                break;
        case VM_KERNEL_FORMAT_ELF:
                r = probe_elf(p, size, &info, errbuf, errlen);
                break;
        case VM_KERNEL_FORMAT_RAW:
                info.format = VM_KERNEL_FORMAT_RAW;
                info.load_size = size;
                r = 0;
                break;
        default:
                return errbuf_set(errbuf, errlen, -EINVAL, "unknown kernel format %d", (int) requested);
        }
        if (r < 0)
                return r;

        *ret = info;
        return 0;
}

/* Is [addr, addr + len) inside [base, base + size)? Without overflow. */
static bool range_inside(uint64_t addr, uint64_t len, uint64_t base, uint64_t size) {
        return addr >= base && len <= size && addr - base <= size - len;
}

static int load_chunk(void *ram, uint64_t ram_base, uint64_t ram_size, uint64_t addr,
                      const uint8_t *src, uint64_t filesz, uint64_t memsz, const char *what,
                      char *errbuf, size_t errlen) {
        if (!range_inside(addr, memsz, ram_base, ram_size))
                return errbuf_set(errbuf, errlen, -ERANGE,
                                  "%s [0x%" PRIx64 ", +0x%" PRIx64 ") is outside guest RAM [0x%" PRIx64
                                  ", 0x%" PRIx64 ")", what, addr, memsz, ram_base, ram_base + ram_size);
        uint8_t *dst = (uint8_t *) ram + (addr - ram_base);
        memcpy(dst, src, filesz);
        memset(dst + filesz, 0, memsz - filesz);
        return 0;
}

int vm_image_load(const void *data, size_t size, const VmImageInfo *info,
                  uint64_t load_addr, void *ram, uint64_t ram_base, uint64_t ram_size,
                  char *errbuf, size_t errlen) {
        const uint8_t *p = data;
        int r;

        if (!data || !info || !ram || info->file_size != size)
                return errbuf_set(errbuf, errlen, -EINVAL, "image does not match its probe result");

        if (info->format != VM_KERNEL_FORMAT_ELF) {
                if (info->load_size < size)
                        return errbuf_set(errbuf, errlen, -EINVAL, "image does not match its probe result");
                /* Image: the tail past the file up to image_size is BSS. */
                return load_chunk(ram, ram_base, ram_size, load_addr, p, size, info->load_size, "kernel",
                                  errbuf, errlen);
        }

        for (size_t i = 0; i < info->n_segments; i++) {
                const VmImageSegment *s = &info->segments[i];
                char what[48]; /* "ELF segment " + any size_t */
                snprintf(what, sizeof(what), "ELF segment %zu", i);
                r = load_chunk(ram, ram_base, ram_size, s->paddr, p + s->offset, s->filesz, s->memsz, what,
                               errbuf, errlen);
                if (r < 0)
                        return r;
        }
        return 0;
}
