# lib.sh -- shared bits of the shell interop tests (sourced, not run).
#
#   source "$(dirname "$0")/lib.sh"
#   interop_init kcat                 # sets HERE, SRC, BUILD, TMP; EXIT trap
#   scenarios() { ... pass/fail/skip/check ...; }
#   each_broker scenarios num.partitions=1
#       # runs scenarios once per broker (kfkd, then Apache Kafka), each
#       # started fresh with these settings; sets BROKER_KIND BROKER_DIR
#       # BROKER_PORT BROKER_BOOTSTRAP B (and KFKD_DIR KFKD_PORT for old code)
#   broker_restart; broker_kill9; broker_stop   # the current broker
#   pass "scenario" "detail"; fail "scenario" "detail"; skip "scenario" "why"
#   finish                            # the differential table, exits 0/1
#
# Brokers are started through brokers.py (same directory); finish hands the
# rows to differential.py, which fails a scenario whose result differs
# between kfkd and Kafka unless docs/interop.md lists the difference.

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC=${KFK_SOURCE_DIR:-$(cd "$HERE/../.." && pwd)}
BUILD=${KFK_BUILD_DIR:-$SRC/build}
export KFK_SOURCE_DIR=$SRC KFK_BUILD_DIR=$BUILD
HARNESS="$HERE/kfkd_harness.py"
BROKERS="$HERE/brokers.py"

_rows=()
_nfail=0
_client=""
BROKER_KIND=""
BROKER_DIR=""
KFKD_DIR=""
_bg_pids=()

interop_init() {
    _client=$1
    TMP=$(mktemp -d "${TMPDIR:-/tmp}/kfk-interop-$_client.XXXXXX")
    trap _interop_exit EXIT
    trap 'exit 130' INT TERM
}

_broker_log_tail() {
    [[ -n $BROKER_DIR ]] || return 0
    echo "---- $BROKER_KIND log (last 60 lines) ----" >&2
    python3 "$BROKERS" log "$BROKER_KIND" "$BROKER_DIR" | tail -n 60 >&2
    echo "---- end of $BROKER_KIND log ----" >&2
}

_broker_cleanup() {
    [[ -n $BROKER_DIR ]] || return 0
    python3 "$BROKERS" cleanup "$BROKER_KIND" "$BROKER_DIR" || true
    BROKER_DIR=""
    KFKD_DIR=""
}

_kill_bg() {
    local p
    for p in "${_bg_pids[@]+"${_bg_pids[@]}"}"; do
        kill "$p" 2>/dev/null || true
    done
    _bg_pids=()
}

_interop_exit() {
    local rc=$?
    _kill_bg
    if [[ -n $BROKER_DIR ]]; then
        ((_nfail)) || [[ $rc != 0 ]] && _broker_log_tail
        _broker_cleanup
    fi
    [[ -n ${TMP:-} ]] && rm -rf "$TMP"
    exit $rc
}

# Remember a background process so the EXIT trap (or the next broker) kills it.
track_bg() { _bg_pids+=("$1"); }

_broker_vars() {
    eval "$1"
    B=$BROKER_BOOTSTRAP
    KFKD_DIR=$BROKER_DIR
    KFKD_PORT=$BROKER_PORT
    KFKD_BOOTSTRAP=$B
}

# broker_start KIND key=value...: start a fresh broker of that kind.
broker_start() {
    local kind=$1 out
    shift
    out=$(python3 "$BROKERS" start "$kind" "$@") || return 1
    _broker_vars "$out"
    echo "$kind pid $BROKER_PID listening on $B (dir $BROKER_DIR)${BROKER_VERSION:+, version $BROKER_VERSION}"
}

broker_stop() { python3 "$BROKERS" stop "$BROKER_KIND" "$BROKER_DIR"; }
broker_kill9() { python3 "$BROKERS" kill9 "$BROKER_KIND" "$BROKER_DIR"; }

