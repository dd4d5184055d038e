/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "fileio.h"
#include "macro.h"
#include "vm-spec-assert.h"
#include "vm-spec.h"

static const InvalidCase invalid_cases[] = {
        /* The document */
        { "", "", "empty" },
        { "   \n", "", "empty" },
        { "[]", "", "must be a JSON object" },
        { "42", "", "must be a JSON object" },
        { "\"name\"", "", "must be a JSON object" },
        { "null", "", "must be a JSON object" },
        { "{", "", "line 1, column 2: unexpected end of document" },
        { "{\"name\": \"t\",\n \"vcpus\": }", "", "line 2, column 11" },
        { "{\"name\": \"t\", " KERNEL ",}", "", "JSON syntax error" },
        { SPEC0 " x", "", "line 1, column 31: trailing characters" },
        { SPEC0 "{}", "", "trailing characters" },
        { "{'name': 't', " KERNEL "}", "", "double quotes" },
        { SPEC("\"initrd\": 'x'"), "", "double quotes" },
        { "{/* c */ \"name\": \"t\", " KERNEL "}", "", "JSON syntax error" },
        { "{\"name\": \"t\", \"name\": \"u\", " KERNEL "}", "name", "duplicate key" },
        { "{\"name\": \"t\", \"na\\u006de\": \"u\", " KERNEL "}", "name", "duplicate key" },
        { SPEC("\"memory\": {\"size\": 1, \"size\": 2}"), "memory.size", "duplicate key" },
        { SPEC("\"memory\": {}, \"memory\": {}"), "memory", "duplicate key" },
        { SPEC("\"x\": [{\"a\": 1, \"a\": 2}]"), "x[0].a", "duplicate key" },
        { SPEC("\"vcpus\": \"\xff\""), "", "JSON syntax error" },

        /* Unknown keys, at every level */
        { SPEC("\"foo\": 1"), "foo", "unknown key \"foo\"; allowed keys are: name, uuid, vcpus, memory, kernel, initrd, console, autostart, on_poweroff, on_reboot, on_crash, crash_restart" },
        { SPEC("\"memory\": {\"sise\": 1}"), "memory.sise", "allowed keys in memory are: size, base, mode" },
        { "{\"name\": \"t\", \"kernel\": {\"path\": \"/k\", \"args\": \"\"}}", "kernel.args", "allowed keys in kernel are: path, cmdline, format" },
        { SPEC("\"console\": {\"irq\": 1}"), "console.irq", "allowed keys in console are: type, base, spi" },
        { SPEC("\"crash_restart\": {\"max\": 1}"), "crash_restart.max", "allowed keys in crash_restart are: limit, backoff" },
        { SPEC("\"Name\": \"t\""), "Name", "unknown key" },

        /* name */
        { "{" KERNEL "}", "name", "is required" },
        { "{\"name\": \"\", " KERNEL "}", "name", "must match [A-Za-z0-9][A-Za-z0-9_.-]{0,63}" },
        { "{\"name\": \"../x\", " KERNEL "}", "name", "never a path" },
        { "{\"name\": \"a/b\", " KERNEL "}", "name", "must match" },
        { "{\"name\": \"" N64 "x\", " KERNEL "}", "name", "must match" },
        { "{\"name\": \"-a\", " KERNEL "}", "name", "must match" },
        { "{\"name\": \".a\", " KERNEL "}", "name", "must match" },
        { "{\"name\": \"a b\", " KERNEL "}", "name", "must match" },
        { "{\"name\": \"caf\xc3\xa9\", " KERNEL "}", "name", "must match" },
        { "{\"name\": \"a\\u0000b\", " KERNEL "}", "name", "NUL" },
        { "{\"name\": 7, " KERNEL "}", "name", "must be a string, got int" },
        { "{\"name\": null, " KERNEL "}", "name", "must be a string, got null" },

        /* uuid */
        { SPEC("\"uuid\": \"xyz\""), "uuid", "RFC 4122" },
        { SPEC("\"uuid\": \"123e4567-e89b-12d3-a456-42661417400\""), "uuid", "RFC 4122" },
        { SPEC("\"uuid\": \"123e4567-e89b-12d3-a456-4266141740000\""), "uuid", "RFC 4122" },
        { SPEC("\"uuid\": \"123e4567e-89b-12d3-a456-426614174000\""), "uuid", "RFC 4122" },
        { SPEC("\"uuid\": \"123e4567-e89b-12d3-a456-42661417400g\""), "uuid", "RFC 4122" },
        { SPEC("\"uuid\": \"{123e4567-e89b-12d3-a456-426614174000}\""), "uuid", "RFC 4122" },
        { SPEC("\"uuid\": \"00000000-0000-0000-0000-000000000000\""), "uuid", "nil UUID" },
        { SPEC("\"uuid\": 5"), "uuid", "must be a string, got int" },

        /* vcpus */
        { SPEC("\"vcpus\": \"2\""), "vcpus", "must be an integer, got string" },
        { SPEC("\"vcpus\": 0"), "vcpus", "must be between 1 and 64, got 0" },
        { SPEC("\"vcpus\": 65"), "vcpus", "must be between 1 and 64, got 65" },
        { SPEC("\"vcpus\": -1"), "vcpus", "must not be negative, got -1" },
        { SPEC("\"vcpus\": 1.0"), "vcpus", "must be an integer, got double" },
        { SPEC("\"vcpus\": 1e1"), "vcpus", "must be an integer, got double" },
        { SPEC("\"vcpus\": true"), "vcpus", "must be an integer, got boolean" },
        { SPEC("\"vcpus\": null"), "vcpus", "must be an integer, got null" },
        { SPEC("\"vcpus\": 18446744073709551616"), "vcpus", "must be between 1 and 64" },

        /* memory */
        { SPEC("\"memory\": \"256M\""), "memory", "must be an object, got string" },
        { SPEC("\"memory\": {\"size\": 0}"), "memory.size", "must be at least 2 MiB, got 0" },
        { SPEC("\"memory\": {\"size\": -2097152}"), "memory.size", "must not be negative" },
        { SPEC("\"memory\": {\"size\": 2097152.0}"), "memory.size", "must be a size: an integer or a string such as \"256M\"" },
        { SPEC("\"memory\": {\"size\": true}"), "memory.size", "got boolean" },
        { SPEC("\"memory\": {\"size\": \"abc\"}"), "memory.size", "must be a size" },
        { SPEC("\"memory\": {\"size\": \"256X\"}"), "memory.size", "got \"256X\"" },
        { SPEC("\"memory\": {\"size\": \"\"}"), "memory.size", "must be a size" },
        { SPEC("\"memory\": {\"size\": \" 256M\"}"), "memory.size", "must be a size" },
        { SPEC("\"memory\": {\"size\": \"-2M\"}"), "memory.size", "must be a size" },
        { SPEC("\"memory\": {\"size\": \"1.5G\"}"), "memory.size", "must be a size" },
        { SPEC("\"memory\": {\"size\": \"16777216T\"}"), "memory.size", "does not fit in 64 bits" },
        { SPEC("\"memory\": {\"size\": \"3M\"}"), "memory.size", "must be a multiple of 2 MiB, got 3145728" },
        { SPEC("\"memory\": {\"size\": \"1T\"}"), "memory", "36-bit IPA space" },
        { SPEC("\"memory\": {\"size\": \"62G\", \"base\": \"2050M\"}"), "memory", "36-bit IPA space" },
        { SPEC("\"memory\": {\"base\": 0}"), "memory.base", "must be at least 1 GiB" },
        { SPEC("\"memory\": {\"base\": \"0x3FE00000\"}"), "memory.base", "[0, 1 GiB) is the MMIO window" },
        { SPEC("\"memory\": {\"base\": \"0x80100000\"}"), "memory.base", "must be a multiple of 2 MiB, got 0x80100000" },
        { SPEC("\"memory\": {\"base\": \"64G\"}"), "memory", "36-bit IPA space" },
        { SPEC("\"memory\": {\"base\": \"0xFFFFFFFFFFE00000\"}"), "memory", "36-bit IPA space" },
        { SPEC("\"memory\": {\"mode\": \"borrow\"}"), "memory.mode", "must be one of \"lend\", \"share\", got \"borrow\"" },
        { SPEC("\"memory\": {\"mode\": 0}"), "memory.mode", "must be a string, got int" },

        /* kernel */
        { "{\"name\": \"t\"}", "kernel", "is required" },
        { "{\"name\": \"t\", \"kernel\": 1}", "kernel", "must be an object {\"path\", \"cmdline\", \"format\"} or a string" },
        { "{\"name\": \"t\", \"kernel\": null}", "kernel", "got null" },
        { "{\"name\": \"t\", \"kernel\": \"\"}", "kernel", "must not be empty" },
        { "{\"name\": \"t\", \"kernel\": {}}", "kernel.path", "is required" },
        { "{\"name\": \"t\", \"kernel\": {\"path\": \"\"}}", "kernel.path", "must not be empty" },
        { "{\"name\": \"t\", \"kernel\": {\"path\": null}}", "kernel.path", "must be a string, got null" },
        { "{\"name\": \"t\", \"kernel\": {\"path\": \"/k\\u0000x\"}}", "kernel.path", "NUL" },
        { "{\"name\": \"t\", \"kernel\": {\"path\": \"/k\", \"cmdline\": 3}}", "kernel.cmdline", "must be a string or null, got int" },
        { "{\"name\": \"t\", \"kernel\": {\"path\": \"/k\", \"cmdline\": \"a\\u0000b\"}}", "kernel.cmdline", "NUL" },
        { "{\"name\": \"t\", \"kernel\": {\"path\": \"/k\", \"format\": \"bzImage\"}}", "kernel.format", "must be one of \"auto\", \"image\", \"elf\", \"raw\", got \"bzImage\"" },
        { "{\"name\": \"t\", \"kernel\": {\"path\": \"/k\", \"format\": \"Image\"}}", "kernel.format", "must be one of" },

        /* initrd */
        { SPEC("\"initrd\": 1"), "initrd", "must be a string or null, got int" },
        { SPEC("\"initrd\": \"\""), "initrd", "must not be empty" },
        { SPEC("\"initrd\": {\"path\": \"/i\"}"), "initrd", "must be a string or null, got object" },

        /* console */
        { SPEC("\"console\": \"pl011\""), "console", "must be an object, got string" },
        { SPEC("\"console\": {\"type\": \"16550\"}"), "console.type", "must be one of \"pl011\", \"none\", got \"16550\"" },
        { SPEC("\"console\": {\"base\": \"0x09000100\"}"), "console.base", "must be 4 KiB aligned, got 0x9000100" },
        { SPEC("\"console\": {\"base\": 1.5}"), "console.base", "must be a size" },
        { SPEC("\"console\": {\"base\": \"1G\"}"), "console.base", "devices outside the [0, 1 GiB) MMIO window are refused" },
        { SPEC("\"console\": {\"base\": \"0x80000000\"}"), "console.base", "devices outside the [0, 1 GiB) MMIO window" },
        { SPEC("\"console\": {\"base\": \"0xFFFFFFFFFFFFF000\"}"), "console.base", "MMIO window" },
        { SPEC("\"console\": {\"base\": \"0x3FFFF000\"}"), "console.base", "overlaps the GIC region [0x3ffd0000, 0x40000000) reserved for 1 vCPUs" },
        { SPEC("\"console\": {\"base\": \"0x3FFF0000\"}"), "console.base", "overlaps the GIC region" },
        { SPEC("\"console\": {\"base\": \"0x3FFD0000\"}"), "console.base", "overlaps the GIC region" },
        { SPEC("\"vcpus\": 2, \"console\": {\"base\": \"0x3FFCF000\"}"), "console.base", "[0x3ffb0000, 0x40000000) reserved for 2 vCPUs" },
        { SPEC("\"vcpus\": 64, \"console\": {\"base\": \"0x3F7F0000\"}"), "console.base", "overlaps the GIC region [0x3f7f0000, 0x40000000)" },
        { SPEC("\"console\": {\"base\": \"0x09030000\"}"), "console.base", "overlaps the power button (PL061) at 0x9030000" },
        { SPEC("\"console\": {\"spi\": 7}"), "console.spi", "SPI 7 is the power button's interrupt" },
        { SPEC("\"console\": {\"spi\": 988}"), "console.spi", "must be between 0 and 987, got 988" },
        { SPEC("\"console\": {\"spi\": -1}"), "console.spi", "must not be negative" },
        { SPEC("\"console\": {\"spi\": \"1\"}"), "console.spi", "must be an integer, got string" },

        /* autostart and lifecycle actions */
        { SPEC("\"autostart\": \"yes\""), "autostart", "must be true or false, got string" },
        { SPEC("\"autostart\": 1"), "autostart", "must be true or false, got int" },
        { SPEC("\"on_poweroff\": \"reboot\""), "on_poweroff", "must be one of \"stop\", \"restart\", \"destroy\", got \"reboot\"" },
        { SPEC("\"on_reboot\": \"\""), "on_reboot", "must be one of" },
        { SPEC("\"on_crash\": \"Restart\""), "on_crash", "must be one of" },
        { SPEC("\"on_crash\": 1"), "on_crash", "must be a string, got int" },

        /* crash_restart */
        { SPEC("\"crash_restart\": 3"), "crash_restart", "must be an object, got int" },
        { SPEC("\"crash_restart\": {\"limit\": 1001}"), "crash_restart.limit", "must be between 0 and 1000, got 1001" },
        { SPEC("\"crash_restart\": {\"limit\": -1}"), "crash_restart.limit", "must not be negative" },
        { SPEC("\"crash_restart\": {\"limit\": \"3\"}"), "crash_restart.limit", "must be an integer, got string" },
        { SPEC("\"crash_restart\": {\"backoff\": 3600001}"), "crash_restart.backoff", "must be at most 3600000 ms (1 hour), got 3600001 ms" },
        { SPEC("\"crash_restart\": {\"backoff\": \"3601s\"}"), "crash_restart.backoff", "got 3601000 ms" },
        { SPEC("\"crash_restart\": {\"backoff\": \"61min\"}"), "crash_restart.backoff", "must be at most" },
        { SPEC("\"crash_restart\": {\"backoff\": \"999999999999999999min\"}"), "crash_restart.backoff", "must be at most" },
        { SPEC("\"crash_restart\": {\"backoff\": \"1h\"}"), "crash_restart.backoff", "must be a duration: digits followed by ms, s or min" },
        { SPEC("\"crash_restart\": {\"backoff\": \"ms\"}"), "crash_restart.backoff", "must be a duration" },
        { SPEC("\"crash_restart\": {\"backoff\": \"-5s\"}"), "crash_restart.backoff", "must be a duration" },
        { SPEC("\"crash_restart\": {\"backoff\": \"1.5s\"}"), "crash_restart.backoff", "must be a duration" },
        { SPEC("\"crash_restart\": {\"backoff\": 1.5}"), "crash_restart.backoff", "must be a duration: integer milliseconds or a string such as \"500ms\", \"2s\", \"1min\", got double" },
        { SPEC("\"crash_restart\": {\"backoff\": -1}"), "crash_restart.backoff", "must not be negative" },

        /* disks */
        { SPEC("\"disks\": {}"), "disks", "must be an array, got object" },
        { SPEC("\"disks\": null"), "disks", "must be an array, got null" },
        { SPEC("\"disks\": [1]"), "disks[0]", "must be an object, got int" },
        { SPEC("\"disks\": [{}]"), "disks[0].path", "is required" },
        { SPEC(SHARE ", \"disks\": [{\"path\": \"/a\"}, {\"path\": \"/b\", \"serial\": 5}]"), "disks[1].serial", "must be a string or null, got int" },
        { SPEC("\"disks\": [{\"path\": \"/a\", \"ro\": true}]"), "disks[0].ro", "unknown key \"ro\"; allowed keys in disks[0] are: path, readonly, serial" },
        { SPEC("\"disks\": [{\"path\": \"disk.img\"}]"), "disks[0].path", "must be an absolute path, got \"disk.img\"" },
        { SPEC("\"disks\": [{\"path\": \"\"}]"), "disks[0].path", "must not be empty" },
        { SPEC("\"disks\": [{\"path\": null}]"), "disks[0].path", "must be a string, got null" },
        { SPEC("\"disks\": [{\"path\": \"/a\\u0000b\"}]"), "disks[0].path", "NUL" },
        { SPEC("\"disks\": [{\"path\": \"/a\", \"readonly\": \"yes\"}]"), "disks[0].readonly", "must be true or false, got string" },
        { SPEC("\"disks\": [{\"path\": \"/a\", \"serial\": \"123456789012345678901\"}]"), "disks[0].serial", "must be at most 20 bytes, got 21" },
        { SPEC("\"disks\": [{\"path\": \"/a\", \"serial\": \"\"}]"), "disks[0].serial", "must not be empty; leave it out (or null) for none" },
        { SPEC("\"disks\": [{\"path\": \"/a\", \"serial\": \"a\\tb\"}]"), "disks[0].serial", "must be printable ASCII (space to '~'), byte 1 is not" },
        { SPEC("\"disks\": [{\"path\": \"/a\", \"serial\": \"caf\xc3\xa9\"}]"), "disks[0].serial", "must be printable ASCII" },
        { SPEC("\"disks\": [{\"path\": \"/a\", \"serial\": \"a\\u007fb\"}]"), "disks[0].serial", "byte 1 is not" },
        { SPEC(SHARE ", \"disks\": [{\"path\": \"/1\"}, {\"path\": \"/2\"}, {\"path\": \"/3\"}, {\"path\": \"/4\"}, {\"path\": \"/5\"},"
               " {\"path\": \"/6\"}, {\"path\": \"/7\"}, {\"path\": \"/8\"}, {\"path\": \"/9\"}]"), "disks", "must have at most 8 elements, got 9" },
        { SPEC(SHARE ", \"disks\": [{\"path\": \"/a\"}, {\"path\": \"/b\"}, {\"path\": \"/a\"}]"), "disks[2].path", "names the same image as disks[0].path, \"/a\"" },
        /* devices and lent memory: both fixes named */
        { SPEC("\"disks\": [{\"path\": \"/a\"}]"), "disks", "set memory.mode to \"share\", or keep \"lend\" and set memory.swiotlb" },
        { SPEC("\"memory\": {\"mode\": \"lend\"}, \"disks\": [{\"path\": \"/a\"}]"), "disks", "CONFIG_DMA_RESTRICTED_POOL" },

        /* memory.swiotlb */
        { SPEC("\"memory\": {\"mode\": \"share\", \"swiotlb\": \"64M\"}"), "memory.swiotlb", "is only for memory.mode \"lend\"" },
        { SPEC("\"memory\": {\"swiotlb\": \"1M\"}"), "memory.swiotlb", "must be a multiple of 2 MiB, got 1048576" },
        { SPEC("\"memory\": {\"swiotlb\": \"0x10000\"}"), "memory.swiotlb", "must be a multiple of 2 MiB" },
        { SPEC("\"memory\": {\"swiotlb\": \"254M\"}"), "memory.swiotlb", "must leave at least 4 MiB of memory.size (256 MiB) below the pool" },
        { SPEC("\"memory\": {\"swiotlb\": \"256M\"}"), "memory.swiotlb", "must leave at least 4 MiB" },
        { SPEC("\"memory\": {\"swiotlb\": \"1G\"}"), "memory.swiotlb", "got 1024 MiB" },
        { SPEC("\"memory\": {\"swiotlb\": \"lots\"}"), "memory.swiotlb", "must be a size" },
        { SPEC("\"memory\": {\"swiotlb\": -2097152}"), "memory.swiotlb", "must not be negative" },

        /* the console against the disks' transports */
        { SPEC(SHARE ", \"disks\": [{\"path\": \"/a\"}], \"console\": {\"base\": \"0x0a000000\"}"), "console.base",
          "the 4 KiB device at 0xa000000 overlaps the virtio-mmio transports of the disks, vsock and rng [0xa000000, 0xa000400)" },
        { SPEC(SHARE ", \"disks\": [{\"path\": \"/a\"}], \"rng\": false, \"console\": {\"base\": \"0x0a000000\"}"), "console.base",
          "the 4 KiB device at 0xa000000 overlaps the virtio-mmio transports of the disks, vsock and rng [0xa000000, 0xa000200)" },
        /* rng (on by default in a shared VM) comes after the disks */
        { SPEC(SHARE ", \"disks\": [{\"path\": \"/a\"}], \"console\": {\"spi\": 17}"), "console.spi", "SPI 17 is the interrupt of rng" },
        { SPEC(SHARE ", \"disks\": [{\"path\": \"/a\"}], \"console\": {\"spi\": 16}"), "console.spi", "SPI 16 is the interrupt of disks[0]" },
        { SPEC(SHARE ", \"disks\": [{\"path\": \"/a\"}, {\"path\": \"/b\"}], \"console\": {\"spi\": 17}"), "console.spi", "SPI 17 is the interrupt of disks[1]" },
};

