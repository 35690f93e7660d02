-- orders 0005: every order has its customer now (0004), so the link becomes required and
-- the inline copies go. Reversed, the columns come back nullable and 0004 refills them.

local migrations = require("luamig.migrations")
local models = require("luamig.models")

return migrations.Migration {
  dependencies = { {"orders", "0004_fill_customers"} },
  operations = {
    migrations.AlterField { model_name = "order", name = "customer",
      field = models.ForeignKey { to = "orders.Customer", on_delete = models.PROTECT } },
    migrations.RemoveField { model_name = "order", name = "customer_name" },
    migrations.RemoveField { model_name = "order", name = "customer_city" },
  },
}
