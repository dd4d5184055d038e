/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "virtio-blk.h"
#include "virtio-driver.h"
#include "virtio-mmio.h"

#define DISK_SECTORS 256u
#define DISK_BYTES (DISK_SECTORS * VIRTIO_BLK_SECTOR_SIZE)
#define F(bit) (UINT64_C(1) << (bit))

static VirtioDriver drv;
static Virtqueue vq;
static VirtioBlk blk;
static int disk = -1;

/* The backing file on tmpfs, filled with a pattern: byte i is i * 7 + 3. */
static int open_disk(int flags) {
        char path[] = "/dev/shm/test-virtio-blk-XXXXXX";
        int fd = mkostemp(path, O_CLOEXEC);
        if (fd < 0) {
                fd = memfd_create("disk", MFD_CLOEXEC);    /* no /dev/shm: still tmpfs */
                assert_true(fd >= 0);
        } else {
                assert_int_equal(unlink(path), 0);
        }
        static uint8_t pattern[DISK_BYTES];
        for (size_t i = 0; i < sizeof(pattern); i++)
                pattern[i] = (uint8_t) (i * 7 + 3);
        assert_int_equal(pwrite(fd, pattern, sizeof(pattern), 0), (ssize_t) sizeof(pattern));
        if (flags == O_RDONLY) {
                char proc[64];
                snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
                int ro = open(proc, O_RDONLY | O_CLOEXEC);
                assert_true(ro >= 0);
                close(fd);
                fd = ro;
        }
        return fd;
}

static void start(bool readonly, const char *serial, int flags) {
        driver_init(&drv, 16);
        driver_device_queue(&drv, &vq);
        disk = open_disk(flags);
        assert_int_equal(virtio_blk_init(&blk, disk, readonly, serial), 0);
}

static int setup(void **state) {
        start(false, "data0", O_RDWR);
        return 0;
}

static int setup_ro(void **state) {
        start(true, "ro", O_RDONLY);
        return 0;
}

static int teardown(void **state) {
        driver_done(&drv);
        close(disk);
        return 0;
}

static uint8_t disk_byte(uint64_t offset) {
        uint8_t b;
        assert_int_equal(pread(disk, &b, 1, (off_t) offset), 1);
        return b;
}

static uint64_t header(uint32_t type, uint64_t sector) {
        uint64_t gpa = driver_alloc(&drv, 16);
        uint32_t t = htole32(type);
        uint64_t sec = htole64(sector);
        memcpy(driver_ptr(&drv, gpa), &t, 4);
        memcpy((uint8_t *) driver_ptr(&drv, gpa) + 8, &sec, 8);
        return gpa;
}

/* Runs the queue once and returns the status byte at status_gpa; the
 * request must have completed with used length want_len. */
static uint8_t run(uint64_t status_gpa, uint32_t want_len) {
        bool irq;
        *(uint8_t *) driver_ptr(&drv, status_gpa) = 0xee;
        assert_int_equal(virtio_blk_process_queue(&blk, &vq, &irq), 0);
        assert_true(irq);
        uint32_t id, len;
        assert_true(driver_take_used(&drv, &id, &len));
        assert_int_equal(len, want_len);
        return *(uint8_t *) driver_ptr(&drv, status_gpa);
}

/* A request of type at sector: header, optional readable payload, optional
 * writable data of in_len bytes, status. */
static uint8_t request(uint32_t type, uint64_t sector, uint64_t out, uint32_t out_len,
                       uint64_t in, uint32_t in_len, uint32_t want_len) {
        DriverBuf bufs[4];
        unsigned n = 0;
        bufs[n++] = (DriverBuf) { header(type, sector), 16, false };
        if (out_len > 0)
                bufs[n++] = (DriverBuf) { out, out_len, false };
        if (in_len > 0)
                bufs[n++] = (DriverBuf) { in, in_len, true };
        uint64_t status = driver_alloc(&drv, 1);
        bufs[n++] = (DriverBuf) { status, 1, true };
        driver_add(&drv, bufs, n);
        return run(status, want_len);
}

