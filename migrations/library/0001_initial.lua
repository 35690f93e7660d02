-- library 0001: books and their authors, linked by a plain many-to-many field.
-- luamig (like Django) creates the link table itself: library_book_authors with columns
-- id, book_id, author_id and a unique pair (book_id, author_id).

local migrations = require("luamig.migrations")
local models = require("luamig.models")

return migrations.Migration {
  initial = true,
  operations = {
    migrations.CreateModel {
      name = "Author",
      fields = {
        {"id", models.AutoField { primary_key = true }},
        {"name", models.CharField { max_length = 100 }},
      },
    },
    migrations.CreateModel {
      name = "Book",
      fields = {
        {"id", models.AutoField { primary_key = true }},
        {"title", models.CharField { max_length = 200 }},
        {"authors", models.ManyToManyField { to = "library.Author" }},
      },
    },

    -- Sample rows with explicit ids, so the links below can name them. 0002 must carry the
    -- six links over into the new through model without losing one.
    migrations.RunSQL {
      sql = {
        [[INSERT INTO "library_author" ("id", "name") VALUES
            (1, 'Brian Kernighan'), (2, 'Dennis Ritchie'), (3, 'Rob Pike')]],
        [[INSERT INTO "library_book" ("id", "title") VALUES
            (1, 'The C Programming Language'),
            (2, 'The Practice of Programming'),
            (3, 'The Unix Programming Environment')]],
        [[INSERT INTO "library_book_authors" ("book_id", "author_id") VALUES
            (1, 1), (1, 2), (2, 1), (2, 3), (3, 1), (3, 3)]],
      },
      -- Undoing the CreateModels drops all three tables with their rows.
      reverse_sql = migrations.RunSQL.noop,
    },
  },
}
