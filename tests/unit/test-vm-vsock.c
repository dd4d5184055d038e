/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vm-vsock.c: the per-VM directory and listening socket (modes, a stale
 * socket, cleanup that leaves host applications' sockets), the broker's
 * connects to vsock_P, CIDs held by other instances, --vsock-group. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "macro.h"
#include "manager.h"
#include "vm-instance.h"
#include "vm-vsock.h"
#include "vm.h"

typedef struct Fixture {
        char root[64];
        Manager m;
        Vm a, b;
        VmInstance ia, ib;
} Fixture;

static int setup(void **state) {
        Fixture *f = calloc(1, sizeof(*f));

        assert_non_null(f);
        snprintf(f->root, sizeof(f->root), "/tmp/test-vm-vsock-XXXXXX");
        assert_non_null(mkdtemp(f->root));
        f->m.runtime_dir = f->root;
        f->m.vsock_gid = (gid_t) -1;
        assert_int_equal(hashmap_new(&f->m.vms), 0);
        f->a = (Vm) { .manager = &f->m, .name = (char *) "a", .state = VM_STATE_DEFINED };
        f->b = (Vm) { .manager = &f->m, .name = (char *) "b", .state = VM_STATE_RUNNING, .instance = &f->ib };
        f->ib = (VmInstance) { .vm = &f->b, .vsock_cid = 7 };
        assert_int_equal(hashmap_put(f->m.vms, "a", &f->a), 0);
        assert_int_equal(hashmap_put(f->m.vms, "b", &f->b), 0);
        *state = f;
        return 0;
}

static int teardown(void **state) {
        Fixture *f = *state;
        char cmd[128];

        hashmap_free(f->m.vms);
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->root);
        assert_int_equal(system(cmd), 0);
        free(f);
        return 0;
}

static mode_t mode_of(const char *dir, const char *file) {
        char path[256];
        struct stat st;

        snprintf(path, sizeof(path), "%s%s%s", dir, file ? "/" : "", file ?: "");
        if (stat(path, &st) < 0)
                return (mode_t) -1;
        return st.st_mode;
}

static int listener(const char *dir, const char *file, bool do_listen) {
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

        assert_true(fd >= 0);
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s", dir, file);
        assert_int_equal(bind(fd, (struct sockaddr *) &sa, sizeof(sa)), 0);
        if (do_listen)
                assert_int_equal(listen(fd, 4), 0);
        return fd;
}

static void test_open_makes_a_closed_directory_and_a_listening_socket(void **state) {
        Fixture *f = *state;
        char errbuf[256] = "", *dir = NULL;
        int fd = -1, c;

        assert_int_equal(vm_vsock_open(&f->a, &dir, &fd, errbuf, sizeof(errbuf)), 0);
        assert_true(strstr(dir, "/vms/a") != NULL);
        assert_true(S_ISDIR(mode_of(dir, NULL)) && (mode_of(dir, NULL) & 07777) == 0700);
        assert_true(S_ISSOCK(mode_of(dir, "vsock")) && (mode_of(dir, "vsock") & 07777) == 0600);
        assert_int_equal(mode_of(f->root, "vms") & 07777, 0755);
        assert_true(fcntl(fd, F_GETFL) & O_NONBLOCK);
        /* it listens: a client connects without anyone accepting */
        c = socket(AF_UNIX, SOCK_STREAM, 0);
        struct sockaddr_un sa = { .sun_family = AF_UNIX };
        snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/vsock", dir);
        assert_int_equal(connect(c, (struct sockaddr *) &sa, sizeof(sa)), 0);
        close(c);
        close(fd);
        free(dir);

        /* A daemon that died left it: the next start replaces it. */
        assert_int_equal(vm_vsock_open(&f->a, &dir, &fd, errbuf, sizeof(errbuf)), 0);
        close(fd);
        vm_vsock_close(dir);
        assert_int_equal(mode_of(dir, NULL), (mode_t) -1);
        free(dir);
}