static void test_spec_rejects_invalid_documents(void **state) {
        for (size_t i = 0; i < ELEMENTSOF(invalid_cases); i++)
                parse_fails(invalid_cases[i].json, invalid_cases[i].path, invalid_cases[i].substring);
}

static void test_spec_memory_size_message_is_exact(void **state) {
        VmSpecError e = {};
        VmSpec *s = NULL;
        char buf[600];
        const char *json = SPEC("\"memory\": {\"size\": 1000000}");
        assert_int_equal(vm_spec_parse(json, strlen(json), VM_SPEC_SKIP_FILE_CHECKS, &s, &e), -EINVAL);
        assert_string_equal(vm_spec_error_to_string(&e, buf, sizeof(buf)),
                            "memory.size: must be a multiple of 2 MiB, got 1000000");
        assert_null(s);
}

static void test_spec_error_to_string(void **state) {
        VmSpecError doc = { .path = "", .message = "the document is empty" };
        VmSpecError key = { .path = "vcpus", .message = "must be an integer, got string" };
        char buf[600];
        assert_string_equal(vm_spec_error_to_string(&doc, buf, sizeof(buf)), "the document is empty");
        assert_string_equal(vm_spec_error_to_string(&key, buf, sizeof(buf)), "vcpus: must be an integer, got string");
}