# Start the current broker again on the same port(s) and data (after a stop
# or a kill -9; a running one is stopped first).
broker_restart() {
    local out
    out=$(python3 "$BROKERS" restart "$BROKER_KIND" "$BROKER_DIR") ||
        { echo "$BROKER_KIND did not restart" >&2; return 1; }
    _broker_vars "$out"
}

# each_broker FUNCTION key=value...: run FUNCTION once against each broker
# (brokers.py kinds), each started fresh with the settings and cleaned up
# after.  A broker that is not installed gets its column skipped (or failed
# under KFK_REQUIRE_PEERS=1); one that does not start fails.
each_broker() {
    local fn=$1 kinds line kind
    shift
    kinds=$(python3 "$BROKERS" kinds) || { _meta_row kafka __broker_failed__ "a peer is missing and KFK_REQUIRE_PEERS=1"; return; }
    while IFS= read -r line; do
        kind=${line%% *}
        if [[ $line == *" missing "* ]]; then
            _meta_row "$kind" __broker_missing__ "${line#* missing }"
            continue
        fi
        echo "==== $_client on $kind ===="
        BROKER_KIND=$kind
        if ! broker_start "$kind" "$@" >"$TMP/start.out" 2>&1; then
            cat "$TMP/start.out" >&2
            _meta_row "$kind" __broker_failed__ "$kind did not start: $(tail -n 2 "$TMP/start.out" | tr '\n' ' ')"
            continue
        fi
        cat "$TMP/start.out"
        local nfail0=$_nfail
        "$fn"
        _kill_bg
        ((_nfail > nfail0)) && _broker_log_tail
        _broker_cleanup
    done <<<"$kinds"
    BROKER_KIND=""
}

# The old single-broker entry points: kfkd only.
kfkd_start() {
    BROKER_KIND=kfkd
    broker_start kfkd "$@" || { echo "kfkd did not start" >&2; exit 1; }
}
kfkd_restart() { broker_restart; }

_meta_row() {
    _rows+=("$1"$'\t'"FAIL"$'\t'"$2"$'\t'"$3")
    [[ $2 == __broker_failed__ ]] && _nfail=$((_nfail + 1))
    return 0
}

_row() {
    local kind=${BROKER_KIND:-kfkd}
    _rows+=("$kind"$'\t'"$2"$'\t'"$1"$'\t'"${3//$'\t'/ }")
    echo "[$2] $1${3:+: $3}"
}
pass() { _row "$1" PASS "${2:-}"; }
fail() { _row "$1" FAIL "${2:-}"; _nfail=$((_nfail + 1)); }
skip() { _row "$1" SKIP "${2:-}"; }

# check "scenario" "detail-on-pass" cmd...: PASS if cmd succeeds, else FAIL
# with the command's last output lines (the command writes to $TMP/check.out).
check() {
    local name=$1 detail=$2
    shift 2
    if "$@" >"$TMP/check.out" 2>&1; then
        pass "$name" "$detail"
    else
        fail "$name" "$(tail -n 3 "$TMP/check.out" | tr '\n' ' ' | cut -c1-300)"
    fi
}

# Skip the whole test (the client is genuinely unavailable).  Under
# KFK_REQUIRE_PEERS=1 (CI) a missing client is a failure: the project's
# own scripts install every one.
skip_test() {
    if [[ ${KFK_REQUIRE_PEERS:-} == 1 ]]; then
        echo "FAIL: $* (KFK_REQUIRE_PEERS=1)"
        exit 1
    fi
    echo "SKIP: $*"
    exit 77 # ctest's SKIP_RETURN_CODE: reported as skipped, not passed
}

finish() {
    _kill_bg
    _broker_cleanup
    printf '%s\n' "${_rows[@]+"${_rows[@]}"}" >"$TMP/rows.tsv"
    python3 "$HERE/differential.py" report "$_client" "$TMP/rows.tsv"
    exit $?
}

# Milliseconds since the epoch, without forking.
now_ms() {
    local t=${EPOCHREALTIME/./}
    echo $((t / 1000))
}

