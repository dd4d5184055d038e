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
#include "vm-spec.h"

/* Documents: a minimal valid spec plus the keys a case is about. */
#define KERNEL "\"kernel\": \"/k\""
#define SPEC0 "{\"name\": \"t\", " KERNEL "}"
#define SPEC(...) "{\"name\": \"t\", " KERNEL ", " __VA_ARGS__ "}"
#define N16 "abcdefghijklmnop"
#define N64 N16 N16 N16 N16

static VmSpec *parse_ok_flags(const char *json, unsigned flags) {
        VmSpecError e = {};
        VmSpec *s = NULL;
        char buf[600];
        int r;

        r = vm_spec_parse(json, strlen(json), flags, &s, &e);
        if (r < 0)
                fail_msg("parsing %s failed (%d): %s", json, r, vm_spec_error_to_string(&e, buf, sizeof(buf)));
        assert_non_null(s);
        return s;
}

static VmSpec *parse_ok(const char *json) {
        return parse_ok_flags(json, VM_SPEC_SKIP_FILE_CHECKS);
}

/* Checks that parsing fails with r, the error names path, and the message
 * contains substring; that *ret stays untouched. */
static void check_error(int r, int expected_r, const VmSpecError *e, const VmSpec *s,
                        const char *what, const char *path, const char *substring) {
        char buf[600];

        if (r != expected_r)
                fail_msg("%s: expected %d, got %d (%s)", what, expected_r, r,
                         r < 0 ? vm_spec_error_to_string(e, buf, sizeof(buf)) : "accepted");
        if (s != (VmSpec *) 0x1)
                fail_msg("%s: *ret was written on failure", what);
        if (!streq(e->path, path))
                fail_msg("%s: expected error path \"%s\", got \"%s\" (%s)", what, path, e->path, e->message);
        if (!strstr(e->message, substring))
                fail_msg("%s: expected message containing \"%s\", got \"%s\"", what, substring, e->message);
}

static void parse_fails_len(const char *json, size_t len, unsigned flags, int expected_r,
                            const char *path, const char *substring) {
        VmSpecError e = {};
        VmSpec *s = (VmSpec *) 0x1;
        int r;

        r = vm_spec_parse(json, len, flags, &s, &e);
        check_error(r, expected_r, &e, s, json, path, substring);
}

static void parse_fails(const char *json, const char *path, const char *substring) {
        parse_fails_len(json, strlen(json), VM_SPEC_SKIP_FILE_CHECKS, -EINVAL, path, substring);
}

typedef struct InvalidCase {
        const char *json;
        const char *path;
        const char *substring;
} InvalidCase;

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

static void test_spec_cmdline_length_limit(void **state) {
        static const char prefix[] = "{\"name\": \"t\", \"kernel\": {\"path\": \"/k\", \"cmdline\": \"";
        size_t n = VM_CMDLINE_MAX - 1;
        _cleanup_free_ char *json = malloc(sizeof(prefix) + n + 8);
        VmSpec *s;
        char *p;
        assert_non_null(json);
        p = stpcpy(json, prefix);
        memset(p, 'x', n);
        strcpy(p + n, "\"}}");
        s = parse_ok(json);
        assert_int_equal(strlen(s->kernel.cmdline), VM_CMDLINE_MAX - 1);
        vm_spec_free(s);

        memset(p, 'x', n + 1);
        strcpy(p + n + 1, "\"}}");
        parse_fails(json, "kernel.cmdline", "must be at most 2047 bytes");
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
            a->crash_restart_backoff_msec != b->crash_restart_backoff_msec)
                fail_msg("%s: re-parsed spec differs from the original", what);
}

static const char *const round_trip_docs[] = {
        SPEC0,
        FULL_SPEC,
        "{\"name\": \"t\", \"kernel\": {\"path\": \"/a/b c/\\\"q\\\"\", \"cmdline\": \"\"},"
        " \"memory\": {\"size\": 3221225472, \"base\": \"0xF00000000\"}}",
        "{\"name\": \"t\", \"kernel\": {\"path\": \"/k\", \"cmdline\": \"a=\\u00e9 b=\\t\"},"
        " \"memory\": {\"size\": \"6M\"}, \"crash_restart\": {\"backoff\": \"1min\"}}",
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
        };
        _cleanup_free_ char *text = NULL;
        VmSpec *s = parse_ok(SPEC0);
        json_object *o;
        assert_int_equal(vm_spec_to_json(s, &text), 0);
        o = json_tokener_parse(text);
        assert_non_null(o);
        assert_int_equal(json_object_object_length(o), 12);
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

