-- Slug backfill in three steps: add the column with an empty default, fill it in chunks,
-- then make it unique.
local migrations = require("luamig.migrations")
local models = require("luamig.models")
local text = require("luamig.text")

local function backfill(apps, schema_editor)
  local Article = apps.get_model("blog", "Article")
  for article in Article.objects:filter { slug = "" }:iterator(2) do
    article.slug = text.slugify(article.title) .. "-" .. article.pk
    article:save { update_fields = { "slug" } }
  end
end

return migrations.Migration {
  dependencies = { { "blog", "0001_initial" } },
  operations = {
    migrations.AddField { model_name = "article", name = "slug",
      field = models.SlugField { max_length = 100, default = "", blank = true } },
    migrations.RunLua(backfill, migrations.RunLua.noop),
    migrations.AlterField { model_name = "article", name = "slug",
      field = models.SlugField { max_length = 100, unique = true } },
  },
}
