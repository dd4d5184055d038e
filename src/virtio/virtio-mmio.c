/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "macro.h"
#include "time-util.h"
#include "virtio-mmio.h"

#define QUEUE_NUM_LIMIT 32768u

/* Takes the page's lock; a lock taken over from a dead or stopped holder
 * leaves state that may be torn, so the device must be reset. */
static uint32_t page_lock(VirtioMmioShared *s, bool *ret_broken) {
        bool broken;
        uint32_t ticket = shared_lock_acquire(&s->lock, VIRTIO_MMIO_LOCK_LEASE_NS, &broken);

        if (broken) {
                s->lock_breaks++;
                s->status |= VIRTIO_STATUS_DEVICE_NEEDS_RESET;
                s->interrupt_status |= VIRTIO_MMIO_INT_CONFIG;
                s->events |= VIRTIO_MMIO_EVENT_LOCK_BROKEN;
        }
        if (ret_broken)
                *ret_broken = broken;
        return ticket;
}

static void page_unlock(VirtioMmioShared *s, uint32_t ticket) {
        (void) shared_lock_release(&s->lock, ticket);
}

static void guest_error(VirtioMmioShared *s, uint64_t offset) {
        s->guest_errors++;
        s->last_guest_error_offset = (uint32_t) offset;
}

static bool is_power_of_two(uint32_t x) {
        return x != 0 && (x & (x - 1)) == 0;
}

static unsigned n_queues(const VirtioMmioShared *s) {
        return MIN(s->n_queues, VIRTIO_MMIO_QUEUES_MAX);
}

/* The queue QueueSel names, NULL when it names none. */
static VirtioMmioQueue *selected_queue(VirtioMmioShared *s) {
        return s->queue_sel < n_queues(s) ? &s->queues[s->queue_sel] : NULL;
}

static bool features_acceptable(const VirtioMmioShared *s) {
        return (s->driver_features & ~s->device_features) == 0 &&
                (s->driver_features & (UINT64_C(1) << VIRTIO_F_VERSION_1));
}

static void reset_locked(VirtioMmioShared *s) {
        s->status = 0;
        s->driver_features = 0;
        s->device_features_sel = 0;
        s->driver_features_sel = 0;
        s->queue_sel = 0;
        s->interrupt_status = 0;
        for (unsigned i = 0; i < VIRTIO_MMIO_QUEUES_MAX; i++)
                s->queues[i] = (VirtioMmioQueue) { .num = s->queue_num_max };
        s->queues_notified = 0;
        s->events |= VIRTIO_MMIO_EVENT_RESET;
        __atomic_add_fetch(&s->reset_requested, 1, __ATOMIC_RELEASE);
}

static uint32_t read_register_locked(VirtioMmioShared *s, uint64_t offset) {
        const VirtioMmioQueue *q = selected_queue(s);

        switch (offset) {
        case VIRTIO_MMIO_MAGIC_VALUE:
                return VIRTIO_MMIO_MAGIC;
        case VIRTIO_MMIO_VERSION_REG:
                return VIRTIO_MMIO_VERSION;
        case VIRTIO_MMIO_DEVICE_ID:
                return s->device_id;
        case VIRTIO_MMIO_VENDOR_ID_REG:
                return s->vendor_id;
        case VIRTIO_MMIO_DEVICE_FEATURES:
                return s->device_features_sel < 2 ? (uint32_t) (s->device_features >> (32 * s->device_features_sel)) : 0;
        case VIRTIO_MMIO_QUEUE_NUM_MAX:
                return q ? s->queue_num_max : 0;
        case VIRTIO_MMIO_QUEUE_READY:
                return q ? q->ready : 0;
        case VIRTIO_MMIO_INTERRUPT_STATUS:
                return s->interrupt_status;
        case VIRTIO_MMIO_STATUS:
                return s->status;
        case VIRTIO_MMIO_CONFIG_GENERATION:
                return s->config_generation;
        case VIRTIO_MMIO_QUEUE_NOTIFY:
                return 0;
        default:
                /* Write-only or no register. */
                guest_error(s, offset);
                return 0;
        }
}

