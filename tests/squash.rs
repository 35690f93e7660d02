//! Squashed migrations (`replaces`): used when none or all of the replaced ones are applied,
//! left out when only some are, as in Django.

mod backends;
use backends::Env;

const HEAD: &str = "local migrations = require(\"luamig.migrations\")\nlocal models = require(\"luamig.models\")\n";

fn write_history(env: &Env) {
    env.write(
        "migrations/app/0001_initial.lua",
        &format!("{HEAD}return migrations.Migration {{ operations = {{ migrations.CreateModel {{ name = \"A\", fields = {{ {{\"x\", models.IntegerField()}} }} }} }} }}"),
    );
    env.write(
        "migrations/app/0002_b.lua",
        &format!("{HEAD}return migrations.Migration {{ dependencies = {{ {{\"app\", \"0001_initial\"}} }}, operations = {{ migrations.AddField {{ model_name = \"a\", name = \"y\", field = models.IntegerField {{ null = true }} }} }} }}"),
    );
}

fn write_squash(env: &Env) {
    env.write(
        "migrations/app/0001_squashed_0002_b.lua",
        &format!("{HEAD}return migrations.Migration {{ replaces = {{ {{\"app\", \"0001_initial\"}}, {{\"app\", \"0002_b\"}} }}, operations = {{ migrations.CreateModel {{ name = \"A\", fields = {{ {{\"x\", models.IntegerField()}}, {{\"y\", models.IntegerField {{ null = true }}}} }} }} }} }}"),
    );
}

fn recorded(env: &Env) -> Vec<String> {
    env.rows("SELECT name FROM luamig_migrations ORDER BY name")
        .into_iter()
        .map(|r| r[0].clone())
        .collect()
}

fn squash_used_on_a_fresh_database(env: &Env) {
    write_history(env);
    write_squash(env);
    let run = env.luamig(&["migrate"]).ok();
    assert!(
        run.stdout
            .contains("Applying app.0001_squashed_0002_b... OK"),
        "{}",
        run.stdout
    );
    assert!(
        !run.stdout.contains("Applying app.0002_b"),
        "{}",
        run.stdout
    );
    assert_eq!(
        recorded(env),
        vec!["0001_initial", "0001_squashed_0002_b", "0002_b"]
    );
    let shown = env.luamig(&["showmigrations"]).ok();
    assert!(
        shown
            .stdout
            .contains(" [X] 0001_squashed_0002_b (2 squashed migrations)"),
        "{}",
        shown.stdout
    );
    // Once applied everywhere, the replaced files can go.
    std::fs::remove_file(env.path().join("migrations/app/0001_initial.lua")).expect("rm");
    std::fs::remove_file(env.path().join("migrations/app/0002_b.lua")).expect("rm");
    let again = env.luamig(&["migrate"]).ok();
    assert!(
        again.stdout.contains("No migrations to apply."),
        "{}",
        again.stdout
    );
    env.luamig(&["migrate", "app", "zero"]).ok();
    assert!(recorded(env).is_empty());
}

fn replaced_migrations_used_when_partly_applied(env: &Env) {
    write_history(env);
    env.luamig(&["migrate", "app", "0001"]).ok();
    write_squash(env);
    let run = env.luamig(&["migrate"]).ok();
    assert!(
        run.stdout.contains("Applying app.0002_b... OK"),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains("squashed"), "{}", run.stdout);
    assert_eq!(env.value("SELECT COUNT(*) FROM app_a"), "0");
}

on_both_backends!(
    squash_used_on_a_fresh_database,
    replaced_migrations_used_when_partly_applied
);
