/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdbool.h>
#include <stdlib.h>

#include "sim-switch.h"

/* Functions that return twice: the callers must not rely on what they know
 * of the body (GCC's -fipa-ra would keep values in call-clobbered registers
 * the body does not touch). */
#if defined(__has_attribute)
#  if __has_attribute(noipa)
#    define SIM_SWITCH_OPAQUE __attribute__((noipa, noinline))
#  endif
#endif
#ifndef SIM_SWITCH_OPAQUE
#  define SIM_SWITCH_OPAQUE __attribute__((noinline))
#endif

SIM_SWITCH_OPAQUE void sim_switch(SimSwitch *from, SimSwitch *to) {
        SIM_SWITCH(from, to);
}

SIM_SWITCH_OPAQUE void sim_switch_call(SimSwitch *from, void (*start)(void *userdata), void *userdata) {
#ifdef SIM_SWITCH_LIBC
        if (!_setjmp(from->jb)) {
                start(userdata);
                abort(); /* start must not return */
        }
#else
        /* In memory: every register is garbage when we are resumed. */
        volatile bool resumed = false;
        void *from_ = from;

        /* SIM_SWITCH's save half: resuming lands on 1, after it. */
        __asm__ volatile("leaq 1f(%%rip), %%rax\n\t"
                         "movq %%rbp, 0(%0)\n\t"
                         "movq %%rax, 8(%0)\n\t"
                         "movq %%rsp, 16(%0)\n"
                         SIM_SWITCH_LANDING
                         : "+D"(from_)
                         :
                         : "rsi", SIM_SWITCH_CLOBBERS);
        if (resumed)
                return;
        resumed = true;
        start(userdata);
        abort(); /* start must not return */
#endif
}
