/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdio.h>

int main(void) {
        fprintf(stderr, "gunyah-vcpu: started by gunyahd only\n");
        return 1;
}
