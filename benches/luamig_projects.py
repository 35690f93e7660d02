"""luamig's side: projects of real .lua migrations for each workload.

Each data workload is an app whose 0001 creates the table(s) and seeds them (the untimed
setup), and whose last migration is the timed work. The floor program runs on a database
that luamig's setup migration prepared, so it sees exactly the same tables and rows."""
import seeds
from harness import write

HEAD = 'local migrations = require("luamig.migrations")\nlocal models = require("luamig.models")\n'


def lua_seed(vendor_sql):
    """A RunLua seed function running one INSERT ... SELECT per vendor."""
    return ("local SEED = {\n  sqlite = [==[%s]==],\n  postgresql = [==[%s]==],\n}\n"
            "local function seed(apps, schema_editor)\n"
            "  schema_editor:execute(SEED[schema_editor.connection.vendor])\n"
            "end\n" % (vendor_sql("sqlite"), vendor_sql("postgresql")))


def slug_backfill(folder, rows):
    write(folder, "migrations/blog/0001_initial.lua", HEAD + lua_seed(lambda v: seeds.articles(v, rows)) + """
return migrations.Migration { initial = true, operations = {
  migrations.CreateModel { name = "Article", fields = {
    {"id", models.AutoField { primary_key = true }},
    {"title", models.CharField { max_length = 200 }},
    {"slug", models.SlugField { max_length = 200, default = "" }},
  } },
  migrations.RunLua(seed, migrations.RunLua.noop),
} }
""")
    write(folder, "migrations/blog/0002_backfill.lua", HEAD + """
local text = require("luamig.text")

local function backfill(apps, schema_editor)
  local Article = apps.get_model("blog", "Article")
  for article in Article.objects:filter { slug = "" }:iterator(500) do
    article.slug = text.slugify(article.title)
    article:save { update_fields = { "slug" } }
  end
end

return migrations.Migration { dependencies = { {"blog", "0001_initial"} }, operations = {
  migrations.RunLua(backfill, migrations.RunLua.noop),
} }
""")
    return ["migrate", "blog", "0001"], ["migrate", "blog", "0002"]


def uuid_fill(folder, rows):
    write(folder, "migrations/inventory/0001_initial.lua", HEAD + lua_seed(lambda v: seeds.items(v, rows)) + """
return migrations.Migration { initial = true, operations = {
  migrations.CreateModel { name = "Item", fields = {
    {"id", models.AutoField { primary_key = true }},
    {"name", models.CharField { max_length = 100 }},
    {"uuid", models.UUIDField { null = true }},
  } },
  migrations.RunLua(seed, migrations.RunLua.noop),
} }
""")
    write(folder, "migrations/inventory/0002_fill_uuid.lua", HEAD + """
local uuid = require("luamig.uuid")

local function fill(apps, schema_editor)
  local Item = apps.get_model("inventory", "Item")
  for item in Item.objects:all():iterator(500) do
    item.uuid = uuid.uuid4()
    item:save { update_fields = { "uuid" } }
  end
end

return migrations.Migration { dependencies = { {"inventory", "0001_initial"} }, operations = {
  migrations.RunLua(fill, migrations.RunLua.noop),
  migrations.AlterField { model_name = "item", name = "uuid", field = models.UUIDField { unique = true } },
} }
""")
    return ["migrate", "inventory", "0001"], ["migrate", "inventory", "0002"]


def orders_to_customers(folder, rows, customers):
    write(folder, "migrations/shop/0001_initial.lua", HEAD + lua_seed(lambda v: seeds.orders(v, rows, customers)) + """
return migrations.Migration { initial = true, operations = {
  migrations.CreateModel { name = "Order", fields = {
    {"id", models.AutoField { primary_key = true }},
    {"customer_name", models.CharField { max_length = 50 }},
    {"customer_city", models.CharField { max_length = 50 }},
  } },
  migrations.RunLua(seed, migrations.RunLua.noop),
} }
""")
    # The six steps in one migration (luamig runs pending constraint checks before the
    # schema changes that follow the row writes, so this works on PostgreSQL too).
    write(folder, "migrations/shop/0002_customers.lua", HEAD + """
local function forwards(apps, schema_editor)
  local Order = apps.get_model("shop", "Order")
  local Customer = apps.get_model("shop", "Customer")
  for order in Order.objects:all():iterator(500) do
    local customer = Customer.objects:get_or_create { name = order.customer_name, city = order.customer_city }
    order.customer = customer
    order:save()
  end
end

return migrations.Migration { dependencies = { {"shop", "0001_initial"} }, operations = {
  migrations.CreateModel { name = "Customer", fields = {
    {"id", models.AutoField { primary_key = true }},
    {"name", models.CharField { max_length = 50 }},
    {"city", models.CharField { max_length = 50 }},
  }, options = { unique_together = { {"name", "city"} } } },
  migrations.AddField { model_name = "order", name = "customer",
    field = models.ForeignKey { to = "shop.Customer", on_delete = models.PROTECT, null = true } },
  migrations.RunLua(forwards, migrations.RunLua.noop),
  migrations.RemoveField { model_name = "order", name = "customer_name" },
  migrations.RemoveField { model_name = "order", name = "customer_city" },
  migrations.AlterField { model_name = "order", name = "customer",
    field = models.ForeignKey { to = "shop.Customer", on_delete = models.PROTECT } },
} }
""")
    return ["migrate", "shop", "0001"], ["migrate", "shop", "0002"]


