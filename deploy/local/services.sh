#!/usr/bin/env bash
# Make PostgreSQL (+PostGIS) and Redis available for development and tests; write .run/env.
#
#   deploy/local/services.sh [up]   find or start the services, write .run/env (default)
#   deploy/local/services.sh stop   stop the private instances under .run/ (if running)
#
# For PostgreSQL and for Redis, in this order:
#   1. DATABASE_URL / REDIS_URL from the environment, when reachable;
#   2. the conventional local server: 127.0.0.1:5432 user postgres (trust auth) / 127.0.0.1:6379;
#   3. a private instance under .run/: 127.0.0.1:55432 (data .run/pg) / 127.0.0.1:56379
#      (.run/redis), installing the Debian packages when the binaries are missing.
# TEST_DATABASE_URL / TEST_REDIS_URL are used when set and reachable; otherwise the test database
# is <db>_test on the same server and the test Redis is db 15 of the same server.
# The database must offer PostGIS: installed with apt-get for a local server, required otherwise.
#
# .run/env holds `export` lines for DATABASE_URL (postgresql+asyncpg://), TEST_DATABASE_URL,
# REDIS_URL and TEST_REDIS_URL.
#
# Overrides (mostly to exercise the fallbacks): HAE_DB_NAME (hae), HAE_PG_DEFAULT_HOST,
# HAE_PG_DEFAULT_PORT, HAE_PG_DEFAULT_USER, HAE_PG_PRIVATE_PORT, HAE_REDIS_DEFAULT_HOST,
# HAE_REDIS_DEFAULT_PORT, HAE_REDIS_PRIVATE_PORT, HAE_REDIS_TEST_DB (15).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
RUN_DIR=$ROOT/.run
ENV_FILE=$RUN_DIR/env

DB_NAME=${HAE_DB_NAME:-hae}
PG_DEFAULT_HOST=${HAE_PG_DEFAULT_HOST:-127.0.0.1}
PG_DEFAULT_PORT=${HAE_PG_DEFAULT_PORT:-5432}
PG_DEFAULT_USER=${HAE_PG_DEFAULT_USER:-postgres}
PG_PRIVATE_PORT=${HAE_PG_PRIVATE_PORT:-55432}
PG_DATA=$RUN_DIR/pg
PG_LOG=$RUN_DIR/pg.log
REDIS_DEFAULT_HOST=${HAE_REDIS_DEFAULT_HOST:-127.0.0.1}
REDIS_DEFAULT_PORT=${HAE_REDIS_DEFAULT_PORT:-6379}
REDIS_PRIVATE_PORT=${HAE_REDIS_PRIVATE_PORT:-56379}
REDIS_DIR=$RUN_DIR/redis
REDIS_PIDFILE=$REDIS_DIR/redis.pid
REDIS_TEST_DB=${HAE_REDIS_TEST_DB:-15}

export PGCONNECT_TIMEOUT=${PGCONNECT_TIMEOUT:-5}

log() { printf '%s\n' "$*"; }
die() { printf 'services: ERROR: %s\n' "$*" >&2; exit 1; }
have() { command -v "$1" >/dev/null 2>&1; }
is_root() { [ "$(id -u)" -eq 0 ]; }

# ---------------------------------------------------------------------------------------------
# apt

as_root() {
    if is_root; then
        "$@"
    elif have sudo; then
        sudo "$@"
    else
        die "need root or sudo to run: $*"
    fi
}

APT_UPDATED=
apt_install() {
    have apt-get || die "apt-get not found: please install $* by hand"
    log "apt: installing $*"
    mkdir -p "$RUN_DIR"
    local apt_log=$RUN_DIR/apt.log
    if [ -z "$APT_UPDATED" ]; then
        as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q >"$apt_log" 2>&1 ||
            { tail -n 20 "$apt_log" >&2; die "apt-get update failed (log: $apt_log)"; }
        APT_UPDATED=1
    fi
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" \
        >>"$apt_log" 2>&1 ||
        { tail -n 20 "$apt_log" >&2; die "apt-get install $* failed (log: $apt_log)"; }
}

