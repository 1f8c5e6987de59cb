# lib.sh -- shared bits of the shell interop tests (sourced, not run).
#
#   source "$(dirname "$0")/lib.sh"
#   interop_init kcat                 # sets HERE, SRC, BUILD, TMP; EXIT trap
#   kfkd_start num.partitions=1       # sets KFKD_DIR KFKD_PORT KFKD_BOOTSTRAP B
#   pass "scenario" "detail"; fail "scenario" "detail"; skip "scenario" "why"
#   finish                            # prints the table, exits 0/1
#
# The broker is started through kfkd_harness.py (same directory).

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC=${KFK_SOURCE_DIR:-$(cd "$HERE/../.." && pwd)}
BUILD=${KFK_BUILD_DIR:-$SRC/build}
export KFK_SOURCE_DIR=$SRC KFK_BUILD_DIR=$BUILD
HARNESS="$HERE/kfkd_harness.py"

_rows=()
_nfail=0
_nskip=0
_client=""
KFKD_DIR=""
_bg_pids=()

interop_init() {
    _client=$1
    TMP=$(mktemp -d "${TMPDIR:-/tmp}/kfk-interop-$_client.XXXXXX")
    trap _interop_exit EXIT
    trap 'exit 130' INT TERM
}

_interop_exit() {
    local rc=$?
    local p
    for p in "${_bg_pids[@]+"${_bg_pids[@]}"}"; do
        kill "$p" 2>/dev/null || true
    done
    if [[ -n $KFKD_DIR ]]; then
        if ((_nfail)) || [[ $rc != 0 ]]; then
            echo "---- kfkd log (last 60 lines) ----" >&2
            python3 "$HARNESS" log "$KFKD_DIR" | tail -n 60 >&2
            echo "---- end of kfkd log ----" >&2
        fi
        python3 "$HARNESS" cleanup "$KFKD_DIR" || true
    fi
    [[ -n ${TMP:-} ]] && rm -rf "$TMP"
    exit $rc
}

# Remember a background process so the EXIT trap kills it.
track_bg() { _bg_pids+=("$1"); }

kfkd_start() {
    local out
    out=$(python3 "$HARNESS" start "$@") || { echo "kfkd did not start" >&2; exit 1; }
    eval "$out"
    B=$KFKD_BOOTSTRAP
    echo "kfkd pid $KFKD_PID listening on $B (dir $KFKD_DIR)"
}

kfkd_restart() {
    local out
    out=$(python3 "$HARNESS" restart "$KFKD_DIR") || { echo "kfkd did not restart" >&2; exit 1; }
    eval "$out"
    B=$KFKD_BOOTSTRAP
}

_row() {
    _rows+=("$1"$'\t'"$2"$'\t'"$3")
    echo "[$2] $1${3:+: $3}"
}
pass() { _row "$1" PASS "${2:-}"; }
fail() { _row "$1" FAIL "${2:-}"; _nfail=$((_nfail + 1)); }
skip() { _row "$1" SKIP "${2:-}"; _nskip=$((_nskip + 1)); }

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

# Skip the whole test (the client is genuinely unavailable).
skip_test() {
    echo "SKIP: $*"
    exit 0
}

finish() {
    local w=8 r s
    for r in "${_rows[@]+"${_rows[@]}"}"; do
        s=${r%%$'\t'*}
        ((${#s} > w)) && w=${#s}
    done
    echo
    echo "$_client interop results"
    printf '%-*s  %-4s  %s\n' "$w" scenario "" detail
    printf '%s  ----  ------\n' "$(printf '%*s' "$w" '' | tr ' ' -)"
    for r in "${_rows[@]+"${_rows[@]}"}"; do
        IFS=$'\t' read -r a b c <<<"$r"
        printf '%-*s  %-4s  %s\n' "$w" "$a" "$b" "$c"
    done
    local n=${#_rows[@]}
    echo "$n scenarios: $((n - _nfail - _nskip)) passed, $_nfail failed, $_nskip skipped"
    ((n > 0 && _nfail == 0)) && exit 0
    exit 1
}

# Milliseconds since the epoch, without forking.
now_ms() {
    local t=${EPOCHREALTIME/./}
    echo $((t / 1000))
}

# go_build NAME DIR: build the Go program in DIR (GOPATH mode, against the
# Debian-packaged libraries, nothing downloaded) into $TMP/NAME.  Skips the
# whole test if Go or the library is missing.
go_build() {
    local name=$1 dir=$2 pkg=$3
    command -v go >/dev/null || skip_test "go is not installed (scripts/deps.sh test installs golang-go)"
    local gopath=${KFK_GOPATH:-/usr/share/gocode}
    [[ -d $gopath/src/$pkg ]] || skip_test "$pkg is not in $gopath (scripts/deps.sh test installs it)"
    mkdir -p "$TMP/gocache" "$TMP/gohome"
    if ! (cd "$dir" && env GOPATH="$gopath" GO111MODULE=off GOFLAGS= GOPROXY=off \
            GOCACHE="$TMP/gocache" HOME="${HOME:-$TMP/gohome}" \
            timeout 300 go build -o "$TMP/$name" .) >"$TMP/build.log" 2>&1; then
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
