/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "console.h"
#include "fileio.h"
#include "log.h"
#include "macro.h"

typedef struct ConsoleClient {
        Console *console;
        int fd;
        sd_event_source *source;
        char *queue; /* bytes not yet written to the reader */
        size_t queued;
        size_t dropped;
} ConsoleClient;

struct Console {
        char *name;
        char *log_path;
        char *log_path_old;
        int log_fd;
        uint64_t log_size;
        uint64_t run_log_offset; /* where this run's output begins in the log file */

        char *ring; /* CONSOLE_RING_SIZE bytes from the first output on: most defined VMs never run */
        size_t ring_start; /* index of the oldest byte */
        size_t ring_used;

        int input_fd;
        ConsoleClient *clients[CONSOLE_CLIENTS_MAX];
        size_t n_clients;
};

static void console_open_log(Console *c) {
        struct stat st;

        if (!c->log_path)
                return;
        c->log_fd = open(c->log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY, 0640);
        if (c->log_fd < 0) {
                log_vm_warning_errno(c->name, errno, "cannot open console log %s, not logging: %m",
                                  c->log_path);
                return;
        }
        c->log_size = fstat(c->log_fd, &st) >= 0 ? (uint64_t) st.st_size : 0;
}

int console_new(const char *vm_name, const char *log_dir, Console **ret) {
        _cleanup_(console_freep) Console *c = NULL;

        c = calloc(1, sizeof(*c));
        if (!c)
                return -ENOMEM;
        c->log_fd = -EBADF;
        c->input_fd = -EBADF;
        c->name = strdup(vm_name);
        if (!c->name)
                return -ENOMEM;
        if (log_dir) {
                if (asprintf(&c->log_path, "%s/%s.log", log_dir, vm_name) < 0) {
                        c->log_path = NULL;
                        return -ENOMEM;
                }
                if (asprintf(&c->log_path_old, "%s/%s.log.1", log_dir, vm_name) < 0) {
                        c->log_path_old = NULL;
                        return -ENOMEM;
                }
        }
        *ret = TAKE_PTR(c);
        return 0;
}

/* Also for a client under construction, not yet in the console's list. */
static ConsoleClient *client_free(ConsoleClient *cl) {
        Console *c = cl->console;

        for (size_t i = 0; i < c->n_clients; i++)
                if (c->clients[i] == cl) {
                        c->clients[i] = c->clients[--c->n_clients];
                        break;
                }
        sd_event_source_disable_unref(cl->source);
        safe_close(cl->fd);
        free(cl->queue);
        free(cl);
        return NULL;
}
DEFINE_TRIVIAL_CLEANUP_FUNC(ConsoleClient *, client_free);

Console *console_free(Console *c) {
        if (!c)
                return NULL;
        while (c->n_clients > 0)
                client_free(c->clients[0]);
        safe_close(c->log_fd);
        free(c->log_path);
        free(c->log_path_old);
        free(c->name);
        free(c->ring);
        free(c);
        return NULL;
}

static void console_log_append(Console *c, const char *data, size_t size) {
        if (c->log_fd < 0) {
                console_open_log(c);
                if (c->log_fd < 0)
                        return;
        }
        if (c->log_size + size > CONSOLE_LOG_SIZE_MAX) {
                /* Rotate once: NAME.log → NAME.log.1, start a new NAME.log. */
                c->log_fd = safe_close(c->log_fd);
                if (rename(c->log_path, c->log_path_old) < 0)
                        log_vm_warning_errno(c->name, errno, "cannot rotate %s: %m", c->log_path);
                (void) unlink(c->log_path);
                console_open_log(c);
                if (c->log_fd < 0)
                        return;
        }
        if (loop_write(c->log_fd, data, size) < 0) {
                /* A full disk loses log lines, never guest output to readers. */
                log_vm_warning_errno(c->name, errno, "console log write failed: %m");
                return;
        }
        c->log_size += size;
}

static void ring_append(Console *c, const char *data, size_t size) {
        if (!c->ring) {
                c->ring = malloc(CONSOLE_RING_SIZE);
                if (!c->ring) {
                        log_oom();
                        return;
                }
        }
        if (size >= CONSOLE_RING_SIZE) {
                data += size - CONSOLE_RING_SIZE;
                size = CONSOLE_RING_SIZE;
        }
        for (size_t i = 0; i < size; i++) {
                size_t end = (c->ring_start + c->ring_used) % CONSOLE_RING_SIZE;
                c->ring[end] = data[i];
                if (c->ring_used < CONSOLE_RING_SIZE)
                        c->ring_used++;
                else
                        c->ring_start = (c->ring_start + 1) % CONSOLE_RING_SIZE;
        }
}

void console_begin_run(Console *c) {
        c->ring_start = 0;
        c->ring_used = 0;
        c->run_log_offset = c->log_size;
}

uint64_t console_run_log_offset(const Console *c) {
        return c->run_log_offset;
}

