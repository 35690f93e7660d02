-- inventory 0001: the product catalogue.

local migrations = require("luamig.migrations")
local models = require("luamig.models")

return migrations.Migration {
  initial = true,
  operations = {
    migrations.CreateModel {
      name = "Product",
      fields = {
        {"id", models.AutoField { primary_key = true }},
        {"name", models.CharField { max_length = 100 }},
        {"price", models.DecimalField { max_digits = 10, decimal_places = 2 }},
      },
    },

    -- Sample rows, so the uuid backfill to come has rows to fill. Prices are given as
    -- strings: decimals stay exact all the way to the database.
    migrations.RunSQL {
      sql = {
        {[[INSERT INTO "inventory_product" ("name", "price") VALUES (%s, %s)]], {"Widget", "2.50"}},
        {[[INSERT INTO "inventory_product" ("name", "price") VALUES (%s, %s)]], {"Gadget", "10.00"}},
        {[[INSERT INTO "inventory_product" ("name", "price") VALUES (%s, %s)]], {"Gizmo", "0.30"}},
      },
      -- Undoing the CreateModel drops the table with its rows: nothing to undo here.
      reverse_sql = migrations.RunSQL.noop,
    },
  },
}
