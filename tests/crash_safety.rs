//! Crash safety on both backends: a `migrate` killed with SIGKILL at any point leaves each
//! migration either wholly applied and recorded or not at all, and the next `migrate`
//! finishes the job; Ctrl-C (SIGINT) rolls back the current migration, says so and exits 1,
//! even in a runaway Lua loop or a long SQL statement.

#[macro_use]
mod backends;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use backends::{Env, HEAD, mig};

/// 0001 makes a table and fills it; 0002 changes the schema around a long per-row RunLua,
/// the shape of a real backfill.
fn write_project(env: &Env, rows: usize) {
    env.migration(
        "shop",
        "0001_initial",
        &mig(
            &[],
            &format!(
                r#"migrations.CreateModel {{ name = "Item", fields = {{
      {{"id", models.AutoField {{ primary_key = true }}}},
      {{"name", models.CharField {{ max_length = 50 }}}},
    }}}},
    migrations.RunLua(function(apps)
      local Item = apps.get_model("shop", "Item")
      local batch = {{}}
      for i = 1, {rows} do batch[#batch + 1] = {{ name = "Item " .. i }} end
      Item.objects:bulk_create(batch)
    end, migrations.RunLua.noop),"#
            ),
        ),
    );
    env.migration(
        "shop",
        "0002_slug",
        &mig(
            &[("shop", "0001_initial")],
            r#"migrations.AddField { model_name = "item", name = "slug",
      field = models.SlugField { max_length = 60, default = "" } },
    migrations.RunLua(function(apps)
      local text = require("luamig.text")
      local Item = apps.get_model("shop", "Item")
      local marker = os.getenv("LUAMIG_TEST_MARKER")
      if marker then local f = io.open(marker, "w"); f:write("started"); f:close() end
      for item in Item.objects:filter{ slug = "" }:iterator(100) do
        item.slug = text.slugify(item.name)
        item:save{ update_fields = { "slug" } }
      end
      if os.getenv("LUAMIG_TEST_LOOP") == "lua" then
        while true do pcall(function() end) end
      end
      if os.getenv("LUAMIG_TEST_LOOP") == "heavy" then
        while true do pcall(function() local x = 0; for i = 1, 1000 do x = x + i end end) end
      end
    end, migrations.RunLua.noop),
    migrations.AlterField { model_name = "item", name = "slug",
      field = models.SlugField { max_length = 60, unique = true } },"#,
        ),
    );
}

/// Everything a migration changes, recorder rows by name only (not their timestamps).
fn dump(env: &Env) -> String {
    let mut out = String::new();
    for table in env.tables() {
        if table == "luamig_migrations" {
            continue;
        }
        out.push_str(&format!("{table}: {:?}\n", env.columns(&table)));
        out.push_str(&format!("  indexes {:?}\n", env.index_details(&table)));
        out.push_str(&format!("  fks {:?}\n", env.foreign_keys(&table)));
        let mut rows = env.rows(&format!("SELECT * FROM \"{table}\""));
        rows.sort();
        out.push_str(&format!("  rows {rows:?}\n"));
    }
    out.push_str(&format!("applied {:?}\n", env.applied()));
    out
}