static void test_features_and_config_of_a_writable_disk(void **state) {
        assert_int_equal(virtio_blk_device_features(&blk),
                         F(VIRTIO_F_VERSION_1) | F(VIRTIO_BLK_F_SEG_MAX) | F(VIRTIO_BLK_F_BLK_SIZE) |
                         F(VIRTIO_BLK_F_FLUSH) | F(VIRTIO_BLK_F_DISCARD) | F(VIRTIO_BLK_F_WRITE_ZEROES));
        VirtioBlkConfig c;
        virtio_blk_config(&blk, &c);
        assert_int_equal(le64toh(c.capacity), DISK_SECTORS);
        assert_int_equal(le32toh(c.seg_max), VIRTIO_BLK_SEG_MAX);
        assert_int_equal(le32toh(c.blk_size), 512);
        assert_int_equal(le32toh(c.max_discard_sectors), UINT32_MAX / 512);
        assert_int_equal(le32toh(c.max_discard_seg), VIRTIO_BLK_DISCARD_SEG_MAX);
        assert_int_equal(le32toh(c.discard_sector_alignment), 8);
        assert_int_equal(le32toh(c.max_write_zeroes_sectors), UINT32_MAX / 512);
        assert_int_equal(le32toh(c.max_write_zeroes_seg), VIRTIO_BLK_DISCARD_SEG_MAX);
        assert_int_equal(c.write_zeroes_may_unmap, 1);
        /* Offsets of virtio 1.x struct virtio_blk_config. */
        assert_int_equal(offsetof(VirtioBlkConfig, blk_size), 20);
        assert_int_equal(offsetof(VirtioBlkConfig, writeback), 32);
        assert_int_equal(offsetof(VirtioBlkConfig, max_discard_sectors), 36);
        assert_int_equal(offsetof(VirtioBlkConfig, write_zeroes_may_unmap), 56);
        /* The transport accepts what the model offers. */
        VirtioMmioShared page;
        assert_int_equal(virtio_mmio_init(&page, VIRTIO_ID_BLOCK, virtio_blk_device_features(&blk), 1,
                                          VIRTIO_BLK_QUEUE_SIZE_MAX, &c, sizeof(c)), 0);
}

static void test_features_and_config_of_a_readonly_disk(void **state) {
        assert_int_equal(virtio_blk_device_features(&blk),
                         F(VIRTIO_F_VERSION_1) | F(VIRTIO_BLK_F_SEG_MAX) | F(VIRTIO_BLK_F_BLK_SIZE) |
                         F(VIRTIO_BLK_F_FLUSH) | F(VIRTIO_BLK_F_RO));
        VirtioBlkConfig c;
        virtio_blk_config(&blk, &c);
        assert_int_equal(le64toh(c.capacity), DISK_SECTORS);
        assert_int_equal(c.max_discard_sectors, 0);
        assert_int_equal(c.max_write_zeroes_sectors, 0);
}

static void test_init_refuses_long_serial_and_bad_fd(void **state) {
        VirtioBlk b;
        assert_int_equal(virtio_blk_init(&b, disk, false, "123456789012345678901"), -EINVAL);
        assert_int_equal(virtio_blk_init(&b, -1, false, NULL), -EINVAL);
        int p[2];
        assert_int_equal(pipe(p), 0);
        assert_int_equal(virtio_blk_init(&b, p[0], false, NULL), -ESPIPE);
        close(p[0]);
        close(p[1]);
        assert_int_equal(virtio_blk_init(&b, disk, false, "12345678901234567890"), 0);
        assert_memory_equal(b.serial, "12345678901234567890", 20);
}

static void test_in_reads_the_disk(void **state) {
        uint64_t data = driver_alloc(&drv, 1024);
        assert_int_equal(request(VIRTIO_BLK_T_IN, 3, 0, 0, data, 1024, 1025), VIRTIO_BLK_S_OK);
        const uint8_t *p = driver_ptr(&drv, data);
        for (unsigned i = 0; i < 1024; i++)
                assert_int_equal(p[i], (uint8_t) ((3 * 512 + i) * 7 + 3));
        assert_int_equal(blk.stats.ok, 1);
}

