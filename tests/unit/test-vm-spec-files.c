/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <endian.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <libfdt.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "boot-images.h"
#include "fileio.h"
#include "macro.h"
#include "vm-spec-assert.h"
#include "vm-spec.h"

/* The image-path policy: relative paths, GUNYAH_IMAGE_PATH, file checks. */

typedef struct TmpDir {
        char path[PATH_MAX];
        char cwd[PATH_MAX];
} TmpDir;

static void write_text(const char *dir, const char *name, const char *text) {
        char p[PATH_MAX * 2];
        int fd;

        snprintf(p, sizeof(p), "%s/%s", dir, name);
        fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        assert_true(fd >= 0);
        assert_int_equal(loop_write(fd, text, strlen(text)), 0);
        close(fd);
}

static int tmpdir_setup(void **state) {
        TmpDir *t = calloc(1, sizeof(*t));
        char tmpl[] = "/tmp/test-vm-spec-XXXXXX";

        if (!t || !mkdtemp(tmpl) || !realpath(tmpl, t->path) || !getcwd(t->cwd, sizeof(t->cwd)))
                return -1;
        /* Reachable by an unprivileged uid for the unreadable-file test. */
        (void) chmod(t->path, 0755);
        *state = t;
        return 0;
}

static int tmpdir_teardown(void **state) {
        TmpDir *t = *state;
        char cmd[PATH_MAX + 32];

        unsetenv("GUNYAH_IMAGE_PATH");
        if (chdir(t->cwd) < 0)
                return -1;
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t->path);
        if (system(cmd) != 0)
                return -1;
        free(t);
        return 0;
}

static char *spec_with_kernel(const char *kernel_json, const char *extra) {
        char *json;

        assert_true(asprintf(&json, "{\"name\": \"t\", \"kernel\": %s%s}", kernel_json, extra) > 0);
        return json;
}

static void file_check_fails(const char *kernel_json, const char *extra, const char *path, const char *substring) {
        _cleanup_free_ char *json = spec_with_kernel(kernel_json, extra);

        parse_fails_len(json, strlen(json), 0, -EINVAL, path, substring);
}

static void test_spec_file_checks(void **state) {
        TmpDir *t = *state;
        _cleanup_free_ char *ok = NULL, *missing = NULL, *dir = NULL, *with_initrd = NULL, *bad_initrd = NULL;
        VmSpec *s;

        write_text(t->path, "k.bin", "kernel");
        write_text(t->path, "i.img", "initrd");
        assert_true(asprintf(&ok, "{\"path\": \"%s/k.bin\"}", t->path) > 0);
        assert_true(asprintf(&missing, "\"%s/missing.bin\"", t->path) > 0);
        assert_true(asprintf(&dir, "{\"path\": \"%s\"}", t->path) > 0);
        assert_true(asprintf(&with_initrd, ", \"initrd\": \"%s/i.img\"", t->path) > 0);
        assert_true(asprintf(&bad_initrd, ", \"initrd\": \"%s/nope.img\"", t->path) > 0);

        _cleanup_free_ char *json = spec_with_kernel(ok, with_initrd);
        s = parse_ok_flags(json, 0);
        vm_spec_free(s);

        file_check_fails(missing, "", "kernel", "No such file or directory");
        file_check_fails(missing, "", "kernel", "missing.bin");
        file_check_fails(dir, "", "kernel.path", "must be a regular file, but it is a directory");
        file_check_fails(ok, bad_initrd, "initrd", "nope.img\": No such file or directory");
        file_check_fails("\"/dev/null\"", "", "kernel", "must be a regular file");

        /* The same documents pass when the checks are skipped. */
        _cleanup_free_ char *json2 = spec_with_kernel(missing, bad_initrd);
        s = parse_ok(json2);
        vm_spec_free(s);
}

/* Root reads a mode-000 file anyway; a child that dropped to an
 * unprivileged uid cannot, so the check is tested there. */
