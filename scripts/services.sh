#!/usr/bin/env bash
# Start the local PostgreSQL and Redis the integration tests use, when installed but down.
set -euo pipefail

up() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

if ! up 5432 && command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
  echo "==> starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start
fi

if ! up 6379 && command -v redis-server >/dev/null; then
  echo "==> starting Redis"
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
fi

for _ in $(seq 1 50); do
  if up 5432 && up 6379; then exit 0; fi
  sleep 0.2
done
up 5432 || echo "warning: PostgreSQL is not reachable on 127.0.0.1:5432" >&2
up 6379 || echo "warning: Redis is not reachable on 127.0.0.1:6379" >&2
