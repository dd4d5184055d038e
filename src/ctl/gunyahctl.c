/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "ctl-varlink.h"
#include "gunyahctl.h"
#include "macro.h"

/* Every verb group; the first match wins, so names must be unique. */
static const CtlVerb *const verb_tables[] = {
        ctl_status_verbs,
        ctl_lifecycle_verbs,
        ctl_console_verbs,
        ctl_vsock_verbs,
        ctl_events_verbs,
        ctl_offline_verbs,
};

CtlArgs ctl_args;

int ctl_usage_error(const char *verb, const char *fmt, ...) {
        va_list ap;
        fprintf(stderr, "gunyahctl: %s%s", verb ?: "", verb ? ": " : "");
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputs("\nTry 'gunyahctl --help'.\n", stderr);
        return CTL_EXIT_USAGE;
}

static const CtlVerb *verb_find(const char *name) {
        for (size_t t = 0; t < ELEMENTSOF(verb_tables); t++)
                for (const CtlVerb *v = verb_tables[t]; v->name; v++)
                        if (streq(v->name, name))
                                return v;
        return NULL;
}

static void help(void) {
        printf("Usage: gunyahctl [OPTIONS] VERB [ARGS...]\n\n"
               "Manage Gunyah virtual machines.\n\nVerbs:\n");
        for (size_t t = 0; t < ELEMENTSOF(verb_tables); t++)
                for (const CtlVerb *v = verb_tables[t]; v->name; v++)
                        printf("  %-8s %-36s %s\n", v->name, v->synopsis, v->help);
        printf("\nOptions:\n"
               "  -h --help                Show this help\n"
               "     --version             Show the version\n"
               "     --json                JSON output (list, status; events: one object a line)\n"
               "     --user                Talk to gunyahd on the session bus\n"
               "     --bus-address=ADDR    Talk to gunyahd on the bus at ADDR (default: system bus)\n"
               "     --varlink[=PATH]      Talk to gunyahd over varlink at PATH instead of D-Bus\n"
               "                           (default: " CTL_VARLINK_DEFAULT_PATH "; not for console)\n"
               "\nExit status:\n"
               "  0  success\n"
               "  1  failure, or invalid input (spec, kernel image), or an error from gunyahd\n"
               "  2  usage error\n"
               "  3  gunyahd unreachable (no bus, nobody owns org.gunyah.Manager1, no varlink socket)\n"
               "  4  the VM ended abnormally (start --wait: anything but poweroff or shutdown)\n");
}

int main(int argc, char *argv[]) {
        enum { ARG_VERSION = 0x100, ARG_JSON, ARG_USER, ARG_BUS_ADDRESS, ARG_VARLINK };
        static const struct option options[] = {
                { "help", no_argument, NULL, 'h' },
                { "version", no_argument, NULL, ARG_VERSION },
                { "json", no_argument, NULL, ARG_JSON },
                { "user", no_argument, NULL, ARG_USER },
                { "bus-address", required_argument, NULL, ARG_BUS_ADDRESS },
                { "varlink", optional_argument, NULL, ARG_VARLINK },
                {}
        };
        int c;

        /* "+": stop at the verb, whose own options come after it. */
        while ((c = getopt_long(argc, argv, "+h", options, NULL)) >= 0)
                switch (c) {
                case 'h':
                        help();
                        return CTL_EXIT_SUCCESS;
                case ARG_VERSION:
                        printf("gunyahctl %s\n", PACKAGE_VERSION);
                        return CTL_EXIT_SUCCESS;
                case ARG_JSON:
                        ctl_args.json = true;
                        break;
                case ARG_USER:
                        ctl_args.user = true;
                        break;
                case ARG_BUS_ADDRESS:
                        ctl_args.bus_address = optarg;
                        break;
                case ARG_VARLINK:
                        if (optarg && !optarg[0])
                                return ctl_usage_error(NULL, "--varlink= needs a socket path");
                        ctl_args.varlink_path = optarg ?: CTL_VARLINK_DEFAULT_PATH;
                        break;
                default:
                        return CTL_EXIT_USAGE; /* getopt printed why */
                }

        if (ctl_args.user && ctl_args.bus_address)
                return ctl_usage_error(NULL, "--user and --bus-address exclude each other");
        if (optind >= argc)
                return ctl_usage_error(NULL, "missing verb");
        const CtlVerb *v = verb_find(argv[optind]);
        if (!v)
                return ctl_usage_error(NULL, "unknown verb '%s'", argv[optind]);

        int verb_index = optind;
        optind = 0; /* a fresh getopt_long scan for the verb's own options */
        return v->run(argc - verb_index, argv + verb_index);
}
