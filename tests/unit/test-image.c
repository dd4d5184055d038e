/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <elf.h>
#include <endian.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "image.h"
#include "macro.h"

#define RAM_BASE UINT64_C(0x80000000)
#define RAM_SIZE (UINT64_C(4) << 20)

/* ---- synthetic arm64 Images ---- */

static void put_le32(uint8_t *p, uint32_t v) {
        v = htole32(v);
        memcpy(p, &v, sizeof(v));
}

static void put_le64(uint8_t *p, uint64_t v) {
        v = htole64(v);
        memcpy(p, &v, sizeof(v));
}

/* An Image of file_size bytes; payload bytes are their offset's low byte. */
static uint8_t *make_arm64(size_t file_size, uint64_t text_offset, uint64_t image_size, uint64_t flags) {
        uint8_t *p = malloc(file_size);
        assert_non_null(p);
        for (size_t i = 0; i < file_size; i++)
                p[i] = (uint8_t) i;
        if (file_size >= 64) {
                put_le64(p + 8, text_offset);
                put_le64(p + 16, image_size);
                put_le64(p + 24, flags);
                put_le32(p + 56, VM_IMAGE_ARM64_MAGIC);
        }
        return p;
}

static void test_image_arm64_probe(void **state) {
        uint8_t *p = make_arm64(4096, 0, 0x10000, 0xa);
        VmImageInfo info;
        char err[VM_IMAGE_ERROR_MAX] = "";

        assert_int_equal(vm_image_probe(p, 4096, VM_KERNEL_FORMAT_AUTO, &info, err, sizeof(err)), 0);
        assert_int_equal(info.format, VM_KERNEL_FORMAT_IMAGE);
        assert_int_equal(info.text_offset, 0);
        assert_int_equal(info.image_size, 0x10000);
        assert_int_equal(info.flags, 0xa);
        assert_int_equal(info.load_size, 0x10000);
        assert_int_equal(info.file_size, 4096);

        /* Asking for the format explicitly gives the same answer. */
        assert_int_equal(vm_image_probe(p, 4096, VM_KERNEL_FORMAT_IMAGE, &info, err, sizeof(err)), 0);
        assert_int_equal(info.format, VM_KERNEL_FORMAT_IMAGE);
        free(p);
}

static void test_image_arm64_old_kernel_uses_fixed_offset(void **state) {
        uint8_t *p = make_arm64(8192, 0x1234, 0, 0);
        VmImageInfo info;

        assert_int_equal(vm_image_probe(p, 8192, VM_KERNEL_FORMAT_AUTO, &info, NULL, 0), 0);
        assert_int_equal(info.text_offset, VM_IMAGE_ARM64_OLD_TEXT_OFFSET);
        assert_int_equal(info.image_size, 8192);
        assert_int_equal(info.load_size, 8192);
        free(p);
}

static void expect_probe_error(const void *data, size_t size, VmKernelFormat f, int error, const char *needle) {
        VmImageInfo info = { .file_size = 0xdead };
        char err[VM_IMAGE_ERROR_MAX] = "";

        assert_int_equal(vm_image_probe(data, size, f, &info, err, sizeof(err)), error);
        if (!strstr(err, needle))
                fail_msg("error \"%s\" does not mention \"%s\"", err, needle);
        /* ret is written only on success. */
        assert_int_equal(info.file_size, 0xdead);
}

static void test_image_arm64_rejects_bad_headers(void **state) {
        uint8_t *p;

        p = make_arm64(4096, 0, 4095, 0);
        expect_probe_error(p, 4096, VM_KERNEL_FORMAT_AUTO, -EINVAL, "smaller than the file");
        free(p);

        p = make_arm64(4096, 0, 0x10000, 1);
        expect_probe_error(p, 4096, VM_KERNEL_FORMAT_AUTO, -EINVAL, "big-endian");
        free(p);

        p = make_arm64(4096, 0x200000, 0x10000, 0);
        expect_probe_error(p, 4096, VM_KERNEL_FORMAT_AUTO, -EINVAL, "text_offset");
        free(p);

        p = make_arm64(4096, 0x80001, 0x10000, 0);
        expect_probe_error(p, 4096, VM_KERNEL_FORMAT_AUTO, -EINVAL, "text_offset");
        free(p);

        p = make_arm64(4096, 0, UINT64_C(1) << 40, 0);
        expect_probe_error(p, 4096, VM_KERNEL_FORMAT_AUTO, -EFBIG, "image_size");
        free(p);

        /* Truncated: the magic would sit past the end of the file. */
        p = make_arm64(40, 0, 0, 0);
        expect_probe_error(p, 40, VM_KERNEL_FORMAT_IMAGE, -EINVAL, "truncated");
        free(p);

        /* Not an Image at all, but Image was requested. */
        p = calloc(1, 4096);
        assert_non_null(p);
        expect_probe_error(p, 4096, VM_KERNEL_FORMAT_IMAGE, -EINVAL, "magic");
        free(p);
}