# ---------------------------------------------------------------------------------------------
# URLs

# parse_url URL: sets U_SCHEME U_USERINFO U_HOST U_PORT U_PATH U_QUERY (U_PATH without the '/').
parse_url() {
    local url=$1 rest hostport
    [[ $url == *://* ]] || return 1
    U_SCHEME=${url%%://*}
    rest=${url#*://}
    rest=${rest%%#*}
    U_QUERY=
    if [[ $rest == *\?* ]]; then
        U_QUERY=${rest#*\?}
        rest=${rest%%\?*}
    fi
    U_PATH=
    if [[ $rest == */* ]]; then
        U_PATH=${rest#*/}
        rest=${rest%%/*}
    fi
    U_USERINFO=
    hostport=$rest
    if [[ $rest == *@* ]]; then
        U_USERINFO=${rest%@*}
        hostport=${rest##*@}
    fi
    U_PORT=
    if [[ $hostport == \[* ]]; then # [ipv6]:port
        U_HOST=${hostport%%]*}]
        U_PORT=${hostport#"$U_HOST"}
        U_PORT=${U_PORT#:}
    else
        U_HOST=${hostport%%:*}
        [[ $hostport == *:* ]] && U_PORT=${hostport#*:}
    fi
    return 0
}

# build_url SCHEME USERINFO HOST PORT PATH QUERY
build_url() {
    printf '%s://%s%s%s/%s%s' "$1" "${2:+$2@}" "$3" "${4:+:$4}" "$5" "${6:+?$6}"
}

# Only the query parameters libpq knows (asyncpg's ssl=... becomes sslmode=...).
libpq_query() {
    local out='' kv key val
    local IFS='&'
    for kv in $1; do
        key=${kv%%=*}
        val=${kv#*=}
        case $key in
        ssl)
            case $val in
            true | True | 1) val=require ;;
            false | False | 0) val=disable ;;
            esac
            kv="sslmode=$val"
            ;;
        sslmode | sslrootcert | sslcert | sslkey | sslpassword | host | hostaddr | port | user | \
            password | passfile | connect_timeout | options | application_name | \
            target_session_attrs | gssencmode | channel_binding) ;;
        *) continue ;;
        esac
        out+=${out:+&}$kv
    done
    printf '%s' "$out"
}

# pg_norm URL: print the URL as postgresql+asyncpg://..., with a database name (default $DB_NAME).
pg_norm() {
    parse_url "$1" || return 1
    case $U_SCHEME in
    postgres | postgresql | postgresql+*) ;;
    *) return 1 ;;
    esac
    build_url postgresql+asyncpg "$U_USERINFO" "$U_HOST" "$U_PORT" "${U_PATH:-$DB_NAME}" "$U_QUERY"
}

# pg_libpq URL [DB]: the same server as a libpq URI (for psql / pg_isready), optionally another db.
pg_libpq() {
    parse_url "$1"
    build_url postgresql "$U_USERINFO" "$U_HOST" "$U_PORT" "${2:-$U_PATH}" "$(libpq_query "$U_QUERY")"
}

pg_dbname() { parse_url "$1" && printf '%s' "$U_PATH"; }

# pg_where URL: short host:port (or "local socket") for messages; never shows a password.
pg_where() {
    parse_url "$1"
    if [ -z "$U_HOST" ] || [[ $U_HOST == /* || $U_HOST == %2[Ff]* ]]; then
        printf 'local socket'
    else
        printf '%s:%s' "$U_HOST" "${U_PORT:-5432}"
    fi
}

# A server on this machine: then we may install PostGIS for it.
pg_is_local() {
    parse_url "$1"
    case $U_HOST in
    '' | 127.0.0.1 | localhost | '[::1]' | /* | %2[Ff]*) return 0 ;;
    esac
    return 1
}

redis_norm() {
    parse_url "$1" || return 1
    case $U_SCHEME in
    redis | rediss) ;;
    *) return 1 ;;
    esac
    build_url "$U_SCHEME" "$U_USERINFO" "$U_HOST" "$U_PORT" "${U_PATH:-0}" "$U_QUERY"
}

# redis_with_db URL DB
redis_with_db() {
    parse_url "$1"
    build_url "$U_SCHEME" "$U_USERINFO" "$U_HOST" "$U_PORT" "$2" "$U_QUERY"
}

redis_where() { parse_url "$1" && printf '%s:%s/%s' "$U_HOST" "${U_PORT:-6379}" "${U_PATH:-0}"; }

# Single-quote for /bin/sh.
shq() { printf "'%s'" "${1//\'/\'\\\'\'}"; }

# ---------------------------------------------------------------------------------------------
# PostgreSQL

ensure_pg_client() {
    have psql && have pg_isready && return 0
    apt_install postgresql-client
    have psql || die "psql still missing after installing postgresql-client"
}

# psql_run URI [psql args...]: run SQL from stdin, print tuples only.
psql_run() {
    local uri=$1
    shift
    psql -X -q -At -v ON_ERROR_STOP=1 -d "$uri" "$@"
}

pg_ready() { pg_isready -q -t 3 -d "$(pg_libpq "$1" postgres)" >/dev/null 2>&1; }

# pg_admin URL: set PG_ADMIN to the libpq URI of a maintenance database we can connect to
# (postgres, else template1); on failure set PG_ADMIN_ERR and return 1.
PG_ADMIN=
PG_ADMIN_ERR=
pg_admin() {
    local db uri
    for db in postgres template1; do
        uri=$(pg_libpq "$1" "$db")
        if PG_ADMIN_ERR=$(psql_run "$uri" -c 'select 1' 2>&1 >/dev/null); then
            PG_ADMIN=$uri
            return 0
        fi
    done
    PG_ADMIN_ERR=${PG_ADMIN_ERR#psql: }
    return 1
}

# ensure_postgis_available URL
ensure_postgis_available() {
    local url=$1 admin major
    pg_admin "$url" || die "cannot connect to PostgreSQL at $(pg_where "$url"): $PG_ADMIN_ERR"
    admin=$PG_ADMIN
    if [ "$(psql_run "$admin" -c "select 1 from pg_available_extensions where name = 'postgis'")" = 1 ]; then
        return 0
    fi
    major=$(psql_run "$admin" -c "select current_setting('server_version_num')::int / 10000")
    if ! pg_is_local "$url"; then
        die "PostgreSQL at $(pg_where "$url") does not offer the postgis extension; install PostGIS 3 for PostgreSQL $major on that server (or unset DATABASE_URL to use a local one)"
    fi
    log "postgis: not available on $(pg_where "$url"), installing postgresql-$major-postgis-3"
    apt_install "postgresql-$major-postgis-3"
    [ "$(psql_run "$admin" -c "select 1 from pg_available_extensions where name = 'postgis'")" = 1 ] ||
        die "postgis still not available on $(pg_where "$url") after installing postgresql-$major-postgis-3 (is this server from Debian packages, not a container?)"
}

# ensure_pg_database URL: create the database if missing, then the postgis extension in it.
ensure_pg_database() {
    local url=$1 admin db err
    db=$(pg_dbname "$url")
    pg_admin "$url" || die "cannot connect to PostgreSQL at $(pg_where "$url"): $PG_ADMIN_ERR"
    admin=$PG_ADMIN
    if [ "$(psql_run "$admin" -v db="$db" <<<"select 1 from pg_database where datname = :'db';")" != 1 ]; then
        err=$(psql_run "$admin" -v db="$db" <<<'create database :"db";' 2>&1) ||
            die "cannot create database $db on $(pg_where "$url"): $err"
        CREATED_DBS+=("$db")
    fi
    err=$(psql_run "$(pg_libpq "$url")" -c 'create extension if not exists postgis' 2>&1) ||
        die "cannot create the postgis extension in $db on $(pg_where "$url") (needs a superuser once): $err"
}

pg_bindir() {
    local want=${1:-} d
    if [ -n "$want" ]; then
        d=/usr/lib/postgresql/$want/bin
        [ -x "$d/initdb" ] && { printf '%s' "$d"; return 0; }
        return 1
    fi
    d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    if [ -n "$d" ] && [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then
        printf '%s' "$d"
        return 0
    fi
    if have initdb && have pg_ctl; then
        dirname "$(command -v initdb)"
        return 0
    fi
    return 1
}

# PostgreSQL refuses to run as root: then the private instance belongs to the postgres user.
as_pg_owner() {
    if ! is_root; then
        "$@"
    elif have runuser; then
        runuser -u postgres -- "$@"
    else
        su -s /bin/sh postgres -c "$(printf '%q ' "$@")"
    fi
}

# alive PID: the process exists and is not a zombie (a killed daemon can linger as one).
alive() {
    local state
    kill -0 "$1" 2>/dev/null || return 1
    state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 0
    [ "$state" != Z ]
}

# The private postmaster is alive (per .run/pg/postmaster.pid).
pg_private_alive() {
    local pid
    [ -f "$PG_DATA/postmaster.pid" ] || return 1
    pid=$(head -n 1 "$PG_DATA/postmaster.pid")
    [ -n "$pid" ] && alive "$pid"
}

# The private instance is up and answering; waits a little for one that is still starting.
pg_private_running() {
    pg_private_alive || return 1
    for _ in $(seq 100); do
        pg_isready -q -t 1 -h 127.0.0.1 -p "$PG_PRIVATE_PORT" >/dev/null 2>&1 && return 0
        pg_private_alive || return 1
        sleep 0.2
    done
    die "the private PostgreSQL (.run/pg) is running but does not answer on 127.0.0.1:$PG_PRIVATE_PORT; see .run/pg.log, or run '$0 stop'"
}

start_private_pg() {
    local bindir ver locale
    if [ -f "$PG_DATA/PG_VERSION" ]; then
        ver=$(cat "$PG_DATA/PG_VERSION")
        bindir=$(pg_bindir "$ver") || {
            apt_install "postgresql-$ver"
            bindir=$(pg_bindir "$ver") || die "PostgreSQL $ver binaries missing for $PG_DATA; remove it (make clean) to start afresh"
        }
    else
        bindir=$(pg_bindir) || {
            apt_install postgresql
            bindir=$(pg_bindir) || die "no PostgreSQL binaries found after installing postgresql"
        }
    fi
    if is_root; then
        getent passwd postgres >/dev/null || die "running as root but there is no 'postgres' user to run PostgreSQL as"
    fi

    if pg_private_running; then
        log "postgres: using private instance 127.0.0.1:$PG_PRIVATE_PORT (already running)"
        return 0
    fi
    if pg_isready -q -t 2 -h 127.0.0.1 -p "$PG_PRIVATE_PORT" >/dev/null 2>&1; then
        die "port $PG_PRIVATE_PORT is taken by another PostgreSQL; set HAE_PG_PRIVATE_PORT to a free port"
    fi

    mkdir -p "$RUN_DIR"
    if [ ! -f "$PG_DATA/PG_VERSION" ]; then
        if [ -d "$PG_DATA" ] && [ -n "$(ls -A "$PG_DATA")" ]; then
            die "$PG_DATA exists but is not a PostgreSQL data directory; remove it"
        fi
        mkdir -p "$PG_DATA"
        chmod 700 "$PG_DATA"
        if is_root; then
            chown postgres:postgres "$PG_DATA"
            as_pg_owner test -w "$PG_DATA" ||
                die "the postgres user cannot reach $PG_DATA (a parent directory is not accessible to it)"
        fi
        locale=C
        if locale -a 2>/dev/null | grep -qix 'c.utf-\?8'; then locale=C.UTF-8; fi
        log "postgres: initialising private instance in .run/pg ($("$bindir/postgres" --version | awk '{print $3}'))"
        as_pg_owner "$bindir/initdb" -D "$PG_DATA" -U postgres -A trust -E UTF8 --locale="$locale" \
            >"$RUN_DIR/initdb.log" 2>&1 ||
            { tail -n 20 "$RUN_DIR/initdb.log" >&2; die "initdb failed (log: .run/initdb.log)"; }
        # Disposable development data: no durability, TCP only (no socket in /var/run/postgresql).
        as_pg_owner tee -a "$PG_DATA/postgresql.conf" >/dev/null <<'EOF'

# --- deploy/local/services.sh: private development instance ---
unix_socket_directories = ''
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
        log "postgres: starting private instance on 127.0.0.1:$PG_PRIVATE_PORT"
    else
        # left behind by a postmaster that was killed: it would block the start
        [ -f "$PG_DATA/postmaster.pid" ] && as_pg_owner rm -f "$PG_DATA/postmaster.pid"
        log "postgres: restarting private instance on 127.0.0.1:$PG_PRIVATE_PORT (.run/pg)"
    fi
    : >>"$PG_LOG"
    if is_root; then chown postgres:postgres "$PG_LOG"; fi
    as_pg_owner "$bindir/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -w -t 60 \
        -o "-p $PG_PRIVATE_PORT -h 127.0.0.1" start >/dev/null ||
        { tail -n 20 "$PG_LOG" >&2; die "could not start the private PostgreSQL (log: .run/pg.log)"; }
}

stop_private_pg() {
    pg_private_alive || return 0
    local pid
    pid=$(head -n 1 "$PG_DATA/postmaster.pid")
    kill -INT "$pid" # fast shutdown (what pg_ctl stop -m fast sends)
    for _ in $(seq 300); do
        alive "$pid" || break
        sleep 0.2
    done
    alive "$pid" && die "the private PostgreSQL (pid $pid) did not stop within 60s"
    log "postgres: stopped private instance"
}

CREATED_DBS=()
setup_postgres() {
    ensure_pg_client
    local url='' src
    if [ -n "${DATABASE_URL:-}" ]; then
        src=$(pg_norm "$DATABASE_URL") ||
            die "DATABASE_URL is not a postgresql:// / postgres:// / postgresql+asyncpg:// URL"
        if pg_ready "$src"; then
            pg_admin "$src" ||
                die "PostgreSQL at $(pg_where "$src") (DATABASE_URL) is up but refuses us: $PG_ADMIN_ERR"
            url=$src
            log "postgres: using DATABASE_URL at $(pg_where "$url") (reachable)"
        else
            log "postgres: DATABASE_URL at $(pg_where "$src") is not reachable, looking further"
        fi
    fi
    if [ -z "$url" ]; then
        src=$(build_url postgresql+asyncpg "$PG_DEFAULT_USER" "$PG_DEFAULT_HOST" "$PG_DEFAULT_PORT" "$DB_NAME" "")
        if pg_ready "$src"; then
            if pg_admin "$src"; then
                url=$src
                log "postgres: using $(pg_where "$url") (already running)"
            else
                log "postgres: $(pg_where "$src") is running but user $PG_DEFAULT_USER cannot log in without a password; using a private instance"
            fi
        fi
    fi
    if [ -z "$url" ]; then
        start_private_pg
        url=$(build_url postgresql+asyncpg postgres 127.0.0.1 "$PG_PRIVATE_PORT" "$DB_NAME" "")
    fi

    local test_url=''
    if [ -n "${TEST_DATABASE_URL:-}" ]; then
        src=$(pg_norm "$TEST_DATABASE_URL") || die "TEST_DATABASE_URL is not a PostgreSQL URL"
        if pg_ready "$src" && pg_admin "$src"; then
            test_url=$src
        else
            log "postgres: TEST_DATABASE_URL at $(pg_where "$src") is not usable, using the dev server"
        fi
    fi
    if [ -z "$test_url" ]; then
        parse_url "$url"
        test_url=$(build_url "$U_SCHEME" "$U_USERINFO" "$U_HOST" "$U_PORT" "${U_PATH}_test" "$U_QUERY")
    fi
    [ "$(pg_dbname "$url")" != "$(pg_dbname "$test_url")" ] || [ "$(pg_where "$url")" != "$(pg_where "$test_url")" ] ||
        die "TEST_DATABASE_URL must not be the development database"

    ensure_postgis_available "$url"
    ensure_pg_database "$url"
    if [ "$(pg_where "$test_url")" != "$(pg_where "$url")" ]; then
        ensure_postgis_available "$test_url"
    fi
    ensure_pg_database "$test_url"
    if [ ${#CREATED_DBS[@]} -gt 0 ]; then
        log "postgres: created database(s) ${CREATED_DBS[*]} with postgis"
    fi
    PG_URL=$url
    PG_TEST_URL=$test_url
}

# ---------------------------------------------------------------------------------------------
# Redis

# redis_ping URL: PONG from the server (redis-cli, or bash /dev/tcp when redis-cli is missing).
# Userinfo as redis-py reads it: "user:pass", ":pass" (password only) or "user" (no password).
redis_ping() {
    local url=$1 reply host port user='' pass=''
    parse_url "$url"
    host=${U_HOST:-127.0.0.1}
    host=${host#[}
    host=${host%]}
    port=${U_PORT:-6379}
    if [ -n "$U_USERINFO" ]; then
        user=${U_USERINFO%%:*}
        [[ $U_USERINFO == *:* ]] && pass=${U_USERINFO#*:}
    fi
    if have redis-cli; then
        # not `redis-cli -u`: redis-cli 7.0 sends AUTH "" <pass> for redis://:pass@host
        local args=(-h "$host" -p "$port")
        [ "$U_SCHEME" = rediss ] && args+=(--tls)
        [ -n "$user" ] && args+=(--user "$user")
        reply=$(REDISCLI_AUTH=$pass timeout 5 redis-cli "${args[@]}" ping 2>/dev/null) || return 1
        [ "$reply" = PONG ]
        return
    fi
    [ "$U_SCHEME" = redis ] || return 1
    (
        exec 3<>"/dev/tcp/$host/$port" || exit 1
        if [ -n "$pass" ]; then
            if [ -n "$user" ]; then
                printf 'AUTH %s %s\r\n' "$user" "$pass" >&3
            else
                printf 'AUTH %s\r\n' "$pass" >&3
            fi
            IFS= read -r -t 3 reply <&3 || exit 1
            [[ $reply == +OK* ]] || exit 1
        fi
        printf 'PING\r\n' >&3
        IFS= read -r -t 3 reply <&3 || exit 1
        [[ $reply == +PONG* ]]
    ) 2>/dev/null
}

redis_private_pid() {
    local pid
    [ -f "$REDIS_PIDFILE" ] || return 1
    pid=$(cat "$REDIS_PIDFILE")
    [ -n "$pid" ] && alive "$pid" || return 1
    grep -q redis "/proc/$pid/comm" 2>/dev/null || ! [ -d /proc ] || return 1
    printf '%s' "$pid"
}

start_private_redis() {
    local url=redis://127.0.0.1:$REDIS_PRIVATE_PORT/0
    if redis_private_pid >/dev/null && redis_ping "$url"; then
        log "redis: using private instance 127.0.0.1:$REDIS_PRIVATE_PORT (already running)"
        return 0
    fi
    if redis_ping "$url"; then
        die "port $REDIS_PRIVATE_PORT is taken by another Redis; set HAE_REDIS_PRIVATE_PORT to a free port"
    fi
    have redis-server || apt_install redis-server
    have redis-server || die "redis-server still missing after installing redis-server"
    mkdir -p "$REDIS_DIR"
    log "redis: starting private instance on 127.0.0.1:$REDIS_PRIVATE_PORT (.run/redis)"
    redis-server --bind 127.0.0.1 --port "$REDIS_PRIVATE_PORT" --dir "$REDIS_DIR" \
        --daemonize yes --save '' --appendonly no \
        --pidfile "$REDIS_PIDFILE" --logfile "$REDIS_DIR/redis.log" ||
        die "could not start redis-server (log: .run/redis/redis.log)"
    for _ in $(seq 50); do
        redis_ping "$url" && return 0
        sleep 0.1
    done
    tail -n 20 "$REDIS_DIR/redis.log" >&2 || true
    die "the private Redis did not answer on 127.0.0.1:$REDIS_PRIVATE_PORT (log: .run/redis/redis.log)"
}

stop_private_redis() {
    local pid
    pid=$(redis_private_pid) || return 0
    kill -TERM "$pid"
    for _ in $(seq 100); do
        alive "$pid" || break
        sleep 0.1
    done
    alive "$pid" && die "the private Redis (pid $pid) did not stop"
    rm -f "$REDIS_PIDFILE"
    log "redis: stopped private instance"
}

setup_redis() {
    local url='' src
    if [ -n "${REDIS_URL:-}" ]; then
        src=$(redis_norm "$REDIS_URL") || die "REDIS_URL is not a redis:// or rediss:// URL"
        if redis_ping "$src"; then
            url=$src
            log "redis: using REDIS_URL at $(redis_where "$url") (reachable)"
        else
            log "redis: REDIS_URL at $(redis_where "$src") does not answer PING, looking further"
        fi
    fi
    if [ -z "$url" ]; then
        src=redis://$REDIS_DEFAULT_HOST:$REDIS_DEFAULT_PORT/0
        if redis_ping "$src"; then
            url=$src
            log "redis: using $REDIS_DEFAULT_HOST:$REDIS_DEFAULT_PORT (already running)"
        fi
    fi
    if [ -z "$url" ]; then
        start_private_redis
        url=redis://127.0.0.1:$REDIS_PRIVATE_PORT/0
    fi

    local test_url=''
    if [ -n "${TEST_REDIS_URL:-}" ]; then
        src=$(redis_norm "$TEST_REDIS_URL") || die "TEST_REDIS_URL is not a redis:// or rediss:// URL"
        if redis_ping "$src"; then
            test_url=$src
        else
            log "redis: TEST_REDIS_URL at $(redis_where "$src") does not answer PING, using the dev server"
        fi
    fi
    [ -n "$test_url" ] || test_url=$(redis_with_db "$url" "$REDIS_TEST_DB")
    [ "$(redis_where "$url")" != "$(redis_where "$test_url")" ] ||
        die "the test Redis database must differ from the development one ($(redis_where "$url"))"
    REDIS_URL_OUT=$url
    REDIS_TEST_URL_OUT=$test_url
}

# ---------------------------------------------------------------------------------------------

write_env() {
    mkdir -p "$RUN_DIR"
    local tmp=$ENV_FILE.tmp.$$
    {
        printf '# Written by deploy/local/services.sh; re-run "make services" to refresh.\n'
        printf 'export DATABASE_URL=%s\n' "$(shq "$PG_URL")"
        printf 'export TEST_DATABASE_URL=%s\n' "$(shq "$PG_TEST_URL")"
        printf 'export REDIS_URL=%s\n' "$(shq "$REDIS_URL_OUT")"
        printf 'export TEST_REDIS_URL=%s\n' "$(shq "$REDIS_TEST_URL_OUT")"
    } >"$tmp"
    chmod 600 "$tmp" # the URLs may carry passwords
    mv -f "$tmp" "$ENV_FILE"
}

cmd_up() {
    setup_postgres
    setup_redis
    write_env
    log "services: wrote .run/env"
}

cmd_stop() {
    local any=
    if pg_private_alive; then any=1; fi
    if redis_private_pid >/dev/null; then any=1; fi
    stop_private_pg
    stop_private_redis
    [ -n "$any" ] || log "services: no private instance running"
}

case ${1:-up} in
up | start) cmd_up ;;
stop) cmd_stop ;;
-h | --help | help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0" ;;
*) die "usage: $0 [up|stop]" ;;
esac
