#!/bin/sh
# Runs tokengate under spawn-fcgi, for init systems without socket activation (runit, s6,
# OpenRC, a container entrypoint). With systemd, use deploy/systemd/ instead.
#
# spawn-fcgi creates the unix socket (mode 0660, group nginx's), switches to the tokengate
# user and execs `tokengate serve --listen fd:0` with the listening socket as standard input.
# -n keeps everything in the foreground in this one process: the supervisor's PID is
# tokengate's, SIGTERM (drain, exit 0) and SIGHUP (reload keys) reach it directly, and its log
# stays on standard error.
#
#   deploy/spawn-fcgi/tokengate-spawn-fcgi.sh                    # as root, defaults below
#   FCGI_SOCKET=/tmp/tg/tokengate.sock deploy/spawn-fcgi/tokengate-spawn-fcgi.sh
#                                                                # as any user (no switching)
# Environment (default):
#   TOKENGATE_BIN      the tokengate binary (/usr/local/bin/tokengate)
#   TOKENGATE_CONFIG   its configuration file (/etc/tokengate/tokengate.conf)
#   FCGI_SOCKET        the socket spawn-fcgi creates (/run/tokengate/tokengate.sock): the path
#                      in nginx's `upstream tokengate` (tokengate-upstream.conf)
#   FCGI_SOCKET_MODE   its file mode (0660)
#   FCGI_SOCKET_GROUP  its group, when started as root: nginx's (www-data)
#   FCGI_USER          the user tokengate runs as, when started as root (tokengate)
#   FCGI_GROUP         that user's group, when started as root (tokengate)
# TOKENGATE_* settings in the environment reach tokengate (`tokengate config keys --env`).
set -eu

bin=${TOKENGATE_BIN:-/usr/local/bin/tokengate}
config=${TOKENGATE_CONFIG:-/etc/tokengate/tokengate.conf}
socket=${FCGI_SOCKET:-/run/tokengate/tokengate.sock}
mode=${FCGI_SOCKET_MODE:-0660}
nginx_group=${FCGI_SOCKET_GROUP:-www-data}
user=${FCGI_USER:-tokengate}
group=${FCGI_GROUP:-tokengate}

command -v spawn-fcgi >/dev/null 2>&1 || {
    echo "tokengate-spawn-fcgi: spawn-fcgi is not installed (apt-get install spawn-fcgi)" >&2
    exit 1
}

if [ "$(id -u)" -eq 0 ]; then
    # The socket's directory: nginx's group may enter it, nobody else (spawn-fcgi, running as
    # root here, creates the socket; tokengate only ever holds the descriptor).
    directory=$(dirname "$socket")
    if [ ! -d "$directory" ]; then
        install -d -m 0750 -o root -g "$nginx_group" "$directory"
    fi
    set -- -u "$user" -g "$group" -G "$nginx_group"
else
    # Unprivileged: spawn-fcgi cannot switch users; the socket belongs to the caller.
    set --
fi

exec spawn-fcgi -n -s "$socket" -M "$mode" "$@" -- "$bin" serve --config "$config" --listen fd:0