/* ---- synthetic ELF64 AArch64 executables ---- */

typedef struct Seg {
        uint32_t type;
        uint64_t paddr, offset, filesz, memsz;
} Seg;

#define ELF_DATA_OFF 0x1000u

/* Header + program headers at 64; segment data starts at ELF_DATA_OFF. */
static uint8_t *make_elf(size_t file_size, uint64_t entry, const Seg *segs, size_t n) {
        uint8_t *p = calloc(1, file_size);
        assert_non_null(p);
        for (size_t i = ELF_DATA_OFF; i < file_size; i++)
                p[i] = (uint8_t) (i * 7 + 1);

        Elf64_Ehdr eh = {
                .e_type = htole16(ET_EXEC),
                .e_machine = htole16(EM_AARCH64),
                .e_version = htole32(EV_CURRENT),
                .e_entry = htole64(entry),
                .e_phoff = htole64(sizeof(Elf64_Ehdr)),
                .e_ehsize = htole16(sizeof(Elf64_Ehdr)),
                .e_phentsize = htole16(sizeof(Elf64_Phdr)),
                .e_phnum = htole16((uint16_t) n),
        };
        memcpy(eh.e_ident, ELFMAG, SELFMAG);
        eh.e_ident[EI_CLASS] = ELFCLASS64;
        eh.e_ident[EI_DATA] = ELFDATA2LSB;
        eh.e_ident[EI_VERSION] = EV_CURRENT;
        memcpy(p, &eh, sizeof(eh));

        for (size_t i = 0; i < n; i++) {
                Elf64_Phdr ph = {
                        .p_type = htole32(segs[i].type),
                        .p_flags = htole32(PF_R | PF_X),
                        .p_offset = htole64(segs[i].offset),
                        .p_vaddr = htole64(segs[i].paddr),
                        .p_paddr = htole64(segs[i].paddr),
                        .p_filesz = htole64(segs[i].filesz),
                        .p_memsz = htole64(segs[i].memsz),
                };
                if (sizeof(eh) + (i + 1) * sizeof(ph) <= file_size)
                        memcpy(p + sizeof(eh) + i * sizeof(ph), &ph, sizeof(ph));
        }
        return p;
}

/* Two loadable segments listed out of order, plus a non-load header. */
static const Seg good_segs[] = {
        { PT_LOAD, RAM_BASE + 0x10000, ELF_DATA_OFF + 0x100, 0x100, 0x2000 },
        { PT_NOTE, 0, 0, 0, 0 },
        { PT_LOAD, RAM_BASE, ELF_DATA_OFF, 0x100, 0x100 },
};
#define GOOD_ELF_SIZE (ELF_DATA_OFF + 0x200)

static void test_image_elf_probe(void **state) {
        uint8_t *p = make_elf(GOOD_ELF_SIZE, RAM_BASE + 0x40, good_segs, ELEMENTSOF(good_segs));
        VmImageInfo info;
        char err[VM_IMAGE_ERROR_MAX] = "";

        int r = vm_image_probe(p, GOOD_ELF_SIZE, VM_KERNEL_FORMAT_AUTO, &info, err, sizeof(err));
        if (r < 0)
                fail_msg("probe failed: %s", err);
        assert_int_equal(info.format, VM_KERNEL_FORMAT_ELF);
        assert_int_equal(info.entry, RAM_BASE + 0x40);
        assert_int_equal(info.n_segments, 2);
        /* Sorted by address. */
        assert_int_equal(info.segments[0].paddr, RAM_BASE);
        assert_int_equal(info.segments[1].paddr, RAM_BASE + 0x10000);
        assert_int_equal(info.segments[1].memsz, 0x2000);
        assert_int_equal(info.segments[0].flags, PF_R | PF_X);
        assert_int_equal(info.load_size, 0x12000);
        free(p);
}

