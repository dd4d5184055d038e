#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# gunyahctl's offline verbs and command line, run as a user would.
# Usage: test-gunyahctl.sh GUNYAHCTL GOLDEN_DIR
set -u

ctl=$1
golden=$(cd "$2" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
failures=0

fail() {
        echo "FAIL: $*" >&2
        failures=$((failures + 1))
}

# expect_rc WANT DESCRIPTION -- CMD...: runs CMD, stdout/stderr to $tmp/out, $tmp/err.
expect_rc() {
        want=$1
        what=$2
        shift 3
        "$@" >"$tmp/out" 2>"$tmp/err"
        rc=$?
        if [ "$rc" -ne "$want" ]; then
                fail "$what: exit status $rc, expected $want; stderr: $(cat "$tmp/err")"
                return 1
        fi
        return 0
}

expect_grep() {
        file=$1
        pattern=$2
        what=$3
        grep -q -e "$pattern" "$tmp/$file" || fail "$what: $file lacks '$pattern': $(cat "$tmp/$file")"
}

# --- command line ---
expect_rc 0 "--help" -- "$ctl" --help &&
        { expect_grep out "validate" "--help"; expect_grep out "dtb" "--help"; expect_grep out "Exit status" "--help";
          expect_grep out "2  usage error" "--help"; }
expect_rc 0 "--version" -- "$ctl" --version && expect_grep out "^gunyahctl [0-9]" "--version"
expect_rc 2 "no verb" -- "$ctl"
expect_rc 2 "unknown verb" -- "$ctl" frobnicate && expect_grep err "frobnicate" "unknown verb"
expect_rc 2 "unknown option" -- "$ctl" --frobnicate
expect_rc 2 "validate without FILE" -- "$ctl" validate
expect_rc 2 "validate with two FILEs" -- "$ctl" validate a b
expect_rc 2 "dtb with an unknown option" -- "$ctl" dtb -x "$golden/one-vcpu.json"

# --- validate ---
if expect_rc 0 "validate a good spec" -- "$ctl" validate "$golden/four-vcpus-initrd.json"; then
        expect_grep out '"vcpus": *4' "validate"
        expect_grep out '"name": *"four-vcpus-initrd"' "validate"
        # The normalized spec is itself valid and normalizes to itself.
        cp "$tmp/out" "$tmp/normalized.json"
        expect_rc 0 "validate the normalized spec" -- "$ctl" validate "$tmp/normalized.json" &&
                { cmp -s "$tmp/out" "$tmp/normalized.json" || fail "normalizing twice changed the spec"; }
fi

cat >"$tmp/bad.json" <<JSON
{ "name": "bad", "vcpus": 0, "kernel": { "path": "$golden/fixtures/Image" } }
JSON
expect_rc 1 "validate a bad spec" -- "$ctl" validate "$tmp/bad.json" &&
        expect_grep err "^$tmp/bad.json: vcpus: " "validate error format"
[ -s "$tmp/out" ] && fail "validate printed something on stdout for an invalid spec"
expect_rc 1 "validate a missing file" -- "$ctl" validate "$tmp/missing.json" &&
        expect_grep err "^$tmp/missing.json: " "missing file"

# --- validate: disks exist and are files or block devices ---
: >"$tmp/disk0.img"
cat >"$tmp/disks.json" <<JSON
{ "name": "disks", "memory": { "mode": "share" }, "kernel": { "path": "$golden/fixtures/Image" },
  "disks": [ { "path": "$tmp/disk0.img", "serial": "data0" }, { "path": "$tmp/disk1.img", "readonly": true } ] }
JSON
expect_rc 1 "validate with a missing disk" -- "$ctl" validate "$tmp/disks.json" &&
        expect_grep err "^$tmp/disks.json: disks\[1\]\.path: disk 1, \"$tmp/disk1.img\": no such file" "missing disk"
[ -s "$tmp/out" ] && fail "validate printed the spec although a disk is missing"
mkdir "$tmp/disk1.img"
expect_rc 1 "validate with a directory as disk" -- "$ctl" validate "$tmp/disks.json" &&
        expect_grep err "disks\[1\]\.path: disk 1, .*: must be a regular file or a block device, but it is a directory" "directory disk"
rmdir "$tmp/disk1.img"
ln -s /dev/null "$tmp/disk1.img"
expect_rc 1 "validate with a character device as disk" -- "$ctl" validate "$tmp/disks.json" &&
        expect_grep err "but it is a character device" "character device disk"
rm "$tmp/disk1.img"
: >"$tmp/disk1.img"
if expect_rc 0 "validate with both disks present" -- "$ctl" validate "$tmp/disks.json"; then
        expect_grep out '"serial": *"data0"' "disks normalized"
        expect_grep out '"readonly": *true' "disks normalized"
fi

# --- dtb ---
if expect_rc 0 "dtb -o" -- "$ctl" dtb "$golden/one-vcpu.json" -o "$tmp/one.dtb"; then
        magic=$(od -An -tx1 -N4 "$tmp/one.dtb" | tr -d ' \n')
        [ "$magic" = d00dfeed ] || fail "dtb -o wrote no FDT (magic $magic)"
fi
expect_rc 0 "dtb -o -" -- "$ctl" dtb --output - "$golden/one-vcpu.json" &&
        { cmp -s "$tmp/out" "$tmp/one.dtb" || fail "dtb -o - differs from dtb -o FILE"; }
if command -v dtc >/dev/null 2>&1; then
        expect_rc 0 "dtb to dts" -- "$ctl" dtb "$golden/one-vcpu.json" &&
                { expect_grep out "^/dts-v1/;" "dtb to dts"; expect_grep out 'image-name = "one-vcpu"' "dtb to dts"; }
fi
expect_rc 1 "dtb without dtc in PATH" -- env PATH=/nonexistent "$ctl" dtb "$golden/one-vcpu.json" &&
        expect_grep err "dtc not found" "dtb without dtc"

cat >"$tmp/small.json" <<JSON
{ "name": "small", "memory": { "size": "4M" }, "kernel": { "path": "$golden/fixtures/Image" },
  "initrd": "$golden/fixtures/initrd.img" }
JSON
expect_rc 1 "dtb when the initrd does not fit" -- "$ctl" dtb "$tmp/small.json" -o "$tmp/small.dtb" &&
        { expect_grep err "initrd" "no room"; expect_grep err "short by 5120 bytes" "no room"; }
[ -e "$tmp/small.dtb" ] && fail "dtb left an output file behind on failure"

if [ "$failures" -ne 0 ]; then
        echo "$failures check(s) failed" >&2
        exit 1
fi
echo "all gunyahctl checks passed"
