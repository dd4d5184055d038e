/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * keeper_message_decode() on arbitrary bytes: the keeper reads what a
 * daemon sends, and a new daemon reads what it takes for the keeper of a
 * VM (a socket in a directory the vsock group may write to). The first
 * byte is how many fds came with the message; what is accepted must
 * satisfy what both sides rely on.
 */
#include <stdlib.h>

#include "fuzz.h"
#include "keeper-protocol.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        KeeperMessage m;
        size_t n_fds;

        if (size < 1)
                return 0;
        n_fds = data[0] % (KEEPER_FDS_PER_MESSAGE + 8);
        if (keeper_message_decode(data + 1, size - 1, n_fds, &m) < 0)
                return 0;
        if (m.n_fds != n_fds || m.n_fds > KEEPER_FDS_PER_MESSAGE)
                abort();
        if (m.type < KEEPER_MSG_DEPOSIT || m.type > KEEPER_MSG_QUIT)
                abort();
        if ((m.type == KEEPER_MSG_HANDBACK || m.type == KEEPER_MSG_QUIT) && m.n_fds != 0)
                abort();
        if (m.type == KEEPER_MSG_FDS && (m.total > KEEPER_FDS_MAX || m.n_fds > m.total))
                abort();
        for (size_t i = 0; i < KEEPER_FDS_PER_MESSAGE; i++)
                if (m.watch[i] > 1 || (i >= m.n_fds && m.watch[i]))
                        abort();
        return 0;
}
