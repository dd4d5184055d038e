/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <stdint.h>
#include <unistd.h>

#include "eventfd-util.h"

int eventfd_ring(int fd) {
        uint64_t one = 1;

        if (write(fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
                return -errno;
        return 0;
}
