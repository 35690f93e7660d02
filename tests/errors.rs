//! Failures: every one exits 1 with `error:` first on stderr, names the file (and the line
//! where Lua is involved) or the migrations at fault, and leaves the database unchanged.

mod common;
use common::{HEAD, Project, mig};

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

fn create(model: &str) -> String {
    format!(
        "migrations.CreateModel {{ name = \"{model}\", fields = {{ {{\"n\", models.IntegerField {{ null = true }}}} }} }},"
    )
}

/// A project with shop.0001_initial (table shop_a) already applied, so the database and its
/// history table exist; returns it with the database's bytes.
fn applied_base() -> (Project, Vec<u8>) {
    let p = Project::new();
    p.migration("shop", "0001_initial", &mig(&[], &create("A")));
    p.luamig(&["migrate"]).ok();
    p.exec("INSERT INTO shop_a (n) VALUES (1), (2)");
    let bytes = p.db_bytes();
    (p, bytes)
}

fn assert_unchanged(p: &Project, before: &[u8]) {
    assert!(p.db_bytes() == before, "the database changed");
}

/// The 1-based line of the first line containing `needle`.
fn line_of(src: &str, needle: &str) -> usize {
    src.lines()
        .position(|l| l.contains(needle))
        .expect("needle in source")
        + 1
}

// ---------------------------------------------------------------------------------------------
// Loading files
// ---------------------------------------------------------------------------------------------

#[test]
fn lua_syntax_error_names_file_and_line() {
    let (p, before) = applied_base();
    let src = format!(
        "{HEAD}return migrations.Migration {{\n  operations = {{\n    migrations.RunSQL(\"SELECT 1\" \"x\"),\n  }},\n}}\n"
    );
    p.migration("shop", "0002_bad", &src);
    let run = p.luamig(&["migrate"]).fails();
    assert!(
        run.error_line().contains("migrations/shop/0002_bad.lua:5"),
        "{}",
        run.stderr
    );
    assert_unchanged(&p, &before);
    // Every command loads every file first.
    p.luamig(&["showmigrations"]).fails();
    p.luamig(&["check"]).fails();
}

