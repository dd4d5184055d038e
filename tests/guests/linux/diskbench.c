// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The Linux test guest's disk benchmark helper (/bin/diskbench):
 *
 * diskbench randread DEVICE SPAN_BYTES SECONDS: 4 KiB O_DIRECT preads at
 *     random 4 KiB-aligned offsets in [0, SPAN_BYTES) of DEVICE, one at a time
 *     (queue depth 1), for SECONDS of CLOCK_MONOTONIC; prints "ios=N ns=T".
 *     Busybox has no fio, and a dd per read would measure fork and exec, not
 *     the disk.
 * diskbench clock: prints CLOCK_MONOTONIC in ns (busybox dd prints no time).
 *
 * Freestanding: raw
 * aarch64 system calls, no libc, so the Debian cross compiler alone builds it
 * (aarch64-linux-gnu-gcc -static -nostdlib -ffreestanding).
 */
#define SYS_openat 56
#define SYS_pread64 67
#define SYS_write 64
#define SYS_exit_group 94
#define SYS_clock_gettime 113
#define AT_FDCWD (-100)
#define O_RDONLY 0
#define O_DIRECT 0200000 /* arm64's value */
#define CLOCK_MONOTONIC 1
#define BLOCK 4096

typedef unsigned long u64;

static long syscall4(long n, long a, long b, long c, long d) {
        register long x8 __asm__("x8") = n;
        register long x0 __asm__("x0") = a;
        register long x1 __asm__("x1") = b;
        register long x2 __asm__("x2") = c;
        register long x3 __asm__("x3") = d;
        __asm__ volatile("svc #0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3) : "memory");
        return x0;
}

static unsigned char buffer[BLOCK] __attribute__((aligned(BLOCK)));

static u64 now_ns(void) {
        long ts[2];
        syscall4(SYS_clock_gettime, CLOCK_MONOTONIC, (long) ts, 0, 0);
        return (u64) ts[0] * 1000000000ul + (u64) ts[1];
}

static u64 parse_u64(const char *s) {
        u64 v = 0;
        while (*s >= '0' && *s <= '9')
                v = v * 10 + (u64) (*s++ - '0');
        return v;
}

static char *put_u64(char *p, u64 v) {
        char digits[20];
        int n = 0;
        do
                digits[n++] = (char) ('0' + v % 10);
        while ((v /= 10) != 0);
        while (n > 0)
                *p++ = digits[--n];
        return p;
}

static char *put_str(char *p, const char *s) {
        while (*s)
                *p++ = *s++;
        return p;
}

static void print_line(const char *line, const char *end) {
        syscall4(SYS_write, 1, (long) line, end - line, 0);
}

static void say_and_exit(const char *what, long value, int status) {
        char line[96], *p = line;
        p = put_str(p, what);
        if (value < 0) {
                p = put_str(p, " errno=");
                p = put_u64(p, (u64) -value);
        }
        *p++ = '\n';
        print_line(line, p);
        syscall4(SYS_exit_group, status, 0, 0, 0);
}

static int streq(const char *a, const char *b) {
        while (*a && *a == *b)
                a++, b++;
        return *a == *b;
}

static int clock_now(void) {
        char line[32], *p = put_u64(line, now_ns());
        *p++ = '\n';
        print_line(line, p);
        return 0;
}

static int randread(char **argv) {
        u64 blocks = parse_u64(argv[1]) / BLOCK, limit = parse_u64(argv[2]) * 1000000000ul;
        if (blocks == 0)
                say_and_exit("diskbench: SPAN_BYTES below 4096", 0, 2);
        long fd = syscall4(SYS_openat, AT_FDCWD, (long) argv[0], O_RDONLY | O_DIRECT, 0);
        if (fd < 0)
                say_and_exit("diskbench: open failed", fd, 1);
        u64 state = 0x9e3779b97f4a7c15ul, ios = 0, start = now_ns(), elapsed;
        do {
                /* xorshift64: a fixed sequence, the same on every VMM */
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                long r = syscall4(SYS_pread64, fd, (long) buffer, BLOCK, (long) ((state % blocks) * BLOCK));
                if (r != BLOCK)
                        say_and_exit("diskbench: pread failed", r < 0 ? r : -5, 1);
                ios++;
                elapsed = now_ns() - start;
        } while (elapsed < limit);
        char line[64], *p = line;
        p = put_str(p, "ios=");
        p = put_u64(p, ios);
        p = put_str(p, " ns=");
        p = put_u64(p, elapsed);
        *p++ = '\n';
        print_line(line, p);
        return 0;
}

static int run(int argc, char **argv) {
        if (argc == 2 && streq(argv[1], "clock"))
                return clock_now();
        if (argc == 5 && streq(argv[1], "randread"))
                return randread(argv + 2);
        say_and_exit("usage: diskbench clock | diskbench randread DEVICE SPAN_BYTES SECONDS", 0, 2);
        return 2;
}

/* The kernel enters with sp -> argc, argv[0..argc-1], NULL, envp... */
void start_c(long *sp) {
        syscall4(SYS_exit_group, run((int) sp[0], (char **) (sp + 1)), 0, 0, 0);
}

__asm__(".global _start\n"
        "_start:\n"
        "        mov x0, sp\n"
        "        bl start_c\n");