static void test_spec_rejects_nul_byte_in_document(void **state) {
        static const char json[] = "{\"name\": \"t\"\0, " KERNEL "}";
        parse_fails_len(json, sizeof(json) - 1, VM_SPEC_SKIP_FILE_CHECKS, -EINVAL, "", "NUL byte");
}

/* A document is parsed by length, not up to a NUL: bytes after len are not part of it. */
static void test_spec_parses_by_length(void **state) {
        const char json[] = SPEC0 "garbage";
        VmSpecError e = {};
        VmSpec *s = NULL;
        assert_int_equal(vm_spec_parse(json, strlen(SPEC0), VM_SPEC_SKIP_FILE_CHECKS, &s, &e), 0);
        vm_spec_free(s);
        parse_fails_len(json, strlen(SPEC0) + 1, VM_SPEC_SKIP_FILE_CHECKS, -EINVAL, "", "trailing characters");
}

static void test_spec_long_value_is_shortened_in_message(void **state) {
        const char *json = "{\"name\": \"/" N64 N64 N64 "\", " KERNEL "}";
        VmSpecError e = {};
        VmSpec *s = NULL;
        assert_int_equal(vm_spec_parse(json, strlen(json), VM_SPEC_SKIP_FILE_CHECKS, &s, &e), -EINVAL);
        assert_non_null(strstr(e.message, "...\""));
        assert_null(strstr(e.message, N64 N64));
}

