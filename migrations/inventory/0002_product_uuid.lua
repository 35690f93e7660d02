-- inventory 0002: products get a public UUID.
--
-- A unique column whose default is random cannot be added in one step: Django evaluates a
-- callable default once for the whole ALTER, so every existing row would get the same
-- value and the unique constraint would fail. Django's three-step recipe ("Migrations that
-- add unique fields" in its docs):
--   0002 (this file)  add uuid as null = true, with no unique constraint;
--   later             a data migration (RunLua) giving each existing row uuid4();
--   later still       AlterField uuid to unique = true (and null = false).
-- Only the first step exists for now.

local migrations = require("luamig.migrations")
local models = require("luamig.models")

return migrations.Migration {
  dependencies = { {"inventory", "0001_initial"} },
  operations = {
    migrations.AddField {
      model_name = "product",
      name = "uuid",
      -- On SQLite this is char(32), hex without hyphens, as Django stores UUIDs there.
      field = models.UUIDField { null = true },
    },
  },
}