static void test_out_writes_the_disk(void **state) {
        uint64_t data = driver_alloc(&drv, 512);
        memset(driver_ptr(&drv, data), 0x5a, 512);
        assert_int_equal(request(VIRTIO_BLK_T_OUT, DISK_SECTORS - 1, data, 512, 0, 0, 1), VIRTIO_BLK_S_OK);
        assert_int_equal(disk_byte((DISK_SECTORS - 1) * 512), 0x5a);
        assert_int_equal(disk_byte(DISK_BYTES - 1), 0x5a);
        assert_int_equal(disk_byte((DISK_SECTORS - 1) * 512 - 1), (uint8_t) (((DISK_SECTORS - 1) * 512 - 1) * 7 + 3));
}

static void test_scattered_layout_header_split_and_status_inside_data(void **state) {
        /* ANY_LAYOUT: the header in two pieces, the status byte the last
         * byte of the last data buffer. */
        uint64_t h = header(VIRTIO_BLK_T_IN, 1), d = driver_alloc(&drv, 513);
        DriverBuf bufs[] = { { h, 5, false }, { h + 5, 11, false }, { d, 100, true }, { d + 100, 413, true } };
        driver_add(&drv, bufs, 4);
        assert_int_equal(run(d + 512, 513), VIRTIO_BLK_S_OK);
        assert_int_equal(((uint8_t *) driver_ptr(&drv, d))[0], (uint8_t) (512 * 7 + 3));
        assert_int_equal(((uint8_t *) driver_ptr(&drv, d))[511], (uint8_t) (1023 * 7 + 3));
}

static void test_out_on_readonly_disk_is_ioerr_and_leaves_it(void **state) {
        uint64_t data = driver_alloc(&drv, 512);
        memset(driver_ptr(&drv, data), 0x5a, 512);
        assert_int_equal(request(VIRTIO_BLK_T_OUT, 0, data, 512, 0, 0, 1), VIRTIO_BLK_S_IOERR);
        assert_int_equal(disk_byte(0), 3);
        assert_int_equal(virtio_blk_take_new_errors(&blk), VIRTIO_BLK_ERROR_REQUEST);
        /* Reading works. */
        assert_int_equal(request(VIRTIO_BLK_T_IN, 0, 0, 0, data, 512, 513), VIRTIO_BLK_S_OK);
}

static void test_discard_and_write_zeroes_unsupported_on_readonly_disk(void **state) {
        uint64_t seg = driver_alloc(&drv, 16);
        uint32_t n = htole32(1);
        memcpy((uint8_t *) driver_ptr(&drv, seg) + 8, &n, 4);
        assert_int_equal(request(VIRTIO_BLK_T_DISCARD, 0, seg, 16, 0, 0, 1), VIRTIO_BLK_S_UNSUPP);
        assert_int_equal(request(VIRTIO_BLK_T_WRITE_ZEROES, 0, seg, 16, 0, 0, 1), VIRTIO_BLK_S_UNSUPP);
        assert_int_equal(disk_byte(0), 3);
}

static void test_requests_past_the_end_are_ioerr(void **state) {
        uint64_t data = driver_alloc(&drv, 1024);
        assert_int_equal(request(VIRTIO_BLK_T_IN, DISK_SECTORS, 0, 0, data, 512, 1), VIRTIO_BLK_S_IOERR);
        assert_int_equal(request(VIRTIO_BLK_T_IN, DISK_SECTORS - 1, 0, 0, data, 1024, 1), VIRTIO_BLK_S_IOERR);
        assert_int_equal(request(VIRTIO_BLK_T_OUT, DISK_SECTORS - 1, data, 1024, 0, 0, 1), VIRTIO_BLK_S_IOERR);
        /* A sector whose byte offset overflows 64 bits. */
        assert_int_equal(request(VIRTIO_BLK_T_IN, UINT64_MAX / 256, 0, 0, data, 512, 1), VIRTIO_BLK_S_IOERR);
        assert_int_equal(request(VIRTIO_BLK_T_OUT, UINT64_MAX, data, 512, 0, 0, 1), VIRTIO_BLK_S_IOERR);
        assert_int_equal(disk_byte(DISK_BYTES - 1), (uint8_t) ((DISK_BYTES - 1) * 7 + 3));
        assert_int_equal(blk.stats.ioerr, 5);
        assert_int_equal(virtio_blk_take_new_errors(&blk), VIRTIO_BLK_ERROR_REQUEST);
        assert_int_equal(virtio_blk_take_new_errors(&blk), 0);  /* once */
}

