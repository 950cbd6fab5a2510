"""`python -m bench` (`make bench`): prepare a fresh benchmark database, run the sections in
order and report. See docs/performance.md.

Environment:
  BENCH_DATABASE_URL  PostgreSQL database to drop and re-create (default: unionflow_bench on
                      127.0.0.1:5432; it must be a database only the benchmark uses)
  BENCH_REDIS_URL     Redis database for the cache (default redis://127.0.0.1:6379/15; flushed)
  BENCH_SECTIONS      comma-separated subset of: engine, queries, load, scale
  BENCH_QUICK=1       a short smoke run (small counts, short loads)
  BENCH_WORKERS       gunicorn workers in the load section (default: cores + 1)
  BENCH_WORKER_CLASS  their class (default: sync)

Each section is a module `bench.<name>` with `run(env) -> dict` returning
{"section", "columns", "rows", "notes", "data"}; a module that is missing is reported as
"not run"."""

import importlib
import json
import os
import platform
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

SECTIONS = ("engine", "queries", "load", "scale")
RESULTS = Path(__file__).resolve().parent / "results.json"
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/unionflow_bench"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/15"


def _flag(name):
    return os.environ.get(name, "").lower() in ("1", "true", "yes", "on")


def configure():
    """The environment every section gets; also exported, so that servers a section starts
    (gunicorn, celery) use the same database, Redis and settings."""
    database_url = os.environ.get("BENCH_DATABASE_URL") or DEFAULT_DATABASE_URL
    redis_url = os.environ.get("BENCH_REDIS_URL") or DEFAULT_REDIS_URL
    if not database_url.startswith(("postgres://", "postgresql://")):
        sys.exit("BENCH_DATABASE_URL must be a PostgreSQL URL")
    os.environ["BENCH_DATABASE_URL"] = database_url
    os.environ["BENCH_REDIS_URL"] = redis_url
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"
    # Celery lets this variable win over the settings: keep the in-process runs on the
    # in-memory broker of bench.settings.
    os.environ["CELERY_BROKER_URL"] = os.environ.get("BENCH_CELERY_BROKER_URL", "memory://")
    requested = os.environ.get("BENCH_SECTIONS", "").strip()
    sections = [s.strip() for s in requested.split(",") if s.strip()] or list(SECTIONS)
    unknown = [s for s in sections if s not in SECTIONS]
    if unknown:
        sys.exit(f"unknown BENCH_SECTIONS: {', '.join(unknown)} (known: {', '.join(SECTIONS)})")
    return {
        "database_url": database_url,
        "redis_url": redis_url,
        "settings_module": "bench.settings",
        "quick": _flag("BENCH_QUICK"),
    }, sections


def recreate_database(database_url):
    """Drop and create the benchmark database, connected to the server's `postgres` database."""
    import psycopg
    from psycopg import sql

    parts = urlsplit(database_url)
    name = parts.path.lstrip("/")
    if not name or name in ("postgres", "template0", "template1"):
        sys.exit(f"refusing to drop database {name!r}: name a database only the benchmark uses")
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def flush_redis(redis_url):
    import redis

    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    version = client.info("server").get("redis_version")
    client.close()
    return version


def prepare(env):
    started = time.perf_counter()
    recreate_database(env["database_url"])
    redis_version = flush_redis(env["redis_url"])
    import django

    django.setup()
    from django.core.management import call_command

    from organizations.demo import seed_demo

    call_command("migrate", verbosity=0, interactive=False)
    seed_demo()
    return redis_version, time.perf_counter() - started


# --- what the results were measured on ------------------------------------------------------


def _read(path):
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def machine():
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in _read("/proc/cpuinfo").splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "unknown",
    )
    mem_kb = next(
        (
            int(line.split()[1])
            for line in _read("/proc/meminfo").splitlines()
            if line.startswith("MemTotal:")
        ),
        0,
    )
    os_name = next(
        (
            line.split("=", 1)[1].strip().strip('"')
            for line in _read("/etc/os-release").splitlines()
            if line.startswith("PRETTY_NAME=")
        ),
        platform.system(),
    )
    return {
        "cores": os.cpu_count(),
        "cpu": cpu,
        "ram_gib": round(mem_kb / 1024 / 1024, 1),
        "os": f"{os_name} ({platform.release()})",
    }


