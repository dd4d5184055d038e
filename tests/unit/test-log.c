/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * log.c: per-VM lines ("VM NAME: ..." on stderr, GUNYAH_VM=NAME to the
 * journal sender) and the check that stderr is systemd's journal stream.
 */
#include <errno.h>
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

#include "log.h"
#include "macro.h"

/* What the fake journal sender saw last. */
static char sent_vm[64], sent_message[256];
static int sent_level = -1, sender_result;

static int fake_send(int level, const char *vm, const char *file, int line, const char *func,
                     const char *message) {
        sent_level = level;
        snprintf(sent_vm, sizeof(sent_vm), "%s", vm ?: "(none)");
        snprintf(sent_message, sizeof(sent_message), "%s", message);
        return sender_result;
}

/* Runs the logging with stderr sent to a file; returns what was written. */
static char *capture_stderr(void (*emit)(void)) {
        static char out[512];
        FILE *f = tmpfile();
        int saved = dup(STDERR_FILENO);
        size_t n;

        assert_non_null(f);
        fflush(stderr);
        assert_int_equal(dup2(fileno(f), STDERR_FILENO), STDERR_FILENO);
        emit();
        fflush(stderr);
        assert_int_equal(dup2(saved, STDERR_FILENO), STDERR_FILENO);
        close(saved);
        rewind(f);
        n = fread(out, 1, sizeof(out) - 1, f);
        out[n] = '\0';
        fclose(f);
        return out;
}

static void emit_vm_lines(void) {
        log_vm_info("hello", "state %s", "running");
        assert_int_equal(log_vm_error_errno("hello", ENOENT, "open failed: %m"), -ENOENT);
        log_info("not about a VM");
}

static void test_vm_lines_on_stderr_name_the_vm(void **state) {
        log_set_journal_send(NULL);
        assert_string_equal(capture_stderr(emit_vm_lines),
                            "VM hello: state running\nVM hello: open failed: No such file or directory\n"
                            "not about a VM\n");
}

static void test_journal_sender_gets_the_vm_field(void **state) {
        log_set_journal_send(fake_send);
        sender_result = 0;
        assert_string_equal(capture_stderr(emit_vm_lines), ""); /* all to the journal */
        assert_int_equal(sent_level, LOG_INFO);
        assert_string_equal(sent_vm, "(none)");
        assert_string_equal(sent_message, "not about a VM");
        log_vm_warning("other", "stopping");
        assert_int_equal(sent_level, LOG_WARNING);
        assert_string_equal(sent_vm, "other");
        assert_string_equal(sent_message, "VM other: stopping");
        log_set_journal_send(NULL);
}

static void emit_one(void) {
        log_vm_info("x", "fallback");
}

static void test_journal_failure_falls_back_to_stderr(void **state) {
        log_set_journal_send(fake_send);
        sender_result = -ECONNREFUSED;
        assert_string_equal(capture_stderr(emit_one), "VM x: fallback\n");
        log_set_journal_send(NULL);
}

static void test_stderr_is_journal_only_when_dev_and_inode_match(void **state) {
        struct stat st;
        char v[64];

        assert_int_equal(fstat(STDERR_FILENO, &st), 0);
        unsetenv("JOURNAL_STREAM");
        assert_false(log_stderr_is_journal());
        snprintf(v, sizeof(v), "%llu:%llu", (unsigned long long) st.st_dev, (unsigned long long) st.st_ino);
        setenv("JOURNAL_STREAM", v, 1);
        assert_true(log_stderr_is_journal());
        /* inherited by a process whose stderr was redirected elsewhere */
        snprintf(v, sizeof(v), "%llu:%llu", (unsigned long long) st.st_dev, (unsigned long long) st.st_ino + 1);
        setenv("JOURNAL_STREAM", v, 1);
        assert_false(log_stderr_is_journal());
        setenv("JOURNAL_STREAM", "garbage", 1);
        assert_false(log_stderr_is_journal());
        unsetenv("JOURNAL_STREAM");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_vm_lines_on_stderr_name_the_vm),
                cmocka_unit_test(test_journal_sender_gets_the_vm_field),
                cmocka_unit_test(test_journal_failure_falls_back_to_stderr),
                cmocka_unit_test(test_stderr_is_journal_only_when_dev_and_inode_match),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
