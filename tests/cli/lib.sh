# lib.sh -- shared by the kfk CLI tests (tests/cli/*_test.sh): starts a
# kfkd of its own on a free port in a temporary directory, stops it on
# exit, and counts checks.  Each test sources it, calls cli_init, runs
# `check` / `pass` / `fail`, and ends with `finish`, which prints
# "N passed, N failed" and sets the exit status.
#
# Environment (set by ctest): KFK_BUILD_DIR (kfkd and kfk in bin/).
# The tools the checks use (python3 for JSON, timeout) are looked for
# first: a missing one exits 77, which ctest reports as skipped.

: "${KFK_BUILD_DIR:?KFK_BUILD_DIR must point at the build directory}"
KFKD_BIN="$KFK_BUILD_DIR/bin/kfkd"
KFK_BIN="$KFK_BUILD_DIR/bin/kfk"
for _tool in python3 timeout; do
    command -v "$_tool" >/dev/null || { echo "SKIP: $_tool is not installed"; exit 77; }
done
PASSED=0
FAILED=0
BG_PIDS=()

pass() {
    PASSED=$((PASSED + 1))
    printf 'ok   %s%s\n' "$1" "${2:+ -- $2}"
}

fail() {
    FAILED=$((FAILED + 1))
    printf 'FAIL %s%s\n' "$1" "${2:+ -- $2}"
}

# check WHAT EXPECTATION command...: pass if the command succeeds.
check() {
    local what=$1 expect=$2
    shift 2
    if "$@" >"$TMP/check.out" 2>&1; then
        pass "$what" "$expect"
    else
        fail "$what" "expected: $expect; got: $(tail -n 5 "$TMP/check.out" | tr '\n' ' ')"
    fi
}

# Exit status of a command, without failing the script.
status_of() {
    "$@" >/dev/null 2>&1
    echo $?
}

# Background helpers, stopped by finish/cleanup.
bg() {
    "$@" &
    BG_PIDS+=($!)
}

stop_bg() {
    local p
    for p in "${BG_PIDS[@]}"; do
        kill "$p" 2>/dev/null
    done
    for p in "${BG_PIDS[@]}"; do
        wait "$p" 2>/dev/null
    done
    BG_PIDS=()
}

cleanup() {
    stop_bg
    if [[ -n "${KFKD_PID:-}" ]]; then
        kill "$KFKD_PID" 2>/dev/null
        wait "$KFKD_PID" 2>/dev/null
    fi
    [[ -n "${TMP:-}" ]] && rm -rf "$TMP"
}

# cli_init NAME [override...]: temp dir, kfkd with short group timeouts.
cli_init() {
    TMP=$(mktemp -d "${TMPDIR:-/tmp}/kfk-cli-$1.XXXXXX")
    trap cleanup EXIT
    shift
    local ov=(--override listeners=PLAINTEXT://127.0.0.1:0
              --override "log.dirs=$TMP/data"
              --override group.initial.rebalance.delay.ms=0
              --override group.min.session.timeout.ms=1000)
    local o
    for o in "$@"; do
        ov+=(--override "$o")
    done
    "$KFKD_BIN" "${ov[@]}" >"$TMP/kfkd.out" 2>"$TMP/kfkd.err" &
    KFKD_PID=$!
    local i
    for ((i = 0; i < 100; i++)); do
        KFKD_PORT=$(sed -n 's/^kfkd listening on port \([0-9]*\)$/\1/p' "$TMP/kfkd.out" 2>/dev/null)
        [[ -n "$KFKD_PORT" ]] && break
        if ! kill -0 "$KFKD_PID" 2>/dev/null; then
            echo "kfkd did not start:"
            cat "$TMP/kfkd.err"
            exit 1
        fi
        sleep 0.1
    done
    if [[ -z "$KFKD_PORT" ]]; then
        echo "kfkd did not print its port"
        exit 1
    fi
    export KFK_BROKERS="127.0.0.1:$KFKD_PORT"
    echo "kfkd on port $KFKD_PORT"
}

# kfk with a bound on its run time.
kfk() {
    timeout 60 "$KFK_BIN" "$@"
}

# json_check FILE PYTHON-EXPRESSION: the expression over `d` (the parsed
# file) must be true.
json_check() {
    python3 - "$1" "$2" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
ok = eval("(" + sys.argv[2] + "\n)")
if not ok:
    print("not true:", sys.argv[2])
    print(json.dumps(d)[:600])
    sys.exit(1)
EOF
}

# wait_for SECONDS command...: retry the command until it succeeds.
wait_for() {
    local secs=$1 i
    shift
    for ((i = 0; i < secs * 10; i++)); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    return 1
}

# cluster_base_port: a port B with B, B+1 and B+2 free on 127.0.0.1, for
# scripts/cluster.sh start DIR B (it finds etcd's ports itself).
cluster_base_port() {
    python3 - <<'PY'
import random, socket
def free(p):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
        return True
    except OSError:
        return False
    finally:
        s.close()
for _ in range(200):
    b = random.randrange(20000, 40000)
    if all(free(p) for p in (b, b + 1, b + 2)):
        print(b)
        break
PY
}

finish() {
    stop_bg
    echo "$PASSED passed, $FAILED failed"
    [[ $FAILED -eq 0 ]]
    exit $?
}