static void test_spec_refuses_unreadable_file(void **state) {
        TmpDir *t = *state;
        _cleanup_free_ char *kernel = NULL, *json = NULL;
        char file[PATH_MAX * 2];
        int status;
        pid_t pid;

        write_text(t->path, "secret.bin", "kernel");
        snprintf(file, sizeof(file), "%s/secret.bin", t->path);
        assert_int_equal(chmod(file, 0), 0);
        assert_true(asprintf(&kernel, "\"%s\"", file) > 0);
        json = spec_with_kernel(kernel, "");

        if (access(file, R_OK) < 0) {
                parse_fails_len(json, strlen(json), 0, -EINVAL, "kernel", "Permission denied");
                return;
        }

        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                VmSpecError e = {};
                VmSpec *s = NULL;
                int r;

                if (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0 ||
                    setresuid(65534, 65534, 65534) < 0)
                        _exit(77);
                r = vm_spec_parse(json, strlen(json), 0, &s, &e);
                _exit(r == -EINVAL && streq(e.path, "kernel") && strstr(e.message, "Permission denied") ? 0 : 1);
        }
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        if (WEXITSTATUS(status) == 77) {
                /* No uid to drop to (e.g. a user namespace): at least show the
                 * check runs at all, through the paths root cannot open. */
                file_check_fails("\"/nonexistent/k\"", "", "kernel", "No such file or directory");
                return;
        }
        if (WEXITSTATUS(status) != 0)
                fail_msg("an unprivileged parser accepted the mode-000 kernel %s", file);
}

static void test_spec_load_file_resolves_relative_paths(void **state) {
        TmpDir *t = *state;
        char sub[PATH_MAX * 2], spec_path[PATH_MAX * 3], expected[PATH_MAX * 3];
        VmSpecError e = {};
        VmSpec *s = NULL;

        snprintf(sub, sizeof(sub), "%s/sub", t->path);
        assert_int_equal(mkdir(sub, 0755), 0);
        write_text(sub, "k.bin", "kernel");
        write_text(sub, "i.img", "initrd");
        write_text(sub, "spec.json", "{\"name\": \"t\", \"kernel\": \"k.bin\", \"initrd\": \"i.img\"}");
        snprintf(spec_path, sizeof(spec_path), "%s/spec.json", sub);

        /* From elsewhere: paths are relative to the spec file, not the cwd. */
        assert_int_equal(chdir("/"), 0);
        assert_int_equal(vm_spec_load_file(spec_path, 0, &s, &e), 0);
        snprintf(expected, sizeof(expected), "%s/k.bin", sub);
        assert_string_equal(s->kernel.path, expected);
        snprintf(expected, sizeof(expected), "%s/i.img", sub);
        assert_string_equal(s->initrd, expected);
        s = vm_spec_free(s);

        /* A relative spec path gives absolute image paths too. */
        assert_int_equal(chdir(t->path), 0);
        assert_int_equal(vm_spec_load_file("sub/spec.json", 0, &s, &e), 0);
        snprintf(expected, sizeof(expected), "%s/sub/k.bin", t->path);
        assert_string_equal(s->kernel.path, expected);
        s = vm_spec_free(s);

        /* vm_spec_parse() resolves against the current directory. */
        static const char doc[] = "{\"name\": \"t\", \"kernel\": \"sub/k.bin\", \"initrd\": \"sub/i.img\"}";
        assert_int_equal(vm_spec_parse(doc, strlen(doc), 0, &s, &e), 0);
        assert_string_equal(s->kernel.path, expected);
        snprintf(expected, sizeof(expected), "%s/sub/i.img", t->path);
        assert_string_equal(s->initrd, expected);
        vm_spec_free(s);
}

