/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <inttypes.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include "devices.h"
#include "log.h"
#include "macro.h"
#include "pl011.h"
#include "pl061.h"
#include "time-util.h"
#include "virtio-transports.h"
#include "worker-protocol.h"

#define DEVICE_PAGE_MAGIC UINT32_C(0x47594456) /* "VDYG" */
#define CONSOLE_OUT_BUFFER 256u
/* Unhandled MMIO: the first few are logged, then at most one line per second. */
#define UNHANDLED_LOG_BURST 8u

/* The page every worker of a VM maps (WORKER_FD_DEVICES). The daemon
 * creates it zeroed and never looks inside; the first worker sets it up. */
typedef struct DevicePage {
        uint32_t magic;
        uint32_t init_state; /* 0 new, 1 being initialised, 2 ready */
        uint32_t input_lock; /* serialises console input: recv + push */
        uint32_t gpio_lock;
        uint32_t irq_lock;   /* reading a device's state and driving its line are one step */
        uint32_t tx_lock;    /* the console's output buffer, and sending it */
        /* Console output not yet sent. One buffer for every worker: a guest
         * that moves between vCPUs in mid-line must not have the line's
         * pieces sent by two workers in the wrong order. */
        uint32_t n_tx;
        uint32_t padding;
        uint8_t tx[CONSOLE_OUT_BUFFER];
        Pl011 uart;
        Pl061 gpio;
} DevicePage;
_Static_assert(sizeof(DevicePage) <= WORKER_DEVICES_SIZE, "device page overflows its memfd");

struct Devices {
        DevicePage *page;
        int console_fd;
        uint32_t vcpu;
        uint64_t pl011_base; /* UINT64_MAX: none */
        uint64_t pl061_base;
        uint32_t pl011_spi; /* UINT32_MAX: no line */
        uint32_t pl061_spi;
        DevicesIrqLineFn irq_line; /* NULL: lines are not driven */
        void *irq_userdata;
        VirtioTransports virtio;
        uint64_t unhandled;
        uint64_t unhandled_logged_usec;
        unsigned unhandled_logged;
};

static void spin_lock(uint32_t *l) {
        while (__atomic_exchange_n(l, 1, __ATOMIC_ACQUIRE) != 0)
                sched_yield();
}

static void spin_unlock(uint32_t *l) {
        __atomic_store_n(l, 0, __ATOMIC_RELEASE);
}

static void page_init_once(DevicePage *p) {
        uint32_t expected = 0;

        if (__atomic_compare_exchange_n(&p->init_state, &expected, 1, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
                p->magic = DEVICE_PAGE_MAGIC;
                pl011_reset(&p->uart);
                pl061_reset(&p->gpio);
                __atomic_store_n(&p->init_state, 2, __ATOMIC_RELEASE);
                return;
        }
        while (__atomic_load_n(&p->init_state, __ATOMIC_ACQUIRE) != 2)
                sched_yield();
}

int devices_open(int page_fd, int console_fd, uint32_t vcpu, const DevicesConfig *config, Devices **ret) {
        Devices *d;
        void *p;
        int r;

        p = mmap(NULL, WORKER_DEVICES_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, page_fd, 0);
        if (p == MAP_FAILED)
                return negative_errno();
        d = calloc(1, sizeof(*d));
        if (!d) {
                munmap(p, WORKER_DEVICES_SIZE);
                return -ENOMEM;
        }
        d->page = p;
        d->console_fd = console_fd;
        d->vcpu = vcpu;
        d->pl011_base = config->pl011_base;
        d->pl061_base = config->pl061_base;
        d->pl011_spi = config->pl011_spi;
        d->pl061_spi = config->pl061_spi;
        page_init_once(d->page);
        r = virtio_transports_open(&d->virtio, config->virtio_bases, config->n_virtio, config->virtio_regs_fd,
                                   config->virtio_kick_fd);
        if (r < 0) {
                devices_close(d);
                return r;
        }
        *ret = d;
        return 0;
}

/* Sent under the lock, so that what one worker buffered leaves before what
 * another appends after it. */
static void console_send_locked(Devices *d) {
        size_t done = 0, n = MIN((size_t) d->page->n_tx, sizeof(d->page->tx));

        while (done < n) {
                ssize_t k = send(d->console_fd, d->page->tx + done, n - done, MSG_NOSIGNAL);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        /* The daemon is gone: output has nowhere to go. */
                        break;
                }
                done += (size_t) k;
        }
        d->page->n_tx = 0;
}

static void console_flush(Devices *d) {
        spin_lock(&d->page->tx_lock);
        console_send_locked(d);
        spin_unlock(&d->page->tx_lock);
}

void devices_close(Devices *d) {
        if (!d)
                return;
        console_flush(d);
        virtio_transports_close(&d->virtio);
        munmap(d->page, WORKER_DEVICES_SIZE);
        free(d);
}

static void on_uart_output(uint8_t byte, void *userdata) {
        Devices *d = userdata;
        DevicePage *p = d->page;

        spin_lock(&p->tx_lock);
        if (p->n_tx >= sizeof(p->tx)) /* another worker died mid-send */
                console_send_locked(d);
        p->tx[p->n_tx++] = byte;
        if (byte == '\n' || p->n_tx == sizeof(p->tx))
                console_send_locked(d);
        spin_unlock(&p->tx_lock);
}

/* Drives both lines from the device state, under one lock so that two
 * workers cannot leave a stale level behind. */