static void test_spec_size_limit(void **state) {
        size_t n = VM_SPEC_SIZE_MAX;
        _cleanup_free_ char *json = malloc(n + 2);
        VmSpec *s = NULL;
        assert_non_null(json);
        /* Exactly the limit: a valid spec padded with whitespace is accepted. */
        memset(json, ' ', n + 1);
        memcpy(json, SPEC0, strlen(SPEC0));
        json[n + 1] = '\0';
        assert_int_equal(vm_spec_parse(json, n, VM_SPEC_SKIP_FILE_CHECKS, &s, NULL), 0);
        s = vm_spec_free(s);
        /* One byte more is refused before parsing. */
        parse_fails_len(json, n + 1, VM_SPEC_SKIP_FILE_CHECKS, -E2BIG, "", "larger than the 1 MiB");
}

static void test_spec_error_may_be_null(void **state) {
        VmSpec *s = (VmSpec *) 0x1;
        assert_int_equal(vm_spec_parse("[]", 2, VM_SPEC_SKIP_FILE_CHECKS, &s, NULL), -EINVAL);
        assert_ptr_equal(s, (VmSpec *) 0x1);
}

static void test_spec_defaults_filled(void **state) {
        VmSpec *s;
        s = parse_ok(SPEC0);
        assert_string_equal(s->name, "t");
        assert_string_equal(s->uuid, "");
        assert_int_equal(s->vcpus, 1);
        assert_int_equal(s->memory.size, 256 * MiB);
        assert_int_equal(s->memory.base, 0x80000000);
        assert_int_equal(s->memory.mode, VM_MEMORY_LEND);
        assert_string_equal(s->kernel.path, "/k");
        assert_null(s->kernel.cmdline);
        assert_int_equal(s->kernel.format, VM_KERNEL_FORMAT_AUTO);
        assert_null(s->initrd);
        assert_int_equal(s->console.type, VM_CONSOLE_PL011);
        assert_int_equal(s->console.base, 0x09000000);
        assert_int_equal(s->console.spi, 1);
        assert_false(s->autostart);
        assert_int_equal(s->on_poweroff, VM_ACTION_STOP);
        assert_int_equal(s->on_reboot, VM_ACTION_RESTART);
        assert_int_equal(s->on_crash, VM_ACTION_STOP);
        assert_int_equal(s->crash_restart_limit, 3);
        assert_int_equal(s->crash_restart_backoff_msec, 1000);
        vm_spec_free(s);
}

