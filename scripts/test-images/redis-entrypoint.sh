#!/bin/sh
# Test-image entry point with the official redis image's contract: arguments starting with "-" or
# naming a .conf go to redis-server; the server runs as the redis user in /data; without a config
# file that sets it, `--protected-mode no` is appended (as the official entry point does).
# Extra for standalone use: REDIS_PASSWORD becomes `requirepass`, fed as config on stdin (never argv)
# unless the command already reads its config from stdin (a "-" argument).
set -e

if [ "${1#-}" != "$1" ] || [ "${1%.conf}" != "$1" ]; then set -- redis-server "$@"; fi

if [ "$1" = 'redis-server' ] && [ "$(id -u)" = '0' ]; then
  find . \! -user redis -exec chown redis '{}' +
  exec setpriv --reuid=redis --regid=redis --init-groups "$0" "$@"
fi

if [ "$1" = 'redis-server' ]; then
  stdin_config=''
  for a in "$@"; do [ "$a" = '-' ] && stdin_config=1; done
  if [ -f "$2" ] && grep -q '^protected-mode' "$2"; then :; else set -- "$@" --protected-mode no; fi
  if [ -n "$REDIS_PASSWORD" ] && [ -z "$stdin_config" ]; then
    shift
    exec redis-server - "$@" <<EOF2
requirepass $REDIS_PASSWORD
EOF2
  fi
fi

exec "$@"
