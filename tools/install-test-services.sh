#!/usr/bin/env bash
# What `make test` needs beside Python 3.11, on Debian or Ubuntu (run as root or with sudo):
# Redis on 127.0.0.1:6379, PostgreSQL on 127.0.0.1:5432 with a database `test` that the user
# `postgres` reaches over TCP without a password, and Debian's Chromium for the browser tests.
# Meant for a development or CI machine: it lets any local user reach that database as
# `postgres` over loopback. Nothing here is needed by `make demo`.
set -euo pipefail

apt-get update -q
apt-get install -y -q redis-server postgresql chromium

service redis-server start >/dev/null 2>&1 || redis-server --daemonize yes --bind 127.0.0.1
service postgresql start

# Trust the postgres user on loopback for the database `test` only (first matching line wins).
hba=$(su postgres -c "psql -tAc 'SHOW hba_file'")
rule="host test postgres 127.0.0.1/32 trust"
if ! grep -qxF "$rule" "$hba"; then
    sed -i "1i $rule" "$hba"
    su postgres -c "psql -qc 'SELECT pg_reload_conf()'" >/dev/null
fi
su postgres -c "psql -tAc \"SELECT 1 FROM pg_database WHERE datname = 'test'\"" | grep -q 1 \
    || su postgres -c "createdb test"

echo "Redis, PostgreSQL (database test) and Chromium are ready: make test"
