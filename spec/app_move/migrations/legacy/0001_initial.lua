local migrations = require("luamig.migrations")
local models = require("luamig.models")

return migrations.Migration {
  initial = true,
  operations = {
    migrations.CreateModel { name = "OldItem", fields = {
      { "label", models.CharField { max_length = 50 } },
      { "qty", models.PositiveIntegerField { default = 0 } },
    } },
    migrations.RunSQL {
      sql = "INSERT INTO legacy_olditem (label, qty) VALUES ('bolt', 10), ('nut', 25), ('gear', 3)",
      reverse_sql = migrations.RunSQL.noop,
    },
  },
}
