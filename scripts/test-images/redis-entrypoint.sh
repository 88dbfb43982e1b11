#!/bin/sh
# Test-image entry point with the official redis image's contract: arguments starting with "-" or
# naming a .conf go to redis-server; the server runs as the redis user in /data.
# Extra for standalone use: REDIS_PASSWORD becomes `requirepass`, fed as config on stdin (never argv)
# unless the command already reads its config from stdin ("-" as last argument).
set -e

if [ "${1#-}" != "$1" ] || [ "${1%.conf}" != "$1" ]; then set -- redis-server "$@"; fi

if [ "$1" = 'redis-server' ] && [ "$(id -u)" = '0' ]; then
  find . \! -user redis -exec chown redis '{}' +
  exec setpriv --reuid=redis --regid=redis --init-groups "$0" "$@"
fi

last=''
for a in "$@"; do last="$a"; done
if [ "$1" = 'redis-server' ] && [ -n "$REDIS_PASSWORD" ] && [ "$last" != '-' ]; then
  exec "$@" - <<EOF
requirepass $REDIS_PASSWORD
EOF
fi

exec "$@"
