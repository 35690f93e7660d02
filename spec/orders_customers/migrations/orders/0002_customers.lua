-- The classic six steps in one file: a Customer model, a nullable link, the inline fields
-- made nullable (so the way back can refill them), the data move, the link made required,
-- and the inline fields dropped. Every step reverses.
local migrations = require("luamig.migrations")
local models = require("luamig.models")

local function forwards(apps, schema_editor)
  local Order = apps.get_model("orders", "Order")
  local Customer = apps.get_model("orders", "Customer")
  for order in Order.objects:all():iterator(500) do
    local customer = Customer.objects:get_or_create {
      name = order.customer_name, city = order.customer_city,
      defaults = { email = order.customer_email, phone = order.customer_phone },
    }
    order.customer = customer
    order:save()
  end
end

local function backwards(apps, schema_editor)
  local Order = apps.get_model("orders", "Order")
  for order in Order.objects:all():iterator(500) do
    local c = order.customer
    order.customer_name, order.customer_city = c.name, c.city
    order.customer_email, order.customer_phone = c.email, c.phone
    order:save()
  end
end

local inline = { "customer_name", "customer_city", "customer_email", "customer_phone" }
local nullable = {
  customer_name = models.CharField { max_length = 50, null = true },
  customer_city = models.CharField { max_length = 50, null = true },
  customer_email = models.EmailField { null = true },
  customer_phone = models.CharField { max_length = 20, null = true },
}

local operations = {
  migrations.CreateModel { name = "Customer", fields = {
    { "name", models.CharField { max_length = 50 } },
    { "city", models.CharField { max_length = 50 } },
    { "email", models.EmailField() },
    { "phone", models.CharField { max_length = 20 } },
  }, options = { unique_together = { { "name", "city" } } } },
  migrations.AddField { model_name = "order", name = "customer",
    field = models.ForeignKey { to = "orders.Customer", on_delete = models.PROTECT, null = true } },
}
for _, name in ipairs(inline) do
  operations[#operations + 1] = migrations.AlterField { model_name = "order", name = name, field = nullable[name] }
end
operations[#operations + 1] = migrations.RunLua(forwards, backwards)
operations[#operations + 1] = migrations.AlterField { model_name = "order", name = "customer",
  field = models.ForeignKey { to = "orders.Customer", on_delete = models.PROTECT } }
for _, name in ipairs(inline) do
  operations[#operations + 1] = migrations.RemoveField { model_name = "order", name = name }
end

return migrations.Migration {
  dependencies = { { "orders", "0001_initial" } },
  operations = operations,
}
