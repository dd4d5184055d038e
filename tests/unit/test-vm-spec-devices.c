/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The spec keys of the devices beyond disks: "vsock" and "rng". */
#include <json-c/json.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "macro.h"
#include "vm-spec-assert.h"
#include "vm-spec.h"

#define POOL "\"memory\": {\"swiotlb\": \"64M\"}"

static const InvalidCase invalid_cases[] = {
        { SPEC(SHARE ", \"vsock\": {\"cid\": 0}"), "vsock.cid",
          "must be between 3 and 4294967294 (0 (hypervisor), 1 (local), 2 (host) and 4294967295 (any) are reserved), got 0" },
        { SPEC(SHARE ", \"vsock\": {\"cid\": 1}"), "vsock.cid", "are reserved), got 1" },
        { SPEC(SHARE ", \"vsock\": {\"cid\": 2}"), "vsock.cid", "2 (host)" },
        { SPEC(SHARE ", \"vsock\": {\"cid\": 4294967295}"), "vsock.cid", "4294967295 (any) are reserved), got 4294967295" },
        { SPEC(SHARE ", \"vsock\": {\"cid\": 4294967296}"), "vsock.cid", "got 4294967296" },
        { SPEC(SHARE ", \"vsock\": {\"cid\": -3}"), "vsock.cid", "must not be negative, got -3" },
        { SPEC(SHARE ", \"vsock\": {\"cid\": \"3\"}"), "vsock.cid", "must be an integer, got string" },
        { SPEC(SHARE ", \"vsock\": {\"cid\": 3.5}"), "vsock.cid", "must be an integer, got double" },
        { SPEC(SHARE ", \"vsock\": {}"), "vsock.cid", "is required" },
        { SPEC(SHARE ", \"vsock\": {\"cid\": 3, \"port\": 1}"), "vsock.port", "unknown key \"port\"; allowed keys in vsock are: cid" },
        { SPEC(SHARE ", \"vsock\": 3"), "vsock", "must be an object, got int" },
        { SPEC(SHARE ", \"vsock\": null"), "vsock", "must be an object, got null" },
        { SPEC(SHARE ", \"vsock\": true"), "vsock", "must be an object, got boolean" },
        { SPEC(SHARE ", \"rng\": 1"), "rng", "must be true or false, got int" },
        { SPEC(SHARE ", \"rng\": null"), "rng", "must be true or false, got null" },
        { SPEC(SHARE ", \"rng\": \"true\""), "rng", "must be true or false, got string" },
        /* lend without a pool: no device can reach guest memory */
        { SPEC("\"vsock\": {\"cid\": 3}"), "vsock",
          "needs guest memory the host can reach, but memory.mode \"lend\" (the default) takes all of RAM from the host: "
          "set memory.mode to \"share\", or keep \"lend\" and set memory.swiotlb" },
        { SPEC("\"rng\": true"), "rng", "true needs guest memory the host can reach" },
        { SPEC("\"memory\": {\"mode\": \"lend\"}, \"rng\": true"), "rng", "set memory.mode to \"share\", or keep \"lend\" and set memory.swiotlb" },
        /* the console against vsock's and rng's transports and SPIs */
        { SPEC(SHARE ", \"vsock\": {\"cid\": 3}, \"console\": {\"spi\": 16}"), "console.spi", "SPI 16 is the interrupt of vsock" },
        { SPEC(SHARE ", \"vsock\": {\"cid\": 3}, \"console\": {\"spi\": 17}"), "console.spi", "SPI 17 is the interrupt of rng" },
        { SPEC(SHARE ", \"disks\": [{\"path\": \"/a\"}], \"vsock\": {\"cid\": 3}, \"console\": {\"spi\": 17}"), "console.spi",
          "SPI 17 is the interrupt of vsock" },
        { SPEC(SHARE ", \"console\": {\"spi\": 16}"), "console.spi", "SPI 16 is the interrupt of rng" },
        { SPEC(SHARE ", \"vsock\": {\"cid\": 3}, \"rng\": false, \"console\": {\"base\": \"0x0a000000\"}"), "console.base",
          "overlaps the virtio-mmio transports of the disks, vsock and rng [0xa000000, 0xa000200)" },
};

static void test_spec_devices_rejects_bad_values(void **state) {
        for (size_t i = 0; i < ELEMENTSOF(invalid_cases); i++)
                parse_fails(invalid_cases[i].json, invalid_cases[i].path, invalid_cases[i].substring);
}

/* rng is on where a device can run and off where none can; vsock only when asked. */
static void test_spec_devices_defaults(void **state) {
        static const struct {
                const char *json;
                bool rng;
        } cases[] = {
                { SPEC0, false },
                { SPEC("\"memory\": {\"mode\": \"lend\"}"), false },
                { SPEC(SHARE), true },
                { SPEC(POOL), true },
                { SPEC(SHARE ", \"rng\": false"), false },
                { SPEC(POOL ", \"rng\": false"), false },
                { SPEC(SHARE ", \"rng\": true"), true },
                { SPEC(POOL ", \"rng\": true"), true },
                { SPEC("\"rng\": false"), false }, /* saying off where none can run is fine */
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                VmSpec *s = parse_ok(cases[i].json);
                if (s->rng != cases[i].rng)
                        fail_msg("%s: rng %s, expected %s", cases[i].json, s->rng ? "on" : "off",
                                 cases[i].rng ? "on" : "off");
                assert_false(s->has_vsock);
                assert_int_equal(s->vsock.cid, 0);
                vm_spec_free(s);
        }
}

