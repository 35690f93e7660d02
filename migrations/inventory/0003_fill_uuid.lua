-- inventory 0003: step two of three for a unique UUID on a table with rows: give every
-- product its own value. (A Lua-function default on AddField would do this in one step in
-- luamig; this is the portable Django way.)

local migrations = require("luamig.migrations")
local uuid = require("luamig.uuid")

local function fill(apps, schema_editor)
  local Product = apps.get_model("inventory", "Product")
  for product in Product.objects:filter { uuid__isnull = true }:iterator(500) do
    product.uuid = uuid.uuid4()
    product:save { update_fields = { "uuid" } }
  end
end

return migrations.Migration {
  dependencies = { {"inventory", "0002_product_uuid"} },
  operations = {
    migrations.RunLua(fill, migrations.RunLua.noop),
  },
}