#define FULL_SPEC                                                                               \
        "{\n"                                                                                   \
        "  \"name\": \"Full_1.x-y\",\n"                                                         \
        "  \"uuid\": \"123E4567-E89B-12D3-A456-426614174000\",\n"                               \
        "  \"vcpus\": 4,\n"                                                                     \
        "  \"memory\": { \"size\": \"1G\", \"base\": \"0x40000000\", \"mode\": \"share\" },\n"  \
        "  \"kernel\": { \"path\": \"/boot/Image\", \"cmdline\": \"console=ttyAMA0 quiet\",\n"  \
        "              \"format\": \"image\" },\n"                                              \
        "  \"initrd\": \"/boot/initrd.img\",\n"                                                 \
        "  \"console\": { \"type\": \"none\", \"base\": 4096, \"spi\": 987 },\n"                \
        "  \"autostart\": true,\n"                                                              \
        "  \"on_poweroff\": \"destroy\", \"on_reboot\": \"stop\", \"on_crash\": \"restart\",\n" \
        "  \"crash_restart\": { \"limit\": 0, \"backoff\": \"2s\" }\n"                          \
        "}\n"

static void test_spec_every_key_parsed(void **state) {
        VmSpec *s;
        s = parse_ok(FULL_SPEC);
        assert_string_equal(s->name, "Full_1.x-y");
        assert_string_equal(s->uuid, "123e4567-e89b-12d3-a456-426614174000");
        assert_int_equal(s->vcpus, 4);
        assert_int_equal(s->memory.size, GiB);
        assert_int_equal(s->memory.base, GiB);
        assert_int_equal(s->memory.mode, VM_MEMORY_SHARE);
        assert_string_equal(s->kernel.path, "/boot/Image");
        assert_string_equal(s->kernel.cmdline, "console=ttyAMA0 quiet");
        assert_int_equal(s->kernel.format, VM_KERNEL_FORMAT_IMAGE);
        assert_string_equal(s->initrd, "/boot/initrd.img");
        assert_int_equal(s->console.type, VM_CONSOLE_NONE);
        assert_int_equal(s->console.base, 4096);
        assert_int_equal(s->console.spi, 987);
        assert_true(s->autostart);
        assert_int_equal(s->on_poweroff, VM_ACTION_DESTROY);
        assert_int_equal(s->on_reboot, VM_ACTION_STOP);
        assert_int_equal(s->on_crash, VM_ACTION_RESTART);
        assert_int_equal(s->crash_restart_limit, 0);
        assert_int_equal(s->crash_restart_backoff_msec, 2000);
        vm_spec_free(s);
}

/* Boundary values that are valid, with the field they set. */
typedef struct ValidCase {
        const char *json;
        size_t offset; /* of a uint64_t or uint32_t in VmSpec */
        size_t width;
        uint64_t expected;
} ValidCase;

#define U64(member) offsetof(VmSpec, member), sizeof(uint64_t)
#define U32(member) offsetof(VmSpec, member), sizeof(uint32_t)

