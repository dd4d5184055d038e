/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/*
 * Switching between vcpu_run's stack and the emulation context's (design
 * §3). An MMIO exit is two switches. What a switch costs is mostly the
 * returns that follow it: the CPU predicts them from its return-stack buffer,
 * which holds the other stack's frames. So a switch is expanded inline in
 * the function that is to resume (every frame between it and the code that
 * runs next is another mispredicted return), and on x86-64 it jumps instead
 * of calling: a call would push a return address nobody pops, and every
 * return the other side makes would then be predicted one frame off, all the
 * way up unicorn's MMIO dispatch. With a jump, one return mispredicts per
 * switch.
 *
 * The x86-64 switch saves the resume address, the stack and frame pointers,
 * and tells the compiler every other register is clobbered, so it saves
 * only what is live. glibc's _setjmp/_longjmp, the portable version, save
 * every callee-saved register, mangle pointers and walk the thread's
 * cleanup handlers at each jump; ASan must see stack switches through the
 * functions it intercepts, so a sanitized build uses them too.
 */

#include <setjmp.h>

#if defined(__SANITIZE_ADDRESS__)
#  define SIM_SWITCH_LIBC 1
#elif defined(__has_feature)
#  if __has_feature(address_sanitizer)
#    define SIM_SWITCH_LIBC 1
#  endif
#endif
#if !(defined(__x86_64__) && defined(__LP64__)) && !defined(SIM_SWITCH_LIBC)
#  define SIM_SWITCH_LIBC 1
#endif

typedef struct SimSwitch {
#ifdef SIM_SWITCH_LIBC
        jmp_buf jb;
#else
        void *rbp, *resume, *rsp;
#endif
} SimSwitch;

#ifdef SIM_SWITCH_LIBC
#  define SIM_SWITCH(from, to)                          \
        do {                                            \
                if (!_setjmp((from)->jb))               \
                        _longjmp((to)->jb, 1);          \
        } while (0)
#else
/* from and to are in-out operands: on resume they hold whatever the other
 * side left there. The red zone below the saved stack pointer stays intact:
 * nothing runs on this stack while it is switched away. The resume address
 * is reached by an indirect jump: a landing pad where indirect-branch
 * tracking may be enforced. */
#  if defined(__CET__) && (__CET__ & 1)
#    define SIM_SWITCH_LANDING "1: endbr64"
#  else
#    define SIM_SWITCH_LANDING "1:"
#  endif
#  define SIM_SWITCH_CLOBBERS                                                           \
        "rax", "rbx", "rcx", "rdx", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15",  \
        "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9",   \
        "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "memory", "cc"
#  define SIM_SWITCH(from, to)                                                  \
        do {                                                                    \
                void *from_ = (from), *to_ = (to);                              \
                __asm__ volatile("leaq 1f(%%rip), %%rax\n\t"                    \
                                 "movq %%rbp, 0(%0)\n\t"                        \
                                 "movq %%rax, 8(%0)\n\t"                        \
                                 "movq %%rsp, 16(%0)\n\t"                       \
                                 "movq 0(%1), %%rbp\n\t"                        \
                                 "movq 16(%1), %%rsp\n\t"                       \
                                 "jmp *8(%1)\n"                                 \
                                 SIM_SWITCH_LANDING                             \
                                 : "+D"(from_), "+S"(to_)                       \
                                 :                                              \
                                 : SIM_SWITCH_CLOBBERS);                        \
        } while (0)
#endif

/* Saves the running context in from and resumes to; returns when something
 * switches back to from. SIM_SWITCH out of line, for the cold paths. */
void sim_switch(SimSwitch *from, SimSwitch *to);

/* Saves the running context in from and calls start, which must not return:
 * it ends by switching (or swapcontext-ing into code that switches) to
 * from, which makes sim_switch_call return. */
void sim_switch_call(SimSwitch *from, void (*start)(void *userdata), void *userdata);
