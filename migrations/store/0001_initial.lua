-- store 0001: products move from the `inventory` app to `store`. Deployments that never
-- installed `inventory` still run this: the dependency is only declared when the app is
-- installed, and the copy is skipped when get_model raises LookupError.

local migrations = require("luamig.migrations")
local models = require("luamig.models")
local installed = require("luamig.apps")

local function copy_products(apps, schema_editor)
  local ok, Old = pcall(apps.get_model, "inventory", "Product")
  if not ok then
    assert(Old.kind == "LookupError", tostring(Old))
    return
  end
  local Product = apps.get_model("store", "Product")
  local batch = {}
  for old in Old.objects:order_by("pk") do
    batch[#batch + 1] = { name = old.name, price = old.price, uuid = old.uuid }
  end
  Product.objects:bulk_create(batch, { batch_size = 500 })
end

local function remove_copies(apps, schema_editor)
  apps.get_model("store", "Product").objects:all():delete()
end

local dependencies = {}
if installed.is_installed("inventory") then
  dependencies[#dependencies + 1] = { "inventory", "0004_uuid_unique" }
end

return migrations.Migration {
  initial = true,
  dependencies = dependencies,
  operations = {
    migrations.CreateModel { name = "Product", fields = {
      { "name", models.CharField { max_length = 100 } },
      { "price", models.DecimalField { max_digits = 10, decimal_places = 2 } },
      { "uuid", models.UUIDField { unique = true, null = true } },
    } },
    migrations.RunLua(copy_products, remove_copies),
  },
}
