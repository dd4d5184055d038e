/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "fileio.h"
#include "macro.h"
#include "process-util.h"
#include "vm-record.h"

#define UUID "0e4a8c9e-3b1d-4f6a-9c2e-5d7b8a1f2c3d"
#define SPEC "{\"name\":\"vm1\",\"memory\":\"64M\",\"vcpus\":2}"

static char dir[] = "/tmp/test-vm-record-XXXXXX";

static VmRecord *sample(void) {
        VmRecord *r = calloc(1, sizeof(*r));

        assert_non_null(r);
        r->name = strdup("vm1");
        r->backend = strdup("kernel");
        r->spec_json = strdup(SPEC);
        memcpy(r->uuid, UUID, sizeof(r->uuid));
        r->phase = VM_RECORD_RUNNING;
        r->started_realtime_usec = 1764982800123456ULL;
        assert_int_equal(vm_record_add_process(r, VM_RECORD_KEEPER, 0, 100, 5000), 0);
        assert_int_equal(vm_record_add_process(r, VM_RECORD_VCPU, 0, 101, 5001), 0);
        assert_int_equal(vm_record_add_process(r, VM_RECORD_VCPU, 1, 102, 5002), 0);
        assert_int_equal(vm_record_add_process(r, VM_RECORD_DEVICE, 3, 103, UINT64_MAX), 0);
        return r;
}

static void assert_same(const VmRecord *a, const VmRecord *b) {
        assert_string_equal(a->name, b->name);
        assert_string_equal(a->uuid, b->uuid);
        assert_string_equal(a->backend, b->backend);
        assert_int_equal(a->phase, b->phase);
        assert_true(a->started_realtime_usec == b->started_realtime_usec);
        assert_int_equal(a->n_processes, b->n_processes);
        for (size_t i = 0; i < a->n_processes; i++) {
                assert_int_equal(a->processes[i].role, b->processes[i].role);
                assert_int_equal(a->processes[i].index, b->processes[i].index);
                assert_int_equal(a->processes[i].pid, b->processes[i].pid);
                assert_true(a->processes[i].start_time == b->processes[i].start_time);
        }
}

static void test_round_trip(void **state) {
        _cleanup_(vm_record_freep) VmRecord *r = sample(), *back = NULL;
        _cleanup_free_ char *text = NULL;

        assert_int_equal(vm_record_format(r, &text), 0);
        assert_int_equal(vm_record_parse(text, strlen(text), &back), 0);
        assert_int_equal(back->version, VM_RECORD_VERSION);
        assert_same(r, back);
        /* the spec comes back as the same JSON value */
        assert_non_null(strstr(back->spec_json, "\"vcpus\":2"));
        assert_non_null(strstr(back->spec_json, "\"memory\":\"64M\""));
}

static void test_write_read_remove(void **state) {
        _cleanup_(vm_record_freep) VmRecord *r = sample(), *back = NULL;
        char path[128];
        struct stat st;

        snprintf(path, sizeof(path), "%s/" VM_RECORD_FILE, dir);
        assert_int_equal(vm_record_write(dir, r), 0);
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 0777, 0600);
        r->phase = VM_RECORD_STARTING;
        assert_int_equal(vm_record_write(dir, r), 0); /* replaces */
        assert_int_equal(vm_record_read(dir, &back), 0);
        assert_same(r, back);
        assert_int_equal(vm_record_remove(dir), 0);
        assert_int_equal(vm_record_read(dir, &back), -ENOENT);
        assert_int_equal(vm_record_remove(dir), 0); /* already gone is fine */
}

static void test_read_refuses_foreign_files(void **state) {
        _cleanup_(vm_record_freep) VmRecord *r = sample(), *back = NULL;
        char path[128], target[128];

        snprintf(path, sizeof(path), "%s/" VM_RECORD_FILE, dir);
        snprintf(target, sizeof(target), "%s/elsewhere", dir);
        assert_int_equal(vm_record_write(dir, r), 0);
        assert_int_equal(chmod(path, 0620), 0); /* group could have written it */
        assert_int_equal(vm_record_read(dir, &back), -EPERM);
        assert_int_equal(rename(path, target), 0);
        assert_int_equal(symlink(target, path), 0);
        assert_int_equal(vm_record_read(dir, &back), -ELOOP);
        assert_null(back);
        unlink(path);
        unlink(target);
}

/* What version 1 wrote, with a field a later version might add. */
static void test_parse_fixed_text_and_unknown_keys(void **state) {
        static const char text[] =
                "{ \"version\": 1, \"name\": \"web\", \"uuid\": \"" UUID "\", \"phase\": \"starting\","
                "  \"spec\": {\"name\": \"web\"}, \"future\": [1, 2],"
                "  \"processes\": [ { \"role\": \"keeper\", \"index\": 0, \"pid\": 7, \"start_time\": 9, \"x\": 1 } ] }";
        _cleanup_(vm_record_freep) VmRecord *r = NULL;

        assert_int_equal(vm_record_parse(text, strlen(text), &r), 0);
        assert_string_equal(r->name, "web");
        assert_int_equal(r->phase, VM_RECORD_STARTING);
        assert_true(r->started_realtime_usec == 0); /* missing: defaulted */
        assert_null(r->backend);                     /* missing: not said */
        assert_int_equal(r->n_processes, 1);
        assert_int_equal(r->processes[0].role, VM_RECORD_KEEPER);
        assert_int_equal(r->processes[0].pid, 7);
        assert_true(r->processes[0].start_time == 9);
}