def software(redis_version):
    from importlib.metadata import version

    import django
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT version()")
        pg_version = cursor.fetchone()[0]
        pg_settings = {}
        for name in (
            "shared_buffers",
            "fsync",
            "synchronous_commit",
            "work_mem",
            "max_connections",
        ):
            cursor.execute(f"SHOW {name}")
            pg_settings[name] = cursor.fetchone()[0]
    return {
        "postgresql": pg_version,
        "postgresql_settings": pg_settings,
        "redis": redis_version,
        "python": platform.python_version(),
        "django": django.get_version(),
        "viewflow": version("django-viewflow"),
        "djangorestframework": version("djangorestframework"),
        "psycopg": version("psycopg"),
    }


# --- sections -----------------------------------------------------------------------------------


def run_section(name, env):
    try:
        module = importlib.import_module(f"bench.{name}")
    except ModuleNotFoundError as exc:
        if exc.name != f"bench.{name}":
            raise
        return {"section": name, "status": "not run", "notes": ["not implemented yet"]}
    started = time.perf_counter()
    try:
        result = module.run(dict(env))
    except Exception:
        traceback.print_exc()
        return {
            "section": name,
            "status": "failed",
            "notes": [traceback.format_exc(limit=3).strip().splitlines()[-1]],
            "seconds": round(time.perf_counter() - started, 1),
        }
    result = dict(result)
    result.setdefault("section", name)
    result["status"] = "ok"
    result["seconds"] = round(time.perf_counter() - started, 1)
    return result


def _cell(value):
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) < 100 else f"{value:,.0f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return "" if value is None else str(value)


def table(columns, rows):
    """An aligned text table: numbers right, text left."""
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [
        max([len(str(c)), *(len(r[i]) for r in cells if i < len(r))]) for i, c in enumerate(columns)
    ]
    numeric = [
        all(isinstance(row[i], int | float) for row in rows if i < len(row) and row[i] is not None)
        for i in range(len(columns))
    ]

    def line(values):
        return "  ".join(
            v.rjust(w) if num else v.ljust(w)
            for v, w, num in zip(values, widths, numeric, strict=False)
        ).rstrip()

    out = [line([str(c) for c in columns]), line(["-" * w for w in widths])]
    out += [line(r) for r in cells]
    return "\n".join(out)


def print_section(result):
    title = f"== {result['section']} ({result['status']}"
    if "seconds" in result:
        title += f", {result['seconds']} s"
    print(f"\n{title}) ==")
    if result.get("columns") and result.get("rows"):
        print(table(result["columns"], result["rows"]))
    for note in result.get("notes") or []:
        print(f"  * {note}")
    sys.stdout.flush()


def main():
    env, sections = configure()
    started = time.perf_counter()
    print(f"benchmark database {env['database_url']}, redis {env['redis_url']}", flush=True)
    print(f"sections: {', '.join(sections)}{' (quick)' if env['quick'] else ''}", flush=True)
    redis_version, prep_seconds = prepare(env)
    results = {
        "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
        "quick": env["quick"],
        "machine": machine(),
        "software": software(redis_version),
        "database_url": env["database_url"],
        "redis_url": env["redis_url"],
        "prepare_seconds": round(prep_seconds, 1),
        "sections": {},
    }
    print(f"prepared in {prep_seconds:.1f} s", flush=True)
    for name in sections:
        print(f"\nrunning {name} …", flush=True)
        result = run_section(name, env)
        results["sections"][name] = result
        print_section(result)
        # Written after every section, so an interrupted run still leaves what it measured.
        results["total_seconds"] = round(time.perf_counter() - started, 1)
        RESULTS.write_text(json.dumps(results, indent=2, default=str, ensure_ascii=False) + "\n")
    print(f"\nresults written to {RESULTS} ({results['total_seconds']} s in all)")
    failed = [n for n, r in results["sections"].items() if r["status"] == "failed"]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
