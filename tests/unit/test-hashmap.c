/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "hashmap.h"

#define N 1000

static char keys[N][16];

static void fill_keys(void) {
        for (int i = 0; i < N; i++)
                snprintf(keys[i], sizeof(keys[i]), "vm-%d", i);
}

static void test_put_get_many_across_growth(void **state) {
        _cleanup_(hashmap_freep) Hashmap *h = NULL;

        assert_int_equal(hashmap_new(&h), 0);
        for (int i = 0; i < N; i++)
                assert_int_equal(hashmap_put(h, keys[i], keys[i]), 0);
        assert_int_equal(hashmap_size(h), N);
        for (int i = 0; i < N; i++)
                assert_ptr_equal(hashmap_get(h, keys[i]), keys[i]);
        assert_null(hashmap_get(h, "vm-1000"));
        assert_null(hashmap_get(h, ""));
}

static void test_put_refuses_a_key_already_there(void **state) {
        _cleanup_(hashmap_freep) Hashmap *h = NULL;
        char other[] = "vm-1";

        assert_int_equal(hashmap_new(&h), 0);
        assert_int_equal(hashmap_put(h, keys[1], keys[1]), 0);
        assert_int_equal(hashmap_put(h, other, other), -EEXIST); /* equal string, other pointer */
        assert_ptr_equal(hashmap_get(h, other), keys[1]);
        assert_int_equal(hashmap_size(h), 1);
}

/* Removal shifts probe runs back: every key left must still be found. */
static void test_remove_keeps_every_other_key_reachable(void **state) {
        _cleanup_(hashmap_freep) Hashmap *h = NULL;

        assert_int_equal(hashmap_new(&h), 0);
        for (int i = 0; i < N; i++)
                assert_int_equal(hashmap_put(h, keys[i], keys[i]), 0);
        for (int i = 0; i < N; i += 3)
                assert_ptr_equal(hashmap_remove(h, keys[i]), keys[i]);
        assert_null(hashmap_remove(h, keys[0]));
        for (int i = 0; i < N; i++) {
                if (i % 3 == 0)
                        assert_null(hashmap_get(h, keys[i]));
                else
                        assert_ptr_equal(hashmap_get(h, keys[i]), keys[i]);
        }
        assert_int_equal(hashmap_size(h), N - (N + 2) / 3);
        /* and may come back */
        assert_int_equal(hashmap_put(h, keys[0], keys[0]), 0);
        assert_ptr_equal(hashmap_get(h, keys[0]), keys[0]);
}

static void test_iterate_visits_every_value_once(void **state) {
        _cleanup_(hashmap_freep) Hashmap *h = NULL;
        int seen[N] = {};
        size_t it = 0, n = 0;
        void *v;

        assert_int_equal(hashmap_new(&h), 0);
        for (int i = 0; i < N; i++)
                assert_int_equal(hashmap_put(h, keys[i], keys[i]), 0);
        while (hashmap_iterate(h, &it, &v)) {
                seen[((char (*)[16]) v) - keys]++;
                n++;
        }
        assert_int_equal(n, N);
        for (int i = 0; i < N; i++)
                assert_int_equal(seen[i], 1);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_put_get_many_across_growth),
                cmocka_unit_test(test_put_refuses_a_key_already_there),
                cmocka_unit_test(test_remove_keeps_every_other_key_reachable),
                cmocka_unit_test(test_iterate_visits_every_value_once),
        };
        fill_keys();
        return cmocka_run_group_tests(tests, NULL, NULL);
}
