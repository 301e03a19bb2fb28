# Shared helpers for deploy/local/run and deploy/local/test (sourced, not executed).
# shellcheck shell=bash

TG_REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

tg_say() { printf '==> %s\n' "$*" >&2; }
tg_warn() { printf 'warning: %s\n' "$*" >&2; }
tg_die() {
    printf 'error: %s\n' "$*" >&2
    exit 1
}

# Runs a command as root: directly when we are root, else through sudo.
tg_as_root() {
    if [[ $(id -u) -eq 0 ]]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        tg_die "need root (or sudo) to run: $*"
    fi
}

# Installs the Debian packages that are not installed yet; runs `apt-get update` only when
# something is missing.
tg_ensure_packages() {
    local missing=() package
    for package in "$@"; do
        if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed'; then
            missing+=("$package")
        fi
    done
    [[ ${#missing[@]} -eq 0 ]] && return 0
    command -v apt-get >/dev/null 2>&1 || tg_die "missing packages (${missing[*]}) and no apt-get: install them by hand"
    tg_say "installing Debian packages: ${missing[*]}"
    tg_as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    tg_as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# The packages every build and run needs.
# shellcheck disable=SC2034 # used by the scripts that source this file
TG_BASE_PACKAGES=(libfcgi-dev libargon2-dev libsqlite3-dev pkg-config nginx openssl curl python3)

tg_require_swift() {
    command -v swift >/dev/null 2>&1 ||
        tg_die "swift is not on PATH: install a Swift 6 toolchain (https://www.swift.org/install/linux/) first"
}

# The nginx binary: $TOKENGATE_TEST_NGINX, else the one on PATH, else /usr/sbin/nginx.
tg_nginx_bin() {
    if [[ -n ${TOKENGATE_TEST_NGINX:-} ]]; then
        printf '%s\n' "$TOKENGATE_TEST_NGINX"
    elif command -v nginx >/dev/null 2>&1; then
        command -v nginx
    else
        printf '/usr/sbin/nginx\n'
    fi
}

# tg_has_subcommand BIN WORD...: succeeds when `BIN WORD... --help` documents that subcommand.
# (The exit status alone says nothing: ArgumentParser answers `--help` after an unknown word
# with the top-level help and exit 0.)
tg_has_subcommand() {
    local bin=$1 help
    shift
    help=$("$bin" "$@" --help 2>&1) || return 1
    grep -qiF "usage: tokengate $*" <<<"$help"
}

# Makes DIR/cert.pem and DIR/key.pem (self-signed, localhost and 127.0.0.1) unless both exist.
tg_make_cert() {
    local dir=$1
    [[ -s $dir/cert.pem && -s $dir/key.pem ]] && return 0
    mkdir -p "$dir"
    chmod 0700 "$dir"
    (
        umask 077
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 825 \
            -subj '/CN=localhost' \
            -addext 'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1' \
            -keyout "$dir/key.pem.tmp" -out "$dir/cert.pem.tmp" >/dev/null 2>&1
    ) || tg_die "openssl could not make a self-signed certificate in $dir"
    mv "$dir/key.pem.tmp" "$dir/key.pem"
    mv "$dir/cert.pem.tmp" "$dir/cert.pem"
}

# Escapes a string for the replacement side of a sed s|…|…| command.
tg_sed_escape() { printf '%s' "$1" | sed -e 's/[\\|&]/\\&/g'; }

# tg_render_nginx PREFIX PORT SOCKET APP_PORT: writes PREFIX/nginx.conf from the template and
# links PREFIX/tokengate -> deploy/nginx (the template's includes are relative to the prefix).
# @WEB@ is deploy/web (the demo pages); APP_PORT is the demo upstream's port.
tg_render_nginx() {
    local prefix=$1 port=$2 socket=$3 app_port=$4 unknown
    ln -sfn "$TG_REPO_ROOT/deploy/nginx" "$prefix/tokengate"
    sed -e "s|@PREFIX@|$(tg_sed_escape "$prefix")|g" \
        -e "s|@PORT@|$(tg_sed_escape "$port")|g" \
        -e "s|@SOCKET@|$(tg_sed_escape "$socket")|g" \
        -e "s|@APP_PORT@|$(tg_sed_escape "$app_port")|g" \
        -e "s|@WEB@|$(tg_sed_escape "$TG_REPO_ROOT/deploy/web")|g" \
        "$TG_REPO_ROOT/deploy/local/nginx.conf.template" >"$prefix/nginx.conf.tmp"
    unknown=$(grep -oE '@[A-Z_]+@' "$prefix/nginx.conf.tmp" | sort -u | tr '\n' ' ' || true)
    [[ -z $unknown ]] || tg_die "deploy/local/nginx.conf.template uses placeholders deploy/local/lib.sh does not fill: $unknown"
    mv "$prefix/nginx.conf.tmp" "$prefix/nginx.conf"
}

# Succeeds when something accepts TCP connections on 127.0.0.1:PORT (or listens on it anywhere).
tg_port_in_use() {
    local port=$1
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        return 0
    fi
    if command -v ss >/dev/null 2>&1 && [[ -n $(ss -Hltn "sport = :$port" 2>/dev/null) ]]; then
        return 0
    fi
    return 1
}

# Succeeds while PID is a live process (a zombie, i.e. exited but not yet reaped, is not).
tg_alive() {
    local pid=$1 state
    [[ -n $pid && -r /proc/$pid/stat ]] || return 1
    state=$(sed -e 's/^.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f1) || return 1
    [[ -n $state && $state != Z && $state != X ]]
}

# tg_wait_gone PID SECONDS: waits until PID has exited; fails on timeout.
tg_wait_gone() {
    local pid=$1 deadline=$((SECONDS + $2))
    while tg_alive "$pid"; do
        ((SECONDS < deadline)) || return 1
        sleep 0.1
    done
}

# tg_stop PID NAME [SECONDS]: SIGTERM, then SIGKILL after the timeout. Sets TG_STOP_STATUS to
# the exit status (PID must be a child of this shell; 128+N when killed by signal N).
# shellcheck disable=SC2034 # read by the caller
TG_STOP_STATUS=0
tg_stop() {
    local pid=$1 name=$2 timeout=${3:-15}
    TG_STOP_STATUS=0
    if tg_alive "$pid"; then
        kill -TERM "$pid" 2>/dev/null || true
        if ! tg_wait_gone "$pid" "$timeout"; then
            tg_warn "$name (pid $pid) did not stop within ${timeout}s; sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
            tg_wait_gone "$pid" 5 || true
        fi
    fi
    # shellcheck disable=SC2034 # read by the caller
    wait "$pid" 2>/dev/null || TG_STOP_STATUS=$?
}

# tg_tail FILE [LINES]: the end of a log, indented, for error messages.
tg_tail() {
    local file=$1 lines=${2:-20}
    [[ -s $file ]] || return 0
    printf -- '--- last lines of %s ---\n' "$file" >&2
    tail -n "$lines" "$file" | sed -e 's/^/    /' >&2
}
