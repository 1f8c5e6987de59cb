#!/usr/bin/env bash
# check_gen.sh -- fail if src/protocol/gen is not what messages.def makes.
set -euo pipefail
py=${1:-python3}
top=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$py" "$top/scripts/gen_protocol.py" "$top/src/protocol/messages.def" "$tmp"
for f in messages.h messages.c api_table.h api_table.c; do
    if ! cmp -s "$tmp/$f" "$top/src/protocol/gen/$f"; then
        echo "src/protocol/gen/$f is stale: run 'make gen' and commit" >&2
        diff -u "$top/src/protocol/gen/$f" "$tmp/$f" | head -40 >&2
        exit 1
    fi
done
echo "generated protocol code is fresh"