/* ---- files ---- */

typedef struct TmpDir {
        char path[PATH_MAX];
        char cwd[PATH_MAX];
} TmpDir;

static void write_text(const char *dir, const char *name, const char *text) {
        char p[PATH_MAX * 2];
        int fd;

        snprintf(p, sizeof(p), "%s/%s", dir, name);
        fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        assert_int_equal(loop_write(fd, text, strlen(text)), 0);
        close(fd);
}

static int tmpdir_setup(void **state) {
        TmpDir *t = calloc(1, sizeof(*t));
        char tmpl[] = "/tmp/test-vm-spec-XXXXXX";

        if (!t || !mkdtemp(tmpl) || !realpath(tmpl, t->path) || !getcwd(t->cwd, sizeof(t->cwd)))
                return -1;
        /* Reachable by an unprivileged uid for the unreadable-file test. */
        (void) chmod(t->path, 0755);
        *state = t;
        return 0;
}

static int tmpdir_teardown(void **state) {
        TmpDir *t = *state;
        char cmd[PATH_MAX + 32];

        unsetenv("GUNYAH_IMAGE_PATH");
        if (chdir(t->cwd) < 0)
                return -1;
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t->path);
        if (system(cmd) != 0)
                return -1;
        free(t);
        return 0;
}

static char *spec_with_kernel(const char *kernel_json, const char *extra) {
        char *json;

        assert_true(asprintf(&json, "{\"name\": \"t\", \"kernel\": %s%s}", kernel_json, extra) > 0);
        return json;
}

static void file_check_fails(const char *kernel_json, const char *extra, const char *path, const char *substring) {
        _cleanup_free_ char *json = spec_with_kernel(kernel_json, extra);

        parse_fails_len(json, strlen(json), 0, -EINVAL, path, substring);
}

static void test_spec_file_checks(void **state) {
        TmpDir *t = *state;
        _cleanup_free_ char *ok = NULL, *missing = NULL, *dir = NULL, *with_initrd = NULL, *bad_initrd = NULL;
        VmSpec *s;

        write_text(t->path, "k.bin", "kernel");
        write_text(t->path, "i.img", "initrd");
        assert_true(asprintf(&ok, "{\"path\": \"%s/k.bin\"}", t->path) > 0);
        assert_true(asprintf(&missing, "\"%s/missing.bin\"", t->path) > 0);
        assert_true(asprintf(&dir, "{\"path\": \"%s\"}", t->path) > 0);
        assert_true(asprintf(&with_initrd, ", \"initrd\": \"%s/i.img\"", t->path) > 0);
        assert_true(asprintf(&bad_initrd, ", \"initrd\": \"%s/nope.img\"", t->path) > 0);

        _cleanup_free_ char *json = spec_with_kernel(ok, with_initrd);
        s = parse_ok_flags(json, 0);
        vm_spec_free(s);

        file_check_fails(missing, "", "kernel", "No such file or directory");
        file_check_fails(missing, "", "kernel", "missing.bin");
        file_check_fails(dir, "", "kernel.path", "must be a regular file, but it is a directory");
        file_check_fails(ok, bad_initrd, "initrd", "nope.img\": No such file or directory");
        file_check_fails("\"/dev/null\"", "", "kernel", "must be a regular file");

        /* The same documents pass when the checks are skipped. */
        _cleanup_free_ char *json2 = spec_with_kernel(missing, bad_initrd);
        s = parse_ok(json2);
        vm_spec_free(s);
}

/* Root reads a mode-000 file anyway; a child that dropped to an
 * unprivileged uid cannot, so the check is tested there. */
