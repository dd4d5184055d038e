/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <termios.h>
#include <unistd.h>

#include "bus-errors.h"
#include "ctl-bus.h"
#include "ctl-console.h"
#include "ctl-watch.h"
#include "fileio.h"
#include "gunyahctl.h"
#include "macro.h"
#include "time-util.h"

/* Output still arriving after the VM ended (queued in the daemon) gets this
 * long of quiet before the console gives up on it. */
#define DRAIN_QUIET_USEC (250 * USEC_PER_MSEC)

struct CtlConsole {
        sd_event *event;
        int fd;
        sd_event_source *fd_source, *stdin_source, *drain_timer;
        bool tty, raw, finished;
        struct termios saved;
        CtlConsoleDone done;
        void *userdata;
};

static void console_finish(CtlConsole *c, bool detached, int r) {
        if (c->finished)
                return;
        c->finished = true;
        c->stdin_source = sd_event_source_disable_unref(c->stdin_source);
        c->fd_source = sd_event_source_disable_unref(c->fd_source);
        c->drain_timer = sd_event_source_disable_unref(c->drain_timer);
        c->done(c, detached, r, c->userdata);
}

static int on_drain_quiet(sd_event_source *s, uint64_t usec, void *userdata) {
        console_finish(userdata, false, 0);
        return 0;
}

static void drain_rearm(CtlConsole *c) {
        if (!c->drain_timer)
                return;
        (void) sd_event_source_set_time_relative(c->drain_timer, DRAIN_QUIET_USEC);
        (void) sd_event_source_set_enabled(c->drain_timer, SD_EVENT_ONESHOT);
}

static int on_console_output(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        CtlConsole *c = userdata;
        char buf[4096];
        ssize_t n;

        n = read(fd, buf, sizeof(buf));
        if (n < 0) {
                if (IN_SET(errno, EAGAIN, EINTR))
                        return 0;
                console_finish(c, false, -errno);
                return 0;
        }
        if (n == 0) {
                console_finish(c, false, 0); /* the daemon closed it */
                return 0;
        }
        if (loop_write(STDOUT_FILENO, buf, (size_t) n) < 0) {
                console_finish(c, false, -errno);
                return 0;
        }
        drain_rearm(c);
        return 0;
}

/* Sends input to the guest; on a terminal Ctrl-] ends it. Returns true when detached. */
static int forward_input(CtlConsole *c, const char *buf, size_t n, bool *ret_detached) {
        const char *detach = c->tty ? memchr(buf, CTL_CONSOLE_DETACH_CHAR, n) : NULL;
        size_t len = detach ? (size_t) (detach - buf) : n;

        *ret_detached = detach != NULL;
        return len > 0 ? loop_write(c->fd, buf, len) : 0;
}

static int on_stdin(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        CtlConsole *c = userdata;
        char buf[4096];
        bool detached;
        ssize_t n;

        n = read(fd, buf, sizeof(buf));
        if (n < 0 && IN_SET(errno, EAGAIN, EINTR))
                return 0;
        if (n <= 0) {
                /* EOF on input: stop reading it, keep printing output. */
                c->stdin_source = sd_event_source_disable_unref(c->stdin_source);
                return 0;
        }
        if (forward_input(c, buf, (size_t) n, &detached) < 0) {
                console_finish(c, false, -errno);
                return 0;
        }
        if (detached)
                console_finish(c, true, 0);
        return 0;
}

/* stdin that epoll cannot watch (a regular file, /dev/null) is copied at once. */
static int copy_stdin_now(CtlConsole *c) {
        char buf[4096];
        ssize_t n;

        while ((n = read(STDIN_FILENO, buf, sizeof(buf))) != 0) {
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (loop_write(c->fd, buf, (size_t) n) < 0)
                        return -errno;
        }
        return 0;
}

static int console_watch_stdin(CtlConsole *c, const char *vm_name) {
        int r;

        if (fcntl(STDIN_FILENO, F_GETFL) < 0)
                return 0; /* no stdin at all: output only */
        c->tty = isatty(STDIN_FILENO);
        if (c->tty && tcgetattr(STDIN_FILENO, &c->saved) >= 0) {
                struct termios raw = c->saved;
                cfmakeraw(&raw);
                if (tcsetattr(STDIN_FILENO, TCSANOW, &raw) >= 0)
                        c->raw = true;
                fprintf(stderr, "Connected to the console of VM %s. Press Ctrl-] to detach.\r\n", vm_name);
        }
        r = sd_event_add_io(c->event, &c->stdin_source, STDIN_FILENO, EPOLLIN, on_stdin, c);
        if (r == -EPERM)
                return copy_stdin_now(c);
        return r;
}

