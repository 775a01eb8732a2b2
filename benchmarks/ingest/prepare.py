"""What a benchmark on PostgreSQL prepares once, before its rounds: the `--postgres` URL,
the server's settings (fsync must be on for figures to compare), pgbench's own database and
a migrated template database with API tokens.

Shared so that every benchmark alternating with pgbench measures against the same setup."""

from __future__ import annotations

import argparse
import re
import time

from ingest.common import console
from ingest.processes import Postgres, pgbench, run_cli

POSTGRES_URL = re.compile(r"postgresql://(?P<user>[^@/]+)@(?P<host>[^:/]+):(?P<port>\d+)/?$")


def postgres_url(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Split `args.postgres` into `pg_user`, `pg_host` and `pg_port` (pgbench takes them
    apart), or stop with a usage error."""
    url = POSTGRES_URL.match(args.postgres)
    if url is None:
        parser.error("--postgres is postgresql://USER@HOST:PORT")
    args.pg_user, args.pg_host, args.pg_port = url["user"], url["host"], int(url["port"])


def postgres_settings(pg: Postgres) -> dict[str, str]:
    """The settings a throughput figure depends on, printed; warns when fsync is off."""
    settings = {
        str(name): str(value)
        for name, value in pg.admin(
            "SELECT name, setting FROM pg_settings WHERE name IN "
            "('fsync', 'synchronous_commit', 'server_version', 'max_connections', "
            "'shared_buffers', 'wal_sync_method')"
        )
    }
    console.print(f"PostgreSQL {settings}")
    if settings.get("fsync") != "on":
        console.print("[red]fsync is off: figures are not comparable[/red]")
    return settings


def init_pgbench(args: argparse.Namespace, pg: Postgres) -> float:
    """`pgbench -i -s args.pgbench_scale` on a fresh `args.pgbench_db`; returns seconds."""
    started = time.perf_counter()
    pg.create(args.pgbench_db)
    pgbench(
        args.pg_host,
        args.pg_port,
        args.pg_user,
        ["-i", "-q", "-s", str(args.pgbench_scale), args.pgbench_db],
    )
    return round(time.perf_counter() - started, 1)


def template_database(
    pg: Postgres, name: str, env: dict[str, str], roles: tuple[str, ...]
) -> tuple[dict[str, str], dict[str, str]]:
    """A database `name` with buyerguard's schema (`buyerguard db upgrade`) and one token per
    role (`buyerguard token create`); returns the environment that points at it and the
    tokens by role."""
    pg.create(name)
    env = {**env, "BUYERGUARD_DATABASE_URL": pg.dsn(name)}
    done = run_cli(env, "db", "upgrade")
    if done.returncode != 0:
        raise SystemExit(f"buyerguard db upgrade: {done.stderr}")
    tokens = {}
    for role in roles:
        done = run_cli(env, "token", "create", "--role", role, "--label", f"bench-{role}")
        if done.returncode != 0:
            raise SystemExit(f"buyerguard token create --role {role}: {done.stderr}")
        tokens[role] = done.stdout.strip().splitlines()[-1]
    return env, tokens
