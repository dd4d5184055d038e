/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdio.h>

int main(void) {
        fprintf(stderr, "gunyahd: daemon arrives with the lifecycle work (issue 4)\n");
        return 1;
}