static void expect_elf_error(uint8_t *p, size_t size, const char *needle) {
        expect_probe_error(p, size, VM_KERNEL_FORMAT_AUTO, -EINVAL, needle);
        expect_probe_error(p, size, VM_KERNEL_FORMAT_ELF, -EINVAL, needle);
        free(p);
}

static void test_image_elf_rejects_bad_identity(void **state) {
        uint8_t *p;

        p = make_elf(GOOD_ELF_SIZE, RAM_BASE, good_segs, ELEMENTSOF(good_segs));
        p[EI_CLASS] = ELFCLASS32;
        expect_elf_error(p, GOOD_ELF_SIZE, "64-bit");

        p = make_elf(GOOD_ELF_SIZE, RAM_BASE, good_segs, ELEMENTSOF(good_segs));
        p[EI_DATA] = ELFDATA2MSB;
        expect_elf_error(p, GOOD_ELF_SIZE, "little-endian");

        p = make_elf(GOOD_ELF_SIZE, RAM_BASE, good_segs, ELEMENTSOF(good_segs));
        p[offsetof(Elf64_Ehdr, e_machine)] = EM_X86_64;
        expect_elf_error(p, GOOD_ELF_SIZE, "AArch64");

        p = make_elf(GOOD_ELF_SIZE, RAM_BASE, good_segs, ELEMENTSOF(good_segs));
        p[offsetof(Elf64_Ehdr, e_type)] = ET_DYN;
        expect_elf_error(p, GOOD_ELF_SIZE, "ET_EXEC");

        /* Truncated inside the ELF header. */
        p = make_elf(GOOD_ELF_SIZE, RAM_BASE, good_segs, ELEMENTSOF(good_segs));
        expect_elf_error(p, 40, "truncated");
}

static void set_le16_at(uint8_t *p, size_t off, uint16_t v) {
        v = htole16(v);
        memcpy(p + off, &v, sizeof(v));
}

static void test_image_elf_rejects_lying_program_headers(void **state) {
        uint8_t *p;

        p = make_elf(GOOD_ELF_SIZE, RAM_BASE, good_segs, 0);
        expect_elf_error(p, GOOD_ELF_SIZE, "no program headers");

        p = make_elf(GOOD_ELF_SIZE, RAM_BASE, good_segs, ELEMENTSOF(good_segs));
        set_le16_at(p, offsetof(Elf64_Ehdr, e_phnum), 1000);
        expect_elf_error(p, GOOD_ELF_SIZE, "absurd");

        /* 60 headers claimed, the file holds far fewer. */
        p = make_elf(GOOD_ELF_SIZE, RAM_BASE, good_segs, ELEMENTSOF(good_segs));
        set_le16_at(p, offsetof(Elf64_Ehdr, e_phnum), 100);
        expect_elf_error(p, GOOD_ELF_SIZE, "past the end of the file");

        p = make_elf(GOOD_ELF_SIZE, RAM_BASE, good_segs, ELEMENTSOF(good_segs));
        put_le64(p + offsetof(Elf64_Ehdr, e_phoff), UINT64_MAX - 8);
        expect_elf_error(p, GOOD_ELF_SIZE, "past the end of the file");

        p = make_elf(GOOD_ELF_SIZE, RAM_BASE, good_segs, ELEMENTSOF(good_segs));
        set_le16_at(p, offsetof(Elf64_Ehdr, e_phentsize), 32);
        expect_elf_error(p, GOOD_ELF_SIZE, "e_phentsize");
}

