#!/usr/bin/env python3
"""luamig benchmarks: planning cost on a synthetic project, and data-migration throughput
and peak memory. Not part of the test suite; run by hand (see README "Benchmarks").

    python3 benches/bench.py                      # defaults: 1,000 migrations, 100,000 rows
    python3 benches/bench.py --migrations 50 --rows 1000 --backend sqlite   # tiny (CI smoke)
    python3 benches/bench.py --backend postgres   # uses LUAMIG_TEST_POSTGRES_URL's server

Prints one line per measurement: workload, backend, size, wall seconds, rows/s, peak RSS.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HEAD = 'local migrations = require("luamig.migrations")\nlocal models = require("luamig.models")\n'


def binary(debug):
    profile = "debug" if debug else "release"
    subprocess.run(["cargo", "build", "--quiet"] + ([] if debug else ["--release"]), cwd=ROOT, check=True)
    return os.path.join(ROOT, "target", profile, "luamig")


class Database:
    """A fresh database for one workload: a SQLite file, or a PostgreSQL database."""

    def __init__(self, backend, folder):
        self.backend = backend
        self.folder = folder
        self.name = None
        if backend == "postgres":
            admin = os.environ.get("LUAMIG_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test")
            self.base = admin.rsplit("/", 1)[0]
            self.name = "luamig_bench_%d_%d" % (os.getpid(), int(time.time() * 1000) % 100000)
            self.psql(admin, "CREATE DATABASE %s" % self.name)

    def psql(self, url, sql):
        subprocess.run(["psql", url, "-qc", sql], check=True, stdout=subprocess.DEVNULL)

    def url(self):
        if self.backend == "sqlite":
            return "sqlite:db.sqlite3"
        return "%s/%s" % (self.base, self.name)

    def drop(self):
        if self.name:
            admin = os.environ.get("LUAMIG_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test")
            self.psql(admin, "DROP DATABASE IF EXISTS %s WITH (FORCE)" % self.name)


def run(luamig, folder, db, args):
    """Runs luamig; returns (wall seconds, peak RSS of that process in MB).

    The peak is read from /proc/<pid>/status (VmHWM, the high-water mark of the process's own
    memory since exec) while it runs: rusage's ru_maxrss would also count the parent's
    memory at fork time."""
    env = dict(os.environ, DATABASE_URL=db.url())
    start = time.perf_counter()
    proc = subprocess.Popen([luamig] + args, cwd=folder, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    peak_kb = 0
    while proc.poll() is None:
        try:
            with open("/proc/%d/status" % proc.pid) as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        peak_kb = max(peak_kb, int(line.split()[1]))
        except (FileNotFoundError, ProcessLookupError, ValueError):
            pass
        time.sleep(0.005)
    wall = time.perf_counter() - start
    stderr = proc.stderr.read()
    if proc.returncode != 0:
        sys.exit("luamig %s failed:\n%s" % (" ".join(args), stderr))
    return wall, peak_kb / 1024.0


def write(folder, rel, text):
    path = os.path.join(folder, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def synthetic_project(folder, count, apps=10):
    """`count` migrations in `apps` apps: each app's 0001 creates a model, later ones add a
    field; every 10th migration also depends on the previous app's migration of the same
    number (cross-app edges)."""
    per_app = max(1, count // apps)
    for a in range(apps):
        app = "app%d" % a
        for i in range(1, per_app + 1):
            deps = []
            if i > 1:
                deps.append('{"%s", "%04d_m"}' % (app, i - 1))
            if a > 0 and i % 10 == 0:
                deps.append('{"app%d", "%04d_m"}' % (a - 1, i))
            if i == 1:
                op = 'migrations.CreateModel { name = "Thing", fields = { {"f0", models.IntegerField { null = true }} } }'
            else:
                op = 'migrations.AddField { model_name = "thing", name = "f%d", field = models.IntegerField { null = true } }' % (i - 1)
            write(folder, "migrations/%s/%04d_m.lua" % (app, i),
                  "%sreturn migrations.Migration {\n  dependencies = { %s },\n  operations = { %s },\n}\n" % (HEAD, ", ".join(deps), op))
    return per_app


def bench_planning(luamig, backend, count):
    folder = tempfile.mkdtemp(prefix="luamig-bench-")
    db = Database(backend, folder)
    try:
        per_app = synthetic_project(folder, count)
        total = per_app * 10
        for label, args in [
            ("showmigrations (empty db)", ["showmigrations"]),
            ("migrate (apply all)", ["migrate"]),
            ("migrate (nothing to do)", ["migrate"]),
            ("sqlmigrate (last of app0)", ["sqlmigrate", "app0", "%04d_m" % per_app]),
        ]:
            wall, rss = run(luamig, folder, db, args)
            report(label, backend, "%d migrations" % total, wall, None, rss)
    finally:
        db.drop()
        shutil.rmtree(folder, ignore_errors=True)


SEED_SLUGS = """
local function seed(apps, schema_editor)
  local n = %d
  if schema_editor.connection.vendor == "sqlite" then
    schema_editor:execute([[WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < %d)
      INSERT INTO blog_article (title, slug) SELECT 'Article number ' || i || ', with Ünïcode!', '' FROM c]])
  else
    schema_editor:execute([[INSERT INTO blog_article (title, slug)
      SELECT 'Article number ' || i || ', with Ünïcode!', '' FROM generate_series(1, %d) AS i]])
  end