static void test_flush_completes_ok(void **state) {
        assert_int_equal(request(VIRTIO_BLK_T_FLUSH, 0, 0, 0, 0, 0, 1), VIRTIO_BLK_S_OK);
}

static void test_get_id_returns_the_serial_nul_padded(void **state) {
        uint64_t id = driver_alloc(&drv, 20);
        memset(driver_ptr(&drv, id), 0xff, 20);
        assert_int_equal(request(VIRTIO_BLK_T_GET_ID, 0, 0, 0, id, 20, 21), VIRTIO_BLK_S_OK);
        assert_memory_equal(driver_ptr(&drv, id), "data0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 20);
        /* A shorter buffer gets what fits; none at all is an error. */
        uint64_t small = driver_alloc(&drv, 3);
        assert_int_equal(request(VIRTIO_BLK_T_GET_ID, 0, 0, 0, small, 3, 4), VIRTIO_BLK_S_OK);
        assert_memory_equal(driver_ptr(&drv, small), "dat", 3);
        assert_int_equal(request(VIRTIO_BLK_T_GET_ID, 0, 0, 0, 0, 0, 1), VIRTIO_BLK_S_IOERR);
}

static void test_get_id_of_a_20_byte_serial_has_no_terminator(void **state) {
        assert_int_equal(virtio_blk_init(&blk, disk, false, "ABCDEFGHIJKLMNOPQRST"), 0);
        uint64_t id = driver_alloc(&drv, 32);
        assert_int_equal(request(VIRTIO_BLK_T_GET_ID, 0, 0, 0, id, 32, 21), VIRTIO_BLK_S_OK);
        assert_memory_equal(driver_ptr(&drv, id), "ABCDEFGHIJKLMNOPQRST\0", 21);
}

/* A DISCARD/WRITE_ZEROES payload of n segments. */
static uint64_t segments(unsigned n, const uint64_t *sector, const uint32_t *count, const uint32_t *flags) {
        uint64_t gpa = driver_alloc(&drv, 16 * n);
        for (unsigned i = 0; i < n; i++) {
                uint8_t *p = (uint8_t *) driver_ptr(&drv, gpa) + 16 * i;
                uint64_t s = htole64(sector[i]);
                uint32_t c = htole32(count[i]), f = htole32(flags ? flags[i] : 0);
                memcpy(p, &s, 8);
                memcpy(p + 8, &c, 4);
                memcpy(p + 12, &f, 4);
        }
        return gpa;
}

static void assert_disk_zero(uint64_t offset, uint64_t len) {
        for (uint64_t i = offset; i < offset + len; i++)
                if (disk_byte(i) != 0)
                        fail_msg("disk byte %" PRIu64 " is not zero", i);
        /* The bytes around are untouched. */
        if (offset > 0)
                assert_int_equal(disk_byte(offset - 1), (uint8_t) ((offset - 1) * 7 + 3));
        if (offset + len < DISK_BYTES)
                assert_int_equal(disk_byte(offset + len), (uint8_t) ((offset + len) * 7 + 3));
}

static void test_discard_punches_holes(void **state) {
        struct stat before, after;
        assert_int_equal(fstat(disk, &before), 0);
        uint64_t sec[] = { 8, 64 };
        uint32_t cnt[] = { 8, 16 };
        uint64_t seg = segments(2, sec, cnt, NULL);
        assert_int_equal(request(VIRTIO_BLK_T_DISCARD, 0, seg, 32, 0, 0, 1), VIRTIO_BLK_S_OK);
        assert_disk_zero(8 * 512, 8 * 512);
        assert_disk_zero(64 * 512, 16 * 512);
        assert_int_equal(fstat(disk, &after), 0);
        assert_true(after.st_blocks < before.st_blocks);
        assert_int_equal(after.st_size, DISK_BYTES);
}

static void test_write_zeroes_falls_back_from_zero_range_on_tmpfs(void **state) {
        uint64_t sec[] = { 3 };
        uint32_t cnt[] = { 5 };
        assert_int_equal(request(VIRTIO_BLK_T_WRITE_ZEROES, 0, segments(1, sec, cnt, NULL), 16, 0, 0, 1), VIRTIO_BLK_S_OK);
        assert_disk_zero(3 * 512, 5 * 512);
        /* tmpfs has no ZERO_RANGE: learnt once, punched instead. */
        assert_int_equal(blk.zero_method, VIRTIO_BLK_ZERO_PUNCH);
        uint32_t flags[] = { VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP };
        sec[0] = 100;
        assert_int_equal(request(VIRTIO_BLK_T_WRITE_ZEROES, 0, segments(1, sec, cnt, flags), 16, 0, 0, 1), VIRTIO_BLK_S_OK);
        assert_disk_zero(100 * 512, 5 * 512);
}

static void test_write_zeroes_by_writing_where_nothing_else_works(void **state) {
        blk.zero_method = VIRTIO_BLK_ZERO_WRITE;
        struct stat before, after;
        assert_int_equal(fstat(disk, &before), 0);
        uint64_t sec[] = { 0, 200 };
        uint32_t cnt[] = { 1, 56 };
        assert_int_equal(request(VIRTIO_BLK_T_WRITE_ZEROES, 0, segments(2, sec, cnt, NULL), 32, 0, 0, 1), VIRTIO_BLK_S_OK);
        assert_disk_zero(0, 512);
        assert_disk_zero(200 * 512, 56 * 512);
        assert_int_equal(fstat(disk, &after), 0);
        assert_int_equal(after.st_blocks, before.st_blocks);    /* written, not punched */
}

static void test_discard_and_write_zeroes_refuse_bad_payloads(void **state) {
        uint64_t sec[VIRTIO_BLK_DISCARD_SEG_MAX + 1] = { 0 };
        uint32_t cnt[VIRTIO_BLK_DISCARD_SEG_MAX + 1] = { 1 };
        uint64_t seg = segments(VIRTIO_BLK_DISCARD_SEG_MAX + 1, sec, cnt, NULL);
        for (uint32_t type = VIRTIO_BLK_T_DISCARD; type <= VIRTIO_BLK_T_WRITE_ZEROES; type += 2) {
                assert_int_equal(request(type, 0, 0, 0, 0, 0, 1), VIRTIO_BLK_S_IOERR);          /* none */
                assert_int_equal(request(type, 0, seg, 15, 0, 0, 1), VIRTIO_BLK_S_IOERR);       /* partial */
                assert_int_equal(request(type, 0, seg, 16 * (VIRTIO_BLK_DISCARD_SEG_MAX + 1), 0, 0, 1),
                                 VIRTIO_BLK_S_IOERR);                                           /* too many */
                assert_int_equal(request(type, 0, seg, 16, driver_alloc(&drv, 8), 8, 1), VIRTIO_BLK_S_IOERR);
        }
        assert_int_equal(disk_byte(0), 3);
}

static void test_discard_past_the_end_applies_no_segment(void **state) {
        uint64_t sec[] = { 0, DISK_SECTORS - 1, DISK_SECTORS - 1, UINT64_MAX };
        uint32_t cnt[] = { 8, 2, 1, 1 };
        uint64_t seg = segments(4, sec, cnt, NULL);
        assert_int_equal(request(VIRTIO_BLK_T_DISCARD, 0, seg, 32, 0, 0, 1), VIRTIO_BLK_S_IOERR);
        assert_int_equal(request(VIRTIO_BLK_T_WRITE_ZEROES, 0, seg + 32, 32, 0, 0, 1), VIRTIO_BLK_S_IOERR);
        assert_int_equal(disk_byte(0), 3);     /* the valid first segment was not applied */
        assert_int_equal(disk_byte(DISK_BYTES - 1), (uint8_t) ((DISK_BYTES - 1) * 7 + 3));
        /* The last sector alone is fine. */
        assert_int_equal(request(VIRTIO_BLK_T_DISCARD, 0, seg + 32, 16, 0, 0, 1), VIRTIO_BLK_S_OK);
}

static void test_unknown_flags_are_unsupp(void **state) {
        uint64_t sec[] = { 0 };
        uint32_t cnt[] = { 1 }, unmap[] = { VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP }, other[] = { 2 };
        assert_int_equal(request(VIRTIO_BLK_T_DISCARD, 0, segments(1, sec, cnt, unmap), 16, 0, 0, 1), VIRTIO_BLK_S_UNSUPP);
        assert_int_equal(request(VIRTIO_BLK_T_WRITE_ZEROES, 0, segments(1, sec, cnt, other), 16, 0, 0, 1), VIRTIO_BLK_S_UNSUPP);
        assert_int_equal(disk_byte(0), 3);
        assert_int_equal(virtio_blk_take_new_errors(&blk), VIRTIO_BLK_ERROR_UNSUPPORTED);
}

static void test_types_not_negotiated_or_unknown_are_unsupp(void **state) {
        virtio_blk_set_features(&blk, F(VIRTIO_F_VERSION_1) | F(VIRTIO_BLK_F_FLUSH));
        uint64_t sec[] = { 0 };
        uint32_t cnt[] = { 1 };
        assert_int_equal(request(VIRTIO_BLK_T_DISCARD, 0, segments(1, sec, cnt, NULL), 16, 0, 0, 1), VIRTIO_BLK_S_UNSUPP);
        assert_int_equal(request(VIRTIO_BLK_T_WRITE_ZEROES, 0, segments(1, sec, cnt, NULL), 16, 0, 0, 1), VIRTIO_BLK_S_UNSUPP);
        static const uint32_t unknown[] = { 2, 3, 5, 7, 9, 10, 12, 14, 15, 0xffffffff };
        for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++)
                assert_int_equal(request(unknown[i], 0, 0, 0, 0, 0, 1), VIRTIO_BLK_S_UNSUPP);
        assert_int_equal(blk.stats.unsupp, 12);
        assert_int_equal(disk_byte(0), 3);
}

