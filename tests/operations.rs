//! Every schema operation on SQLite, forwards, backwards and forwards again, with rows in the
//! tables: schema as Django's SQLite backend writes it, and rows surviving table rebuilds.

mod common;
use common::{Project, mig};

/// `name type notnull pk` of each column, lowercased (SQLite reports `integer` as `INTEGER`).
fn lc_columns(p: &Project, table: &str) -> Vec<String> {
    p.columns(table)
        .into_iter()
        .map(|c| c.to_lowercase())
        .collect()
}

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

/// `name dflt_value` of each column.
fn defaults(p: &Project, table: &str) -> Vec<String> {
    p.query(&format!(
        "SELECT name, dflt_value FROM pragma_table_info('{table}') ORDER BY cid"
    ))
    .into_iter()
    .map(|r| r.join(" "))
    .collect()
}

const AUTHOR: &str = r#"migrations.CreateModel { name = "Author", fields = {
      {"id", models.AutoField { primary_key = true }},
      {"name", models.CharField { max_length = 100 }},
    }},"#;

// ---------------------------------------------------------------------------------------------
// CreateModel / DeleteModel
// ---------------------------------------------------------------------------------------------

#[test]
fn create_model_every_field_type_has_djangos_sqlite_columns() {
    let p = Project::new();
    p.migration(
        "shop",
        "0001_initial",
        &mig(
            &[],
            &[AUTHOR, r#"
    migrations.CreateModel { name = "BigTarget", fields = {
      {"id", models.BigAutoField { primary_key = true }},
      {"code", models.CharField { max_length = 10 }},
    }},
    migrations.CreateModel { name = "Tiny", fields = { {"id", models.SmallAutoField { primary_key = true }} } },
    migrations.CreateModel { name = "Tag", fields = {
      {"label", models.CharField { max_length = 30, unique = true }},
    }},
    migrations.CreateModel { name = "Everything", fields = {
      {"id", models.AutoField { primary_key = true }},
      {"f_bigint", models.BigIntegerField()},
      {"f_int", models.IntegerField()},
      {"f_smallint", models.SmallIntegerField()},
      {"f_posint", models.PositiveIntegerField()},
      {"f_possmall", models.PositiveSmallIntegerField()},
      {"f_posbig", models.PositiveBigIntegerField()},
      {"f_float", models.FloatField()},
      {"f_decimal", models.DecimalField { max_digits = 10, decimal_places = 2 }},
      {"f_bool", models.BooleanField()},
      {"f_char", models.CharField { max_length = 50 }},
      {"f_text", models.TextField()},
      {"f_slug", models.SlugField()},
      {"f_email", models.EmailField { max_length = 254 }},
      {"f_url", models.URLField()},
      {"f_date", models.DateField()},
      {"f_datetime", models.DateTimeField()},
      {"f_time", models.TimeField()},
      {"f_duration", models.DurationField()},
      {"f_uuid", models.UUIDField()},
      {"f_json", models.JSONField()},
      {"f_binary", models.BinaryField()},
      {"fk_author", models.ForeignKey { to = "shop.author", on_delete = models.CASCADE }},
      {"fk_big", models.ForeignKey { to = "shop.bigtarget", on_delete = models.CASCADE }},
      {"o2o_tiny", models.OneToOneField { to = "shop.tiny", on_delete = models.CASCADE }},
      {"n_nullable", models.IntegerField { null = true }},
      {"n_unique", models.CharField { max_length = 20, unique = true }},
      {"n_indexed", models.IntegerField { db_index = true }},
      {"n_dbcol", models.IntegerField { db_column = "x" }},
      {"n_default", models.IntegerField { default = 42 }},
      {"n_dbdefault", models.IntegerField { db_default = 7 }},
      {"n_dbdefault_str", models.CharField { max_length = 10, db_default = "abc" }},
      {"tags", models.ManyToManyField { to = "shop.tag" }},
    }},"#]
            .concat(),
        ),
    );
    p.luamig(&["migrate"]).ok();
    assert_eq!(
        lc_columns(&p, "shop_everything"),
        s(&[
            "id integer 1 1",
            "f_bigint bigint 1 0",
            "f_int integer 1 0",
            "f_smallint smallint 1 0",
            "f_posint integer unsigned 1 0",
            "f_possmall smallint unsigned 1 0",
            "f_posbig bigint unsigned 1 0",
            "f_float real 1 0",
            "f_decimal decimal 1 0",
            "f_bool bool 1 0",
            "f_char varchar(50) 1 0",
            "f_text text 1 0",
            "f_slug varchar(50) 1 0",
            "f_email varchar(254) 1 0",
            "f_url varchar(200) 1 0",
            "f_date date 1 0",
            "f_datetime datetime 1 0",
            "f_time time 1 0",
            "f_duration bigint 1 0",
            "f_uuid char(32) 1 0",
            "f_json text 1 0",
            "f_binary blob 1 0",
            "fk_author_id integer 1 0",
            "fk_big_id bigint 1 0",
            "o2o_tiny_id smallint 1 0",
            "n_nullable integer 0 0",
            "n_unique varchar(20) 1 0",
            "n_indexed integer 1 0",
            "x integer 1 0",
            "n_default integer 1 0",
            "n_dbdefault integer 1 0",
            "n_dbdefault_str varchar(10) 1 0",
        ])
    );
    // Auto keys of every width are `integer ... AUTOINCREMENT` on SQLite.
    assert_eq!(lc_columns(&p, "shop_bigtarget")[0], "id integer 1 1");
    assert_eq!(lc_columns(&p, "shop_tiny"), s(&["id integer 1 1"]));
    // An implicit id.
    assert_eq!(
        lc_columns(&p, "shop_tag"),
        s(&["id integer 1 1", "label varchar(30) 1 0"])
    );
    assert!(p.schema_sql("shop_everything").contains("AUTOINCREMENT"));
    // Only db_default stays in the database; a Lua default does not.
    let d = defaults(&p, "shop_everything");
    assert!(d.contains(&"n_default NULL".to_string()), "{d:?}");
    assert!(d.contains(&"n_dbdefault 7".to_string()), "{d:?}");
    assert!(d.contains(&"n_dbdefault_str 'abc'".to_string()), "{d:?}");
    // Django's index names.
    let idx = p.indexes("shop_everything");
    for name in [
        "shop_everything_f_slug_4a98d256",
        "shop_everything_fk_author_id_fbc16ae7",
        "shop_everything_fk_big_id_4bbeafa4",
        "shop_everything_n_indexed_61dc3973",
    ] {
        assert!(
            idx.contains(&name.to_string()),
            "{name} missing from {idx:?}"
        );
    }
    // unique columns: o2o and n_unique carry automatic unique indexes.
    let uniq: Vec<String> = p
        .index_details("shop_everything")
        .into_iter()
        .filter(|d| d.contains(" 1 "))
        .collect();
    assert!(
        uniq.iter().any(|d| d.ends_with(" 1 o2o_tiny_id")),
        "{uniq:?}"
    );
    assert!(uniq.iter().any(|d| d.ends_with(" 1 n_unique")), "{uniq:?}");
    assert_eq!(
        p.foreign_keys("shop_everything"),
        s(&[
            "fk_author_id -> shop_author.id",
            "fk_big_id -> shop_bigtarget.id",
            "o2o_tiny_id -> shop_tiny.id"
        ])
    );
    // The auto-created many-to-many table.
    assert_eq!(
        lc_columns(&p, "shop_everything_tags"),
        s(&[
            "id integer 1 1",
            "everything_id integer 1 0",
            "tag_id integer 1 0"
        ])
    );
    assert_eq!(
        p.index_details("shop_everything_tags"),
        s(&[
            "shop_everything_tags_everything_id_8b631912 0 everything_id",
            "shop_everything_tags_everything_id_tag_id_a97384e4_uniq 1 everything_id,tag_id",
            "shop_everything_tags_tag_id_05906a62 0 tag_id",
        ])
    );

    // Rows, and the type checks (positive, JSON) enforced.
    p.exec(
        "INSERT INTO shop_author (id, name) VALUES (1, 'a');
         INSERT INTO shop_bigtarget (id, code) VALUES (1, 'b');
         INSERT INTO shop_tiny (id) VALUES (1);",
    );
    let row = |posint: &str, json: &str| {
        format!(
            "INSERT INTO shop_everything (f_bigint, f_int, f_smallint, f_posint, f_possmall, f_posbig, f_float,
             f_decimal, f_bool, f_char, f_text, f_slug, f_email, f_url, f_date, f_datetime, f_time, f_duration,
             f_uuid, f_json, f_binary, fk_author_id, fk_big_id, o2o_tiny_id, n_unique, n_indexed, x, n_default)
             VALUES (1, 2, 3, {posint}, 5, 6, 1.5, '1.25', 1, 'c', 't', 's', 'e@x', 'http://x', '2024-01-02',
             '2024-01-02 03:04:05', '03:04:05', 1000000, '0123456789abcdef0123456789abcdef', '{json}', x'00',
             1, 1, 1, 'u', 9, 10, 42)"
        )
    };
    assert!(
        p.try_exec(&row("-1", "{}")).is_err(),
        "PositiveIntegerField must reject -1"
    );
    assert!(
        p.try_exec(&row("4", "{not json")).is_err(),
        "JSONField must reject invalid JSON"
    );
    p.exec(&row("4", "{\"a\": 1}"));
    assert_eq!(
        p.scalar("SELECT n_dbdefault || n_dbdefault_str FROM shop_everything"),
        "7abc"
    );

    // Backwards removes every table, then forwards again recreates them.
    p.luamig(&["migrate", "shop", "zero"]).ok();
    assert_eq!(p.tables(), s(&["luamig_migrations"]));
    p.luamig(&["migrate"]).ok();
    assert!(p.tables().contains(&"shop_everything_tags".to_string()));
    assert_eq!(lc_columns(&p, "shop_everything").len(), 32);
}