static void write_driver_features_locked(VirtioMmioShared *s, uint32_t value) {
        if (s->status & VIRTIO_STATUS_FEATURES_OK || s->driver_features_sel >= 2) {
                guest_error(s, VIRTIO_MMIO_DRIVER_FEATURES);
                return;
        }
        unsigned shift = 32 * s->driver_features_sel;
        s->driver_features = (s->driver_features & ~(UINT64_C(0xffffffff) << shift)) | ((uint64_t) value << shift);
}

static void write_queue_config_locked(VirtioMmioShared *s, uint64_t offset, uint32_t value) {
        VirtioMmioQueue *q = selected_queue(s);

        /* The spec forbids changing a queue while it is ready. */
        if (!q || q->ready) {
                guest_error(s, offset);
                return;
        }
        switch (offset) {
        case VIRTIO_MMIO_QUEUE_NUM:
                q->num = value;
                break;
        case VIRTIO_MMIO_QUEUE_DESC_LOW:
        case VIRTIO_MMIO_QUEUE_DESC_HIGH:
        case VIRTIO_MMIO_QUEUE_DRIVER_LOW:
        case VIRTIO_MMIO_QUEUE_DRIVER_HIGH:
        case VIRTIO_MMIO_QUEUE_DEVICE_LOW:
        case VIRTIO_MMIO_QUEUE_DEVICE_HIGH: {
                uint64_t *addr = offset < VIRTIO_MMIO_QUEUE_DRIVER_LOW ? &q->desc :
                                 offset < VIRTIO_MMIO_QUEUE_DEVICE_LOW ? &q->driver : &q->device;
                unsigned shift = (offset & 4) ? 32 : 0;
                *addr = (*addr & ~(UINT64_C(0xffffffff) << shift)) | ((uint64_t) value << shift);
                break;
        }
        }
}

static void write_queue_ready_locked(VirtioMmioShared *s, uint32_t value) {
        VirtioMmioQueue *q = selected_queue(s);

        if (!q || value > 1) {
                guest_error(s, VIRTIO_MMIO_QUEUE_READY);
                return;
        }
        if (q->ready == value)
                return;
        if (value == 1 && (!is_power_of_two(q->num) || q->num > s->queue_num_max)) {
                /* A split queue's size is a power of two: refuse, the
                 * driver reads QueueReady back as 0. */
                guest_error(s, VIRTIO_MMIO_QUEUE_READY);
                s->events |= VIRTIO_MMIO_EVENT_QUEUE_REFUSED;
                return;
        }
        q->ready = value;
        s->events |= VIRTIO_MMIO_EVENT_QUEUE_READY;
}

static void write_status_locked(VirtioMmioShared *s, uint32_t value) {
        const uint32_t device_owned = VIRTIO_STATUS_DEVICE_NEEDS_RESET;

        if (value == 0) {
                reset_locked(s);
                return;
        }
        uint32_t old = s->status;
        /* The driver only sets bits (clearing one needs a reset), and never
         * the device's own. */
        if ((value & old & ~device_owned) != (old & ~device_owned) || (value & device_owned))
                guest_error(s, VIRTIO_MMIO_STATUS);
        uint32_t new = old | (value & ~device_owned & 0xff);
        uint32_t added = new & ~old;

        if (added & VIRTIO_STATUS_FEATURES_OK) {
                if (features_acceptable(s))
                        s->events |= VIRTIO_MMIO_EVENT_FEATURES_OK;
                else
                        new &= ~VIRTIO_STATUS_FEATURES_OK;      /* refused: the driver reads it back clear */
        }
        if (added & VIRTIO_STATUS_DRIVER_OK) {
                if (new & VIRTIO_STATUS_FEATURES_OK)
                        s->events |= VIRTIO_MMIO_EVENT_DRIVER_OK;
                else {
                        guest_error(s, VIRTIO_MMIO_STATUS);
                        new &= ~VIRTIO_STATUS_DRIVER_OK;
                }
        }
        if (added & VIRTIO_STATUS_FAILED)
                s->events |= VIRTIO_MMIO_EVENT_FAILED;
        s->status = new;
}

static void write_notify_locked(VirtioMmioShared *s, uint32_t value) {
        if (value >= n_queues(s)) {
                guest_error(s, VIRTIO_MMIO_QUEUE_NOTIFY);
                return;
        }
        s->queues_notified |= 1u << value;
        s->events |= VIRTIO_MMIO_EVENT_NOTIFY;
}

