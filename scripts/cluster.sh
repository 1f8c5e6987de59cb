#!/usr/bin/env bash
# cluster.sh -- a three-broker kfkd cluster on this machine, for people and
# for tests (docs/cluster.md).
#
#   scripts/cluster.sh start DIR BASEPORT   etcd + kfkd nodes 1-3 on 127.0.0.1,
#                                           brokers on BASEPORT, +1, +2; data
#                                           under DIR; waits until the cluster
#                                           answers; prints bootstrap=...
#   scripts/cluster.sh stop DIR             every node (SIGTERM), then etcd
#   scripts/cluster.sh kill-node DIR N      kill -9 of node N
#   scripts/cluster.sh stop-node DIR N      SIGTERM (controlled shutdown)
#   scripts/cluster.sh start-node DIR N     start node N again (same data)
#   scripts/cluster.sh pause-node DIR N     SIGSTOP of node N (resume-node: SIGCONT)
#   scripts/cluster.sh status DIR           one line per node:
#                                           "node N pid P port B running|stopped"
#                                           and one for etcd
#
# etcd (Debian's etcd-server) listens on BASEPORT+1000 for clients and
# BASEPORT+1001 for peers, or on free ports where those are taken (kept in
# DIR/etcd-ports).  Every node gets the settings below; more
# (key=value, space-separated) from KFK_CLUSTER_OVERRIDES.  The kfkd binary
# is build/bin/kfkd unless KFKD says otherwise.  With KFK_CLUSTER_GID_BASE=G
# at start, node N runs with group id G+N (setpriv; kept for start-node):
# what lets a test tell the nodes' sockets apart in iptables (owner match),
# as they all share 127.0.0.1.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
KFKD=${KFKD:-$top/build/bin/kfkd}
KFK=${KFK:-$top/build/bin/kfk}
NODES=3

die() {
    echo "cluster.sh: $*" >&2
    exit 1
}

usage() {
    sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
    exit 2
}

# A process that exists and is not a zombie (a killed node may wait a
# moment to be reaped).
alive() {
    [[ -n ${1:-} ]] && kill -0 "$1" 2>/dev/null &&
        [[ $(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) != Z ]]
}

# gone PID: wait until it no longer runs (5 s at most).
gone() {
    local i
    for ((i = 0; i < 50; i++)); do
        alive "$1" || return 0
        sleep 0.1
    done
    return 1
}
pid_of() { cat "$1/$2.pid" 2>/dev/null || true; }
base_of() { cat "$1/baseport" 2>/dev/null || die "$1 holds no cluster"; }

# node_conf DIR N BASE ETCDPORT: that node's properties file.
node_conf() {
    local dir=$1 n=$2 base=$3 eport=$4
    local port=$((base + n - 1))
    cat >"$dir/node-$n.properties" <<EOF
node.id=$n
listeners=PLAINTEXT://127.0.0.1:$port
log.dirs=$dir/node-$n
etcd.endpoints=http://127.0.0.1:$eport
cluster.id=kfk-cluster
default.replication.factor=3
min.insync.replicas=2
offsets.topic.replication.factor=3
broker.session.timeout.ms=${KFK_CLUSTER_SESSION_MS:-3000}
replica.lag.time.max.ms=${KFK_CLUSTER_LAG_MS:-10000}
group.initial.rebalance.delay.ms=0
EOF
    local kv
    for kv in ${KFK_CLUSTER_OVERRIDES:-}; do
        echo "$kv" >>"$dir/node-$n.properties"
    done
}

# free_port P: P if nothing listens there or holds it, else a free one.
free_port() {
    python3 - "$1" <<'PY'
import socket, sys
def ok(p):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
        return True
    except OSError:
        return False
    finally:
        s.close()
p = int(sys.argv[1])
if not ok(p):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
print(p)
PY
}

# etcd's client and peer ports: BASEPORT+1000 and +1001 where they are
# free, chosen once and kept in DIR/etcd-ports.
etcd_ports() {
    local dir=$1 base=$2
    if [[ ! -s $dir/etcd-ports ]]; then
        local c p
        c=$(free_port $((base + 1000)))
        p=$(free_port $((base + 1001)))
        [[ $p == "$c" ]] && p=$(free_port 0)
        echo "$c $p" >"$dir/etcd-ports"
    fi
    cat "$dir/etcd-ports"
}

etcd_client_port() {
    local ports
    ports=$(etcd_ports "$1" "$2")
    echo "${ports%% *}"
}

