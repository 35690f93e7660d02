"""Shared machinery of the benchmarks: building the binaries, fresh databases, and timing a
command with its peak memory."""
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.parse

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ADMIN_URL = os.environ.get("LUAMIG_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test")


class BenchError(Exception):
    """A contestant's command failed (or timed out); the run goes on with the next one."""


def target_directory():
    """Cargo's target directory (honours CARGO_TARGET_DIR and .cargo/config)."""
    out = subprocess.run(["cargo", "metadata", "--format-version", "1", "--no-deps"], cwd=ROOT,
                         check=True, stdout=subprocess.PIPE, text=True).stdout
    return json.loads(out)["target_directory"]


def build(debug, floor):
    """Builds luamig (and the floor example); returns (luamig path, floor path or None)."""
    profile = [] if debug else ["--release"]
    subprocess.run(["cargo", "build", "--quiet", "--bin", "luamig"] + profile, cwd=ROOT, check=True)
    if floor:
        subprocess.run(["cargo", "build", "--quiet", "--example", "floor"] + profile, cwd=ROOT, check=True)
    folder = os.path.join(target_directory(), "debug" if debug else "release")
    return os.path.join(folder, "luamig"), (os.path.join(folder, "examples", "floor") if floor else None)


class Database:
    """A fresh, empty database for one contestant on one workload: a SQLite file in the
    project folder, or a PostgreSQL database created on the server of LUAMIG_TEST_POSTGRES_URL
    (dropped again by drop())."""

    counter = 0

    def __init__(self, backend, folder):
        self.backend = backend
        self.folder = folder
        self.name = None
        if backend == "postgres":
            Database.counter += 1
            self.name = "luamig_bench_%d_%d" % (os.getpid(), Database.counter)
            psql(ADMIN_URL, "DROP DATABASE IF EXISTS %s" % self.name)
            psql(ADMIN_URL, "CREATE DATABASE %s" % self.name)
            parts = urllib.parse.urlsplit(ADMIN_URL)
            self.pg = {
                "host": parts.hostname or "127.0.0.1",
                "port": parts.port or 5432,
                "user": urllib.parse.unquote(parts.username or "postgres"),
                "password": urllib.parse.unquote(parts.password or ""),
            }

    @property
    def vendor(self):
        return "sqlite" if self.backend == "sqlite" else "postgresql"

    def sqlite_path(self):
        return os.path.join(self.folder, "db.sqlite3")

    def url(self):
        """The URL luamig and the floor program take."""
        if self.backend == "sqlite":
            return "sqlite://" + self.sqlite_path()
        return "%s/%s" % (ADMIN_URL.rsplit("/", 1)[0], self.name)

    def settle(self, analyze=True):
        """After the setup, before the timed part, on PostgreSQL: CHECKPOINT (the setup's
        writes are not flushed on the timed run's time), and either VACUUM ANALYZE (planner
        statistics as a long-lived table has them) or, with analyze=False, autovacuum switched
        off for the tables so that none has statistics, as right after a deploy's AddField.
        Either way no autovacuum starts in the middle of the timed run."""
        if self.backend != "postgres":
            return
        if analyze:
            first = "VACUUM ANALYZE"
        else:
            first = ("DO $$DECLARE t text; BEGIN FOR t IN SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
                     "LOOP EXECUTE format('ALTER TABLE %I SET (autovacuum_enabled = false)', t); END LOOP; END$$")
        subprocess.run(["psql", self.url(), "-q", "-c", first, "-c", "CHECKPOINT"], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def empty(self):
        """Removes everything the database holds (untimed, between two runs of a command
        that needs an empty database)."""
        if self.backend == "sqlite":
            for suffix in ("", "-journal", "-wal", "-shm"):
                try:
                    os.remove(self.sqlite_path() + suffix)
                except FileNotFoundError:
                    pass
            return
        psql(self.url(), "DROP SCHEMA public CASCADE; CREATE SCHEMA public")

    def drop(self):
        if self.name:
            psql(ADMIN_URL, "DROP DATABASE IF EXISTS %s WITH (FORCE)" % self.name)
            self.name = None


def psql(url, sql):
    subprocess.run(["psql", url, "-qc", sql], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


class Workspace:
    """A temporary folder and a fresh database, removed on exit."""

    def __init__(self, backend, keep=False):
        self.backend = backend
        self.keep = keep

    def __enter__(self):
        self.folder = tempfile.mkdtemp(prefix="luamig-bench-")
        try:
            self.db = Database(self.backend, self.folder)
        except BaseException:
            shutil.rmtree(self.folder, ignore_errors=True)
            raise
        return self

    def __exit__(self, *exc):
        try:
            self.db.drop()
        finally:
            if not self.keep:
                shutil.rmtree(self.folder, ignore_errors=True)


def measure(cmd, cwd, env=None, timeout=None, what=None):
    """Runs cmd; returns (wall seconds, peak RSS of that process in MB).

    The peak is read from /proc/<pid>/status (VmHWM, the high-water mark of the process's own
    memory since exec) while it runs: rusage's ru_maxrss would also count the parent's
    memory at fork time. For a command of a few milliseconds the last sample may come before
    its peak (the figure is then a lower bound), or none may come (None). cmd[0] must be the
    program itself (not a shell), so that the pid is the measured process."""
    full_env = dict(os.environ, **(env or {}))
    err = tempfile.TemporaryFile(mode="w+")
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=full_env, stdout=subprocess.DEVNULL, stderr=err, text=True)
    status = "/proc/%d/status" % proc.pid
    peak_kb = 0
    while True:
        try:
            with open(status) as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        peak_kb = max(peak_kb, int(line.split()[1]))
                        break
        except (FileNotFoundError, ProcessLookupError, ValueError):
            pass
        if proc.poll() is not None:
            break
        if timeout is not None and time.perf_counter() - start > timeout:
            proc.kill()
            proc.wait()
            raise BenchError("%s: timed out after %.0f s" % (what or " ".join(cmd), timeout))
        # Every millisecond at first (short commands), then every 5 ms.
        time.sleep(0.001 if time.perf_counter() - start < 0.2 else 0.005)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        err.seek(0)
        text = err.read().strip()
        lines = text.splitlines()
        if len(lines) > 15:
            text = "\n".join(lines[:3] + ["..."] + lines[-10:])
        raise BenchError("%s failed (exit %d):\n%s" % (what or " ".join(cmd), proc.returncode, text))
    # None when the process ended before it could be sampled.
    return wall, (peak_kb / 1024.0) or None


def write(folder, rel, text):
    path = os.path.join(folder, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