static const ValidCase valid_cases[] = {
        { SPEC("\"memory\": {\"size\": \"256M\"}"), U64(memory.size), 256 * MiB },
        { SPEC("\"memory\": {\"size\": \"1G\"}"), U64(memory.size), GiB },
        { SPEC("\"memory\": {\"size\": \"1GiB\"}"), U64(memory.size), GiB },
        { SPEC("\"memory\": {\"size\": \"2048K\"}"), U64(memory.size), 2 * MiB },
        { SPEC("\"memory\": {\"size\": \"0x10000000\"}"), U64(memory.size), 256 * MiB },
        { SPEC("\"memory\": {\"size\": 2097152}"), U64(memory.size), 2 * MiB },
        { SPEC("\"memory\": {\"size\": \"2m\"}"), U64(memory.size), 2 * MiB },
        { SPEC("\"memory\": {\"base\": \"1G\"}"), U64(memory.base), GiB },
        { SPEC("\"memory\": {\"base\": 1073741824}"), U64(memory.base), GiB },
        /* RAM may end exactly at the 36-bit limit. */
        { SPEC("\"memory\": {\"size\": \"62G\", \"base\": \"0x80000000\"}"), U64(memory.size), 62 * GiB },
        { SPEC("\"memory\": {\"size\": \"2M\", \"base\": \"0xFFFE00000\"}"), U64(memory.base), 0xFFFE00000 },
        { SPEC("\"vcpus\": 64"), U32(vcpus), 64 },
        { SPEC("\"vcpus\": 1"), U32(vcpus), 1 },
        { SPEC("\"console\": {\"base\": 0}"), U64(console.base), 0 },
        { SPEC("\"console\": {\"base\": \"0x3FFCF000\"}"), U64(console.base), 0x3FFCF000 },
        { SPEC("\"vcpus\": 64, \"console\": {\"base\": \"0x3F7EF000\"}"), U64(console.base), 0x3F7EF000 },
        { SPEC("\"console\": {\"spi\": 0}"), U32(console.spi), 0 },
        { SPEC("\"crash_restart\": {\"limit\": 1000}"), U32(crash_restart_limit), 1000 },
        { SPEC("\"crash_restart\": {\"backoff\": 0}"), U32(crash_restart_backoff_msec), 0 },
        { SPEC("\"crash_restart\": {\"backoff\": 1500}"), U32(crash_restart_backoff_msec), 1500 },
        { SPEC("\"crash_restart\": {\"backoff\": \"250\"}"), U32(crash_restart_backoff_msec), 250 },
        { SPEC("\"crash_restart\": {\"backoff\": \"500ms\"}"), U32(crash_restart_backoff_msec), 500 },
        { SPEC("\"crash_restart\": {\"backoff\": \"2s\"}"), U32(crash_restart_backoff_msec), 2000 },
        { SPEC("\"crash_restart\": {\"backoff\": \"1min\"}"), U32(crash_restart_backoff_msec), 60000 },
        { SPEC("\"crash_restart\": {\"backoff\": \"60min\"}"), U32(crash_restart_backoff_msec), 3600000 },
        { SPEC("\"crash_restart\": {\"backoff\": 3600000}"), U32(crash_restart_backoff_msec), 3600000 },
        { SPEC("\"memory\": {\"swiotlb\": \"2M\"}"), U64(memory.swiotlb), 2 * MiB },
        { SPEC("\"memory\": {\"swiotlb\": \"252M\"}"), U64(memory.swiotlb), 252 * MiB },
        { SPEC("\"memory\": {\"swiotlb\": 0}"), U64(memory.swiotlb), 0 },
        { SPEC("\"memory\": {\"mode\": \"share\", \"swiotlb\": \"0\"}"), U64(memory.swiotlb), 0 },
        { SPEC("\"memory\": {\"swiotlb\": \"64M\"}, \"disks\": [{\"path\": \"/a\"}]"), U32(n_disks), 1 },
        { SPEC(SHARE ", \"disks\": []"), U32(n_disks), 0 },
        { SPEC("\"disks\": []"), U32(n_disks), 0 }, /* lend without devices needs no pool */
        { SPEC(SHARE ", \"disks\": [{\"path\": \"/1\"}, {\"path\": \"/2\"}, {\"path\": \"/3\"}, {\"path\": \"/4\"}, {\"path\": \"/5\"},"
               " {\"path\": \"/6\"}, {\"path\": \"/7\"}, {\"path\": \"/8\"}]"), U32(n_disks), 8 },
        /* only the SPIs and page of the disks there are */
        { SPEC(SHARE ", \"disks\": [{\"path\": \"/a\"}], \"rng\": false, \"console\": {\"spi\": 17}"), U32(console.spi), 17 },
        { SPEC(SHARE ", \"disks\": [{\"path\": \"/a\"}], \"console\": {\"spi\": 15}"), U32(console.spi), 15 },
        { SPEC(SHARE ", \"disks\": [{\"path\": \"/a\"}], \"console\": {\"base\": \"0x0a001000\"}"), U64(console.base), 0x0a001000 },
        { SPEC("\"console\": {\"base\": \"0x0a000000\", \"spi\": 16}"), U64(console.base), 0x0a000000 },
        { SPEC(SHARE ", \"disks\": [{\"path\": \"/a\"}], \"console\": {\"type\": \"none\", \"base\": \"0x0a000000\", \"spi\": 16}"),
          U64(console.base), 0x0a000000 },
};

static void test_spec_accepts_boundary_values(void **state) {
        for (size_t i = 0; i < ELEMENTSOF(valid_cases); i++) {
                const ValidCase *c = &valid_cases[i];
                VmSpec *s = parse_ok(c->json);
                uint64_t got;

                if (c->width == sizeof(uint64_t))
                        memcpy(&got, (uint8_t *) s + c->offset, sizeof(got));
                else {
                        uint32_t v;
                        memcpy(&v, (uint8_t *) s + c->offset, sizeof(v));
                        got = v;
                }
                if (got != c->expected)
                        fail_msg("%s: expected %" PRIu64 ", got %" PRIu64, c->json, c->expected, got);
                vm_spec_free(s);
        }
}

static void test_spec_kernel_string_shorthand(void **state) {
        VmSpec *s;
        s = parse_ok("{\"name\": \"t\", \"kernel\": \"/boot/Image\"}");
        assert_string_equal(s->kernel.path, "/boot/Image");
        assert_null(s->kernel.cmdline);
        assert_int_equal(s->kernel.format, VM_KERNEL_FORMAT_AUTO);
        vm_spec_free(s);
}

static void test_spec_nulls_mean_absent(void **state) {
        VmSpec *s;
        s = parse_ok("{\"name\": \"t\", \"uuid\": null, \"initrd\": null,"
                     " \"kernel\": {\"path\": \"/k\", \"cmdline\": null}}");
        assert_string_equal(s->uuid, "");
        assert_null(s->initrd);
        assert_null(s->kernel.cmdline);
        vm_spec_free(s);

        /* An empty command line is a command line, not an absent one. */
        s = parse_ok("{\"name\": \"t\", \"kernel\": {\"path\": \"/k\", \"cmdline\": \"\"}}");
        assert_string_equal(s->kernel.cmdline, "");
        vm_spec_free(s);
}

static void test_spec_name_length_limit(void **state) {
        VmSpec *s;
        s = parse_ok("{\"name\": \"" N64 "\", " KERNEL "}");
        assert_string_equal(s->name, N64);
        vm_spec_free(s);
}

/* prefix, max bytes of 'x', suffix: refused at path with message for one
 * byte more; returns the spec parsed from exactly max bytes. */
static VmSpec *check_length_limit(const char *prefix, const char *suffix, size_t max, const char *path,
                                  const char *message) {
        size_t lp = strlen(prefix), ls = strlen(suffix);
        _cleanup_free_ char *json = malloc(lp + max + 1 + ls + 1);

        assert_non_null(json);
        memcpy(json, prefix, lp);
        memset(json + lp, 'x', max + 1);
        memcpy(json + lp + max + 1, suffix, ls + 1);
        parse_fails(json, path, message);
        memcpy(json + lp + max, suffix, ls + 1);
        return parse_ok(json);
}

static void test_spec_cmdline_length_limit(void **state) {
        VmSpec *s = check_length_limit("{\"name\": \"t\", \"kernel\": {\"path\": \"/k\", \"cmdline\": \"", "\"}}",
                                       VM_CMDLINE_MAX - 1, "kernel.cmdline", "must be at most 2047 bytes");
        assert_int_equal(strlen(s->kernel.cmdline), VM_CMDLINE_MAX - 1);
        vm_spec_free(s);
}

