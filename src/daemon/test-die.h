/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * TEST ONLY (hook builds, -Dsandbox-test-hooks=true): gunyahd
 * --test-die-at=VM:STEP kills the daemon with SIGKILL when VM's start
 * reaches STEP, so the fault-injection tests can check what the next
 * daemon makes of a start cut short at each point (issue 15).
 */

#include <stdbool.h>

typedef struct Vm Vm;

/* The steps of a start, in the order a start reaches them; NULL-terminated.
 * Every one before "running" leaves a record that says "starting". */
extern const char *const test_die_steps[];

bool test_die_step_is_known(const char *step);

/* raise(SIGKILL) if the daemon's --test-die-at names vm and step. */
void test_die_at(const Vm *vm, const char *step);