#[test]
fn delete_model_drops_table_and_backwards_recreates_it_with_indexes() {
    let p = Project::new();
    p.migration(
        "shop",
        "0001_initial",
        &mig(
            &[],
            &[
                AUTHOR,
                r#"
    migrations.CreateModel { name = "Doomed", fields = {
      {"name", models.CharField { max_length = 10 }},
      {"author", models.ForeignKey { to = "shop.Author", on_delete = models.CASCADE }},
      {"tags", models.ManyToManyField { to = "shop.Author", related_name = "+" }},
    }},"#,
            ]
            .concat(),
        ),
    );
    p.migration(
        "shop",
        "0002_delete",
        &mig(
            &[("shop", "0001_initial")],
            r#"migrations.DeleteModel { name = "doomed" },"#,
        ),
    );
    p.luamig(&["migrate", "shop", "0001"]).ok();
    p.exec("INSERT INTO shop_author (name) VALUES ('a'); INSERT INTO shop_doomed (name, author_id) VALUES ('d', 1);");
    let run = p.luamig(&["migrate"]).ok();
    assert!(
        run.stdout.contains("  Applying shop.0002_delete... OK"),
        "{}",
        run.stdout
    );
    assert_eq!(p.tables(), s(&["luamig_migrations", "shop_author"]));
    assert_eq!(p.scalar("SELECT count(*) FROM shop_author"), "1");

    let run = p.luamig(&["migrate", "shop", "0001_initial"]).ok();
    assert!(
        run.stdout.contains("  Unapplying shop.0002_delete... OK"),
        "{}",
        run.stdout
    );
    assert_eq!(
        p.tables(),
        s(&[
            "luamig_migrations",
            "shop_author",
            "shop_doomed",
            "shop_doomed_tags"
        ])
    );
    assert_eq!(
        p.indexes("shop_doomed"),
        s(&["shop_doomed_author_id_2e1ff2fc"])
    );
    assert_eq!(p.scalar("SELECT count(*) FROM shop_doomed"), "0");
    p.luamig(&["migrate"]).ok();
    assert!(!p.tables().contains(&"shop_doomed".to_string()));
    assert!(!p.tables().contains(&"shop_doomed_tags".to_string()));
}

// ---------------------------------------------------------------------------------------------
// RenameModel / AlterModelTable / AlterModelOptions
// ---------------------------------------------------------------------------------------------

fn rename_model_project() -> Project {
    let p = Project::new();
    p.migration(
        "shop",
        "0001_initial",
        &mig(
            &[],
            r#"migrations.CreateModel { name = "Tag", fields = { {"label", models.CharField { max_length = 30 }} } },
    migrations.CreateModel { name = "Person", fields = {
      {"name", models.CharField { max_length = 50 }},
      {"friends", models.ManyToManyField { to = "shop.tag" }},
    }},
    migrations.CreateModel { name = "Pet", fields = {
      {"owner", models.ForeignKey { to = "shop.person", on_delete = models.CASCADE }},
    }},
    migrations.CreateModel { name = "Club", fields = {
      {"members", models.ManyToManyField { to = "shop.person" }},
    }},"#,
        ),
    );
    p.migration(
        "shop",
        "0002_rename",
        &mig(
            &[("shop", "0001_initial")],
            r#"migrations.RenameModel { old_name = "Person", new_name = "Human" },"#,
        ),
    );
    p.luamig(&["migrate", "shop", "0001"]).ok();
    p.exec(
        "INSERT INTO shop_tag (id, label) VALUES (1, 't');
         INSERT INTO shop_person (id, name) VALUES (1, 'ann'), (2, 'bob');
         INSERT INTO shop_person_friends (person_id, tag_id) VALUES (1, 1), (2, 1);
         INSERT INTO shop_pet (id, owner_id) VALUES (1, 2);
         INSERT INTO shop_club (id) VALUES (1);
         INSERT INTO shop_club_members (club_id, person_id) VALUES (1, 1);",
    );
    p
}

#[test]
fn rename_model_renames_table_m2m_tables_and_repoints_foreign_keys() {
    let p = rename_model_project();
    p.luamig(&["migrate"]).ok();
    let tables = p.tables();
    for t in [
        "shop_human",
        "shop_human_friends",
        "shop_club_members",
        "shop_pet",
    ] {
        assert!(tables.contains(&t.to_string()), "{t} missing: {tables:?}");
    }
    assert!(!tables.contains(&"shop_person".to_string()), "{tables:?}");
    assert!(
        !tables.contains(&"shop_person_friends".to_string()),
        "{tables:?}"
    );
    assert_eq!(
        p.query("SELECT id, name FROM shop_human ORDER BY id"),
        vec![s(&["1", "ann"]), s(&["2", "bob"])]
    );
    assert_eq!(
        lc_columns(&p, "shop_human_friends"),
        s(&[
            "id integer 1 1",
            "human_id integer 1 0",
            "tag_id integer 1 0"
        ])
    );
    assert_eq!(
        p.scalar("SELECT group_concat(human_id) FROM shop_human_friends ORDER BY id"),
        "1,2"
    );
    assert_eq!(
        p.foreign_keys("shop_human_friends"),
        s(&["human_id -> shop_human.id", "tag_id -> shop_tag.id"])
    );
    assert_eq!(
        p.foreign_keys("shop_pet"),
        s(&["owner_id -> shop_human.id"])
    );
    assert_eq!(p.scalar("SELECT owner_id FROM shop_pet"), "2");
    assert!(lc_columns(&p, "shop_club_members").contains(&"human_id integer 1 0".to_string()));
    assert_eq!(
        p.foreign_keys("shop_club_members"),
        s(&["club_id -> shop_club.id", "human_id -> shop_human.id"])
    );
    // The foreign keys pointing at the renamed table still work: a good key is accepted, a bad one refused.
    p.exec("INSERT INTO shop_pet (owner_id) VALUES (1)");
    assert!(
        p.try_exec("INSERT INTO shop_pet (owner_id) VALUES (99)")
            .is_err()
    );
    assert!(
        p.try_exec("INSERT INTO shop_club_members (club_id, human_id) VALUES (1, 99)")
            .is_err()
    );

    // Backwards.
    p.luamig(&["migrate", "shop", "0001"]).ok();
    let tables = p.tables();
    assert!(
        tables.contains(&"shop_person".to_string())
            && tables.contains(&"shop_person_friends".to_string()),
        "{tables:?}"
    );
    assert!(!tables.contains(&"shop_human".to_string()), "{tables:?}");
    assert_eq!(
        p.foreign_keys("shop_pet"),
        s(&["owner_id -> shop_person.id"])
    );
    assert_eq!(
        p.foreign_keys("shop_club_members"),
        s(&["club_id -> shop_club.id", "person_id -> shop_person.id"])
    );
    assert_eq!(p.scalar("SELECT count(*) FROM shop_person_friends"), "2");
    assert_eq!(p.scalar("SELECT count(*) FROM shop_pet"), "2");
    assert!(
        p.try_exec("INSERT INTO shop_pet (owner_id) VALUES (99)")
            .is_err()
    );

    // And forwards again.
    p.luamig(&["migrate"]).ok();
    assert_eq!(p.scalar("SELECT count(*) FROM shop_human_friends"), "2");
    assert_eq!(p.scalar("SELECT count(*) FROM shop_club_members"), "1");
    assert_eq!(
        p.foreign_keys("shop_pet"),
        s(&["owner_id -> shop_human.id"])
    );
}

