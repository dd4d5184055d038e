/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Verbs that need no daemon: they read a spec file and act on it locally. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "boot-images.h"
#include "fileio.h"
#include "gunyahctl.h"
#include "macro.h"
#include "vm-spec.h"

extern char **environ;

/* Loads a spec, printing "FILE: path: message" on failure. */
static int load_spec(const char *file, VmSpec **ret) {
        VmSpecError error = {};
        char buf[sizeof(error.path) + sizeof(error.message) + 2];
        int r = vm_spec_load_file(file, 0, ret, &error);
        if (r < 0) {
                if (error.message[0])
                        fprintf(stderr, "%s: %s\n", file, vm_spec_error_to_string(&error, buf, sizeof(buf)));
                else
                        fprintf(stderr, "%s: %s\n", file, strerror(-r));
        }
        return r;
}

/* Verbs without options still go through getopt, so "--" and stray
 * options behave like everywhere else. Returns the index of the first
 * positional argument or -1 after printing a usage error. */
static int parse_no_options(int argc, char *argv[]) {
        static const struct option options[] = { {} };
        if (getopt_long(argc, argv, "", options, NULL) >= 0)
                return -1;
        return optind;
}

static int verb_validate(int argc, char *argv[]) {
        _cleanup_(vm_spec_freep) VmSpec *spec = NULL;
        _cleanup_free_ char *json = NULL;
        VmSpecError error = {};
        char buf[sizeof(error.path) + sizeof(error.message) + 2];
        int i = parse_no_options(argc, argv);

        if (i < 0)
                return CTL_EXIT_USAGE;
        if (argc - i != 1)
                return ctl_usage_error(argv[0], "expected exactly one FILE");
        if (load_spec(argv[i], &spec) < 0)
                return CTL_EXIT_FAILURE;
        /* The daemon opens the disks only at start; say now if one is missing. */
        if (vm_spec_check_disks(spec, &error) < 0) {
                fprintf(stderr, "%s: %s\n", argv[i], vm_spec_error_to_string(&error, buf, sizeof(buf)));
                return CTL_EXIT_FAILURE;
        }
        if (vm_spec_to_json(spec, &json) < 0) {
                fprintf(stderr, "%s: cannot serialize the spec: out of memory\n", argv[i]);
                return CTL_EXIT_FAILURE;
        }
        fputs(json, stdout);
        if (json[0] && json[strlen(json) - 1] != '\n')
                fputc('\n', stdout);
        return fflush(stdout) == 0 ? CTL_EXIT_SUCCESS : CTL_EXIT_FAILURE;
}

/* Feeds the blob to "dtc -I dtb -O dts" writing to our stdout. */
static int dtb_decompile(const void *blob, size_t size) {
        char *const dtc_argv[] = { (char *) "dtc", (char *) "-I", (char *) "dtb", (char *) "-O", (char *) "dts",
                                   /* -q: the RM demands a u32 label and a unit-less /memory, which dtc warns about */
                                   (char *) "-q",
                                   (char *) "-", NULL };
        posix_spawn_file_actions_t fa;
        int pipefd[2], r, status;
        pid_t pid;

        if (pipe2(pipefd, O_CLOEXEC) < 0)
                return -errno;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, pipefd[0], STDIN_FILENO);
        fflush(stdout);
        r = posix_spawnp(&pid, "dtc", &fa, NULL, dtc_argv, environ);
        posix_spawn_file_actions_destroy(&fa);
        close(pipefd[0]);
        if (r != 0) {
                close(pipefd[1]);
                if (r == ENOENT)
                        fprintf(stderr, "gunyahctl: dtb: dtc not found in PATH; install the device-tree-compiler "
                                "package, or write the blob with -o FILE\n");
                else
                        fprintf(stderr, "gunyahctl: dtb: cannot run dtc: %s\n", strerror(r));
                return -r;
        }
        r = loop_write(pipefd[1], blob, size);
        close(pipefd[1]);
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return -errno;
        if (r < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
                fprintf(stderr, "gunyahctl: dtb: dtc failed\n");
                return -EIO;
        }
        return 0;
}

static int verb_dtb(int argc, char *argv[]) {
        static const struct option options[] = {
                { "output", required_argument, NULL, 'o' },
                {}
        };
        _cleanup_(vm_spec_freep) VmSpec *spec = NULL;
        _cleanup_(vm_boot_images_freep) VmBootImages *b = NULL;
        const char *output = NULL;
        char err[VM_BOOT_ERROR_MAX];
        int c, r;

        while ((c = getopt_long(argc, argv, "o:", options, NULL)) >= 0)
                switch (c) {
                case 'o':
                        output = optarg;
                        break;
                default:
                        return CTL_EXIT_USAGE;
                }
        if (argc - optind != 1)
                return ctl_usage_error(argv[0], "expected exactly one FILE");
        const char *file = argv[optind];

        if (load_spec(file, &spec) < 0)
                return CTL_EXIT_FAILURE;
        /* As the daemon boots it on a kernel with SET_BOOT_CONTEXT. */
        r = vm_boot_images_prepare(spec, true, &b, err, sizeof(err));
        if (r < 0) {
                fprintf(stderr, "%s: %s\n", file, err);
                return CTL_EXIT_FAILURE;
        }

        if (!output)
                return dtb_decompile(b->dtb, b->dtb_size) < 0 ? CTL_EXIT_FAILURE : CTL_EXIT_SUCCESS;
        if (streq(output, "-"))
                r = loop_write(STDOUT_FILENO, b->dtb, b->dtb_size);
        else
                r = write_file_atomic(output, b->dtb, b->dtb_size, 0644);
        if (r < 0) {
                fprintf(stderr, "gunyahctl: dtb: cannot write %s: %s\n", output, strerror(-r));
                return CTL_EXIT_FAILURE;
        }
        return CTL_EXIT_SUCCESS;
}

const CtlVerb ctl_offline_verbs[] = {
        { "validate", "FILE", "Check a VM spec (and that its disks exist) and print it normalized", verb_validate },
        { "dtb", "FILE [-o OUT.dtb]", "Build the guest devicetree (as dts, or a blob to OUT; - is stdout)",
          verb_dtb },
        {}
};
