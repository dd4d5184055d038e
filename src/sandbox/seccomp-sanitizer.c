/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Sanitizer builds only (meson -Db_sanitize=...): what the ASan/UBSan
 * runtimes themselves call inside a sandboxed worker. Empty in a normal
 * build, so production workers never get these. Reviewed like the others.
 */
#include "config.h"
#include "macro.h"
#include "seccomp-util.h"

#if GUNYAH_SANITIZER_BUILD
static const SeccompRule rules[] = {
        SECCOMP_ALLOW(getpid, "the sanitizer runtimes check which process they run in"),
        SECCOMP_ALLOW(gettid, "the sanitizer allocator tags thread-local caches"),
        SECCOMP_ALLOW(madvise, "ASan's allocator returns freed memory to the kernel"),
        SECCOMP_ALLOW(sigaltstack, "the sanitizers' fatal-signal handlers run on their own stack"),
};

const SeccompTable seccomp_table_sanitizer = {
        .backend = NULL,
        .rules = rules,
        .n_rules = ELEMENTSOF(rules),
};

/* LeakSanitizer's exit-time scan needs prctl, clone and ptrace, which the
 * sandbox rightly forbids: it would kill the worker with SIGSYS on its way
 * out. The daemon, tools and unit tests keep leak checking. */
const char *__lsan_default_options(void);
const char *__lsan_default_options(void) {
        return "detect_leaks=0";
}
#else
const SeccompTable seccomp_table_sanitizer = {
        .backend = NULL,
        .rules = NULL,
        .n_rules = 0,
};
#endif
