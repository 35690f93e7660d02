-- library 0002: turn Book.authors into a many-to-many *through* an explicit model,
-- Authorship, so each link can carry a role ("author", "editor", ...).
--
-- Changing `through` with a plain AlterField would drop the auto-created link table and
-- create a new empty one: every book would lose its authors. Django's answer
-- (docs: "Changing a ManyToManyField to use a through model") is SeparateDatabaseAndState:
--   * the database keeps its table and rows: rename library_book_authors to
--     library_authorship and add the role column;
--   * the state is told the new story: an Authorship model on that very table, and
--     Book.authors going through it.
-- The auto table already has the columns Authorship needs: id, book_id, author_id, and a
-- unique (book_id, author_id) pair, which unique_together below describes.

local migrations = require("luamig.migrations")
local models = require("luamig.models")

return migrations.Migration {
  dependencies = { {"library", "0001_initial"} },
  operations = {
    migrations.SeparateDatabaseAndState {
      database_operations = {
        migrations.RunSQL {
          sql = {
            [[ALTER TABLE "library_book_authors" RENAME TO "library_authorship"]],
            -- Existing links were all written by authors, hence DEFAULT 'author'. SQLite
            -- cannot add a NOT NULL column without a default, so the database keeps this
            -- default (the state has it as a field default only); harmless either way.
            [[ALTER TABLE "library_authorship"
                ADD COLUMN "role" varchar(20) DEFAULT 'author' NOT NULL]],
          },
          -- Exactly undone in reverse order: drop the column, give the table its old name.
          -- (The role values are lost going back, which is the point of going back.)
          reverse_sql = {
            [[ALTER TABLE "library_authorship" DROP COLUMN "role"]],
            [[ALTER TABLE "library_authorship" RENAME TO "library_book_authors"]],
          },
        },
      },
      state_operations = {
        migrations.CreateModel {
          name = "Authorship",
          fields = {
            {"id", models.AutoField { primary_key = true }},
            {"book", models.ForeignKey { to = "library.Book", on_delete = models.CASCADE }},
            {"author", models.ForeignKey { to = "library.Author", on_delete = models.CASCADE }},
            {"role", models.CharField { max_length = 20, default = "author" }},
          },
          options = {
            -- The same as the default name, stated anyway: this model lives on the table
            -- renamed above, and must stay pinned to it even if the model is renamed.
            db_table = "library_authorship",
            unique_together = { {"book", "author"} },
          },
        },
        migrations.AlterField {
          model_name = "book",
          name = "authors",
          field = models.ManyToManyField { to = "library.Author", through = "library.Authorship" },
        },
      },
    },
  },
}
