"""Private, real services for the fault tests: a Redis server, a PostgreSQL cluster, Celery
workers and a web server, each on its own loopback port, so a test can stop, kill and restart
them without touching the shared PostgreSQL (5432) and Redis (6379) other runs use.

Every process started here is stopped by its owner's `close()`; the fixtures call it in their
teardown, also when the test failed."""

import contextlib
import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def current_database_url():
    """The database this test runs on (pytest-django's test_<name>), for another process or
    connection."""
    from django.db import connection

    s = connection.settings_dict
    auth = s["USER"] + (f":{s['PASSWORD']}" if s["PASSWORD"] else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def wait_until(condition, timeout, interval=0.1):
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            return result
        time.sleep(interval)


def unavailable(reason):
    """Skip — unless CI (UNIONFLOW_REQUIRE_POSTGRES) demands these tests, then fail."""
    if os.environ.get("UNIONFLOW_REQUIRE_POSTGRES"):
        pytest.fail(f"fault tests required but cannot run: {reason}", pytrace=False)
    pytest.skip(reason)


def _stop_process(proc, timeout=10, sig=signal.SIGTERM):
    """Signal the process group (SIGTERM: let it shut down), then SIGKILL it if it lingers.
    The group goes too: a worker's pool processes, gunicorn's workers."""
    if proc is None:
        return
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout)
    # Children may outlive their parent (a pool process whose main process was killed).
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(5)


class SilentServer:
    """A TCP server on loopback that accepts connections and never answers: a hung Redis, mail
    server or database host, or one behind a half-open connection. A context manager; `port`."""

    def __init__(self):
        self._server = socket.socket()
        self._server.bind(("127.0.0.1", 0))
        self._server.listen(64)
        self._server.settimeout(0.2)
        self.port = self._server.getsockname()[1]
        self._held = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def _accept(self):
        while not self._stop.is_set():
            try:
                self._held.append(self._server.accept()[0])
            except OSError:
                continue

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(5)
        for conn in self._held:
            conn.close()
        self._server.close()


