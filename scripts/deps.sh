#!/usr/bin/env bash
# deps.sh -- install the Debian packages (and npm packages) kfk needs.
#
#   scripts/deps.sh build    compilers, CMake, compression libraries, cmocka
#   scripts/deps.sh test     build + the real Kafka clients used by interop tests
#
# Idempotent: it asks dpkg what is missing and runs apt-get only then, so
# calling it from every `make` costs a few milliseconds.
set -euo pipefail

build_pkgs=(gcc make cmake pkg-config python3 clang libclang-rt-14-dev
            zlib1g-dev libzstd-dev liblz4-dev libsnappy-dev libssl-dev
            libcmocka-dev)
test_pkgs=(kcat librdkafka-dev python3-confluent-kafka python3-kafka
           python3-snappy python3-lz4 python3-xxhash
           golang-go golang-github-shopify-sarama-dev
           golang-github-segmentio-kafka-go-dev nodejs npm netcat-openbsd
           procps)

want=("${build_pkgs[@]}")
case "${1:-build}" in
    build) ;;
    test|bench) want+=("${test_pkgs[@]}") ;;
    *) echo "usage: $0 build|test" >&2; exit 2 ;;
esac

missing=()
for p in "${want[@]}"; do
    st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    [[ $st == "install ok installed" ]] || missing+=("$p")
done
# Node may come from elsewhere than Debian; accept any working node+npm.
if command -v node >/dev/null && command -v npm >/dev/null; then
    tmp=()
    for p in "${missing[@]}"; do
        [[ $p == nodejs || $p == npm ]] || tmp+=("$p")
    done
    missing=("${tmp[@]+"${tmp[@]}"}")
fi

if ((${#missing[@]})); then
    echo "deps: installing ${missing[*]}" >&2
    sudo=""
    [[ $(id -u) == 0 ]] || sudo=sudo
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

if [[ ${1:-build} != build ]]; then
    # JavaScript clients for the interop tests, pinned in package.json.
    top=$(cd "$(dirname "$0")/.." && pwd)
    nodedir="$top/tests/interop/node"
    if [[ -f $nodedir/package.json && ! -d $nodedir/node_modules/kafkajs ]]; then
        echo "deps: npm install in tests/interop/node" >&2
        (cd "$nodedir" && npm install --no-audit --no-fund --loglevel=error >&2)
    fi
fi
