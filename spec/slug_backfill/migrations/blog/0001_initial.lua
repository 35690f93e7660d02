local migrations = require("luamig.migrations")
local models = require("luamig.models")

return migrations.Migration {
  initial = true,
  operations = {
    migrations.CreateModel { name = "Article", fields = {
      { "title", models.CharField { max_length = 200 } },
      { "published", models.BooleanField { default = false } },
    } },
    migrations.RunSQL {
      sql = {
        { "INSERT INTO blog_article (title, published) VALUES (%s, %s)", { "Hello, World!", true } },
        { "INSERT INTO blog_article (title, published) VALUES (%s, %s)", { "Ça va été", false } },
        { "INSERT INTO blog_article (title, published) VALUES (%s, %s)", { "  Spaces   and -- dashes  ", true } },
        { "INSERT INTO blog_article (title, published) VALUES (%s, %s)", { "'); DROP TABLE blog_article; --", false } },
      },
      reverse_sql = migrations.RunSQL.noop,
    },
  },
}