#[test]
fn rename_model_then_later_migration_uses_the_new_name() {
    let p = rename_model_project();
    p.migration(
        "shop",
        "0003_after",
        &mig(
            &[("shop", "0002_rename")],
            r#"migrations.AddField { model_name = "human", name = "age", field = models.IntegerField { default = 3 } },
    migrations.AddField { model_name = "pet", name = "nick", field = models.CharField { max_length = 5, null = true } },"#,
        ),
    );
    p.luamig(&["migrate"]).ok();
    assert_eq!(
        p.query("SELECT id, age FROM shop_human ORDER BY id"),
        vec![s(&["1", "3"]), s(&["2", "3"])]
    );
    assert_eq!(
        p.foreign_keys("shop_pet"),
        s(&["owner_id -> shop_human.id"])
    );
    p.luamig(&["migrate", "shop", "zero"]).ok();
    assert_eq!(p.tables(), s(&["luamig_migrations"]));
}

#[test]
fn alter_model_table_renames_table_and_its_m2m_table() {
    let p = Project::new();
    p.migration(
        "shop",
        "0001_initial",
        &mig(
            &[],
            r#"migrations.CreateModel { name = "Tag", fields = { {"label", models.CharField { max_length = 30 }} } },
    migrations.CreateModel { name = "Opts", fields = {
      {"a", models.IntegerField { db_index = true }},
      {"tags", models.ManyToManyField { to = "shop.Tag" }},
    }},"#,
        ),
    );
    p.migration(
        "shop",
        "0002_table",
        &mig(
            &[("shop", "0001_initial")],
            r#"migrations.AlterModelTable { name = "opts", table = "opts_renamed" },"#,
        ),
    );
    p.migration(
        "shop",
        "0003_back_to_default",
        &mig(
            &[("shop", "0002_table")],
            r#"migrations.AlterModelTable { name = "opts" },"#,
        ),
    );
    p.luamig(&["migrate", "shop", "0001"]).ok();
    p.exec(
        "INSERT INTO shop_tag (id, label) VALUES (1, 't');
         INSERT INTO shop_opts (id, a) VALUES (1, 10), (2, 20);
         INSERT INTO shop_opts_tags (opts_id, tag_id) VALUES (1, 1);",
    );
    p.luamig(&["migrate", "shop", "0002"]).ok();
    let t = p.tables();
    assert!(
        t.contains(&"opts_renamed".to_string()) && t.contains(&"opts_renamed_tags".to_string()),
        "{t:?}"
    );
    assert!(
        !t.contains(&"shop_opts".to_string()) && !t.contains(&"shop_opts_tags".to_string()),
        "{t:?}"
    );
    assert_eq!(p.scalar("SELECT sum(a) FROM opts_renamed"), "30");
    assert_eq!(p.scalar("SELECT count(*) FROM opts_renamed_tags"), "1");
    assert_eq!(
        p.foreign_keys("opts_renamed_tags"),
        s(&["opts_id -> opts_renamed.id", "tag_id -> shop_tag.id"])
    );
    // Django keeps the old index names on a table rename.
    assert!(
        p.indexes("opts_renamed")
            .iter()
            .any(|i| i.starts_with("shop_opts_a_")),
        "{:?}",
        p.indexes("opts_renamed")
    );

    // Back to the default name, then backwards through both.
    p.luamig(&["migrate"]).ok();
    assert!(
        p.tables().contains(&"shop_opts".to_string())
            && p.tables().contains(&"shop_opts_tags".to_string())
    );
    p.luamig(&["migrate", "shop", "0002_table"]).ok();
    assert!(p.tables().contains(&"opts_renamed".to_string()));
    p.luamig(&["migrate", "shop", "0001"]).ok();
    assert!(
        p.tables().contains(&"shop_opts".to_string())
            && p.tables().contains(&"shop_opts_tags".to_string())
    );
    assert_eq!(p.scalar("SELECT sum(a) FROM shop_opts"), "30");
    assert_eq!(p.scalar("SELECT count(*) FROM shop_opts_tags"), "1");
}

#[test]
fn alter_model_options_changes_no_schema() {
    let p = Project::new();
    p.migration("shop", "0001_initial", &mig(&[], AUTHOR));
    p.migration(
        "shop",
        "0002_options",
        &mig(
            &[("shop", "0001_initial")],
            r#"migrations.AlterModelOptions { name = "author", options = { ordering = {"-name"}, verbose_name = "writer" } },"#,
        ),
    );
    p.luamig(&["migrate", "shop", "0001"]).ok();
    p.exec("INSERT INTO shop_author (name) VALUES ('a')");
    let before = p.schema_sql("shop_author");
    let sql = p.luamig(&["sqlmigrate", "shop", "0002"]).ok();
    assert!(
        sql.stdout.contains("-- Change Meta options on author"),
        "{}",
        sql.stdout
    );
    assert!(sql.stdout.contains("-- (no-op)"), "{}", sql.stdout);
    p.luamig(&["migrate"]).ok();
    assert_eq!(p.schema_sql("shop_author"), before);
    p.luamig(&["migrate", "shop", "0001"]).ok();
    assert_eq!(p.schema_sql("shop_author"), before);
    assert_eq!(p.applied(), s(&["shop.0001_initial"]));
    assert_eq!(p.scalar("SELECT name FROM shop_author"), "a");
}

// ---------------------------------------------------------------------------------------------
// unique_together, index_together, indexes, constraints
// ---------------------------------------------------------------------------------------------

const OPTS: &str = r#"migrations.CreateModel { name = "Opts", fields = {
      {"a", models.IntegerField()},
      {"b", models.IntegerField()},
      {"c", models.CharField { max_length = 20 }},
      {"price", models.IntegerField()},
    }, options = { db_table = "custom_opts" } },"#;

fn opts_project(second: &str) -> Project {
    let p = Project::new();
    p.migration("shop", "0001_initial", &mig(&[], OPTS));
    p.migration(
        "shop",
        "0002_change",
        &mig(&[("shop", "0001_initial")], second),
    );
    p.luamig(&["migrate", "shop", "0001"]).ok();
    p.exec("INSERT INTO custom_opts (id, a, b, c, price) VALUES (1, 1, 1, 'x', 5), (2, 1, 2, 'y', 6), (3, 2, 1, 'x', 7)");
    p
}

#[test]
fn alter_unique_together_creates_enforced_unique_index_and_removes_it() {
    let p = opts_project(
        r#"migrations.AlterUniqueTogether { name = "opts", unique_together = { {"a", "b"} } },"#,
    );
    p.luamig(&["migrate"]).ok();
    assert!(
        p.index_details("custom_opts")
            .contains(&"custom_opts_a_b_48b56b85_uniq 1 a,b".to_string()),
        "{:?}",
        p.index_details("custom_opts")
    );
    assert!(
        p.try_exec("INSERT INTO custom_opts (a, b, c, price) VALUES (1, 1, 'z', 0)")
            .is_err()
    );
    p.exec("INSERT INTO custom_opts (a, b, c, price) VALUES (3, 3, 'z', 0)");
    p.luamig(&["migrate", "shop", "0001"]).ok();
    assert!(
        p.indexes("custom_opts").is_empty(),
        "{:?}",
        p.indexes("custom_opts")
    );
    p.exec("INSERT INTO custom_opts (a, b, c, price) VALUES (1, 1, 'z', 0)");
    assert_eq!(p.scalar("SELECT count(*) FROM custom_opts"), "5");
    // Forwards again fails: the data now violates the unique set; nothing recorded, nothing changed.
    let before = p.db_bytes();
    p.luamig(&["migrate"]).fails();
    assert!(p.db_bytes() == before, "the database changed");
    p.exec("DELETE FROM custom_opts WHERE c = 'z' AND a = 1");
    p.luamig(&["migrate"]).ok();
    assert_eq!(p.applied(), s(&["shop.0001_initial", "shop.0002_change"]));
}

#[test]
fn alter_index_together_creates_and_drops_index() {
    let p = opts_project(
        r#"migrations.AlterIndexTogether { name = "opts", index_together = { {"b", "c"} } },"#,
    );
    p.luamig(&["migrate"]).ok();
    assert_eq!(
        p.index_details("custom_opts"),
        s(&["custom_opts_b_c_7b222ef7_idx 0 b,c"])
    );
    p.luamig(&["migrate", "shop", "0001"]).ok();
    assert!(p.indexes("custom_opts").is_empty());
    p.luamig(&["migrate"]).ok();
    assert_eq!(
        p.index_details("custom_opts"),
        s(&["custom_opts_b_c_7b222ef7_idx 0 b,c"])
    );
    assert_eq!(p.scalar("SELECT count(*) FROM custom_opts"), "3");
}

