/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* The runtime every test guest links: boot (crt0.S, boot.c), PL011 console
 * (uart.c), PSCI over HVC (psci.c), a read-only devicetree walker (fdt.c)
 * and the few string helpers a freestanding compiler may call (string.c). */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GUEST_MAX_CPUS 8
#define GUEST_PAGE_SIZE 4096
#define GUEST_DEFAULT_UART 0x09000000UL
/* QEMU's virt machine places the DTB at its RAM base for ELF images and
 * leaves x0 = 0; Gunyah always passes x0. */
#define GUEST_QEMU_DTB 0x40000000UL

#define __noreturn __attribute__((noreturn))

/* Provided by each guest. */
void guest_main(void);
/* Optional (weak default powers the vCPU off): entered by CPU_ON'd vCPUs. */
void guest_secondary_main(uint64_t context);

/* boot.c */
extern const void *guest_dtb;        /* NULL when none was found */
extern uint64_t guest_boot_x0;
uint64_t guest_mpidr(void);          /* affinity fields only (Aff3..Aff0) */
extern char __image_start[], __image_end[];
extern char secondary_entry[];
void guest_park(void) __noreturn;

/* uart.c */
void uart_set_base(uintptr_t base);
void uart_putc(char c);
void uart_write_raw(char c);         /* DR store without polling FR */
void uart_puts(const char *s);
void uart_put_hex(uint64_t v);       /* "0x1f" */
void uart_put_dec(int64_t v);
bool uart_rx_ready(void);
char uart_getc(void);                /* blocks, polling FR.RXFE */

/* psci.c */
#define PSCI_VERSION        0x84000000U
#define PSCI_CPU_OFF        0x84000002U
#define PSCI_CPU_ON         0xC4000003U
#define PSCI_AFFINITY_INFO  0xC4000004U
#define PSCI_SYSTEM_OFF     0x84000008U
#define PSCI_SYSTEM_RESET   0x84000009U
#define PSCI_FEATURES       0x8400000AU
#define PSCI_SYSTEM_RESET2  0xC4000012U

#define PSCI_SUCCESS             0
#define PSCI_NOT_SUPPORTED      -1
#define PSCI_INVALID_PARAMETERS -2
#define PSCI_DENIED             -3
#define PSCI_ALREADY_ON         -4

int64_t psci_call(uint32_t fn, uint64_t a1, uint64_t a2, uint64_t a3);
int64_t psci_cpu_on(uint64_t mpidr, uint64_t context);   /* enters secondary_entry */
void psci_system_off(void) __noreturn;

/* fdt.c — all values returned in CPU byte order; paths are absolute. */
bool fdt_valid(const void *fdt);
uint32_t fdt_totalsize(const void *fdt);
const void *fdt_getprop(const void *fdt, const char *path, const char *name, uint32_t *ret_len);
uint64_t fdt_read_cells(const void *p, uint32_t cells);
uint32_t fdt_cells(const void *fdt, const char *path, const char *name, uint32_t dflt);
/* Fills up to max MPIDRs of /cpus/cpu@* nodes, sorted; returns the count. */
unsigned fdt_cpus(const void *fdt, uint64_t *mpidrs, unsigned max);
int fdt_memory(const void *fdt, uint64_t *ret_base, uint64_t *ret_size);
int fdt_uart(const void *fdt, uint64_t *ret_base);
/* reg base of the first node with this compatible; -1 if none */
int fdt_compatible_reg(const void *fdt, const char *compatible, uint64_t *ret_base);
/* reg bases of up to max nodes with this compatible, in node order; the count */
unsigned fdt_compatible_regs(const void *fdt, const char *compatible, uint64_t *bases, unsigned max);
/* Value of "key=N" (decimal or 0x hex) in /chosen/bootargs, else dflt. */
uint64_t fdt_bootarg(const void *fdt, const char *key, uint64_t dflt);
/* Whether /chosen/bootargs has the word "key=want". */
bool fdt_bootarg_is(const void *fdt, const char *key, const char *want);

/* string.c */
void *memset(void *s, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);

/* Atomics for shared words. Plain load/store exclusive loops: LSE is not
 * guaranteed, and the MMU is off so these target Device memory, which
 * QEMU and the simulator handle (see README.md). */
/* Returns the incremented value. */
static inline uint64_t atomic_inc(volatile uint64_t *p) {
        uint64_t v;
        uint32_t fail;
        __asm__ volatile("1: ldxr %0, [%2]\n"
                         "   add %0, %0, #1\n"
                         "   stxr %w1, %0, [%2]\n"
                         "   cbnz %w1, 1b\n"
                         : "=&r"(v), "=&r"(fail)
                         : "r"(p)
                         : "memory");
        return v;
}

static inline uint64_t load_acquire(volatile uint64_t *p) {
        uint64_t v;
        __asm__ volatile("ldar %0, [%1]" : "=r"(v) : "r"(p) : "memory");
        return v;
}

static inline void store_release(volatile uint64_t *p, uint64_t v) {
        __asm__ volatile("stlr %0, [%1]" : : "r"(v), "r"(p) : "memory");
}
