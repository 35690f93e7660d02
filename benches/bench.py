#!/usr/bin/env python3
"""luamig benchmarks, side by side with Django 5.2 and a "floor" program (issue 6).

In one run, on the same data, on SQLite and/or PostgreSQL, times three contestants:
  luamig  the release binary on real .lua migrations (benches/luamig_projects.py);
  Django  Django 5.2 in a virtual environment outside the repository (installed from PyPI on
          first use), on a generated project with ordinary Django migrations
          (benches/django_projects.py), run with `python manage.py ...`;
  floor   plain Rust with rusqlite / postgres issuing the same SQL statements with prepared
          statements in one transaction (benches/floor/floor.rs, `cargo build --example floor`).

Workloads (issue 6; sizes scale with --rows, defaults in brackets):
  1  slug backfill: filter(slug="").iterator(500) + slugify + save(update_fields) [100,000 rows]
  2  UUID fill: per-row uuid4 + save(update_fields), then AlterField to unique [100,000 rows]
  3  orders to customers, the six-step migration with get_or_create + save per order
     [30,000 orders, 3,000 customers]
  4  bulk update(status="draft") and update(price=F("price") + 1) [1,000,000 rows]
  5  synthetic project, 10 apps: showmigrations (empty database), migrate --fake (planning,
     state replay and recording, no DDL), migrate (apply all),
     migrate (nothing to do), sqlmigrate (last migration of app0) [1,000 and 10,000 migrations];
     models of at most 100 fields (luamig_projects.FIELDS_PER_MODEL); the floor runs the same
     DDL and history inserts as apply-all, to show how much of its growth is the database's
  6  peak RSS of workload 1 [100,000 and 1,000,000 rows]

Data setup is never timed: each contestant gets a fresh database (a SQLite file, or a
PostgreSQL database created and dropped on the server of LUAMIG_TEST_POSTGRES_URL), applies
the setup migration (`migrate app 0001`; the floor's database is set up by luamig's), then
on PostgreSQL VACUUM ANALYZE + CHECKPOINT (--no-analyze: no statistics), and only the
workload's migration (`migrate app 0002`) or the floor program is timed, as the wall time of
that process (workloads 1-4: the median of 5 turns, each on a fresh database, for luamig
and the floor, whose runs take a second or less and move by 10-30% between runs here, and
for Django on workload 4; workload 5's commands that change nothing: the median of 5 runs;
luamig's apply-all: the median of 3, each on an emptied database), with its peak RSS (VmHWM sampled from /proc every 1-5 ms: a lower bound for
commands of a few milliseconds, "?" when none was sampled). Every result is checked with a query afterwards; a failed or wrong
run is reported and makes the exit status 1 (targets missed do not).

    python3 benches/bench.py                                  # everything, both backends
    python3 benches/bench.py --backend sqlite --workloads 1,5 --no-django --json out.json
    python3 benches/bench.py --debug --migrations 50 --big-migrations 200 --rows 1000 --repeats 1 --no-django  # CI
"""
import argparse
import json
import os
import platform
import sqlite3
import statistics
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the repository for the modules next to this file

import django_projects  # noqa: E402
import luamig_projects  # noqa: E402
from harness import ADMIN_URL, BenchError, Workspace, build, measure  # noqa: E402

NAMES = {"luamig": "luamig", "django": "Django", "floor": "floor"}


class Result:
    def __init__(self, workload, label, backend, size, contestant, wall=None, rss=None, rows=None, error=None):
        self.workload, self.label, self.backend, self.size = workload, label, backend, size
        self.contestant, self.wall, self.rss, self.rows, self.error = contestant, wall, rss, rows, error

    @property
    def rate(self):
        return self.rows / self.wall if self.rows and self.wall else None

    def json(self):
        return {"workload": self.workload, "label": self.label, "backend": self.backend, "size": self.size,
                "contestant": self.contestant, "wall_s": self.wall, "rows": self.rows, "rows_per_s": self.rate,
                "peak_rss_mb": self.rss, "error": self.error}


