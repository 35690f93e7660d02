//! The data-migration ORM end to end (SPEC §5): RunLua code in real migration files, run by
//! the `luamig` binary, using `apps.get_model`, `schema_editor`, managers, querysets,
//! lookups, instances, relations and values. A failed Lua `check(...)` fails the migration,
//! so `.ok()` shows which expectation broke; results are also checked in the database.
//! Every test runs on SQLite and on PostgreSQL: what Lua sees must be the same on both
//! (SPEC §5); only raw SQL reads of the database differ where the backends store a type
//! differently (UUIDs, booleans, timestamps).

mod backends;
use backends::{Env, HEAD, Run};

/// The models of app `shop` and the rows every test starts from.
const SHOP_0001: &str = r#"
return migrations.Migration { operations = {
  migrations.CreateModel { name = "Customer", fields = {
    {"id", models.AutoField { primary_key = true }},
    {"name", models.CharField { max_length = 50 }},
    {"city", models.CharField { max_length = 50 }},
  }},
  migrations.CreateModel { name = "Order", fields = {
    {"id", models.AutoField { primary_key = true }},
    {"title", models.CharField { max_length = 200 }},
    {"qty", models.IntegerField { default = 0 }},
    {"price", models.DecimalField { max_digits = 10, decimal_places = 2, default = "0.00" }},
    {"note", models.TextField { null = true }},
    {"customer", models.ForeignKey { to = "shop.Customer", on_delete = models.CASCADE, null = true }},
  }},
  migrations.CreateModel { name = "Author", fields = {
    {"id", models.AutoField { primary_key = true }},
    {"name", models.CharField { max_length = 50 }},
  }},
  migrations.CreateModel { name = "Book", fields = {
    {"id", models.AutoField { primary_key = true }},
    {"title", models.CharField { max_length = 50 }},
    {"editor", models.ForeignKey { to = "shop.Author", on_delete = models.SET_NULL, null = true,
       related_name = "edited_books" }},
    {"authors", models.ManyToManyField { to = "shop.Author" }},
  }},
  migrations.CreateModel { name = "Thing", fields = {
    {"id", models.AutoField { primary_key = true }},
    {"i", models.IntegerField { null = true }},
    {"f", models.FloatField { null = true }},
    {"b", models.BooleanField { null = true }},
    {"t", models.TextField { null = true }},
    {"d", models.DecimalField { max_digits = 12, decimal_places = 2, null = true }},
    {"day", models.DateField { null = true }},
    {"at", models.DateTimeField { null = true }},
    {"clock", models.TimeField { null = true }},
    {"u", models.UUIDField { null = true }},
    {"j", models.JSONField { null = true }},
    {"big", models.BigIntegerField { null = true }},
  }},
  migrations.CreateModel { name = "Stamp", fields = {
    {"id", models.AutoField { primary_key = true }},
    {"label", models.CharField { max_length = 20 }},
    {"created", models.DateTimeField { auto_now_add = true }},
    {"updated", models.DateTimeField { auto_now = true }},
  }},
  migrations.CreateModel { name = "Ticket", fields = {
    {"id", models.AutoField { primary_key = true }},
    {"status", models.CharField { max_length = 10, default = "new" }},
    {"priority", models.IntegerField { default = 3 }},
    {"token", models.UUIDField { default = require("luamig.uuid").uuid4 }},
  }},
  migrations.CreateModel { name = "Tag", fields = {
    {"id", models.UUIDField { primary_key = true, default = require("luamig.uuid").uuid4 }},
    {"label", models.CharField { max_length = 20 }},
  }},
  migrations.CreateModel { name = "Post", fields = {
    {"id", models.AutoField { primary_key = true }},
    {"title", models.CharField { max_length = 20 }},
    {"tag", models.ForeignKey { to = "shop.Tag", on_delete = models.CASCADE, null = true }},
  }},
  migrations.CreateModel { name = "Ranked", fields = {
    {"id", models.AutoField { primary_key = true }},
    {"name", models.CharField { max_length = 20 }},
    {"done", models.BooleanField { default = false }},
  }, options = { ordering = { "-name" } } },
  migrations.RunSQL {
    sql = {
      "CREATE TABLE obs (__OBS_ID__, k TEXT, v TEXT)",
      "INSERT INTO shop_customer (id, name, city) VALUES (1, 'Alice', 'Paris'), (2, 'Bob', 'London'), (3, 'Carol', 'paris')",
      "INSERT INTO shop_order (id, title, qty, price, note, customer_id) VALUES (1, 'Apple pie', 3, 1.50, NULL, 1), (2, 'apple tart', 5, 2.25, 'hot', 1), (3, 'Banana', 1, 0.30, NULL, 2), (4, 'Cherry Pie', 10, 10.00, 'x', 3), (5, 'Date', 7, 3.00, NULL, NULL)",
      "INSERT INTO shop_author (id, name) VALUES (1, 'Ann'), (2, 'Ben'), (3, 'Cy')",
      "INSERT INTO shop_book (id, title, editor_id) VALUES (1, 'B1', 1), (2, 'B2', NULL)",
__RESET_SEQUENCES__
    },
    reverse_sql = "DROP TABLE obs",
  },
}}
"#;

/// Helpers every check migration has: `check(got, want, what)` compares printed forms,
/// `pks(qs_or_list)` gives sorted keys, `raises(kind, fn)` returns the error value,
/// `note(k, v)` writes an observation to table `obs`.
const PRELUDE: &str = r#"
local function show(v)
  if type(v) ~= "table" or getmetatable(v) ~= nil then return tostring(v) end
  local parts = {}
  for i, x in ipairs(v) do parts[i] = show(x) end
  return "{" .. table.concat(parts, ",") .. "}"
end
local function check(got, want, what)
  local g, w = show(got), show(want)
  if g ~= w then error((what or "value") .. ": expected " .. w .. ", got " .. g, 2) end