int ctl_console_open(sd_bus *bus, sd_event *event, const char *path, const char *vm_name, CtlConsoleDone done,
                     void *userdata, sd_bus_error *error, CtlConsole **ret) {
        _cleanup_(sd_bus_message_unrefp) sd_bus_message *reply = NULL;
        _cleanup_(ctl_console_freep) CtlConsole *c = NULL;
        int fd, r;

        r = sd_bus_call_method(bus, GUNYAH_BUS_NAME, path, GUNYAH_VM_INTERFACE, "OpenConsole", error, &reply, NULL);
        if (r < 0)
                return r;
        r = sd_bus_message_read(reply, "h", &fd);
        if (r < 0)
                return r;
        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->event = sd_event_ref(event);
        c->done = done;
        c->userdata = userdata;
        c->fd = fcntl(fd, F_DUPFD_CLOEXEC, 3); /* the reply owns fd */
        if (c->fd < 0)
                return -errno;
        r = sd_event_add_io(event, &c->fd_source, c->fd, EPOLLIN, on_console_output, c);
        if (r < 0)
                return r;
        r = console_watch_stdin(c, vm_name);
        if (r < 0)
                return r;
        *ret = TAKE_PTR(c);
        return 0;
}

void ctl_console_drain(CtlConsole *c) {
        if (c->finished || c->drain_timer)
                return;
        if (sd_event_add_time_relative(c->event, &c->drain_timer, CLOCK_MONOTONIC, DRAIN_QUIET_USEC, 0,
                                       on_drain_quiet, c) < 0)
                console_finish(c, false, 0);
}

CtlConsole *ctl_console_free(CtlConsole *c) {
        if (!c)
                return NULL;
        if (c->raw)
                (void) tcsetattr(STDIN_FILENO, TCSANOW, &c->saved);
        sd_event_source_disable_unref(c->stdin_source);
        sd_event_source_disable_unref(c->fd_source);
        sd_event_source_disable_unref(c->drain_timer);
        safe_close(c->fd);
        sd_event_unref(c->event);
        free(c);
        return NULL;
}

/* ---- the console verb ---- */

typedef struct ConsoleRun {
        CtlConsole *console;
        sd_event *event;
        bool detached;
        int exit;
} ConsoleRun;

static void on_console_done(CtlConsole *c, bool detached, int r, void *userdata) {
        ConsoleRun *run = userdata;
        run->detached = detached;
        if (r < 0)
                fprintf(stderr, "gunyahctl: console: %s\n", strerror(-r));
        (void) sd_event_exit(run->event, r < 0 ? CTL_EXIT_FAILURE : run->exit);
}

static void on_vm_end(CtlWatch *w, CtlWatchEnd end, void *userdata) {
        ConsoleRun *run = userdata;
        if (end == CTL_WATCH_DAEMON_GONE)
                run->exit = CTL_EXIT_UNREACHABLE;
        if (run->console)
                ctl_console_drain(run->console);
        else
                (void) sd_event_exit(run->event, run->exit);
}

static int verb_console(int argc, char *argv[]) {
        static const struct option options[] = { {} };
        _cleanup_(sd_bus_error_free) sd_bus_error error = SD_BUS_ERROR_NULL;
        _cleanup_(sd_bus_unrefp) sd_bus *bus = NULL;
        _cleanup_(sd_event_unrefp) sd_event *event = NULL;
        _cleanup_(ctl_watch_freep) CtlWatch *watch = NULL;
        _cleanup_(ctl_console_freep) CtlConsole *console = NULL;
        _cleanup_free_ char *path = NULL, *what = NULL;
        ConsoleRun run = {};
        int r, code;

        if (getopt_long(argc, argv, "", options, NULL) >= 0)
                return CTL_EXIT_USAGE;
        if (argc - optind != 1)
                return ctl_usage_error(argv[0], "expected exactly one NAME");
        const char *name = argv[optind];
        if (ctl_args.varlink_path)
                return ctl_usage_error(argv[0], "the console needs D-Bus: it is a file descriptor, which varlink "
                                       "cannot pass; drop --varlink");
        if (asprintf(&what, "console %s", name) < 0)
                return CTL_EXIT_FAILURE;
        r = ctl_bus_connect(what, &bus);
        if (r < 0)
                return -r;
        r = ctl_event_new(bus, CTL_EXIT_SUCCESS, &event);
        if (r < 0)
                return ctl_bus_report(what, NULL, r);
        run.event = event;
        r = ctl_bus_vm_path(bus, name, &error, &path);
        if (r >= 0)
                r = ctl_watch_new(bus, path, on_vm_end, &run, &watch);
        if (r >= 0)
                r = ctl_console_open(bus, event, path, name, on_console_done, &run, &error, &console);
        if (r < 0)
                return ctl_bus_report(what, &error, r);
        run.console = console;
        /* A VM that is not running only has its buffered output to replay. */
        r = ctl_watch_check(watch, true);
        if (r < 0)
                return ctl_bus_report(what, &error, r);
        if (!watch->ended && streq(watch->state, "defined"))
                ctl_console_drain(console);

        r = sd_event_loop(event);
        code = r < 0 ? CTL_EXIT_FAILURE : r ?: run.exit;
        console = ctl_console_free(console); /* the terminal back before the message */
        if (run.detached)
                fprintf(stderr, "Detached from the console of VM %s; it keeps running.\n", name);
        return code;
}

const CtlVerb ctl_console_verbs[] = {
        { "console", "NAME", "Attach to a VM's serial console (Ctrl-] detaches)", verb_console },
        {}
};