static void test_image_elf_rejects_lying_segments(void **state) {
        static const struct {
                const char *name;
                Seg seg;
                const char *needle;
        } cases[] = {
                { "data past EOF", { PT_LOAD, RAM_BASE, ELF_DATA_OFF, 0x1000, 0x1000 }, "past the end of the file" },
                { "offset overflows", { PT_LOAD, RAM_BASE, UINT64_MAX - 0x10, 0x100, 0x100 }, "past the end of the file" },
                { "filesz > memsz", { PT_LOAD, RAM_BASE, ELF_DATA_OFF, 0x100, 0x80 }, "exceeds p_memsz" },
                { "address wraps", { PT_LOAD, UINT64_MAX - 0x10, ELF_DATA_OFF, 0x10, 0x100 }, "address space" },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                print_message("case: %s\n", cases[i].name);
                uint8_t *p = make_elf(GOOD_ELF_SIZE, RAM_BASE, &cases[i].seg, 1);
                expect_elf_error(p, GOOD_ELF_SIZE, cases[i].needle);
        }
}

static void test_image_elf_rejects_overlap_entry_and_count(void **state) {
        const Seg overlap[] = {
                { PT_LOAD, RAM_BASE, ELF_DATA_OFF, 0x100, 0x1000 },
                { PT_LOAD, RAM_BASE + 0xfff, ELF_DATA_OFF, 0x100, 0x100 },
        };
        expect_elf_error(make_elf(GOOD_ELF_SIZE, RAM_BASE, overlap, 2), GOOD_ELF_SIZE, "overlap");

        /* Entry just past the end of the last segment. */
        expect_elf_error(make_elf(GOOD_ELF_SIZE, RAM_BASE + 0x12000, good_segs, ELEMENTSOF(good_segs)),
                         GOOD_ELF_SIZE, "entry point");

        const Seg note[] = { { PT_NOTE, 0, 0, 0, 0 } };
        expect_elf_error(make_elf(GOOD_ELF_SIZE, RAM_BASE, note, 1), GOOD_ELF_SIZE, "no PT_LOAD");

        Seg many[VM_IMAGE_SEGMENTS_MAX + 1];
        for (size_t i = 0; i < ELEMENTSOF(many); i++)
                many[i] = (Seg) { PT_LOAD, RAM_BASE + i * 0x1000, ELF_DATA_OFF, 0x10, 0x10 };
        expect_elf_error(make_elf(ELF_DATA_OFF + 0x100, RAM_BASE, many, ELEMENTSOF(many)), ELF_DATA_OFF + 0x100,
                         "more than");
}

static void test_image_raw_and_empty(void **state) {
        uint8_t blob[100] = { 0x14, 0x00, 0x00, 0x00 };
        VmImageInfo info;

        assert_int_equal(vm_image_probe(blob, sizeof(blob), VM_KERNEL_FORMAT_AUTO, &info, NULL, 0), 0);
        assert_int_equal(info.format, VM_KERNEL_FORMAT_RAW);
        assert_int_equal(info.load_size, sizeof(blob));

        /* An ELF forced to raw is loaded as raw bytes. */
        uint8_t *p = make_elf(GOOD_ELF_SIZE, RAM_BASE, good_segs, ELEMENTSOF(good_segs));
        assert_int_equal(vm_image_probe(p, GOOD_ELF_SIZE, VM_KERNEL_FORMAT_RAW, &info, NULL, 0), 0);
        assert_int_equal(info.format, VM_KERNEL_FORMAT_RAW);
        free(p);

        expect_probe_error(blob, 0, VM_KERNEL_FORMAT_AUTO, -EINVAL, "empty");
        expect_probe_error(blob, sizeof(blob), VM_KERNEL_FORMAT_ELF, -EINVAL, "not an ELF");
}

/* ---- loading ---- */

static uint8_t *make_ram(void) {
        uint8_t *ram = malloc(RAM_SIZE);
        assert_non_null(ram);
        memset(ram, 0xaa, RAM_SIZE);
        return ram;
}

