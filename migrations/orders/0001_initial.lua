-- orders 0001: the shop as it started. Each order carries its customer as plain text
-- (name and city), which is why 0002 onwards introduces a real Customer table.

local migrations = require("luamig.migrations")
local models = require("luamig.models")

return migrations.Migration {
  initial = true,
  operations = {
    migrations.CreateModel {
      name = "Order",
      fields = {
        {"id", models.AutoField { primary_key = true }},
        {"customer_name", models.CharField { max_length = 100 }},
        {"customer_city", models.CharField { max_length = 100 }},
        -- Money is a DecimalField, never a float: 0.1 + 0.2 must stay 0.30.
        {"total", models.DecimalField { max_digits = 10, decimal_places = 2 }},
        -- auto_now_add: the ORM stamps it on create. Raw SQL (below) must give it a value,
        -- because the column is NOT NULL and the database has no default for it.
        {"created", models.DateTimeField { auto_now_add = true }},
      },
    },

    -- Sample rows, so the later "orders -> customers" data migration has something to move.
    -- Ada Lovelace appears twice on purpose (one customer, two orders), and there are two
    -- Alan Turings in different cities (two customers: a customer is a name *and* a city).
    -- Values are bound parameters (%s), as in Django's RunSQL; the datetimes are UTC in the
    -- text form Django's SQLite backend stores.
    migrations.RunSQL {
      sql = {
        {[[INSERT INTO "orders_order" ("customer_name", "customer_city", "total", "created")
           VALUES (%s, %s, %s, %s)]], {"Ada Lovelace", "London", "19.99", "2024-01-15 09:30:00"}},
        {[[INSERT INTO "orders_order" ("customer_name", "customer_city", "total", "created")
           VALUES (%s, %s, %s, %s)]], {"Ada Lovelace", "London", "5.00", "2024-02-01 14:05:00"}},
        {[[INSERT INTO "orders_order" ("customer_name", "customer_city", "total", "created")
           VALUES (%s, %s, %s, %s)]], {"Alan Turing", "Manchester", "120.50", "2024-02-10 11:00:00"}},
        {[[INSERT INTO "orders_order" ("customer_name", "customer_city", "total", "created")
           VALUES (%s, %s, %s, %s)]], {"Alan Turing", "Wilmslow", "7.25", "2024-03-03 08:45:00"}},
        {[[INSERT INTO "orders_order" ("customer_name", "customer_city", "total", "created")
           VALUES (%s, %s, %s, %s)]], {"Grace Hopper", "New York", "42.00", "2024-03-20 16:20:00"}},
      },
      -- Going backwards, the CreateModel above drops the table and its rows with it, so
      -- there is nothing to undo here; noop just makes the step reversible.
      reverse_sql = migrations.RunSQL.noop,
    },
  },
}
