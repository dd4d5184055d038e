#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The daemon's default admin VM directory is where `meson install` puts
# sysconfdir: a relative sysconfdir under the prefix, an absolute one as is.
# Never relative: the daemon would look under its working directory.
# Usage: check-config-dir.sh GUNYAHD PREFIX SYSCONFDIR-OPTION
set -euo pipefail
gunyahd=$1 prefix=$2 sysconfdir=$3

case $sysconfdir in
/*) expected=$sysconfdir/gunyah/vms ;;
*) expected=${prefix%/}/$sysconfdir/gunyah/vms ;;
esac

line=$("$gunyahd" --help | grep -e '--config-dir=') || { echo "gunyahd --help lists no --config-dir" >&2; exit 1; }
actual=$(sed -n 's/.*(default \([^)]*\)).*/\1/p' <<<"$line")
if [ "$actual" != "$expected" ]; then
        echo "gunyahd's default config dir is '$actual', expected '$expected' (prefix $prefix, sysconfdir $sysconfdir)" >&2
        exit 1
fi
case $actual in
/*) ;;
*) echo "gunyahd's default config dir '$actual' is relative" >&2; exit 1 ;;
esac
echo "config dir: $actual"