static void test_spec_disks_parsed(void **state) {
        VmSpec *s = parse_ok(SPEC("\"memory\": {\"size\": \"512M\", \"swiotlb\": \"64M\"}, \"disks\": ["
                                  "{\"path\": \"/var/lib/gunyah/root.img\", \"readonly\": true, \"serial\": \"12345678901234567890\"},"
                                  " {\"path\": \"/dev/vg0/data\", \"serial\": \" ~!\"},"
                                  " {\"path\": \"/x.img\", \"readonly\": false, \"serial\": null}]"));

        assert_int_equal(s->memory.swiotlb, 64 * MiB);
        assert_int_equal(s->n_disks, 3);
        assert_string_equal(s->disks[0].path, "/var/lib/gunyah/root.img");
        assert_true(s->disks[0].readonly);
        assert_string_equal(s->disks[0].serial, "12345678901234567890"); /* all 20 bytes */
        assert_string_equal(s->disks[1].path, "/dev/vg0/data");
        assert_false(s->disks[1].readonly); /* the default */
        assert_string_equal(s->disks[1].serial, " ~!");
        assert_false(s->disks[2].readonly);
        assert_string_equal(s->disks[2].serial, "");
        assert_null(s->disks[3].path);
        vm_spec_free(s);

        /* Defaults: no disks, no pool. */
        s = parse_ok(SPEC0);
        assert_int_equal(s->n_disks, 0);
        assert_int_equal(s->memory.swiotlb, 0);
        vm_spec_free(s);
}

/* A failure in a later disk frees what the earlier ones allocated (ASan
 * and valgrind runs see a leak otherwise), and the path is PATH_MAX bound. */
static void test_spec_disk_path_length_limit(void **state) {
        VmSpec *s = check_length_limit("{\"name\": \"t\", " KERNEL ", " SHARE ", \"disks\": [{\"path\": \"/ok\"}, {\"path\": \"/",
                                       "\"}]}", VM_DISK_PATH_MAX - 1, "disks[1].path",
                                       "must be at most 4095 bytes (PATH_MAX), got 4096");
        assert_int_equal(strlen(s->disks[1].path), VM_DISK_PATH_MAX);
        vm_spec_free(s);
}

static bool str_eq_null(const char *a, const char *b) {
        return (!a && !b) || (a && b && streq(a, b));
}

static void assert_spec_equal(const VmSpec *a, const VmSpec *b, const char *what) {
        if (!streq(a->name, b->name) || !streq(a->uuid, b->uuid) || a->vcpus != b->vcpus ||
            a->memory.size != b->memory.size || a->memory.base != b->memory.base ||
            a->memory.mode != b->memory.mode || !str_eq_null(a->kernel.path, b->kernel.path) ||
            !str_eq_null(a->kernel.cmdline, b->kernel.cmdline) || a->kernel.format != b->kernel.format ||
            !str_eq_null(a->initrd, b->initrd) || a->console.type != b->console.type ||
            a->console.base != b->console.base || a->console.spi != b->console.spi ||
            a->autostart != b->autostart || a->on_poweroff != b->on_poweroff ||
            a->on_reboot != b->on_reboot || a->on_crash != b->on_crash ||
            a->crash_restart_limit != b->crash_restart_limit ||
            a->crash_restart_backoff_msec != b->crash_restart_backoff_msec ||
            a->memory.swiotlb != b->memory.swiotlb || a->n_disks != b->n_disks)
                fail_msg("%s: re-parsed spec differs from the original", what);
        for (uint32_t i = 0; i < a->n_disks; i++)
                if (!streq(a->disks[i].path, b->disks[i].path) || a->disks[i].readonly != b->disks[i].readonly ||
                    !streq(a->disks[i].serial, b->disks[i].serial))
                        fail_msg("%s: disks[%u] differs after the round trip", what, i);
}

static const char *const round_trip_docs[] = {
        SPEC0,
        FULL_SPEC,
        "{\"name\": \"t\", \"kernel\": {\"path\": \"/a/b c/\\\"q\\\"\", \"cmdline\": \"\"},"
        " \"memory\": {\"size\": 3221225472, \"base\": \"0xF00000000\"}}",
        "{\"name\": \"t\", \"kernel\": {\"path\": \"/k\", \"cmdline\": \"a=\\u00e9 b=\\t\"},"
        " \"memory\": {\"size\": \"6M\"}, \"crash_restart\": {\"backoff\": \"1min\"}}",
        SPEC("\"memory\": {\"swiotlb\": \"0x4000000\"}, \"disks\": [{\"path\": \"/a b/\\\"c\\\".img\", \"serial\": \"x \\\"y\\\\\"},"
             " {\"path\": \"/d\", \"readonly\": true}]"),
        SPEC(SHARE ", \"disks\": [{\"path\": \"/1\"}, {\"path\": \"/2\"}, {\"path\": \"/3\"}, {\"path\": \"/4\"}, {\"path\": \"/5\"},"
             " {\"path\": \"/6\"}, {\"path\": \"/7\"}, {\"path\": \"/8\", \"serial\": \"12345678901234567890\"}]"),
};

static void test_spec_to_json_round_trips(void **state) {
        for (size_t i = 0; i < ELEMENTSOF(round_trip_docs); i++) {
                _cleanup_free_ char *text = NULL, *text2 = NULL;
                VmSpec *a = parse_ok(round_trip_docs[i]), *b;

                assert_int_equal(vm_spec_to_json(a, &text), 0);
                b = parse_ok(text);
                assert_spec_equal(a, b, round_trip_docs[i]);
                /* The normalized form is a fixed point. */
                assert_int_equal(vm_spec_to_json(b, &text2), 0);
                assert_string_equal(text, text2);
                vm_spec_free(a);
                vm_spec_free(b);
        }
}

static const char *json_path_string(json_object *o, const char *k1, const char *k2) {
        json_object *v;

        if (!json_object_object_get_ex(o, k1, &v))
                fail_msg("normalized spec lacks \"%s\"", k1);
        if (k2 && !json_object_object_get_ex(v, k2, &v))
                fail_msg("normalized spec lacks \"%s.%s\"", k1, k2);
        return json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
}

