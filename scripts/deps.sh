#!/usr/bin/env bash
# deps.sh -- install the Debian packages kfk needs, and the test peers.
#
#   scripts/deps.sh build    compilers, CMake, compression libraries, cmocka,
#                            clang-format, libcurl and jansson (the broker's
#                            etcd client)
#   scripts/deps.sh test     build + etcd (the cluster tests) + Debian's
#                            Kafka clients (the legacy
#                            protocol's coverage) + scripts/peers.sh all
#                            (Apache Kafka, today's clients)
#
# Idempotent: it asks dpkg what is missing and runs apt-get only then, so
# calling it from every `make` costs a few milliseconds.
set -euo pipefail

build_pkgs=(gcc make cmake pkg-config python3 clang libclang-rt-14-dev
            zlib1g-dev libzstd-dev liblz4-dev libsnappy-dev libssl-dev
            libcmocka-dev clang-format libcurl4-openssl-dev libjansson-dev)
test_pkgs=(etcd-server etcd-client kcat librdkafka-dev python3-confluent-kafka
           python3-kafka python3-snappy python3-lz4 python3-xxhash python3-zstandard
           golang-go golang-github-shopify-sarama-dev
           golang-github-segmentio-kafka-go-dev nodejs npm netcat-openbsd
           procps iptables default-jdk-headless maven)

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
# Likewise Java 17+ and Maven (preinstalled on the project's machines).
if command -v java >/dev/null && command -v mvn >/dev/null; then
    tmp=()
    for p in "${missing[@]+"${missing[@]}"}"; do
        [[ $p == default-jdk-headless || $p == maven ]] || tmp+=("$p")
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
    # The reference peers: Apache Kafka, today's Go, Python and JavaScript
    # clients, pinned and cached under .peers/ (offline after the first run).
    top=$(cd "$(dirname "$0")/.." && pwd)
    "$top/scripts/peers.sh" all
fi