/* Returns whether the device must be woken. */
static bool write_register_locked(VirtioMmioShared *s, uint64_t offset, uint32_t value) {
        switch (offset) {
        case VIRTIO_MMIO_DEVICE_FEATURES_SEL:
                s->device_features_sel = value;
                return false;
        case VIRTIO_MMIO_DRIVER_FEATURES:
                write_driver_features_locked(s, value);
                return false;
        case VIRTIO_MMIO_DRIVER_FEATURES_SEL:
                s->driver_features_sel = value;
                return false;
        case VIRTIO_MMIO_QUEUE_SEL:
                s->queue_sel = value;
                return false;
        case VIRTIO_MMIO_QUEUE_NUM:
        case VIRTIO_MMIO_QUEUE_DESC_LOW ... VIRTIO_MMIO_QUEUE_DESC_HIGH:
        case VIRTIO_MMIO_QUEUE_DRIVER_LOW ... VIRTIO_MMIO_QUEUE_DRIVER_HIGH:
        case VIRTIO_MMIO_QUEUE_DEVICE_LOW ... VIRTIO_MMIO_QUEUE_DEVICE_HIGH:
                write_queue_config_locked(s, offset, value);
                return false;
        case VIRTIO_MMIO_QUEUE_READY:
                write_queue_ready_locked(s, value);
                return true;
        case VIRTIO_MMIO_QUEUE_NOTIFY:
                write_notify_locked(s, value);
                return true;
        case VIRTIO_MMIO_INTERRUPT_ACK:
                s->interrupt_status &= ~value;
                return false;
        case VIRTIO_MMIO_STATUS:
                write_status_locked(s, value);
                return true;
        default:
                guest_error(s, offset);
                return false;
        }
}

static int check_access(const VirtioMmioShared *s, uint64_t offset, unsigned len) {
        if (__atomic_load_n(&s->initialized, __ATOMIC_ACQUIRE) != VIRTIO_MMIO_MAGIC)
                return -ENXIO;
        if (offset >= VIRTIO_MMIO_WINDOW || !IN_SET(len, 1u, 2u, 4u, 8u) || len > VIRTIO_MMIO_WINDOW - offset)
                return -ERANGE;
        return 0;
}

/* Registers take aligned 32-bit accesses only; config space any size. */
static bool is_register_access(uint64_t offset, unsigned len) {
        return offset < VIRTIO_MMIO_CONFIG && len == 4 && IS_ALIGNED(offset, 4);
}

static bool config_range(const VirtioMmioShared *s, uint64_t offset, unsigned len, size_t *ret_at) {
        if (offset < VIRTIO_MMIO_CONFIG)
                return false;
        size_t at = offset - VIRTIO_MMIO_CONFIG;
        if (at + len > MIN(s->config_len, VIRTIO_MMIO_CONFIG_MAX))
                return false;
        *ret_at = at;
        return true;
}

int virtio_mmio_read(VirtioMmioShared *s, uint64_t offset, unsigned len, uint64_t *ret_value) {
        int r = check_access(s, offset, len);
        if (r < 0)
                return r;

        uint32_t ticket = page_lock(s, NULL);
        uint64_t value = 0;
        size_t at;
        if (is_register_access(offset, len))
                value = read_register_locked(s, offset);
        else if (config_range(s, offset, len, &at))
                memcpy(&value, s->config + at, len);    /* little-endian host */
        else
                guest_error(s, offset);
        page_unlock(s, ticket);

        *ret_value = value;
        return 0;
}

int virtio_mmio_write(VirtioMmioShared *s, uint64_t offset, unsigned len, uint64_t value, bool *ret_kick) {
        int r = check_access(s, offset, len);
        if (r < 0)
                return r;

        bool broken, kick = false;
        uint32_t ticket = page_lock(s, &broken);
        if (is_register_access(offset, len))
                kick = write_register_locked(s, offset, (uint32_t) value);
        else
                /* Block's config space has nothing writable we offer (no
                 * CONFIG_WCE); other sizes of registers are guest errors. */
                guest_error(s, offset);
        page_unlock(s, ticket);

        *ret_kick = kick || broken;
        return 0;
}