def bulk_update(folder, rows):
    write(folder, "migrations/catalog/0001_initial.lua", HEAD + lua_seed(lambda v: seeds.products(v, rows)) + """
return migrations.Migration { initial = true, operations = {
  migrations.CreateModel { name = "Product", fields = {
    {"id", models.AutoField { primary_key = true }},
    {"status", models.CharField { max_length = 20 }},
    {"price", models.IntegerField()},
  } },
  migrations.RunLua(seed, migrations.RunLua.noop),
} }
""")
    write(folder, "migrations/catalog/0002_bulk.lua", HEAD + """
local function bulk(apps, schema_editor)
  local Product = apps.get_model("catalog", "Product")
  Product.objects:update { status = "draft" }
  Product.objects:update { price = models.F("price") + 1 }
end

return migrations.Migration { dependencies = { {"catalog", "0001_initial"} }, operations = {
  migrations.RunLua(bulk, migrations.RunLua.noop),
} }
""")
    return ["migrate", "catalog", "0001"], ["migrate", "catalog", "0002"]


def synthetic(folder, count, apps=10):
    """`count` migrations in `apps` apps (see synthetic_plan); returns the last name of app0."""
    plan = synthetic_plan(count, apps)
    for app, name, deps, model, field in plan:
        dep_text = ", ".join('{"%s", "%s"}' % d for d in deps)
        if field == 0:
            op = ('migrations.CreateModel { name = "Thing%d", fields = { {"f0", models.IntegerField { null = true }} } }'
                  % model)
        else:
            op = ('migrations.AddField { model_name = "thing%d", name = "f%d", field = models.IntegerField { null = true } }'
                  % (model, field))
        write(folder, "migrations/%s/%s.lua" % (app, name),
              "%sreturn migrations.Migration {\n  dependencies = { %s },\n  operations = { %s },\n}\n" % (HEAD, dep_text, op))
    return plan[len(plan) // apps - 1][1]


def synthetic_floor_steps(plan, backend):
    """The floor's input for applying the synthetic project (see benches/floor/floor.rs):
    the statements luamig's `sqlmigrate` prints for each migration, and its history row."""
    id_column = ('"id" integer NOT NULL PRIMARY KEY AUTOINCREMENT' if backend == "sqlite" else
                 '"id" integer NOT NULL PRIMARY KEY GENERATED BY DEFAULT AS IDENTITY')
    lines = []
    for app, name, deps, model, field in plan:
        table = "%s_thing%d" % (app, model)
        if field == 0:
            lines.append('SQL CREATE TABLE "%s" (%s, "f0" integer NULL)' % (table, id_column))
        else:
            lines.append('SQL ALTER TABLE "%s" ADD COLUMN "f%d" integer NULL' % (table, field))
        lines.append("RECORD %s %s" % (app, name))
    return "".join(line + "\n" for line in lines)


# Fields per synthetic model. Real projects spread a long history over many models; one
# model per app would reach 1,000 columns at 10,000 migrations, and the databases' own
# ALTER TABLE cost grows with a table's width (SQLite re-parses the whole CREATE TABLE),
# so workload 5's growth would measure the database instead of luamig's planning.
FIELDS_PER_MODEL = 100


def synthetic_plan(count, apps=10):
    """The synthetic project, shared by luamig and Django: app<a>/<NNNN>_m for a < apps;
    in each app, migration i works on model Thing<k>, k = (i-1) // FIELDS_PER_MODEL: the
    first of each run of FIELDS_PER_MODEL creates it with field f0, the others add field
    f<(i-1) % FIELDS_PER_MODEL>; every 10th migration also depends on the previous app's
    migration of the same number (cross-app edges).
    Returns [(app, name, [(dep app, dep name)], model number, field number)]."""
    per_app = max(1, count // apps)
    plan = []
    for a in range(apps):
        app = "app%d" % a
        for i in range(1, per_app + 1):
            deps = []
            if i > 1:
                deps.append((app, "%04d_m" % (i - 1)))
            if a > 0 and i % 10 == 0:
                deps.append(("app%d" % (a - 1), "%04d_m" % i))
            model, field = divmod(i - 1, FIELDS_PER_MODEL)
            plan.append((app, "%04d_m" % i, deps, model, field))
    return plan
