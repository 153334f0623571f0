#!/usr/bin/env bash
# Install the PostgreSQL server binaries (initdb, postgres) that the test suite starts its own
# throwaway server from. Idempotent: does nothing when they are already there. No service is
# started or needed: tests/support/postgres.py runs its own server on a free loopback port.
set -euo pipefail

have_server_binaries() {
    local bindir
    if command -v pg_config >/dev/null 2>&1; then
        bindir="$(pg_config --bindir 2>/dev/null || true)"
        if [ -n "$bindir" ] && [ -x "$bindir/initdb" ] && [ -x "$bindir/postgres" ]; then return 0; fi
    fi
    for bindir in /usr/lib/postgresql/*/bin; do
        if [ -x "$bindir/initdb" ] && [ -x "$bindir/postgres" ]; then return 0; fi
    done
    command -v initdb >/dev/null 2>&1 && command -v postgres >/dev/null 2>&1
}

if have_server_binaries; then
    echo "PostgreSQL server binaries: already installed"
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "error: no PostgreSQL server binaries and no apt-get; install PostgreSQL (15 or newer) yourself" >&2
    exit 1
fi

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }
as_root apt-get update -qq
# Debian's package may try to start a cluster; in containers without init that is harmless.
as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql

if have_server_binaries; then
    echo "PostgreSQL server binaries: installed"
else
    echo "error: postgresql installed but initdb/postgres were not found" >&2
    exit 1
fi
