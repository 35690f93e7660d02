-- inventory 0004: step three: every row has its own UUID, so it becomes unique and required.

local migrations = require("luamig.migrations")
local models = require("luamig.models")

return migrations.Migration {
  dependencies = { {"inventory", "0003_fill_uuid"} },
  operations = {
    migrations.AlterField { model_name = "product", name = "uuid",
      field = models.UUIDField { unique = true } },
  },
}
