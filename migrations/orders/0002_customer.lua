-- orders 0002: give customers a table of their own.
--
-- This is the first half of Django's classic "denormalised text -> foreign key" move:
--   0002 (this file)  create Customer; add Order.customer as a *nullable* foreign key.
--                     It has to be nullable: existing orders have no customer yet.
--   later             a data migration (RunLua) that, for every order, does
--                     Customer.objects:get_or_create{ name = ..., city = ... } and sets
--                     order.customer. Not written yet.
--   later still       AlterField Order.customer to null = false, then RemoveField
--                     customer_name / customer_city. Both wait for the data step: making the
--                     column NOT NULL now would fail on the existing rows.

local migrations = require("luamig.migrations")
local models = require("luamig.models")

return migrations.Migration {
  dependencies = { {"orders", "0001_initial"} },
  operations = {
    migrations.CreateModel {
      name = "Customer",
      fields = {
        {"id", models.AutoField { primary_key = true }},
        {"name", models.CharField { max_length = 100 }},
        {"city", models.CharField { max_length = 100 }},
      },
    },
    -- PROTECT, not CASCADE: deleting a customer must never silently delete their orders.
    migrations.AddField {
      model_name = "order",
      name = "customer",
      field = models.ForeignKey { to = "orders.Customer", on_delete = models.PROTECT, null = true },
    },
    -- TODO (data step, later migration): fill Order.customer from customer_name /
    -- customer_city with RunLua(forwards, reverse). Deliberately not here yet.
  },
}