void console_resume_run(Console *c, uint64_t offset) {
        _cleanup_free_ char *buf = NULL;
        _cleanup_close_ int fd = -EBADF;
        struct stat st;
        ssize_t n;

        console_begin_run(c);
        if (!c->log_path)
                return;
        fd = open(c->log_path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        if (fd < 0 || fstat(fd, &st) < 0)
                return;
        /* Rotated meanwhile: this run's start is in the older file. */
        if (offset > (uint64_t) st.st_size)
                offset = 0;
        c->run_log_offset = offset;
        offset = MAX(offset, (uint64_t) st.st_size > CONSOLE_RING_SIZE ? (uint64_t) st.st_size - CONSOLE_RING_SIZE : 0);
        buf = malloc(CONSOLE_RING_SIZE);
        if (!buf)
                return;
        n = pread(fd, buf, CONSOLE_RING_SIZE, (off_t) offset);
        if (n > 0)
                ring_append(c, buf, (size_t) n);
}

static size_t console_snapshot(Console *c, void *buf, size_t size) {
        size_t n = MIN(size, c->ring_used);
        size_t skip = c->ring_used - n; /* keep the newest bytes */

        for (size_t i = 0; i < n; i++)
                ((char *) buf)[i] = c->ring[(c->ring_start + skip + i) % CONSOLE_RING_SIZE];
        return n;
}

static void client_flush(ConsoleClient *cl) {
        while (cl->queued > 0) {
                ssize_t k = send(cl->fd, cl->queue, cl->queued, MSG_DONTWAIT | MSG_NOSIGNAL);
                if (k < 0) {
                        if (errno == EINTR)
                                continue;
                        if (errno == EAGAIN)
                                break;
                        client_free(cl); /* reader went away */
                        return;
                }
                memmove(cl->queue, cl->queue + k, cl->queued - (size_t) k);
                cl->queued -= (size_t) k;
        }
        (void) sd_event_source_set_io_events(cl->source, EPOLLIN | (cl->queued > 0 ? EPOLLOUT : 0));
}

static void client_queue(ConsoleClient *cl, const char *data, size_t size) {
        if (cl->queued + size > CONSOLE_CLIENT_QUEUE_MAX) {
                /* Slow reader: drop what does not fit, keep the guest going. */
                size_t room = CONSOLE_CLIENT_QUEUE_MAX - cl->queued;
                cl->dropped += size - room;
                size = room;
        }
        memcpy(cl->queue + cl->queued, data, size);
        cl->queued += size;
}

void console_feed_output(Console *c, const void *data, size_t size) {
        if (size == 0)
                return;
        ring_append(c, data, size);
        console_log_append(c, data, size);
        /* client_flush may free a client: walk a copy of the list. */
        ConsoleClient *clients[CONSOLE_CLIENTS_MAX];
        size_t n = c->n_clients;
        memcpy(clients, c->clients, n * sizeof(clients[0]));
        for (size_t i = 0; i < n; i++) {
                client_queue(clients[i], data, size);
                client_flush(clients[i]);
        }
}

void console_attach_input(Console *c, int fd) {
        c->input_fd = fd;
}

static int on_client_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        ConsoleClient *cl = userdata;
        Console *c = cl->console;
        char buf[1024];
        if (revents & EPOLLOUT) {
                client_flush(cl);
                return 0; /* cl may be gone */
        }
        if (revents & EPOLLIN) {
                ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
                if (n == 0 || (n < 0 && !IN_SET(errno, EAGAIN, EINTR))) {
                        client_free(cl);
                        return 0;
                }
                if (n > 0 && c->input_fd >= 0) {
                        /* Input while no worker reads it (VM stopping) is dropped, like a UART's. */
                        if (send(c->input_fd, buf, (size_t) n, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
                                log_vm_debug_errno(c->name, errno, "console input dropped: %m");
                }
                return 0;
        }
        if (revents & (EPOLLHUP | EPOLLERR))
                client_free(cl);
        return 0;
}

int console_open_client(Console *c, sd_event *event, int *ret_fd) {
        _cleanup_(client_freep) ConsoleClient *new_client = NULL;
        _cleanup_close_ int ours = -EBADF, theirs = -EBADF;
        ConsoleClient *cl;
        int pair[2], r;

        if (c->n_clients >= CONSOLE_CLIENTS_MAX)
                return -EMFILE;
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, pair) < 0)
                return negative_errno();
        ours = pair[0];
        theirs = pair[1];

        new_client = calloc(1, sizeof(*new_client));
        if (!new_client)
                return -ENOMEM;
        new_client->console = c;
        new_client->fd = TAKE_FD(ours);
        new_client->queue = malloc(CONSOLE_CLIENT_QUEUE_MAX);
        if (!new_client->queue)
                return -ENOMEM;
        r = sd_event_add_io(event, &new_client->source, new_client->fd, EPOLLIN, on_client_io, new_client);
        if (r < 0)
                return r;
        cl = c->clients[c->n_clients++] = TAKE_PTR(new_client);

        /* Replay what the guest wrote so far, then stream live output. */
        cl->queued = console_snapshot(c, cl->queue, CONSOLE_RING_SIZE);
        client_flush(cl);

        /* The caller's end blocks like any socket; ours never does. */
        int flags = fcntl(theirs, F_GETFL);
        if (flags >= 0)
                (void) fcntl(theirs, F_SETFL, flags & ~O_NONBLOCK);
        *ret_fd = TAKE_FD(theirs);
        return 0;
}

void console_remove_log(Console *c) {
        c->log_fd = safe_close(c->log_fd);
        if (c->log_path)
                (void) unlink(c->log_path);
        if (c->log_path_old)
                (void) unlink(c->log_path_old);
}