static void test_wrong_data_directions_and_lengths_are_ioerr(void **state) {
        uint64_t data = driver_alloc(&drv, 1024);
        assert_int_equal(request(VIRTIO_BLK_T_IN, 0, data, 512, data, 512, 1), VIRTIO_BLK_S_IOERR);    /* IN with data out */
        assert_int_equal(request(VIRTIO_BLK_T_OUT, 0, data, 512, data, 512, 1), VIRTIO_BLK_S_IOERR);   /* OUT with data in */
        assert_int_equal(request(VIRTIO_BLK_T_IN, 0, 0, 0, data, 511, 1), VIRTIO_BLK_S_IOERR);
        assert_int_equal(request(VIRTIO_BLK_T_OUT, 0, data, 513, 0, 0, 1), VIRTIO_BLK_S_IOERR);
        assert_int_equal(disk_byte(0), 3);
}

static void test_short_header_is_ioerr(void **state) {
        uint64_t h = header(VIRTIO_BLK_T_IN, 0), st = driver_alloc(&drv, 1);
        DriverBuf bufs[] = { { h, 15, false }, { st, 1, true } };
        driver_add(&drv, bufs, 2);
        assert_int_equal(run(st, 1), VIRTIO_BLK_S_IOERR);
}

static void test_chain_without_status_byte_breaks_the_queue(void **state) {
        DriverBuf buf = { header(VIRTIO_BLK_T_FLUSH, 0), 16, false };
        driver_add(&drv, &buf, 1);
        bool irq;
        assert_int_equal(virtio_blk_process_queue(&blk, &vq, &irq), -EINVAL);
        assert_false(irq);
        assert_int_equal(blk.stats.malformed, 1);
        assert_int_equal(virtio_blk_take_new_errors(&blk), VIRTIO_BLK_ERROR_MALFORMED);
        /* Until the device is reset, the queue answers nothing. */
        uint64_t st = driver_alloc(&drv, 1);
        DriverBuf ok[] = { { header(VIRTIO_BLK_T_FLUSH, 0), 16, false }, { st, 1, true } };
        driver_add(&drv, ok, 2);
        assert_int_equal(virtio_blk_process_queue(&blk, &vq, &irq), -EINVAL);
        uint32_t id, len;
        assert_false(driver_take_used(&drv, &id, &len));
        assert_int_equal(virtio_blk_take_new_errors(&blk), 0);
}

