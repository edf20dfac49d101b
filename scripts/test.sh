#!/usr/bin/env bash
# Every check and test of the workspace, from a fresh clone.
#
# Installs ZooKeeper, Java, Chromium and chromedriver from Debian's packages when they are
# missing (integration tests start their own throwaway servers on 127.0.0.1, or use ZK_ADDR
# when it is set; the console's tests drive headless Chromium), then runs
# rustfmt, clippy, the API docs (warnings denied), the packaging of every publishable crate,
# and the whole test suite.
#
# Needs no root when ZooKeeper and Java are installed already. With ZK_ADDR set and no local
# ZooKeeper, it installs nothing and runs every test that can use that shared server; the
# tests that start servers of their own (fault injection, the 3-node ensemble, session
# expiry, the cache-file CLI test, the scale smoke test) are listed as not run.
set -euo pipefail
cd "$(dirname "$0")/.."

local_zk=1
if [[ -n "${ZK_ADDR:-}" ]] && ! scripts/zk.sh installed; then
    local_zk=0
else
    scripts/zk.sh install
    # `zkdubbo console` is tested in a real browser: Debian's Chromium through chromedriver.
    if ! command -v chromedriver >/dev/null 2>&1; then
        sudo=()
        if [[ "$(id -u)" -ne 0 ]]; then
            command -v sudo >/dev/null 2>&1 || { echo "test.sh: not root and no sudo: install chromium and chromium-driver" >&2; exit 1; }
            sudo=(sudo)
        fi
        echo "test.sh: installing chromium and chromium-driver with apt-get" >&2
        "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q >&2
        "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver >&2
    fi
fi
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked
# Every crate a user can depend on must package (metadata, versions on path dependencies).
cargo package --no-verify --locked --allow-dirty --quiet \
    -p zkdubbo -p zkdubbo-common -p zkdubbo-registry -p zkdubbo-directory -p zkdubbo-loadbalance \
    -p zkdubbo-cluster -p zkdubbo-triple -p zkdubbo-hessian -p zkdubbo-dubbo -p zkdubbo-governance -p zkdubbo-discovery -p zkdubbo-build \
    -p zkdubbo-cli
if [[ "$local_zk" == 1 ]]; then
    cargo test --workspace --locked
    # The registry follows lists with persistent watches by default; the registry and fault
    # tests run once more with the classic one-shot child watches.
    ZKDUBBO_WATCH=children cargo test --locked -p zkdubbo-integration-tests --test registry_zk \
        --test registry_zk_cache --test registry_zk_recovery --test registry_zk_ensemble \
        --test registry_zk_security --test fault_injection --test directory_zk --test config_center_zk \
        --test governance_zk --test registry_zk_watch --test discovery_zk
else
    own_servers=(fault_injection registry_zk_ensemble registry_zk_recovery harness cluster_multi_registry
        cluster_quickstart scale_quick registry_zk_security soak_smoke registry_zk_watch)
    echo "test.sh: no local ZooKeeper; using ZK_ADDR=$ZK_ADDR. Not run (they start servers of their" \
        "own or need Java or Chromium; run scripts/zk.sh install to run them): ${own_servers[*]}, cli/tests/cache, cli/tests/console," \
        "hessian/tests/caucho, dubbo/tests/java_interop, dubbo_zk_frozen, discovery/tests/curator," \
        "zkdubbo/tests/metadata_java" >&2
    cargo test --workspace --locked --exclude zkdubbo-integration-tests --exclude zkdubbo-cli \
        --exclude zkdubbo-hessian --exclude zkdubbo-dubbo --exclude zkdubbo-discovery --exclude zkdubbo
    cargo test --locked -p zkdubbo-discovery --lib --doc --test props --test migration
    cargo test --locked -p zkdubbo --lib --doc --test dubbo --test outlier --test reference --test grpc_channel \
        --test overrides
    cargo test --locked -p zkdubbo-hessian --lib --doc --test props
    cargo test --locked -p zkdubbo-dubbo --lib --doc --test wire
    cargo test --locked -p zkdubbo-cli --bins --test cli --test pick --test call --test rules --test apps
    cargo test --locked -p zkdubbo-integration-tests --lib --test registry_zk --test registry_zk_cache \
        --test directory_zk --test dubbo_zk --test config_center_zk --test governance_zk --test discovery_zk \
        --test grpc_channel_zk --test triple_gzip
    ZKDUBBO_WATCH=children cargo test --locked -p zkdubbo-integration-tests --test registry_zk \
        --test registry_zk_cache --test directory_zk --test config_center_zk --test governance_zk
fi