static void test_close_leaves_host_sockets_and_their_directory(void **state) {
        Fixture *f = *state;
        char errbuf[256] = "", *dir = NULL;
        int fd = -1, app;

        assert_int_equal(vm_vsock_open(&f->a, &dir, &fd, errbuf, sizeof(errbuf)), 0);
        app = listener(dir, "vsock_5000", true);
        close(fd);
        vm_vsock_close(dir);
        assert_int_equal(mode_of(dir, "vsock"), (mode_t) -1);
        assert_true(S_ISSOCK(mode_of(dir, "vsock_5000")));
        close(app);
        vm_vsock_close(NULL); /* nothing to do */
        free(dir);
}

static void test_broker_connects_only_to_a_listener(void **state) {
        Fixture *f = *state;
        int app = listener(f->root, "vsock_5000", true), deaf = listener(f->root, "vsock_6000", false), fd = -1;
        char path[128];

        assert_int_equal(vm_vsock_connect_host(f->root, 5000, &fd), 0);
        assert_true(fcntl(fd, F_GETFL) & O_NONBLOCK); /* the device's loop never blocks on it */
        close(fd);
        assert_int_equal(vm_vsock_connect_host(f->root, 6000, &fd), -ECONNREFUSED);
        assert_int_equal(vm_vsock_connect_host(f->root, 7000, &fd), -ENOENT);
        /* not a socket: refused as nothing listening */
        snprintf(path, sizeof(path), "%s/vsock_8000", f->root);
        close(open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600));
        assert_int_equal(vm_vsock_connect_host(f->root, 8000, &fd), -ECONNREFUSED);
        assert_int_equal(vm_vsock_connect_host(f->root, 4294967295u, &fd), -ENOENT);
        close(app);
        close(deaf);
}

static void test_a_cid_held_by_another_instance_is_refused(void **state) {
        Fixture *f = *state;
        char errbuf[256] = "";

        assert_int_equal(vm_vsock_check_cid(&f->a, 7, errbuf, sizeof(errbuf)), -EADDRINUSE);
        assert_string_equal(errbuf, "vsock.cid 7 is taken by VM b, which is running; a CID belongs to one running VM");
        assert_int_equal(vm_vsock_check_cid(&f->a, 8, errbuf, sizeof(errbuf)), 0);
        /* its own instance never conflicts with itself */
        assert_int_equal(vm_vsock_check_cid(&f->b, 7, errbuf, sizeof(errbuf)), 0);
        /* a VM without an instance (stopped) holds nothing */
        f->b.instance = NULL;
        assert_int_equal(vm_vsock_check_cid(&f->a, 7, errbuf, sizeof(errbuf)), 0);
}

static void test_group_resolution(void **state) {
        gid_t gid = 0;

        assert_int_equal(vm_vsock_resolve_group(NULL, &gid), 0);
        assert_int_equal(gid, (gid_t) -1);
        assert_int_equal(vm_vsock_resolve_group("65534", &gid), 0);
        assert_int_equal(gid, 65534);
        assert_int_equal(vm_vsock_resolve_group("root", &gid), 0);
        assert_int_equal(gid, 0);
        assert_int_equal(vm_vsock_resolve_group("no-such-group-gunyah", &gid), -ENOENT);
}

/* With --vsock-group the group gets the directory (setgid) and the socket. */
static void test_group_modes(void **state) {
        Fixture *f = *state;
        char errbuf[256] = "", *dir = NULL;
        struct stat st;
        int fd = -1;

        if (geteuid() != 0)
                skip();
        f->m.vsock_gid = 65534;
        assert_int_equal(vm_vsock_open(&f->a, &dir, &fd, errbuf, sizeof(errbuf)), 0);
        assert_int_equal(stat(dir, &st), 0);
        assert_int_equal(st.st_mode & 07777, 02770);
        assert_int_equal(st.st_gid, 65534);
        assert_int_equal(mode_of(dir, "vsock") & 07777, 0660);
        close(fd);
        vm_vsock_close(dir);
        free(dir);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_open_makes_a_closed_directory_and_a_listening_socket, setup, teardown),
                cmocka_unit_test_setup_teardown(test_close_leaves_host_sockets_and_their_directory, setup, teardown),
                cmocka_unit_test_setup_teardown(test_broker_connects_only_to_a_listener, setup, teardown),
                cmocka_unit_test_setup_teardown(test_a_cid_held_by_another_instance_is_refused, setup, teardown),
                cmocka_unit_test(test_group_resolution),
                cmocka_unit_test_setup_teardown(test_group_modes, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