static void test_spec_refuses_unreadable_file(void **state) {
        TmpDir *t = *state;
        _cleanup_free_ char *kernel = NULL, *json = NULL;
        char file[PATH_MAX * 2];
        int status;
        pid_t pid;

        write_text(t->path, "secret.bin", "kernel");
        snprintf(file, sizeof(file), "%s/secret.bin", t->path);
        assert_int_equal(chmod(file, 0), 0);
        assert_true(asprintf(&kernel, "\"%s\"", file) > 0);
        json = spec_with_kernel(kernel, "");

        if (access(file, R_OK) < 0) {
                parse_fails_len(json, strlen(json), 0, -EINVAL, "kernel", "Permission denied");
                return;
        }

        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                VmSpecError e = {};
                VmSpec *s = NULL;
                int r;

                if (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0 ||
                    setresuid(65534, 65534, 65534) < 0)
                        _exit(77);
                r = vm_spec_parse(json, strlen(json), 0, &s, &e);
                _exit(r == -EINVAL && streq(e.path, "kernel") && strstr(e.message, "Permission denied") ? 0 : 1);
        }
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        if (WEXITSTATUS(status) == 77) {
                /* No uid to drop to (e.g. a user namespace): at least show the
                 * check runs at all, through the paths root cannot open. */
                file_check_fails("\"/nonexistent/k\"", "", "kernel", "No such file or directory");
                return;
        }
        if (WEXITSTATUS(status) != 0)
                fail_msg("an unprivileged parser accepted the mode-000 kernel %s", file);
}

static void test_spec_load_file_resolves_relative_paths(void **state) {
        TmpDir *t = *state;
        char sub[PATH_MAX * 2], spec_path[PATH_MAX * 3], expected[PATH_MAX * 3];
        VmSpecError e = {};
        VmSpec *s = NULL;

        snprintf(sub, sizeof(sub), "%s/sub", t->path);
        assert_int_equal(mkdir(sub, 0755), 0);
        write_text(sub, "k.bin", "kernel");
        write_text(sub, "i.img", "initrd");
        write_text(sub, "spec.json", "{\"name\": \"t\", \"kernel\": \"k.bin\", \"initrd\": \"i.img\"}");
        snprintf(spec_path, sizeof(spec_path), "%s/spec.json", sub);

        /* From elsewhere: paths are relative to the spec file, not the cwd. */
        assert_int_equal(chdir("/"), 0);
        assert_int_equal(vm_spec_load_file(spec_path, 0, &s, &e), 0);
        snprintf(expected, sizeof(expected), "%s/k.bin", sub);
        assert_string_equal(s->kernel.path, expected);
        snprintf(expected, sizeof(expected), "%s/i.img", sub);
        assert_string_equal(s->initrd, expected);
        s = vm_spec_free(s);

        /* A relative spec path gives absolute image paths too. */
        assert_int_equal(chdir(t->path), 0);
        assert_int_equal(vm_spec_load_file("sub/spec.json", 0, &s, &e), 0);
        snprintf(expected, sizeof(expected), "%s/sub/k.bin", t->path);
        assert_string_equal(s->kernel.path, expected);
        s = vm_spec_free(s);

        /* vm_spec_parse() resolves against the current directory. */
        static const char doc[] = "{\"name\": \"t\", \"kernel\": \"sub/k.bin\", \"initrd\": \"sub/i.img\"}";
        assert_int_equal(vm_spec_parse(doc, strlen(doc), 0, &s, &e), 0);
        assert_string_equal(s->kernel.path, expected);
        snprintf(expected, sizeof(expected), "%s/sub/i.img", t->path);
        assert_string_equal(s->initrd, expected);
        vm_spec_free(s);
}

static void test_spec_load_file_errors(void **state) {
        TmpDir *t = *state;
        char p[PATH_MAX * 2];
        VmSpecError e = {};
        VmSpec *s = (VmSpec *) 0x1;
        _cleanup_free_ char *big = NULL;

        snprintf(p, sizeof(p), "%s/none.json", t->path);
        assert_int_equal(vm_spec_load_file(p, 0, &s, &e), -ENOENT);
        assert_non_null(strstr(e.message, "cannot read spec file"));
        assert_ptr_equal(s, (VmSpec *) 0x1);

        write_text(t->path, "bad.json", "{\"name\": \"t\", \"kernel\": \"k\", \"vcpus\": \"2\"}");
        snprintf(p, sizeof(p), "%s/bad.json", t->path);
        assert_int_equal(vm_spec_load_file(p, VM_SPEC_SKIP_FILE_CHECKS, &s, &e), -EINVAL);
        assert_string_equal(e.path, "vcpus");
        assert_string_equal(e.message, "must be an integer, got string");

        big = malloc(VM_SPEC_SIZE_MAX + 2);
        assert_non_null(big);
        memset(big, ' ', VM_SPEC_SIZE_MAX + 1);
        memcpy(big, SPEC0, strlen(SPEC0));
        big[VM_SPEC_SIZE_MAX + 1] = '\0';
        write_text(t->path, "big.json", big);
        snprintf(p, sizeof(p), "%s/big.json", t->path);
        assert_int_equal(vm_spec_load_file(p, VM_SPEC_SKIP_FILE_CHECKS, &s, &e), -E2BIG);
        assert_non_null(strstr(e.message, "larger than the 1 MiB"));
        assert_ptr_equal(s, (VmSpec *) 0x1);
}