static void test_spec_load_file_errors(void **state) {
        TmpDir *t = *state;
        char p[PATH_MAX * 2];
        VmSpecError e = {};
        VmSpec *s = (VmSpec *) 0x1;
        _cleanup_free_ char *big = NULL;

        snprintf(p, sizeof(p), "%s/none.json", t->path);
        assert_int_equal(vm_spec_load_file(p, 0, &s, &e), -ENOENT);
        assert_non_null(strstr(e.message, "cannot read spec file"));
        assert_ptr_equal(s, (VmSpec *) 0x1);

        write_text(t->path, "bad.json", "{\"name\": \"t\", \"kernel\": \"k\", \"vcpus\": \"2\"}");
        snprintf(p, sizeof(p), "%s/bad.json", t->path);
        assert_int_equal(vm_spec_load_file(p, VM_SPEC_SKIP_FILE_CHECKS, &s, &e), -EINVAL);
        assert_string_equal(e.path, "vcpus");
        assert_string_equal(e.message, "must be an integer, got string");

        big = malloc(VM_SPEC_SIZE_MAX + 2);
        assert_non_null(big);
        memset(big, ' ', VM_SPEC_SIZE_MAX + 1);
        memcpy(big, SPEC0, strlen(SPEC0));
        big[VM_SPEC_SIZE_MAX + 1] = '\0';
        write_text(t->path, "big.json", big);
        snprintf(p, sizeof(p), "%s/big.json", t->path);
        assert_int_equal(vm_spec_load_file(p, VM_SPEC_SKIP_FILE_CHECKS, &s, &e), -E2BIG);
        assert_non_null(strstr(e.message, "larger than the 1 MiB"));
        assert_ptr_equal(s, (VmSpec *) 0x1);
}

static void test_spec_image_path_search(void **state) {
        TmpDir *t = *state;
        char specs[PATH_MAX * 2], images[PATH_MAX * 2], spec_path[PATH_MAX * 3], expected[PATH_MAX * 3];
        char env[PATH_MAX * 3];
        VmSpecError e = {};
        VmSpec *s = NULL;

        snprintf(specs, sizeof(specs), "%s/specs", t->path);
        snprintf(images, sizeof(images), "%s/images", t->path);
        assert_int_equal(mkdir(specs, 0755), 0);
        assert_int_equal(mkdir(images, 0755), 0);
        write_text(images, "hello.elf", "elf");
        write_text(specs, "hello.json", "{\"name\": \"hello\", \"kernel\": \"hello.elf\"}");
        snprintf(spec_path, sizeof(spec_path), "%s/hello.json", specs);

        /* Not next to the spec and no search path: refused, naming where it looked. */
        unsetenv("GUNYAH_IMAGE_PATH");
        assert_int_equal(vm_spec_load_file(spec_path, 0, &s, &e), -EINVAL);
        snprintf(expected, sizeof(expected), "%s/hello.elf", specs);
        assert_non_null(strstr(e.message, expected));

        /* Found in the second directory of the search path. */
        snprintf(env, sizeof(env), "/nonexistent::%s", images);
        assert_int_equal(setenv("GUNYAH_IMAGE_PATH", env, 1), 0);
        assert_int_equal(vm_spec_load_file(spec_path, 0, &s, &e), 0);
        snprintf(expected, sizeof(expected), "%s/hello.elf", images);
        assert_string_equal(s->kernel.path, expected);
        s = vm_spec_free(s);

        /* Relative search directories are taken from the current directory. */
        assert_int_equal(chdir(t->path), 0);
        assert_int_equal(setenv("GUNYAH_IMAGE_PATH", "images", 1), 0);
        assert_int_equal(vm_spec_load_file(spec_path, 0, &s, &e), 0);
        assert_string_equal(s->kernel.path, expected);
        s = vm_spec_free(s);

        /* A file next to the spec wins over the search path. */
        write_text(specs, "hello.elf", "local");
        assert_int_equal(vm_spec_load_file(spec_path, 0, &s, &e), 0);
        snprintf(expected, sizeof(expected), "%s/hello.elf", specs);
        assert_string_equal(s->kernel.path, expected);
        s = vm_spec_free(s);

        /* Still missing everywhere: the message says the search path was tried. */
        write_text(specs, "other.json", "{\"name\": \"o\", \"kernel\": \"other.elf\"}");
        snprintf(spec_path, sizeof(spec_path), "%s/other.json", specs);
        assert_int_equal(vm_spec_load_file(spec_path, 0, &s, &e), -EINVAL);
        assert_non_null(strstr(e.message, "not found in GUNYAH_IMAGE_PATH either"));

        /* Absolute paths are never searched for. */
        static const char absolute[] = "{\"name\": \"a\", \"kernel\": \"/nonexistent/hello.elf\"}";
        assert_int_equal(vm_spec_parse(absolute, strlen(absolute), 0, &s, &e), -EINVAL);
        assert_non_null(strstr(e.message, "\"/nonexistent/hello.elf\": No such file or directory"));
        assert_null(strstr(e.message, "GUNYAH_IMAGE_PATH"));

        /* A relative path with directories is also found by its file name. */
        write_text(specs, "deep.json", "{\"name\": \"d\", \"kernel\": \"../elsewhere/hello.elf\"}");
        snprintf(spec_path, sizeof(spec_path), "%s/deep.json", specs);
        assert_int_equal(setenv("GUNYAH_IMAGE_PATH", images, 1), 0);
        assert_int_equal(vm_spec_load_file(spec_path, 0, &s, &e), 0);
        snprintf(expected, sizeof(expected), "%s/hello.elf", images);
        assert_string_equal(s->kernel.path, expected);
        s = vm_spec_free(s);
        unsetenv("GUNYAH_IMAGE_PATH");
}

