//! Every command and flag of the command line (SPEC section 7), settings and database URLs.

mod common;
use common::{Project, mig};

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

fn create(model: &str) -> String {
    format!(
        "migrations.CreateModel {{ name = \"{model}\", fields = {{ {{\"n\", models.IntegerField {{ null = true }}}} }} }},"
    )
}

/// Two apps: orders 0001..0003 (tables order, customer, extra), pages 0001 depending on
/// orders 0002 (table page).
fn two_apps() -> Project {
    let p = Project::new();
    p.migration("orders", "0001_initial", &mig(&[], &create("Order")));
    p.migration(
        "orders",
        "0002_customer",
        &mig(&[("orders", "0001_initial")], &create("Customer")),
    );
    p.migration(
        "orders",
        "0003_extra",
        &mig(&[("orders", "0002_customer")], &create("Extra")),
    );
    p.migration(
        "pages",
        "0001_initial",
        &mig(&[("orders", "0002_customer")], &create("Page")),
    );
    p
}

// ---------------------------------------------------------------------------------------------
// migrate
// ---------------------------------------------------------------------------------------------

#[test]
fn migrate_prints_progress_and_records_checksums() {
    let p = two_apps();
    let run = p.luamig(&["migrate"]).ok();
    let lines: Vec<&str> = run
        .stdout
        .lines()
        .filter(|l| l.starts_with("  Applying"))
        .collect();
    for want in [
        "  Applying orders.0001_initial... OK",
        "  Applying orders.0002_customer... OK",
        "  Applying orders.0003_extra... OK",
        "  Applying pages.0001_initial... OK",
    ] {
        assert!(lines.contains(&want), "{want} missing:\n{}", run.stdout);
    }
    assert_eq!(lines.len(), 4, "{}", run.stdout);
    // Dependency order: pages.0001 after orders.0002.
    let pos = |needle: &str| {
        run.stdout
            .find(needle)
            .unwrap_or_else(|| panic!("{needle} missing:\n{}", run.stdout))
    };
    assert!(pos("orders.0001_initial") < pos("orders.0002_customer"));
    assert!(pos("orders.0002_customer") < pos("pages.0001_initial"));
    assert!(pos("orders.0002_customer") < pos("orders.0003_extra"));
    assert_eq!(
        p.columns("luamig_migrations")
            .iter()
            .map(|c| c.split(' ').next().unwrap().to_string())
            .collect::<Vec<_>>(),
        s(&["id", "app", "name", "applied", "checksum"])
    );
    // The checksum is the SHA-256 of the file's bytes.
    let bytes = std::fs::read(p.path().join("migrations/orders/0001_initial.lua")).unwrap();
    let sum = p.scalar(
        "SELECT checksum FROM luamig_migrations WHERE app = 'orders' AND name = '0001_initial'",
    );
    assert_eq!(sum.len(), 64);
    assert_eq!(sum, sha256_hex(&bytes));
    // Nothing left.
    let again = p.luamig(&["migrate"]).ok();
    assert!(
        again.stdout.contains("  No migrations to apply."),
        "{}",
        again.stdout
    );
    assert!(!again.stdout.contains("Applying"), "{}", again.stdout);
}

