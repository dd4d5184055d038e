/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <dirent.h>
#include <string.h>

#include <cmocka.h>

#include "abi-probe.h"
#include "fake-gunyah.h"

#define N(x) (sizeof(x) / sizeof((x)[0]))

static int teardown(void **state) {
        fake_gunyah_teardown();
        return 0;
}

static const struct {
        const char *name;
        FakeGunyahMode mode;
        uint32_t forced_request;
        int forced_errno;
        AbiKind kind;
        HvAbi abi;
        int to_errno;
        const char *reason; /* substring the reason must contain */
} cases[] = {
        { "U17", FAKE_GUNYAH_U17, 0, 0, ABI_KIND_U17, HV_ABI_U17, 0, "U17" },
        { "A14", FAKE_GUNYAH_A14, 0, 0, ABI_KIND_A14, HV_ABI_A14, 0, "A14" },
        { "A14 without TENTATIVE_UAPI", FAKE_GUNYAH_A14_OLD, 0, 0, ABI_KIND_A14, HV_ABI_A14, 0, "A14" },
        { "A14 without mem-extent", FAKE_GUNYAH_A14, GH_VM_SET_USER_MEM_REGION, EOPNOTSUPP, ABI_KIND_A14, HV_ABI_A14, 0, "A14" },
        { "A15", FAKE_GUNYAH_A15, 0, 0, ABI_KIND_A15, _HV_ABI_INVALID, -EOPNOTSUPP, "not supported yet" },
        { "vendor", FAKE_GUNYAH_VENDOR, 0, 0, ABI_KIND_VENDOR, _HV_ABI_INVALID, -EOPNOTSUPP, "0xB2" },
        { "missing device", FAKE_GUNYAH_MISSING, 0, 0, ABI_KIND_NO_DEVICE, _HV_ABI_INVALID, -ENOENT, "cannot open" },
        { "U17 but MAP_MEM missing", FAKE_GUNYAH_U17, GUNYAH_VM_MAP_MEM, ENOTTY, ABI_KIND_UNKNOWN, _HV_ABI_INVALID,
          -EOPNOTSUPP, "MAP_MEM=ENOTTY" },
        { "guest mem answers EPERM", FAKE_GUNYAH_U17, GUNYAH_CREATE_GUEST_MEM, EPERM, ABI_KIND_UNKNOWN,
          _HV_ABI_INVALID, -EOPNOTSUPP, "CREATE_GUEST_MEM=EPERM" },
        { "A14 with boot context", FAKE_GUNYAH_A14, GUNYAH_VM_SET_BOOT_CONTEXT, EINVAL, ABI_KIND_UNKNOWN,
          _HV_ABI_INVALID, -EOPNOTSUPP, "SET_BOOT_CONTEXT=EINVAL" },
        { "A15 with TENTATIVE_UAPI", FAKE_GUNYAH_A15, GH_ANDROID_TENTATIVE_UAPI, ENOSYS, ABI_KIND_UNKNOWN,
          _HV_ABI_INVALID, -EOPNOTSUPP, "ANDROID_TENTATIVE_UAPI=ENOSYS" },
        { "CREATE_VM fails", FAKE_GUNYAH_U17, GUNYAH_CREATE_VM, EPERM, ABI_KIND_UNKNOWN, _HV_ABI_INVALID,
          -EOPNOTSUPP, "CREATE_VM failed" },
};

static void test_probe_verdicts(void **state) {
        for (size_t i = 0; i < N(cases); i++) {
                const char *path = fake_gunyah_setup(cases[i].mode);
                AbiProbe p;

                assert_non_null(path);
                if (cases[i].forced_errno)
                        fake_gunyah_force_errno(cases[i].forced_request, cases[i].forced_errno);
                assert_int_equal(abi_probe(path, &p), 0);
                if (p.kind != cases[i].kind)
                        fail_msg("%s: verdict %s, want %s (%s)", cases[i].name, abi_kind_to_string(p.kind),
                                 abi_kind_to_string(cases[i].kind), p.reason);
                if (p.abi != cases[i].abi)
                        fail_msg("%s: abi %d, want %d", cases[i].name, p.abi, cases[i].abi);
                if (abi_probe_to_errno(&p) != cases[i].to_errno)
                        fail_msg("%s: errno %d, want %d", cases[i].name, abi_probe_to_errno(&p), cases[i].to_errno);
                if (!strstr(p.reason, cases[i].reason))
                        fail_msg("%s: reason \"%s\" lacks \"%s\"", cases[i].name, p.reason, cases[i].reason);
                fake_gunyah_teardown();
        }
}