static void test_spec_absolute_paths_flag(void **state) {
        const char *rel = "{\"name\":\"a\",\"kernel\":\"guest.elf\"}";
        const char *rel_initrd = "{\"name\":\"a\",\"kernel\":\"/k.elf\",\"initrd\":\"i.img\"}";
        const char *abs = "{\"name\":\"a\",\"kernel\":\"/k.elf\",\"initrd\":\"/i.img\"}";
        unsigned flags = VM_SPEC_ABSOLUTE_PATHS | VM_SPEC_SKIP_FILE_CHECKS;
        VmSpecError e = {};
        VmSpec *s = NULL;
        assert_int_equal(vm_spec_parse(rel, strlen(rel), flags, &s, &e), -EINVAL);
        assert_string_equal(e.path, "kernel");
        assert_non_null(strstr(e.message, "absolute path"));
        assert_int_equal(vm_spec_parse(rel_initrd, strlen(rel_initrd), flags, &s, &e), -EINVAL);
        assert_string_equal(e.path, "initrd");
        assert_int_equal(vm_spec_parse(abs, strlen(abs), flags, &s, &e), 0);
        assert_string_equal(s->kernel.path, "/k.elf");
        vm_spec_free(s);
        /* without the flag the same relative spec resolves against the cwd */
        assert_int_equal(vm_spec_parse(rel, strlen(rel), VM_SPEC_SKIP_FILE_CHECKS, &s, &e), 0);
        assert_true(s->kernel.path[0] == '/');
        vm_spec_free(s);
}

/* examples/hello.json must stay valid, and find its guest in the build
 * tree, or through GUNYAH_IMAGE_PATH by file name the way other build
 * directories run it. */
static void test_spec_example_hello(void **state) {
        TmpDir *t = *state;
        const char *examples = getenv("GUNYAH_EXAMPLES_DIR") ?: "../../examples";
        char spec_path[PATH_MAX * 2], expected[PATH_MAX * 2];
        VmSpecError e = {};
        VmSpec *s = NULL;
        char buf[600];

        snprintf(spec_path, sizeof(spec_path), "%s/hello.json", examples);
        write_text(t->path, "hello.elf", "elf");
        assert_int_equal(setenv("GUNYAH_IMAGE_PATH", t->path, 1), 0);
        if (vm_spec_load_file(spec_path, 0, &s, &e) < 0)
                fail_msg("%s: %s", spec_path, vm_spec_error_to_string(&e, buf, sizeof(buf)));
        unsetenv("GUNYAH_IMAGE_PATH");
        snprintf(expected, sizeof(expected), "%s/hello.elf", t->path);
        assert_string_equal(s->name, "hello");
        /* the build tree's guest when build/ exists, else the search path's */
        const char *suffix = "/build/tests/guests/hello.elf";
        size_t n = strlen(s->kernel.path);
        if (!(n > strlen(suffix) && streq(s->kernel.path + n - strlen(suffix), suffix)))
                assert_string_equal(s->kernel.path, expected);
        assert_string_equal(s->kernel.cmdline, "console=ttyAMA0");
        assert_int_equal(s->memory.size, 256 * MiB);
        vm_spec_free(s);
}