#[test]
fn add_index_and_remove_index() {
    let p = opts_project(
        r#"migrations.AddIndex { model_name = "opts", index = models.Index { fields = {"-a", "c"}, name = "opts_a_desc_c_idx" } },
    migrations.AddIndex { model_name = "opts", index = models.Index { fields = {"c"}, name = "opts_c_idx" } },"#,
    );
    p.migration(
        "shop",
        "0003_remove",
        &mig(
            &[("shop", "0002_change")],
            r#"migrations.RemoveIndex { model_name = "opts", name = "opts_c_idx" },"#,
        ),
    );
    p.luamig(&["migrate", "shop", "0002"]).ok();
    assert_eq!(
        p.index_details("custom_opts"),
        s(&["opts_a_desc_c_idx 0 a,c", "opts_c_idx 0 c"])
    );
    assert!(
        p.schema_sql("opts_a_desc_c_idx").contains("\"a\" DESC"),
        "{}",
        p.schema_sql("opts_a_desc_c_idx")
    );
    p.luamig(&["migrate"]).ok();
    assert_eq!(p.indexes("custom_opts"), s(&["opts_a_desc_c_idx"]));
    p.luamig(&["migrate", "shop", "0002"]).ok();
    assert_eq!(
        p.indexes("custom_opts"),
        s(&["opts_a_desc_c_idx", "opts_c_idx"])
    );
    p.luamig(&["migrate", "shop", "0001"]).ok();
    assert!(p.indexes("custom_opts").is_empty());
    p.luamig(&["migrate"]).ok();
    assert_eq!(p.indexes("custom_opts"), s(&["opts_a_desc_c_idx"]));
    assert_eq!(p.scalar("SELECT count(*) FROM custom_opts"), "3");
}

#[test]
fn add_and_remove_check_constraint_is_enforced_and_keeps_rows() {
    let p = opts_project(
        r#"migrations.AddConstraint { model_name = "opts", constraint = models.CheckConstraint { check = "\"price\" >= 0", name = "opts_price_gte_0" } },"#,
    );
    p.migration(
        "shop",
        "0003_remove",
        &mig(
            &[("shop", "0002_change")],
            r#"migrations.RemoveConstraint { model_name = "opts", name = "opts_price_gte_0" },"#,
        ),
    );
    // An index the model state does not know survives the table rebuild.
    p.exec("CREATE INDEX handmade_idx ON custom_opts (price)");
    p.luamig(&["migrate", "shop", "0002"]).ok();
    assert!(
        p.schema_sql("custom_opts")
            .contains("CONSTRAINT \"opts_price_gte_0\" CHECK"),
        "{}",
        p.schema_sql("custom_opts")
    );
    assert!(
        p.try_exec("INSERT INTO custom_opts (a, b, c, price) VALUES (9, 9, 'n', -1)")
            .is_err()
    );
    assert_eq!(
        p.query("SELECT id, a, b, c, price FROM custom_opts ORDER BY id")
            .len(),
        3
    );
    assert_eq!(
        p.query("SELECT c FROM custom_opts WHERE id = 2"),
        vec![s(&["y"])]
    );
    assert!(
        p.indexes("custom_opts")
            .contains(&"handmade_idx".to_string())
    );
    p.luamig(&["migrate"]).ok();
    assert!(!p.schema_sql("custom_opts").contains("opts_price_gte_0"));
    p.exec("INSERT INTO custom_opts (a, b, c, price) VALUES (9, 9, 'n', -1)");
    // Backwards to 0002 re-adds the check: the row with -1 must go first.
    p.exec("DELETE FROM custom_opts WHERE price < 0");
    p.luamig(&["migrate", "shop", "0002"]).ok();
    assert!(
        p.try_exec("INSERT INTO custom_opts (a, b, c, price) VALUES (9, 9, 'n', -1)")
            .is_err()
    );
    p.luamig(&["migrate", "shop", "0001"]).ok();
    p.exec("INSERT INTO custom_opts (a, b, c, price) VALUES (9, 9, 'n', -1)");
    assert_eq!(p.scalar("SELECT count(*) FROM custom_opts"), "4");
    assert!(
        p.indexes("custom_opts")
            .contains(&"handmade_idx".to_string())
    );
}

#[test]
fn add_and_remove_unique_constraint() {
    let p = opts_project(
        r#"migrations.AddConstraint { model_name = "opts", constraint = models.UniqueConstraint { fields = {"a", "c"}, name = "opts_a_c_uniq" } },
    migrations.AddConstraint { model_name = "opts", constraint = models.UniqueConstraint { fields = {"c"}, condition = "\"a\" > 1", name = "opts_c_partial_uniq" } },"#,
    );
    p.luamig(&["migrate"]).ok();
    assert!(
        p.schema_sql("custom_opts")
            .contains("CONSTRAINT \"opts_a_c_uniq\" UNIQUE (\"a\", \"c\")"),
        "{}",
        p.schema_sql("custom_opts")
    );
    assert!(
        p.index_details("custom_opts")
            .contains(&"opts_c_partial_uniq 1 c".to_string()),
        "{:?}",
        p.index_details("custom_opts")
    );
    assert_eq!(
        p.query("SELECT id, a, b, c, price FROM custom_opts ORDER BY id")
            .len(),
        3
    );
    assert!(
        p.try_exec("INSERT INTO custom_opts (a, b, c, price) VALUES (1, 9, 'x', 0)")
            .is_err()
    );
    // Partial: only rows with a > 1 must be unique in c.
    p.exec("INSERT INTO custom_opts (a, b, c, price) VALUES (0, 7, 'x', 0)");
    assert!(
        p.try_exec("INSERT INTO custom_opts (a, b, c, price) VALUES (5, 8, 'x', 0)")
            .is_err()
    );
    assert_eq!(p.scalar("SELECT count(*) FROM custom_opts"), "4");
    p.luamig(&["migrate", "shop", "0001"]).ok();
    assert!(!p.schema_sql("custom_opts").contains("opts_a_c_uniq"));
    assert!(
        p.indexes("custom_opts").is_empty(),
        "{:?}",
        p.indexes("custom_opts")
    );
    p.exec("INSERT INTO custom_opts (a, b, c, price) VALUES (1, 9, 'x', 0), (5, 8, 'x', 0)");
    assert_eq!(p.scalar("SELECT count(*) FROM custom_opts"), "6");
}

#[test]
fn create_model_with_options_makes_every_index_and_constraint() {
    let p = Project::new();
    p.migration(
        "shop",
        "0001_initial",
        &mig(
            &[],
            r#"migrations.CreateModel { name = "Opts", fields = {
      {"a", models.IntegerField()},
      {"b", models.IntegerField()},
      {"c", models.CharField { max_length = 20 }},
      {"price", models.IntegerField()},
    }, options = {
      db_table = "custom_opts",
      unique_together = { {"a", "b"} },
      index_together = { {"b", "c"} },
      indexes = { models.Index { fields = {"c"}, name = "opts_c_idx" }, models.Index { fields = {"-a", "c"}, name = "opts_a_desc_c_idx" } },
      constraints = {
        models.UniqueConstraint { fields = {"a", "c"}, name = "opts_a_c_uniq" },
        models.UniqueConstraint { fields = {"c"}, condition = "\"a\" > 0", name = "opts_c_partial_uniq" },
        models.CheckConstraint { check = "\"price\" >= 0", name = "opts_price_gte_0" },
      },
    } },"#,
        ),
    );
    p.luamig(&["migrate"]).ok();
    let names = p.indexes("custom_opts");
    for n in [
        "custom_opts_a_b_48b56b85_uniq",
        "custom_opts_b_c_7b222ef7_idx",
        "opts_c_idx",
        "opts_a_desc_c_idx",
        "opts_c_partial_uniq",
    ] {
        assert!(names.contains(&n.to_string()), "{n} missing from {names:?}");
    }
    let sql = p.schema_sql("custom_opts");
    assert!(
        sql.contains("CONSTRAINT \"opts_a_c_uniq\" UNIQUE (\"a\", \"c\")"),
        "{sql}"
    );
    assert!(
        sql.contains("CONSTRAINT \"opts_price_gte_0\" CHECK"),
        "{sql}"
    );
    assert!(
        p.try_exec("INSERT INTO custom_opts (a, b, c, price) VALUES (1, 1, 'x', -5)")
            .is_err()
    );
}

// ---------------------------------------------------------------------------------------------
// AddField / RemoveField
// ---------------------------------------------------------------------------------------------