static void test_spec_vsock_cid_boundaries(void **state) {
        static const uint32_t good[] = { 3, 4, 1000, 0xfffffffe };
        for (size_t i = 0; i < ELEMENTSOF(good); i++) {
                char json[256];
                snprintf(json, sizeof(json), SPEC(SHARE ", \"vsock\": {\"cid\": %u}"), good[i]);
                VmSpec *s = parse_ok(json);
                assert_true(s->has_vsock);
                assert_int_equal(s->vsock.cid, good[i]);
                assert_int_equal(vm_spec_n_transports(s), 2); /* vsock and the default rng */
                vm_spec_free(s);
        }
        VmSpec *s = parse_ok(SPEC(POOL ", \"vsock\": {\"cid\": 7}, \"rng\": false"));
        assert_true(s->has_vsock);
        assert_int_equal(s->vsock.cid, 7);
        assert_int_equal(vm_spec_n_transports(s), 1);
        vm_spec_free(s);
}

static void test_spec_transport_names(void **state) {
        VmSpec *s = parse_ok(SPEC(SHARE ", \"disks\": [{\"path\": \"/a\"}, {\"path\": \"/b\"}], \"vsock\": {\"cid\": 3}"));
        char buf[32];

        assert_int_equal(vm_spec_n_transports(s), 4);
        assert_string_equal(vm_spec_transport_name(s, 0, buf, sizeof(buf)), "disks[0]");
        assert_string_equal(vm_spec_transport_name(s, 1, buf, sizeof(buf)), "disks[1]");
        assert_string_equal(vm_spec_transport_name(s, 2, buf, sizeof(buf)), "vsock");
        assert_string_equal(vm_spec_transport_name(s, 3, buf, sizeof(buf)), "rng");
        vm_spec_free(s);
}

static json_object *serialize(const char *json, VmSpec **ret) {
        _cleanup_free_ char *text = NULL;
        VmSpec *s = parse_ok(json);
        json_object *o;

        assert_int_equal(vm_spec_to_json(s, &text), 0);
        o = json_tokener_parse(text);
        assert_non_null(o);
        *ret = s;
        return o;
}

/* "vsock" is written when set, "rng" always (its default depends on memory,
 * so the normalized spec says what was decided); both round-trip. */
static void test_spec_devices_serialized(void **state) {
        static const struct {
                const char *json;
                const char *vsock; /* NULL: absent */
                const char *rng;
        } cases[] = {
                { SPEC0, NULL, "false" },
                { SPEC(SHARE), NULL, "true" },
                { SPEC(SHARE ", \"rng\": false"), NULL, "false" },
                { SPEC(SHARE ", \"vsock\": {\"cid\": 4294967294}"), "{\"cid\":4294967294}", "true" },
                { SPEC(POOL ", \"vsock\": {\"cid\": 3}, \"rng\": false"), "{\"cid\":3}", "false" },
        };
        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *again = NULL;
                VmSpec *s, *b;
                json_object *o = serialize(cases[i].json, &s), *v;
                const char *text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);

                if (!cases[i].vsock && json_object_object_get_ex(o, "vsock", &v))
                        fail_msg("%s: \"vsock\" written though not set: %s", cases[i].json, text);
                if (cases[i].vsock &&
                    (!json_object_object_get_ex(o, "vsock", &v) ||
                     !streq(json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN), cases[i].vsock)))
                        fail_msg("%s: expected \"vsock\": %s in %s", cases[i].json, cases[i].vsock, text);
                if (!json_object_object_get_ex(o, "rng", &v) ||
                    !streq(json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN), cases[i].rng))
                        fail_msg("%s: expected \"rng\": %s in %s", cases[i].json, cases[i].rng, text);

                b = parse_ok(text);
                assert_int_equal(b->has_vsock, s->has_vsock);
                assert_int_equal(b->vsock.cid, s->vsock.cid);
                assert_int_equal(b->rng, s->rng);
                assert_int_equal(vm_spec_to_json(b, &again), 0);
                json_object *o2 = json_tokener_parse(again);
                assert_true(json_object_equal(o, o2));
                json_object_put(o2);
                json_object_put(o);
                vm_spec_free(s);
                vm_spec_free(b);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_spec_devices_rejects_bad_values),
                cmocka_unit_test(test_spec_devices_defaults),
                cmocka_unit_test(test_spec_vsock_cid_boundaries),
                cmocka_unit_test(test_spec_transport_names),
                cmocka_unit_test(test_spec_devices_serialized),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
