/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Proves that all of /memory is backed and private to the guest: writes a
 * pattern to the first and last word of every page outside the image (code,
 * data, stacks) and the DTB, then reads it all back.
 *   pattern(page) = page ^ 0xa5a5a5a5a5a5a5a5 at offset 0, its complement at
 *   offset 4088; sum = (sum of pattern(page) over the touched pages) mod 2^64,
 * so a test that knows the layout can compute the expected line. */

#include "lib/guest.h"

#define PATTERN_XOR 0xa5a5a5a5a5a5a5a5ULL
#define LAST_WORD   (GUEST_PAGE_SIZE - 8)

static uint64_t pattern(uint64_t page) {
        return page ^ PATTERN_XOR;
}

static uint64_t page_down(uint64_t a) {
        return a & ~(uint64_t) (GUEST_PAGE_SIZE - 1);
}

static uint64_t page_up(uint64_t a) {
        return page_down(a + GUEST_PAGE_SIZE - 1);
}

struct range {
        uint64_t start, end;
};

static bool excluded(uint64_t page, const struct range *skip, unsigned n) {
        for (unsigned i = 0; i < n; i++)
                if (page >= skip[i].start && page < skip[i].end)
                        return true;
        return false;
}

static void fail(uint64_t addr) {
        uart_puts("memtouch: FAIL at ");
        uart_put_hex(addr);
        uart_putc('\n');
        psci_system_off();
}

void guest_main(void) {
        uint64_t base, size, pages = 0, sum = 0;
        struct range skip[2];

        if (!guest_dtb || fdt_memory(guest_dtb, &base, &size) < 0) {
                uart_puts("memtouch: FAIL no /memory node\n");
                psci_system_off();
        }
        uart_puts("memtouch: ram base=");
        uart_put_hex(base);
        uart_puts(" size=");
        uart_put_hex(size);
        uart_putc('\n');

        skip[0] = (struct range) { page_down((uintptr_t) __image_start), page_up((uintptr_t) __image_end) };
        skip[1] = (struct range) { page_down((uintptr_t) guest_dtb),
                                   page_up((uintptr_t) guest_dtb + fdt_totalsize(guest_dtb)) };

        for (uint64_t p = page_up(base); p + GUEST_PAGE_SIZE <= base + size; p += GUEST_PAGE_SIZE) {
                if (excluded(p, skip, 2))
                        continue;
                *(volatile uint64_t *) p = pattern(p);
                *(volatile uint64_t *) (p + LAST_WORD) = ~pattern(p);
        }
        for (uint64_t p = page_up(base); p + GUEST_PAGE_SIZE <= base + size; p += GUEST_PAGE_SIZE) {
                if (excluded(p, skip, 2))
                        continue;
                if (*(volatile uint64_t *) p != pattern(p))
                        fail(p);
                if (*(volatile uint64_t *) (p + LAST_WORD) != ~pattern(p))
                        fail(p + LAST_WORD);
                sum += pattern(p);
                pages++;
        }
        uart_puts("memtouch: ok pages=");
        uart_put_dec((int64_t) pages);
        uart_puts(" sum=");
        uart_put_hex(sum);
        uart_putc('\n');
        psci_system_off();
}