fn item_project(second: &str) -> Project {
    let p = Project::new();
    p.migration(
        "shop",
        "0001_initial",
        &mig(
            &[],
            &format!(
                r#"{AUTHOR}
    migrations.CreateModel {{ name = "Item", fields = {{
      {{"name", models.CharField {{ max_length = 20 }}}},
      {{"cnt", models.IntegerField {{ null = true }}}},
      {{"owner", models.ForeignKey {{ to = "shop.Author", on_delete = models.CASCADE }}}},
    }} }},"#
            ),
        ),
    );
    p.migration(
        "shop",
        "0002_change",
        &mig(&[("shop", "0001_initial")], second),
    );
    p.luamig(&["migrate", "shop", "0001"]).ok();
    p.exec(
        "INSERT INTO shop_author (id, name) VALUES (1, 'a'), (2, 'b');
         INSERT INTO shop_item (id, name, cnt, owner_id) VALUES (1, 'one', 1, 1), (2, 'two', NULL, 2), (3, 'three', 3, 1);",
    );
    p
}

fn items(p: &Project) -> Vec<Vec<String>> {
    p.query("SELECT id, name, owner_id FROM shop_item ORDER BY id")
}

fn original_items() -> Vec<Vec<String>> {
    vec![
        s(&["1", "one", "1"]),
        s(&["2", "two", "2"]),
        s(&["3", "three", "1"]),
    ]
}

#[test]
fn add_field_nullable_adds_null_column() {
    let p = item_project(
        r#"migrations.AddField { model_name = "item", name = "note", field = models.TextField { null = true } },"#,
    );
    p.luamig(&["migrate"]).ok();
    assert_eq!(lc_columns(&p, "shop_item").last().unwrap(), "note text 0 0");
    assert_eq!(
        p.scalar("SELECT count(*) FROM shop_item WHERE note IS NULL"),
        "3"
    );
    p.luamig(&["migrate", "shop", "0001"]).ok();
    assert!(
        !lc_columns(&p, "shop_item")
            .iter()
            .any(|c| c.starts_with("note "))
    );
    assert_eq!(items(&p), original_items());
    p.luamig(&["migrate"]).ok();
    assert_eq!(items(&p), original_items());
}

#[test]
fn add_field_not_null_with_default_fills_rows_and_keeps_no_default() {
    let p = item_project(
        r#"migrations.AddField { model_name = "item", name = "score", field = models.IntegerField { default = 5 } },
    migrations.AddField { model_name = "item", name = "label", field = models.CharField { max_length = 10, default = "x" } },"#,
    );
    p.luamig(&["migrate"]).ok();
    let cols = lc_columns(&p, "shop_item");
    assert!(cols.contains(&"score integer 1 0".to_string()), "{cols:?}");
    assert!(
        cols.contains(&"label varchar(10) 1 0".to_string()),
        "{cols:?}"
    );
    assert_eq!(p.query("SELECT score, label FROM shop_item").len(), 3);
    assert_eq!(
        p.scalar("SELECT count(*) FROM shop_item WHERE score = 5 AND label = 'x'"),
        "3"
    );
    let d = defaults(&p, "shop_item");
    assert!(
        d.contains(&"score NULL".to_string()) && d.contains(&"label NULL".to_string()),
        "{d:?}"
    );
    // No default in the database: an insert without the column fails.
    assert!(
        p.try_exec("INSERT INTO shop_item (name, owner_id, label) VALUES ('n', 1, 'l')")
            .is_err()
    );
    assert_eq!(items(&p), original_items());
    // The foreign key index survives the rebuild.
    assert!(
        p.indexes("shop_item")
            .contains(&"shop_item_owner_id_5636367b".to_string()),
        "{:?}",
        p.indexes("shop_item")
    );
    assert_eq!(
        p.foreign_keys("shop_item"),
        s(&["owner_id -> shop_author.id"])
    );
    p.luamig(&["migrate", "shop", "0001"]).ok();
    assert_eq!(lc_columns(&p, "shop_item").len(), 4);
    assert_eq!(items(&p), original_items());
    assert_eq!(p.scalar("SELECT cnt FROM shop_item WHERE id = 3"), "3");
    p.luamig(&["migrate"]).ok();
    assert_eq!(
        p.scalar("SELECT count(*) FROM shop_item WHERE score = 5"),
        "3"
    );
}

#[test]
fn add_field_with_preserve_default_false_still_fills_existing_rows() {
    // Django: the default fills existing rows, then is dropped from the state.
    let p = item_project(
        r#"migrations.AddField { model_name = "item", name = "label", field = models.CharField { max_length = 10, default = "x" }, preserve_default = false },"#,
    );
    p.luamig(&["migrate"]).ok();
    assert_eq!(
        p.scalar("SELECT count(*) FROM shop_item WHERE label = 'x'"),
        "3"
    );
    assert!(defaults(&p, "shop_item").contains(&"label NULL".to_string()));
    p.luamig(&["migrate", "shop", "0001"]).ok();
    assert_eq!(items(&p), original_items());
}

#[test]
fn add_field_with_lua_function_default_calls_it_per_row() {
    let p = item_project(
        r#"migrations.AddField { model_name = "item", name = "code", field = models.CharField { max_length = 20, unique = true,
      default = (function() local n = 0; return function() n = n + 1; return "code-" .. n end end)() } },"#,
    );
    p.luamig(&["migrate"]).ok();
    let codes: Vec<String> = p
        .query("SELECT code FROM shop_item ORDER BY code")
        .into_iter()
        .map(|r| r[0].clone())
        .collect();
    assert_eq!(codes.len(), 3);
    let mut distinct = codes.clone();
    distinct.dedup();
    assert_eq!(distinct.len(), 3, "{codes:?}");
    assert!(codes.iter().all(|c| c.starts_with("code-")), "{codes:?}");
    assert!(
        lc_columns(&p, "shop_item").contains(&"code varchar(20) 1 0".to_string()),
        "{:?}",
        lc_columns(&p, "shop_item")
    );
    assert!(
        p.try_exec("INSERT INTO shop_item (name, owner_id, code) VALUES ('dup', 1, 'code-1')")
            .is_err()
    );
    p.luamig(&["migrate", "shop", "0001"]).ok();
    assert_eq!(items(&p), original_items());
    p.luamig(&["migrate"]).ok();
    assert_eq!(p.scalar("SELECT count(DISTINCT code) FROM shop_item"), "3");
}

#[test]
fn add_field_with_uuid_function_default_gives_distinct_uuids() {
    let p = item_project(
        r#"migrations.AddField { model_name = "item", name = "uid", field = models.UUIDField { default = require("luamig.uuid").uuid4 } },"#,
    );
    p.luamig(&["migrate"]).ok();
    assert_eq!(p.scalar("SELECT count(DISTINCT uid) FROM shop_item"), "3");
    // Stored as Django does on SQLite: 32 hex digits, no hyphens.
    for r in p.query("SELECT uid FROM shop_item") {
        assert_eq!(r[0].len(), 32, "{r:?}");
        assert!(!r[0].contains('-'), "{r:?}");
    }
}

#[test]
fn add_field_with_db_default_keeps_it_in_the_database() {
    let p = item_project(
        r#"migrations.AddField { model_name = "item", name = "qty", field = models.IntegerField { db_default = 7 } },"#,
    );
    p.luamig(&["migrate"]).ok();
    assert_eq!(
        p.scalar("SELECT count(*) FROM shop_item WHERE qty = 7"),
        "3"
    );
    assert!(
        defaults(&p, "shop_item").contains(&"qty 7".to_string()),
        "{:?}",
        defaults(&p, "shop_item")
    );
    p.exec("INSERT INTO shop_item (name, owner_id) VALUES ('new', 2)");
    assert_eq!(
        p.scalar("SELECT qty FROM shop_item WHERE name = 'new'"),
        "7"
    );
    p.luamig(&["migrate", "shop", "0001"]).ok();
    assert!(
        !lc_columns(&p, "shop_item")
            .iter()
            .any(|c| c.starts_with("qty "))
    );
    assert_eq!(p.scalar("SELECT count(*) FROM shop_item"), "4");
}

#[test]
fn add_foreign_key_field_and_m2m_field() {
    let p = item_project(
        r#"migrations.AddField { model_name = "item", name = "editor", field = models.ForeignKey { to = "shop.Author", on_delete = models.SET_NULL, null = true, related_name = "+" } },
    migrations.AddField { model_name = "item", name = "fans", field = models.ManyToManyField { to = "shop.Author", related_name = "+" } },"#,
    );
    p.luamig(&["migrate"]).ok();
    assert!(
        lc_columns(&p, "shop_item").contains(&"editor_id integer 0 0".to_string()),
        "{:?}",
        lc_columns(&p, "shop_item")
    );
    assert_eq!(
        p.foreign_keys("shop_item"),
        s(&["editor_id -> shop_author.id", "owner_id -> shop_author.id"])
    );
    assert!(
        p.indexes("shop_item")
            .iter()
            .any(|i| i.starts_with("shop_item_editor_id_")),
        "{:?}",
        p.indexes("shop_item")
    );
    assert_eq!(
        lc_columns(&p, "shop_item_fans"),
        s(&[
            "id integer 1 1",
            "item_id integer 1 0",
            "author_id integer 1 0"
        ])
    );
    p.exec("INSERT INTO shop_item_fans (item_id, author_id) VALUES (1, 2)");
    assert!(
        p.try_exec("INSERT INTO shop_item_fans (item_id, author_id) VALUES (1, 2)")
            .is_err()
    );
    p.luamig(&["migrate", "shop", "0001"]).ok();
    assert!(!p.tables().contains(&"shop_item_fans".to_string()));
    assert_eq!(lc_columns(&p, "shop_item").len(), 4);
    assert_eq!(items(&p), original_items());
}