static void test_spec_image_path_search(void **state) {
        TmpDir *t = *state;
        char specs[PATH_MAX * 2], images[PATH_MAX * 2], spec_path[PATH_MAX * 3], expected[PATH_MAX * 3];
        char env[PATH_MAX * 3];
        VmSpecError e = {};
        VmSpec *s = NULL;

        snprintf(specs, sizeof(specs), "%s/specs", t->path);
        snprintf(images, sizeof(images), "%s/images", t->path);
        assert_int_equal(mkdir(specs, 0755), 0);
        assert_int_equal(mkdir(images, 0755), 0);
        write_text(images, "hello.elf", "elf");
        write_text(specs, "hello.json", "{\"name\": \"hello\", \"kernel\": \"hello.elf\"}");
        snprintf(spec_path, sizeof(spec_path), "%s/hello.json", specs);

        /* Not next to the spec and no search path: refused, naming where it looked. */
        unsetenv("GUNYAH_IMAGE_PATH");
        assert_int_equal(vm_spec_load_file(spec_path, 0, &s, &e), -EINVAL);
        snprintf(expected, sizeof(expected), "%s/hello.elf", specs);
        assert_non_null(strstr(e.message, expected));

        /* Found in the second directory of the search path. */
        snprintf(env, sizeof(env), "/nonexistent::%s", images);
        assert_int_equal(setenv("GUNYAH_IMAGE_PATH", env, 1), 0);
        assert_int_equal(vm_spec_load_file(spec_path, 0, &s, &e), 0);
        snprintf(expected, sizeof(expected), "%s/hello.elf", images);
        assert_string_equal(s->kernel.path, expected);
        s = vm_spec_free(s);

        /* Relative search directories are taken from the current directory. */
        assert_int_equal(chdir(t->path), 0);
        assert_int_equal(setenv("GUNYAH_IMAGE_PATH", "images", 1), 0);
        assert_int_equal(vm_spec_load_file(spec_path, 0, &s, &e), 0);
        assert_string_equal(s->kernel.path, expected);
        s = vm_spec_free(s);

        /* A file next to the spec wins over the search path. */
        write_text(specs, "hello.elf", "local");
        assert_int_equal(vm_spec_load_file(spec_path, 0, &s, &e), 0);
        snprintf(expected, sizeof(expected), "%s/hello.elf", specs);
        assert_string_equal(s->kernel.path, expected);
        s = vm_spec_free(s);

        /* Still missing everywhere: the message says the search path was tried. */
        write_text(specs, "other.json", "{\"name\": \"o\", \"kernel\": \"other.elf\"}");
        snprintf(spec_path, sizeof(spec_path), "%s/other.json", specs);
        assert_int_equal(vm_spec_load_file(spec_path, 0, &s, &e), -EINVAL);
        assert_non_null(strstr(e.message, "not found in GUNYAH_IMAGE_PATH either"));

        /* Absolute paths are never searched for. */
        static const char absolute[] = "{\"name\": \"a\", \"kernel\": \"/nonexistent/hello.elf\"}";
        assert_int_equal(vm_spec_parse(absolute, strlen(absolute), 0, &s, &e), -EINVAL);
        assert_non_null(strstr(e.message, "\"/nonexistent/hello.elf\": No such file or directory"));
        assert_null(strstr(e.message, "GUNYAH_IMAGE_PATH"));

        /* A relative path with directories is also found by its file name. */
        write_text(specs, "deep.json", "{\"name\": \"d\", \"kernel\": \"../elsewhere/hello.elf\"}");
        snprintf(spec_path, sizeof(spec_path), "%s/deep.json", specs);
        assert_int_equal(setenv("GUNYAH_IMAGE_PATH", images, 1), 0);
        assert_int_equal(vm_spec_load_file(spec_path, 0, &s, &e), 0);
        snprintf(expected, sizeof(expected), "%s/hello.elf", images);
        assert_string_equal(s->kernel.path, expected);
        s = vm_spec_free(s);
        unsetenv("GUNYAH_IMAGE_PATH");
}

