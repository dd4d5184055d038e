/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "macro.h"
#include "parse-util.h"

static void test_parse_size_accepts_units(void **state) {
        static const struct {
                const char *s;
                uint64_t v;
        } ok[] = {
                { "0", 0 },           { "1000", 1000 },      { "0x80000000", UINT64_C(0x80000000) },
                { "2K", 2048 },       { "256M", 256 * MiB }, { "1G", GiB },
                { "1GiB", GiB },      { "4KB", 4096 },       { "3B", 3 },
                { "1T", UINT64_C(1) << 40 }, { "2m", 2 * MiB },
        };
        uint64_t v;
        for (size_t i = 0; i < ELEMENTSOF(ok); i++) {
                assert_int_equal(parse_size(ok[i].s, &v), 0);
                assert_int_equal(v, ok[i].v);
        }
}

static void test_parse_size_rejects_garbage_and_overflow(void **state) {
        static const char *const bad[] = { "", "M", "-1", " 1", "1 M", "1X", "1MM", "0x", "1.5G", "1Gi" };
        uint64_t v = 42;
        for (size_t i = 0; i < ELEMENTSOF(bad); i++)
                assert_int_equal(parse_size(bad[i], &v), -EINVAL);
        assert_int_equal(v, 42); /* untouched on failure */
        assert_int_equal(parse_size("16777216T", &v), -ERANGE);
        assert_int_equal(parse_size("18446744073709551616", &v), -ERANGE);
}

static void test_parse_u64_u32_int(void **state) {
        uint64_t u;
        uint32_t w;
        int i;
        assert_int_equal(parse_u64("0x10", &u), 0);
        assert_int_equal(u, 16);
        assert_int_equal(parse_u64("10a", &u), -EINVAL);
        assert_int_equal(parse_u32("4294967295", &w), 0);
        assert_int_equal(w, UINT32_MAX);
        assert_int_equal(parse_u32("4294967296", &w), -ERANGE);
        assert_int_equal(parse_int("-5", &i), 0);
        assert_int_equal(i, -5);
        assert_int_equal(parse_int("99999999999", &i), -ERANGE);
        assert_int_equal(parse_int("", &i), -EINVAL);
}

static void test_format_size_round_trips(void **state) {
        char buf[FORMAT_SIZE_MAX];
        uint64_t v;
        assert_string_equal(format_size(buf, sizeof(buf), 256 * MiB), "256M");
        assert_string_equal(format_size(buf, sizeof(buf), GiB), "1G");
        assert_string_equal(format_size(buf, sizeof(buf), 1536 * KiB), "1536K");
        assert_string_equal(format_size(buf, sizeof(buf), 1000), "1000");
        assert_string_equal(format_size(buf, sizeof(buf), 0), "0");
        assert_int_equal(parse_size(format_size(buf, sizeof(buf), 3 * GiB + 2 * MiB), &v), 0);
        assert_int_equal(v, 3 * GiB + 2 * MiB);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse_size_accepts_units),
                cmocka_unit_test(test_parse_size_rejects_garbage_and_overflow),
                cmocka_unit_test(test_parse_u64_u32_int),
                cmocka_unit_test(test_format_size_round_trips),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
