#!/usr/bin/env bash
# config_doc_test.sh -- docs/config-reference.md is what the config tables
# (src/broker/config.c) make now: the generator's output, committed.
# Usage: config_doc_test.sh GENERATOR [reference.md]
set -euo pipefail
src=${KFK_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
gen=${1:?usage: config_doc_test.sh GENERATOR [reference.md]}
ref=${2:-$src/docs/config-reference.md}
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
"$gen" >"$tmp"
if ! cmp -s "$tmp" "$ref"; then
    echo "docs/config-reference.md is stale: run" \
        "'cmake --build build --target gen_config_doc' and commit" >&2
    diff -u "$ref" "$tmp" | head -40 >&2
    exit 1
fi
echo "docs/config-reference.md is fresh"