#[test]
fn runtime_error_at_top_level_names_file_and_line() {
    let (p, before) = applied_base();
    let src = format!(
        "{HEAD}local x = nil\nlocal y = x.field\nreturn migrations.Migration {{ operations = {{}} }}\n"
    );
    p.migration("shop", "0002_boom", &src);
    let run = p.luamig(&["migrate"]).fails();
    assert!(
        run.stderr.contains("migrations/shop/0002_boom.lua:4"),
        "{}",
        run.stderr
    );
    assert_unchanged(&p, &before);
    let src = format!("{HEAD}error(\"custom failure\")\n");
    p.migration("shop", "0002_boom", &src);
    let run = p.luamig(&["migrate"]).fails();
    assert!(
        run.stderr.contains("migrations/shop/0002_boom.lua:3"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("custom failure"), "{}", run.stderr);
    assert_unchanged(&p, &before);
}

#[test]
fn file_returning_nothing_or_wrong_value_names_file() {
    let (p, before) = applied_base();
    p.migration(
        "shop",
        "0002_nothing",
        &format!("{HEAD}local m = migrations.Migration {{ operations = {{}} }}\n"),
    );
    let run = p.luamig(&["migrate"]).fails();
    assert!(
        run.stderr.contains("migrations/shop/0002_nothing.lua"),
        "{}",
        run.stderr
    );
    assert_unchanged(&p, &before);
    p.migration("shop", "0002_nothing", "return { operations = {} }\n");
    let run = p.luamig(&["migrate"]).fails();
    assert!(
        run.stderr.contains("migrations/shop/0002_nothing.lua"),
        "{}",
        run.stderr
    );
    assert_unchanged(&p, &before);
}

#[test]
fn invalid_utf8_file_names_file() {
    let (p, before) = applied_base();
    let mut bytes = format!("{HEAD}-- caf").into_bytes();
    bytes.extend_from_slice(&[0xe9, b'\n']);
    bytes.extend_from_slice(b"return migrations.Migration { dependencies = { {\"shop\", \"0001_initial\"} }, operations = {} }\n");
    std::fs::write(p.path().join("migrations/shop/0002_latin1.lua"), bytes).unwrap();
    let run = p.luamig(&["migrate"]).fails();
    assert!(
        run.stderr.contains("migrations/shop/0002_latin1.lua"),
        "{}",
        run.stderr
    );
    assert_unchanged(&p, &before);
}

#[test]
fn unknown_key_in_field_names_key_file_and_line() {
    let (p, before) = applied_base();
    let src = mig(
        &[("shop", "0001_initial")],
        "    migrations.AddField { model_name = \"a\", name = \"title\",\n      field = models.CharField { max_lenght = 20 } },",
    );
    let line = line_of(&src, "max_lenght");
    p.migration("shop", "0002_typo", &src);
    let run = p.luamig(&["migrate"]).fails();
    assert!(run.stderr.contains("max_lenght"), "{}", run.stderr);
    assert!(
        run.error_line()
            .contains(&format!("migrations/shop/0002_typo.lua:{line}")),
        "line {line}: {}",
        run.stderr
    );
    assert!(
        run.stderr.contains("max_length"),
        "should suggest the right key: {}",
        run.stderr
    );
    assert_unchanged(&p, &before);
}

#[test]
fn unknown_key_in_operation_names_key_file_and_line() {
    let (p, before) = applied_base();
    let src = mig(
        &[("shop", "0001_initial")],
        "    migrations.RunSQL { sql = \"SELECT 1\" },\n    migrations.AddField { model_nme = \"a\", name = \"t\", field = models.TextField() },",
    );
    let line = line_of(&src, "model_nme");
    p.migration("shop", "0002_typo", &src);
    let run = p.luamig(&["migrate"]).fails();
    assert!(run.stderr.contains("model_nme"), "{}", run.stderr);
    assert!(
        run.error_line()
            .contains(&format!("migrations/shop/0002_typo.lua:{line}")),
        "line {line}: {}",
        run.stderr
    );
    assert_unchanged(&p, &before);
}

#[test]
fn unknown_key_in_migration_names_key_and_file() {
    let (p, before) = applied_base();
    let src = format!(
        "{HEAD}return migrations.Migration {{\n  dependencies = {{ {{\"shop\", \"0001_initial\"}} }},\n  operatoins = {{}},\n}}\n"
    );
    p.migration("shop", "0002_typo", &src);
    let run = p.luamig(&["migrate"]).fails();
    assert!(run.stderr.contains("operatoins"), "{}", run.stderr);
    assert!(
        run.error_line().contains("migrations/shop/0002_typo.lua:5"),
        "{}",
        run.stderr
    );
    assert_unchanged(&p, &before);
}

#[test]
fn missing_required_key_names_key_file_and_line() {
    let (p, before) = applied_base();
    let src = mig(
        &[("shop", "0001_initial")],
        "    migrations.AddField { model_name = \"a\", name = \"title\",\n      field = models.CharField { null = true } },",
    );
    let line = line_of(&src, "models.CharField");
    p.migration("shop", "0002_missing", &src);
    let run = p.luamig(&["migrate"]).fails();
    assert!(run.stderr.contains("max_length"), "{}", run.stderr);
    assert!(
        run.error_line()
            .contains(&format!("migrations/shop/0002_missing.lua:{line}")),
        "line {line}: {}",
        run.stderr
    );
    assert_unchanged(&p, &before);
    // An operation missing its required key.
    let src = mig(
        &[("shop", "0001_initial")],
        "    migrations.RemoveField { model_name = \"a\" },",
    );
    let line = line_of(&src, "RemoveField");
    p.migration("shop", "0002_missing", &src);
    let run = p.luamig(&["migrate"]).fails();
    assert!(run.stderr.contains("'name'"), "{}", run.stderr);
    assert!(
        run.error_line()
            .contains(&format!("migrations/shop/0002_missing.lua:{line}")),
        "line {line}: {}",
        run.stderr
    );
    assert_unchanged(&p, &before);
}

// ---------------------------------------------------------------------------------------------
// The graph and the history
// ---------------------------------------------------------------------------------------------

#[test]
fn dependency_cycle_lists_the_cycle() {
    let (p, before) = applied_base();
    p.migration(
        "shop",
        "0002_x",
        &mig(&[("shop", "0001_initial"), ("blog", "0001_initial")], ""),
    );
    p.migration("blog", "0001_initial", &mig(&[("shop", "0002_x")], ""));
    let run = p.luamig(&["migrate"]).fails();
    assert!(run.stderr.contains("cycle"), "{}", run.stderr);
    assert!(
        run.stderr.contains("shop.0002_x") && run.stderr.contains("blog.0001_initial"),
        "{}",
        run.stderr
    );
    assert_unchanged(&p, &before);
    p.luamig(&["check"]).fails();
}

#[test]
fn missing_dependency_names_both() {
    let (p, before) = applied_base();
    p.migration(
        "shop",
        "0002_x",
        &mig(&[("shop", "0001_initial"), ("blog", "0007_gone")], ""),
    );
    let run = p.luamig(&["migrate"]).fails();
    assert!(run.stderr.contains("shop.0002_x"), "{}", run.stderr);
    assert!(run.stderr.contains("blog.0007_gone"), "{}", run.stderr);
    assert_unchanged(&p, &before);
    let run = p.luamig(&["check"]).fails();
    assert!(run.stderr.contains("blog.0007_gone"), "{}", run.stderr);
}

#[test]
fn two_leaves_suggest_merge() {
    let (p, before) = applied_base();
    p.migration("shop", "0002_a", &mig(&[("shop", "0001_initial")], ""));
    p.migration("shop", "0002_b", &mig(&[("shop", "0001_initial")], ""));
    let run = p.luamig(&["migrate"]).fails();
    assert!(
        run.stderr.contains("0002_a") && run.stderr.contains("0002_b"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("makemigrations --merge"),
        "{}",
        run.stderr
    );
    assert_unchanged(&p, &before);
    let run = p.luamig(&["check"]).fails();
    assert!(
        run.stderr.contains("makemigrations --merge"),
        "{}",
        run.stderr
    );
}

#[test]
fn inconsistent_history_names_both() {
    let (p, _) = applied_base();
    p.migration(
        "shop",
        "0002_b",
        &mig(&[("shop", "0001_initial")], &create("B")),
    );
    p.luamig(&["migrate"]).ok();
    p.exec("DELETE FROM luamig_migrations WHERE name = '0001_initial'");
    let before = p.db_bytes();
    let run = p.luamig(&["migrate"]).fails();
    assert!(
        run.stderr.contains("inconsistent history"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("shop.0002_b") && run.stderr.contains("shop.0001_initial"),
        "{}",
        run.stderr
    );
    assert_unchanged(&p, &before);
    let run = p.luamig(&["check"]).fails();
    assert!(
        run.stderr.contains("inconsistent history"),
        "{}",
        run.stderr
    );
}

#[test]
fn changed_applied_file_is_refused() {
    let (p, before) = applied_base();
    let path = p.path().join("migrations/shop/0001_initial.lua");
    let mut text = std::fs::read_to_string(&path).unwrap();
    text.push_str("-- an innocent comment\n");
    std::fs::write(&path, text).unwrap();
    p.migration(
        "shop",
        "0002_b",
        &mig(&[("shop", "0001_initial")], &create("B")),
    );
    let run = p.luamig(&["migrate"]).fails();
    assert!(run.stderr.contains("shop.0001_initial"), "{}", run.stderr);
    assert!(
        run.stderr.contains("migrations/shop/0001_initial.lua"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("changed"), "{}", run.stderr);
    assert_unchanged(&p, &before);
    p.luamig(&["check"]).fails();
}

#[test]
fn deleted_applied_file_is_refused() {
    let (p, _) = applied_base();
    p.migration(
        "shop",
        "0002_b",
        &mig(&[("shop", "0001_initial")], &create("B")),
    );
    p.luamig(&["migrate"]).ok();
    let before = p.db_bytes();
    std::fs::remove_file(p.path().join("migrations/shop/0002_b.lua")).unwrap();
    let run = p.luamig(&["migrate"]).fails();
    assert!(run.stderr.contains("shop.0002_b"), "{}", run.stderr);
    assert_unchanged(&p, &before);
    p.luamig(&["check"]).fails();
}

#[test]
fn applied_migrations_of_uninstalled_apps_are_ignored() {
    let p = Project::new();
    p.migration("shop", "0001_initial", &mig(&[], &create("A")));
    p.migration("old", "0001_initial", &mig(&[], &create("A")));
    p.luamig(&["migrate"]).ok();
    std::fs::remove_dir_all(p.path().join("migrations/old")).unwrap();
    p.luamig(&["check"]).ok();
    p.luamig(&["migrate"]).ok();
}

// ---------------------------------------------------------------------------------------------
// Running
// ---------------------------------------------------------------------------------------------

#[test]
fn irreversible_operation_in_backwards_plan_unapplies_nothing() {
    let (p, _) = applied_base();
    let src = mig(
        &[("shop", "0001_initial")],
        &format!(
            "{}\n    migrations.RunSQL(\"UPDATE shop_a SET n = n + 1\"),",
            create("B")
        ),
    );
    let line = line_of(&src, "RunSQL");
    p.migration("shop", "0002_irrev", &src);
    p.migration(
        "shop",
        "0003_c",
        &mig(&[("shop", "0002_irrev")], &create("C")),
    );
    p.luamig(&["migrate"]).ok();
    let before = p.db_bytes();
    let run = p.luamig(&["migrate", "shop", "zero"]).fails();
    assert!(run.stderr.contains("shop.0002_irrev"), "{}", run.stderr);
    assert!(run.stderr.contains("RunSQL"), "{}", run.stderr);
    assert!(
        run.stderr
            .contains(&format!("migrations/shop/0002_irrev.lua:{line}")),
        "line {line}: {}",
        run.stderr
    );
    assert!(!run.stdout.contains("Unapplying"), "{}", run.stdout);
    assert_unchanged(&p, &before);
    assert_eq!(p.applied().len(), 3);
    // Unapplying only the reversible one works.
    p.luamig(&["migrate", "shop", "0002"]).ok();
    assert_eq!(p.applied().len(), 2);
    // --plan marks it.
    let run = p.luamig(&["migrate", "shop", "zero", "--plan"]).ok();
    assert!(run.stdout.contains("IRREVERSIBLE"), "{}", run.stdout);
}

#[test]
fn irreversible_run_lua_in_backwards_plan_unapplies_nothing() {
    let (p, _) = applied_base();
    p.migration(
        "shop",
        "0002_lua",
        &mig(
            &[("shop", "0001_initial")],
            "    migrations.RunLua(function(apps, schema_editor) end),",
        ),
    );
    p.luamig(&["migrate"]).ok();
    let before = p.db_bytes();
    let run = p.luamig(&["migrate", "shop", "zero"]).fails();
    assert!(
        run.stderr.contains("shop.0002_lua") && run.stderr.contains("RunLua"),
        "{}",
        run.stderr
    );
    assert_unchanged(&p, &before);
}

#[test]
fn failing_run_sql_in_atomic_migration_changes_nothing() {
    let (p, before) = applied_base();
    let src = mig(
        &[("shop", "0001_initial")],
        &format!(
            "{}\n    migrations.RunSQL(\"INSERT INTO shop_b (n) VALUES (1)\", migrations.RunSQL.noop),\n    migrations.RunSQL(\"INSERT INTO no_such_table VALUES (1)\", migrations.RunSQL.noop),",
            create("B")
        ),
    );
    let line = line_of(&src, "no_such_table");
    p.migration("shop", "0002_bad", &src);
    let run = p.luamig(&["migrate"]).fails();
    assert!(run.stderr.contains("no_such_table"), "{}", run.stderr);
    assert!(run.stderr.contains("shop.0002_bad"), "{}", run.stderr);
    assert!(
        run.error_line()
            .contains(&format!("migrations/shop/0002_bad.lua:{line}")),
        "line {line}: {}",
        run.stderr
    );
    assert!(
        run.stderr.contains("operation 3 (RunSQL)"),
        "{}",
        run.stderr
    );
    assert_unchanged(&p, &before);
    assert_eq!(p.applied(), s(&["shop.0001_initial"]));
}

#[test]
fn failing_schema_operation_error_names_the_migration_file() {
    let (p, before) = applied_base();
    p.exec("CREATE TABLE shop_b (x integer)");
    let before2 = p.db_bytes();
    let src = mig(&[("shop", "0001_initial")], &create("B"));
    let line = line_of(&src, "CreateModel");
    p.migration("shop", "0002_clash", &src);
    let run = p.luamig(&["migrate"]).fails();
    assert!(run.stderr.contains("shop.0002_clash"), "{}", run.stderr);
    assert!(
        run.stderr.contains("operation 1 (CreateModel)"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains(&format!("migrations/shop/0002_clash.lua:{line}")),
        "line {line}: {}",
        run.stderr
    );
    assert!(!run.stderr.contains("<embedded>"), "{}", run.stderr);
    assert!(p.db_bytes() == before2 && before != before2);
}

#[test]
fn failing_run_lua_names_file_and_line_and_rolls_back() {
    let (p, before) = applied_base();
    let src = mig(
        &[("shop", "0001_initial")],
        &format!(
            "{}\n    migrations.RunLua(function(apps, schema_editor)\n      schema_editor:execute(\"INSERT INTO shop_b (n) VALUES (%s)\", {{5}})\n      error(\"backfill broke\")\n    end),",
            create("B")
        ),
    );
    let line = line_of(&src, "backfill broke");
    p.migration("shop", "0002_lua", &src);
    let run = p.luamig(&["migrate"]).fails();
    assert!(run.stderr.contains("backfill broke"), "{}", run.stderr);
    assert!(
        run.stderr
            .contains(&format!("migrations/shop/0002_lua.lua:{line}")),
        "line {line}: {}",
        run.stderr
    );
    assert!(
        run.stderr.contains("operation 2 (RunLua)"),
        "{}",
        run.stderr
    );
    assert_unchanged(&p, &before);
}

#[test]
fn failing_operation_in_non_atomic_migration_reports_what_stayed() {
    let (p, _) = applied_base();
    let src = format!(
        "{HEAD}return migrations.Migration {{\n  atomic = false,\n  dependencies = {{ {{\"shop\", \"0001_initial\"}} }},\n  operations = {{\n    {}\n    migrations.RunSQL(\"INSERT INTO no_such_table VALUES (1)\"),\n  }},\n}}\n",
        create("B")
    );
    p.migration("shop", "0002_loose", &src);
    let run = p.luamig(&["migrate"]).fails();
    assert!(
        run.stderr.contains("operation 2 (RunSQL)"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("shop.0002_loose"), "{}", run.stderr);
    assert!(run.stderr.contains("stayed applied"), "{}", run.stderr);
    assert!(
        run.stderr.contains("migrations/shop/0002_loose.lua:8"),
        "{}",
        run.stderr
    );
    // The first operation stayed; the migration is not recorded.
    assert!(p.tables().contains(&"shop_b".to_string()));
    assert_eq!(p.applied(), s(&["shop.0001_initial"]));
}

#[test]
fn add_field_to_missing_model_fails_before_anything_runs() {
    let p = Project::new();
    p.migration("shop", "0001_initial", &mig(&[], &create("A")));
    let src = mig(
        &[("shop", "0001_initial")],
        "    migrations.AddField { model_name = \"ghost\", name = \"x\", field = models.IntegerField { null = true } },",
    );
    let line = line_of(&src, "AddField");
    p.migration("shop", "0002_ghost", &src);
    let run = p.luamig(&["migrate"]).fails();
    assert!(run.stderr.contains("ghost"), "{}", run.stderr);
    assert!(
        run.stderr
            .contains(&format!("migrations/shop/0002_ghost.lua:{line}")),
        "line {line}: {}",
        run.stderr
    );
    // Checked before anything is applied: even 0001 did not run.
    assert!(p.applied().is_empty());
    assert!(!p.db_path().exists() || !p.tables().contains(&"shop_a".to_string()));
}

#[test]
fn foreign_key_to_missing_model_fails_before_anything_runs() {
    let p = Project::new();
    p.migration("shop", "0001_initial", &mig(&[], &create("A")));
    let src = mig(
        &[("shop", "0001_initial")],
        "    migrations.CreateModel { name = \"B\", fields = {\n      {\"a\", models.ForeignKey { to = \"shop.Nope\", on_delete = models.CASCADE }},\n    }},",
    );
    p.migration("shop", "0002_fk", &src);
    let run = p.luamig(&["migrate"]).fails();
    assert!(
        run.stderr.contains("shop.Nope") || run.stderr.contains("shop.nope"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("migrations/shop/0002_fk.lua"),
        "{}",
        run.stderr
    );
    assert!(p.applied().is_empty());
    assert!(!p.db_path().exists() || !p.tables().contains(&"shop_a".to_string()));
}

#[test]
fn remove_missing_field_fails_with_location() {
    let (p, before) = applied_base();
    let src = mig(
        &[("shop", "0001_initial")],
        "    migrations.RemoveField { model_name = \"a\", name = \"nope\" },",
    );
    let line = line_of(&src, "RemoveField");
    p.migration("shop", "0002_rm", &src);
    let run = p.luamig(&["migrate"]).fails();
    assert!(run.stderr.contains("nope"), "{}", run.stderr);
    assert!(
        run.stderr
            .contains(&format!("migrations/shop/0002_rm.lua:{line}")),
        "line {line}: {}",
        run.stderr
    );
    assert_unchanged(&p, &before);
}

#[test]
fn broken_file_in_another_app_blocks_everything() {
    let p = Project::new();
    p.migration("shop", "0001_initial", &mig(&[], &create("A")));
    p.migration(
        "zeta",
        "0001_initial",
        &format!(
            "{HEAD}return migrations.Migration {{ operations = {{ migrations.Bogus {{}} }} }}\n"
        ),
    );
    let run = p.luamig(&["migrate", "shop"]).fails();
    assert!(
        run.stderr.contains("migrations/zeta/0001_initial.lua:3"),
        "{}",
        run.stderr
    );
    assert!(p.applied().is_empty());
}
