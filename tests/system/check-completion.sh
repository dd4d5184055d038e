#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
# The bash completion completes every verb of `gunyahctl --help`, verb
# options, and VM names from the daemon, and does not hang without one.
# Usage: check-completion.sh COMPLETION GUNYAHCTL
set -euo pipefail
. "$(dirname "$0")/lib.sh"
make_tmp
completion=$(realpath "$1")
real_gunyahctl=$(realpath "$2")

# complete WORDS...: COMPREPLY for the last word, one per line.
complete_words() {
        env PATH="$tmp/bin:$PATH" bash --norc --noprofile -c '
                compopt() { :; } # only works inside a real completion
                source "$1"; shift
                COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
                _gunyahctl gunyahctl "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
                [ ${#COMPREPLY[@]} -eq 0 ] || printf "%s\n" "${COMPREPLY[@]}"' _ "$completion" "$@"
}

expect() {
        local want=$1
        shift
        local got
        got=$(complete_words "$@" | sort | tr '\n' ' ')
        [ "$got" = "$want" ] || fail "completing '$*': expected '$want', got '$got'"
}

mkdir -p "$tmp/bin"
cat >"$tmp/bin/gunyahctl" <<'FAKE'
#!/bin/sh
case "$*" in
        *"--json list"*) echo '[{"name":"alpha","state":"running"},{"name":"beta.2","state":"stopped"}]' ;;
        *) exit 1 ;;
esac
FAKE
chmod +x "$tmp/bin/gunyahctl"

# Every verb the real gunyahctl lists is completed.
verbs=$("$real_gunyahctl" --help | sed -n '/^Verbs:/,/^$/p' | awk 'NR > 1 && NF { print $1 }')
[ -n "$verbs" ] || fail "no verbs found in gunyahctl --help"
all=$(complete_words gunyahctl "")
for v in $verbs; do
        grep -qx "$v" <<<"$all" || fail "verb '$v' of gunyahctl --help is not completed"
done
echo "OK: completes the verbs of gunyahctl --help:" $verbs

expect "start status stop " gunyahctl st
expect "--json " gunyahctl --js
expect "--timeout= " gunyahctl stop --ti
expect "--persist --start " gunyahctl create --
expect "alpha beta.2 " gunyahctl status ""
expect "beta.2 " gunyahctl --json stop b
expect "" gunyahctl status alpha ""
echo "OK: verbs, options and VM names complete"

# A daemon that never answers: completion gives up within its timeout.
cat >"$tmp/bin/gunyahctl" <<'FAKE'
#!/bin/sh
exec sleep 60
FAKE
cat >"$tmp/bin/busctl" <<'FAKE'
#!/bin/sh
exec sleep 60
FAKE
chmod +x "$tmp/bin/busctl"
start=$(date +%s)
timeout 20 bash -c "$(declare -f complete_words); tmp='$tmp' completion='$completion'; complete_words gunyahctl start ''" >/dev/null ||
        fail "completion hung with an unresponsive daemon"
elapsed=$(($(date +%s) - start))
[ "$elapsed" -le 10 ] || fail "completion took ${elapsed}s with an unresponsive daemon"
echo "OK: completion returns after ${elapsed}s when the daemon does not answer"