end
local function pks(qs)
  local list = qs
  if type(qs.list) == "function" then list = qs:list() end
  local out = {}
  for _, o in ipairs(list) do out[#out + 1] = o.pk end
  table.sort(out)
  return out
end
local function raises(kind, fn, ...)
  local ok, e = pcall(fn, ...)
  if ok then error("expected a " .. kind .. " error, but the call succeeded", 2) end
  if type(e) ~= "table" or e.kind ~= kind then
    error("expected a " .. kind .. " error value, got " .. tostring(e), 2)
  end
  return e
end
local function contains(hay, needle, what)
  if not tostring(hay):find(needle, 1, true) then
    error((what or "text") .. ": expected to contain '" .. needle .. "', got: " .. tostring(hay), 2)
  end
end
"#;

/// Writes `shop/0001_initial` for this backend. `obs` needs an ascending key for `notes`;
/// on PostgreSQL the rows inserted with explicit keys leave the key sequences at 1, so they
/// are moved past them, as Django's `sqlsequencereset` does (SQLite needs nothing).
fn shop(env: &Env) {
    let obs_id = env.pick("id INTEGER PRIMARY KEY", "id serial PRIMARY KEY");
    let reset = if env.is_postgres() {
        ["shop_customer", "shop_order", "shop_author", "shop_book"]
            .iter()
            .map(|t| {
                format!(
                    "      \"SELECT setval(pg_get_serial_sequence('{t}', 'id'), (SELECT max(id) FROM {t}))\",\n"
                )
            })
            .collect::<String>()
    } else {
        String::new()
    };
    let src = SHOP_0001
        .replace("__OBS_ID__", obs_id)
        .replace("__RESET_SEQUENCES__\n", &reset);
    env.migration("shop", "0001_initial", &format!("{HEAD}{src}"));
}

/// Writes `shop/0002_check` running `body` in a RunLua (with the prelude and the shop
/// models as locals) and runs `migrate`.
fn run_check(env: &Env, body: &str) -> Run {
    env.migration(
        "shop",
        "0002_check",
        &format!(
            "{HEAD}{PRELUDE}
local function forwards(apps, schema_editor)
  local function note(k, v)
    schema_editor:execute(\"INSERT INTO obs (k, v) VALUES (%s, %s)\", {{ k, show(v) }})
  end
  local Customer = apps.get_model(\"shop\", \"Customer\")
  local Order = apps.get_model(\"shop\", \"Order\")
  local Author = apps.get_model(\"shop\", \"Author\")
  local Book = apps.get_model(\"shop\", \"Book\")
  local Thing = apps.get_model(\"shop\", \"Thing\")
  local Stamp = apps.get_model(\"shop\", \"Stamp\")
  local Ticket = apps.get_model(\"shop\", \"Ticket\")
  local Tag = apps.get_model(\"shop\", \"Tag\")
  local Post = apps.get_model(\"shop\", \"Post\")
  local Ranked = apps.get_model(\"shop\", \"Ranked\")
  local F, NULL = models.F, models.NULL
  local decimal = require(\"luamig.decimal\")
{body}
end
return migrations.Migration {{
  dependencies = {{ {{\"shop\", \"0001_initial\"}} }},
  operations = {{ migrations.RunLua(forwards, migrations.RunLua.noop) }},
}}
"
        ),
    );
    env.luamig(&["migrate"])
}

/// Runs a check that must succeed.
fn checked(env: &Env, body: &str) {
    shop(env);
    run_check(env, body).ok();
    assert_eq!(env.applied(), vec!["shop.0001_initial", "shop.0002_check"]);
}

/// Observations `k = v` written by `note`, in order.
fn notes(env: &Env) -> Vec<String> {
    env.query("SELECT k || '=' || v FROM obs ORDER BY id")
        .into_iter()
        .map(|r| r[0].clone())
        .collect()
}

fn col(env: &Env, sql: &str) -> Vec<String> {
    env.query(sql).into_iter().map(|r| r.join("|")).collect()
}

// ---------------------------------------------------------------------------------------------
// apps.get_model / apps.is_installed
// ---------------------------------------------------------------------------------------------

fn get_model_two_forms_case_insensitive(env: &Env) {
    checked(
        env,
        r#"
  check(apps.get_model("shop", "Order").objects:count(), 5, "shop/Order")
  check(apps.get_model("shop.Order").objects:count(), 5, "shop.Order")
  check(apps.get_model("shop", "order").objects:count(), 5, "shop/order")
  check(apps.get_model("shop", "ORDER").objects:count(), 5, "shop/ORDER")
  check(apps.get_model("shop.customer").objects:count(), 3, "shop.customer")
  note("name", apps.get_model("shop.order")._meta and apps.get_model("shop.order")._meta.name or "?")
"#,
    );
    assert_eq!(notes(env), vec!["name=Order"]);
}

fn get_model_unknown_app_and_model_raise_lookup_error_values(env: &Env) {
    checked(
        env,
        r#"
  local ok, e = pcall(apps.get_model, "nope", "Thing")
  check(ok, false, "pcall on unknown app")
  check(e.kind, "LookupError", "kind")
  check(e.message, "No installed app with label 'nope'.", "message")
  check(tostring(e):sub(1, 13), "LookupError: ", "tostring prefix")
  note("app", tostring(e))

  local ok2, e2 = pcall(apps.get_model, "shop", "Nope")
  check(ok2, false, "pcall on unknown model")
  check(e2.kind, "LookupError", "kind")
  check(e2.message, "App 'shop' doesn't have a 'Nope' model.", "message")
  note("model", tostring(e2))

  local ok3, e3 = pcall(apps.get_model, "shop.Nope")
  check(ok3, false, "dotted unknown model")
  check(e3.kind, "LookupError", "dotted kind")

  -- the pattern from the spec: an optional app is skipped
  local ok4, Old = pcall(apps.get_model, "old_app", "OldModel")
  if not ok4 then note("skipped", Old.kind) end
"#,
    );
    assert_eq!(
        notes(env),
        vec![
            "app=LookupError: No installed app with label 'nope'.",
            "model=LookupError: App 'shop' doesn't have a 'Nope' model.",
            "skipped=LookupError",
        ]
    );
}

fn uncaught_lookup_error_fails_the_migration_naming_the_line(env: &Env) {
    shop(env);
    let run = run_check(env, "  local X = apps.get_model(\"shop\", \"Missing\")\n").fails();
    assert!(
        run.error_line().contains("migrations/shop/0002_check.lua:"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("LookupError: App 'shop' doesn't have a 'Missing' model."),
        "{}",
        run.stderr
    );
    assert_eq!(env.applied(), vec!["shop.0001_initial"]);
}

fn apps_is_installed(env: &Env) {
    checked(
        env,
        r#"
  check(apps.is_installed("shop"), true, "shop")
  check(apps.is_installed("nope"), false, "nope")
  check(require("luamig.apps").is_installed("shop"), true, "luamig.apps shop")
"#,
    );
    assert_eq!(env.applied().len(), 2);
}

fn historical_models_follow_the_migration_history(env: &Env) {
    env.migration(
        "inv",
        "0001_initial",
        &format!(
            r#"{HEAD}return migrations.Migration {{ operations = {{
  migrations.CreateModel {{ name = "Item", fields = {{
    {{"id", models.AutoField {{ primary_key = true }}}},
    {{"name", models.CharField {{ max_length = 20 }}}},
    {{"legacy", models.CharField {{ max_length = 20, null = true }}}},
  }}}},
  migrations.RunSQL {{ sql = "INSERT INTO inv_item (id, name, legacy) VALUES (1, 'a', 'old-a'), (2, 'b', 'old-b')", reverse_sql = migrations.RunSQL.noop }},
}} }}"#
        ),
    );
    env.migration(
        "inv",
        "0002_before",
        &format!(
            r#"{HEAD}
local function forwards(apps, schema_editor)
  local Item = apps.get_model("inv", "Item")
  -- "legacy" still exists at this point of the history, "rating" does not yet
  for item in Item.objects:order_by("id"):iterator(10) do
    item.name = item.name .. "+" .. item.legacy
    item:save()
  end
  local ok, e = pcall(function() return Item.objects:filter {{ rating = 5 }}:count() end)
  assert(not ok, "filter on a later field must fail")
  local msg = tostring(e)
  assert(msg:find("Item", 1, true) and msg:find("rating", 1, true) and msg:find("legacy", 1, true)
    and msg:find("name", 1, true), "message must name model, field and list fields: " .. msg)
  local ok2, e2 = pcall(function() return Item.objects:get {{ pk = 1 }}.rating end)
  assert(not ok2 and tostring(e2):find("rating", 1, true), "read of a later field must fail: " .. tostring(e2))
  local ok3, e3 = pcall(function() return Item.objects:create {{ name = "c", rating = 1 }} end)
  assert(not ok3 and tostring(e3):find("rating", 1, true), "create with a later field must fail: " .. tostring(e3))
  schema_editor:execute("CREATE TABLE seen (msg TEXT)")
  schema_editor:execute("INSERT INTO seen (msg) VALUES (%s)", {{ msg }})
end
return migrations.Migration {{ dependencies = {{ {{"inv", "0001_initial"}} }},
  operations = {{ migrations.RunLua(forwards) }} }}"#
        ),
    );
    env.migration(
        "inv",
        "0003_change",
        &format!(
            r#"{HEAD}return migrations.Migration {{ dependencies = {{ {{"inv", "0002_before"}} }}, operations = {{
  migrations.AddField {{ model_name = "item", name = "rating", field = models.IntegerField {{ default = 0 }} }},
  migrations.RemoveField {{ model_name = "item", name = "legacy" }},
}} }}"#
        ),
    );
    env.migration(
        "inv",
        "0004_after",
        &format!(
            r#"{HEAD}
local function forwards(apps, schema_editor)
  local Item = apps.get_model("inv.item")
  Item.objects:filter {{ pk = 2 }}:update {{ rating = 4 }}
  local ok, e = pcall(function() return Item.objects:get {{ pk = 1 }}.legacy end)
  assert(not ok and tostring(e):find("legacy", 1, true), "legacy is gone now: " .. tostring(e))
end
return migrations.Migration {{ dependencies = {{ {{"inv", "0003_change"}} }},
  operations = {{ migrations.RunLua(forwards) }} }}"#
        ),
    );
    env.luamig(&["migrate"]).ok();
    assert_eq!(
        col(env, "SELECT id, name, rating FROM inv_item ORDER BY id"),
        vec!["1|a+old-a|0", "2|b+old-b|4"]
    );
    let msg = env.scalar("SELECT msg FROM seen");
    assert!(msg.contains("inv.Item") || msg.contains("Item"), "{msg}");
    assert!(msg.contains("id, name, legacy"), "fields listed: {msg}");
}

// ---------------------------------------------------------------------------------------------
// schema_editor
// ---------------------------------------------------------------------------------------------

fn schema_editor_connection_execute_and_query(env: &Env) {
    checked(
        env,
        &r#"
  check(schema_editor.connection.alias, "default", "alias")
  check(schema_editor.connection.vendor, "__VENDOR__", "vendor")
  schema_editor:execute("INSERT INTO shop_customer (name, city) VALUES (%s, %s)", { "Dan", "Oslo" })
  schema_editor:execute("UPDATE shop_customer SET city = %s WHERE name = %s", { "Bergen", "Dan" })
  local rows = schema_editor:query("SELECT id, name, city FROM shop_customer WHERE city = %s OR id = %s ORDER BY id", { "Bergen", 1 })
  check(#rows, 2, "row count")
  check(rows[1][1], 1, "row 1 by position")
  check(rows[1].name, "Alice", "row 1 by name")
  check(rows[2][2], "Dan", "row 2 by position")
  check(rows[2].city, "Bergen", "row 2 by name")
  check(math.type(rows[1].id), "integer", "ids are integers")
  local none = schema_editor:query("SELECT id FROM shop_customer WHERE name = %s", { "nobody" })
  check(#none, 0, "empty result")
  local plain = schema_editor:query("SELECT count(*) AS n FROM shop_order")
  check(plain[1].n, 5, "no params")
  -- a parameter is a value, never SQL
  schema_editor:execute("INSERT INTO obs (k, v) VALUES (%s, %s)", { "evil", "'); DROP TABLE obs; --" })
"#
        .replace("__VENDOR__", env.pick("sqlite", "postgresql")),
    );
    assert_eq!(
        col(env, "SELECT name, city FROM shop_customer WHERE id = 4"),
        vec!["Dan|Bergen"]
    );
    assert_eq!(notes(env), vec!["evil='); DROP TABLE obs; --"]);
}

// ---------------------------------------------------------------------------------------------
// Querysets
// ---------------------------------------------------------------------------------------------

fn all_count_exists_list(env: &Env) {
    checked(
        env,
        r#"
  check(Order.objects:count(), 5, "objects:count")
  check(Order.objects:all():count(), 5, "all:count")
  check(Order.objects:exists(), true, "exists")
  check(Order.objects:filter { title = "zzz" }:exists(), false, "not exists")
  check(Order.objects:filter { title = "zzz" }:count(), 0, "count 0")
  local list = Order.objects:all():list()
  check(#list, 5, "list length")
  check(pks(list), { 1, 2, 3, 4, 5 }, "list keys")
  check(#Order.objects:filter { qty__gt = 4 }, 3, "length operator on a queryset")
"#,
    );
}

fn filter_exclude_chain_and_laziness(env: &Env) {
    checked(
        env,
        r#"
  local big = Order.objects:filter { qty__gt = 2 }
  check(pks(big), { 1, 2, 4, 5 }, "filter")
  local narrowed = big:filter { customer__isnull = false }
  check(pks(narrowed), { 1, 2, 4 }, "chained filter")
  check(pks(big), { 1, 2, 4, 5 }, "chaining leaves the original alone")
  check(pks(big:exclude { qty = 10 }), { 1, 2, 5 }, "exclude")
  check(pks(Order.objects:filter { qty__gt = 2, qty__lt = 8 }), { 1, 2, 5 }, "two conditions AND")
  check(pks(Order.objects:exclude { qty__gt = 2, qty__lt = 8 }), { 3, 4 }, "exclude of two conditions is NOT (a AND b)")
  -- lazy: nothing is read until needed, so a row created afterwards is counted
  local lazy = Order.objects:filter { title__startswith = "Z" }
  Order.objects:create { title = "Zucchini", qty = 4 }
  check(lazy:count(), 1, "lazy queryset sees later rows")
  check(lazy:first().title, "Zucchini", "lazy first")
"#,
    );
}

fn get_does_not_exist_and_multiple_objects_returned(env: &Env) {
    checked(
        env,
        r#"
  local o = Order.objects:get { title = "Banana" }
  check(o.pk, 3, "get")
  check(Order.objects:filter { qty__gt = 5 }:get { title = "Date" }.pk, 5, "get on a filtered queryset")
  check(Order.objects:filter { pk = 4 }:get().title, "Cherry Pie", "get()")
  local e = raises("DoesNotExist", function() return Order.objects:get { title = "nothing" } end)
  contains(e.message, "Order matching query does not exist", "DoesNotExist message")
  contains(tostring(e), "DoesNotExist: ", "DoesNotExist tostring")
  local m = raises("MultipleObjectsReturned", function() return Order.objects:get { customer = 1 } end)
  contains(m.message, "returned more than one Order", "MultipleObjectsReturned message")
  contains(m.message, "2", "it says how many")
  note("dne", e.kind)
  note("mor", m.kind)
"#,
    );
    assert_eq!(
        notes(env),
        vec!["dne=DoesNotExist", "mor=MultipleObjectsReturned"]
    );
}

fn create_saves_and_returns_the_instance(env: &Env) {
    checked(
        env,
        r#"
  local c = Customer.objects:create { name = "Eve", city = "Rome" }
  check(math.type(c.pk), "integer", "pk is an integer")
  check(c.pk, 4, "next key")
  check(c.id, c.pk, "id and pk")
  local o = Order.objects:create { title = "Fig", customer = c }
  check(o.customer_id, 4, "customer_id")
  check(o.qty, 0, "default qty")
  check(tostring(o.price), "0.00", "default price")
"#,
    );
    assert_eq!(
        col(env, "SELECT id, name, city FROM shop_customer WHERE id = 4"),
        vec!["4|Eve|Rome"]
    );
    assert_eq!(
        col(
            env,
            "SELECT title, qty, customer_id FROM shop_order WHERE id = 6"
        ),
        vec!["Fig|0|4"]
    );
}

/// `create{...}` and the create of `get_or_create` with plain `name = value` pairs take the
/// engine's one-call insert; the instance must be what `new` then `save` make: the values
/// as given, the others as stored, a row that later saves update, and the database's
/// refusal raised as from `save` (a DatabaseError).
fn create_of_plain_pairs_is_what_new_then_save_make(env: &Env) {
    checked(
        env,
        r#"
  local t = Thing.objects:create { f = 2, t = "text", b = true }
  check(math.type(t.f), "integer", "an integer given to a FloatField stays one")
  check(t.t, "text", "text as given")
  check(t.b, true, "boolean as given")
  check(t.i, nil, "left out: NULL")
  check(math.type(t.pk), "integer", "the key")
  t.i = 7
  t:save()
  check(Thing.objects:get { pk = t.pk }.i, 7, "a later save updates the row")
  local s = Stamp.objects:create { label = "s" }
  check(s.created ~= nil and s.updated ~= nil, true, "auto_now fields as stored")
  local o = Order.objects:create { title = "Kiwi", customer_id = 2, qty = 1 }
  check(o.customer.name, "Bob", "a foreign key given by its _id")
  check(tostring(o.price), "0.00", "a field with a default left out: made by new")
  local c, made = Customer.objects:get_or_create { name = "Zed", city = "Oslo" }
  check(made, true, "created")
  c.city = "Bergen"
  c:save()
  local again, made2 = Customer.objects:get_or_create { name = "Zed", city = "Bergen" }
  check(made2, false, "found after its save")
  check(again.pk, c.pk, "the same row")
  local transaction = require("luamig.transaction")
  local e = raises("DatabaseError", transaction.atomic, function()
    return Customer.objects:create { id = 1, name = "Dup", city = "X" }
  end)
  note("dup", e.kind)
"#,
    );
    assert_eq!(notes(env), vec!["dup=DatabaseError"]);
    assert_eq!(
        col(
            env,
            "SELECT name, city FROM shop_customer WHERE name = 'Zed'"
        ),
        vec!["Zed|Bergen"]
    );
    assert_eq!(
        col(env, "SELECT COUNT(*), MAX(f) * 2, MAX(i) FROM shop_thing"),
        vec!["1|4|7"]
    );
}

/// On SQLite a table found empty at its first lookup has its lookups answered without a
/// query while every row it gets comes from the ORM (see `db::read_cache`); whatever the
/// backend, every answer must be the database's.
fn lookups_of_a_table_filled_by_get_or_create_are_the_databases(env: &Env) {
    checked(
        env,
        r#"
  local a, made = Post.objects:get_or_create { title = "a" }
  check(made, true, "created in an empty table")
  local a2, made2 = Post.objects:get_or_create { title = "a" }
  check(made2, false, "found what it created")
  check(a2.pk, a.pk, "the same row")
  check(select(2, Post.objects:get_or_create { title = "b" }), true, "another value: created")
  -- A second row with the same values: the database must be asked again.
  Post.objects:create { title = "a" }
  raises("MultipleObjectsReturned", function() return Post.objects:get_or_create { title = "a" } end)
  local c, made3 = Post.objects:get_or_create { title = "c" }
  check(made3, true, "a new value after that")
  check(Post.objects:get_or_create { title = "c" }.pk, c.pk, "and found")
  -- A row written another way is found.
  raises("DoesNotExist", function() return Ranked.objects:get { name = "r" } end)
  schema_editor:execute("INSERT INTO shop_ranked (name, done) VALUES ('r', %s)", { false })
  check(Ranked.objects:get { name = "r" }.name, "r", "a row inserted by SQL")
  local moved = Post.objects:get { title = "b" }
  Post.objects:filter { title = "b" }:update { title = "d" }
  check(select(2, Post.objects:get_or_create { title = "d" }), false, "a row updated to the values")
  check(Post.objects:get_or_create { title = "d" }.pk, moved.pk, "the updated row")
"#,
    );
    assert_eq!(
        col(
            env,
            "SELECT title, count(*) FROM shop_post GROUP BY title ORDER BY title"
        ),
        vec!["a|2", "c|1", "d|1"]
    );
}

/// New rows saved one after another with different fields given (a key or not, a field
/// with a default left out or not) each get their own INSERT, though the statement for a
/// set of fields is compiled once.
fn new_rows_giving_different_fields_store_what_each_gives(env: &Env) {
    checked(
        env,
        r#"
  for round = 1, 2 do
    local keyed = Order.objects:create { id = 40 + 10 * round, title = "keyed" .. round, qty = round }
    check(keyed.pk, 40 + 10 * round, "the key given")
    local plain = Order.objects:create { title = "plain" .. round }
    check(plain.qty, 0, "the default filled in")
    local with_customer = Order.new { title = "with" .. round, qty = 7 }
    with_customer.customer = Customer.objects:get { pk = 1 }
    with_customer:save()
    check(with_customer.customer_id, 1, "the key of the customer")
    Customer.objects:create { id = 60 + 10 * round, name = "K" .. round, city = "Oslo" }
    Customer.objects:create { name = "N" .. round, city = "Oslo" }
  end
"#,
    );
    assert_eq!(
        col(
            env,
            "SELECT title, qty, COALESCE(customer_id, 0) FROM shop_order WHERE id > 5 ORDER BY title"
        ),
        vec![
            "keyed1|1|0",
            "keyed2|2|0",
            "plain1|0|0",
            "plain2|0|0",
            "with1|7|1",
            "with2|7|1"
        ]
    );
    assert_eq!(
        col(
            env,
            "SELECT name, CASE WHEN name LIKE 'K%' THEN id ELSE 0 END FROM shop_customer WHERE city = 'Oslo' ORDER BY name"
        ),
        vec!["K1|70", "K2|80", "N1|0", "N2|0"]
    );
}

fn get_or_create_existing_and_new_with_defaults(env: &Env) {
    checked(
        env,
        r#"
  local c, created = Customer.objects:get_or_create { name = "Alice", defaults = { city = "Nowhere" } }
  check(created, false, "existing: created")
  check(c.pk, 1, "existing: pk")
  check(c.city, "Paris", "existing: defaults not applied")
  local d, created2 = Customer.objects:get_or_create { name = "Dora", defaults = { city = "Lima" } }
  check(created2, true, "new: created")
  check(d.city, "Lima", "new: defaults applied")
  check(d.pk ~= nil, true, "new: saved")
  local o, created3 = Order.objects:get_or_create { title__iexact = "GRAPE", defaults = { title = "Grape", qty = 2 } }
  check(created3, true, "lookup with __ then defaults")
  check(o.title, "Grape", "title from defaults")
  local again, created4 = Order.objects:get_or_create { title__iexact = "GRAPE", defaults = { title = "Other" } }
  check(created4, false, "found the second time")
  check(again.pk, o.pk, "same row")
  raises("MultipleObjectsReturned", function() return Order.objects:get_or_create { customer = 1 } end)
"#,
    );
    assert_eq!(
        col(
            env,
            "SELECT name, city FROM shop_customer WHERE name = 'Dora'"
        ),
        vec!["Dora|Lima"]
    );
    assert_eq!(
        col(env, "SELECT title, qty FROM shop_order WHERE id = 6"),
        vec!["Grape|2"]
    );
    assert_eq!(env.scalar("SELECT count(*) FROM shop_order"), "6");
}

/// `get{name = value}` on a bare manager takes a compiled statement cached per model and
/// names; every other shape of lookup, and every kind of value, must give what the general
/// path gives.
fn get_with_plain_lookups_matches_the_general_path(env: &Env) {
    checked(
        env,
        r#"
  check(Customer.objects:get { name = "Bob", city = "London" }.pk, 2, "two names")
  check(Customer.objects:get { city = "London", name = "Bob" }.pk, 2, "same names, other order")
  check(Customer.objects:get { city = "paris" }.name, "Carol", "case kept")
  local alice = Customer.objects:get { pk = 1 }
  check(Order.objects:filter { customer = alice }:count(), 2, "instance in a filter")
  check(Order.objects:get { customer = Customer.objects:get { pk = 2 } }.title, "Banana", "instance value")
  check(Order.objects:get { customer_id = 2 }.title, "Banana", "attname")
  check(Order.objects:get { customer = NULL }.title, "Date", "NULL is IS NULL")
  check(Order.objects:get { customer = Customer.new { name = "unsaved" } }.title, "Date", "unsaved instance is NULL")
  check(Order.objects:get { title = "Banana", qty = 1 }.pk, 3, "text and integer")
  check(Ranked.objects:get_or_create { name = "r1" }.name, "r1", "ordered model")
  local o, created = Order.objects:get_or_create { customer = alice, title = "Apple pie" }
  check(created, false, "get_or_create with an instance")
  check(o.pk, 1, "found by instance")
  local n, made = Order.objects:get_or_create { customer = alice, title = "Plum" }
  check(made, true, "created with an instance")
  check(n.customer_id, 1, "the instance becomes the key")
  raises("DoesNotExist", function() return Customer.objects:get { name = "Bob", city = "Paris" } end)
  local m = raises("MultipleObjectsReturned", function() return Order.objects:get_or_create { customer = alice } end)
  contains(m.message, "it returned 3", "counted")
  local f = raises("FieldError", function() return Customer.objects:get { nmae = "Bob" } end)
  contains(f.message, "has no field named 'nmae'", "unknown field")
  local v = raises("ValueError", function() return Customer.objects:get { pk = "one" } end)
  contains(v.message, "id", "bad value names the field")
  check(Book.objects:get { pk = 1 }.editor.name, "Ann", "foreign key follows by key")
"#,
    );
    assert_eq!(
        col(
            env,
            "SELECT title, customer_id FROM shop_order WHERE title = 'Plum'"
        ),
        vec!["Plum|1"]
    );
}

/// MultipleObjectsReturned from get_or_create names the line that called it.
fn get_or_create_errors_name_the_calling_line(env: &Env) {
    shop(env);
    let run = run_check(
        env,
        "  local x = 1
  Order.objects:get_or_create { customer_id = 1 }
",
    );
    let src = std::fs::read_to_string(env.path().join("migrations/shop/0002_check.lua")).unwrap();
    let line = 1 + src
        .lines()
        .position(|l| l.contains("get_or_create { customer_id = 1 }"))
        .unwrap();
    let run = run.fails();
    let first = run.error_line();
    assert!(
        first.contains(&format!("migrations/shop/0002_check.lua:{line}:"))
            && first.contains("MultipleObjectsReturned: get() returned more than one Order"),
        "{first}"
    );
}

fn update_or_create_updates_or_creates(env: &Env) {
    checked(
        env,
        r#"
  local o, created = Order.objects:update_or_create { title = "Banana", defaults = { qty = 42 } }
  check(created, false, "existing")
  check(o.qty, 42, "updated in Lua")
  local n, created2 = Order.objects:update_or_create { title = "Kiwi", defaults = { qty = 9 } }
  check(created2, true, "new")
  check(n.qty, 9, "new qty")
"#,
    );
    assert_eq!(
        col(env, "SELECT qty FROM shop_order WHERE title = 'Banana'"),
        vec!["42"]
    );
    assert_eq!(
        col(env, "SELECT qty FROM shop_order WHERE title = 'Kiwi'"),
        vec!["9"]
    );
}

fn bulk_create_tables_and_instances_in_batches(env: &Env) {
    checked(
        env,
        r#"
  local list = {}
  for i = 1, 5 do list[#list + 1] = { name = "c" .. i, city = "X" } end
  list[#list + 1] = Customer { name = "inst", city = "Y" }
  local objs = Customer.objects:bulk_create(list, { batch_size = 2 })
  check(#objs, 6, "returned objects")
  local seen = {}
  for i, o in ipairs(objs) do
    check(math.type(o.pk), "integer", "pk of object " .. i)
    assert(not seen[o.pk], "distinct keys")
    seen[o.pk] = true
  end
  check(objs[6].name, "inst", "instances kept")
  check(Customer.objects:filter { city = "X" }:count(), 5, "rows written")
  -- a saved-by-bulk instance updates, not inserts, on save()
  objs[1].city = "Z"
  objs[1]:save()
  check(Customer.objects:count(), 9, "save after bulk_create updates")
  note("pks", { objs[1].pk, objs[6].pk })
"#,
    );
    assert_eq!(notes(env), vec!["pks={4,9}"]);
    assert_eq!(
        col(
            env,
            "SELECT name, city FROM shop_customer WHERE id >= 4 ORDER BY id"
        )
        .len(),
        6
    );
    assert_eq!(
        env.scalar("SELECT city FROM shop_customer WHERE id = 4"),
        "Z"
    );
    assert_eq!(
        env.scalar("SELECT city FROM shop_customer WHERE id = 9"),
        "Y"
    );
}

fn bulk_update_writes_only_the_named_fields(env: &Env) {
    checked(
        env,
        r#"
  local objs = Order.objects:filter { pk__in = { 1, 2, 3 } }:order_by("id"):list()
  for _, o in ipairs(objs) do
    o.qty = o.qty * 100
    o.title = "CHANGED"
  end
  Order.objects:bulk_update(objs, { "qty" }, { batch_size = 2 })
"#,
    );
    assert_eq!(
        col(env, "SELECT id, title, qty FROM shop_order ORDER BY id"),
        vec![
            "1|Apple pie|300",
            "2|apple tart|500",
            "3|Banana|100",
            "4|Cherry Pie|10",
            "5|Date|7"
        ]
    );
}

fn first_last_and_order_by(env: &Env) {
    checked(
        env,
        r#"
  check(Order.objects:first().pk, 1, "first by pk")
  check(Order.objects:last().pk, 5, "last by pk")
  check(Order.objects:order_by("-qty"):first().pk, 4, "first of -qty")
  check(Order.objects:order_by("-qty"):last().pk, 3, "last of -qty")
  check(Order.objects:filter { title = "none" }:first(), nil, "first of nothing")
  check(Order.objects:filter { title = "none" }:last(), nil, "last of nothing")
  local titles = {}
  for _, o in ipairs(Order.objects:order_by("-qty"):list()) do titles[#titles + 1] = o.qty end
  check(titles, { 10, 7, 5, 3, 1 }, "order_by -qty")
  local ids = {}
  for _, o in ipairs(Order.objects:order_by("customer_id", "-qty"):filter { customer__isnull = false }:list()) do ids[#ids + 1] = o.pk end
  check(ids, { 2, 1, 3, 4 }, "two keys")
  ids = {}
  for _, o in ipairs(Order.objects:filter { customer__isnull = false }:order_by("customer__name", "qty"):list()) do ids[#ids + 1] = o.pk end
  check(ids, { 1, 2, 3, 4 }, "ordering across a foreign key")
  ids = {}
  for _, o in ipairs(Order.objects:order_by("price"):list()) do ids[#ids + 1] = o.pk end
  check(ids, { 3, 1, 2, 5, 4 }, "decimal ordering is numeric")
"#,
    );
}

fn values_and_values_list(env: &Env) {
    checked(
        env,
        r#"
  local rows = Order.objects:filter { pk__in = { 1, 3 } }:order_by("id"):values("title", "qty"):list()
  check(#rows, 2, "values rows")
  check(rows[1].title, "Apple pie", "values title")
  check(rows[2].qty, 3 - 2, "values qty")
  check(rows[1].price, nil, "only the named fields")
  local all = Order.objects:filter { pk = 5 }:values():list()
  check(all[1].title, "Date", "values() has every field")
  check(all[1].customer_id, nil, "values() names a foreign key by its attname, nil when NULL")
  check(all[1].qty, 7, "values() qty")
  local pairs_ = Order.objects:order_by("id"):values_list("id", "title"):limit(2):list()
  check(pairs_, { { 1, "Apple pie" }, { 2, "apple tart" } }, "values_list rows")
  local flat = Order.objects:order_by("-id"):values_list("title", { flat = true }):list()
  check(flat, { "Date", "Cherry Pie", "Banana", "apple tart", "Apple pie" }, "flat")
  local cities = Order.objects:filter { customer__isnull = false }:order_by("id"):values_list("customer__city", { flat = true }):list()
  check(cities, { "Paris", "Paris", "London", "paris" }, "values across a foreign key")
  local ok = pcall(function() return Order.objects:values_list("id", "title", { flat = true }):list() end)
  check(ok, false, "flat with two fields is an error")
"#,
    );
}

fn limit_and_slice_are_zero_based_end_excluded(env: &Env) {
    checked(
        env,
        r#"
  local byid = Order.objects:order_by("id")
  check(pks(byid:limit(2)), { 1, 2 }, "limit")
  check(pks(byid:slice(1, 3)), { 2, 3 }, "slice(1, 3)")
  check(pks(byid:slice(0, 1)), { 1 }, "slice(0, 1)")
  check(pks(byid:slice(3)), { 4, 5 }, "slice(3) to the end")
  check(pks(byid:slice(1, 4):slice(1, 2)), { 3 }, "slice of a slice")
  check(pks(byid:slice(4, 10)), { 5 }, "slice past the end")
  check(byid:slice(1, 3):count(), 2, "count of a slice")
  check(byid:slice(5, 8):exists(), false, "exists of an empty slice")
  check(byid:slice(2, 4):first().pk, 3, "first of a slice")
"#,
    );
}

fn update_returns_rows_changed_and_takes_f_expressions(env: &Env) {
    checked(
        env,
        r#"
  check(Order.objects:filter { customer = 1 }:update { note = "bulk" }, 2, "rows changed")
  check(Order.objects:filter { title = "none" }:update { note = "x" }, 0, "nothing changed")
  check(Order.objects:filter { pk = 1 }:update { qty = F("qty") + 10 }, 1, "F +")
  Order.objects:filter { pk = 2 }:update { qty = F("qty") - 2 }
  Order.objects:filter { pk = 3 }:update { qty = F("qty") * 6 }
  Order.objects:filter { pk = 4 }:update { qty = F("qty") / 2 }
  Order.objects:filter { pk = 5 }:update { qty = F("id") * 100 + F("qty") }
  check(Order.objects:filter { customer__city = "London" }:update { note = "via join" }, 1, "update with a join")
  Order.objects:update { price = "9.99" }
"#,
    );
    assert_eq!(
        col(env, "SELECT id, qty, note FROM shop_order ORDER BY id"),
        vec![
            "1|13|bulk",
            "2|3|bulk",
            "3|6|via join",
            "4|5|x",
            "5|507|NULL"
        ]
    );
    assert_eq!(
        env.scalar("SELECT count(*) FROM shop_order WHERE price = 9.99"),
        "5"
    );
}

fn delete_returns_rows_deleted_and_cascades(env: &Env) {
    checked(
        env,
        r#"
  local n = Order.objects:filter { qty__lt = 4 }:delete()
  check(math.type(n), "integer", "an integer")
  check(n, 2, "rows deleted")
  check(Order.objects:filter { title = "none" }:delete(), 0, "nothing deleted")
  Customer.objects:filter { pk = 1 }:delete()
  check(Order.objects:filter { customer_id = 1 }:count(), 0, "cascade removed the orders of customer 1")
  Author.objects:filter { pk = 1 }:delete()
  check(Book.objects:get { pk = 1 }.editor_id, nil, "SET_NULL")
"#,
    );
    assert_eq!(
        col(env, "SELECT id FROM shop_order ORDER BY id"),
        vec!["4", "5"]
    );
    assert_eq!(
        col(env, "SELECT id FROM shop_customer ORDER BY id"),
        vec!["2", "3"]
    );
}

fn delete_count_includes_cascaded_rows_like_django(env: &Env) {
    // Django: Customer.objects.filter(pk=1).delete() returns (3, {"shop.Order": 2,
    // "shop.Customer": 1}); its total is the integer luamig returns.
    checked(
        env,
        r#"
  note("queryset", Customer.objects:filter { pk = 1 }:delete())
  note("instance", Customer.objects:get { pk = 2 }:delete())
"#,
    );
    assert_eq!(notes(env), vec!["queryset=3", "instance=2"]);
}

fn iterator_streams_in_chunks_without_skipping_or_repeating_updated_rows(env: &Env) {
    checked(
        env,
        r#"
  local rows = {}
  for i = 1, 30 do rows[i] = { title = "bulk" .. i, qty = i } end
  Order.objects:bulk_create(rows)
  -- every row of the filter is moved out of it inside the loop
  local seen, count = {}, 0
  for o in Order.objects:filter { qty__lt = 1000 }:iterator(4) do
    assert(not seen[o.pk], "row " .. o.pk .. " seen twice")
    seen[o.pk] = true
    count = count + 1
    o.qty = o.qty + 1000
    o:save()
  end
  check(count, 35, "every row once")
  check(Order.objects:filter { qty__lt = 1000 }:count(), 0, "every row updated")
  -- chunks: a row deleted before its chunk is read is not returned
  local got = {}
  for o in Order.objects:order_by():iterator(2) do
    if #got == 0 then Order.objects:filter { pk = 35 }:delete() end
    got[#got + 1] = o.pk
  end
  check(#got, 34, "the deleted row was not returned")
  check(got[#got], 34, "last row")
  local ok = pcall(function() return Order.objects:iterator(0) end)
  check(ok, false, "chunk_size 0 is an error")
"#,
    );
    assert_eq!(
        env.scalar("SELECT count(*) FROM shop_order WHERE qty >= 1000"),
        "34"
    );
}

fn iterator_with_ordering_and_values(env: &Env) {
    checked(
        env,
        r#"
  local qtys = {}
  for o in Order.objects:order_by("-qty"):iterator(2) do qtys[#qtys + 1] = o.qty end
  check(qtys, { 10, 7, 5, 3, 1 }, "ordered iterator")
  local titles = {}
  for row in Order.objects:order_by("id"):values("title"):iterator(3) do titles[#titles + 1] = row.title end
  check(titles, { "Apple pie", "apple tart", "Banana", "Cherry Pie", "Date" }, "values iterator")
  local some = {}
  for o in Order.objects:order_by("id"):slice(1, 4):iterator(2) do some[#some + 1] = o.pk end
  check(some, { 2, 3, 4 }, "sliced iterator")
"#,
    );
}

fn querysets_loop_directly(env: &Env) {
    checked(
        env,
        r#"
  local ids = {}
  for o in Order.objects:filter { qty__gt = 2 } do ids[#ids + 1] = o.pk end
  table.sort(ids)
  check(ids, { 1, 2, 4, 5 }, "for o in qs")
  local n = 0
  for _ in Customer.objects do n = n + 1 end
  check(n, 3, "for o in Model.objects")
  local pairs_ = 0
  local qs = Customer.objects:all()
  for a in qs do
    for b in qs do pairs_ = pairs_ + 1 end
  end
  check(pairs_, 9, "nested loops over one queryset")
  local rows = {}
  for r in Order.objects:order_by("id"):values_list("id", "qty") do rows[#rows + 1] = r[1] * 100 + r[2] end
  check(rows, { 103, 205, 301, 410, 507 }, "looping over values_list rows")
"#,
    );
}

fn looping_directly_over_flat_values_list_yields_every_value(env: &Env) {
    checked(
        env,
        r#"
  local titles = {}
  for t in Order.objects:order_by("id"):values_list("title", { flat = true }) do titles[#titles + 1] = t end
  check(titles, { "Apple pie", "apple tart", "Banana", "Cherry Pie", "Date" }, "looping over flat values")
  local qtys = {}
  for q in Order.objects:order_by("id"):values_list("qty", { flat = true }) do qtys[#qtys + 1] = q end
  check(qtys, { 3, 5, 1, 10, 7 }, "looping over flat numbers (3 and 1 repeat nowhere)")
"#,
    );
}

// ---------------------------------------------------------------------------------------------
// Lookups
// ---------------------------------------------------------------------------------------------

fn lookups_exact_iexact_isnull_in_comparisons_range_pk(env: &Env) {
    checked(
        env,
        r#"
  check(pks(Order.objects:filter { title = "Banana" }), { 3 }, "=")
  check(pks(Order.objects:filter { title__exact = "banana" }), {}, "exact is case-sensitive")
  check(pks(Order.objects:filter { title__iexact = "BANANA" }), { 3 }, "iexact")
  check(pks(Customer.objects:filter { city__iexact = "PARIS" }), { 1, 3 }, "iexact city")
  check(pks(Order.objects:filter { note__isnull = true }), { 1, 3, 5 }, "isnull true")
  check(pks(Order.objects:filter { note__isnull = false }), { 2, 4 }, "isnull false")
  check(pks(Order.objects:filter { note = NULL }), { 1, 3, 5 }, "= NULL is IS NULL")
  check(pks(Order.objects:filter { customer__isnull = true }), { 5 }, "fk isnull")
  check(pks(Order.objects:filter { id__in = { 1, 3, 99 } }), { 1, 3 }, "in")
  check(pks(Order.objects:filter { id__in = {} }), {}, "in nothing")
  check(pks(Order.objects:filter { title__in = { "Date", "Banana" } }), { 3, 5 }, "in strings")
  check(pks(Order.objects:filter { qty__gt = 5 }), { 4, 5 }, "gt")
  check(pks(Order.objects:filter { qty__gte = 5 }), { 2, 4, 5 }, "gte")
  check(pks(Order.objects:filter { qty__lt = 5 }), { 1, 3 }, "lt")
  check(pks(Order.objects:filter { qty__lte = 5 }), { 1, 2, 3 }, "lte")
  check(pks(Order.objects:filter { price__gt = "2.25" }), { 4, 5 }, "decimal gt")
  check(pks(Order.objects:filter { price__lte = decimal.new("1.5") }), { 1, 3 }, "decimal lte")
  check(pks(Order.objects:filter { qty__range = { 3, 7 } }), { 1, 2, 5 }, "range inclusive")
  check(pks(Order.objects:filter { pk = 4 }), { 4 }, "pk")
  check(pks(Order.objects:filter { pk__in = { 2, 4 } }), { 2, 4 }, "pk__in")
  check(pks(Order.objects:filter { pk__gte = 4 }), { 4, 5 }, "pk__gte")
  check(pks(Order.objects:filter { customer = 1 }), { 1, 2 }, "fk by key")
  check(pks(Order.objects:filter { customer = Customer.objects:get { pk = 2 } }), { 3 }, "fk by instance")
  check(pks(Order.objects:filter { customer_id = 3 }), { 4 }, "fk attname")
  check(pks(Order.objects:filter { customer__in = { 2, 3 } }), { 3, 4 }, "fk in")
"#,
    );
}

fn lookups_text_patterns(env: &Env) {
    checked(
        env,
        r#"
  check(pks(Order.objects:filter { title__contains = "pie" }), { 1 }, "contains is case-sensitive")
  check(pks(Order.objects:filter { title__contains = "Pie" }), { 4 }, "contains Pie")
  check(pks(Order.objects:filter { title__icontains = "PIE" }), { 1, 4 }, "icontains")
  check(pks(Order.objects:filter { title__startswith = "apple" }), { 2 }, "startswith is case-sensitive")
  check(pks(Order.objects:filter { title__istartswith = "APPLE" }), { 1, 2 }, "istartswith")
  check(pks(Order.objects:filter { title__endswith = "Pie" }), { 4 }, "endswith is case-sensitive")
  check(pks(Order.objects:filter { title__iendswith = "PIE" }), { 1, 4 }, "iendswith")
  -- pattern characters are literal
  Order.objects:create { title = "50% off" }
  Order.objects:create { title = "a_b" }
  Order.objects:create { title = "back\\slash" }
  check(Order.objects:filter { title__contains = "%" }:count(), 1, "% is literal")
  check(Order.objects:filter { title__icontains = "%" }:count(), 1, "% is literal (icontains)")
  check(Order.objects:filter { title__icontains = "_" }:count(), 1, "_ is literal")
  check(Order.objects:filter { title__startswith = "a_" }:count(), 1, "_ is literal (startswith)")
  check(Order.objects:filter { title__iendswith = "\\SLASH" }:count(), 1, "backslash is literal")
"#,
    );
}

fn lookups_across_foreign_keys_and_f(env: &Env) {
    checked(
        env,
        r#"
  check(pks(Order.objects:filter { customer__city = "Paris" }), { 1, 2 }, "customer__city")
  check(pks(Order.objects:filter { customer__city__iexact = "paris" }), { 1, 2, 4 }, "customer__city__iexact")
  check(pks(Order.objects:filter { customer__name__startswith = "C" }), { 4 }, "customer__name__startswith")
  check(pks(Order.objects:filter { customer__name = "Alice", qty__gt = 3 }), { 2 }, "join and local condition")
  check(pks(Customer.objects:filter { pk__in = { 1, 2 } }:exclude { city = "London" }), { 1 }, "exclude")
  check(pks(Order.objects:filter { qty__gt = F("id") * 2 }), { 1, 2, 4 }, "F in filter")
  check(pks(Order.objects:filter { qty = F("id") + 6 }), { 4 }, "F equality")
  check(pks(Order.objects:filter { qty = F("qty") }), { 1, 2, 3, 4, 5 }, "F self")
  check(pks(Book.objects:filter { editor__name = "Ann" }), { 1 }, "related_name model traversal")
"#,
    );
}

fn exclude_keeps_rows_with_null_like_django(env: &Env) {
    // Django: exclude(note="hot") keeps rows whose note is NULL (it adds `AND note IS NOT NULL`
    // inside the NOT), and exclude(customer__city="Paris") keeps orders without a customer.
    checked(
        env,
        r#"
  check(pks(Order.objects:exclude { note = "hot" }), { 1, 3, 4, 5 }, "exclude on a nullable column keeps NULLs")
  check(pks(Order.objects:exclude { customer__city = "Paris" }), { 3, 4, 5 }, "exclude across a nullable foreign key keeps rows without one")
  check(pks(Order.objects:exclude { qty__gt = 2, customer = 1 }), { 3, 4, 5 }, "exclude of two conditions, one on a NULL column")
"#,
    );
}

fn unknown_lookup_is_an_error(env: &Env) {
    checked(
        env,
        r#"
  local ok, e = pcall(function() return Order.objects:filter { title__regexish = "x" }:count() end)
  check(ok, false, "unknown lookup fails")
  contains(tostring(e), "regexish", "names the lookup")
"#,
    );
}

// ---------------------------------------------------------------------------------------------
// Instances
// ---------------------------------------------------------------------------------------------

fn instances_read_write_save_insert_and_update(env: &Env) {
    checked(
        env,
        r#"
  local o = Order { title = "New", qty = 2 }
  check(o.pk, nil, "unsaved pk")
  check(o.title, "New", "read before save")
  o:save()
  check(o.pk, 6, "pk after insert")
  check(o.id, 6, "id after insert")
  o.title = "Renamed"
  o.qty = o.qty + 1
  o:save()
  check(Order.objects:count(), 6, "second save updates")
  local again = Order.objects:get { pk = 6 }
  check(again.title, "Renamed", "reloaded title")
  check(again.qty, 3, "reloaded qty")
  local b = Order.objects:get { pk = 3 }
  b.note = "edited"
  b:save()
  local n = Order.new { title = "via new" }
  n:save()
  check(n.pk, 7, "Model.new")
"#,
    );
    assert_eq!(
        col(
            env,
            "SELECT id, title, qty FROM shop_order WHERE id >= 6 ORDER BY id"
        ),
        vec!["6|Renamed|3", "7|via new|0"]
    );
    assert_eq!(
        env.scalar("SELECT note FROM shop_order WHERE id = 3"),
        "edited"
    );
}

fn save_update_fields_writes_only_those_columns(env: &Env) {
    checked(
        env,
        r#"
  local o = Order.objects:get { pk = 1 }
  o.qty = 99
  o.title = "NOT WRITTEN"
  o:save { update_fields = { "qty" } }
  check(Order.objects:get { pk = 1 }.title, "Apple pie", "title unchanged")
  -- a concurrent change to another column survives
  local a = Order.objects:get { pk = 2 }
  Order.objects:filter { pk = 2 }:update { note = "by someone else" }
  a.qty = 55
  a:save { update_fields = { "qty" } }
  local e = raises("FieldError", function() a:save { update_fields = { "nope" } } end)
  contains(e.message, "nope", "unknown update field")
"#,
    );
    assert_eq!(
        col(env, "SELECT title, qty FROM shop_order WHERE id = 1"),
        vec!["Apple pie|99"]
    );
    assert_eq!(
        col(env, "SELECT qty, note FROM shop_order WHERE id = 2"),
        vec!["55|by someone else"]
    );
}

fn instance_delete(env: &Env) {
    checked(
        env,
        r#"
  local o = Order.objects:get { pk = 3 }
  o:delete()
  check(Order.objects:count(), 4, "one row fewer")
  check(Order.objects:filter { pk = 3 }:exists(), false, "gone")
  Customer.objects:get { pk = 1 }:delete()
"#,
    );
    assert_eq!(
        col(env, "SELECT id FROM shop_order ORDER BY id"),
        vec!["4", "5"]
    );
}

fn foreign_keys_load_related_raw_key_and_assign_instances(env: &Env) {
    checked(
        env,
        r#"
  local o = Order.objects:get { pk = 3 }
  check(o.customer_id, 2, "raw key")
  check(o.customer.name, "Bob", "related row")
  check(o.customer.pk, 2, "related pk")
  schema_editor:execute("UPDATE shop_customer SET name = 'Robert' WHERE id = 2")
  check(o.customer.name, "Bob", "the related instance is kept, as Django's is")
  o:refresh_from_db()
  check(o.customer.name, "Robert", "refresh_from_db forgets it")
  schema_editor:execute("UPDATE shop_customer SET name = 'Bob' WHERE id = 2")
  check(Order.objects:get { pk = 5 }.customer, nil, "NULL foreign key reads nil")
  local carol = Customer.objects:get { name = "Carol" }
  o.customer = carol
  check(o.customer_id, 3, "assigning an instance sets the key")
  o:save()
  local p2 = Order.objects:get { pk = 1 }
  p2.customer_id = 2
  check(p2.customer.name, "Bob", "setting the raw key changes the related row")
  p2:save()
  local p5 = Order.objects:get { pk = 5 }
  p5.customer = Customer.objects:get { pk = 1 }
  p5:save()
  local p4 = Order.objects:get { pk = 4 }
  p4.customer = NULL
  p4:save()
  local ok = pcall(function() p4.customer = 7 end)
  check(ok, false, "assigning a number to the relation is an error (use customer_id)")
"#,
    );
    assert_eq!(
        col(env, "SELECT id, customer_id FROM shop_order ORDER BY id"),
        vec!["1|2", "2|1", "3|3", "4|NULL", "5|1"]
    );
}

fn reverse_managers_and_related_name(env: &Env) {
    checked(
        env,
        r#"
  local alice = Customer.objects:get { pk = 1 }
  check(pks(alice.order_set:all()), { 1, 2 }, "order_set:all()")
  check(alice.order_set:count(), 2, "order_set:count()")
  check(pks(alice.order_set:filter { qty__gt = 4 }), { 2 }, "order_set:filter")
  check(Customer.objects:get { pk = 2 }.order_set:first().pk, 3, "order_set:first")
  local made = alice.order_set:create { title = "via reverse" }
  check(made.customer_id, 1, "reverse create sets the key")
  check(alice.order_set:count(), 3, "reverse create")
  local ann = Author.objects:get { name = "Ann" }
  check(pks(ann.edited_books:all()), { 1 }, "related_name")
  local ok = pcall(function() return ann.book_set end)
  -- ann.book_set is the reverse of the many-to-many (no related_name there)
  check(ok, true, "reverse many-to-many accessor")
"#,
    );
    assert_eq!(
        env.scalar("SELECT customer_id FROM shop_order WHERE title = 'via reverse'"),
        "1"
    );
}

fn many_to_many_add_remove_clear_set_all(env: &Env) {
    checked(
        env,
        r#"
  local b1 = Book.objects:get { pk = 1 }
  local ann, ben, cy = Author.objects:get { pk = 1 }, Author.objects:get { pk = 2 }, Author.objects:get { pk = 3 }
  check(b1.authors:count(), 0, "empty")
  b1.authors:add(ann, ben)
  check(pks(b1.authors:all()), { 1, 2 }, "add")
  b1.authors:add(ann)
  check(b1.authors:count(), 2, "adding twice keeps one link")
  b1.authors:remove(ann)
  check(pks(b1.authors:all()), { 2 }, "remove")
  b1.authors:add(3)
  check(pks(b1.authors:all()), { 2, 3 }, "add by key")
  check(pks(b1.authors:filter { name = "Cy" }), { 3 }, "filter on the manager")
  b1.authors:clear()
  check(b1.authors:count(), 0, "clear")
  b1.authors:set({ ann, cy })
  check(pks(b1.authors:all()), { 1, 3 }, "set")
  local b2 = Book.objects:get { pk = 2 }
  b2.authors:add(cy)
  check(pks(cy.book_set:all()), { 1, 2 }, "reverse many-to-many")
"#,
    );
    assert_eq!(
        col(
            env,
            "SELECT book_id, author_id FROM shop_book_authors ORDER BY book_id, author_id"
        ),
        vec!["1|1", "1|3", "2|3"]
    );
}

fn auto_now_and_auto_now_add(env: &Env) {
    checked(
        env,
        r#"
  local s = Stamp.objects:create { label = "a" }
  assert(type(s.created) == "string" and s.created:match("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d"), "created: " .. tostring(s.created))
  assert(type(s.updated) == "string", "updated set")
  Stamp.objects:filter { pk = s.pk }:update { created = "2000-01-01T00:00:00Z", updated = "2000-01-01T00:00:00Z" }
  local again = Stamp.objects:get { pk = s.pk }
  again.label = "b"
  again:save()
  local fresh = Stamp.objects:get { pk = s.pk }
  check(fresh.created:sub(1, 10), "2000-01-01", "auto_now_add kept on update")
  assert(fresh.updated:sub(1, 4) ~= "2000", "auto_now refreshed on save: " .. fresh.updated)
  note("year", fresh.updated:sub(1, 2))
"#,
    );
    assert_eq!(notes(env), vec!["year=20"]);
    let created = env.scalar(&format!(
        "SELECT {} FROM shop_stamp",
        utc_text(env, "created")
    ));
    assert!(created.starts_with("2000-01-01 00:00:00"), "{created}");
    let updated = env.scalar(&format!(
        "SELECT {} FROM shop_stamp",
        utc_text(env, "updated")
    ));
    assert!(
        !updated.starts_with("2000") && updated.len() >= 19,
        "{updated}"
    );
}

fn defaults_values_and_lua_functions_on_create(env: &Env) {
    checked(
        env,
        r#"
  local a = Ticket.objects:create {}
  local b = Ticket.objects:create { status = "open" }
  local c = Ticket { priority = 1 }
  check(c.status, "new", "default on an unsaved instance")
  c:save()
  check(a.status, "new", "value default")
  check(a.priority, 3, "integer default")
  check(b.status, "open", "given value wins")
  assert(a.token ~= b.token and b.token ~= c.token and a.token ~= c.token, "function default called per row")
  local objs = Ticket.objects:bulk_create({ {}, {}, {} })
  check(#objs, 3, "bulk")
"#,
    );
    assert_eq!(
        env.scalar("SELECT count(DISTINCT token) FROM shop_ticket"),
        "6"
    );
    assert_eq!(
        env.scalar(&format!(
            "SELECT count(*) FROM shop_ticket WHERE length(CAST(token AS TEXT)) = {}",
            env.pick(32, 36)
        )),
        "6"
    );
    assert_eq!(
        col(
            env,
            "SELECT status, priority FROM shop_ticket ORDER BY id LIMIT 3"
        ),
        vec!["new|3", "open|3", "new|1"]
    );
}

fn unknown_fields_are_errors_naming_model_and_fields_everywhere(env: &Env) {
    checked(
        env,
        r#"
  local o = Order.objects:get { pk = 1 }
  local attempts = {
    read = function() return o.nope end,
    write = function() o.nope = 1 end,
    filter = function() return Order.objects:filter { nope = 1 }:count() end,
    exclude = function() return Order.objects:exclude { nope = 1 }:list() end,
    get = function() return Order.objects:get { nope = 1 } end,
    create = function() return Order.objects:create { title = "t", nope = 1 } end,
    new = function() return Order { nope = 1 } end,
    order_by = function() return Order.objects:order_by("-nope"):list() end,
    values = function() return Order.objects:values("nope"):list() end,
    values_list = function() return Order.objects:values_list("nope", { flat = true }):list() end,
    update = function() return Order.objects:update { nope = 1 } end,
    update_fields = function() o:save { update_fields = { "nope" } } end,
    traversal = function() return Order.objects:filter { customer__nope = 1 }:count() end,
    F = function() return Order.objects:update { qty = F("nope") } end,
  }
  local names = {}
  for name in pairs(attempts) do names[#names + 1] = name end
  table.sort(names)
  for _, name in ipairs(names) do
    local ok, e = pcall(attempts[name])
    assert(not ok, name .. ": an unknown field must be an error")
    local msg = tostring(e)
    assert(msg:find("nope", 1, true), name .. ": names the field: " .. msg)
    if name == "traversal" then
      assert(msg:find("Customer", 1, true) and msg:find("city", 1, true), name .. ": names Customer and its fields: " .. msg)
    else
      assert(msg:find("Order", 1, true), name .. ": names the model: " .. msg)
      assert(msg:find("title", 1, true) and msg:find("qty", 1, true) and msg:find("customer", 1, true),
        name .. ": lists the fields: " .. msg)
    end
    note(name, type(e) == "table" and e.kind or "string")
  end
"#,
    );
    assert_eq!(notes(env).len(), 14);
    assert_eq!(
        env.scalar("SELECT count(*) FROM shop_order"),
        "5",
        "nothing was written"
    );
}

// ---------------------------------------------------------------------------------------------
// Values
// ---------------------------------------------------------------------------------------------

fn values_integers_floats_booleans_text(env: &Env) {
    checked(
        env,
        r#"
  local t = Thing.objects:create { i = 42, f = 2.5, b = true, t = "héllo\nworld" }
  local r = Thing.objects:get { pk = t.pk }
  check(math.type(r.i), "integer", "integer type")
  check(r.i, 42, "integer")
  check(math.type(r.f), "float", "float type")
  check(r.f, 2.5, "float")
  check(r.b, true, "boolean true")
  check(r.t, "héllo\nworld", "text")
  -- beyond 2^53, in a BigIntegerField (an IntegerField is 32-bit on PostgreSQL, as in Django)
  local z = Thing.objects:create { big = -9007199254740993, f = 3, b = false, t = "" }
  local rz = Thing.objects:get { pk = z.pk }
  check(math.type(rz.big), "integer", "big integer type")
  check(rz.big, -9007199254740993, "large integer exact")
  check(math.type(rz.f), "float", "float field from an integer")
  check(rz.b, false, "boolean false")
  check(rz.t, "", "empty text")
  check(Thing.objects:filter { b = true }:count(), 1, "filter on boolean")
  local ok = pcall(function() return Thing.objects:create { b = "yes" } end)
  check(ok, false, "a string in a BooleanField is an error")
  local ok2 = pcall(function() return Thing.objects:create { i = "12x" } end)
  check(ok2, false, "a non-number in an IntegerField is an error")
"#,
    );
    assert_eq!(
        col(
            env,
            "SELECT i, big, f, CAST(b AS INTEGER), t FROM shop_thing ORDER BY id"
        ),
        vec!["42|NULL|2.5|1|héllo\nworld", "NULL|-9007199254740993|3|0|"]
    );
}

fn values_decimals_are_exact(env: &Env) {
    checked(
        env,
        r#"
  local banana = Order.objects:get { pk = 3 }
  check(decimal.is_decimal(banana.price), true, "a luamig.decimal")
  check(tostring(banana.price), "0.30", "scale kept")
  check(tostring(Order.objects:get { pk = 4 }.price), "10.00", "10.00")
  local total = decimal.new("0")
  for o in Order.objects:all() do total = total + o.price end
  check(tostring(total), "17.05", "sum is exact")
  check(decimal.new("0.1") + decimal.new("0.2") == decimal.new("0.3"), true, "0.1 + 0.2 == 0.3")
  check(banana.price * 3 == decimal.new("0.9"), true, "multiply by an integer")
  check(banana.price < decimal.new("0.31"), true, "comparison")
  -- strings and integers are accepted on write, floats are not
  local t = Thing.objects:create { d = "12.346" }
  check(tostring(Thing.objects:get { pk = t.pk }.d), "12.35", "rounded to decimal_places")
  local t2 = Thing.objects:create { d = 7 }
  check(tostring(Thing.objects:get { pk = t2.pk }.d), "7.00", "integer written")
  local t3 = Thing.objects:create { d = decimal.new("0.1") + decimal.new("0.2") }
  check(tostring(Thing.objects:get { pk = t3.pk }.d), "0.30", "decimal written")
  local ok, e = pcall(function() return Thing.objects:create { d = 0.3 } end)
  check(ok, false, "a float in a DecimalField is an error")
  note("float", tostring(e))
  local ok2 = pcall(function() banana.price = 0.5; banana:save() end)
  check(ok2, false, "a float assigned then saved is an error")
  local ok3 = pcall(function() return Order.objects:filter { pk = 1 }:update { price = 0.5 } end)
  check(ok3, false, "a float in update is an error")
  Order.objects:filter { pk = 1 }:update { price = F("price") + decimal.new("0.05") }
  check(tostring(Order.objects:get { pk = 1 }.price), "1.55", "decimal F arithmetic")
"#,
    );
    let msg = notes(env).join("");
    assert!(msg.contains("float"), "{msg}");
    assert_eq!(env.scalar("SELECT count(*) FROM shop_thing"), "3");
    assert_eq!(
        env.scalar("SELECT price FROM shop_order WHERE id = 1"),
        "1.55"
    );
}

fn values_dates_datetimes_times(env: &Env) {
    checked(
        env,
        r#"
  local a = Thing.objects:create { day = "2024-02-29", at = "2024-03-01T12:30:00Z", clock = "13:45:00" }
  local b = Thing.objects:create { day = "2023-12-31", at = "2024-03-01T14:30:00+02:00", clock = "08:00:00" }
  local ra, rb = Thing.objects:get { pk = a.pk }, Thing.objects:get { pk = b.pk }
  check(ra.day, "2024-02-29", "date")
  check(ra.clock, "13:45:00", "time")
  assert(ra.at == "2024-03-01T12:30:00Z" or ra.at == "2024-03-01T12:30:00+00:00", "datetime in UTC: " .. tostring(ra.at))
  check(rb.at, ra.at, "an offset is converted to UTC")
  check(pks(Thing.objects:filter { day__gte = "2024-01-01" }), { a.pk }, "date comparison")
  check(pks(Thing.objects:filter { day__range = { "2023-12-01", "2023-12-31" } }), { b.pk }, "date range")
  check(pks(Thing.objects:filter { at = "2024-03-01T12:30:00Z" }), { a.pk, b.pk }, "datetime equality")
  check(pks(Thing.objects:filter { clock__lt = "12:00:00" }), { b.pk }, "time comparison")
"#,
    );
    assert_eq!(
        col(env, "SELECT day, clock FROM shop_thing ORDER BY id"),
        vec!["2024-02-29|13:45:00", "2023-12-31|08:00:00"]
    );
    // Django's SQLite form: naive UTC text with a space; on PostgreSQL the same instant
    assert_eq!(
        col(
            env,
            &format!("SELECT {} FROM shop_thing ORDER BY id", utc_text(env, "at"))
        ),
        vec!["2024-03-01 12:30:00", "2024-03-01 12:30:00"]
    );
}

fn values_uuids(env: &Env) {
    checked(
        env,
        r#"
  local t = Thing.objects:create { u = "6F1A2B3C-4D5E-4F60-8A7B-9C0D1E2F3A4B" }
  local r = Thing.objects:get { pk = t.pk }
  check(r.u, "6f1a2b3c-4d5e-4f60-8a7b-9c0d1e2f3a4b", "lowercase hyphenated")
  check(Thing.objects:filter { u = "6f1a2b3c-4d5e-4f60-8a7b-9c0d1e2f3a4b" }:count(), 1, "filter by hyphenated uuid")
  check(Thing.objects:filter { u = "6f1a2b3c4d5e4f608a7b9c0d1e2f3a4b" }:count(), 1, "filter by plain hex")
  local ok = pcall(function() return Thing.objects:create { u = "not-a-uuid" } end)
  check(ok, false, "not a UUID")
  -- A save converts it too (on SQLite without leaving the per-row fast path).
  r.u = "0A1B2C3D-4E5F-4A6B-8C7D-9E0F1A2B3C4D"
  r:save { update_fields = { "u" } }
  check(Thing.objects:get { pk = t.pk }.u, "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d", "saved")
  r.u = "not-a-uuid"
  local refused, e = pcall(function() r:save { update_fields = { "u" } } end)
  check(refused, false, "a save of something else")
  contains(tostring(e), "'not-a-uuid' is not a UUID", "says why")
"#,
    );
    // Django's storage: char(32) hex on SQLite, the native uuid type on PostgreSQL
    assert_eq!(
        env.scalar("SELECT u FROM shop_thing"),
        env.pick(
            "0a1b2c3d4e5f4a6b8c7d9e0f1a2b3c4d",
            "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
        )
    );
    assert_eq!(env.scalar("SELECT count(*) FROM shop_thing"), "1");
}

fn values_json_tables(env: &Env) {
    checked(
        env,
        r#"
  local t = Thing.objects:create { j = { name = "x", tags = { "a", "b" }, n = 3, ok = true, nested = { deep = { 1.5 } } } }
  local r = Thing.objects:get { pk = t.pk }
  check(type(r.j), "table", "a table")
  check(r.j.name, "x", "string member")
  check(r.j.tags, { "a", "b" }, "array member")
  check(r.j.n, 3, "number member")
  check(r.j.ok, true, "boolean member")
  check(r.j.nested.deep[1], 1.5, "nested")
  local l = Thing.objects:create { j = { 1, 2, 3 } }
  check(Thing.objects:get { pk = l.pk }.j, { 1, 2, 3 }, "a JSON array")
"#,
    );
    let stored = env.scalar("SELECT j FROM shop_thing ORDER BY id LIMIT 1");
    let v: serde_json::Value =
        serde_json::from_str(&stored).unwrap_or_else(|e| panic!("stored JSON {stored}: {e}"));
    assert_eq!(v["tags"], serde_json::json!(["a", "b"]));
    assert_eq!(v["nested"]["deep"][0], serde_json::json!(1.5));
    assert_eq!(
        env.scalar("SELECT j FROM shop_thing ORDER BY id DESC LIMIT 1")
            .replace(' ', ""),
        "[1,2,3]"
    );
}

fn values_null_is_nil_on_read_and_models_null_on_write(env: &Env) {
    checked(
        env,
        r#"
  local t = Thing.objects:create { i = 1, t = "x", u = "6f1a2b3c-4d5e-4f60-8a7b-9c0d1e2f3a4b" }
  local r = Thing.objects:get { pk = t.pk }
  check(r.f, nil, "unset float reads nil")
  check(r.d, nil, "NULL decimal reads nil")
  check(r.j, nil, "NULL json reads nil")
  r.t = NULL
  r:save()
  check(Thing.objects:get { pk = t.pk }.t, nil, "models.NULL written by save")
  Thing.objects:filter { pk = t.pk }:update { i = NULL }
  check(Thing.objects:get { pk = t.pk }.i, nil, "models.NULL written by update")
  local n = Thing.objects:create { t = NULL, u = NULL }
  check(Thing.objects:get { pk = n.pk }.t, nil, "models.NULL in create")
  check(Thing.objects:filter { t__isnull = true }:count(), 2, "both NULL")
"#,
    );
    assert_eq!(
        col(env, "SELECT i, t, u, d, j FROM shop_thing ORDER BY id"),
        vec![
            env.pick(
                "NULL|NULL|6f1a2b3c4d5e4f608a7b9c0d1e2f3a4b|NULL|NULL",
                "NULL|NULL|6f1a2b3c-4d5e-4f60-8a7b-9c0d1e2f3a4b|NULL|NULL"
            ),
            "NULL|NULL|NULL|NULL|NULL"
        ]
    );
}

fn values_are_bound_never_spliced_into_sql(env: &Env) {
    checked(
        env,
        r#"
  local evil = "'); DROP TABLE shop_customer; --"
  local o = Order.objects:create { title = evil }
  check(Order.objects:get { pk = o.pk }.title, evil, "read back as written")
  check(Order.objects:filter { title = evil }:count(), 1, "filter with it")
  check(Order.objects:filter { title__contains = "DROP TABLE" }:count(), 1, "contains with it")
  Customer.objects:filter { name = evil }:update { city = evil }
  check(Customer.objects:count(), 3, "customers intact")
"#,
    );
    assert_eq!(
        env.scalar("SELECT title FROM shop_order WHERE id = 6"),
        "'); DROP TABLE shop_customer; --"
    );
    assert!(env.tables().contains(&"shop_customer".to_string()));
}

// ---------------------------------------------------------------------------------------------
// More: placeholders, ordering option, ordered iterators, relations to non-integer keys
// ---------------------------------------------------------------------------------------------

fn schema_editor_percent_signs_follow_django(env: &Env) {
    checked(
        env,
        r#"
  -- with parameters, %% is a literal %; without, the SQL is sent as written
  schema_editor:execute("INSERT INTO obs (k, v) VALUES (%s, '100%%')", { "with params" })
  schema_editor:execute("INSERT INTO obs (k, v) VALUES ('without params', '50%')")
  -- patterns whose matches do not depend on case: LIKE is case-insensitive on SQLite only
  local rows = schema_editor:query("SELECT count(*) AS n FROM shop_order WHERE title LIKE '%pple%'")
  check(rows[1].n, 2, "LIKE without params")
  local rows2 = schema_editor:query("SELECT count(*) AS n FROM shop_order WHERE title LIKE %s", { "%ie" })
  check(rows2[1].n, 2, "pattern as a parameter")
"#,
    );
    assert_eq!(notes(env), vec!["with params=100%", "without params=50%"]);
}

fn model_ordering_option_is_the_default_order(env: &Env) {
    checked(
        env,
        r#"
  Ranked.objects:bulk_create { { name = "b" }, { name = "d" }, { name = "a" }, { name = "c" } }
  local names = {}
  for _, r in ipairs(Ranked.objects:all():list()) do names[#names + 1] = r.name end
  check(names, { "d", "c", "b", "a" }, "Meta ordering -name")
  check(Ranked.objects:first().name, "d", "first follows ordering")
  check(Ranked.objects:last().name, "a", "last follows ordering")
  names = {}
  for _, r in ipairs(Ranked.objects:order_by("name"):list()) do names[#names + 1] = r.name end
  check(names, { "a", "b", "c", "d" }, "order_by overrides")
  names = {}
  for r in Ranked.objects:iterator(3) do names[#names + 1] = r.name end
  check(names, { "d", "c", "b", "a" }, "iterator follows ordering")
"#,
    );
}

fn ordered_iterators_do_not_skip_rows_updated_inside_the_loop(env: &Env) {
    // Django streams one query; rows leaving the filter during the loop are not skipped.
    checked(
        env,
        r#"
  local list = {}
  for i = 1, 10 do list[i] = { name = string.format("n%02d", i) } end
  Ranked.objects:bulk_create(list)
  local seen = 0
  for r in Ranked.objects:filter { done = false }:iterator(3) do
    seen = seen + 1
    r.done = true
    r:save()
  end
  check(seen, 10, "Meta-ordered model: every row once")
  Ranked.objects:update { done = false }
  seen = 0
  for r in Ranked.objects:filter { done = false }:order_by("name"):iterator(3) do
    seen = seen + 1
    r.done = true
    r:save()
  end
  check(seen, 10, "order_by: every row once")
"#,
    );
    assert_eq!(
        env.scalar("SELECT count(*) FROM shop_ranked WHERE CAST(done AS INTEGER) = 1"),
        "10"
    );
}

fn update_and_filter_take_instances_for_foreign_keys(env: &Env) {
    checked(
        env,
        r#"
  local bob = Customer.objects:get { name = "Bob" }
  check(Order.objects:filter { pk__in = { 4, 5 } }:update { customer = bob }, 2, "update with an instance")
  check(pks(Order.objects:filter { customer = bob }), { 3, 4, 5 }, "filter with an instance")
  check(pks(Order.objects:filter { customer__in = { bob } }), { 3, 4, 5 }, "in with instances")
"#,
    );
    assert_eq!(
        col(
            env,
            "SELECT id FROM shop_order WHERE customer_id = 2 ORDER BY id"
        ),
        vec!["3", "4", "5"]
    );
}

fn uuid_primary_keys_and_foreign_keys_to_them(env: &Env) {
    checked(
        env,
        r#"
  local tag = Tag.objects:create { label = "red" }
  assert(type(tag.pk) == "string" and tag.pk:match("^%x+%-%x+%-%x+%-%x+%-%x+$"), "hyphenated pk: " .. tostring(tag.pk))
  check(Tag.objects:get { pk = tag.pk }.label, "red", "get by uuid pk")
  local post = Post.objects:create { title = "p", tag = tag }
  check(post.tag_id, tag.pk, "raw key is the uuid")
  check(Post.objects:get { pk = post.pk }.tag.label, "red", "related row through a uuid key")
  check(Post.objects:filter { tag = tag }:count(), 1, "filter by instance")
  check(Post.objects:filter { tag__label = "red" }:count(), 1, "join on a uuid key")
  check(tag.post_set:count(), 1, "reverse manager")
  local other = Tag.objects:create { label = "blue" }
  local again = Post.objects:get { pk = post.pk }
  again.tag = other
  again:save()
  check(Post.objects:filter { tag__label = "blue" }:count(), 1, "saved through a uuid key")
"#,
    );
    let tag_id = env.scalar("SELECT id FROM shop_tag WHERE label = 'blue'");
    assert_eq!(
        tag_id.len(),
        env.pick(32, 36),
        "uuid primary key stored as 32 hex chars (SQLite) or a uuid (PostgreSQL): {tag_id}"
    );
    assert_eq!(
        env.scalar("SELECT tag_id FROM shop_post"),
        tag_id,
        "foreign key column holds the same form as the key"
    );
}

fn in_with_a_queryset_is_a_subquery_or_an_error_never_silently_empty(env: &Env) {
    checked(
        env,
        r#"
  local paris = Customer.objects:filter { city__iexact = "paris" }
  local ok, res = pcall(function() return pks(Order.objects:filter { customer__in = paris }) end)
  if ok then
    check(res, { 1, 2, 4 }, "customer__in = queryset")
    note("in", "subquery")
  else
    note("in", "error")
  end
"#,
    );
    assert_eq!(notes(env).len(), 1);
}

/// A timestamp column as naive UTC text `YYYY-MM-DD HH:MM:SS...`: as Django stores it on
/// SQLite, and the UTC wall time of PostgreSQL's `timestamp with time zone`.
fn utc_text(env: &Env, column: &str) -> String {
    env.pick(
        column.to_string(),
        format!("({column} AT TIME ZONE 'UTC')::text"),
    )
}

/// Batched `save{update_fields}` (PostgreSQL sends each column as one array) stores every
/// kind of value exactly as a one-row save does: quotes, backslashes, commas, braces, the
/// text "NULL", NULLs, unicode, extreme floats, decimals, dates, UUIDs, JSON, big integers.
fn batched_saves_store_every_kind_of_value_as_single_saves_do(env: &Env) {
    checked(
        env,
        r#"
  local cases = {
    { t = [[quote " back \ comma , brace {} (x)]], f = 1.5e300, i = -5, b = true, d = decimal.new("12.34"),
      day = "2026-11-21", at = "2026-11-21T10:20:30Z", clock = "10:20:30",
      u = "12345678-1234-5678-1234-567812345678", j = { a = { 1, 2 }, s = 'x"y\\z' }, big = 9007199254740993 },
    { t = NULL, f = NULL, i = NULL, b = NULL, d = NULL, day = NULL, at = NULL, clock = NULL, u = NULL, j = NULL, big = NULL },
    { t = "NULL", f = 0.1, i = 0, b = false, d = decimal.new("-0.01"), j = { s = "h\u{e9}llo \u{2713}" }, big = -1 },
    { t = "", f = -2.25, i = 2147483647, b = true, d = decimal.new("0"), u = "ABCDEF01-2345-6789-ABCD-EF0123456789", j = { s = "" } },
  }
  local names = { "t", "f", "i", "b", "d", "day", "at", "clock", "u", "j", "big" }
  local batched, single = {}, {}
  for n = 1, #cases do
    batched[n] = Thing.objects:create {}
    single[n] = Thing.objects:create {}
  end
  for n, case in ipairs(cases) do
    for _, k in ipairs(names) do
      if case[k] ~= nil then batched[n][k] = case[k]; single[n][k] = case[k] end
    end
    batched[n]:save { update_fields = names }
  end
  for n = 1, #cases do single[n]:save() end
  for n = 1, #cases do
    local a = Thing.objects:get { pk = batched[n].pk }
    local b = Thing.objects:get { pk = single[n].pk }
    for _, k in ipairs(names) do
      if k == "j" then
        local ja, jb = a.j, b.j
        check(type(ja), type(jb), "case " .. n .. ": j kind")
        if type(ja) == "table" then
          check(ja.s, jb.s, "case " .. n .. ": j.s")
          check(show(ja.a), show(jb.a), "case " .. n .. ": j.a")
        end
      else
        check(show(a[k]), show(b[k]), "case " .. n .. ": " .. k)
      end
    end
  end
  check(Thing.objects:get { pk = batched[1].pk }.t, [[quote " back \ comma , brace {} (x)]], "text kept")
  check(Thing.objects:get { pk = batched[3].pk }.t, "NULL", "the text NULL is not NULL")
  check(Thing.objects:get { pk = batched[2].pk }.t, nil, "NULL is NULL")
"#,
    );
}

/// A full `save()` (sent in batches on PostgreSQL) keeps Django's meaning: a row that is gone
/// is inserted again; reads of other tables between saves, and reads of the saved table
/// after them, see what a save per statement would give.
fn full_saves_in_a_loop_keep_djangos_save(env: &Env) {
    checked(
        env,
        r#"
  local a, b, c = Order.objects:get { pk = 1 }, Order.objects:get { pk = 2 }, Order.objects:get { pk = 3 }
  Order.objects:filter { pk = 2 }:delete()
  a.qty, b.qty, c.qty = 31, 32, 33
  a:save(); b:save(); c:save()
  check(Order.objects:get { pk = 2 }.qty, 32, "a row that is gone is inserted again")
  check(Order.objects:get { pk = 2 }.title, "apple tart", "with all its values")
  check(Order.objects:get { pk = 1 }.qty, 31, "the others are updated")
  check(Order.objects:count(), 5, "no row lost or doubled")
  for o in Order.objects:order_by("id"):iterator(2) do
    o.qty = o.qty + 100
    o.customer = Customer.objects:get_or_create { name = "Zed", city = "Oslo" }
    o:save()
    check(Customer.objects:get { name = "Zed" }.city, "Oslo", "another table is read between saves")
  end
  check(Order.objects:filter { qty__gte = 100 }:count(), 5, "every save is seen after the loop")
  local p4, p5 = Order.objects:get { pk = 4 }, Order.objects:get { pk = 5 }
  for n = 1, 3 do
    p4.qty = 1000 + n; p4:save()
    p5.qty = 1000 + n; p5:save()
    p4.qty = 2000 + n; p4:save()
  end
  check(Order.objects:get { pk = 4 }.qty, 2003, "a row saved again in one batch keeps its last value")
  check(Order.objects:get { pk = 5 }.qty, 1003, "next to another row")
  for n = 1, 3 do
    p4.note = "a" .. n; p4:save { update_fields = { "note" } }
    p5.note = "b" .. n; p5:save { update_fields = { "note" } }
    p4.note = "c" .. n; p4:save { update_fields = { "note" } }
  end
  check(Order.objects:get { pk = 4 }.note, "c3", "also with update_fields")
  p4.qty, p5.qty = 110, 107
  p4:save(); p5:save()
  check(Order.objects:filter { customer__name = "Zed" }:count(), 5, "with its foreign key")
"#,
    );
    assert_eq!(
        col(env, "SELECT id, qty FROM shop_order ORDER BY id"),
        vec!["1|131", "2|132", "3|133", "4|110", "5|107"]
    );
}

/// A save made before `transaction.atomic` stays when the atomic block rolls back; the
/// block's own saves go with it (batched saves on PostgreSQL included).
fn saves_before_an_atomic_block_survive_its_rollback(env: &Env) {
    checked(
        env,
        r#"
  local transaction = require("luamig.transaction")
  local a, b = Order.objects:get { pk = 1 }, Order.objects:get { pk = 2 }
  a.qty = 501; a:save { update_fields = { "qty" } }
  b.qty = 502; b:save()
  local ok = pcall(transaction.atomic, function()
    a.qty = 601; a:save { update_fields = { "qty" } }
    b.qty = 602; b:save()
    error("undo")
  end)
  check(ok, false, "the block failed")
  check(Order.objects:get { pk = 1 }.qty, 501, "update_fields save before the block")
  check(Order.objects:get { pk = 2 }.qty, 502, "full save before the block")
"#,
    );
    assert_eq!(
        col(
            env,
            "SELECT id, qty FROM shop_order WHERE id IN (1, 2) ORDER BY id"
        ),
        vec!["1|501", "2|502"]
    );
}

/// Saves queued for a table whose trigger writes to another table, or read back through a
/// view, are sent before reading those: the reads see what the trigger wrote and what the
/// view shows, as with one statement per save.
fn saves_are_sent_before_reads_a_trigger_or_view_could_see(env: &Env) {
    let setup = env.pick(
        r#""CREATE TRIGGER audit AFTER UPDATE ON app_item BEGIN INSERT INTO app_note (text) VALUES ('saved ' || NEW.id); END",
      "CREATE VIEW app_boxview AS SELECT id, qty FROM app_box","#,
        r#""CREATE FUNCTION app_audit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO app_note (text) VALUES ('saved ' || NEW.id); RETURN NEW; END $$",
      "CREATE TRIGGER audit AFTER UPDATE ON app_item FOR EACH ROW EXECUTE FUNCTION app_audit()",
      "CREATE VIEW app_boxview AS SELECT id, qty FROM app_box","#,
    );
    env.migration(
        "app",
        "0001_initial",
        &format!(
            r#"{HEAD}return migrations.Migration {{ operations = {{
  migrations.CreateModel {{ name = "Item", fields = {{
    {{"id", models.AutoField {{ primary_key = true }}}},
    {{"qty", models.IntegerField()}},
  }}}},
  migrations.CreateModel {{ name = "Note", fields = {{
    {{"id", models.AutoField {{ primary_key = true }}}},
    {{"text", models.CharField {{ max_length = 20 }}}},
  }}}},
  migrations.CreateModel {{ name = "Box", fields = {{
    {{"id", models.AutoField {{ primary_key = true }}}},
    {{"qty", models.IntegerField()}},
  }}}},
  migrations.CreateModel {{ name = "BoxView", fields = {{
    {{"id", models.AutoField {{ primary_key = true }}}},
    {{"qty", models.IntegerField()}},
  }}, options = {{ managed = false }} }},
  migrations.RunSQL {{ sql = {{
      {setup}
      "INSERT INTO app_item (qty) VALUES (1), (2), (3)",
      "INSERT INTO app_box (qty) VALUES (1), (2), (3)",
    }}, reverse_sql = migrations.RunSQL.noop }},
}} }}
"#
        ),
    );
    env.migration(
        "app",
        "0002_saves",
        &format!(
            r#"{HEAD}return migrations.Migration {{ dependencies = {{ {{"app", "0001_initial"}} }},
  operations = {{
    migrations.RunLua(function(apps)
      local Item = apps.get_model("app", "Item")
      local Note = apps.get_model("app", "Note")
      local Box = apps.get_model("app", "Box")
      local BoxView = apps.get_model("app", "BoxView")
      for item in Item.objects:order_by("id"):iterator(100) do
        item.qty = item.qty * 10
        item:save()
        local _, created = Note.objects:get_or_create {{ text = "saved " .. item.pk }}
        assert(not created, "the trigger's row is there for the next read")
      end
      for box in Box.objects:order_by("id"):iterator(100) do
        box.qty = box.qty * 10
        box:save()
        assert(BoxView.objects:get {{ pk = box.pk }}.qty == box.qty, "the view shows the save")
        box.qty = box.qty + 1
        box:save {{ update_fields = {{ "qty" }} }}
        assert(BoxView.objects:get {{ id = box.pk }}.qty == box.qty, "also after save{{update_fields}}")
      end
    end, migrations.RunLua.noop),
  }},
}}
"#
        ),
    );
    env.luamig(&["migrate"]).ok();
    assert_eq!(
        col(env, "SELECT qty FROM app_item ORDER BY id"),
        vec!["10", "20", "30"]
    );
    assert_eq!(
        col(env, "SELECT qty FROM app_box ORDER BY id"),
        vec!["11", "21", "31"]
    );
}

/// A fetched instance's empty (NULL) fields read as nil, take values and give them up
/// again, for plain fields, foreign keys and the key's slot; refresh_from_db brings back
/// what is stored.
fn fetched_instances_with_null_fields_read_and_write_them(env: &Env) {
    checked(
        env,
        r#"
  local o = Order.objects:get { pk = 5 }
  check(o.note, nil, "a NULL field reads nil")
  check(o.customer, nil, "a NULL foreign key reads nil")
  check(o.customer_id, nil, "and its attname too")
  o.note = "now set"
  o.customer = Customer.objects:get { pk = 2 }
  check(o.note, "now set", "assigned")
  check(o.customer_id, 2, "the key of the assigned instance")
  o:save()
  local again = Order.objects:get { pk = 5 }
  check(again.note, "now set", "saved")
  check(again.customer.name, "Bob", "the foreign key saved")
  again.note = NULL
  again.customer = nil
  again:save()
  o:refresh_from_db()
  check(o.note, nil, "NULL again after refresh")
  check(o.customer_id, nil, "the key NULL again after refresh")
  o.note = "after refresh"
  o:save { update_fields = { "note" } }
  check(Order.objects:get { pk = 5 }.note, "after refresh", "a refreshed instance saves")
  check(Order.objects:filter { note__isnull = true }:count(), 2, "the other NULL notes")
  -- A fetched row deleted, then saved in full: inserted again, NULL fields and all.
  local gone = Order.objects:get { pk = 3 }
  Order.objects:filter { pk = 3 }:delete()
  gone:save()
  local back = Order.objects:get { pk = 3 }
  check(back.title, "Banana", "re-inserted")
  check(back.note, nil, "its NULL field too")
"#,
    );
}

/// The same lookup asked again (kept on SQLite within a transaction) sees every write made
/// since: by raw SQL, by an ORM save of the row or of another table, by a bulk update or
/// delete, by a trigger, and none that an atomic block rolled back.
fn repeated_lookups_see_every_write_before_them(env: &Env) {
    let trigger = env.pick(
        r#""CREATE TRIGGER touch AFTER UPDATE ON shop_thing BEGIN UPDATE shop_customer SET city = 'Trigger' WHERE id = 2; END""#,
        r#""CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN UPDATE shop_customer SET city = 'Trigger' WHERE id = 2; RETURN NEW; END $$",
      "CREATE TRIGGER touch AFTER UPDATE ON shop_thing FOR EACH ROW EXECUTE FUNCTION touch()""#,
    );
    // On PostgreSQL answers are kept only of tables the transaction holds locked.
    let lock = env.pick(
        "",
        r#""LOCK TABLE shop_customer, shop_order IN SHARE MODE""#,
    );
    checked(
        env,
        &format!(
            r#"
  local transaction = require("luamig.transaction")
  for _, sql in ipairs {{ {trigger}, {lock} }} do schema_editor:execute(sql) end
  local function name_of(id) return Customer.objects:get {{ pk = id }}.name end
  check(name_of(1), "Alice", "first read")
  schema_editor:execute("UPDATE shop_customer SET name = 'Alicia' WHERE id = 1")
  check(name_of(1), "Alicia", "after raw SQL")

  local alice = Customer.objects:get {{ name = "Alicia", city = "Paris" }}
  alice.name = "Ali"
  alice:save()
  check(name_of(1), "Ali", "after a full save")
  alice.name = "Al"
  alice:save {{ update_fields = {{ "name" }} }}
  check(Customer.objects:get {{ name = "Al", city = "Paris" }}.pk, 1, "after save(update_fields)")
  raises("DoesNotExist", function() return Customer.objects:get {{ name = "Ali", city = "Paris" }} end)

  Customer.objects:filter {{ pk = 1 }}:update {{ name = "A" }}
  check(name_of(1), "A", "after a bulk update")

  -- An order's customer, followed, then changed underneath it.
  check(Order.objects:get {{ pk = 3 }}.customer.name, "Bob", "followed")
  Customer.objects:filter {{ pk = 2 }}:update {{ name = "Bobby" }}
  check(Order.objects:get {{ pk = 3 }}.customer.name, "Bobby", "followed again")

  -- A save of another table whose trigger writes this one.
  check(Customer.objects:get {{ pk = 2 }}.city, "London", "before the trigger")
  local thing = Thing.objects:create {{ i = 1 }}
  thing.i = 2
  thing:save()
  check(Customer.objects:get {{ pk = 2 }}.city, "Trigger", "after another table's trigger")

  -- Missing, then created: found; get_or_create finds what it created.
  raises("DoesNotExist", function() return Customer.objects:get {{ name = "Dan", city = "Oslo" }} end)
  local dan, created = Customer.objects:get_or_create {{ name = "Dan", city = "Oslo" }}
  check(created, true, "created")
  local again, created_again = Customer.objects:get_or_create {{ name = "Dan", city = "Oslo" }}
  check(created_again, false, "found the second time")
  check(again.pk, dan.pk, "the same row")
  dan:delete()
  raises("DoesNotExist", function() return Customer.objects:get {{ name = "Dan", city = "Oslo" }} end)

  -- Read inside an atomic block that rolls back: gone after it.
  local ok = pcall(transaction.atomic, function()
    Customer.objects:create {{ name = "Eve", city = "Rome" }}
    check(Customer.objects:get {{ name = "Eve", city = "Rome" }}.name, "Eve", "inside the block")
    schema_editor:execute("UPDATE shop_customer SET name = 'Zed' WHERE id = 3")
    check(name_of(3), "Zed", "inside the block, raw SQL")
    error("roll back")
  end)
  check(ok, false, "the block failed")
  raises("DoesNotExist", function() return Customer.objects:get {{ name = "Eve", city = "Rome" }} end)
  check(name_of(3), "Carol", "the block's raw SQL rolled back")
"#
        ),
    );
}

/// A row the ORM inserts changes the kept answers it joins and no others: a lookup that
/// found nothing finds it (with every value the database filled in), one that found a row
/// finds two, a key looked up before it existed finds it; and where the database compares
/// text without regard to case, a lookup in another case finds it too.
fn inserted_rows_join_the_answers_they_match(env: &Env) {
    // Table `shop_word` compares `name` without regard to case: declared so on SQLite, under
    // a nondeterministic ICU collation on PostgreSQL.
    let word_sql = env.pick(
        r#"CREATE TABLE shop_word (id integer NOT NULL PRIMARY KEY AUTOINCREMENT, name varchar(20) NOT NULL COLLATE NOCASE)"#,
        r#"CREATE COLLATION shop_ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
      CREATE TABLE shop_word (id integer NOT NULL PRIMARY KEY GENERATED BY DEFAULT AS IDENTITY, name varchar(20) COLLATE shop_ci NOT NULL)"#,
    );
    let lock = env.pick(
        "",
        r#"schema_editor:execute("LOCK TABLE shop_customer, shop_ticket, shop_word IN SHARE MODE")"#,
    );
    shop(env);
    env.migration(
        "shop",
        "0002_word",
        &format!(
            r#"{HEAD}return migrations.Migration {{ dependencies = {{ {{"shop", "0001_initial"}} }}, operations = {{
  migrations.RunSQL {{ sql = [==[{word_sql}]==], reverse_sql = "DROP TABLE shop_word",
    state_operations = {{ migrations.CreateModel {{ name = "Word", fields = {{
      {{"id", models.AutoField {{ primary_key = true }}}},
      {{"name", models.CharField {{ max_length = 20 }}}},
    }} }} }} }},
}} }}
"#
        ),
    );
    env.migration(
        "shop",
        "0003_check",
        &format!(
            r#"{HEAD}{PRELUDE}
return migrations.Migration {{ dependencies = {{ {{"shop", "0002_word"}} }}, operations = {{
  migrations.RunLua(function(apps, schema_editor)
    local Customer = apps.get_model("shop", "Customer")
    local Ticket = apps.get_model("shop", "Ticket")
    local Word = apps.get_model("shop", "Word")
    {lock}
    -- Nothing found, then created: found, the same row.
    raises("DoesNotExist", function() return Customer.objects:get {{ name = "Dan", city = "Oslo" }} end)
    raises("DoesNotExist", function() return Customer.objects:get {{ name = "Eve", city = "Oslo" }} end)
    local dan = Customer.objects:create {{ name = "Dan", city = "Oslo" }}
    check(Customer.objects:get {{ name = "Dan", city = "Oslo" }}.pk, dan.pk, "found once created")
    raises("DoesNotExist", function() return Customer.objects:get {{ name = "Eve", city = "Oslo" }} end)
    local again, created = Customer.objects:get_or_create {{ name = "Eve", city = "Oslo" }}
    check(created, true, "Eve created")
    check(Customer.objects:get_or_create {{ name = "Eve", city = "Oslo" }}.pk, again.pk, "Eve found")

    -- One row, then a second: two.
    check(Customer.objects:get {{ city = "London" }}.name, "Bob", "one in London")
    Customer.objects:create {{ name = "Bea", city = "London" }}
    raises("MultipleObjectsReturned", function() return Customer.objects:get {{ city = "London" }} end)

    -- A key looked up before the row that takes it.
    local next_pk = Customer.objects:order_by("-id"):first().pk + 1
    raises("DoesNotExist", function() return Customer.objects:get {{ pk = next_pk }} end)
    local fay = Customer.objects:create {{ name = "Fay", city = "Rome" }}
    check(fay.pk, next_pk, "the next key")
    check(Customer.objects:get {{ pk = next_pk }}.name, "Fay", "found by its key")

    -- Values the database filled in come with the row found.
    raises("DoesNotExist", function() return Ticket.objects:get {{ priority = 9 }} end)
    local t = Ticket.objects:create {{ priority = 9 }}
    local found = Ticket.objects:get {{ priority = 9 }}
    check(found.pk, t.pk, "the ticket")
    check(found.status, "new", "its default status")
    check(found.token, t.token, "its token")

    -- Case-insensitive text: another case is the same value to the database.
    raises("DoesNotExist", function() return Word.objects:get {{ name = "ann" }} end)
    Word.objects:create {{ name = "ANN" }}
    check(Word.objects:get {{ name = "ann" }}.name, "ANN", "found in another case")
  end, migrations.RunLua.noop),
}} }}
"#
        ),
    );
    env.luamig(&["migrate"]).ok();
}

/// A lookup asked again (answered from kept results) gives a fresh instance each time,
/// equal to the first in every kind of value, and the same errors for no row or several.
fn repeated_lookups_return_fresh_instances_and_the_same_answers(env: &Env) {
    // On PostgreSQL answers are kept only of tables the transaction holds locked.
    let lock = env.pick(
        "",
        r#"schema_editor:execute("LOCK TABLE shop_thing, shop_customer, shop_order IN SHARE MODE")"#,
    );
    checked(
        env,
        &(lock.to_string()
            + r#"
  local t = Thing.objects:create { i = 7, f = 1.5, b = true, t = "text", d = decimal.new("12.30"),
    day = "2024-02-29", at = "2024-02-29T10:00:00Z", clock = "10:11:12",
    u = "12345678-1234-5678-1234-567812345678", j = { a = { 1, 2 } }, big = 9007199254740993 }
  local first = Thing.objects:get { pk = t.pk }
  for round = 1, 3 do
    local again = Thing.objects:get { pk = t.pk }
    assert(rawequal(again, first) == false, "a fresh instance")
    for _, name in ipairs { "i", "f", "b", "t", "d", "day", "at", "clock", "u", "big" } do
      check(tostring(again[name]), tostring(first[name]), name .. " in round " .. round)
    end
    check(again.j.a[2], 2, "JSON in round " .. round)
  end
  local c = Customer.objects:get { name = "Alice", city = "Paris" }
  c.name = "changed, not saved"
  check(Customer.objects:get { name = "Alice", city = "Paris" }.name, "Alice", "unsaved change not seen")
  local o, created = Customer.objects:get_or_create { name = "Alice", city = "Paris" }
  check(created, false, "found")
  check(o.pk, 1, "the same row")
  assert(not rawequal(o, c), "another instance")
  Customer.objects:create { name = "Zoe", city = "Rome" }
  Customer.objects:create { name = "Yan", city = "Rome" }
  for _ = 1, 3 do
    raises("DoesNotExist", function() return Customer.objects:get { name = "Nobody", city = "Paris" } end)
    raises("MultipleObjectsReturned", function() return Customer.objects:get { city = "Rome" } end)
    raises("MultipleObjectsReturned", function() return Customer.objects:get_or_create { city = "Rome" } end)
    raises("MultipleObjectsReturned", function() return Order.objects:get { customer_id = 1 } end)
  end
  check(Order.objects:get { pk = 3 }.customer.city, "London", "a followed key")
  check(Order.objects:get { pk = 3 }.customer.city, "London", "followed again")
"#),
    );
}

/// Outside a transaction (a non-atomic migration) another connection may write between two
/// statements, so a lookup asked again reads the database again. (SQLite only: inside a
/// transaction nothing but luamig's own connection changes what it reads.)
#[test]
fn lookups_outside_a_transaction_see_other_connections_writes() {
    let env = Env::new(backends::Backend::Sqlite).expect("SQLite is always available");
    shop(&env);
    env.migration(
        "shop",
        "0002_outside",
        &format!(
            r#"{HEAD}{PRELUDE}
local OUTSIDE = [[python3 -c "import sqlite3; c = sqlite3.connect('db.sqlite3'); c.execute(\"UPDATE shop_customer SET name = 'Outside' WHERE id = 1\"); c.commit()"]]
return migrations.Migration {{ dependencies = {{ {{"shop", "0001_initial"}} }}, atomic = false,
  operations = {{
    migrations.RunLua(function(apps)
      local Customer = apps.get_model("shop", "Customer")
      check(Customer.objects:get {{ pk = 1 }}.name, "Alice", "before")
      assert(os.execute(OUTSIDE), "the other connection wrote")
      check(Customer.objects:get {{ pk = 1 }}.name, "Outside", "after another connection's write")
    end, migrations.RunLua.noop),
  }},
}}
"#
        ),
    );
    env.luamig(&["migrate"]).ok();
    assert_eq!(
        env.value("SELECT name FROM shop_customer WHERE id = 1"),
        "Outside"
    );
}

/// On SQLite a row inserted with values its table stores as given is not read back: its
/// key is the rowid when the key column is the rowid (`INTEGER PRIMARY KEY`); an
/// `INTEGER PRIMARY KEY DESC` is not, and a value SQLite converts is read back.
#[test]
fn sqlite_rows_not_read_back_are_as_the_database_stored_them() {
    let env = Env::new(backends::Backend::Sqlite).expect("SQLite is always available");
    env.migration(
        "shop",
        "0001_initial",
        &format!(
            r#"{HEAD}{PRELUDE}
local function table_made_by_sql(name, sql)
  return migrations.SeparateDatabaseAndState {{
    database_operations = {{ migrations.RunSQL(sql) }},
    state_operations = {{ migrations.CreateModel {{ name = name, fields = {{
      {{"id", models.AutoField {{ primary_key = true }}}},
      {{"code", models.CharField {{ max_length = 10 }}}},
    }} }} }},
  }}
end
return migrations.Migration {{ initial = true, operations = {{
  migrations.CreateModel {{ name = "Plain", fields = {{
    {{"id", models.AutoField {{ primary_key = true }}}},
    {{"code", models.CharField {{ max_length = 10 }}}},
  }} }},
  table_made_by_sql("Desc", [[CREATE TABLE "shop_desc" ("id" integer PRIMARY KEY DESC, "code" varchar(10) NOT NULL)]]),
  table_made_by_sql("Numeric", [[CREATE TABLE "shop_numeric" ("id" integer PRIMARY KEY, "code" integer NOT NULL)]]),
  migrations.RunLua(function(apps)
    local Plain = apps.get_model("shop", "Plain")
    local Desc = apps.get_model("shop", "Desc")
    local Numeric = apps.get_model("shop", "Numeric")
    Plain.objects:create {{ id = 40, code = "a" }}
    check(Plain.objects:create {{ code = "b" }}.pk, 41, "the rowid")
    local d = Desc.new {{ code = "d" }}
    d:save()
    check(d.pk, nil, "an INTEGER PRIMARY KEY DESC left out stores NULL")
    local n = Numeric.new {{ code = "12" }}
    n:save()
    check(math.type(Numeric.objects:get {{ code = "12" }}.code), "integer", "stored converted")
  end, migrations.RunLua.noop),
}} }}
"#
        ),
    );
    env.luamig(&["migrate"]).ok();
    assert_eq!(
        env.value("SELECT count(*) FROM shop_desc WHERE id IS NULL"),
        "1"
    );
}

/// PostgreSQL keeps a lookup's answer only while the transaction holds the table locked
/// against other sessions' writes: before that, every lookup reads the table and sees what
/// another session committed in between (READ COMMITTED); once it is locked (here by
/// `LOCK TABLE`; usually by the migration's own DDL), a repeated lookup reads it once.
#[test]
fn postgres_keeps_lookups_only_of_tables_locked_against_other_writers() {
    let Some(env) = Env::new(backends::Backend::Postgres) else {
        return;
    };
    shop(&env);
    // Applied and committed by a run of its own: the next run holds no lock on its tables.
    env.luamig(&["migrate"]).ok();
    let outside = format!(
        "PGOPTIONS='-c lock_timeout=5000' psql '{}' -qc \"UPDATE shop_customer SET name = 'Outside' WHERE id = 1\"",
        env.url()
    );
    env.migration(
        "shop",
        "0002_locks",
        &format!(
            r#"{HEAD}{PRELUDE}
local OUTSIDE = [==[{outside}]==]
return migrations.Migration {{ dependencies = {{ {{"shop", "0001_initial"}} }}, operations = {{
  migrations.RunLua(function(apps, schema_editor)
    local Customer = apps.get_model("shop", "Customer")
    local function reads()
      return schema_editor:query("SELECT seq_scan + coalesce(idx_scan, 0) AS n FROM pg_stat_xact_user_tables WHERE relname = 'shop_customer'")[1].n
    end
    -- Row writes lock the table too, but not against other writers.
    schema_editor:execute("UPDATE shop_customer SET city = city WHERE id = 3")
    local before = reads()
    check(Customer.objects:get {{ pk = 1 }}.name, "Alice", "before")
    assert(os.execute(OUTSIDE), "the other session wrote")
    check(Customer.objects:get {{ pk = 1 }}.name, "Outside", "after another session's commit")
    check(Customer.objects:get {{ pk = 1 }}.name, "Outside", "again")
    check(reads() - before, 3, "reads of the table while it is not locked")

    schema_editor:execute("LOCK TABLE shop_customer IN SHARE MODE")
    before = reads()
    for round = 1, 3 do
      check(Customer.objects:get {{ pk = 1 }}.name, "Outside", "locked, round " .. round)
      check(Customer.objects:get_or_create {{ name = "Bob", city = "London" }}.pk, 2, "round " .. round)
    end
    -- The first lookup after the LOCK (a raw statement: everything forgotten) reads without
    -- asking what is known of the table; then each lookup reads once.
    check(reads() - before, 3, "reads of the locked table")
  end, migrations.RunLua.noop),
}} }}
"#
        ),
    );
    env.luamig(&["migrate"]).ok();
    assert_eq!(
        env.value("SELECT name FROM shop_customer WHERE id = 1"),
        "Outside"
    );
}

/// On PostgreSQL a failed statement aborts the transaction: a lookup after it fails as the
/// database would have it, even one answered before.
#[test]
fn postgres_lookups_after_a_failed_statement_meet_the_aborted_transaction() {
    let Some(env) = Env::new(backends::Backend::Postgres) else {
        return;
    };
    shop(&env);
    let run = run_check(
        &env,
        r#"
  schema_editor:execute("LOCK TABLE shop_customer IN SHARE MODE")
  check(Customer.objects:get { pk = 1 }.name, "Alice", "kept")
  local failed = pcall(function() return Author.objects:create { id = 1, name = "Twin" } end)
  check(failed, false, "a duplicate key fails")
  local ok, e = pcall(function() return Customer.objects:get { pk = 1 } end)
  error("the lookup after it: " .. tostring(ok) .. ": " .. tostring(e))
"#,
    )
    .fails();
    let line = run.error_line();
    assert!(
        line.contains("the lookup after it: false:")
            && line.contains("current transaction is aborted"),
        "{}",
        run.stderr
    );
}

/// A new row the database refuses (a duplicate key) fails the migration at the `create`
/// line, and the migration's rows are rolled back, the ones created before it included.
fn refused_new_row_fails_at_its_line_and_rolls_back(env: &Env) {
    shop(env);
    env.luamig(&["migrate", "shop", "0001"]).ok();
    env.migration(
        "shop",
        "0002_twin",
        &format!(
            r#"{HEAD}return migrations.Migration {{ dependencies = {{ {{"shop", "0001_initial"}} }}, operations = {{
  migrations.RunLua(function(apps)
    local Customer = apps.get_model("shop", "Customer")
    local Author = apps.get_model("shop", "Author")
    Customer.objects:create {{ name = "Dan", city = "Oslo" }}
    Author.objects:create {{ id = 1, name = "Twin" }}
  end, migrations.RunLua.noop),
}} }}
"#
        ),
    );
    let run = env.luamig(&["migrate"]).fails();
    let line = run.error_line();
    let refused = ["unique", "duplicate key"];
    assert!(
        line.starts_with("error: migrations/shop/0002_twin.lua:8: ")
            && refused.iter().any(|r| line.to_lowercase().contains(r)),
        "{}",
        run.stderr
    );
    assert_eq!(env.value("SELECT count(*) FROM shop_customer"), "3");
    assert_eq!(env.applied(), vec!["shop.0001_initial"]);
}

/// A new row comes back as stored from tables whose rows cannot be found by `rowid` on
/// SQLite (where luamig reads an inserted row back by it instead of using RETURNING): a
/// `WITHOUT ROWID` table made by RunSQL, and a table with a column named `rowid`.
fn new_rows_come_back_from_tables_without_a_usable_rowid(env: &Env) {
    let without_rowid = env.pick(" WITHOUT ROWID", "");
    env.migration(
        "odd",
        "0001_initial",
        &format!(
            r#"{HEAD}return migrations.Migration {{ operations = {{
  migrations.SeparateDatabaseAndState {{
    database_operations = {{
      migrations.RunSQL {{ sql = "CREATE TABLE odd_keyed (code varchar(10) NOT NULL PRIMARY KEY, n integer NOT NULL DEFAULT 7){without_rowid}", reverse_sql = "DROP TABLE odd_keyed" }},
    }},
    state_operations = {{
      migrations.CreateModel {{ name = "Keyed", fields = {{
        {{"code", models.CharField {{ max_length = 10, primary_key = true }}}},
        {{"n", models.IntegerField {{ db_default = 7 }}}},
      }}}},
    }},
  }},
  migrations.CreateModel {{ name = "Shadow", fields = {{
    {{"id", models.AutoField {{ primary_key = true }}}},
    {{"rowid", models.IntegerField()}},
  }}}},
}} }}
"#
        ),
    );
    env.migration(
        "odd",
        "0002_rows",
        &format!(
            r#"{HEAD}return migrations.Migration {{ dependencies = {{ {{"odd", "0001_initial"}} }}, operations = {{
  migrations.RunLua(function(apps)
    local Keyed = apps.get_model("odd", "Keyed")
    local Shadow = apps.get_model("odd", "Shadow")
    for _, code in ipairs {{ "b", "a" }} do
      local k = Keyed.objects:create {{ code = code }}
      assert(k.pk == code and k.n == 7, "keyed row " .. code .. ": " .. tostring(k.pk) .. " " .. tostring(k.n))
    end
    for i, value in ipairs {{ 77, 5 }} do
      local s = Shadow.objects:create {{ rowid = value }}
      assert(s.pk == i and s.rowid == value, "shadow row " .. i .. ": " .. tostring(s.pk) .. " " .. tostring(s.rowid))
    end
  end, migrations.RunLua.noop),
}} }}
"#
        ),
    );
    env.luamig(&["migrate"]).ok();
    assert_eq!(
        env.rows("SELECT code, n FROM odd_keyed ORDER BY code"),
        [["a", "7"], ["b", "7"]]
    );
    assert_eq!(
        env.rows("SELECT id, rowid FROM odd_shadow ORDER BY id"),
        [["1", "77"], ["2", "5"]]
    );
}

/// `migrate` fails with one `error:` line at `location` ("file:line") naming a unique
/// constraint.
fn migrate_fails_unique_at(env: &Env, location: &str) {
    let run = env.luamig(&["migrate"]).fails();
    let line = run.error_line();
    assert!(
        line.starts_with(&format!("error: {location}: ")) && line.to_lowercase().contains("unique"),
        "{}",
        run.stderr
    );
}

/// Migration app.0001_initial: a table of tags with unique names, holding `names` in order.
fn tag_table(env: &Env, names: &[&str]) {
    let rows: Vec<String> = names.iter().map(|n| format!("('{n}')")).collect();
    env.migration(
        "app",
        "0001_initial",
        &format!(
            r#"{HEAD}return migrations.Migration {{ operations = {{
  migrations.CreateModel {{ name = "Tag", fields = {{
    {{"id", models.AutoField {{ primary_key = true }}}},
    {{"name", models.CharField {{ max_length = 20, unique = true }}}},
  }}}},
  migrations.RunSQL {{ sql = "INSERT INTO app_tag (name) VALUES {}", reverse_sql = migrations.RunSQL.noop }},
}} }}
"#,
            rows.join(", ")
        ),
    );
}

/// Per-row `save{update_fields}` (sent in batches on PostgreSQL) behaves as one statement
/// per row: a read in between sees the rows, and a failing row is reported at its `save`
/// line with the rows before it written (here in a non-atomic migration, so they stay).
fn saves_in_a_loop_are_seen_by_reads_and_fail_at_their_line(env: &Env) {
    tag_table(env, &["a", "b", "c", "d", "e"]);
    env.migration(
        "app",
        "0002_rename",
        &format!(
            r#"{HEAD}return migrations.Migration {{ dependencies = {{ {{"app", "0001_initial"}} }}, atomic = false,
  operations = {{
    migrations.RunLua(function(apps)
      local Tag = apps.get_model("app", "Tag")
      for tag in Tag.objects:order_by("id"):iterator(100) do
        tag.name = tag.name .. "1"
        tag:save {{ update_fields = {{ "name" }} }}
      end
      assert(Tag.objects:filter {{ name = "c1" }}:count() == 1, "a read sees the saved rows")
      local n = 0
      for tag in Tag.objects:order_by("id"):iterator(100) do
        n = n + 1
        tag.name = (n == 4) and "b2" or (tag.name:sub(1, 1) .. "2")
        tag:save {{ update_fields = {{ "name" }} }}
      end
    end, migrations.RunLua.noop),
  }},
}}
"#
        ),
    );
    migrate_fails_unique_at(env, "migrations/app/0002_rename.lua:16");
    assert_eq!(
        env.rows("SELECT name FROM app_tag ORDER BY id"),
        [["a2"], ["b2"], ["c2"], ["d1"], ["e1"]]
    );
}

/// A queued save that the database refuses is reported at its own `save` line even when
/// the queue goes out from a later save (here of the same row, which must wait for it):
/// the later save raises that error instead of queuing its row and carrying on.
fn a_refused_queued_save_is_raised_by_the_save_that_sends_it(env: &Env) {
    tag_table(env, &["a", "b"]);
    env.migration(
        "app",
        "0002_clash",
        &format!(
            r#"{HEAD}return migrations.Migration {{ dependencies = {{ {{"app", "0001_initial"}} }},
  operations = {{
    migrations.RunLua(function(apps)
      local Tag = apps.get_model("app", "Tag")
      local a = Tag.objects:get {{ pk = 1 }}
      a.name = "b"
      a:save {{ update_fields = {{ "name" }} }}
      a.name = "c"
      local ok, err = pcall(a.save, a, {{ update_fields = {{ "name" }} }})
      assert(not ok, "the second save sends the first one, which fails")
      error(err, 0)
    end, migrations.RunLua.noop),
  }},
}}
"#
        ),
    );
    migrate_fails_unique_at(env, "migrations/app/0002_clash.lua:9");
    assert_eq!(
        env.rows("SELECT name FROM app_tag ORDER BY id"),
        [["a"], ["b"]]
    );
}

/// A save queued inside `transaction.atomic` that the database refuses fails the block
/// when it goes out at the block's end: `pcall` around the block catches the error, the
/// block's other saves are rolled back with it, and the migration carries on.
fn a_save_refused_at_the_end_of_an_atomic_block_rolls_the_block_back(env: &Env) {
    tag_table(env, &["a", "b", "c"]);
    env.migration(
        "app",
        "0002_block",
        &format!(
            r#"{HEAD}local transaction = require("luamig.transaction")
return migrations.Migration {{ dependencies = {{ {{"app", "0001_initial"}} }},
  operations = {{
    migrations.RunLua(function(apps)
      local Tag = apps.get_model("app", "Tag")
      local ok, err = pcall(transaction.atomic, function()
        local c = Tag.objects:get {{ pk = 3 }}
        c.name = "cc"
        c:save {{ update_fields = {{ "name" }} }}
        local a = Tag.objects:get {{ pk = 1 }}
        a.name = "b"
        a:save {{ update_fields = {{ "name" }} }}
      end)
      assert(not ok and tostring(err):lower():find("unique"), "the block fails: " .. tostring(err))
      assert(Tag.objects:get {{ pk = 3 }}.name == "c", "the block's other save is rolled back")
      local d = Tag.objects:get {{ pk = 2 }}
      d.name = "d"
      d:save {{ update_fields = {{ "name" }} }}
    end, migrations.RunLua.noop),
  }},
}}
"#
        ),
    );
    env.luamig(&["migrate"]).ok();
    assert_eq!(
        env.rows("SELECT name FROM app_tag ORDER BY id"),
        [["a"], ["d"], ["c"]]
    );
}

/// A queued save of values that need converting (here a UUID) goes the general way, and a
/// refused one still names its `save` line.
fn a_refused_save_of_converted_values_names_its_line(env: &Env) {
    env.migration(
        "app",
        "0001_initial",
        &format!(
            r#"{HEAD}return migrations.Migration {{ operations = {{
  migrations.CreateModel {{ name = "Item", fields = {{
    {{"id", models.AutoField {{ primary_key = true }}}},
    {{"code", models.UUIDField {{ unique = true, null = true }}}},
  }}}},
  migrations.RunSQL {{ sql = "INSERT INTO app_item (code) VALUES (NULL), (NULL)", reverse_sql = migrations.RunSQL.noop }},
}} }}
"#
        ),
    );
    env.migration(
        "app",
        "0002_codes",
        &format!(
            r#"{HEAD}return migrations.Migration {{ dependencies = {{ {{"app", "0001_initial"}} }},
  operations = {{
    migrations.RunLua(function(apps)
      local Item = apps.get_model("app", "Item")
      local code = require("luamig.uuid").uuid4()
      for item in Item.objects:order_by("id"):iterator(10) do
        item.code = code
        item:save {{ update_fields = {{ "code" }} }}
      end
    end, migrations.RunLua.noop),
  }},
}}
"#
        ),
    );
    migrate_fails_unique_at(env, "migrations/app/0002_codes.lua:10");
    assert_eq!(
        env.rows("SELECT count(*) FROM app_item WHERE code IS NULL"),
        [["2"]]
    );
}

on_both_backends!(
    inserted_rows_join_the_answers_they_match,
    a_refused_save_of_converted_values_names_its_line,
    a_save_refused_at_the_end_of_an_atomic_block_rolls_the_block_back,
    a_refused_queued_save_is_raised_by_the_save_that_sends_it,
    repeated_lookups_return_fresh_instances_and_the_same_answers,
    fetched_instances_with_null_fields_read_and_write_them,
    repeated_lookups_see_every_write_before_them,
    saves_in_a_loop_are_seen_by_reads_and_fail_at_their_line,
    new_rows_come_back_from_tables_without_a_usable_rowid,
    refused_new_row_fails_at_its_line_and_rolls_back,
    batched_saves_store_every_kind_of_value_as_single_saves_do,
    full_saves_in_a_loop_keep_djangos_save,
    saves_before_an_atomic_block_survive_its_rollback,
    saves_are_sent_before_reads_a_trigger_or_view_could_see,
    get_model_two_forms_case_insensitive,
    get_model_unknown_app_and_model_raise_lookup_error_values,
    uncaught_lookup_error_fails_the_migration_naming_the_line,
    apps_is_installed,
    historical_models_follow_the_migration_history,
    schema_editor_connection_execute_and_query,
    all_count_exists_list,
    filter_exclude_chain_and_laziness,
    get_does_not_exist_and_multiple_objects_returned,
    create_saves_and_returns_the_instance,
    create_of_plain_pairs_is_what_new_then_save_make,
    lookups_of_a_table_filled_by_get_or_create_are_the_databases,
    new_rows_giving_different_fields_store_what_each_gives,
    get_or_create_existing_and_new_with_defaults,
    update_or_create_updates_or_creates,
    get_with_plain_lookups_matches_the_general_path,
    get_or_create_errors_name_the_calling_line,
    bulk_create_tables_and_instances_in_batches,
    bulk_update_writes_only_the_named_fields,
    first_last_and_order_by,
    values_and_values_list,
    limit_and_slice_are_zero_based_end_excluded,
    update_returns_rows_changed_and_takes_f_expressions,
    delete_returns_rows_deleted_and_cascades,
    delete_count_includes_cascaded_rows_like_django,
    iterator_streams_in_chunks_without_skipping_or_repeating_updated_rows,
    iterator_with_ordering_and_values,
    querysets_loop_directly,
    looping_directly_over_flat_values_list_yields_every_value,
    lookups_exact_iexact_isnull_in_comparisons_range_pk,
    lookups_text_patterns,
    lookups_across_foreign_keys_and_f,
    exclude_keeps_rows_with_null_like_django,
    unknown_lookup_is_an_error,
    instances_read_write_save_insert_and_update,
    save_update_fields_writes_only_those_columns,
    instance_delete,
    foreign_keys_load_related_raw_key_and_assign_instances,
    reverse_managers_and_related_name,
    many_to_many_add_remove_clear_set_all,
    auto_now_and_auto_now_add,
    defaults_values_and_lua_functions_on_create,
    unknown_fields_are_errors_naming_model_and_fields_everywhere,
    values_integers_floats_booleans_text,
    values_decimals_are_exact,
    values_dates_datetimes_times,
    values_uuids,
    values_json_tables,
    values_null_is_nil_on_read_and_models_null_on_write,
    values_are_bound_never_spliced_into_sql,
    schema_editor_percent_signs_follow_django,
    model_ordering_option_is_the_default_order,
    ordered_iterators_do_not_skip_rows_updated_inside_the_loop,
    update_and_filter_take_instances_for_foreign_keys,
    uuid_primary_keys_and_foreign_keys_to_them,
    in_with_a_queryset_is_a_subquery_or_an_error_never_silently_empty
);
