/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The names a running VM gets under systemd (src/daemon/vm-scope.c,
 * vm-machine.c): its scope unit, escaped as systemd-escape does, and the
 * machine names systemd-machined accepts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "macro.h"
#include "vm-machine.h"
#include "vm-scope.h"

static void test_scope_unit_name_escapes_like_systemd_escape(void **state) {
        static const struct {
                const char *vm, *unit;
        } cases[] = {
                { "spin1", "gunyah-vm-spin1.scope" },
                { "my-vm", "gunyah-vm-my\\x2dvm.scope" },   /* systemd-escape my-vm: my\x2dvm */
                { "a_b.c", "gunyah-vm-a_b.c.scope" },       /* '_' and an inner '.' stay */
                { "Web01", "gunyah-vm-Web01.scope" },
                { "x-.-y", "gunyah-vm-x\\x2d.\\x2dy.scope" },
        };

        for (size_t i = 0; i < ELEMENTSOF(cases); i++) {
                _cleanup_free_ char *unit = NULL;

                assert_int_equal(vm_scope_unit_name(cases[i].vm, &unit), 0);
                assert_string_equal(unit, cases[i].unit);
        }
}

static void test_machine_names_are_host_names(void **state) {
        static const char *const valid[] = { "spin1", "my-vm", "web.example", "a", "A1-b2" };
        static const char *const invalid[] = { "a_b", "vm-", "vm.", "a..b", "a.-b", "a-.b", "", ".a",
                "x1234567890123456789012345678901234567890123456789012345678901234" };

        for (size_t i = 0; i < ELEMENTSOF(valid); i++)
                assert_true(vm_machine_name_is_valid(valid[i]));
        for (size_t i = 0; i < ELEMENTSOF(invalid); i++)
                if (vm_machine_name_is_valid(invalid[i]))
                        fail_msg("\"%s\" taken as a machine name; machined refuses it", invalid[i]);
        assert_false(vm_machine_name_is_valid(NULL));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_scope_unit_name_escapes_like_systemd_escape),
                cmocka_unit_test(test_machine_names_are_host_names),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