static void test_spec_to_json_fills_every_default(void **state) {
        static const struct {
                const char *k1, *k2, *value;
        } expected[] = {
                { "name", NULL, "\"t\"" },
                { "uuid", NULL, "null" },
                { "vcpus", NULL, "1" },
                { "memory", "size", "\"256M\"" },
                { "memory", "base", "\"0x80000000\"" },
                { "memory", "mode", "\"lend\"" },
                { "memory", "swiotlb", "\"0\"" },
                { "kernel", "path", "\"/k\"" },
                { "kernel", "cmdline", "null" },
                { "kernel", "format", "\"auto\"" },
                { "initrd", NULL, "null" },
                { "console", "type", "\"pl011\"" },
                { "console", "base", "\"0x9000000\"" },
                { "console", "spi", "1" },
                { "autostart", NULL, "false" },
                { "on_poweroff", NULL, "\"stop\"" },
                { "on_reboot", NULL, "\"restart\"" },
                { "on_crash", NULL, "\"stop\"" },
                { "crash_restart", "limit", "3" },
                { "crash_restart", "backoff", "1000" },
                { "disks", NULL, "[]" },
                { "rng", NULL, "false" }, /* lend without a pool: no device can run */
        };
        _cleanup_free_ char *text = NULL;
        VmSpec *s = parse_ok(SPEC0);
        json_object *o;
        assert_int_equal(vm_spec_to_json(s, &text), 0);
        o = json_tokener_parse(text);
        assert_non_null(o);
        assert_int_equal(json_object_object_length(o), 14); /* no "vsock": written only when set */
        for (size_t i = 0; i < ELEMENTSOF(expected); i++) {
                const char *got = json_path_string(o, expected[i].k1, expected[i].k2);
                if (!streq(got, expected[i].value))
                        fail_msg("%s%s%s: expected %s, got %s", expected[i].k1, expected[i].k2 ? "." : "",
                                 expected[i].k2 ?: "", expected[i].value, got);
        }
        json_object_put(o);
        vm_spec_free(s);
}

static void test_spec_to_json_refuses_invalid_enum(void **state) {
        VmSpec *s = parse_ok(SPEC0);
        char *text = (char *) 0x1;
        s->on_crash = _VM_ACTION_MAX;
        assert_int_equal(vm_spec_to_json(s, &text), -EINVAL);
        assert_ptr_equal(text, (char *) 0x1);
        vm_spec_free(s);
}

static void test_vm_name_is_valid(void **state) {
        static const char *const good[] = { "a", "A", "0", "hello", "a.b-c_d", "vm..1", N64 };
        static const char *const bad[] = { "", ".", "..", "../x", "a/b", "/a", "_a", "-a", ".a",
                                           "a b", "a\n", "a:b", "caf\xc3\xa9", N64 "x" };
        for (size_t i = 0; i < ELEMENTSOF(good); i++)
                if (!vm_name_is_valid(good[i]))
                        fail_msg("\"%s\" refused", good[i]);
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                if (vm_name_is_valid(bad[i]))
                        fail_msg("\"%s\" accepted", bad[i]);
        assert_false(vm_name_is_valid(NULL));
}

static void test_enum_string_tables(void **state) {
        for (int i = 0; i < _VM_KERNEL_FORMAT_MAX; i++)
                assert_int_equal(vm_kernel_format_from_string(vm_kernel_format_to_string(i)), i);
        for (int i = 0; i < _VM_CONSOLE_TYPE_MAX; i++)
                assert_int_equal(vm_console_type_from_string(vm_console_type_to_string(i)), i);
        for (int i = 0; i < _VM_ACTION_MAX; i++)
                assert_int_equal(vm_lifecycle_action_from_string(vm_lifecycle_action_to_string(i)), i);
        for (int i = 0; i < _VM_MEMORY_MODE_MAX; i++)
                assert_int_equal(vm_memory_mode_from_string(vm_memory_mode_to_string(i)), i);
        assert_string_equal(vm_kernel_format_to_string(VM_KERNEL_FORMAT_ELF), "elf");
        assert_string_equal(vm_console_type_to_string(VM_CONSOLE_PL011), "pl011");
        assert_string_equal(vm_lifecycle_action_to_string(VM_ACTION_DESTROY), "destroy");
        assert_string_equal(vm_memory_mode_to_string(VM_MEMORY_LEND), "lend");
        assert_string_equal(vm_memory_mode_to_string(VM_MEMORY_SHARE), "share");
        assert_null(vm_kernel_format_to_string(_VM_KERNEL_FORMAT_MAX));
        assert_null(vm_console_type_to_string(-1));
        assert_null(vm_lifecycle_action_to_string(_VM_ACTION_MAX));
        assert_int_equal(vm_kernel_format_from_string("ELF"), _VM_KERNEL_FORMAT_INVALID);
        assert_int_equal(vm_console_type_from_string(NULL), _VM_CONSOLE_TYPE_INVALID);
        assert_int_equal(vm_lifecycle_action_from_string("reboot"), _VM_ACTION_INVALID);
        assert_null(vm_memory_mode_to_string(_VM_MEMORY_MODE_MAX));
        assert_int_equal(vm_memory_mode_from_string("borrow"), _VM_MEMORY_MODE_INVALID);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_spec_rejects_invalid_documents),
                cmocka_unit_test(test_spec_memory_size_message_is_exact),
                cmocka_unit_test(test_spec_error_to_string),
                cmocka_unit_test(test_spec_rejects_nul_byte_in_document),
                cmocka_unit_test(test_spec_parses_by_length),
                cmocka_unit_test(test_spec_long_value_is_shortened_in_message),
                cmocka_unit_test(test_spec_size_limit),
                cmocka_unit_test(test_spec_error_may_be_null),
                cmocka_unit_test(test_spec_defaults_filled),
                cmocka_unit_test(test_spec_every_key_parsed),
                cmocka_unit_test(test_spec_accepts_boundary_values),
                cmocka_unit_test(test_spec_kernel_string_shorthand),
                cmocka_unit_test(test_spec_nulls_mean_absent),
                cmocka_unit_test(test_spec_name_length_limit),
                cmocka_unit_test(test_spec_cmdline_length_limit),
                cmocka_unit_test(test_spec_disks_parsed),
                cmocka_unit_test(test_spec_disk_path_length_limit),
                cmocka_unit_test(test_spec_to_json_round_trips),
                cmocka_unit_test(test_spec_to_json_fills_every_default),
                cmocka_unit_test(test_spec_to_json_refuses_invalid_enum),
                cmocka_unit_test(test_vm_name_is_valid),
                cmocka_unit_test(test_enum_string_tables),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