#[test]
fn remove_field_plain_and_foreign_key_and_backwards() {
    let p = item_project(
        r#"migrations.RemoveField { model_name = "item", name = "cnt" },
    migrations.RemoveField { model_name = "item", name = "owner" },"#,
    );
    p.luamig(&["migrate"]).ok();
    assert_eq!(
        lc_columns(&p, "shop_item"),
        s(&["id integer 1 1", "name varchar(20) 1 0"])
    );
    assert!(
        p.indexes("shop_item").is_empty(),
        "{:?}",
        p.indexes("shop_item")
    );
    assert_eq!(
        p.query("SELECT id, name FROM shop_item ORDER BY id").len(),
        3
    );
    // Backwards re-adds both columns (nullable cnt comes back NULL; owner cannot be NULL, so
    // the rows must go first, as in Django).
    p.exec("DELETE FROM shop_item");
    p.luamig(&["migrate", "shop", "0001"]).ok();
    assert_eq!(
        lc_columns(&p, "shop_item"),
        s(&[
            "id integer 1 1",
            "name varchar(20) 1 0",
            // Unapplied last to first: owner comes back with a rebuild, then cnt is
            // appended by ALTER TABLE ADD COLUMN (Django's order too).
            "owner_id integer 1 0",
            "cnt integer 0 0"
        ])
    );
    assert_eq!(
        p.foreign_keys("shop_item"),
        s(&["owner_id -> shop_author.id"])
    );
    assert_eq!(p.indexes("shop_item"), s(&["shop_item_owner_id_5636367b"]));
    p.luamig(&["migrate"]).ok();
    assert_eq!(lc_columns(&p, "shop_item").len(), 2);
}

