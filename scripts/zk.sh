#!/usr/bin/env bash
# Throwaway ZooKeeper servers for tests and demos (Debian's zookeeper 3.8 package + Java).
#
#   scripts/zk.sh install                      install zookeeper, a JDK and Caucho Hessian if missing (apt)
#   scripts/zk.sh installed                    exit 0 when all of those are installed
#   scripts/zk.sh start DIR PORT [TICK_MS]     standalone server on 127.0.0.1:PORT, state in DIR
#   scripts/zk.sh ensemble DIR BASE [TICK_MS]  3 nodes in DIR/1..3 on ports BASE..BASE+2
#   scripts/zk.sh restart DIR [--no-wait]      start again with the zoo.cfg already in DIR
#   scripts/zk.sh stop DIR                     stop every server whose zk.pid is under DIR
#   scripts/zk.sh status DIR                   port, pid and Mode of every server under DIR
#   scripts/zk.sh srvr PORT                    print the `srvr` four-letter-word answer
#
# Environment:
#   ZK_JUTE_MAXBUFFER       passed to the JVM as -Djute.maxbuffer=...
#   ZK_MAX_SESSION_TIMEOUT  maxSessionTimeout in ms (default: ZooKeeper's, 20 x tickTime)
#   ZK_JAVA_OPTS            extra JVM options (word-split)
#   ZK_EXTRA_CFG            lines appended to zoo.cfg when it is written (e.g. secureClientPort)
#   ZK_EXTRA_CLASSPATH      jars added to the server's classpath (e.g. Netty, for TLS)
#   ZK_WATCH_PID            if set, a watchdog kills the server once this process is gone
#   ZK_START_TIMEOUT        seconds to wait for readiness (default 30)
#
# Exit codes: 0 ok, 1 failure, 2 usage, 3 a port was already in use (pick another one).
set -euo pipefail

readonly JAVA_DIR=/usr/share/java
# The jars the server actually loads (checked with -verbose:class, standalone and quorum).
# zookeeper.jar's manifest Class-Path also names netty, jetty, jackson, commons-* ..., which
# the JVM adds on its own; they are only needed for the Netty transport or the admin server.
readonly ZK_CLASSPATH="$JAVA_DIR/zookeeper.jar:$JAVA_DIR/zookeeper-jute.jar:$JAVA_DIR/slf4j-api.jar:$JAVA_DIR/slf4j-simple.jar:$JAVA_DIR/metrics-core.jar:$JAVA_DIR/snappy-java.jar:$JAVA_DIR/commons-io.jar:$JAVA_DIR/commons-cli.jar"
readonly MAIN_CLASS=org.apache.zookeeper.server.quorum.QuorumPeerMain

die() {
    echo "zk.sh: $*" >&2
    exit 1
}

usage() {
    sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2
    exit 2
}

is_uint() {
    [[ "${1:-}" =~ ^[0-9]+$ ]]
}

# ---------------------------------------------------------------------------------- install

# The JDK (javac) and Caucho's Hessian jar are for the Hessian2 golden-vector tests; Curator
# for scale-bench's latency comparison (and its smoke test), its x-discovery for the
# application-level discovery formats.
is_installed() {
    [[ -f "$JAVA_DIR/zookeeper.jar" && -f "$JAVA_DIR/hessian.jar" && -f "$JAVA_DIR/curator-framework.jar" &&
        -f "$JAVA_DIR/curator-x-discovery.jar" ]] &&
        command -v java >/dev/null 2>&1 &&
        command -v javac >/dev/null 2>&1
}

cmd_install() {
    if is_installed; then
        return 0
    fi
    local -a sudo=()
    if [[ "$(id -u)" -ne 0 ]]; then
        command -v sudo >/dev/null 2>&1 || die "not root and no sudo: install zookeeper, default-jdk-headless, libhessian-java, libcurator-framework-java and libcurator-discovery-java by hand"
        sudo=(sudo)
    fi
    echo "zk.sh: installing zookeeper, default-jdk-headless, libhessian-java and Curator (framework, discovery) with apt-get" >&2
    export DEBIAN_FRONTEND=noninteractive
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q >&2
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends zookeeper default-jdk-headless libhessian-java \
        libcurator-framework-java libcurator-discovery-java >&2
    [[ -f "$JAVA_DIR/zookeeper.jar" ]] || die "apt-get finished but $JAVA_DIR/zookeeper.jar is missing"
    command -v java >/dev/null 2>&1 || die "apt-get finished but java is not on PATH"
}