/// A small SHA-256 (FIPS 180-4) so the test does not trust luamig's own.
fn sha256_hex(data: &[u8]) -> String {
    const K: [u32; 64] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
        0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
        0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
        0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
        0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
        0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
        0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
        0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
        0xc67178f2,
    ];
    let mut h: [u32; 8] = [
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
        0x5be0cd19,
    ];
    let mut msg = data.to_vec();
    let bits = (data.len() as u64) * 8;
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&bits.to_be_bytes());
    for chunk in msg.chunks(64) {
        let mut w = [0u32; 64];
        for i in 0..16 {
            w[i] = u32::from_be_bytes([
                chunk[4 * i],
                chunk[4 * i + 1],
                chunk[4 * i + 2],
                chunk[4 * i + 3],
            ]);
        }
        for i in 16..64 {
            let s0 = w[i - 15].rotate_right(7) ^ w[i - 15].rotate_right(18) ^ (w[i - 15] >> 3);
            let s1 = w[i - 2].rotate_right(17) ^ w[i - 2].rotate_right(19) ^ (w[i - 2] >> 10);
            w[i] = w[i - 16]
                .wrapping_add(s0)
                .wrapping_add(w[i - 7])
                .wrapping_add(s1);
        }
        let mut v = h;
        for i in 0..64 {
            let s1 = v[4].rotate_right(6) ^ v[4].rotate_right(11) ^ v[4].rotate_right(25);
            let ch = (v[4] & v[5]) ^ (!v[4] & v[6]);
            let t1 = v[7]
                .wrapping_add(s1)
                .wrapping_add(ch)
                .wrapping_add(K[i])
                .wrapping_add(w[i]);
            let s0 = v[0].rotate_right(2) ^ v[0].rotate_right(13) ^ v[0].rotate_right(22);
            let maj = (v[0] & v[1]) ^ (v[0] & v[2]) ^ (v[1] & v[2]);
            let t2 = s0.wrapping_add(maj);
            v = [
                t1.wrapping_add(t2),
                v[0],
                v[1],
                v[2],
                v[3].wrapping_add(t1),
                v[4],
                v[5],
                v[6],
            ];
        }
        for i in 0..8 {
            h[i] = h[i].wrapping_add(v[i]);
        }
    }
    h.iter().map(|x| format!("{x:08x}")).collect()
}