class RedisServer:
    """`redis-server` without persistence: a stop loses its queue, like a broker that died."""

    def __init__(self, workdir):
        self.binary = shutil.which("redis-server")
        if self.binary is None:
            unavailable("redis-server is not installed")
        self.port = free_port()
        self.workdir = Path(workdir)
        self.proc = None

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self):
        log = open(self.workdir / "redis.log", "ab")  # noqa: SIM115  (handed to the child)
        self.proc = subprocess.Popen(
            [
                self.binary,
                "--port", str(self.port),
                "--bind", "127.0.0.1",
                "--save", "",
                "--appendonly", "no",
                "--daemonize", "no",
                "--dir", str(self.workdir),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        log.close()
        if not wait_until(self.ping, 10):
            self.close()
            raise RuntimeError(f"redis-server did not answer on port {self.port}")

    def ping(self):
        from redis import Redis
        from redis.exceptions import RedisError

        client = Redis(port=self.port, socket_connect_timeout=0.5, socket_timeout=0.5)
        try:
            return client.ping()
        except RedisError:
            return False
        finally:
            client.close()

    def stop(self):
        _stop_process(self.proc)
        self.proc = None

    def kill(self):
        if self.proc is not None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)
            self.proc = None

    close = stop


def _pg_bindir():
    candidates = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        with contextlib.suppress(subprocess.CalledProcessError, OSError):
            out = subprocess.run([pg_config, "--bindir"], capture_output=True, check=True)
            candidates.append(out.stdout.decode().strip())
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    for initdb in (shutil.which("initdb"),):
        if initdb:
            candidates.append(str(Path(os.path.realpath(initdb)).parent))
    for path in candidates:
        if all(Path(path, tool).exists() for tool in ("initdb", "pg_ctl", "pg_isready")):
            return Path(path)
    return None


class PostgresCluster:
    """A throwaway cluster (initdb into a temporary directory, trust auth, fsync off). The
    server refuses to run as root, so as root its commands run as the `postgres` user."""

    def __init__(self):
        self.bindir = _pg_bindir()
        if self.bindir is None:
            unavailable("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
        self.as_user = []
        if os.geteuid() == 0:
            if shutil.which("runuser") is None:
                unavailable("running as root without runuser to drop to the postgres user")
            try:
                import pwd

                owner = pwd.getpwnam("postgres")
            except KeyError:
                unavailable("running as root and there is no postgres user")
            self.as_user = ["runuser", "-u", "postgres", "--"]
        self.port = free_port()
        self.base = Path(tempfile.mkdtemp(prefix="unionflow-pg-"))
        self.base.chmod(0o755)
        self.data = self.base / "data"
        self.data.mkdir(mode=0o700)
        if self.as_user:
            os.chown(self.data, owner.pw_uid, owner.pw_gid)
            os.chown(self.base, owner.pw_uid, owner.pw_gid)
        self.log = self.base / "server.log"
        self.running = False

    def init(self):
        self._run("initdb", "-D", self.data, "-A", "trust", "-U", "postgres", "-E", "UTF8")
        return self

    def _run(self, tool, *args, timeout=60, check=True):
        command = [*self.as_user, str(self.bindir / tool), *map(str, args)]
        result = subprocess.run(command, capture_output=True, timeout=timeout)
        if check and result.returncode != 0:
            raise RuntimeError(
                f"{tool} failed ({result.returncode}): {result.stderr.decode()[-2000:]}"
            )
        return result

    def url(self, dbname):
        return f"postgres://postgres@127.0.0.1:{self.port}/{dbname}"

    def start(self):
        options = (
            f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c full_page_writes=off -c synchronous_commit=off"
        )
        self._run(
            "pg_ctl", "-D", self.data, "-o", options, "-l", self.log, "-w", "-t", "30", "start"
        )
        self.running = True
        if not wait_until(self.is_ready, 15):
            raise RuntimeError("PostgreSQL did not become ready")

    def is_ready(self):
        result = self._run(
            "pg_isready", "-h", "127.0.0.1", "-p", self.port, "-t", "1", check=False, timeout=5
        )
        return result.returncode == 0

    def stop(self, mode="fast"):
        if self.running:
            self._run("pg_ctl", "-D", self.data, "-m", mode, "-w", "-t", "30", "stop")
            self.running = False

    def kill(self):
        """SIGKILL the postmaster, as a crash would (the next start recovers from the WAL)."""
        pid_file = self.data / "postmaster.pid"
        if pid_file.exists():
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(pid_file.read_text().split()[0]), signal.SIGKILL)
        self.running = False

    def createdb(self, name):
        self._run("createdb", "-h", "127.0.0.1", "-p", self.port, "-U", "postgres", name)

    def close(self):
        try:
            if self.running or (self.data / "postmaster.pid").exists():
                self._run("pg_ctl", "-D", self.data, "-m", "immediate", "-w", "stop", check=False)
                self.running = False
        finally:
            shutil.rmtree(self.base, ignore_errors=True)


def django_env(**overrides):
    """The environment of a project subprocess: this one's, plus `overrides` (None removes)."""
    env = {**os.environ, "PYTHONPATH": str(BASE_DIR), "PYTHONUNBUFFERED": "1"}
    for key, value in overrides.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = str(value)
    return env


class CeleryWorker:
    """A real `celery -A project worker` in its own process group, logging to a file."""

    def __init__(self, env, log_path, *, concurrency=1):
        self.env = env
        self.log_path = Path(log_path)
        self.concurrency = concurrency
        self.proc = None

    def start(self):
        log = open(self.log_path, "ab")  # noqa: SIM115  (handed to the child)
        self.proc = subprocess.Popen(
            [
                str(VENV_BIN / "celery"),
                "-A", "project",
                "worker",
                "--loglevel=INFO",
                "--pool=prefork",
                f"--concurrency={self.concurrency}",
                f"--hostname=reliability-{uuid.uuid4().hex[:8]}@%h",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            cwd=BASE_DIR,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        log.close()
        if not wait_until(lambda: " ready." in self.log() or self.proc.poll() is not None, 60):
            raise RuntimeError(f"the worker did not start:\n{self.log()[-3000:]}")
        if self.proc.poll() is not None:
            raise RuntimeError(f"the worker exited:\n{self.log()[-3000:]}")
        return self

    def log(self):
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def children(self):
        """Pids of the pool processes (the ones running tasks)."""
        path = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        return [int(p) for p in path.read_text().split()] if path.exists() else []

    def kill(self):
        """SIGKILL the whole worker (main process and pool) at once: nothing gets to clean up."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def close(self):
        # A test's worker has nothing worth finishing, and even a cold shutdown takes seconds.
        _stop_process(self.proc, timeout=5, sig=signal.SIGKILL)


class WebServer:
    """gunicorn serving the project's WSGI app."""

    def __init__(self, env, log_path, *, workers=2, threads=4):
        self.env = env
        self.log_path = Path(log_path)
        self.port = free_port()
        self.workers, self.threads = workers, threads
        self.proc = None

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def start(self):
        log = open(self.log_path, "ab")  # noqa: SIM115  (handed to the child)
        self.proc = subprocess.Popen(
            [
                str(VENV_BIN / "gunicorn"),
                "project.wsgi",
                "--bind", f"127.0.0.1:{self.port}",
                "--workers", str(self.workers),
                "--threads", str(self.threads),
                "--timeout", "60",
                "--graceful-timeout", "5",
            ],
            cwd=BASE_DIR,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
        log.close()

        def answers():
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited:\n{self.log()[-3000:]}")
            with socket.socket() as s:
                return s.connect_ex(("127.0.0.1", self.port)) == 0

        if not wait_until(answers, 30):
            raise RuntimeError(f"gunicorn did not start:\n{self.log()[-3000:]}")
        return self

    def log(self):
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def close(self):
        # SIGINT: gunicorn's quick shutdown.
        _stop_process(self.proc, timeout=3, sig=signal.SIGINT)


def manage(env, *args, timeout=180):
    """Run `manage.py` in a subprocess; returns its stdout, raising with its output on failure."""
    result = subprocess.run(
        [sys.executable, str(BASE_DIR / "manage.py"), *args],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        timeout=timeout,
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"manage.py {' '.join(args)} failed:\n{result.stdout.decode()[-2000:]}\n"
            f"{result.stderr.decode()[-4000:]}"
        )
    return result.stdout.decode()
