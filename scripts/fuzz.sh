#!/usr/bin/env bash
# fuzz.sh -- run every libFuzzer target of a fuzz build for a while.
#
#   scripts/fuzz.sh BUILD_DIR SECONDS
#
# BUILD_DIR is a build configured with -DKFK_FUZZ=ON (`make fuzz` makes
# build-fuzz).  Each BUILD_DIR/bin/fuzz_<name> runs for SECONDS, one after
# the other, starting from a scratch copy of tests/fuzz/corpus/<name>/ so
# that what the fuzzer adds does not land in the committed corpus.  Crashes,
# leaks and timeouts are written to BUILD_DIR/fuzz-artifacts/<name>/ with
# the fuzzer's log beside them; to keep a crasher as a regression test,
# copy it into tests/fuzz/corpus/<name>/.  Prints the executions done per
# target and exits 1 if any target failed.
set -euo pipefail

if (($# != 2)) || ! [[ $2 =~ ^[0-9]+$ ]]; then
    echo "usage: $0 BUILD_DIR SECONDS" >&2
    exit 2
fi
build=$1
secs=$2
top=$(cd "$(dirname "$0")/.." && pwd)
artifacts="$build/fuzz-artifacts"

targets=()
for bin in "$build"/bin/fuzz_*; do
    [[ -f $bin && -x $bin && $bin != *_replay ]] && targets+=("$bin")
done
if ((${#targets[@]} == 0)); then
    echo "fuzz: no fuzz targets in $build/bin (configure with -DKFK_FUZZ=ON)" >&2
    exit 1
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/kfk-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$artifacts"
artifacts=$(cd "$artifacts" && pwd)

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

failed=0
summary=()
for bin in "${targets[@]}"; do
    target=$(basename "$bin")
    name=${target#fuzz_}
    corpus="$work/$name"
    mkdir -p "$corpus" "$artifacts/$name"
    seeds=0
    if [[ -d $top/tests/fuzz/corpus/$name ]]; then
        cp -R "$top/tests/fuzz/corpus/$name/." "$corpus/"
        seeds=$(find "$corpus" -type f | wc -l)
    fi
    log="$artifacts/$name.log"
    echo "fuzz: $target for ${secs}s from $seeds seed inputs (log: $log)"
    stamp="$work/$name.stamp"
    touch "$stamp"
    rc=0
    "$bin" -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 \
        -print_final_stats=1 -artifact_prefix="$artifacts/$name/" \
        "$corpus" >"$log" 2>&1 || rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' \
            "$log" | tail -n 1)
    execs=${execs:-?}
    found=$(find "$artifacts/$name" -type f \
            \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' \
               -o -name 'oom-*' \) -newer "$stamp" | tr '\n' ' ')
    if ((rc != 0)) || [[ -n $found ]]; then
        failed=$((failed + 1))
        line="$target: FAILED (exit $rc) after $execs executions"
        echo "$line"
        tail -n 60 "$log" | sed 's/^/    /'
        if [[ -n $found ]]; then
            echo "    artifacts: $found"
        fi
    else
        line="$target: ok, $execs executions in ${secs}s"
        echo "$line"
    fi
    summary+=("$line")
done

echo "fuzz summary:"
printf '  %s\n' "${summary[@]}"
((failed == 0)) || exit 1