#[test]
fn sha256_helper_is_correct() {
    assert_eq!(
        sha256_hex(b"abc"),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
}

#[test]
fn migrate_app_applies_only_that_app_and_its_dependencies() {
    let p = two_apps();
    let run = p.luamig(&["migrate", "pages"]).ok();
    assert!(
        run.stdout.contains("  Applying pages.0001_initial... OK"),
        "{}",
        run.stdout
    );
    assert_eq!(
        p.applied(),
        s(&[
            "orders.0001_initial",
            "orders.0002_customer",
            "pages.0001_initial"
        ])
    );
    assert!(!p.tables().contains(&"orders_extra".to_string()));
}

#[test]
fn migrate_app_target_by_full_name_prefix_and_zero() {
    let p = two_apps();
    let run = p.luamig(&["migrate", "orders", "0001_initial"]).ok();
    assert!(
        run.stdout.contains("Applying orders.0001_initial... OK"),
        "{}",
        run.stdout
    );
    assert_eq!(p.applied(), s(&["orders.0001_initial"]));
    p.luamig(&["migrate", "orders", "0003"]).ok();
    assert_eq!(
        p.applied(),
        s(&[
            "orders.0001_initial",
            "orders.0002_customer",
            "orders.0003_extra"
        ])
    );
    let run = p.luamig(&["migrate", "orders", "0002"]).ok();
    assert!(
        run.stdout.contains("  Unapplying orders.0003_extra... OK"),
        "{}",
        run.stdout
    );
    assert!(!p.tables().contains(&"orders_extra".to_string()));
    assert!(p.tables().contains(&"orders_customer".to_string()));
    let run = p.luamig(&["migrate", "orders", "zero"]).ok();
    assert!(
        run.stdout
            .contains("  Unapplying orders.0002_customer... OK"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("  Unapplying orders.0001_initial... OK"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.find("0002_customer").unwrap() < run.stdout.find("0001_initial").unwrap());
    assert_eq!(p.applied(), Vec::<String>::new());
    assert_eq!(p.tables(), s(&["luamig_migrations"]));
}

#[test]
fn migrate_ambiguous_prefix_lists_matches_and_changes_nothing() {
    let p = two_apps();
    p.migration("orders", "0004_a", &mig(&[("orders", "0003_extra")], ""));
    p.migration("orders", "0004_b", &mig(&[("orders", "0004_a")], ""));
    let run = p.luamig(&["migrate", "orders", "0004"]).fails();
    assert!(
        run.stderr.contains("0004_a") && run.stderr.contains("0004_b"),
        "{}",
        run.stderr
    );
    assert!(!p.db_path().exists() || p.applied().is_empty());
    let run = p.luamig(&["migrate", "orders", "0009_nope"]).fails();
    assert!(run.stderr.contains("0009_nope"), "{}", run.stderr);
    assert!(!p.db_path().exists() || p.applied().is_empty());
}

#[test]
fn migrate_unknown_app_or_app_without_migrations_fails() {
    let p = two_apps();
    let run = p.luamig(&["migrate", "nosuch"]).fails();
    assert!(run.stderr.contains("nosuch"), "{}", run.stderr);
    std::fs::create_dir_all(p.path().join("migrations/empty")).unwrap();
    let run = p.luamig(&["migrate", "empty"]).fails();
    assert!(run.stderr.contains("empty"), "{}", run.stderr);
}

#[test]
fn moving_an_app_back_unapplies_dependents_in_other_apps() {
    let p = two_apps();
    p.luamig(&["migrate"]).ok();
    let run = p.luamig(&["migrate", "orders", "0001"]).ok();
    assert!(
        run.stdout.contains("  Unapplying pages.0001_initial... OK"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("  Unapplying orders.0002_customer... OK"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.find("pages.0001_initial").unwrap()
            < run.stdout.find("orders.0002_customer").unwrap()
    );
    assert_eq!(p.applied(), s(&["orders.0001_initial"]));
    assert_eq!(p.tables(), s(&["luamig_migrations", "orders_order"]));
}

#[test]
fn fake_records_without_running_both_ways() {
    let p = two_apps();
    let run = p.luamig(&["migrate", "orders", "0001", "--fake"]).ok();
    assert!(
        run.stdout
            .contains("  Applying orders.0001_initial... FAKED"),
        "{}",
        run.stdout
    );
    assert_eq!(p.applied(), s(&["orders.0001_initial"]));
    assert_eq!(p.tables(), s(&["luamig_migrations"]));
    let run = p.luamig(&["migrate", "orders", "zero", "--fake"]).ok();
    assert!(
        run.stdout
            .contains("  Unapplying orders.0001_initial... FAKED"),
        "{}",
        run.stdout
    );
    assert!(p.applied().is_empty());
}

#[test]
fn fake_initial_skips_existing_tables_only() {
    let p = two_apps();
    // Django made the first table already.
    p.exec("CREATE TABLE orders_order (id integer NOT NULL PRIMARY KEY AUTOINCREMENT, n integer NULL); INSERT INTO orders_order (n) VALUES (5)");
    let run = p.luamig(&["migrate", "--fake-initial"]).ok();
    assert!(
        run.stdout
            .contains("  Applying orders.0001_initial... FAKED"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("  Applying orders.0002_customer... OK"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("  Applying pages.0001_initial... OK"),
        "{}",
        run.stdout
    );
    assert_eq!(p.scalar("SELECT n FROM orders_order"), "5");
    assert!(p.tables().contains(&"orders_customer".to_string()));
    assert_eq!(p.applied().len(), 4);
}

#[test]
fn fake_initial_applies_when_table_is_missing() {
    let p = two_apps();
    let run = p
        .luamig(&["migrate", "orders", "0001", "--fake-initial"])
        .ok();
    assert!(
        run.stdout.contains("  Applying orders.0001_initial... OK"),
        "{}",
        run.stdout
    );
    assert!(p.tables().contains(&"orders_order".to_string()));
}

#[test]
fn without_fake_initial_an_existing_table_is_an_error() {
    let p = two_apps();
    p.exec("CREATE TABLE orders_order (id integer primary key)");
    let run = p.luamig(&["migrate"]).fails();
    assert!(
        run.stderr.contains("orders_order") || run.stderr.contains("orders.0001_initial"),
        "{}",
        run.stderr
    );
    assert!(p.applied().is_empty());
    assert_eq!(p.columns("orders_order"), s(&["id INTEGER 0 1"]));
}

#[test]
fn plan_prints_and_creates_nothing() {
    let p = two_apps();
    let run = p.luamig(&["migrate", "--plan"]).ok();
    assert!(run.stdout.contains("Planned operations:"), "{}", run.stdout);
    assert!(run.stdout.contains("orders.0001_initial"), "{}", run.stdout);
    assert!(run.stdout.contains("Create model Order"), "{}", run.stdout);
    assert!(run.stdout.contains("pages.0001_initial"), "{}", run.stdout);
    assert!(
        !p.db_path().exists(),
        "--plan must not create the database file"
    );
    // With a database: no table, no rows.
    p.luamig(&["migrate", "orders", "0001"]).ok();
    let before = p.db_bytes();
    let run = p.luamig(&["migrate", "orders", "zero", "--plan"]).ok();
    assert!(
        run.stdout.contains("Undo Create model Order"),
        "{}",
        run.stdout
    );
    assert!(p.db_bytes() == before, "the database changed");
    assert_eq!(p.applied(), s(&["orders.0001_initial"]));
}

#[test]
fn plan_on_fresh_database_creates_no_history_table() {
    let p = two_apps();
    p.exec("CREATE TABLE unrelated (x integer)");
    p.luamig(&["migrate", "--plan"]).ok();
    assert_eq!(p.tables(), s(&["unrelated"]));
}

#[test]
fn check_flag_exits_1_when_unapplied_and_0_otherwise() {
    let p = two_apps();
    let run = p.luamig(&["migrate", "--check"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(
        !p.db_path().exists() || p.tables().is_empty(),
        "{:?}",
        p.tables()
    );
    p.luamig(&["migrate"]).ok();
    let run = p.luamig(&["migrate", "--check"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    p.luamig(&["migrate", "orders", "0002"]).ok();
    assert_eq!(p.luamig(&["migrate", "--check"]).code, 1);
    assert_eq!(p.applied().len(), 3);
}

// ---------------------------------------------------------------------------------------------
// showmigrations
// ---------------------------------------------------------------------------------------------

#[test]
fn showmigrations_layout_and_filter() {
    let p = two_apps();
    p.luamig(&["migrate", "orders", "0002"]).ok();
    let run = p.luamig(&["showmigrations"]).ok();
    assert_eq!(
        run.stdout,
        "orders\n [X] 0001_initial\n [X] 0002_customer\n [ ] 0003_extra\npages\n [ ] 0001_initial\n"
    );
    let run = p.luamig(&["showmigrations", "pages"]).ok();
    assert_eq!(run.stdout, "pages\n [ ] 0001_initial\n");
    let run = p.luamig(&["showmigrations", "--plan"]).ok();
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{}", run.stdout);
    assert_eq!(lines[0], "[X]  orders.0001_initial");
    assert_eq!(lines[1], "[X]  orders.0002_customer");
    assert!(lines.contains(&"[ ]  orders.0003_extra"), "{}", run.stdout);
    assert!(lines.contains(&"[ ]  pages.0001_initial"), "{}", run.stdout);
}

#[test]
fn showmigrations_without_database_creates_nothing() {
    let p = two_apps();
    let run = p.luamig(&["showmigrations"]).ok();
    assert!(run.stdout.contains(" [ ] 0001_initial"), "{}", run.stdout);
    assert!(!p.db_path().exists());
}

// ---------------------------------------------------------------------------------------------
// sqlmigrate
// ---------------------------------------------------------------------------------------------

#[test]
fn sqlmigrate_forwards_and_backwards() {
    let p = two_apps();
    let run = p.luamig(&["sqlmigrate", "orders", "0002"]).ok();
    assert_eq!(
        run.stdout,
        "BEGIN;\n--\n-- Create model Customer\n--\nCREATE TABLE \"orders_customer\" (\"id\" integer NOT NULL PRIMARY KEY AUTOINCREMENT, \"n\" integer NULL);\nCOMMIT;\n"
    );
    let run = p
        .luamig(&["sqlmigrate", "orders", "0002_customer", "--backwards"])
        .ok();
    assert_eq!(
        run.stdout,
        "BEGIN;\n--\n-- Create model Customer\n--\nDROP TABLE \"orders_customer\";\nCOMMIT;\n"
    );
    // sqlmigrate changes nothing.
    assert!(!p.db_path().exists() || p.tables().is_empty());
}

#[test]
fn sqlmigrate_backwards_of_irreversible_migration_fails() {
    let p = two_apps();
    p.migration(
        "orders",
        "0004_raw",
        &mig(
            &[("orders", "0003_extra")],
            r#"migrations.RunSQL("UPDATE orders_order SET n = 1"),"#,
        ),
    );
    let run = p
        .luamig(&["sqlmigrate", "orders", "0004", "--backwards"])
        .fails();
    assert!(run.stderr.contains("0004_raw"), "{}", run.stderr);
    assert!(run.stderr.contains("irreversible"), "{}", run.stderr);
    let run = p.luamig(&["sqlmigrate", "orders", "0004"]).ok();
    assert!(
        run.stdout.contains("UPDATE orders_order SET n = 1;"),
        "{}",
        run.stdout
    );
}

#[test]
fn sqlmigrate_non_atomic_has_no_transaction() {
    let p = Project::new();
    p.write(
        "migrations/a/0001_initial.lua",
        &format!(
            "{}return migrations.Migration {{ atomic = false, operations = {{ {} }} }}",
            common::HEAD,
            create("X")
        ),
    );
    let run = p.luamig(&["sqlmigrate", "a", "0001"]).ok();
    assert!(!run.stdout.contains("BEGIN;"), "{}", run.stdout);
    assert!(
        run.stdout.contains("CREATE TABLE \"a_x\""),
        "{}",
        run.stdout
    );
}

// ---------------------------------------------------------------------------------------------
// makemigrations
// ---------------------------------------------------------------------------------------------

#[test]
fn makemigrations_empty_writes_next_number_depending_on_leaf() {
    let p = two_apps();
    let run = p
        .luamig(&["makemigrations", "orders", "--empty", "--name", "backfill"])
        .ok();
    assert_eq!(run.stdout.trim(), "migrations/orders/0004_backfill.lua");
    let text =
        std::fs::read_to_string(p.path().join("migrations/orders/0004_backfill.lua")).unwrap();
    assert!(text.contains("\"orders\", \"0003_extra\""), "{text}");
    assert!(!text.contains("initial = true"), "{text}");
    // Without --name: still the next number.
    let run = p.luamig(&["makemigrations", "orders", "--empty"]).ok();
    assert!(
        run.stdout.trim().starts_with("migrations/orders/0005_"),
        "{}",
        run.stdout
    );
    let run = p.luamig(&["migrate"]).ok();
    assert!(
        run.stdout.contains("  Applying orders.0004_backfill... OK"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("  Applying orders.0005_"),
        "{}",
        run.stdout
    );
    assert_eq!(p.applied().len(), 6);
    let run = p.luamig(&["showmigrations", "orders"]).ok();
    assert!(
        run.stdout.contains(" [X] 0004_backfill\n [X] 0005_"),
        "{}",
        run.stdout
    );
}

#[test]
fn makemigrations_empty_for_new_app_writes_0001_initial() {
    let p = two_apps();
    let run = p.luamig(&["makemigrations", "blog", "--empty"]).ok();
    assert_eq!(run.stdout.trim(), "migrations/blog/0001_initial.lua");
    let text = std::fs::read_to_string(p.path().join("migrations/blog/0001_initial.lua")).unwrap();
    assert!(text.contains("initial = true"), "{text}");
    let run = p.luamig(&["migrate", "blog"]).ok();
    assert!(
        run.stdout.contains("  Applying blog.0001_initial... OK"),
        "{}",
        run.stdout
    );
}

#[test]
fn makemigrations_merge_joins_two_leaves() {
    let p = two_apps();
    p.luamig(&["migrate"]).ok();
    p.migration(
        "orders",
        "0004_left",
        &mig(&[("orders", "0003_extra")], &create("Left")),
    );
    p.migration(
        "orders",
        "0004_right",
        &mig(&[("orders", "0003_extra")], &create("Right")),
    );
    let run = p.luamig(&["migrate"]).fails();
    assert!(
        run.stderr.contains("0004_left") && run.stderr.contains("0004_right"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("makemigrations --merge"),
        "{}",
        run.stderr
    );
    let run = p.luamig(&["makemigrations", "--merge"]).ok();
    let path = run.stdout.trim().to_string();
    assert!(path.starts_with("migrations/orders/0005_"), "{path}");
    let text = std::fs::read_to_string(p.path().join(&path)).unwrap();
    assert!(
        text.contains("\"0004_left\"") && text.contains("\"0004_right\""),
        "{text}"
    );
    let run = p.luamig(&["migrate"]).ok();
    assert!(
        run.stdout.contains("Applying orders.0004_left... OK"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("Applying orders.0004_right... OK"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("Applying orders.0005_"),
        "{}",
        run.stdout
    );
    assert!(
        p.tables().contains(&"orders_left".to_string())
            && p.tables().contains(&"orders_right".to_string())
    );
    p.luamig(&["check"]).ok();
    // Nothing more to merge.
    let run = p.luamig(&["makemigrations", "--merge"]).ok();
    assert!(!run.stdout.contains("migrations/"), "{}", run.stdout);
}

#[test]
fn makemigrations_without_empty_or_app_is_an_error() {
    let p = two_apps();
    let run = p.luamig(&["makemigrations", "orders"]);
    assert_ne!(run.code, 0);
    assert!(run.stderr.starts_with("error"), "{}", run.stderr);
    let run = p.luamig(&["makemigrations", "--empty"]);
    assert_ne!(run.code, 0);
    assert!(!p.path().join("migrations/orders/0004_auto").exists());
    assert_eq!(
        std::fs::read_dir(p.path().join("migrations/orders"))
            .unwrap()
            .count(),
        3
    );
}

// ---------------------------------------------------------------------------------------------
// check
// ---------------------------------------------------------------------------------------------

#[test]
fn check_succeeds_on_good_project_and_changes_nothing() {
    let p = two_apps();
    let run = p.luamig(&["check"]).ok();
    assert!(!run.stdout.is_empty());
    assert!(!p.db_path().exists() || p.tables().is_empty());
    p.luamig(&["migrate"]).ok();
    let before = p.db_bytes();
    p.luamig(&["check"]).ok();
    assert!(p.db_bytes() == before, "the database changed");
}

// ---------------------------------------------------------------------------------------------
// Settings, URLs, flags
// ---------------------------------------------------------------------------------------------

#[test]
fn settings_file_sets_url_dir_and_installed_apps() {
    let p = Project::new();
    p.write(
        "db/migs/orders/0001_initial.lua",
        &mig(&[], &create("Order")),
    );
    p.write("db/migs/pages/0001_initial.lua", &mig(&[], &create("Page")));
    p.write(
        "luamig.lua",
        r#"return { databases = { default = { url = "sqlite:data/app.db" } }, migrations_dir = "db/migs", installed_apps = { "orders" } }"#,
    );
    std::fs::create_dir_all(p.path().join("data")).unwrap();
    let run = p.luamig(&["migrate"]).ok();
    assert!(
        run.stdout.contains("Applying orders.0001_initial... OK"),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains("pages"), "{}", run.stdout);
    assert!(p.path().join("data/app.db").exists());
    assert!(!p.db_path().exists());
    let conn = rusqlite::Connection::open(p.path().join("data/app.db")).unwrap();
    let n: i64 = conn
        .query_row("SELECT count(*) FROM luamig_migrations", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 1);
    let run = p.luamig(&["showmigrations"]).ok();
    assert_eq!(run.stdout, "orders\n [X] 0001_initial\n");
}

#[test]
fn settings_flag_resolves_paths_against_settings_folder() {
    let p = Project::new();
    p.write(
        "conf/migrations/orders/0001_initial.lua",
        &mig(&[], &create("Order")),
    );
    p.write(
        "conf/other.lua",
        r#"return { databases = { default = { url = "sqlite:other.db" } } }"#,
    );
    let run = p.luamig(&["--settings", "conf/other.lua", "migrate"]).ok();
    assert!(
        run.stdout.contains("Applying orders.0001_initial... OK"),
        "{}",
        run.stdout
    );
    assert!(p.path().join("conf/other.db").exists());
    // Accepted after the subcommand too.
    let run = p
        .luamig(&["showmigrations", "--settings", "conf/other.lua"])
        .ok();
    assert_eq!(run.stdout, "orders\n [X] 0001_initial\n");
}

#[test]
fn missing_settings_file_is_an_error() {
    let p = two_apps();
    let run = p.luamig(&["--settings", "nope.lua", "migrate"]).fails();
    assert!(run.stderr.contains("nope.lua"), "{}", run.stderr);
    assert!(!p.db_path().exists());
}

#[test]
fn database_url_flag_env_and_settings_precedence() {
    let p = two_apps();
    p.write(
        "luamig.lua",
        r#"return { databases = { default = { url = "sqlite:from_settings.db" } } }"#,
    );
    // Settings file.
    p.luamig(&["migrate", "orders", "0001"]).ok();
    assert!(p.path().join("from_settings.db").exists());
    // DATABASE_URL beats the settings file.
    p.luamig_env(
        &["migrate", "orders", "0001"],
        &[("DATABASE_URL", "sqlite:from_env.db")],
    )
    .ok();
    assert!(p.path().join("from_env.db").exists());
    // --database-url beats both, before or after the subcommand.
    p.luamig_env(
        &[
            "--database-url",
            "sqlite:from_flag.db",
            "migrate",
            "orders",
            "0001",
        ],
        &[("DATABASE_URL", "sqlite:from_env.db")],
    )
    .ok();
    assert!(p.path().join("from_flag.db").exists());
    p.luamig(&[
        "migrate",
        "orders",
        "0001",
        "--database-url",
        "sqlite:from_flag2.db",
    ])
    .ok();
    assert!(p.path().join("from_flag2.db").exists());
    assert!(!p.db_path().exists());
    // Each database has only what was applied to it.
    let n = |f: &str| -> i64 {
        rusqlite::Connection::open(p.path().join(f))
            .unwrap()
            .query_row("SELECT count(*) FROM luamig_migrations", [], |r| r.get(0))
            .unwrap()
    };
    assert_eq!(n("from_settings.db"), 1);
    assert_eq!(n("from_env.db"), 1);
    assert_eq!(n("from_flag.db"), 1);
}

#[test]
fn absolute_sqlite_url_and_memory_url() {
    let p = two_apps();
    let abs = p.path().join("abs.db");
    let url = format!("sqlite://{}", abs.display());
    assert!(url.starts_with("sqlite:///"));
    p.luamig(&["migrate", "--database-url", &url]).ok();
    assert!(abs.exists());
    let run = p
        .luamig(&["migrate", "--database-url", "sqlite::memory:"])
        .ok();
    assert!(
        run.stdout.contains("Applying pages.0001_initial... OK"),
        "{}",
        run.stdout
    );
    assert!(!p.db_path().exists());
}

#[test]
fn unknown_database_alias_fails_with_status_1() {
    let p = two_apps();
    let run = p.luamig(&["migrate", "--database", "legacy"]).fails();
    assert!(run.stderr.contains("legacy"), "{}", run.stderr);
    assert!(!p.db_path().exists());
    // A configured second alias works.
    p.write(
        "luamig.lua",
        r#"return { databases = { default = { url = "sqlite:db.sqlite3" }, legacy = { url = "sqlite:legacy.db" } } }"#,
    );
    p.luamig(&["--database", "legacy", "migrate", "orders", "0001"])
        .ok();
    assert!(p.path().join("legacy.db").exists());
    assert!(!p.db_path().exists());
}

#[test]
fn bad_database_url_fails() {
    let p = two_apps();
    let run = p
        .luamig(&["migrate", "--database-url", "mysql://x/y"])
        .fails();
    assert!(
        run.stderr.contains("mysql") || run.stderr.contains("URL") || run.stderr.contains("url"),
        "{}",
        run.stderr
    );
}

#[test]
fn password_never_printed() {
    let p = two_apps();
    let run = p.luamig(&[
        "migrate",
        "--database-url",
        "postgres://user:s3cretpw@127.0.0.1:1/db",
    ]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    assert!(
        !run.stderr.contains("s3cretpw") && !run.stdout.contains("s3cretpw"),
        "{}",
        run.stderr
    );
}

#[test]
fn usage_errors_exit_2() {
    let p = two_apps();
    for args in [
        vec!["frobnicate"],
        vec!["migrate", "--bogus"],
        vec!["sqlmigrate", "orders"],
        vec![],
        vec!["migrate", "a", "b", "c"],
    ] {
        let run = p.luamig(&args);
        assert_eq!(run.code, 2, "{args:?}: {}{}", run.stdout, run.stderr);
    }
    assert!(!p.db_path().exists());
}