static void test_image_load_arm64_zeroes_bss(void **state) {
        uint8_t *p = make_arm64(4096, 0, 0x3000, 0), *ram = make_ram();
        VmImageInfo info;
        char err[VM_IMAGE_ERROR_MAX] = "";

        assert_int_equal(vm_image_probe(p, 4096, VM_KERNEL_FORMAT_AUTO, &info, NULL, 0), 0);
        assert_int_equal(vm_image_load(p, 4096, &info, RAM_BASE + 0x200000, ram, RAM_BASE, RAM_SIZE, err,
                                       sizeof(err)), 0);
        assert_memory_equal(ram + 0x200000, p, 4096);
        for (size_t i = 4096; i < 0x3000; i++)
                assert_int_equal(ram[0x200000 + i], 0);
        assert_int_equal(ram[0x200000 + 0x3000], 0xaa); /* nothing past image_size */
        assert_int_equal(ram[0x1fffff], 0xaa);

        /* Past the end of RAM by one byte, and below RAM. */
        assert_int_equal(vm_image_load(p, 4096, &info, RAM_BASE + RAM_SIZE - 0x3000 + 1, ram, RAM_BASE, RAM_SIZE,
                                       err, sizeof(err)), -ERANGE);
        assert_non_null(strstr(err, "outside guest RAM"));
        assert_int_equal(vm_image_load(p, 4096, &info, RAM_BASE - 0x1000, ram, RAM_BASE, RAM_SIZE, err,
                                       sizeof(err)), -ERANGE);
        assert_int_equal(vm_image_load(p, 4096, &info, UINT64_MAX - 0x1000, ram, RAM_BASE, RAM_SIZE, err,
                                       sizeof(err)), -ERANGE);
        /* Exactly at the end fits. */
        assert_int_equal(vm_image_load(p, 4096, &info, RAM_BASE + RAM_SIZE - 0x3000, ram, RAM_BASE, RAM_SIZE,
                                       err, sizeof(err)), 0);

        /* A probe result for another buffer is refused. */
        assert_int_equal(vm_image_load(p, 2048, &info, RAM_BASE, ram, RAM_BASE, RAM_SIZE, err, sizeof(err)),
                         -EINVAL);
        free(p);
        free(ram);
}

static void test_image_load_elf_segments(void **state) {
        uint8_t *p = make_elf(GOOD_ELF_SIZE, RAM_BASE, good_segs, ELEMENTSOF(good_segs)), *ram = make_ram();
        VmImageInfo info;
        char err[VM_IMAGE_ERROR_MAX] = "";

        assert_int_equal(vm_image_probe(p, GOOD_ELF_SIZE, VM_KERNEL_FORMAT_AUTO, &info, NULL, 0), 0);
        /* load_addr is ignored for ELF. */
        assert_int_equal(vm_image_load(p, GOOD_ELF_SIZE, &info, 0, ram, RAM_BASE, RAM_SIZE, err, sizeof(err)), 0);
        assert_memory_equal(ram, p + ELF_DATA_OFF, 0x100);
        assert_memory_equal(ram + 0x10000, p + ELF_DATA_OFF + 0x100, 0x100);
        for (size_t i = 0x100; i < 0x2000; i++)
                assert_int_equal(ram[0x10000 + i], 0);
        assert_int_equal(ram[0x100], 0xaa); /* the gap between segments is untouched */
        assert_int_equal(ram[0x12000], 0xaa);

        /* The same ELF with RAM starting above its first segment. */
        assert_int_equal(vm_image_load(p, GOOD_ELF_SIZE, &info, 0, ram, RAM_BASE + 0x1000, RAM_SIZE - 0x1000,
                                       err, sizeof(err)), -ERANGE);
        assert_non_null(strstr(err, "ELF segment 0"));
        free(p);
        free(ram);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_image_arm64_probe),
                cmocka_unit_test(test_image_arm64_old_kernel_uses_fixed_offset),
                cmocka_unit_test(test_image_arm64_rejects_bad_headers),
                cmocka_unit_test(test_image_elf_probe),
                cmocka_unit_test(test_image_elf_rejects_bad_identity),
                cmocka_unit_test(test_image_elf_rejects_lying_program_headers),
                cmocka_unit_test(test_image_elf_rejects_lying_segments),
                cmocka_unit_test(test_image_elf_rejects_overlap_entry_and_count),
                cmocka_unit_test(test_image_raw_and_empty),
                cmocka_unit_test(test_image_load_arm64_zeroes_bss),
                cmocka_unit_test(test_image_load_elf_segments),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