static void expect_call(size_t i, uint32_t request, FakeGunyahKind kind, int result) {
        const FakeGunyahCall *c = fake_gunyah_call(i);

        if (!c)
                fail_msg("call %zu: missing, want %s", i, fake_gunyah_request_name(request));
        if (c->request != request || c->kind != kind || c->result != result)
                fail_msg("call %zu: %s (kind %d) = %d, want %s (kind %d) = %d", i, fake_gunyah_request_name(c->request),
                         c->kind, c->result, fake_gunyah_request_name(request), kind, result);
}

/* The sequence of spec §8 with the harmless arguments it prescribes. */
static void test_probe_sequence_u17(void **state) {
        const char *path = fake_gunyah_setup(FAKE_GUNYAH_U17);
        struct gunyah_create_mem_args gmem;
        struct gunyah_vm_boot_context ctx;
        struct gunyah_userspace_memory_region umr;
        struct gunyah_map_mem_args map;
        AbiProbe p;
        assert_int_equal(abi_probe(path, &p), 0);
        assert_int_equal(fake_gunyah_n_calls(), 7);
        expect_call(0, GH_VENDOR_CREATE_VM, FAKE_GUNYAH_KIND_DEVICE, -ENOTTY);
        expect_call(1, GUNYAH_CREATE_GUEST_MEM, FAKE_GUNYAH_KIND_DEVICE, -EINVAL);
        expect_call(2, GH_ANDROID_TENTATIVE_UAPI, FAKE_GUNYAH_KIND_DEVICE, -ENOTTY);
        assert_int_equal(fake_gunyah_call(3)->request, GUNYAH_CREATE_VM);
        assert_int_equal(fake_gunyah_call(3)->int_arg, 0);
        assert_true(fake_gunyah_call(3)->result >= 0);
        expect_call(4, GUNYAH_VM_SET_BOOT_CONTEXT, FAKE_GUNYAH_KIND_VM, -EINVAL);
        expect_call(5, GH_VM_SET_USER_MEM_REGION, FAKE_GUNYAH_KIND_VM, -ENOTTY);
        expect_call(6, GUNYAH_VM_MAP_MEM, FAKE_GUNYAH_KIND_VM, -EINVAL);

        memcpy(&gmem, fake_gunyah_call(1)->arg, sizeof(gmem));
        assert_int_equal(fake_gunyah_call(1)->arg_size, sizeof(gmem));
        assert_int_equal(gmem.flags, UINT64_C(1) << 63);
        assert_int_equal(gmem.size, 0);
        memcpy(&ctx, fake_gunyah_call(4)->arg, sizeof(ctx));
        assert_int_equal(ctx.reg, 0xffffffffu);
        memcpy(&umr, fake_gunyah_call(5)->arg, sizeof(umr));
        assert_int_equal(umr.memory_size, 0);
        memcpy(&map, fake_gunyah_call(6)->arg, sizeof(map));
        assert_int_equal(map.guest_mem_fd, UINT32_MAX);
        assert_int_equal(map.flags, GUNYAH_MEM_ALLOW_READ);
        /* the probe left nothing bound in its VM */
        assert_int_equal(fake_gunyah_vm_rules(0)->n_bindings, 0);
}

static void test_probe_vendor_stops_early(void **state) {
        const char *path = fake_gunyah_setup(FAKE_GUNYAH_VENDOR);
        AbiProbe p;
        assert_int_equal(abi_probe(path, &p), 0);
        assert_int_equal(p.kind, ABI_KIND_VENDOR);
        /* vendor CREATE_VM, then the 'G' CREATE_VM that must fail; nothing else */
        assert_int_equal(fake_gunyah_n_calls(), 2);
        assert_true(fake_gunyah_call(0)->result >= 0);
        expect_call(1, GUNYAH_CREATE_VM, FAKE_GUNYAH_KIND_DEVICE, -EINVAL);
}