int virtio_mmio_wait_reset(VirtioMmioShared *s, uint64_t timeout_ns) {
        uint64_t deadline = now_monotonic_usec() * NSEC_PER_USEC + timeout_ns;

        for (;;) {
                uint32_t acked = __atomic_load_n(&s->reset_acked, __ATOMIC_ACQUIRE);
                if (acked == __atomic_load_n(&s->reset_requested, __ATOMIC_ACQUIRE))
                        return 0;
                uint64_t now = now_monotonic_usec() * NSEC_PER_USEC;
                if (now >= deadline)
                        return -ETIMEDOUT;
                uint64_t left = deadline - now;
                struct timespec ts = {
                        .tv_sec = (time_t) (left / NSEC_PER_SEC),
                        .tv_nsec = (long) (left % NSEC_PER_SEC),
                };
                /* Plain (shared) FUTEX_WAIT: the page is mapped by several
                 * processes. EAGAIN/EINTR/ETIMEDOUT: look again. */
                (void) syscall(SYS_futex, &s->reset_acked, FUTEX_WAIT, acked, &ts, NULL, 0);
        }
}

int virtio_mmio_init(VirtioMmioShared *s, uint32_t device_id, uint64_t device_features,
                     unsigned n_queues_, uint16_t queue_num_max, const void *config, size_t config_len) {
        if (!(device_features & (UINT64_C(1) << VIRTIO_F_VERSION_1)) ||
            n_queues_ == 0 || n_queues_ > VIRTIO_MMIO_QUEUES_MAX ||
            !is_power_of_two(queue_num_max) || queue_num_max > QUEUE_NUM_LIMIT ||
            config_len > VIRTIO_MMIO_CONFIG_MAX || (config_len > 0 && !config))
                return -EINVAL;

        *s = (VirtioMmioShared) {
                .device_id = device_id,
                .vendor_id = VIRTIO_MMIO_VENDOR_ID,
                .device_features = device_features,
                .n_queues = n_queues_,
                .queue_num_max = queue_num_max,
                .config_len = (uint32_t) config_len,
        };
        if (config_len > 0)
                memcpy(s->config, config, config_len);
        for (unsigned i = 0; i < VIRTIO_MMIO_QUEUES_MAX; i++)
                s->queues[i].num = queue_num_max;
        __atomic_store_n(&s->initialized, VIRTIO_MMIO_MAGIC, __ATOMIC_RELEASE);
        return 0;
}

void virtio_mmio_poll_changes(VirtioMmioShared *s, VirtioMmioState *ret) {
        uint32_t ticket = page_lock(s, NULL);
        *ret = (VirtioMmioState) {
                .events = s->events,
                .status = s->status,
                .driver_features = s->driver_features,
                .queues_notified = s->queues_notified,
                .guest_errors = s->guest_errors,
        };
        memcpy(ret->queues, s->queues, sizeof(ret->queues));
        s->events = 0;
        s->queues_notified = 0;
        uint32_t requested = __atomic_load_n(&s->reset_requested, __ATOMIC_RELAXED);
        bool ack = __atomic_load_n(&s->reset_acked, __ATOMIC_RELAXED) != requested;
        if (ack)
                __atomic_store_n(&s->reset_acked, requested, __ATOMIC_RELEASE);
        page_unlock(s, ticket);

        for (unsigned i = 0; i < VIRTIO_MMIO_QUEUES_MAX; i++)
                if (i >= n_queues(s))
                        ret->queues[i] = (VirtioMmioQueue) {};
        if (ack)
                (void) syscall(SYS_futex, &s->reset_acked, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

void virtio_mmio_raise_interrupt(VirtioMmioShared *s, uint32_t bits) {
        uint32_t ticket = page_lock(s, NULL);
        s->interrupt_status |= bits & (VIRTIO_MMIO_INT_VRING | VIRTIO_MMIO_INT_CONFIG);
        page_unlock(s, ticket);
}

void virtio_mmio_set_needs_reset(VirtioMmioShared *s) {
        uint32_t ticket = page_lock(s, NULL);
        /* A reset the device has not seen yet ended the device this error
         * is about: marking the fresh one would outlive the reset. */
        if (__atomic_load_n(&s->reset_acked, __ATOMIC_RELAXED) ==
            __atomic_load_n(&s->reset_requested, __ATOMIC_RELAXED)) {
                s->status |= VIRTIO_STATUS_DEVICE_NEEDS_RESET;
                s->interrupt_status |= VIRTIO_MMIO_INT_CONFIG;
        }
        page_unlock(s, ticket);
}