static void test_malformed_chains_are_reported_never_crash(void **state) {
        static const struct { const char *what; uint64_t gpa; uint32_t len; int error; } cases[] = {
                { "outside memory", 0x1000, 1, -EFAULT },
                { "crossing the end", DRIVER_GPA_BASE + DRIVER_MEM_SIZE - 1, 2, -EFAULT },
                { "zero length", DRIVER_DATA, 0, -EINVAL },
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                teardown(state);
                setup(state);
                DriverBuf bufs[] = { { header(VIRTIO_BLK_T_IN, 0), 16, false }, { cases[i].gpa, cases[i].len, true } };
                driver_add(&drv, bufs, 2);
                bool irq;
                if (virtio_blk_process_queue(&blk, &vq, &irq) != cases[i].error)
                        fail_msg("%s: not %d", cases[i].what, cases[i].error);
                assert_int_equal(blk.stats.malformed, 1);
                assert_int_equal(blk.stats.requests, 0);
                assert_int_equal(virtio_blk_take_new_errors(&blk), VIRTIO_BLK_ERROR_MALFORMED);
        }
}

static void test_loop_and_too_many_segments(void **state) {
        uint64_t a = driver_alloc(&drv, 512);
        driver_set_desc(&drv, 0, a, 16, VIRTQ_DESC_F_NEXT, 1);
        driver_set_desc(&drv, 1, a, 16, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 1);
        driver_publish(&drv, 0);
        bool irq;
        assert_int_equal(virtio_blk_process_queue(&blk, &vq, &irq), -ELOOP);

        /* SEG_MAX + 2 segments fit a 256 queue; one more does not. */
        teardown(state);
        driver_init(&drv, 256);
        driver_device_queue(&drv, &vq);
        disk = open_disk(O_RDWR);
        assert_int_equal(virtio_blk_init(&blk, disk, false, NULL), 0);
        static DriverBuf bufs[VIRTIO_BLK_SEG_MAX + 3];
        bufs[0] = (DriverBuf) { header(VIRTIO_BLK_T_IN, 0), 16, false };
        uint64_t d = driver_alloc(&drv, 512 * (VIRTIO_BLK_SEG_MAX + 1) + 1);
        for (unsigned i = 1; i <= VIRTIO_BLK_SEG_MAX + 1; i++)
                bufs[i] = (DriverBuf) { d + 512 * (i - 1), 512, true };
        bufs[VIRTIO_BLK_SEG_MAX + 1] = (DriverBuf) { d + 512 * VIRTIO_BLK_SEG_MAX, 1, true };
        driver_add(&drv, bufs, VIRTIO_BLK_SEG_MAX + 2);
        assert_int_equal(run(d + 512 * VIRTIO_BLK_SEG_MAX, 512 * VIRTIO_BLK_SEG_MAX + 1), VIRTIO_BLK_S_OK);
        bufs[VIRTIO_BLK_SEG_MAX + 1] = (DriverBuf) { d + 512 * VIRTIO_BLK_SEG_MAX, 512, true };
        bufs[VIRTIO_BLK_SEG_MAX + 2] = (DriverBuf) { d + 512 * (VIRTIO_BLK_SEG_MAX + 1), 1, true };
        driver_add(&drv, bufs, VIRTIO_BLK_SEG_MAX + 3);
        assert_int_equal(virtio_blk_process_queue(&blk, &vq, &irq), -E2BIG);
}

