-- Moves rows from the `legacy` app into `shop`. `legacy` may be uninstalled on some
-- deployments: the dependency is conditional, and the data step skips on LookupError.
local migrations = require("luamig.migrations")
local models = require("luamig.models")
local installed = require("luamig.apps")

local function move(apps, schema_editor)
  local ok, OldItem = pcall(apps.get_model, "legacy", "OldItem")
  if not ok then
    assert(OldItem.kind == "LookupError", tostring(OldItem))
    return
  end
  local Item = apps.get_model("shop", "Item")
  local batch = {}
  for old in OldItem.objects:order_by("pk") do
    batch[#batch + 1] = Item.new { name = old.label, stock = old.qty }
  end
  Item.objects:bulk_create(batch)
end

local function unmove(apps, schema_editor)
  apps.get_model("shop", "Item").objects:all():delete()
end

local dependencies = {}
if installed.is_installed("legacy") then
  dependencies[#dependencies + 1] = { "legacy", "0001_initial" }
end

return migrations.Migration {
  initial = true,
  dependencies = dependencies,
  operations = {
    migrations.CreateModel { name = "Item", fields = {
      { "name", models.CharField { max_length = 50, unique = true } },
      { "stock", models.IntegerField() },
    } },
    migrations.RunLua { code = move, reverse_code = unmove },
  },
}