/* An example spec of the Linux guest set, loaded, and what a start would
 * build from it for a small arm64 Image (the guest set may not be fetched:
 * the kernel and initrd are not checked). */
static VmSpec *load_example(const char *file, VmBootImages **ret_boot) {
        const char *examples = getenv("GUNYAH_EXAMPLES_DIR") ?: "../../examples";
        uint8_t kernel[4096] = {};
        char spec_path[PATH_MAX], err[VM_BOOT_ERROR_MAX] = "";
        uint32_t magic = htole32(VM_IMAGE_ARM64_MAGIC);
        uint64_t image_size = htole64(0x10000);
        VmSpecError e = {};
        VmSpec *s = NULL;
        char buf[600];

        snprintf(spec_path, sizeof(spec_path), "%s/%s", examples, file);
        if (vm_spec_load_file(spec_path, VM_SPEC_SKIP_FILE_CHECKS, &s, &e) < 0)
                fail_msg("%s: %s", spec_path, vm_spec_error_to_string(&e, buf, sizeof(buf)));
        memcpy(kernel + 16, &image_size, sizeof(image_size));
        memcpy(kernel + 56, &magic, sizeof(magic));
        if (vm_boot_images_prepare_from_memory(s, kernel, sizeof(kernel), NULL, 0, true, ret_boot, err, sizeof(err)) < 0)
                fail_msg("%s: %s", spec_path, err);
        return s;
}

/* examples/linux-disk.json: the Linux guest with one disk on shared memory;
 * its devicetree has the disk's virtio-mmio node and no swiotlb pool. */
static void test_spec_example_linux_disk(void **state) {
        _cleanup_(vm_boot_images_freep) VmBootImages *b = NULL;
        VmSpec *s = load_example("linux-disk.json", &b);

        assert_string_equal(s->name, "linux-disk");
        assert_int_equal(s->memory.mode, VM_MEMORY_SHARE);
        assert_int_equal(s->memory.swiotlb, 0);
        assert_int_equal(s->n_disks, 1);
        assert_string_equal(s->disks[0].path, "/var/lib/gunyah/images/linux-disk.img");
        assert_string_equal(s->disks[0].serial, "data0");
        assert_false(s->disks[0].readonly);
        int off = fdt_path_offset(b->dtb, "/virtio_mmio@a000000");
        assert_true(off >= 0);
        assert_int_equal(fdt_node_check_compatible(b->dtb, off, "virtio,mmio"), 0);
        assert_null(fdt_getprop(b->dtb, off, "memory-region", NULL));
        /* No pool in a shared VM; only its lent DTB window is reserved. */
        char window[64];
        snprintf(window, sizeof(window), "/reserved-memory/dtb_window@%" PRIx64, b->layout.dtb_addr);
        assert_true(fdt_path_offset(b->dtb, window) >= 0);
        assert_int_equal(fdt_path_offset(b->dtb, "/reserved-memory/restricted_dma_reserved"), -FDT_ERR_NOTFOUND);
        vm_spec_free(s);
}

/* examples/linux-vsock.json: vsock with CID 3 and rng, their transports in
 * that order in the devicetree. */