# ------------------------------------------------------------------------ process helpers

# True while PID is a live process. A zombie counts as gone (nobody may reap it) once its
# last thread has exited: until then a JVM's main thread can be a zombie while other threads
# still hold its sockets.
pid_alive() {
    local pid=$1 stat rest state
    local -a tasks
    [[ -r "/proc/$pid/stat" ]] || return 1
    stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
    # Field 3 (state) follows the ")" that closes the command name.
    rest=${stat##*) }
    state=${rest%% *}
    case "$state" in
    X) return 1 ;;
    Z)
        tasks=("/proc/$pid/task"/*)
        [[ ${#tasks[@]} -gt 1 ]]
        ;;
    *) return 0 ;;
    esac
}

# True if PID is a ZooKeeper server started with DIR/zoo.cfg (guards against PID reuse).
pid_is_server() {
    local pid=$1 dir=$2 cmdline
    pid_alive "$pid" || return 1
    cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
    [[ "$cmdline" == *"$MAIN_CLASS $dir/zoo.cfg"* ]]
}

# True if PID owns a listening TCP socket on PORT (so a `srvr` answer on PORT is its own,
# not that of some other server that already held the port).
pid_listens() {
    local pid=$1 port=$2 hex inode
    hex=$(printf '%04X' "$port")
    while IFS= read -r inode; do
        [[ -n "$inode" ]] || continue
        if find "/proc/$pid/fd" -lname "socket:\[$inode\]" 2>/dev/null | grep -q .; then
            return 0
        fi
    done < <(awk -v p=":$hex" '$4 == "0A" && substr($2, length($2) - 4) == p { print $10 }' \
        /proc/net/tcp /proc/net/tcp6 2>/dev/null)
    return 1
}

# True if something accepts TCP connections on 127.0.0.1:PORT.
port_busy() {
    # shellcheck disable=SC2016 # expanded by the inner bash
    timeout 2 bash -c ': <>"/dev/tcp/127.0.0.1/$1"' _ "$1" 2>/dev/null
}

# ----------------------------------------------------------------------- four-letter words

# four_lw PORT CMD: print the server's answer (empty if it does not answer within 2 s).
four_lw() {
    local port=$1 cmd=$2
    # shellcheck disable=SC2016 # expanded by the inner bash
    timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" && printf "%s" "$2" >&3 && cat <&3' \
        _ "$port" "$cmd" 2>/dev/null || true
}

# mode_of PORT: "standalone", "leader", "follower", "observer" or "" when not serving.
mode_of() {
    local line
    line=$(four_lw "$1" srvr | grep '^Mode:' || true)
    line=${line#Mode: }
    printf '%s' "${line//[[:space:]]/}"
}

# --------------------------------------------------------------------------------- config

cfg_get() {
    local file=$1 key=$2
    sed -n "s/^${key}=//p" "$file" | tail -n 1
}

write_common_cfg() {
    local dir=$1 port=$2 tick=$3
    {
        echo "# written by scripts/zk.sh; throwaway test configuration"
        echo "tickTime=$tick"
        echo "dataDir=$dir/data"
        echo "clientPort=$port"
        echo "clientPortAddress=127.0.0.1"
        echo "admin.enableServer=false"
        echo "4lw.commands.whitelist=*"
        # Throwaway data: skip fsync and the 64 MB transaction-log preallocation.
        echo "forceSync=no"
        echo "preAllocSize=1024"
        echo "maxClientCnxns=0"
        if [[ -n "${ZK_MAX_SESSION_TIMEOUT:-}" ]]; then
            is_uint "$ZK_MAX_SESSION_TIMEOUT" || die "ZK_MAX_SESSION_TIMEOUT must be a number of ms"
            echo "maxSessionTimeout=$ZK_MAX_SESSION_TIMEOUT"
        fi
        if [[ -n "${ZK_EXTRA_CFG:-}" ]]; then
            printf '%s\n' "$ZK_EXTRA_CFG"
        fi
    } >"$dir/zoo.cfg"
}

# ----------------------------------------------------------------------------- launching

# launch DIR: start the server described by DIR/zoo.cfg, detached; write DIR/zk.pid.
launch() {
    local dir=$1 pid old
    [[ -f "$dir/zoo.cfg" ]] || die "$dir/zoo.cfg does not exist"
    command -v java >/dev/null 2>&1 || die "java not found (run: scripts/zk.sh install)"
    [[ -f "$JAVA_DIR/zookeeper.jar" ]] || die "$JAVA_DIR/zookeeper.jar not found (run: scripts/zk.sh install)"
    if [[ -f "$dir/zk.pid" ]]; then
        old=$(cat "$dir/zk.pid")
        if is_uint "$old" && pid_is_server "$old" "$dir"; then
            die "a server from $dir is already running (pid $old)"
        fi
        rm -f "$dir/zk.pid"
    fi
    mkdir -p "$dir/data"
    local port
    port=$(cfg_get "$dir/zoo.cfg" clientPort)
    if port_busy "$port"; then
        echo "zk.sh: 127.0.0.1:$port is already in use" >&2
        exit 3
    fi

    local -a jvm=(-Xmx256m -Xms32m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xss512k
        -Djava.net.preferIPv4Stack=true
        -Dzookeeper.admin.enableServer=false
        -Dorg.slf4j.simpleLogger.showDateTime=true
        "-Dorg.slf4j.simpleLogger.dateTimeFormat=HH:mm:ss.SSS"
        -Dorg.slf4j.simpleLogger.defaultLogLevel=info)
    if [[ -n "${ZK_JUTE_MAXBUFFER:-}" ]]; then
        is_uint "$ZK_JUTE_MAXBUFFER" || die "ZK_JUTE_MAXBUFFER must be a number of bytes"
        jvm+=("-Djute.maxbuffer=$ZK_JUTE_MAXBUFFER")
    fi
    if [[ -n "${ZK_JAVA_OPTS:-}" ]]; then
        local -a extra
        read -r -a extra <<<"$ZK_JAVA_OPTS"
        jvm+=("${extra[@]}")
    fi

    echo "==== zk.sh launch $(date '+%F %T') ====" >>"$dir/zk.log"
    # Without job control a background job is not a process-group leader, so setsid(1)
    # calls setsid() and execs java in place: $! is the JVM's own PID.
    local classpath=$ZK_CLASSPATH
    if [[ -n "${ZK_EXTRA_CLASSPATH:-}" ]]; then
        classpath="$classpath:$ZK_EXTRA_CLASSPATH"
    fi
    setsid java "${jvm[@]}" -cp "$classpath" "$MAIN_CLASS" "$dir/zoo.cfg" \
        </dev/null >>"$dir/zk.log" 2>&1 &
    pid=$!
    echo "$pid" >"$dir/zk.pid"

    if [[ -n "${ZK_WATCH_PID:-}" ]]; then
        is_uint "$ZK_WATCH_PID" || die "ZK_WATCH_PID must be a PID"
        start_watchdog "$pid" "$ZK_WATCH_PID" "$dir"
    fi
}

# start_watchdog SERVER_PID OWNER_PID DIR: SIGKILL the server once OWNER_PID is gone.
start_watchdog() {
    local server=$1 owner=$2 dir=$3
    # shellcheck disable=SC2016 # expanded by the inner bash
    setsid bash -c '
        server=$1 owner=$2 cfg="$3/zoo.cfg"
        alive() {
            [[ -r /proc/$1/stat ]] || return 1
            local s; s=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
            s=${s##*) }; s=${s%% *}
            [[ $s != Z && $s != X ]]
        }
        while alive "$server"; do
            if ! alive "$owner"; then
                if tr "\0" " " <"/proc/$server/cmdline" 2>/dev/null | grep -qF "$cfg"; then
                    kill -KILL "$server" 2>/dev/null || true
                fi
                exit 0
            fi
            sleep 1
        done
    ' zk-watchdog "$server" "$owner" "$dir" </dev/null >/dev/null 2>&1 &
}

print_log_tail() {
    local dir=$1
    echo "---- last lines of $dir/zk.log ----" >&2
    tail -n 40 "$dir/zk.log" >&2 2>/dev/null || true
    echo "----" >&2
}

# wait_ready TIMEOUT_S DIR...: wait until every server in DIRs shows a Mode.
wait_ready() {
    local timeout_s=$1
    shift
    local deadline=$((SECONDS + timeout_s)) dir pid port mode
    local -a pending
    while :; do
        pending=()
        for dir in "$@"; do
            pid=$(cat "$dir/zk.pid")
            port=$(cfg_get "$dir/zoo.cfg" clientPort)
            if ! pid_alive "$pid"; then
                if grep -q 'Address already in use' "$dir/zk.log" 2>/dev/null; then
                    echo "zk.sh: server in $dir exited: a port is already in use" >&2
                    print_log_tail "$dir"
                    rm -f "$dir/zk.pid"
                    return 3
                fi
                echo "zk.sh: server in $dir (pid $pid) exited during start-up" >&2
                print_log_tail "$dir"
                rm -f "$dir/zk.pid"
                return 1
            fi
            mode=$(mode_of "$port")
            if [[ -z "$mode" ]] || ! pid_listens "$pid" "$port"; then
                pending+=("$dir")
            fi
        done
        [[ ${#pending[@]} -eq 0 ]] && return 0
        if ((SECONDS >= deadline)); then
            for dir in "${pending[@]}"; do
                echo "zk.sh: server in $dir not serving after ${timeout_s}s" >&2
                print_log_tail "$dir"
            done
            # A port collision with another process shows up as a BindException.
            for dir in "${pending[@]}"; do
                grep -q 'Address already in use' "$dir/zk.log" 2>/dev/null && return 3
            done
            return 1
        fi
        sleep 0.1
    done
}

start_timeout() {
    local t=${ZK_START_TIMEOUT:-30}
    is_uint "$t" || die "ZK_START_TIMEOUT must be a number of seconds"
    echo "$t"
}

# ------------------------------------------------------------------------------- commands

cmd_start() {
    [[ $# -ge 2 && $# -le 3 ]] || usage
    local dir=$1 port=$2 tick=${3:-2000} rc=0
    is_uint "$port" || die "PORT must be a number"
    is_uint "$tick" || die "TICK_MS must be a number"
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd -P)
    mkdir -p "$dir/data"
    write_common_cfg "$dir" "$port" "$tick"
    launch "$dir"
    wait_ready "$(start_timeout)" "$dir" || rc=$?
    if [[ $rc -ne 0 ]]; then
        stop_dir "$dir" >/dev/null
        exit "$rc"
    fi
    echo "zk.sh: standalone ZooKeeper on 127.0.0.1:$port (pid $(cat "$dir/zk.pid"), dir $dir)"
}

cmd_ensemble() {
    [[ $# -ge 2 && $# -le 3 ]] || usage
    local dir=$1 base=$2 tick=${3:-2000} i node rc=0
    is_uint "$base" || die "BASE_PORT must be a number"
    is_uint "$tick" || die "TICK_MS must be a number"
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd -P)
    # Small ticks: keep initLimit >= 10 s and syncLimit >= 2 s of wall time.
    local init_limit=$(((10000 + tick - 1) / tick)) sync_limit=$(((2000 + tick - 1) / tick))
    ((init_limit < 10)) && init_limit=10
    ((sync_limit < 5)) && sync_limit=5
    local -a nodes=()
    for i in 1 2 3; do
        node="$dir/$i"
        mkdir -p "$node/data"
        echo "$i" >"$node/data/myid"
        write_common_cfg "$node" $((base + i - 1)) "$tick"
        {
            echo "initLimit=$init_limit"
            echo "syncLimit=$sync_limit"
            echo "standaloneEnabled=false"
            echo "reconfigEnabled=false"
            local j
            for j in 1 2 3; do
                echo "server.$j=127.0.0.1:$((base + 100 + 2 * j)):$((base + 101 + 2 * j))"
            done
        } >>"$node/zoo.cfg"
        nodes+=("$node")
    done
    for node in "${nodes[@]}"; do
        launch "$node"
    done
    wait_ready "$(start_timeout)" "${nodes[@]}" || rc=$?
    if [[ $rc -ne 0 ]]; then
        stop_dir "$dir" >/dev/null
        exit "$rc"
    fi
    echo "zk.sh: 3-node ZooKeeper ensemble on 127.0.0.1:$base,127.0.0.1:$((base + 1)),127.0.0.1:$((base + 2)) (dir $dir)"
}

cmd_restart() {
    [[ $# -ge 1 && $# -le 2 ]] || usage
    local dir=$1 wait=1 rc=0
    if [[ $# -eq 2 ]]; then
        [[ "$2" == --no-wait ]] || usage
        wait=0
    fi
    [[ -d "$dir" ]] || die "$dir does not exist"
    dir=$(cd "$dir" && pwd -P)
    launch "$dir"
    if [[ $wait -eq 1 ]]; then
        wait_ready "$(start_timeout)" "$dir" || rc=$?
        if [[ $rc -ne 0 ]]; then
            stop_dir "$dir" >/dev/null
            exit "$rc"
        fi
    fi
    echo "zk.sh: restarted ZooKeeper on 127.0.0.1:$(cfg_get "$dir/zoo.cfg" clientPort) (pid $(cat "$dir/zk.pid"))"
}

# stop_dir DIR: stop every server with a zk.pid under DIR (SIGTERM, SIGKILL after 5 s).
stop_dir() {
    local root=$1 pidfile pid node i
    local -a pids=() pidfiles=()
    while IFS= read -r -d '' pidfile; do
        pid=$(cat "$pidfile" 2>/dev/null || true)
        node=$(dirname "$pidfile")
        if is_uint "$pid" && pid_is_server "$pid" "$node"; then
            kill -TERM "$pid" 2>/dev/null || true
            # A paused (SIGSTOPped) server only acts on SIGTERM once continued.
            kill -CONT "$pid" 2>/dev/null || true
            pids+=("$pid")
        fi
        pidfiles+=("$pidfile")
    done < <(find "$root" -name zk.pid -type f -print0 2>/dev/null)

    for pid in "${pids[@]}"; do
        for ((i = 0; i < 50; i++)); do
            pid_alive "$pid" || break
            sleep 0.1
        done
        if pid_alive "$pid"; then
            kill -KILL "$pid" 2>/dev/null || true
            for ((i = 0; i < 50; i++)); do
                pid_alive "$pid" || break
                sleep 0.1
            done
            pid_alive "$pid" && echo "zk.sh: pid $pid survived SIGKILL" >&2
        fi
        echo "zk.sh: stopped pid $pid"
    done
    for pidfile in "${pidfiles[@]}"; do
        rm -f "$pidfile"
    done
}

cmd_stop() {
    [[ $# -eq 1 ]] || usage
    [[ -d "$1" ]] || return 0
    stop_dir "$(cd "$1" && pwd -P)"
}

cmd_status() {
    [[ $# -eq 1 ]] || usage
    [[ -d "$1" ]] || die "$1 does not exist"
    local root cfg node port pid state mode
    root=$(cd "$1" && pwd -P)
    printf '%-8s %-8s %-10s %s\n' PORT PID STATE MODE
    while IFS= read -r cfg; do
        node=$(dirname "$cfg")
        port=$(cfg_get "$cfg" clientPort)
        pid=$(cat "$node/zk.pid" 2>/dev/null || echo -)
        state=stopped
        mode=-
        if is_uint "$pid" && pid_is_server "$pid" "$node"; then
            state=running
            grep -q '^State:[[:space:]]*T' "/proc/$pid/status" 2>/dev/null && state=paused
            mode=$(mode_of "$port")
            [[ -n "$mode" ]] || mode=not-serving
        fi
        printf '%-8s %-8s %-10s %s\n' "$port" "$pid" "$state" "$mode"
    done < <(find "$root" -name zoo.cfg -type f | sort)
}

cmd_srvr() {
    if [[ $# -ne 1 ]] || ! is_uint "$1"; then
        usage
    fi
    four_lw "$1" srvr
}

main() {
    [[ $# -ge 1 ]] || usage
    local cmd=$1
    shift
    case "$cmd" in
    install) cmd_install "$@" ;;
    installed) is_installed ;;
    start) cmd_start "$@" ;;
    ensemble) cmd_ensemble "$@" ;;
    restart) cmd_restart "$@" ;;
    stop) cmd_stop "$@" ;;
    status) cmd_status "$@" ;;
    srvr) cmd_srvr "$@" ;;
    -h | --help | help) usage ;;
    *) usage ;;
    esac
}

main "$@"
