/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* io.gunyah.Manager over varlink (design §8): the D-Bus verbs on the socket
 * RUNTIME_DIR/io.gunyah.Manager, plus SubscribeEvents. Reading is open to
 * every local user; changing is for root and the daemon's own user. */

typedef struct Manager Manager;

#define VARLINK_SOCKET_NAME "io.gunyah.Manager"

/* Starts listening; the server lives in m->varlink. */
int varlink_start(Manager *m);
/* Closes every connection and removes the socket. */
void varlink_stop(Manager *m);

/* Interface definitions (varlink-idl.c). */
extern const char varlink_idl_service[];
extern const char varlink_idl_manager[];