end
"""

BACKFILL = """
local text = require("luamig.text")
local function backfill(apps, schema_editor)
  local Article = apps.get_model("blog", "Article")
  for article in Article.objects:filter { slug = "" }:iterator(500) do
    article.slug = text.slugify(article.title)
    article:save { update_fields = { "slug" } }
  end
end
"""


def bench_slug_backfill(luamig, backend, rows):
    folder = tempfile.mkdtemp(prefix="luamig-bench-")
    db = Database(backend, folder)
    try:
        write(folder, "migrations/blog/0001_initial.lua", HEAD + (SEED_SLUGS % (rows, rows, rows)) + """
return migrations.Migration { operations = {
  migrations.CreateModel { name = "Article", fields = {
    {"title", models.CharField { max_length = 200 }},
    {"slug", models.SlugField { max_length = 200, default = "" }},
  } },
  migrations.RunLua(seed, migrations.RunLua.noop),
} }
""")
        write(folder, "migrations/blog/0002_backfill.lua", HEAD + BACKFILL + """
return migrations.Migration { dependencies = { {"blog", "0001_initial"} }, operations = {
  migrations.RunLua(backfill, migrations.RunLua.noop),
} }
""")
        run(luamig, folder, db, ["migrate", "blog", "0001"])
        wall, rss = run(luamig, folder, db, ["migrate", "blog", "0002"])
        report("slug backfill (iterator(500) + save{update_fields})", backend, "%d rows" % rows, wall, rows / wall, rss)
    finally:
        db.drop()
        shutil.rmtree(folder, ignore_errors=True)


SEED_ORDERS = """
local function seed(apps, schema_editor)
  if schema_editor.connection.vendor == "sqlite" then
    schema_editor:execute([[WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < %d)
      INSERT INTO shop_order (customer_name, customer_city) SELECT 'Customer ' || (i %% %d), 'City ' || (i %% 7) FROM c]])
  else
    schema_editor:execute([[INSERT INTO shop_order (customer_name, customer_city)
      SELECT 'Customer ' || (i %% %d), 'City ' || (i %% 7) FROM generate_series(1, %d) AS i]])
  end
end
"""

MOVE = """
local function forwards(apps, schema_editor)
  local Order = apps.get_model("shop", "Order")
  local Customer = apps.get_model("shop", "Customer")
  for order in Order.objects:all():iterator(500) do
    local customer = Customer.objects:get_or_create { name = order.customer_name, city = order.customer_city }
    order.customer = customer
    order:save()
  end
end
"""


def bench_orders_to_customers(luamig, backend, rows, distinct):
    folder = tempfile.mkdtemp(prefix="luamig-bench-")
    db = Database(backend, folder)
    try:
        write(folder, "migrations/shop/0001_initial.lua", HEAD + (SEED_ORDERS % (rows, distinct, distinct, rows)) + """
return migrations.Migration { operations = {
  migrations.CreateModel { name = "Order", fields = {
    {"customer_name", models.CharField { max_length = 50 }},
    {"customer_city", models.CharField { max_length = 50 }},
  } },
  migrations.RunLua(seed, migrations.RunLua.noop),
} }
""")
        write(folder, "migrations/shop/0002_customers.lua", HEAD + MOVE + """
return migrations.Migration { dependencies = { {"shop", "0001_initial"} }, operations = {
  migrations.CreateModel { name = "Customer", fields = {
    {"name", models.CharField { max_length = 50 }},
    {"city", models.CharField { max_length = 50 }},
  }, options = { unique_together = { {"name", "city"} } } },
  migrations.AddField { model_name = "order", name = "customer",
    field = models.ForeignKey { to = "shop.Customer", on_delete = models.PROTECT, null = true } },
  migrations.RunLua(forwards, migrations.RunLua.noop),
} }
""")
        run(luamig, folder, db, ["migrate", "shop", "0001"])
        wall, rss = run(luamig, folder, db, ["migrate", "shop", "0002"])
        report("orders to customers (get_or_create + save)", backend, "%d orders, %d customers" % (rows, distinct), wall, rows / wall, rss)
    finally:
        db.drop()
        shutil.rmtree(folder, ignore_errors=True)


def report(workload, backend, size, wall, rate, rss):
    rate_text = "%10.0f rows/s" % rate if rate else " " * 15
    print("%-52s %-9s %-26s %8.3f s %s  peak RSS %6.1f MB" % (workload, backend, size, wall, rate_text, rss), flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="sqlite")
    p.add_argument("--migrations", type=int, default=1000)
    p.add_argument("--rows", type=int, default=100000)
    p.add_argument("--memory-rows", type=int, nargs="*", default=[], help="extra slug-backfill sizes for the memory comparison")
    p.add_argument("--debug", action="store_true", help="use the debug build (a quick smoke run, as CI does)")
    args = p.parse_args()
    luamig = binary(args.debug)
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    for backend in backends:
        bench_planning(luamig, backend, args.migrations)
        bench_slug_backfill(luamig, backend, args.rows)
        for n in args.memory_rows:
            bench_slug_backfill(luamig, backend, n)
        bench_orders_to_customers(luamig, backend, args.rows, max(1, args.rows // 10))


if __name__ == "__main__":
    main()
