/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <signal.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "macro.h"
#include "manager.h"
#include "test-die.h"
#include "vm-instance.h"
#include "vm.h"

const char *const test_die_steps[] = {
        "keeper",       /* the keeper spawned, the first record written */
        "guest-memory", /* guest memory exists, nothing loaded yet */
        "devices",      /* the device processes spawned (none without devices) */
        "started",      /* the hypervisor VM started, no worker yet */
        "first-worker", /* vCPU 0's worker configured, the others not yet */
        "workers",      /* every worker configured, the record lists them */
        "ready",        /* every worker READY, nothing deposited with the keeper */
        "deposited",    /* the keeper holds our fds, the record still says starting */
        "running",      /* the record says running */
        NULL,
};

bool test_die_step_is_known(const char *step) {
        for (size_t i = 0; test_die_steps[i]; i++)
                if (streq(test_die_steps[i], step))
                        return true;
        return false;
}

void test_die_at(const Vm *vm, const char *step) {
        const char *want = vm_test_hook_for(vm, vm->manager->test_die_at);

        if (!want || !streq(want, step))
                return;
        log_vm_notice(vm->name, "--test-die-at: dying at step %s", step);
        (void) raise(SIGKILL);
}