static void test_backing_store_failure_is_ioerr_and_remembered(void **state) {
        /* A writable model over an fd the kernel will not write. */
        char proc[64];
        snprintf(proc, sizeof(proc), "/proc/self/fd/%d", disk);
        int ro = open(proc, O_RDONLY | O_CLOEXEC);
        assert_true(ro >= 0);
        assert_int_equal(virtio_blk_init(&blk, ro, false, NULL), 0);
        uint64_t data = driver_alloc(&drv, 512);
        assert_int_equal(request(VIRTIO_BLK_T_OUT, 0, data, 512, 0, 0, 1), VIRTIO_BLK_S_IOERR);
        assert_int_equal(blk.stats.last_io_error, -EBADF);
        assert_int_equal(virtio_blk_take_new_errors(&blk), VIRTIO_BLK_ERROR_IO);
        assert_int_equal(request(VIRTIO_BLK_T_OUT, 1, data, 512, 0, 0, 1), VIRTIO_BLK_S_IOERR);
        assert_int_equal(virtio_blk_take_new_errors(&blk), 0);
        assert_int_equal(blk.stats.ioerr, 2);
        close(ro);
}

static void test_queue_processed_in_batches_with_interrupt_suppression(void **state) {
        uint64_t st[17];
        for (unsigned i = 0; i < 16; i++) {
                st[i] = driver_alloc(&drv, 1);
                DriverBuf bufs[] = { { header(VIRTIO_BLK_T_FLUSH, 0), 16, false }, { st[i], 1, true } };
                driver_chain(&drv, bufs, 2);
                driver_publish(&drv, (uint16_t) (2 * i % 16));
        }
        driver_set_avail_flags(&drv, VIRTQ_AVAIL_F_NO_INTERRUPT);
        bool irq;
        /* A whole queue's worth: "call again"; then empty. */
        assert_int_equal(virtio_blk_process_queue(&blk, &vq, &irq), 1);
        assert_false(irq);
        assert_int_equal(virtio_blk_process_queue(&blk, &vq, &irq), 0);
        assert_false(irq);
        assert_int_equal(blk.stats.ok, 16);
        uint32_t id, len;
        for (unsigned i = 0; i < 16; i++) {
                assert_true(driver_take_used(&drv, &id, &len));
                assert_int_equal(len, 1);
        }
        assert_false(driver_take_used(&drv, &id, &len));
}

