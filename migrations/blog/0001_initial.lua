-- blog 0001: articles, before they had URLs of their own.

local migrations = require("luamig.migrations")
local models = require("luamig.models")

return migrations.Migration {
  initial = true,
  operations = {
    migrations.CreateModel {
      name = "Article",
      fields = {
        {"id", models.AutoField { primary_key = true }},
        {"title", models.CharField { max_length = 200 }},
        {"body", models.TextField()},
        -- New articles start as drafts.
        {"published", models.BooleanField { default = false }},
      },
    },

    -- Sample rows for the slug backfill to come. The titles are chosen to exercise a
    -- slugify: punctuation, an accent, and two articles that would get the same slug.
    -- Booleans are 0/1 on SQLite, as Django stores them.
    migrations.RunSQL {
      sql = {
        {[[INSERT INTO "blog_article" ("title", "body", "published") VALUES (%s, %s, %s)]],
          {"Hello, World!", "The first post.", true}},
        {[[INSERT INTO "blog_article" ("title", "body", "published") VALUES (%s, %s, %s)]],
          {"Crème brûlée for engineers", "Caramelise carefully.", true}},
        {[[INSERT INTO "blog_article" ("title", "body", "published") VALUES (%s, %s, %s)]],
          {"Hello world", "A draft with a clashing slug.", false}},
      },
      -- Deleting the rows by hand makes the undo explicit; the table itself is dropped by
      -- undoing the CreateModel right after.
      reverse_sql = { [[DELETE FROM "blog_article"]] },
    },
  },
}
