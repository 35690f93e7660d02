-- Orders that carry their customer's details inline, with sample rows.
local migrations = require("luamig.migrations")
local models = require("luamig.models")

local function seed(apps)
  local Order = apps.get_model("orders", "Order")
  local rows = {
    { "Ann", "Paris", "ann@example.com", "111", "10.50" },
    { "Bob", "Rome", "bob@example.com", "222", "3.00" },
    { "Ann", "Paris", "ann@example.com", "111", "7.25" },
    { "Cid", "Oslo", "cid@example.com", "333", "0.30" },
  }
  for _, r in ipairs(rows) do
    Order.objects:create { customer_name = r[1], customer_city = r[2], customer_email = r[3],
      customer_phone = r[4], total = r[5] }
  end
end

return migrations.Migration {
  initial = true,
  operations = {
    migrations.CreateModel { name = "Order", fields = {
      { "id", models.AutoField { primary_key = true } },
      { "customer_name", models.CharField { max_length = 50 } },
      { "customer_city", models.CharField { max_length = 50 } },
      { "customer_email", models.EmailField() },
      { "customer_phone", models.CharField { max_length = 20 } },
      { "total", models.DecimalField { max_digits = 10, decimal_places = 2 } },
    } },
    migrations.RunLua(seed, migrations.RunLua.noop),
  },
}