int main(void) {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
#define T_RO(f) cmocka_unit_test_setup_teardown(f, setup_ro, teardown)
        const struct CMUnitTest tests[] = {
                T(test_features_and_config_of_a_writable_disk),
                T_RO(test_features_and_config_of_a_readonly_disk),
                T(test_init_refuses_long_serial_and_bad_fd),
                T(test_in_reads_the_disk),
                T(test_out_writes_the_disk),
                T(test_scattered_layout_header_split_and_status_inside_data),
                T_RO(test_out_on_readonly_disk_is_ioerr_and_leaves_it),
                T_RO(test_discard_and_write_zeroes_unsupported_on_readonly_disk),
                T(test_requests_past_the_end_are_ioerr),
                T(test_flush_completes_ok),
                T(test_get_id_returns_the_serial_nul_padded),
                T(test_get_id_of_a_20_byte_serial_has_no_terminator),
                T(test_discard_punches_holes),
                T(test_write_zeroes_falls_back_from_zero_range_on_tmpfs),
                T(test_write_zeroes_by_writing_where_nothing_else_works),
                T(test_discard_and_write_zeroes_refuse_bad_payloads),
                T(test_discard_past_the_end_applies_no_segment),
                T(test_unknown_flags_are_unsupp),
                T(test_types_not_negotiated_or_unknown_are_unsupp),
                T(test_wrong_data_directions_and_lengths_are_ioerr),
                T(test_short_header_is_ioerr),
                T(test_chain_without_status_byte_breaks_the_queue),
                T(test_malformed_chains_are_reported_never_crash),
                T(test_loop_and_too_many_segments),
                T(test_backing_store_failure_is_ioerr_and_remembered),
                T(test_queue_processed_in_batches_with_interrupt_suppression),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
