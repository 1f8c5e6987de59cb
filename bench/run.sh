#!/bin/sh
# bench/run.sh [--quick] [--only=STEPS] [--brokers=LIST]
#     -- kfk benchmark suite (`make bench`, `make bench-quick`).
#
# Installs Apache Kafka if it is missing (scripts/peers.sh kafka: Maven the
# first time, cached under .peers/; the run goes on without it), builds the
# bench tools with CMake (into $BUILD, default build/, the tree `make`
# builds), then runs bench/bench.py: every workload against kfkd, Apache
# Kafka and a reference (librdkafka's mock cluster, or librdkafka's client)
# in the same run; results in bench/results/latest.md, latest.json and SVG
# plots.  Quick: a few seconds per workload (~4 min); full: ~10 s each
# (~20 min).  --only (bench.py's step names) and --brokers (a subset of
# kfkd,mock,kafka) are for development.
# Environment: BUILD (build dir), BENCH_OUT (results dir), BENCH_TMP (where
# brokers keep their data; default: the system temporary directory).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/.." && pwd)
build=${BUILD:-$src/build}
out=${BENCH_OUT:-$here/results}
quick=
extra=
for a in "$@"; do
    case $a in
    --quick) quick=--quick ;;
    --only=* | --brokers=*) extra="$extra $a" ;;
    *) echo "usage: $0 [--quick] [--only=STEPS] [--brokers=LIST]" >&2; exit 2 ;;
    esac
done

if ! pkg-config --exists rdkafka; then
    echo "bench: librdkafka (librdkafka-dev) is required for the load generator" >&2
    exit 1
fi
command -v python3 >/dev/null || { echo "bench: python3 is required" >&2; exit 1; }

# Apache Kafka, the reference a user would run instead (a no-op once
# installed).  Without it the Kafka column says "not installed".
"$src/scripts/peers.sh" kafka >&2 ||
    echo "bench: Apache Kafka could not be installed; its column will say so" >&2

echo "== building bench tools in $build" >&2
test -f "$build/CMakeCache.txt" || cmake -S "$src" -B "$build" >&2
cmake --build "$build" -j "$(nproc)" --target kfkd kfk kfk_static kfk_shared \
    bench_replay bench_client bench_loadgen bench_mock_broker >&2

exec python3 "$here/bench.py" --build "$build" --src "$src" --out "$out" \
    ${BENCH_TMP:+--tmp "$BENCH_TMP"} $quick $extra
