//! The scenario projects under spec/, each migrated forwards, backwards to zero and
//! forwards again on both backends, with the resulting rows checked.

mod backends;
use backends::Env;

fn scenario(env: &Env, name: &str) {
    env.copy_from(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("spec")
            .join(name),
    );
}

fn there_and_back(env: &Env, apps_back: &[&str], check: impl Fn(&Env)) {
    env.luamig(&["migrate"]).ok();
    check(env);
    for app in apps_back {
        env.luamig(&["migrate", app, "zero"]).ok();
    }
    assert_eq!(
        env.tables(),
        vec!["luamig_migrations".to_string()],
        "everything unapplied"
    );
    env.luamig(&["migrate"]).ok();
    check(env);
}

fn orders_customers(env: &Env) {
    scenario(env, "orders_customers");
    there_and_back(env, &["orders"], |env| {
        assert_eq!(env.value("SELECT COUNT(*) FROM orders_customer"), "3");
        let rows = env.rows(
            "SELECT c.name, c.city, c.email, CAST(o.total AS TEXT) FROM orders_order o JOIN orders_customer c ON c.id = o.customer_id ORDER BY o.id",
        );
        let names: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
        assert_eq!(names, vec!["Ann", "Bob", "Ann", "Cid"]);
        assert_eq!(rows[3][2], "cid@example.com");
    });
    // One step back refills the inline fields from the customers.
    env.luamig(&["migrate", "orders", "0001"]).ok();
    let rows = env
        .rows("SELECT customer_name, customer_city, customer_phone FROM orders_order ORDER BY id");
    assert_eq!(rows[1], vec!["Bob", "Rome", "222"]);
}

fn slug_backfill(env: &Env) {
    scenario(env, "slug_backfill");
    there_and_back(env, &["blog"], |env| {
        let slugs: Vec<String> = env
            .rows("SELECT slug FROM blog_article ORDER BY id")
            .into_iter()
            .map(|r| r[0].clone())
            .collect();
        assert_eq!(
            slugs,
            vec![
                "hello-world-1",
                "ca-va-ete-2",
                "spaces-and-dashes-3",
                "drop-table-blog_article-4"
            ]
        );
        assert_eq!(
            env.value("SELECT title FROM blog_article WHERE id = 4"),
            "'); DROP TABLE blog_article; --"
        );
    });
}

fn unique_uuid(env: &Env) {
    scenario(env, "unique_uuid");
    there_and_back(env, &["inventory"], |env| {
        assert_eq!(
            env.value("SELECT COUNT(DISTINCT uuid) FROM inventory_product"),
            "25"
        );
        assert_eq!(
            env.value("SELECT COUNT(*) FROM inventory_product WHERE uuid IS NULL"),
            "0"
        );
        assert_eq!(
            env.value("SELECT CAST(price AS TEXT) FROM inventory_product WHERE name = 'Product 3'")
                .trim_end_matches('0')
                .trim_end_matches('.'),
            "3.99"
        );
    });
}

fn app_move(env: &Env) {
    scenario(env, "app_move");
    there_and_back(env, &["legacy"], |env| {
        let rows = env.rows("SELECT name, stock FROM shop_item ORDER BY name");
        assert_eq!(
            rows,
            vec![vec!["bolt", "10"], vec!["gear", "3"], vec!["nut", "25"]]
        );
    });
    // Without the legacy app installed the move is skipped, not an error.
    env.luamig(&["migrate", "shop", "zero"]).ok();
    env.luamig(&["migrate", "legacy", "zero"]).ok();
    env.write("luamig.lua", "return { installed_apps = { \"shop\" } }");
    env.luamig(&["migrate"]).ok();
    assert_eq!(env.value("SELECT COUNT(*) FROM shop_item"), "0");
}

on_both_backends!(orders_customers, slug_backfill, unique_uuid, app_move);