static void test_probe_missing_device_issues_no_ioctl(void **state) {
        const char *path = fake_gunyah_setup(FAKE_GUNYAH_MISSING);
        AbiProbe p;
        assert_int_equal(abi_probe(path, &p), 0);
        assert_int_equal(p.kind, ABI_KIND_NO_DEVICE);
        assert_int_equal(p.open_error, -ENOENT);
        assert_int_equal(fake_gunyah_n_calls(), 0);
        assert_non_null(strstr(p.reason, path));
}

static void test_kernel_backend_refuses_unsupported(void **state) {
        static const struct {
                FakeGunyahMode mode;
                int expected;
                HvAbi abi;
        } modes[] = {
                { FAKE_GUNYAH_U17, 0, HV_ABI_U17 },
                { FAKE_GUNYAH_A14, 0, HV_ABI_A14 },
                { FAKE_GUNYAH_A15, -EOPNOTSUPP, 0 },
                { FAKE_GUNYAH_VENDOR, -EOPNOTSUPP, 0 },
                { FAKE_GUNYAH_MISSING, -ENOENT, 0 },
        };
        for (size_t i = 0; i < N(modes); i++) {
                HvBackend *b = NULL;
                int r;

                r = hv_kernel_ops.open(fake_gunyah_setup(modes[i].mode), &b);
                assert_int_equal(r, modes[i].expected);
                if (r == 0) {
                        assert_non_null(b);
                        assert_int_equal(hv_kernel_ops.abi(b), modes[i].abi);
                        hv_kernel_ops.close(b);
                } else
                        assert_null(b); /* not written on failure */
                fake_gunyah_teardown();
        }
}

static size_t count_open_fds(void) {
        DIR *d = opendir("/proc/self/fd");
        size_t n = 0;

        assert_non_null(d);
        while (readdir(d))
                n++;
        closedir(d);
        return n;
}

/* The probe closes its device fd, its probe VM and any fd a probe ioctl
 * returned: the only new fds are the fake's own references. */
static void test_probe_leaks_no_fd(void **state) {
        static const FakeGunyahMode modes[] = { FAKE_GUNYAH_U17, FAKE_GUNYAH_A14, FAKE_GUNYAH_A15, FAKE_GUNYAH_VENDOR };
        for (size_t i = 0; i < N(modes); i++) {
                const char *path = fake_gunyah_setup(modes[i]);
                size_t fds = count_open_fds(), objs = fake_gunyah_n_objects();
                AbiProbe p;

                assert_int_equal(abi_probe(path, &p), 0);
                assert_true(fake_gunyah_n_objects() > objs); /* a probe VM was made */
                if (count_open_fds() - fds != fake_gunyah_n_objects() - objs)
                        fail_msg("mode %d: %zu new fds, %zu new fake objects", modes[i], count_open_fds() - fds,
                                 fake_gunyah_n_objects() - objs);
                fake_gunyah_teardown();
        }
}

static void test_abi_kind_strings(void **state) {
        for (int k = 0; k < _ABI_KIND_MAX; k++)
                assert_int_equal(abi_kind_from_string(abi_kind_to_string(k)), k);
        assert_string_equal(abi_kind_to_string(ABI_KIND_VENDOR), "vendor-0xB2");
        assert_null(abi_kind_to_string(_ABI_KIND_MAX));
        assert_int_equal(abi_kind_from_string("A16"), _ABI_KIND_INVALID);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_teardown(test_probe_verdicts, teardown),
                cmocka_unit_test_teardown(test_probe_sequence_u17, teardown),
                cmocka_unit_test_teardown(test_probe_vendor_stops_early, teardown),
                cmocka_unit_test_teardown(test_probe_missing_device_issues_no_ioctl, teardown),
                cmocka_unit_test_teardown(test_kernel_backend_refuses_unsupported, teardown),
                cmocka_unit_test_teardown(test_probe_leaks_no_fd, teardown),
                cmocka_unit_test(test_abi_kind_strings),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