static void expect_invalid(const char *text, int error) {
        VmRecord *r = NULL;

        assert_int_equal(vm_record_parse(text, strlen(text), &r), error);
        assert_null(r);
}

#define HEAD "{\"version\":1,\"name\":\"web\",\"uuid\":\"" UUID "\",\"phase\":\"running\",\"spec\":{},"

static void test_parse_refuses(void **state) {
        expect_invalid(HEAD "\"processes\":[]}" "x", -EINVAL);                                 /* trailing bytes */
        expect_invalid("{\"version\":2,\"name\":\"web\",\"uuid\":\"" UUID "\",\"phase\":\"running\","
                       "\"spec\":{},\"processes\":[]}", -EPROTONOSUPPORT); /* newer major */
        expect_invalid("{\"version\":0,\"name\":\"web\",\"uuid\":\"" UUID "\",\"phase\":\"running\","
                       "\"spec\":{},\"processes\":[]}", -EINVAL);
        expect_invalid("{\"name\":\"web\",\"uuid\":\"" UUID "\",\"phase\":\"running\",\"spec\":{},\"processes\":[]}",
                       -EINVAL);                                                             /* no version */
        expect_invalid(HEAD "\"processes\":{}}", -EINVAL);
        expect_invalid(HEAD "\"processes\":[1]}", -EINVAL);
        expect_invalid(HEAD "\"processes\":[{\"role\":\"other\",\"index\":0,\"pid\":1,\"start_time\":1}]}", -EINVAL);
        expect_invalid(HEAD "\"processes\":[{\"role\":\"vcpu\",\"index\":0,\"pid\":0,\"start_time\":1}]}", -EINVAL);
        expect_invalid(HEAD "\"processes\":[{\"role\":\"vcpu\",\"index\":0,\"pid\":-5,\"start_time\":1}]}", -EINVAL);
        expect_invalid(HEAD "\"processes\":[{\"role\":\"vcpu\",\"index\":0,\"pid\":2147483648,\"start_time\":1}]}",
                       -EINVAL);
        expect_invalid(HEAD "\"processes\":[{\"role\":\"vcpu\",\"index\":4294967296,\"pid\":1,\"start_time\":1}]}",
                       -EINVAL);
        expect_invalid(HEAD "\"processes\":[{\"role\":\"vcpu\",\"index\":0,\"pid\":\"1\",\"start_time\":1}]}", -EINVAL);
        expect_invalid(HEAD "\"processes\":[{\"role\":\"vcpu\",\"index\":0,\"pid\":1}]}", -EINVAL);
        expect_invalid(HEAD "\"started_realtime_usec\":-1,\"processes\":[]}", -EINVAL);
        expect_invalid(HEAD "\"backend\":\"\",\"processes\":[]}", -EINVAL);
        expect_invalid(HEAD "\"backend\":7,\"processes\":[]}", -EINVAL);
        expect_invalid("{\"version\":1,\"name\":\"../etc\",\"uuid\":\"" UUID "\",\"phase\":\"running\","
                       "\"spec\":{},\"processes\":[]}", -EINVAL);
        expect_invalid("{\"version\":1,\"name\":\"web\",\"uuid\":\"nope\",\"phase\":\"running\","
                       "\"spec\":{},\"processes\":[]}", -EINVAL);
        expect_invalid("{\"version\":1,\"name\":\"web\",\"uuid\":\"" UUID "\",\"phase\":\"stopping\","
                       "\"spec\":{},\"processes\":[]}", -EINVAL);
        expect_invalid("{\"version\":1,\"name\":\"web\",\"uuid\":\"" UUID "\",\"phase\":\"running\","
                       "\"spec\":\"{}\",\"processes\":[]}", -EINVAL);
        expect_invalid(HEAD "\"processes\":[],\"processes\":[]}", -EINVAL); /* duplicate key */
        expect_invalid("[]", -EINVAL);
        expect_invalid("", -EINVAL);
}

static void test_proc_stat_start_time(void **state) {
        uint64_t t = 0, mine = 0;

        /* a command with spaces and a ')' of its own */
        assert_int_equal(proc_stat_start_time("42 (a) b) S 1 42 42 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 "
                                              "123456 1000 10 18446744073709551615\n", &t), 0);
        assert_true(t == 123456);
        assert_int_equal(proc_stat_start_time("42 (x) S 1 2 3", &t), -EINVAL); /* too short */
        assert_int_equal(proc_stat_start_time("42 x S 1", &t), -EINVAL);
        assert_int_equal(proc_stat_start_time("1 (x) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 -5 0", &t), -EINVAL);
        assert_int_equal(process_start_time(getpid(), &mine), 0);
        assert_true(mine > 0);
        assert_int_equal(process_start_time(getppid(), &t), 0);
        assert_true(t <= mine); /* the parent started first */
        assert_int_equal(process_start_time(INT32_MAX, &t), -ENOENT);
}

static int setup(void **state) {
        return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state) {
        return rmdir(dir);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_round_trip),
                cmocka_unit_test(test_write_read_remove),
                cmocka_unit_test(test_read_refuses_foreign_files),
                cmocka_unit_test(test_parse_fixed_text_and_unknown_keys),
                cmocka_unit_test(test_parse_refuses),
                cmocka_unit_test(test_proc_stat_start_time),
        };

        return cmocka_run_group_tests(tests, setup, teardown);
}