#[test]
fn remove_nullable_field_backwards_keeps_rows() {
    let p = item_project(r#"migrations.RemoveField { model_name = "item", name = "cnt" },"#);
    p.luamig(&["migrate"]).ok();
    assert!(
        !lc_columns(&p, "shop_item")
            .iter()
            .any(|c| c.starts_with("cnt "))
    );
    p.luamig(&["migrate", "shop", "0001"]).ok();
    assert!(lc_columns(&p, "shop_item").contains(&"cnt integer 0 0".to_string()));
    assert_eq!(items(&p), original_items());
    assert_eq!(
        p.scalar("SELECT count(*) FROM shop_item WHERE cnt IS NULL"),
        "3"
    );
}

// ---------------------------------------------------------------------------------------------
// AlterField / RenameField
// ---------------------------------------------------------------------------------------------

#[test]
fn alter_field_null_to_not_null_with_default_fills_nulls() {
    let p = item_project(
        r#"migrations.AlterField { model_name = "item", name = "cnt", field = models.IntegerField { default = 0 } },"#,
    );
    p.luamig(&["migrate"]).ok();
    assert!(
        lc_columns(&p, "shop_item").contains(&"cnt integer 1 0".to_string()),
        "{:?}",
        lc_columns(&p, "shop_item")
    );
    assert_eq!(
        p.query("SELECT id, cnt FROM shop_item ORDER BY id"),
        vec![s(&["1", "1"]), s(&["2", "0"]), s(&["3", "3"])]
    );
    assert!(defaults(&p, "shop_item").contains(&"cnt NULL".to_string()));
    assert_eq!(items(&p), original_items());
    assert_eq!(
        p.foreign_keys("shop_item"),
        s(&["owner_id -> shop_author.id"])
    );
    assert!(
        p.indexes("shop_item")
            .contains(&"shop_item_owner_id_5636367b".to_string())
    );
    // not null -> null (backwards).
    p.luamig(&["migrate", "shop", "0001"]).ok();
    assert!(lc_columns(&p, "shop_item").contains(&"cnt integer 0 0".to_string()));
    p.exec("UPDATE shop_item SET cnt = NULL WHERE id = 3");
    assert_eq!(items(&p), original_items());
    p.luamig(&["migrate"]).ok();
    assert_eq!(p.scalar("SELECT cnt FROM shop_item WHERE id = 3"), "0");
}

#[test]
fn alter_field_not_null_to_null() {
    let p = item_project(
        r#"migrations.AlterField { model_name = "item", name = "name", field = models.CharField { max_length = 20, null = true } },"#,
    );
    p.luamig(&["migrate"]).ok();
    assert!(lc_columns(&p, "shop_item").contains(&"name varchar(20) 0 0".to_string()));
    p.exec("INSERT INTO shop_item (id, name, owner_id) VALUES (4, NULL, 1)");
    p.exec("DELETE FROM shop_item WHERE id = 4");
    p.luamig(&["migrate", "shop", "0001"]).ok();
    assert!(lc_columns(&p, "shop_item").contains(&"name varchar(20) 1 0".to_string()));
    assert_eq!(items(&p), original_items());
}

#[test]
fn alter_field_max_length_and_type_change_keep_values() {
    let p = item_project(
        r#"migrations.AlterField { model_name = "item", name = "name", field = models.CharField { max_length = 40 } },
    migrations.AlterField { model_name = "item", name = "cnt", field = models.TextField { null = true } },"#,
    );
    p.luamig(&["migrate"]).ok();
    let cols = lc_columns(&p, "shop_item");
    assert!(
        cols.contains(&"name varchar(40) 1 0".to_string()),
        "{cols:?}"
    );
    assert!(cols.contains(&"cnt text 0 0".to_string()), "{cols:?}");
    assert_eq!(items(&p), original_items());
    assert_eq!(
        p.query("SELECT typeof(cnt), cnt FROM shop_item WHERE id = 1"),
        vec![s(&["text", "1"])]
    );
    p.luamig(&["migrate", "shop", "0001"]).ok();
    let cols = lc_columns(&p, "shop_item");
    assert!(
        cols.contains(&"name varchar(20) 1 0".to_string()),
        "{cols:?}"
    );
    assert!(cols.contains(&"cnt integer 0 0".to_string()), "{cols:?}");
    assert_eq!(
        p.query("SELECT typeof(cnt), cnt FROM shop_item WHERE id = 3"),
        vec![s(&["integer", "3"])]
    );
    assert_eq!(items(&p), original_items());
}

#[test]
fn alter_field_unique_on_and_off() {
    let p = item_project(
        r#"migrations.AlterField { model_name = "item", name = "name", field = models.CharField { max_length = 20, unique = true } },"#,
    );
    p.luamig(&["migrate"]).ok();
    assert!(
        p.index_details("shop_item")
            .iter()
            .any(|d| d.ends_with(" 1 name")),
        "{:?}",
        p.index_details("shop_item")
    );
    assert!(
        p.try_exec("INSERT INTO shop_item (name, owner_id) VALUES ('one', 1)")
            .is_err()
    );
    assert_eq!(items(&p), original_items());
    p.luamig(&["migrate", "shop", "0001"]).ok();
    assert!(
        !p.index_details("shop_item")
            .iter()
            .any(|d| d.ends_with(" 1 name")),
        "{:?}",
        p.index_details("shop_item")
    );
    p.exec("INSERT INTO shop_item (name, owner_id) VALUES ('one', 1)");
    // Forwards now fails on duplicates and leaves everything as it was.
    let before = p.db_bytes();
    p.luamig(&["migrate"]).fails();
    assert!(p.db_bytes() == before, "the database changed");
    assert_eq!(p.applied(), s(&["shop.0001_initial"]));
}

#[test]
fn alter_field_db_index_on_and_off() {
    let p = item_project(
        r#"migrations.AlterField { model_name = "item", name = "cnt", field = models.IntegerField { null = true, db_index = true } },"#,
    );
    p.luamig(&["migrate"]).ok();
    assert!(
        p.indexes("shop_item")
            .iter()
            .any(|i| i.starts_with("shop_item_cnt_")),
        "{:?}",
        p.indexes("shop_item")
    );
    p.luamig(&["migrate", "shop", "0001"]).ok();
    assert!(
        !p.indexes("shop_item")
            .iter()
            .any(|i| i.starts_with("shop_item_cnt_")),
        "{:?}",
        p.indexes("shop_item")
    );
    assert_eq!(items(&p), original_items());
}

#[test]
fn alter_field_foreign_key_target_change() {
    let p = Project::new();
    p.migration(
        "shop",
        "0001_initial",
        &mig(
            &[],
            &format!(
                r#"{AUTHOR}
    migrations.CreateModel {{ name = "Publisher", fields = {{ {{"name", models.CharField {{ max_length = 10 }}}} }} }},
    migrations.CreateModel {{ name = "Book", fields = {{
      {{"owner", models.ForeignKey {{ to = "shop.Author", on_delete = models.CASCADE }}}},
    }} }},"#
            ),
        ),
    );
    p.migration(
        "shop",
        "0002_retarget",
        &mig(
            &[("shop", "0001_initial")],
            r#"migrations.AlterField { model_name = "book", name = "owner", field = models.ForeignKey { to = "shop.Publisher", on_delete = models.CASCADE } },"#,
        ),
    );
    p.luamig(&["migrate", "shop", "0001"]).ok();
    p.exec(
        "INSERT INTO shop_author (id, name) VALUES (1, 'a'), (2, 'b');
         INSERT INTO shop_publisher (id, name) VALUES (1, 'p'), (2, 'q');
         INSERT INTO shop_book (id, owner_id) VALUES (1, 1), (2, 2);",
    );
    p.luamig(&["migrate"]).ok();
    assert_eq!(
        p.foreign_keys("shop_book"),
        s(&["owner_id -> shop_publisher.id"])
    );
    assert_eq!(
        p.query("SELECT id, owner_id FROM shop_book ORDER BY id"),
        vec![s(&["1", "1"]), s(&["2", "2"])]
    );
    p.exec("DELETE FROM shop_author WHERE id = 2");
    p.exec("INSERT INTO shop_book (owner_id) VALUES (2)");
    assert!(
        p.indexes("shop_book")
            .iter()
            .any(|i| i.starts_with("shop_book_owner_id_")),
        "{:?}",
        p.indexes("shop_book")
    );
    p.exec(
        "DELETE FROM shop_book WHERE id = 3; INSERT INTO shop_author (id, name) VALUES (2, 'b')",
    );
    p.luamig(&["migrate", "shop", "0001"]).ok();
    assert_eq!(
        p.foreign_keys("shop_book"),
        s(&["owner_id -> shop_author.id"])
    );
    assert_eq!(p.scalar("SELECT count(*) FROM shop_book"), "2");
}

#[test]
fn alter_field_failing_foreign_key_check_rolls_back() {
    let p = Project::new();
    p.migration(
        "shop",
        "0001_initial",
        &mig(
            &[],
            &format!(
                r#"{AUTHOR}
    migrations.CreateModel {{ name = "Publisher", fields = {{ {{"name", models.CharField {{ max_length = 10 }}}} }} }},
    migrations.CreateModel {{ name = "Book", fields = {{
      {{"owner", models.ForeignKey {{ to = "shop.Author", on_delete = models.CASCADE }}}},
    }} }},"#
            ),
        ),
    );
    p.migration(
        "shop",
        "0002_retarget",
        &mig(
            &[("shop", "0001_initial")],
            r#"migrations.AlterField { model_name = "book", name = "owner", field = models.ForeignKey { to = "shop.Publisher", on_delete = models.CASCADE } },"#,
        ),
    );
    p.luamig(&["migrate", "shop", "0001"]).ok();
    p.exec("INSERT INTO shop_author (id, name) VALUES (5, 'a'); INSERT INTO shop_book (id, owner_id) VALUES (1, 5);");
    let before = p.db_bytes();
    let run = p.luamig(&["migrate"]).fails();
    assert!(run.stderr.contains("shop.0002_retarget"), "{}", run.stderr);
    assert!(p.db_bytes() == before, "the database changed");
}

#[test]
fn rename_field_plain_and_foreign_key() {
    let p = item_project(
        r#"migrations.RenameField { model_name = "item", old_name = "name", new_name = "title" },
    migrations.RenameField { model_name = "item", old_name = "owner", new_name = "writer" },"#,
    );
    p.luamig(&["migrate"]).ok();
    let cols = lc_columns(&p, "shop_item");
    assert!(
        cols.contains(&"title varchar(20) 1 0".to_string()),
        "{cols:?}"
    );
    assert!(
        cols.contains(&"writer_id integer 1 0".to_string()),
        "{cols:?}"
    );
    assert!(
        !cols
            .iter()
            .any(|c| c.starts_with("name ") || c.starts_with("owner_id ")),
        "{cols:?}"
    );
    assert_eq!(
        p.foreign_keys("shop_item"),
        s(&["writer_id -> shop_author.id"])
    );
    assert_eq!(
        p.query("SELECT id, title, writer_id FROM shop_item ORDER BY id"),
        original_items()
    );
    assert!(
        p.try_exec("INSERT INTO shop_item (title, writer_id) VALUES ('x', 99)")
            .is_err()
    );
    // The index on the foreign key still covers the renamed column.
    assert!(
        p.index_details("shop_item")
            .iter()
            .any(|d| d.ends_with(" 0 writer_id")),
        "{:?}",
        p.index_details("shop_item")
    );
    p.luamig(&["migrate", "shop", "0001"]).ok();
    assert_eq!(items(&p), original_items());
    assert_eq!(
        p.foreign_keys("shop_item"),
        s(&["owner_id -> shop_author.id"])
    );
    p.luamig(&["migrate"]).ok();
    assert_eq!(
        p.scalar("SELECT group_concat(title) FROM shop_item"),
        "one,two,three"
    );
}

// ---------------------------------------------------------------------------------------------
// Relations, through, managed = false
// ---------------------------------------------------------------------------------------------

#[test]
fn one_to_one_field_is_unique_foreign_key() {
    let p = Project::new();
    p.migration(
        "shop",
        "0001_initial",
        &mig(
            &[],
            &format!(
                r#"{AUTHOR}
    migrations.CreateModel {{ name = "Profile", fields = {{
      {{"author", models.OneToOneField {{ to = "shop.Author", on_delete = models.CASCADE }}}},
    }} }},"#
            ),
        ),
    );
    p.luamig(&["migrate"]).ok();
    assert_eq!(
        lc_columns(&p, "shop_profile"),
        s(&["id integer 1 1", "author_id integer 1 0"])
    );
    assert_eq!(
        p.foreign_keys("shop_profile"),
        s(&["author_id -> shop_author.id"])
    );
    p.exec("INSERT INTO shop_author (id, name) VALUES (1, 'a'); INSERT INTO shop_profile (author_id) VALUES (1)");
    assert!(
        p.try_exec("INSERT INTO shop_profile (author_id) VALUES (1)")
            .is_err()
    );
    assert!(
        p.try_exec("INSERT INTO shop_profile (author_id) VALUES (42)")
            .is_err()
    );
}

#[test]
fn many_to_many_through_model_creates_no_extra_table() {
    let p = Project::new();
    p.migration(
        "shop",
        "0001_initial",
        &mig(
            &[],
            r#"migrations.CreateModel { name = "Tag", fields = { {"label", models.CharField { max_length = 30 }} } },
    migrations.CreateModel { name = "Everything", fields = { {"n", models.IntegerField()} } },
    migrations.CreateModel { name = "Membership", fields = {
      {"role", models.CharField { max_length = 20 }},
      {"everything", models.ForeignKey { to = "shop.everything", on_delete = models.CASCADE }},
      {"tag", models.ForeignKey { to = "shop.tag", on_delete = models.CASCADE }},
    }},
    migrations.AddField { model_name = "everything", name = "members",
      field = models.ManyToManyField { to = "shop.tag", through = "shop.Membership", related_name = "+" } },"#,
        ),
    );
    p.luamig(&["migrate"]).ok();
    assert_eq!(
        p.tables(),
        s(&[
            "luamig_migrations",
            "shop_everything",
            "shop_membership",
            "shop_tag"
        ])
    );
    assert_eq!(
        lc_columns(&p, "shop_everything"),
        s(&["id integer 1 1", "n integer 1 0"])
    );
    assert_eq!(
        p.indexes("shop_membership"),
        s(&[
            "shop_membership_everything_id_ae5f8869",
            "shop_membership_tag_id_7416b57e"
        ])
    );
    p.luamig(&["migrate", "shop", "zero"]).ok();
    assert_eq!(p.tables(), s(&["luamig_migrations"]));
}

#[test]
fn unmanaged_model_has_no_table_and_its_operations_touch_nothing() {
    let p = Project::new();
    p.migration(
        "shop",
        "0001_initial",
        &mig(
            &[],
            r#"migrations.CreateModel { name = "Legacy", fields = { {"n", models.IntegerField()} }, options = { managed = false, db_table = "legacy_stuff" } },"#,
        ),
    );
    p.migration(
        "shop",
        "0002_more",
        &mig(
            &[("shop", "0001_initial")],
            r#"migrations.AddField { model_name = "legacy", name = "m", field = models.IntegerField { default = 1 } },
    migrations.AddIndex { model_name = "legacy", index = models.Index { fields = {"n"}, name = "legacy_n_idx" } },
    migrations.DeleteModel { name = "legacy" },"#,
        ),
    );
    p.luamig(&["migrate", "shop", "0001"]).ok();
    assert_eq!(p.tables(), s(&["luamig_migrations"]));
    // A hand-made table of that name is left alone by every operation.
    p.exec("CREATE TABLE legacy_stuff (id integer primary key, n integer); INSERT INTO legacy_stuff VALUES (1, 2)");
    p.luamig(&["migrate"]).ok();
    assert_eq!(
        lc_columns(&p, "legacy_stuff"),
        s(&["id integer 0 1", "n integer 0 0"])
    );
    assert!(p.indexes("legacy_stuff").is_empty());
    p.luamig(&["migrate", "shop", "zero"]).ok();
    assert_eq!(p.tables(), s(&["legacy_stuff", "luamig_migrations"]));
    assert_eq!(p.scalar("SELECT n FROM legacy_stuff"), "2");
}

#[test]
fn foreign_keys_across_apps() {
    let p = Project::new();
    p.migration("shop", "0001_initial", &mig(&[], AUTHOR));
    p.migration(
        "blog",
        "0001_initial",
        &mig(
            &[("shop", "0001_initial")],
            r#"migrations.CreateModel { name = "Post", fields = {
      {"author", models.ForeignKey { to = "shop.Author", on_delete = models.PROTECT }},
      {"tags", models.ManyToManyField { to = "shop.author", related_name = "+" }},
    }},"#,
        ),
    );
    p.luamig(&["migrate"]).ok();
    assert_eq!(
        p.foreign_keys("blog_post"),
        s(&["author_id -> shop_author.id"])
    );
    assert_eq!(
        lc_columns(&p, "blog_post_tags"),
        s(&[
            "id integer 1 1",
            "post_id integer 1 0",
            "author_id integer 1 0"
        ])
    );
}

