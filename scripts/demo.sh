#!/usr/bin/env bash
# The quickstart demo: uses ZK_ADDR if set, otherwise installs ZooKeeper (Debian packages) if
# needed and starts a throwaway server on a free 127.0.0.1 port, stopped again on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

dir=""
cleanup() {
    if [[ -n "$dir" ]]; then
        scripts/zk.sh stop "$dir" >/dev/null 2>&1 || true
        rm -rf "$dir"
    fi
}
trap cleanup EXIT

cargo build -q --release -p zkdubbo-examples --bin quickstart

if [[ -z "${ZK_ADDR:-}" ]]; then
    scripts/zk.sh install
    dir=$(mktemp -d -t zkdubbo-demo.XXXXXX)
    for _ in 1 2 3 4 5; do
        port=$((20000 + RANDOM % 20000))
        rc=0
        scripts/zk.sh start "$dir" "$port" 500 >/dev/null || rc=$?
        [[ $rc -eq 0 ]] && break
        [[ $rc -eq 3 ]] || exit "$rc"
    done
    export ZK_ADDR="127.0.0.1:$port"
    echo "started ZooKeeper on $ZK_ADDR (data in $dir)"
fi

target/release/quickstart --zk "$ZK_ADDR"
