-- orders 0004: the data step of the move. Every order gets the Customer matching its inline
-- name and city (get_or_create: repeated customers become one row). The inline fields turn
-- nullable first, so that 0005 can drop them and the way back can refill them.

local migrations = require("luamig.migrations")
local models = require("luamig.models")

local function link_customers(apps, schema_editor)
  local Order = apps.get_model("orders", "Order")
  local Customer = apps.get_model("orders", "Customer")
  for order in Order.objects:filter { customer__isnull = true }:iterator(500) do
    order.customer = Customer.objects:get_or_create { name = order.customer_name, city = order.customer_city }
    order:save { update_fields = { "customer" } }
  end
end

-- The way back: copy name and city from the customer into the order again.
local function copy_back(apps, schema_editor)
  local Order = apps.get_model("orders", "Order")
  for order in Order.objects:filter { customer__isnull = false }:iterator(500) do
    local customer = order.customer
    order.customer_name, order.customer_city = customer.name, customer.city
    order:save { update_fields = { "customer_name", "customer_city" } }
  end
end

return migrations.Migration {
  dependencies = { {"orders", "0003_customer_name_city_unique"} },
  operations = {
    migrations.AlterField { model_name = "order", name = "customer_name",
      field = models.CharField { max_length = 100, null = true } },
    migrations.AlterField { model_name = "order", name = "customer_city",
      field = models.CharField { max_length = 100, null = true } },
    migrations.RunLua(link_customers, copy_back),
  },
}
