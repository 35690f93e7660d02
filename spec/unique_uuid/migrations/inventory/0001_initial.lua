local migrations = require("luamig.migrations")
local models = require("luamig.models")

local function seed(apps)
  local Product = apps.get_model("inventory", "Product")
  local rows = {}
  for i = 1, 25 do rows[i] = { name = "Product " .. i, price = tostring(i) .. ".99" } end
  Product.objects:bulk_create(rows, { batch_size = 10 })
end

return migrations.Migration {
  initial = true,
  operations = {
    migrations.CreateModel { name = "Product", fields = {
      { "name", models.CharField { max_length = 100 } },
      { "price", models.DecimalField { max_digits = 8, decimal_places = 2 } },
    } },
    migrations.RunLua(seed, migrations.RunLua.noop),
  },
}
