#!/usr/bin/env bash
# layers_test.sh -- the source layers include one way only:
#   src/common    nothing from protocol/, broker/ or client/
#   src/protocol  nothing from broker/ or client/
#   src/client    nothing from broker/
#   tools/        only the public <kfk/...> headers and its own
# (docs/style-guide: common <- protocol <- {broker, client} <- tools).
# Usage: layers_test.sh [source-dir]
set -euo pipefail
src=${1:-${KFK_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}}
status=0

# forbid DIR LAYER...: no file under DIR includes LAYER/... (either form).
forbid() {
    local dir=$1
    shift
    local re
    re=$(printf '%s|' "$@")
    re="^[[:space:]]*#[[:space:]]*include[[:space:]]*[\"<](${re%|})/"
    local hits
    if hits=$(grep -rnE --include='*.c' --include='*.h' "$re" "$src/$dir"); then
        echo "$dir includes from a layer above it:" >&2
        echo "$hits" | sed "s|^$src/|  |" >&2
        status=1
    fi
}

forbid src/common protocol broker client
forbid src/protocol broker client
forbid src/client broker

# tools/: a quoted include is kfk/... or a header beside the file; an
# angle one is a system header or <kfk/...>, never a private layer.
while IFS= read -r f; do
    d=$(dirname "$f")
    while IFS=: read -r ln line; do
        inc=$(echo "$line" | sed -E 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]([^>"]*)[>"].*/\1/')
        case "$line" in
        *'"'*) [[ $inc == kfk/* || -f "$d/$inc" ]] && continue ;;
        *) [[ $inc != common/* && $inc != protocol/* && $inc != broker/* &&
              $inc != client/* ]] && continue ;;
        esac
        echo "${f#$src/}:$ln: includes $inc (not the public API)" >&2
        status=1
    done < <(grep -nE '^[[:space:]]*#[[:space:]]*include' "$f" || true)
done < <(find "$src/tools" -name '*.[ch]')

# The broker reaches the log through the partition layer only
# (src/broker/partition.c); the log's own folder and its tests excepted.
if hits=$(grep -nE '\bkfk_log_[a-z_]+[[:space:]]*\(' "$src"/src/broker/*.c \
        "$src"/src/broker/group/*.c "$src"/src/broker/net/*.c 2>/dev/null |
        grep -v -e '^[^:]*/partition\.c:' -e '^[^:]*_test\.c:' |
        grep -vE 'kfk_log_(debug|info|warn|error|level|set_|ctx)'); then
    echo "the broker calls the log outside src/broker/partition.c:" >&2
    echo "$hits" | sed "s|^$src/|  |" >&2
    status=1
fi

[ $status -eq 0 ] && echo "includes follow the layers"
exit $status