start_etcd() {
    local dir=$1 base=$2 ports
    ports=$(etcd_ports "$dir" "$base")
    local cport=${ports%% *} pport=${ports##* }
    command -v etcd >/dev/null || die "etcd is not installed (Debian: etcd-server)"
    mkdir -p "$dir/etcd"
    # Started straight from this shell, so that $! is etcd itself and
    # nothing else holds this script's output open.
    etcd --name kfk-etcd --data-dir "$dir/etcd/data" \
        --listen-client-urls "http://127.0.0.1:$cport" \
        --advertise-client-urls "http://127.0.0.1:$cport" \
        --listen-peer-urls "http://127.0.0.1:$pport" \
        --initial-advertise-peer-urls "http://127.0.0.1:$pport" \
        --initial-cluster "kfk-etcd=http://127.0.0.1:$pport" \
        >>"$dir/etcd.log" 2>&1 </dev/null &
    echo $! >"$dir/etcd.pid"
    local i pid
    pid=$(cat "$dir/etcd.pid")
    for ((i = 0; i < 300; i++)); do
        if curl -sf -X POST "http://127.0.0.1:$cport/v3/kv/range" \
            -d '{"key":"AA=="}' >/dev/null 2>&1; then
            return 0
        fi
        alive "$pid" || break
        sleep 0.1
    done
    die "etcd did not answer on 127.0.0.1:$cport: $(tail -n 3 "$dir/etcd.log" | tr '\n' ' ')"
}

start_node() {
    local dir=$1 n=$2
    local base
    base=$(base_of "$dir")
    alive "$(pid_of "$dir" "node-$n")" && return 0
    [[ -x $KFKD ]] || die "$KFKD is missing: run make first"
    mkdir -p "$dir/node-$n"
    local as=()
    if [[ -s $dir/gidbase ]]; then
        as=(setpriv --regid $(($(cat "$dir/gidbase") + n)) --clear-groups)
    fi
    "${as[@]}" "$KFKD" "$dir/node-$n.properties" >>"$dir/node-$n.log" 2>&1 </dev/null &
    echo $! >"$dir/node-$n.pid"
}

# wait_brokers DIR COUNT: until every running node lists COUNT brokers
# and a controller.
wait_brokers() {
    local dir=$1 want=$2 base i n
    base=$(base_of "$dir")
    for ((i = 0; i < 300; i++)); do
        local ok=1
        for ((n = 1; n <= NODES; n++)); do
            alive "$(pid_of "$dir" "node-$n")" || continue
            local js got
            js=$("$KFK" -b "127.0.0.1:$((base + n - 1))" --timeout 1000 \
                cluster --json 2>/dev/null || true)
            got=$(grep -o '"id": [0-9]' <<<"$js" | wc -l)
            if ((got < want)) || ! grep -q '"controller": [1-9]' <<<"$js"; then
                ok=0
                break
            fi
        done
        ((ok)) && return 0
        sleep 0.1
    done
    return 1
}

bootstrap_of() {
    local base=$1
    echo "127.0.0.1:$base,127.0.0.1:$((base + 1)),127.0.0.1:$((base + 2))"
}

cmd_start() {
    local dir=$1 base=$2
    [[ $base =~ ^[0-9]+$ ]] || die "BASEPORT must be a number"
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    echo "$base" >"$dir/baseport"
    if [[ -n ${KFK_CLUSTER_GID_BASE:-} ]]; then
        [[ $KFK_CLUSTER_GID_BASE =~ ^[0-9]+$ ]] ||
            die "KFK_CLUSTER_GID_BASE must be a number"
        echo "$KFK_CLUSTER_GID_BASE" >"$dir/gidbase"
    fi
    alive "$(pid_of "$dir" etcd)" || start_etcd "$dir" "$base"
    local n
    for ((n = 1; n <= NODES; n++)); do
        node_conf "$dir" "$n" "$base" "$(etcd_client_port "$dir" "$base")"
        start_node "$dir" "$n"
    done
    wait_brokers "$dir" "$NODES" ||
        die "the cluster did not come up (see $dir/node-*.log)"
    echo "bootstrap=$(bootstrap_of "$base")"
}

stop_pid() {
    local pid=$1 sig=${2:-TERM} i
    alive "$pid" || return 0
    kill -CONT "$pid" 2>/dev/null || true
    kill -"$sig" "$pid" 2>/dev/null || true
    for ((i = 0; i < 150; i++)); do
        alive "$pid" || return 0
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
}

cmd_stop() {
    local dir=$1 n
    for ((n = 1; n <= NODES; n++)); do
        stop_pid "$(pid_of "$dir" "node-$n")" &
    done
    wait
    stop_pid "$(pid_of "$dir" etcd)"
}

node_arg() {
    [[ ${1:-} =~ ^[1-3]$ ]] || die "node must be 1, 2 or 3"
}

cmd_status() {
    local dir=$1 base n pid
    base=$(base_of "$dir")
    for ((n = 1; n <= NODES; n++)); do
        pid=$(pid_of "$dir" "node-$n")
        if alive "$pid"; then
            echo "node $n pid $pid port $((base + n - 1)) running"
        else
            echo "node $n pid ${pid:--} port $((base + n - 1)) stopped"
        fi
    done
    pid=$(pid_of "$dir" etcd)
    if alive "$pid"; then
        echo "etcd pid $pid port $(etcd_client_port "$dir" "$base") running"
    else
        echo "etcd pid ${pid:--} port $(etcd_client_port "$dir" "$base") stopped"
    fi
}

(($# >= 2)) || usage
cmd=$1
dir=$2
case $cmd in
start)
    (($# == 3)) || usage
    cmd_start "$dir" "$3"
    ;;
stop) cmd_stop "$dir" ;;
status) cmd_status "$dir" ;;
kill-node)
    node_arg "${3:-}"
    pid=$(pid_of "$dir" "node-$3")
    if alive "$pid"; then
        kill -KILL "$pid"
        gone "$pid" || die "node $3 (pid $pid) survived kill -9"
    fi
    ;;
stop-node)
    node_arg "${3:-}"
    stop_pid "$(pid_of "$dir" "node-$3")"
    ;;
start-node)
    node_arg "${3:-}"
    start_node "$dir" "$3"
    ;;
pause-node)
    node_arg "${3:-}"
    kill -STOP "$(pid_of "$dir" "node-$3")"
    ;;
resume-node)
    node_arg "${3:-}"
    kill -CONT "$(pid_of "$dir" "node-$3")"
    ;;
start-etcd) start_etcd "$dir" "$(base_of "$dir")" ;;
stop-etcd) stop_pid "$(pid_of "$dir" etcd)" ;;
*) usage ;;
esac