// ---------------------------------------------------------------------------------------------
// RunSQL / SeparateDatabaseAndState
// ---------------------------------------------------------------------------------------------

#[test]
fn run_sql_forms_forwards_and_backwards() {
    let p = Project::new();
    p.migration(
        "shop",
        "0001_initial",
        &mig(
            &[],
            r#"migrations.RunSQL("CREATE TABLE t (id integer primary key, v text)", "DROP TABLE t"),
    migrations.RunSQL { sql = { "INSERT INTO t (v) VALUES ('a')", "INSERT INTO t (v) VALUES ('b')" },
      reverse_sql = { "DELETE FROM t WHERE v IN ('a', 'b')" } },
    migrations.RunSQL { sql = { {"INSERT INTO t (v) VALUES (%s)", {"it's"}}, {"INSERT INTO t (v) VALUES (%s), (%s)", {"c", "d"}} },
      reverse_sql = { {"DELETE FROM t WHERE v IN (%s, %s, %s)", {"it's", "c", "d"}} } },
    migrations.RunSQL("INSERT INTO t (v) VALUES ('noop-reverse')", migrations.RunSQL.noop),"#,
        ),
    );
    p.migration(
        "shop",
        "0002_more",
        &mig(&[("shop", "0001_initial")], r#"migrations.RunSQL { sql = "UPDATE t SET v = v || '!'", reverse_sql = "UPDATE t SET v = substr(v, 1, length(v) - 1)" },"#),
    );
    p.luamig(&["migrate"]).ok();
    assert_eq!(
        p.query("SELECT v FROM t ORDER BY id").concat(),
        s(&["a!", "b!", "it's!", "c!", "d!", "noop-reverse!"])
    );
    let sql = p.luamig(&["sqlmigrate", "shop", "0001"]).ok();
    assert!(
        sql.stdout.contains("INSERT INTO t (v) VALUES ('it''s');"),
        "{}",
        sql.stdout
    );
    assert!(
        sql.stdout.contains("-- Raw SQL operation"),
        "{}",
        sql.stdout
    );
    let back = p
        .luamig(&["sqlmigrate", "shop", "0001", "--backwards"])
        .ok();
    assert!(back.stdout.contains("DROP TABLE t;"), "{}", back.stdout);
    assert!(back.stdout.contains("-- (no-op)"), "{}", back.stdout);
    p.luamig(&["migrate", "shop", "0001"]).ok();
    assert_eq!(
        p.query("SELECT v FROM t ORDER BY id").concat(),
        s(&["a", "b", "it's", "c", "d", "noop-reverse"])
    );
    p.luamig(&["migrate", "shop", "zero"]).ok();
    assert_eq!(p.tables(), s(&["luamig_migrations"]));
    p.luamig(&["migrate"]).ok();
    assert_eq!(p.scalar("SELECT count(*) FROM t"), "6");
}

#[test]
fn run_sql_with_state_operations_makes_model_known() {
    let p = Project::new();
    p.migration(
        "shop",
        "0001_initial",
        &mig(
            &[],
            r#"migrations.RunSQL {
      sql = "CREATE TABLE shop_thing (id integer NOT NULL PRIMARY KEY AUTOINCREMENT, n integer NOT NULL)",
      reverse_sql = "DROP TABLE shop_thing",
      state_operations = { migrations.CreateModel { name = "Thing", fields = { {"n", models.IntegerField()} } } },
    },"#,
        ),
    );
    p.migration(
        "shop",
        "0002_add",
        &mig(&[("shop", "0001_initial")], r#"migrations.AddField { model_name = "thing", name = "m", field = models.IntegerField { default = 4 } },"#),
    );
    p.luamig(&["migrate", "shop", "0001"]).ok();
    p.exec("INSERT INTO shop_thing (n) VALUES (1), (2)");
    p.luamig(&["migrate"]).ok();
    assert_eq!(
        p.query("SELECT n, m FROM shop_thing ORDER BY id"),
        vec![s(&["1", "4"]), s(&["2", "4"])]
    );
    p.luamig(&["migrate", "shop", "zero"]).ok();
    assert_eq!(p.tables(), s(&["luamig_migrations"]));
}

#[test]
fn separate_database_and_state() {
    let p = Project::new();
    p.migration("shop", "0001_initial", &mig(&[], AUTHOR));
    // The database renames the table by hand; the state learns the new db_table.
    p.migration(
        "shop",
        "0002_separate",
        &mig(
            &[("shop", "0001_initial")],
            r#"migrations.SeparateDatabaseAndState {
      database_operations = {
        migrations.RunSQL("ALTER TABLE shop_author RENAME TO writers", "ALTER TABLE writers RENAME TO shop_author"),
      },
      state_operations = { migrations.AlterModelTable { name = "author", table = "writers" } },
    },
    migrations.SeparateDatabaseAndState {
      database_operations = { migrations.AddField { model_name = "author", name = "age", field = models.IntegerField { default = 30 } } },
    },
    migrations.SeparateDatabaseAndState {
      state_operations = { migrations.AddField { model_name = "author", name = "ghost", field = models.IntegerField { null = true } } },
    },"#,
        ),
    );
    p.migration(
        "shop",
        "0003_uses_state",
        &mig(&[("shop", "0002_separate")], r#"migrations.AddField { model_name = "author", name = "nick", field = models.CharField { max_length = 5, null = true } },"#),
    );
    p.luamig(&["migrate", "shop", "0001"]).ok();
    p.exec("INSERT INTO shop_author (name) VALUES ('x')");
    p.luamig(&["migrate"]).ok();
    assert!(p.tables().contains(&"writers".to_string()));
    assert_eq!(
        lc_columns(&p, "writers"),
        s(&[
            "id integer 1 1",
            "name varchar(100) 1 0",
            "age integer 1 0",
            "nick varchar(5) 0 0"
        ])
    );
    assert_eq!(
        p.query("SELECT name, age FROM writers"),
        vec![s(&["x", "30"])]
    );
    p.luamig(&["migrate", "shop", "0001"]).ok();
    assert_eq!(
        lc_columns(&p, "shop_author"),
        s(&["id integer 1 1", "name varchar(100) 1 0"])
    );
    assert_eq!(p.scalar("SELECT name FROM shop_author"), "x");
    p.luamig(&["migrate"]).ok();
    assert!(p.tables().contains(&"writers".to_string()));
}