class Bench:
    def __init__(self, args):
        self.args = args
        self.results = []
        self.luamig, self.floor = build(args.debug, floor=not args.no_floor)
        self.python = None
        self.django_version = None
        if not args.no_django:
            self.python, self.django_version = django_projects.ensure_venv(args.django_venv)

    # -- running -------------------------------------------------------------------------

    def timed(self, contestant, cmd, cwd, env=None):
        return measure(cmd, cwd, env=env, timeout=self.args.timeout, what="%s %s" % (NAMES[contestant], " ".join(cmd[1:])))

    def record(self, result):
        self.results.append(result)
        r = result
        if r.error:
            print("  %-7s %-34s %-8s %-22s FAILED: %s" % (NAMES[r.contestant], r.label, r.backend, r.size,
                                                       r.error.splitlines()[0]), file=sys.stderr, flush=True)
            for line in r.error.splitlines()[1:]:
                print("          " + line, file=sys.stderr)
        else:
            print("  %-7s %-34s %-8s %-22s %9.3f s %s %s" % (
                NAMES[r.contestant], r.label, r.backend, r.size, r.wall,
                ("%10.0f rows/s" % r.rate) if r.rate else " " * 15,
                ("%7.1f MB" % r.rss) if r.rss else "      ? MB"), file=sys.stderr, flush=True)
        return result

    def data_workload(self, workload, label, backend, size, rows, contestants, luamig_writer, django_writer, floor_name, check,
                      repeats=1, django_repeats=1):
        """Runs one data workload for each contestant on a fresh database; returns the results.
        With repeats > 1 the contestants take turns, each run on a fresh database, and each
        result is the median wall time (and the highest peak RSS); Django runs
        django_repeats times."""
        results = {c: Result(workload, label, backend, size, c, rows=rows) for c in contestants}
        walls = {c: [] for c in contestants}
        for turn in range(max(repeats, django_repeats)):
            for contestant in contestants:
                result = results[contestant]
                if result.error or turn >= (django_repeats if contestant == "django" else repeats):
                    continue
                try:
                    wall, rss = self.run_data_workload(contestant, backend, luamig_writer, django_writer, floor_name, check)
                    walls[contestant].append(wall)
                    result.rss = max(result.rss or 0, rss or 0) or None
                except BenchError as e:
                    result.error = str(e)
        for contestant, result in results.items():
            if not result.error:
                result.wall = statistics.median(walls[contestant])
            self.record(result)
        return results

    def run_data_workload(self, contestant, backend, luamig_writer, django_writer, floor_name, check):
        """One timed run of a data workload on a fresh database: (wall time, peak RSS)."""
        with Workspace(backend, keep=self.args.keep) as ws:
            if contestant == "django":
                setup, timed = django_writer(ws.folder, ws.db)
                django_projects.compile_bytecode(self.python, ws.folder)
                measure([self.python, "manage.py"] + setup, ws.folder, what="Django setup")
                ws.db.settle(analyze=not self.args.no_analyze)
                measured = self.timed(contestant, [self.python, "manage.py"] + timed, ws.folder)
            else:
                setup, timed = luamig_writer(ws.folder)
                env = {"DATABASE_URL": ws.db.url()}
                measure([self.luamig] + setup, ws.folder, env=env, what="luamig setup")
                ws.db.settle(analyze=not self.args.no_analyze)
                if contestant == "luamig":
                    measured = self.timed(contestant, [self.luamig] + timed, ws.folder, env)
                else:
                    measured = self.timed(contestant, [self.floor, floor_name, ws.db.url()], ws.folder)
            check(ws.db)
            return measured

    # -- workloads -----------------------------------------------------------------------

    def contestants(self, django=True, floor=True):
        c = ["luamig"]
        if floor and not self.args.no_floor:
            c.append("floor")
        if django and not self.args.no_django:
            c.append("django")
        return c

    def slug_backfill(self, backend, rows, workload=1, django=True):
        return self.data_workload(
            workload, "slug backfill" if workload == 1 else "memory: slug backfill", backend,
            "%s rows" % fmt_int(rows), rows, self.contestants(django),
            lambda f: luamig_projects.slug_backfill(f, rows),
            lambda f, db: django_projects.slug_backfill(f, db, rows), "slug",
            lambda db: expect(db, "SELECT count(*) FROM blog_article WHERE slug = 'article-number-' || id || '-with-unicode'", rows),
            repeats=self.args.repeats if workload == 1 else 1)

    def uuid_fill(self, backend, rows):
        return self.data_workload(
            2, "UUID fill + AlterField unique", backend, "%s rows" % fmt_int(rows), rows, self.contestants(),
            lambda f: luamig_projects.uuid_fill(f, rows),
            lambda f, db: django_projects.uuid_fill(f, db, rows), "uuid",
            lambda db: expect(db, "SELECT count(DISTINCT uuid) FROM inventory_item", rows),
            repeats=self.args.repeats)

    def orders(self, backend, orders, customers):
        def check(db):
            expect(db, "SELECT count(*) FROM shop_customer", min(orders, customers))
            expect(db, "SELECT count(*) FROM shop_order o JOIN shop_customer c ON c.id = o.customer_id "
                       "WHERE c.name = 'Customer ' || (o.id %% %d)" % customers, orders)
        return self.data_workload(
            3, "orders to customers (6 steps)", backend, "%s / %s cust." % (fmt_int(orders), fmt_int(customers)),
            orders, self.contestants(),
            lambda f: luamig_projects.orders_to_customers(f, orders, customers),
            lambda f, db: django_projects.orders_to_customers(f, db, orders, customers), "orders", check,
            repeats=self.args.repeats)

    def bulk(self, backend, rows):
        return self.data_workload(
            4, "bulk update + F() update", backend, "%s rows" % fmt_int(rows), rows, self.contestants(),
            lambda f: luamig_projects.bulk_update(f, rows),
            lambda f, db: django_projects.bulk_update(f, db, rows), "bulk",
            lambda db: expect(db, "SELECT count(*) FROM catalog_product WHERE status = 'draft' AND price = id % 1000 + 1", rows),
            # Two statements on the server: its noise (±10% between runs here) is the size of
            # the 1.2x margin, so Django takes turns too.
            repeats=self.args.repeats, django_repeats=self.args.repeats)

    # (label, command, runs): a command that changes nothing runs REPEATS times and its
    # median counts (one run of a few tens of milliseconds is at the mercy of the
    # scheduler); "apply" runs luamig APPLY_REPEATS times on an emptied database each time
    # (its 1,000-migration run of about 0.1 s is the denominator of the growth target, and
    # moved by 10-30% between single runs), and Django once (seconds, and less noisy);
    # "once" runs once.
    SYNTHETIC = [
        ("showmigrations (empty db)", lambda last: ["showmigrations"], "repeat"),
        # Not one of issue 6's commands: planning, state replay and recording without any
        # DDL, to show how luamig's own work grows; its records are then deleted (untimed)
        # so the next command applies everything.
        ("migrate --fake (record all)", lambda last: ["migrate", "--fake"], "once"),
        ("migrate (apply all)", lambda last: ["migrate"], "apply"),
        ("migrate (nothing to do)", lambda last: ["migrate"], "repeat"),
        ("sqlmigrate (last of app0)", lambda last: ["sqlmigrate", "app0", last], "repeat"),
    ]
    REPEATS = 5
    APPLY_REPEATS = 3

    def synthetic(self, backend, count, django):
        """Workload 5: the four commands in sequence on one database per contestant."""
        plan = luamig_projects.synthetic_plan(count)
        size = "%s migrations" % fmt_int(len(plan))
        for contestant in ["luamig"] + (["django"] if django and not self.args.no_django else []):
            with Workspace(backend, keep=self.args.keep) as ws:
                if contestant == "luamig":
                    last = luamig_projects.synthetic(ws.folder, count)
                    prefix, env, table = [self.luamig], {"DATABASE_URL": ws.db.url()}, "luamig_migrations"
                else:
                    django_projects.synthetic(ws.folder, ws.db, plan)
                    django_projects.compile_bytecode(self.python, ws.folder)
                    last = plan[len(plan) // 10 - 1][1]
                    prefix, env, table = [self.python, "manage.py"], None, "django_migrations"
                failed = None
                for label, args, runs_of in self.SYNTHETIC:
                    result = Result(5, label, backend, size, contestant)
                    if failed:
                        result.error = "not run: %s failed" % failed
                    else:
                        try:
                            apply = runs_of == "apply" and contestant == "luamig"
                            count = {"repeat": self.REPEATS, "apply": self.APPLY_REPEATS if apply else 1}.get(runs_of, 1)
                            runs = []
                            for _ in range(count):
                                if apply:
                                    ws.db.empty()
                                runs.append(self.timed(contestant, prefix + args(last), ws.folder, env))
                            result.wall = statistics.median(wall for wall, _ in runs)
                            result.rss = max((rss for _, rss in runs if rss), default=None)
                            if label.startswith("migrate (apply all)") or label.startswith("migrate --fake"):
                                expect(ws.db, "SELECT count(*) FROM %s" % table, len(plan))
                            if label.startswith("migrate --fake"):
                                run_sql(ws.db, "DELETE FROM %s" % table)
                        except BenchError as e:
                            result.error, failed = str(e), label
                    self.record(result)
        if not self.args.no_floor:
            self.synthetic_floor(backend, plan, size)

    def synthetic_floor(self, backend, plan, size):
        """Workload 5's apply-all as the floor program: the DDL `sqlmigrate` prints and the
        history rows, to tell the databases' own growth with the project from luamig's (on
        SQLite luamig creates an empty table again instead of ALTER TABLE ... ADD COLUMN)."""
        result = Result(5, "migrate (apply all)", backend, size, "floor")
        try:
            with Workspace(backend, keep=self.args.keep) as ws:
                steps = os.path.join(ws.folder, "steps.txt")
                with open(steps, "w") as f:
                    f.write(luamig_projects.synthetic_floor_steps(plan, backend))
                result.wall, result.rss = self.timed("floor", [self.floor, "ddl", ws.db.url(), steps], ws.folder)
                expect(ws.db, "SELECT count(*) FROM luamig_migrations", len(plan))
        except BenchError as e:
            result.error = str(e)
        self.record(result)

    # -- the run ---------------------------------------------------------------------------

    def run(self):
        a = self.args
        backends = ["sqlite", "postgres"] if a.backend == "both" else [a.backend]
        for backend in backends:
            if 1 in a.workloads:
                self.slug_backfill(backend, a.rows)
            if 2 in a.workloads:
                self.uuid_fill(backend, a.rows)
            if 3 in a.workloads:
                self.orders(backend, a.orders, a.customers)
            if 4 in a.workloads:
                self.bulk(backend, a.bulk_rows)
            if 5 in a.workloads:
                self.synthetic(backend, a.migrations, django=True)
                if a.big_migrations:
                    self.synthetic(backend, a.big_migrations, django=a.django_big)
            if 6 in a.workloads:
                if 1 not in a.workloads:
                    self.slug_backfill(backend, a.rows, workload=6)
                self.slug_backfill(backend, a.memory_rows, workload=6, django=a.django_big)


def run_sql(db, sql):
    """Runs one statement on a contestant's database (untimed setup between commands)."""
    if db.backend == "sqlite":
        with sqlite3.connect(db.sqlite_path()) as conn:
            conn.execute(sql)
        return
    out = subprocess.run(["psql", db.url(), "-Atc", sql], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    if out.returncode != 0:
        raise BenchError("setup statement failed: %s\n%s" % (sql, out.stderr.strip()))


def expect(db, sql, expected):
    """Checks a contestant's result: `sql` (one number) must give `expected`."""
    if db.backend == "sqlite":
        with sqlite3.connect(db.sqlite_path()) as conn:
            got = conn.execute(sql).fetchone()[0]
    else:
        out = subprocess.run(["psql", db.url(), "-Atc", sql], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        if out.returncode != 0:
            raise BenchError("result check failed: %s\n%s" % (sql, out.stderr.strip()))
        got = int(out.stdout.strip())
    if got != expected:
        raise BenchError("wrong result: %s gave %s, expected %s" % (sql, got, expected))


def fmt_int(n):
    return "{:,}".format(n)


# -- the report --------------------------------------------------------------------------

def cell(r):
    if r is None:
        return "-"
    if r.error:
        return "FAILED"
    rate = ""
    if r.rate:
        rate = ("%.0fk/s" % (r.rate / 1000)) if r.rate >= 10000 else ("%.1fk/s" % (r.rate / 1000))
    rss = "%.1fMB" % r.rss if r.rss else "?MB"
    return " ".join(x for x in (secs(r.wall), rate, rss) if x)


def secs(s):
    return ("%.3fs" % s) if s < 10 else ("%.2fs" % s) if s < 100 else ("%.1fs" % s)


def ratio(num, den):
    if num is None or den is None or num.error or den.error or not den.wall:
        return None
    return num.wall / den.wall


def rows_by_key(results):
    """Groups results into table rows: (workload, label, backend, size) -> {contestant: result}."""
    rows = {}
    for r in results:
        rows.setdefault((r.workload, r.label, r.backend, r.size), {})[r.contestant] = r
    return rows


def table(results):
    lines = []
    head = "%-2s %-30s %-8s %-21s %-26s %-26s %-26s %9s %9s" % (
        "", "workload", "backend", "size", "luamig", "Django", "floor", "Django/", "luamig/")
    lines += [head, "%-2s %-30s %-8s %-21s %-26s %-26s %-26s %9s %9s" % ("", "", "", "", "", "", "", "luamig", "floor"),
              "-" * len(head)]
    for (w, label, backend, size), c in rows_by_key(results).items():
        dj, fl = ratio(c.get("django"), c.get("luamig")), ratio(c.get("luamig"), c.get("floor"))
        lines.append("%-2s %-30s %-8s %-21s %-26s %-26s %-26s %9s %9s" % (
            w, label, backend, size, cell(c.get("luamig")), cell(c.get("django")), cell(c.get("floor")),
            ("%.1fx" % dj) if dj else "-", ("%.2fx" % fl) if fl else "-"))
    return lines


def targets(results, args):
    """Issue 6's targets, each PASS, FAIL or n/a (a run failed) with the figure it is judged
    on. Targets against a contestant left out (--no-django, --no-floor) are not listed."""
    rows = rows_by_key(results)
    out = []

    def add(ok, what, figure):
        out.append({"status": "n/a" if ok is None else "PASS" if ok else "FAIL",
                    "target": "%s (%s)" % (what, figure if ok is not None else "a run failed")})

    def vs(name, num, den, limit, what, at_least=False, aside=""):
        if num is None or den is None:
            return
        r = ratio(num, den)
        add(None if r is None else (r >= limit if at_least else r <= limit), "%s: %s" % (name, what),
            "%.2fx%s" % (r, aside) if r else "")

    for (w, label, backend, size), c in rows.items():
        name = "%s %s, %s, %s" % (w, label, backend, size)
        lm, dj, fl = c.get("luamig"), c.get("django"), c.get("floor")
        if w in (1, 2, 3):
            vs(name, dj, lm, 15, "luamig at least 15x faster than Django", at_least=True)
            vs(name, lm, fl, 2, "luamig at most 2x the floor")
        elif w == 4:
            vs(name, lm, fl, 1.2, "luamig at most 1.2x the floor")
        elif w == 5 and not label.startswith("migrate --fake"):
            vs(name, dj, lm, 10, "luamig at least 10x faster than Django", at_least=True)
    # Workload 5: growth from --migrations to --big-migrations (luamig).
    if args.big_migrations:
        small = "%s migrations" % fmt_int(len(luamig_projects.synthetic_plan(args.migrations)))
        big = "%s migrations" % fmt_int(len(luamig_projects.synthetic_plan(args.big_migrations)))
        limit = 1.2 * args.big_migrations / args.migrations
        for backend in ("sqlite", "postgres"):
            for label, _, _ in Bench.SYNTHETIC:
                at_big, at_small = rows.get((5, label, backend, big), {}), rows.get((5, label, backend, small), {})
                # The floor's growth on sqlmigrate's DDL: what the database itself adds.
                floor_growth = ratio(at_big.get("floor"), at_small.get("floor"))
                vs("5 %s, %s" % (label, backend), at_big.get("luamig"), at_small.get("luamig"), limit,
                   "luamig at %s costs at most %.0fx %s" % (big, limit, small),
                   aside="; the floor: %.2fx" % floor_growth if floor_growth else "")
    # Workload 6: memory growth from --rows to --memory-rows (luamig).
    for backend in ("sqlite", "postgres"):
        small = [r for r in results if r.workload in (1, 6) and r.backend == backend and r.contestant == "luamig" and r.rows == args.rows]
        big = [r for r in results if r.workload == 6 and r.backend == backend and r.contestant == "luamig" and r.rows == args.memory_rows]
        if small and big:
            s, b = small[0], big[0]
            what = "6 memory, %s: luamig's peak RSS at %s rows at most 10 MB above %s rows" % (backend, fmt_int(b.rows), fmt_int(s.rows))
            if s.error or b.error or not s.rss or not b.rss:
                add(None, what, "")
            else:
                add(b.rss - s.rss <= 10, what, "%.1f MB vs %.1f MB: %+.1f MB" % (b.rss, s.rss, b.rss - s.rss))
    return out


def machine(bench):
    info = {"platform": platform.platform(), "cpus": os.cpu_count(), "python": platform.python_version(),
            "build": "debug" if bench.args.debug else "release", "django": bench.django_version}
    try:
        with open("/proc/cpuinfo") as f:
            info["cpu"] = next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), None)
    except OSError:
        pass
    if bench.args.backend != "sqlite":
        out = subprocess.run(["psql", ADMIN_URL, "-Atc", "SHOW server_version"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        info["postgresql"] = out.stdout.strip() or None
    return info


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    p.add_argument("--workloads", default="1,2,3,4,5,6", help="comma-separated workload numbers (default all)")
    p.add_argument("--rows", type=int, default=100000, help="rows of workloads 1, 2 and 6 (small size) [100,000]")
    p.add_argument("--orders", type=int, help="orders of workload 3 [0.3 x --rows]")
    p.add_argument("--customers", type=int, help="distinct customers of workload 3 [--orders / 10]")
    p.add_argument("--bulk-rows", type=int, help="rows of workload 4 [10 x --rows]")
    p.add_argument("--memory-rows", type=int, help="big size of workload 6 [10 x --rows]")
    p.add_argument("--repeats", type=int, default=5,
                   help="runs of workloads 1-4 per contestant, median taken (Django: once, but workload 4) [5]")
    p.add_argument("--migrations", type=int, default=1000, help="size of the synthetic project, workload 5 [1,000]")
    p.add_argument("--big-migrations", type=int, help="its big size, luamig only unless --django-big; 0: none [10 x --migrations]")
    p.add_argument("--django-big", action="store_true", help="also run Django at --big-migrations and --memory-rows (slow)")
    p.add_argument("--no-django", action="store_true", help="skip Django (CI does)")
    p.add_argument("--no-floor", action="store_true", help="skip the floor program")
    p.add_argument("--no-analyze", action="store_true",
                   help="PostgreSQL: no planner statistics after the setup (as right after an AddField), "
                        "instead of VACUUM ANALYZE")
    p.add_argument("--django-venv", default=django_projects.DEFAULT_VENV, help="virtual environment for Django [%(default)s]")
    p.add_argument("--debug", action="store_true", help="debug builds (a quick smoke run, as CI does)")
    p.add_argument("--timeout", type=float, default=3600, help="seconds allowed per timed command [3600]")
    p.add_argument("--json", metavar="FILE", help="also write the raw results to FILE")
    p.add_argument("--keep", action="store_true", help="keep the temporary project folders (and SQLite files)")
    args = p.parse_args()
    try:
        args.workloads = sorted({int(w) for w in args.workloads.split(",") if w.strip()})
    except ValueError:
        p.error("--workloads takes numbers 1-6, e.g. 1,2,5")
    if not set(args.workloads) <= {1, 2, 3, 4, 5, 6}:
        p.error("--workloads takes numbers 1-6")
    args.orders = args.orders or max(1, args.rows * 3 // 10)
    args.customers = args.customers or max(1, args.orders // 10)
    args.bulk_rows = args.bulk_rows or args.rows * 10
    args.memory_rows = args.memory_rows or args.rows * 10
    if args.big_migrations is None:
        args.big_migrations = args.migrations * 10

    if args.backend != "sqlite":
        ok = subprocess.run(["psql", ADMIN_URL, "-Atc", "SELECT 1"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if ok.returncode != 0:
            sys.exit("PostgreSQL is not reachable at LUAMIG_TEST_POSTGRES_URL (%s): %s" % (ADMIN_URL, ok.stderr.strip()))

    started = time.perf_counter()
    bench = Bench(args)
    info = machine(bench)
    print("luamig benchmarks (issue 6): %s" % " ".join(sys.argv[1:]), flush=True)
    print("machine: %s, %s CPUs (%s); %s build; Django %s; PostgreSQL %s" % (
        info.get("cpu"), info["cpus"], info["platform"], info["build"], info["django"] or "not run",
        info.get("postgresql") or "not used"), flush=True)
    print("progress (stderr):", file=sys.stderr, flush=True)
    bench.run()
    print()
    for line in table(bench.results):
        print(line)
    print("\nEach cell: wall time of the timed command, rows per second, peak RSS (VmHWM) of that process.")
    print("Django/luamig: how many times faster luamig is; luamig/floor: luamig's time over the floor's.")
    checks = targets(bench.results, args)
    print("\nTargets (issue 6)%s:" % (" -- debug build, figures not meaningful" if args.debug else ""))
    for t in checks:
        print("  %-4s  %s" % (t["status"], t["target"]))
    if not checks:
        print("  (none for this selection)")
    failures = [r for r in bench.results if r.error]
    for r in failures:
        print("\n%s failed on workload %s (%s, %s, %s):\n%s" % (NAMES[r.contestant], r.workload, r.label, r.backend, r.size, r.error))
    print("\ntotal %.0f s" % (time.perf_counter() - started))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": {k: v for k, v in vars(args).items()}, "machine": info,
                       "results": [r.json() for r in bench.results], "targets": checks}, f, indent=2)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
