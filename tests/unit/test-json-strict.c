/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The strict JSON reader on its own; test-vm-spec covers its messages
 * through vm_spec_parse(). */
#include <json-c/json.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "json-strict.h"
#include "macro.h"

static json_object *parse_ok(const char *json) {
        VmSpecError e = {};
        json_object *o = NULL;

        if (json_strict_parse_object(json, strlen(json), &o, &e) < 0)
                fail_msg("%s refused: %s: %s", json, e.path, e.message);
        assert_non_null(o);
        return o;
}

static void parse_fails(const char *json, size_t len, const char *path, const char *substring) {
        VmSpecError e = {};
        json_object *o = (json_object *) 0x1;

        assert_int_equal(json_strict_parse_object(json, len, &o, &e), -EINVAL);
        assert_ptr_equal(o, (json_object *) 0x1);
        assert_string_equal(e.path, path);
        if (!strstr(e.message, substring))
                fail_msg("%s: expected a message containing \"%s\", got \"%s\"", json, substring, e.message);
}

static void test_accepts_nested_values(void **state) {
        json_object *o = parse_ok(" {\"a\": [1, {\"b\": \"x\", \"c\": null}], \"d\": {\"a\": true}}\n");
        json_object *a, *d;

        assert_true(json_object_object_get_ex(o, "a", &a));
        assert_int_equal(json_object_array_length(a), 2);
        assert_true(json_object_object_get_ex(o, "d", &d));
        assert_true(json_object_is_type(d, json_type_object));
        json_object_put(o);
        /* The same key in different objects is no duplicate. */
        json_object_put(parse_ok("{\"a\": {\"a\": {\"a\": 1}}, \"b\": [{\"a\": 1}, {\"a\": 2}]}"));
}

static void test_refuses(void **state) {
        parse_fails("{\"a\": 1, \"a\": 2}", 16, "a", "duplicate key");
        parse_fails("{\"a\": {\"b\": 1, \"b\": 1}}", 23, "a.b", "duplicate key");
        parse_fails("{\"a\": [0, {\"b\": 1, \"b\": 1}]}", 28, "a[1].b", "duplicate key");
        parse_fails("{'a': 1}", 8, "", "line 1, column 2: strings must be enclosed in double quotes");
        parse_fails("{\"a\": 1}\n x", 11, "", "line 2, column 2: trailing characters");
        parse_fails("{\"a\": 1}", 7, "", "unexpected end of document");
        parse_fails("{\"a\": \0}", 8, "", "line 1, column 7: NUL byte in the document");
        parse_fails("  ", 2, "", "the document is empty");
        parse_fails("[1]", 3, "", "must be a JSON object");
}

static void test_error_may_be_null(void **state) {
        json_object *o = NULL;

        assert_int_equal(json_strict_parse_object("{\"a\": 1, \"a\": 1}", 16, &o, NULL), -EINVAL);
        assert_null(o);
        assert_int_equal(json_strict_parse_object("{}", 2, &o, NULL), 0);
        json_object_put(o);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_accepts_nested_values),
                cmocka_unit_test(test_refuses),
                cmocka_unit_test(test_error_may_be_null),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
