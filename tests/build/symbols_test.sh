#!/usr/bin/env bash
# symbols_test.sh -- libkfk.so exports exactly its public API: every
# dynamic symbol it defines is a kfk_* name declared KFK_API in a public
# header (include/kfk/*.h and the generated version.h), and every such
# declaration is exported.  An internal function that loses its hidden
# visibility, or a public one that loses KFK_API, fails here.
# Given libkfkd.so (the embeddable broker) it checks the same of the
# kfkd_* names declared KFKD_API in include/kfk/kfkd.h.
# Usage: symbols_test.sh [libkfk.so|libkfkd.so [include-dir...]]; exits
# 77 without nm.
set -euo pipefail
src=${KFK_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
bld=${KFK_BUILD_DIR:-$src/build}
lib=${1:-$bld/lib/libkfk.so}
shift || true
dirs=("$@")
[ ${#dirs[@]} -gt 0 ] || dirs=("$src/include/kfk" "$bld/include/kfk")
command -v nm >/dev/null || { echo "nm not found: skipped"; exit 77; }
command -v python3 >/dev/null || { echo "python3 not found: skipped"; exit 77; }
[ -f "$lib" ] || { echo "no $lib" >&2; exit 1; }
macro=KFK_API prefix=kfk_
case $(basename "$lib") in
libkfkd.so*) macro=KFKD_API prefix=kfkd_ ;;
esac

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Defined dynamic symbols, less the linker's own section markers and
# symbol versions (libkfkd.so's KFKD_0), without their @@version.
nm -D --defined-only "$lib" | awk '{print $NF}' | sed 's/@.*//' |
    grep -Ev '^(_init|_fini|_edata|_end|__bss_start|KFKD_[0-9]+)$' |
    sort -u >"$tmp/exported"

# Names declared KFK_API: the identifier before the declaration's "(".
python3 - "$macro" "${dirs[@]}" >"$tmp/declared" <<'PY'
import glob, re, sys
names = set()
macro = sys.argv[1]
for d in sys.argv[2:]:
    for h in glob.glob(d + '/*.h'):
        text = open(h).read()
        text = re.sub(r'/\*.*?\*/', ' ', text, flags=re.S)
        text = re.sub(r'^\s*#.*$', ' ', text, flags=re.M)
        for m in re.finditer(r'\b' + macro + r'\b([^;{]*?)\b(\w+)\s*\(',
                             text):
            names.add(m.group(2))
print('\n'.join(sorted(names)))
PY

status=0
if grep -v "^$prefix" "$tmp/exported" >"$tmp/bad"; then
    echo "exported names outside the $prefix prefix:" >&2
    sed 's/^/  /' "$tmp/bad" >&2
    status=1
fi
comm -23 "$tmp/exported" "$tmp/declared" >"$tmp/leaked"
if [ -s "$tmp/leaked" ]; then
    echo "exported but not declared $macro in include/kfk/*.h:" >&2
    sed 's/^/  /' "$tmp/leaked" >&2
    status=1
fi
comm -13 "$tmp/exported" "$tmp/declared" >"$tmp/missing"
if [ -s "$tmp/missing" ]; then
    echo "declared $macro but not exported:" >&2
    sed 's/^/  /' "$tmp/missing" >&2
    status=1
fi
[ $status -eq 0 ] && echo "$(basename "$lib") exports $(wc -l <"$tmp/exported") names, all of the public API"
exit $status