static void test_spec_example_linux_vsock(void **state) {
        _cleanup_(vm_boot_images_freep) VmBootImages *b = NULL;
        VmSpec *s = load_example("linux-vsock.json", &b);

        assert_true(s->has_vsock);
        assert_int_equal(s->vsock.cid, 3);
        assert_true(s->rng);
        assert_int_equal(s->memory.mode, VM_MEMORY_SHARE);
        assert_int_equal(b->layout.n_devices, 2);
        assert_int_equal(b->layout.devices[0].kind, VM_DEVICE_VIRTIO_VSOCK);
        assert_int_equal(b->layout.devices[1].kind, VM_DEVICE_VIRTIO_RNG);
        assert_true(fdt_path_offset(b->dtb, "/virtio_mmio@a000000") >= 0);
        assert_true(fdt_path_offset(b->dtb, "/virtio_mmio@a000200") >= 0);
        assert_int_equal(fdt_path_offset(b->dtb, "/virtio_mmio@a000400"), -FDT_ERR_NOTFOUND);
        vm_spec_free(s);
}

/* The offline disk check of gunyahctl validate. */
static void test_spec_check_disks(void **state) {
        TmpDir *t = *state;
        char json[PATH_MAX * 3];
        VmSpecError e = {};
        VmSpec *s;

        snprintf(json, sizeof(json),
                 "{\"name\": \"t\", \"kernel\": \"/k\", \"memory\": {\"mode\": \"share\"},"
                 " \"disks\": [{\"path\": \"%s/a.img\"}, {\"path\": \"%s/b.img\"}]}", t->path, t->path);
        s = parse_ok(json);
        assert_int_equal(vm_spec_check_disks(s, &e), -EINVAL);
        assert_string_equal(e.path, "disks[0].path");
        assert_non_null(strstr(e.message, "disk 0"));
        assert_non_null(strstr(e.message, "/a.img\": no such file"));

        write_text(t->path, "a.img", "");
        assert_int_equal(vm_spec_check_disks(s, &e), -EINVAL);
        assert_string_equal(e.path, "disks[1].path");
        assert_non_null(strstr(e.message, "disk 1"));

        char dir[PATH_MAX * 2];
        snprintf(dir, sizeof(dir), "%s/b.img", t->path);
        assert_int_equal(mkdir(dir, 0700), 0);
        assert_int_equal(vm_spec_check_disks(s, &e), -EINVAL);
        assert_non_null(strstr(e.message, "must be a regular file or a block device, but it is a directory"));
        assert_int_equal(rmdir(dir), 0);

        assert_int_equal(symlink("/dev/null", dir), 0);
        assert_int_equal(vm_spec_check_disks(s, &e), -EINVAL);
        assert_non_null(strstr(e.message, "a character device"));
        assert_int_equal(unlink(dir), 0);

        write_text(t->path, "b.img", "");
        e = (VmSpecError) {};
        assert_int_equal(vm_spec_check_disks(s, &e), 0);
        assert_string_equal(e.message, "");
        vm_spec_free(s);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_spec_absolute_paths_flag),
                cmocka_unit_test_setup_teardown(test_spec_file_checks, tmpdir_setup, tmpdir_teardown),
                cmocka_unit_test_setup_teardown(test_spec_refuses_unreadable_file, tmpdir_setup, tmpdir_teardown),
                cmocka_unit_test_setup_teardown(test_spec_load_file_resolves_relative_paths, tmpdir_setup, tmpdir_teardown),
                cmocka_unit_test_setup_teardown(test_spec_load_file_errors, tmpdir_setup, tmpdir_teardown),
                cmocka_unit_test_setup_teardown(test_spec_image_path_search, tmpdir_setup, tmpdir_teardown),
                cmocka_unit_test_setup_teardown(test_spec_example_hello, tmpdir_setup, tmpdir_teardown),
                cmocka_unit_test(test_spec_example_linux_disk),
                cmocka_unit_test_setup_teardown(test_spec_check_disks, tmpdir_setup, tmpdir_teardown),
                cmocka_unit_test(test_spec_example_linux_vsock),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
