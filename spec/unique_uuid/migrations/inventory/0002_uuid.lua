-- Django's three steps for a unique field on a table with rows: add it nullable, give
-- every row its own value, then make it unique and required.
local migrations = require("luamig.migrations")
local models = require("luamig.models")
local uuid = require("luamig.uuid")

local function fill(apps, schema_editor)
  local Product = apps.get_model("inventory", "Product")
  for product in Product.objects:filter { uuid__isnull = true }:iterator(10) do
    product.uuid = uuid.uuid4()
    product:save { update_fields = { "uuid" } }
  end
end

return migrations.Migration {
  dependencies = { { "inventory", "0001_initial" } },
  operations = {
    migrations.AddField { model_name = "product", name = "uuid", field = models.UUIDField { null = true } },
    migrations.RunLua(fill, migrations.RunLua.noop),
    migrations.AlterField { model_name = "product", name = "uuid", field = models.UUIDField { unique = true } },
  },
}
