#!/usr/bin/env bash
# The quickstart demo (examples/src/bin/quickstart.rs): three Greeter providers with weights
# 100/200/300 on Triple, a consumer making 600 calls, a provider killed (failover), ZooKeeper
# stopped (calls served from the snapshot) and restarted (a new provider is picked up).
#
# Uses ZK_ADDR if set (then ZooKeeper is not stopped/restarted); otherwise installs ZooKeeper
# (Debian packages) if needed and starts a throwaway server on a free 127.0.0.1 port. Every
# process it starts is stopped on exit, also on Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."

work=$(mktemp -d -t zkdubbo-demo.XXXXXX)
zk_dir=""
cleanup() {
    # Providers the quickstart started, in case it did not get to stop them itself.
    for f in "$work"/provider-*.pid; do
        [[ -e "$f" ]] || continue
        pid=$(cat "$f")
        if [[ -r "/proc/$pid/cmdline" ]] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qE "greeter-provider|dubbo-provider"; then
            kill -TERM "$pid" 2>/dev/null || true
        fi
    done
    if [[ -n "$zk_dir" ]]; then
        scripts/zk.sh stop "$zk_dir" >/dev/null 2>&1 || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "building the examples (cargo build -p zkdubbo-examples)..."
cargo build -q -p zkdubbo-examples --bins

args=()
if [[ -z "${ZK_ADDR:-}" ]]; then
    scripts/zk.sh install
    zk_dir="$work/zk"
    mkdir -p "$zk_dir"
    for _ in 1 2 3 4 5; do
        port=$((20000 + RANDOM % 20000))
        rc=0
        scripts/zk.sh start "$zk_dir" "$port" 500 >/dev/null || rc=$?
        [[ $rc -eq 0 ]] && break
        [[ $rc -eq 3 ]] || exit "$rc"
    done
    export ZK_ADDR="127.0.0.1:$port"
    echo "started ZooKeeper on $ZK_ADDR (data in $zk_dir)"
    args+=(--zk-dir "$zk_dir" --zk-script scripts/zk.sh)
fi

# Logs go to stderr; the demo's own output is the report. ZKDUBBO_LOG=info shows more.
export ZKDUBBO_LOG="${ZKDUBBO_LOG:-error}"
"${CARGO_TARGET_DIR:-target}/debug/quickstart" --zk "$ZK_ADDR" --pid-dir "$work" "${args[@]}"