static void test_spec_absolute_paths_flag(void **state) {
        const char *rel = "{\"name\":\"a\",\"kernel\":\"guest.elf\"}";
        const char *rel_initrd = "{\"name\":\"a\",\"kernel\":\"/k.elf\",\"initrd\":\"i.img\"}";
        const char *abs = "{\"name\":\"a\",\"kernel\":\"/k.elf\",\"initrd\":\"/i.img\"}";
        unsigned flags = VM_SPEC_ABSOLUTE_PATHS | VM_SPEC_SKIP_FILE_CHECKS;
        VmSpecError e = {};
        VmSpec *s = NULL;
        assert_int_equal(vm_spec_parse(rel, strlen(rel), flags, &s, &e), -EINVAL);
        assert_string_equal(e.path, "kernel");
        assert_non_null(strstr(e.message, "absolute path"));
        assert_int_equal(vm_spec_parse(rel_initrd, strlen(rel_initrd), flags, &s, &e), -EINVAL);
        assert_string_equal(e.path, "initrd");
        assert_int_equal(vm_spec_parse(abs, strlen(abs), flags, &s, &e), 0);
        assert_string_equal(s->kernel.path, "/k.elf");
        vm_spec_free(s);
        /* without the flag the same relative spec resolves against the cwd */
        assert_int_equal(vm_spec_parse(rel, strlen(rel), VM_SPEC_SKIP_FILE_CHECKS, &s, &e), 0);
        assert_true(s->kernel.path[0] == '/');
        vm_spec_free(s);
}

/* examples/hello.json must stay valid, and find its guest in the build
 * tree, or through GUNYAH_IMAGE_PATH by file name the way other build
 * directories run it. */
static void test_spec_example_hello(void **state) {
        TmpDir *t = *state;
        const char *examples = getenv("GUNYAH_EXAMPLES_DIR") ?: "../../examples";
        char spec_path[PATH_MAX * 2], expected[PATH_MAX * 2];
        VmSpecError e = {};
        VmSpec *s = NULL;
        char buf[600];

        snprintf(spec_path, sizeof(spec_path), "%s/hello.json", examples);
        write_text(t->path, "hello.elf", "elf");
        assert_int_equal(setenv("GUNYAH_IMAGE_PATH", t->path, 1), 0);
        if (vm_spec_load_file(spec_path, 0, &s, &e) < 0)
                fail_msg("%s: %s", spec_path, vm_spec_error_to_string(&e, buf, sizeof(buf)));
        unsetenv("GUNYAH_IMAGE_PATH");
        snprintf(expected, sizeof(expected), "%s/hello.elf", t->path);
        assert_string_equal(s->name, "hello");
        /* the build tree's guest when build/ exists, else the search path's */
        const char *suffix = "/build/tests/guests/hello.elf";
        size_t n = strlen(s->kernel.path);
        if (!(n > strlen(suffix) && streq(s->kernel.path + n - strlen(suffix), suffix)))
                assert_string_equal(s->kernel.path, expected);
        assert_string_equal(s->kernel.cmdline, "console=ttyAMA0");
        assert_int_equal(s->memory.size, 256 * MiB);
        vm_spec_free(s);
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
                cmocka_unit_test(test_spec_to_json_round_trips),
                cmocka_unit_test(test_spec_to_json_fills_every_default),
                cmocka_unit_test(test_spec_to_json_refuses_invalid_enum),
                cmocka_unit_test(test_vm_name_is_valid),
                cmocka_unit_test(test_enum_string_tables),
                cmocka_unit_test(test_spec_absolute_paths_flag),
                cmocka_unit_test_setup_teardown(test_spec_file_checks, tmpdir_setup, tmpdir_teardown),
                cmocka_unit_test_setup_teardown(test_spec_refuses_unreadable_file, tmpdir_setup, tmpdir_teardown),
                cmocka_unit_test_setup_teardown(test_spec_load_file_resolves_relative_paths, tmpdir_setup, tmpdir_teardown),
                cmocka_unit_test_setup_teardown(test_spec_load_file_errors, tmpdir_setup, tmpdir_teardown),
                cmocka_unit_test_setup_teardown(test_spec_image_path_search, tmpdir_setup, tmpdir_teardown),
                cmocka_unit_test_setup_teardown(test_spec_example_hello, tmpdir_setup, tmpdir_teardown),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