# Debian's Go (golang-go), by its path: the Debian-packaged sarama 1.22 and
# kafka-go 0.2.1 are GOPATH sources built with it, whatever `go` comes
# first on PATH (the machine's own, newer one builds the Go-module clients:
# go_mod_build).
debian_go() {
    local g
    for g in /usr/lib/go/bin/go /usr/lib/go-1.*/bin/go; do
        [[ -x $g ]] && { echo "$g"; return 0; }
    done
    return 1
}

# go_build NAME DIR PKG: build the Go program in DIR (GOPATH mode, against
# the Debian-packaged libraries, nothing downloaded) into $TMP/NAME.  Skips
# the whole test if Debian's Go or the library is missing.
go_build() {
    local name=$1 dir=$2 pkg=$3
    DEBIAN_GO=$(debian_go) || skip_test "Debian's Go is not installed (scripts/deps.sh test installs golang-go)"
    local gopath=${KFK_GOPATH:-/usr/share/gocode}
    [[ -d $gopath/src/$pkg ]] || skip_test "$pkg is not in $gopath (scripts/deps.sh test installs it)"
    mkdir -p "$TMP/gocache" "$TMP/gohome"
    if ! (cd "$dir" && env GOPATH="$gopath" GO111MODULE=off GOFLAGS= GOPROXY=off \
            GOTOOLCHAIN=local GOCACHE="$TMP/gocache" HOME="${HOME:-$TMP/gohome}" \
            timeout 300 "$DEBIAN_GO" build -o "$TMP/$name" .) >"$TMP/build.log" 2>&1; then
        cat "$TMP/build.log" >&2
        fail "build $name" "go build failed: $(head -n 3 "$TMP/build.log" | tr '\n' ' ')"
        finish
    fi
}

# go_mod_build NAME DIR: build the Go-module program in DIR (today's
# clients, pinned by its go.mod/go.sum) into $TMP/NAME with the machine's
# modern Go, offline from the module cache scripts/peers.sh go filled.
go_mod_build() {
    local name=$1 dir=$2 env
    env=$("$SRC/scripts/peers.sh" env)
    MODERN_GO=$(sed -n 's/^KFK_GO=//p' <<<"$env")
    local modcache gocache
    modcache=$(sed -n 's/^KFK_GOMODCACHE=//p' <<<"$env")
    gocache=$(sed -n 's/^KFK_GOCACHE=//p' <<<"$env")
    [[ -n $MODERN_GO ]] || skip_test "no Go 1.21+ toolchain for the Go-module clients"
    [[ -d $modcache/cache/download ]] ||
        skip_test "the Go module cache is empty (scripts/peers.sh go fills it)"
    if ! (cd "$dir" && env GOMODCACHE="$modcache" GOCACHE="$gocache" GOPROXY=off \
            GOFLAGS=-mod=readonly GOTOOLCHAIN=local GO111MODULE=on GOWORK=off \
            timeout 300 "$MODERN_GO" build -o "$TMP/$name" .) >"$TMP/build.log" 2>&1; then
        cat "$TMP/build.log" >&2
        fail "build $name" "go build failed: $(head -n 3 "$TMP/build.log" | tr '\n' ' ')"
        finish
    fi
}

# run_rows CMD...: run a driver that prints "ROW<TAB>status<TAB>scenario<TAB>detail"
# lines and turn them into result rows; anything else it prints is echoed.
run_rows() {
    local line st sc de nrows=0
    "$@" >"$TMP/rows.out" 2>"$TMP/rows.err"
    local rc=$?
    while IFS= read -r line; do
        if [[ $line == ROW$'\t'* ]]; then
            IFS=$'\t' read -r _ st sc de <<<"$line"
            case $st in
                PASS) pass "$sc" "$de" ;;
                SKIP) skip "$sc" "$de" ;;
                *) fail "$sc" "$de" ;;
            esac
            nrows=$((nrows + 1))
        else
            echo "$line"
        fi
    done <"$TMP/rows.out"
    if ((rc != 0)); then
        tail -n 20 "$TMP/rows.err" >&2
        fail "driver $1" "exited with status $rc"
    fi
    ((nrows)) || fail "driver $1" "reported nothing"
}
