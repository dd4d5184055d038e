#!/usr/bin/env bash
# Installs what is missing, builds, and shows gunyahd at work on examples/hello.json.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
bash tools/build.sh build
b=build
spec=examples/hello.json

echo "== gunyahctl validate $spec (the normalized spec)"
"$b/src/ctl/gunyahctl" validate "$spec"
echo
echo "== gunyahctl dtb $spec (the devicetree the Resource Manager receives)"
"$b/src/ctl/gunyahctl" dtb "$spec"
