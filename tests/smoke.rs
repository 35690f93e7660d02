//! The shortest path through the binary: migrate forwards, backwards and forwards again.

mod common;
use common::{HEAD, Project};

#[test]
fn migrate_forwards_backwards_and_forwards_again() {
    let p = Project::new();
    p.migration(
        "orders",
        "0001_initial",
        &format!(
            "{HEAD}return migrations.Migration {{ operations = {{
              migrations.CreateModel {{ name = \"Order\", fields = {{ {{\"title\", models.CharField {{ max_length = 20 }}}} }} }},
            }} }}"
        ),
    );
    let run = p.luamig(&["migrate"]).ok();
    assert!(
        run.stdout.contains("  Applying orders.0001_initial... OK"),
        "{}",
        run.stdout
    );
    assert_eq!(
        p.columns("orders_order"),
        vec!["id INTEGER 1 1", "title varchar(20) 1 0"]
    );
    p.luamig(&["migrate", "orders", "zero"]).ok();
    assert_eq!(p.tables(), vec!["luamig_migrations"]);
    p.luamig(&["migrate"]).ok();
    assert!(p.tables().contains(&"orders_order".to_string()));
}
