//! The example project in migrations/ runs out of the box, forwards, backwards and
//! forwards again, on both backends.

mod backends;
use backends::Env;

fn example_project(env: &Env) {
    env.copy_from(std::path::Path::new(env!("CARGO_MANIFEST_DIR")));
    env.luamig(&["migrate"]).ok();
    let check = |env: &Env| {
        assert_eq!(env.value("SELECT COUNT(*) FROM orders_customer"), "4");
        assert_eq!(
            env.value("SELECT COUNT(*) FROM orders_order WHERE customer_id IS NULL"),
            "0"
        );
        assert_eq!(
            env.value("SELECT COUNT(*) FROM blog_article WHERE slug = ''"),
            "0"
        );
        assert_eq!(
            env.value("SELECT COUNT(DISTINCT uuid) FROM store_product"),
            "3"
        );
        assert_eq!(env.value("SELECT COUNT(*) FROM library_authorship"), "6");
    };
    check(env);
    for app in ["orders", "blog", "inventory", "library"] {
        env.luamig(&["migrate", app, "zero"]).ok();
    }
    assert_eq!(env.tables(), vec!["luamig_migrations".to_string()]);
    env.luamig(&["migrate"]).ok();
    check(env);
    env.luamig(&["migrate", "orders", "0003"]).ok();
    assert_eq!(
        env.rows("SELECT customer_name, customer_city FROM orders_order ORDER BY id")[0],
        vec!["Ada Lovelace", "London"]
    );
}

on_both_backends!(example_project);