/// Starts `luamig migrate` in the background with extra environment variables.
fn spawn_migrate(env: &Env, vars: &[(&str, &str)]) -> Child {
    env.command(&["migrate"])
        .envs(vars.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start luamig")
}

/// Waits until the server has no other session on the test database, so a killed client's
/// transaction has been rolled back (or committed) before the test looks.
fn settle(env: &Env) {
    if !env.is_postgres() {
        return;
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        let others = env.scalar(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()",
        );
        if others == "0" {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("a killed luamig's session did not end");
}

fn wait_for(marker: &Path) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !marker.exists() {
        assert!(Instant::now() < deadline, "the migration never started");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Sends `signal` (`INT` or `TERM`) to `child`.
fn send_signal(child: &Child, signal: &str) {
    let status = Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
}

/// Kills `migrate` with SIGKILL at evenly spread moments of a full run: after each kill the
/// database holds exactly the state before 0001, after 0001, or after 0002, matching the
/// recorder; the next `migrate` then finishes the job.
fn sigkill_at_any_point_leaves_whole_migrations(env: &Env) {
    const CRASH_POINTS: u32 = 12;
    write_project(env, 1500);

    // The three states a crash may leave, and how long a whole run takes.
    let empty = dump(env);
    env.luamig(&["migrate", "shop", "0001"]).ok();
    let after_first = dump(env);
    let started = Instant::now();
    env.luamig(&["migrate"]).ok();
    let full_run = started.elapsed() + Duration::from_millis(1);
    let after_second = dump(env);
    // The first run's duration is the second migration's; a whole run is about twice that.
    let whole = full_run * 2;

    let mut seen = std::collections::BTreeSet::new();
    for point in 0..CRASH_POINTS {
        env.luamig(&["migrate", "shop", "zero"]).ok();
        assert_eq!(dump(env), empty, "unapplying all must give the empty state");

        let mut child = spawn_migrate(env, &[]);
        std::thread::sleep(whole * point / CRASH_POINTS);
        let _ = child.kill();
        let _ = child.wait();
        settle(env);

        let now = dump(env);
        let which = if now == empty {
            "nothing"
        } else if now == after_first {
            "0001"
        } else if now == after_second {
            "0002"
        } else {
            panic!(
                "crash point {point}: the database is between migrations:\n{now}\nexpected one of:\n{empty}\n{after_first}\n{after_second}"
            );
        };
        seen.insert(which);

        env.luamig(&["migrate"]).ok();
        assert_eq!(
            dump(env),
            after_second,
            "crash point {point}: the next migrate finishes"
        );
    }
    // The spread of moments must really reach inside the run, not only before or after it.
    assert!(
        seen.len() >= 2,
        "crash points all landed in one state: {seen:?}"
    );
}

/// Ctrl-C in a runaway Lua loop (one that even swallows errors with pcall, around a short or
/// a long body) stops it, rolls the migration back, says so, and exits 1; SIGTERM too.
fn sigint_stops_a_runaway_runlua_and_rolls_back(env: &Env) {
    write_project(env, 300);
    env.luamig(&["migrate", "shop", "0001"]).ok();
    let before = env.snapshot();
    for (variant, signal) in [("lua", "INT"), ("heavy", "INT"), ("lua", "TERM")] {
        let (out, _) = interrupt_once_started(env, &[("LUAMIG_TEST_LOOP", variant)], signal, 100);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{variant}: {stderr}");
        assert!(
            stderr.contains(
                "error: interrupted\n  in shop.0002_slug, operation 2 (RunLua)\n  shop.0002_slug rolled back: the database is as it was before it"
            ),
            "{variant}: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
        settle(env);
        assert_eq!(
            env.snapshot(),
            before,
            "{variant}: the interrupted migration left no trace"
        );
        assert_eq!(env.applied(), ["shop.0001_initial"]);
    }
    env.luamig(&["migrate"]).ok();
    assert_eq!(env.applied(), ["shop.0001_initial", "shop.0002_slug"]);
}

/// Starts `migrate` with `vars`, waits for the marker file its migration code writes (named
/// by `LUAMIG_TEST_MARKER`), lets it run `pause_ms` more, and sends `signal`; returns its
/// output and how long it took to stop after the signal.
fn interrupt_once_started(
    env: &Env,
    vars: &[(&str, &str)],
    signal: &str,
    pause_ms: u64,
) -> (std::process::Output, Duration) {
    let marker = env.path().join("started");
    let _ = std::fs::remove_file(&marker);
    let marker_text = marker.to_string_lossy().into_owned();
    let mut all = vec![("LUAMIG_TEST_MARKER", marker_text.as_str())];
    all.extend_from_slice(vars);
    let child = spawn_migrate(env, &all);
    wait_for(&marker);
    std::thread::sleep(Duration::from_millis(pause_ms));
    let sent = Instant::now();
    send_signal(&child, signal);
    let out = wait_with_timeout(child, Duration::from_secs(30));
    (out, sent.elapsed())
}

/// The output of `child`, which must end within `limit` (else it is killed and the test fails).
fn wait_with_timeout(mut child: Child, limit: Duration) -> std::process::Output {
    let deadline = Instant::now() + limit;
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().expect("wait");
            panic!(
                "luamig did not stop within {limit:?}:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    child.wait_with_output().expect("wait")
}

/// Ctrl-C while the database runs a long statement cancels the statement (SQLite's
/// interrupt, PostgreSQL's cancel request) and rolls back.
fn sigint_cancels_a_long_statement(env: &Env) {
    let endless = env.pick(
        // Counts forever: only an interrupt ends it.
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c",
        "SELECT pg_sleep(600)",
    );
    env.migration(
        "shop",
        "0001_initial",
        &format!(
            r#"{HEAD}return migrations.Migration {{
  operations = {{
    migrations.CreateModel {{ name = "Item", fields = {{ {{"id", models.AutoField {{ primary_key = true }}}} }} }},
    migrations.RunLua(function(apps, schema_editor)
      local f = io.open(os.getenv("LUAMIG_TEST_MARKER"), "w"); f:write("x"); f:close()
      schema_editor:query("{endless}")
    end),
  }},
}}
"#
        ),
    );
    let (out, stopped_in) = interrupt_once_started(env, &[], "INT", 200);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stopped_in < Duration::from_secs(20),
        "the statement was not cancelled"
    );
    assert!(
        stderr.contains(
            "error: interrupted\n  in shop.0001_initial, operation 2 (RunLua)\n  shop.0001_initial rolled back"
        ),
        "{stderr}"
    );
    settle(env);
    assert!(
        !env.has_table("shop_item"),
        "the CreateModel was rolled back"
    );
    assert_eq!(env.applied(), Vec::<String>::new());
}

/// Ctrl-C before anything is written (here, a migration file that never finishes loading)
/// exits at once with `error: interrupted`, leaving the database untouched.
fn sigint_while_loading_exits_at_once(env: &Env) {
    write_project(env, 10);
    env.luamig(&["migrate", "shop", "0001"]).ok();
    let before = env.snapshot();
    env.migration(
        "shop",
        "0003_endless",
        &format!(
            r#"{HEAD}local f = io.open(os.getenv("LUAMIG_TEST_MARKER"), "w"); f:write("x"); f:close()
while true do end
"#
        ),
    );
    let (out, stopped_in) = interrupt_once_started(env, &[], "INT", 100);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stopped_in < Duration::from_secs(10), "not stopped");
    assert_eq!(stderr, "error: interrupted\n");
    settle(env);
    assert_eq!(env.snapshot(), before, "nothing was written");
}

/// Finished migrations are committed in groups (a savepoint each); a failure later in the
/// run still keeps every migration that finished before it, and a foreign key broken by one
/// migration is reported by that migration, not by the group's commit.
fn a_failure_keeps_what_finished_in_the_same_run(env: &Env) {
    env.migration(
        "shop",
        "0001_initial",
        &mig(
            &[],
            r#"migrations.CreateModel { name = "Owner", fields = { {"id", models.AutoField { primary_key = true }} } },
    migrations.CreateModel { name = "Item", fields = {
      {"id", models.AutoField { primary_key = true }},
      {"owner", models.ForeignKey { to = "shop.Owner", on_delete = models.CASCADE }},
    }},"#,
        ),
    );
    env.migration(
        "shop",
        "0002_owner",
        &mig(
            &[("shop", "0001_initial")],
            r#"migrations.RunSQL { sql = "INSERT INTO shop_owner (id) VALUES (1)", reverse_sql = migrations.RunSQL.noop },"#,
        ),
    );
    env.migration(
        "shop",
        "0003_orphan",
        &mig(
            &[("shop", "0002_owner")],
            r#"migrations.RunSQL { sql = "INSERT INTO shop_item (id, owner_id) VALUES (1, 42)", reverse_sql = migrations.RunSQL.noop },"#,
        ),
    );
    let run = env.luamig(&["migrate"]).fails();
    assert!(run.stderr.contains("in shop.0003_orphan"), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("shop.0003_orphan rolled back: the database is as it was before it"),
        "{}",
        run.stderr
    );
    assert_eq!(env.applied(), ["shop.0001_initial", "shop.0002_owner"]);
    assert_eq!(env.scalar("SELECT count(*) FROM shop_owner"), "1");
    assert_eq!(env.scalar("SELECT count(*) FROM shop_item"), "0");
}

/// History rows go out with their group's commit; when they cannot be written, the
/// group's migrations roll back with them and the error says which.
fn unwritable_history_rolls_back_its_group_and_says_so(env: &Env) {
    env.migration(
        "shop",
        "0001_initial",
        &mig(
            &[],
            r#"migrations.CreateModel { name = "Owner", fields = { {"id", models.AutoField { primary_key = true }} } },"#,
        ),
    );
    let refuse_history = env.pick(
        r#"CREATE TRIGGER refuse BEFORE INSERT ON luamig_migrations BEGIN SELECT RAISE(ABORT, 'history is closed'); END"#,
        r#"CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'history is closed'; END $$ LANGUAGE plpgsql; CREATE TRIGGER refuse BEFORE INSERT ON luamig_migrations FOR EACH ROW EXECUTE FUNCTION refuse()"#,
    );
    env.migration(
        "shop",
        "0002_close",
        &mig(
            &[("shop", "0001_initial")],
            &format!(
                r#"migrations.RunSQL {{ sql = [[{refuse_history}]], reverse_sql = migrations.RunSQL.noop }},"#
            ),
        ),
    );
    let run = env.luamig(&["migrate"]).fails();
    assert!(
        run.stderr
            .contains("cannot record shop.0001_initial, shop.0002_close as applied"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("history is closed"), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("rolled back with them: the database is as it was before them"),
        "{}",
        run.stderr
    );
    assert_eq!(env.applied(), Vec::<String>::new());
    assert!(!env.has_table("shop_owner"));
    // The trigger went with them: the next run records 0001 once 0002 is gone.
    std::fs::remove_file(env.path().join("migrations/shop/0002_close.lua")).unwrap();
    env.luamig(&["migrate"]).ok();
    assert_eq!(env.applied(), ["shop.0001_initial"]);
}

on_both_backends!(
    unwritable_history_rolls_back_its_group_and_says_so,
    sigkill_at_any_point_leaves_whole_migrations,
    sigint_stops_a_runaway_runlua_and_rolls_back,
    sigint_cancels_a_long_statement,
    sigint_while_loading_exits_at_once,
    a_failure_keeps_what_finished_in_the_same_run,
);
