-- blog 0002: articles get a slug (for /blog/<slug>/ URLs).
--
-- Django's recipe for a new unique column on a table that already has rows:
--   0002 (this file)  add the column, not unique, with default "" so the existing rows
--                     get a value. blank = true: forms may leave it empty for now.
--   later             a data migration (RunLua) that fills slug = slugify(title), making
--                     clashing slugs distinct ("hello-world", "hello-world-2").
--   later still       AlterField slug to unique = true, once every row has its own slug.
-- Adding it unique right away would fail: every existing row would get the same "".

local migrations = require("luamig.migrations")
local models = require("luamig.models")

return migrations.Migration {
  dependencies = { {"blog", "0001_initial"} },
  operations = {
    migrations.AddField {
      model_name = "article",
      name = "slug",
      -- SlugField is indexed by default (db_index = true), as in Django.
      field = models.SlugField { max_length = 100, default = "", blank = true },
    },
  },
}
