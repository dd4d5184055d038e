/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>

/*
 * gunyahctl verbs. Each ctl-*.c file exports one table of verbs, terminated
 * by an entry with a NULL name, and gunyahctl.c lists the tables: adding a
 * group of verbs (e.g. the D-Bus ones) is a new file plus one line there.
 */

/* Exit codes, documented in --help and the man page. */
enum {
        CTL_EXIT_SUCCESS = 0,
        CTL_EXIT_FAILURE = 1,     /* the operation failed or the input is invalid */
        CTL_EXIT_USAGE = 2,       /* bad command line */
        CTL_EXIT_UNREACHABLE = 3, /* gunyahd could not be reached */
        CTL_EXIT_VM_ABNORMAL = 4, /* the VM ended abnormally (crash, killed) */
};

typedef struct CtlVerb {
        const char *name;
        const char *synopsis; /* arguments and options, for --help: "FILE [-o OUT]" */
        const char *help;     /* one line */
        /* argv[0] is the verb; parse the rest with getopt_long (optind is
         * reset before the call). Returns a CTL_EXIT_* code. */
        int (*run)(int argc, char *argv[]);
} CtlVerb;

extern const CtlVerb ctl_offline_verbs[]; /* ctl-offline.c: validate, dtb */
extern const CtlVerb ctl_status_verbs[];  /* ctl-status.c: list, status */
extern const CtlVerb ctl_lifecycle_verbs[]; /* ctl-lifecycle.c: create, start, stop, kill, destroy */
extern const CtlVerb ctl_console_verbs[]; /* ctl-console.c: console */
extern const CtlVerb ctl_events_verbs[];  /* ctl-events.c: events */
extern const CtlVerb ctl_vsock_verbs[];   /* ctl-vsock.c: vsock */

/* Global options, given before the verb (--json also after it). */
typedef struct CtlArgs {
        bool json;               /* --json: machine-readable output */
        bool user;               /* --user: the session bus */
        const char *bus_address; /* --bus-address=ADDR, or NULL for the system bus */
        const char *varlink_path; /* --varlink[=PATH]: the online verbs use varlink; NULL: D-Bus */
} CtlArgs;
extern CtlArgs ctl_args;

/* Prints "gunyahctl: <verb>: message" and returns CTL_EXIT_USAGE. */
int ctl_usage_error(const char *verb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