static void update_irqs(Devices *d) {
        if (!d->irq_line)
                return;
        spin_lock(&d->page->irq_lock);
        if (d->pl011_base != UINT64_MAX && d->pl011_spi != UINT32_MAX)
                d->irq_line(d->pl011_spi, pl011_irq_pending(&d->page->uart), d->irq_userdata);
        if (d->pl061_base != UINT64_MAX && d->pl061_spi != UINT32_MAX) {
                bool level;

                spin_lock(&d->page->gpio_lock);
                level = pl061_irq_pending(&d->page->gpio);
                spin_unlock(&d->page->gpio_lock);
                d->irq_line(d->pl061_spi, level, d->irq_userdata);
        }
        spin_unlock(&d->page->irq_lock);
}

/* Moves pending console input into the RX FIFO, never more than fits. */
static void console_pull_input(Devices *d) {
        uint8_t buf[PL011_FIFO_DEPTH];

        spin_lock(&d->page->input_lock);
        size_t room = pl011_rx_room(&d->page->uart);
        if (room > 0) {
                ssize_t n = recv(d->console_fd, buf, MIN(room, sizeof(buf)), MSG_DONTWAIT);
                if (n > 0)
                        (void) pl011_rx_push(&d->page->uart, buf, (size_t) n);
        }
        spin_unlock(&d->page->input_lock);
}

static bool in_device(uint64_t addr, uint64_t base, uint64_t size) {
        return base != UINT64_MAX && addr >= base && addr - base < size;
}

static uint64_t data_to_u64(const struct gunyah_vcpu_run *run) {
        uint64_t v = 0;

        for (unsigned i = 0; i < run->mmio.len && i < 8; i++)
                v |= (uint64_t) run->mmio.data[i] << (8 * i);
        return v;
}

static void u64_to_data(struct gunyah_vcpu_run *run, uint64_t v) {
        memset(run->mmio.data, 0, sizeof(run->mmio.data));
        for (unsigned i = 0; i < run->mmio.len && i < 8; i++)
                run->mmio.data[i] = (uint8_t) (v >> (8 * i));
}

static void unhandled(Devices *d, const struct gunyah_vcpu_run *run) {
        uint64_t now = now_monotonic_usec();

        d->unhandled++;
        if (d->unhandled_logged < UNHANDLED_LOG_BURST || now - d->unhandled_logged_usec >= USEC_PER_SEC) {
                d->unhandled_logged++;
                d->unhandled_logged_usec = now;
                log_warning("unhandled MMIO %s of %u bytes at 0x%" PRIx64 " (%s; %" PRIu64 " so far)",
                            run->mmio.is_write ? "write" : "read", run->mmio.len, run->mmio.phys_addr,
                            run->mmio.is_write ? "ignored" : "reads as zero", d->unhandled);
        }
}

void devices_handle_mmio(Devices *d, struct gunyah_vcpu_run *run) {
        uint64_t addr = run->mmio.phys_addr, value = 0;
        int r = -ENXIO;

        if (in_device(addr, d->pl011_base, PL011_MMIO_SIZE)) {
                uint64_t off = addr - d->pl011_base;
                if (run->mmio.is_write) {
                        r = pl011_mmio_write(&d->page->uart, off, run->mmio.len, data_to_u64(run), on_uart_output, d);
                        /* A driver that has written its last byte turns to
                         * another register (Linux: IMSC, the TX interrupt
                         * off) and may then wait for input: a raw console's
                         * echo must not stay here until the next line. */
                        if (off != PL011_DR)
                                console_flush(d);
                } else {
                        /* A guest reading the UART may wait for input or output. */
                        console_flush(d);
                        console_pull_input(d);
                        r = pl011_mmio_read(&d->page->uart, off, run->mmio.len, &value);
                }
        } else if (in_device(addr, d->pl061_base, PL061_MMIO_SIZE)) {
                uint64_t off = addr - d->pl061_base;
                bool ok;
                spin_lock(&d->page->gpio_lock);
                if (run->mmio.is_write)
                        ok = pl061_write(&d->page->gpio, off, run->mmio.len, data_to_u64(run));
                else
                        ok = pl061_read(&d->page->gpio, off, run->mmio.len, &value);
                spin_unlock(&d->page->gpio_lock);
                r = ok ? 0 : -ENXIO;
        } else {
                if (run->mmio.is_write)
                        value = data_to_u64(run);
                r = virtio_transports_access(&d->virtio, addr, run->mmio.len, run->mmio.is_write, &value);
                if (r >= 0 && !run->mmio.is_write)
                        u64_to_data(run, value);
                if (r >= 0)
                        return; /* virtio lines are the device process's */
        }

        if (r < 0) {
                unhandled(d, run);
                value = 0;
        } else
                update_irqs(d);
        if (!run->mmio.is_write)
                u64_to_data(run, value);
}

void devices_press_power_button(Devices *d) {
        if (d->pl061_base == UINT64_MAX)
                return;
        spin_lock(&d->page->gpio_lock);
        pl061_set_input(&d->page->gpio, PL061_POWER_BUTTON_LINE, true);
        spin_unlock(&d->page->gpio_lock);
        update_irqs(d);
}

uint64_t devices_unhandled_count(const Devices *d) {
        return d ? d->unhandled : 0;
}

void devices_flush(Devices *d) {
        if (d)
                console_flush(d);
}

void devices_set_irq_line(Devices *d, DevicesIrqLineFn fn, void *userdata) {
        d->irq_line = fn;
        d->irq_userdata = userdata;
        update_irqs(d);
}

int devices_console_ready(Devices *d) {
        console_pull_input(d);
        update_irqs(d);
        /* Full: the rest waits until the guest reads (which pulls it). */
        return pl011_rx_room(&d->page->uart) == 0 ? 1 : 0;
}
