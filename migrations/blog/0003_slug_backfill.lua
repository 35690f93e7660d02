-- blog 0003: fill every empty slug from the title, in chunks of 500 rows (memory stays flat
-- whatever the table's size). Clashing titles get "-2", "-3", ... so that 0004 can make the
-- column unique.

local migrations = require("luamig.migrations")
local text = require("luamig.text")

local function backfill(apps, schema_editor)
  local Article = apps.get_model("blog", "Article")
  for article in Article.objects:filter { slug = "" }:iterator(500) do
    local base = text.slugify(article.title)
    if base == "" then base = "article" end
    local slug, n = base, 1
    while Article.objects:filter { slug = slug }:exists() do
      n = n + 1
      slug = base .. "-" .. n
    end
    article.slug = slug
    article:save { update_fields = { "slug" } }
  end
end

-- Unapplying empties the slugs again, so 0003 can be re-run from scratch.
local function clear(apps, schema_editor)
  apps.get_model("blog", "Article").objects:update { slug = "" }
end

return migrations.Migration {
  dependencies = { {"blog", "0002_article_slug"} },
  operations = {
    migrations.RunLua(backfill, clear),
  },
}
