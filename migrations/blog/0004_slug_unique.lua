-- blog 0004: every slug is filled and distinct (0003), so it can be unique now.

local migrations = require("luamig.migrations")
local models = require("luamig.models")

return migrations.Migration {
  dependencies = { {"blog", "0003_slug_backfill"} },
  operations = {
    migrations.AlterField { model_name = "article", name = "slug",
      field = models.SlugField { max_length = 100, unique = true } },
  },
}
