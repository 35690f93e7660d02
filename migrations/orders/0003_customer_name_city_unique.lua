-- orders 0003: one Customer per (name, city).
--
-- The coming data step finds customers with get_or_create{name = ..., city = ...}. Making
-- the pair unique does two jobs: the lookup is served by the unique index instead of a
-- table scan, and a duplicate can never appear (get_or_create would otherwise risk
-- MultipleObjectsReturned later). Customer is still empty at this point, so adding the
-- constraint cannot fail on existing data.

local migrations = require("luamig.migrations")

return migrations.Migration {
  dependencies = { {"orders", "0002_customer"} },
  operations = {
    migrations.AlterUniqueTogether {
      name = "customer",
      unique_together = { {"name", "city"} },
    },
  },
}
