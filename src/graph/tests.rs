//! Unit tests of the graph: building with squashes and placeholders, checks, and plans.

use super::*;

/// `"app.name"` -> key.
fn k(s: &str) -> NodeKey {
    let (app, name) = s.split_once('.').expect("test keys are app.name");
    NodeKey::new(app, name)
}

fn ks(list: &[&str]) -> Vec<NodeKey> {
    list.iter().map(|s| k(s)).collect()
}

fn set(list: &[&str]) -> BTreeSet<NodeKey> {
    list.iter().map(|s| k(s)).collect()
}

/// A migration with the given dependencies.
fn m(key: &str, deps: &[&str]) -> MigrationNode {
    MigrationNode {
        dependencies: ks(deps),
        ..MigrationNode::new(k(key))
    }
}

/// A squashed migration.
fn squash(key: &str, deps: &[&str], replaces: &[&str]) -> MigrationNode {
    MigrationNode {
        replaces: ks(replaces),
        ..m(key, deps)
    }
}

fn build(nodes: Vec<MigrationNode>, applied: &[&str]) -> MigrationGraph {
    MigrationGraph::build(nodes, &set(applied)).expect("graph builds")
}

fn build_err(nodes: Vec<MigrationNode>, applied: &[&str]) -> GraphError {
    MigrationGraph::build(nodes, &set(applied)).expect_err("graph must not build")
}

fn target(app: &str, name: Option<&str>) -> (String, Option<NodeKey>) {
    (app.to_string(), name.map(|n| NodeKey::new(app, n)))
}

fn steps(list: &[(&str, bool)]) -> Vec<(NodeKey, bool)> {
    list.iter().map(|(s, b)| (k(s), *b)).collect()
}

// a.0001 <- a.0002 <- a.0003
#[test]
fn linear_chain() {
    let g = build(
        vec![
            m("a.0003", &["a.0002"]),
            m("a.0001", &[]),
            m("a.0002", &["a.0001"]),
        ],
        &[],
    );
    assert_eq!(
        g.forwards_plan(&k("a.0003")),
        ks(&["a.0001", "a.0002", "a.0003"])
    );
    assert_eq!(g.forwards_plan(&k("a.0001")), ks(&["a.0001"]));
    assert_eq!(
        g.backwards_plan(&k("a.0001")),
        ks(&["a.0003", "a.0002", "a.0001"])
    );
    assert_eq!(g.leaf_nodes("a"), ks(&["a.0003"]));
    assert_eq!(g.root_nodes("a"), ks(&["a.0001"]));
    assert_eq!(g.parents(&k("a.0002")), vec![&k("a.0001")]);
    assert_eq!(g.children(&k("a.0002")), vec![&k("a.0003")]);
    assert_eq!(g.nodes().count(), 3);
    assert!(g.contains(&k("a.0002")) && !g.contains(&k("a.0009")));
    assert!(g.forwards_plan(&k("a.0009")).is_empty());
    assert_eq!(k("a.0001").to_string(), "a.0001");
}

//          a.0002
//        /        \
// a.0001            a.0004
//        \        /
//          a.0003
#[test]
fn diamond() {
    let g = build(
        vec![
            m("a.0001", &[]),
            m("a.0002", &["a.0001"]),
            m("a.0003", &["a.0001"]),
            m("a.0004", &["a.0002", "a.0003"]),
        ],
        &[],
    );
    assert_eq!(
        g.forwards_plan(&k("a.0004")),
        ks(&["a.0001", "a.0002", "a.0003", "a.0004"])
    );
    assert_eq!(
        g.backwards_plan(&k("a.0001")),
        ks(&["a.0004", "a.0002", "a.0003", "a.0001"])
    );
    assert_eq!(g.leaf_nodes("a"), ks(&["a.0004"]));
    assert!(g.check_conflicts().is_ok());
}

// a.0001 <- a.0002 <--+
//                     c.0001 <- c.0002
// b.0001 <- b.0002 <--+
//
// Parents are visited in sorted order, so app a comes before app b.
#[test]
fn cross_app_dependencies_are_deterministic() {
    let g = build(
        vec![
            m("c.0002", &["c.0001"]),
            m("b.0002", &["b.0001"]),
            m("c.0001", &["b.0002", "a.0002"]),
            m("a.0002", &["a.0001"]),
            m("b.0001", &[]),
            m("a.0001", &[]),
        ],
        &[],
    );
    assert_eq!(
        g.forwards_plan(&k("c.0002")),
        ks(&["a.0001", "a.0002", "b.0001", "b.0002", "c.0001", "c.0002"])
    );
    assert_eq!(g.root_nodes("c"), ks(&["c.0001"]));
    assert_eq!(g.leaf_nodes("a"), ks(&["a.0002"]));
    assert_eq!(g.apps(), vec!["a", "b", "c"]);
    assert_eq!(
        g.backwards_plan(&k("a.0001")),
        ks(&["c.0002", "c.0001", "a.0002", "a.0001"])
    );
}

// a.0001 <- a.0002
//   ^
//   +------ b.0001   (declared by a.0001: run_before b.0001)
#[test]
fn run_before_adds_the_declaring_node_as_parent() {
    let mut first = m("a.0001", &[]);
    first.run_before = ks(&["b.0001"]);
    let g = build(vec![first, m("a.0002", &["a.0001"]), m("b.0001", &[])], &[]);
    assert_eq!(g.parents(&k("b.0001")), vec![&k("a.0001")]);
    assert_eq!(g.forwards_plan(&k("b.0001")), ks(&["a.0001", "b.0001"]));
    assert_eq!(g.root_nodes("b"), ks(&["b.0001"]));
}

// orders.0001_initial (no file) <- orders.0002_customer
#[test]
fn missing_parent_names_both() {
    let err = build_err(
        vec![m("orders.0002_customer", &["orders.0001_initial"])],
        &[],
    );
    assert_eq!(
        err,
        GraphError::MissingParent {
            child: k("orders.0002_customer"),
            parent: k("orders.0001_initial"),
        }
    );
    assert_eq!(
        err.to_string(),
        "migration orders.0002_customer depends on missing migration orders.0001_initial"
    );
}

// a.0001 --run_before--> b.0009 (no file)
#[test]
fn missing_run_before_target() {
    let mut first = m("a.0001", &[]);
    first.run_before = ks(&["b.0009"]);
    let err = build_err(vec![first], &[]);
    assert_eq!(
        err.to_string(),
        "migration a.0001 runs before missing migration b.0009"
    );
}

// a.0001 -> b.0001 -> a.0001   (each depends on the other)
#[test]
fn two_node_cycle() {
    let err = build_err(
        vec![m("a.0001", &["b.0001"]), m("b.0001", &["a.0001"])],
        &[],
    );
    assert_eq!(err, GraphError::Cycle(ks(&["a.0001", "b.0001", "a.0001"])));
    assert_eq!(
        err.to_string(),
        "dependency cycle: a.0001 -> b.0001 -> a.0001"
    );
}

// x.0001 <- a.0001 <- a.0002 <- a.0003 <- z.0001
//              |                  ^
//              +------------------+   (a.0001 depends on a.0003)
//
// Only the nodes on the cycle are listed, in "depends on" order.
#[test]
fn cycle_inside_larger_graph_lists_only_the_cycle() {
    let err = build_err(
        vec![
            m("x.0001", &[]),
            m("a.0001", &["x.0001", "a.0003"]),
            m("a.0002", &["a.0001"]),
            m("a.0003", &["a.0002"]),
            m("z.0001", &["a.0003"]),
        ],
        &[],
    );
    assert_eq!(
        err.to_string(),
        "dependency cycle: a.0001 -> a.0003 -> a.0002 -> a.0001"
    );
}

// a.0001 <-+
//   |      |
//   +------+
#[test]
fn self_dependency_is_a_cycle() {
    let err = build_err(vec![m("a.0001", &["a.0001"])], &[]);
    assert_eq!(err.to_string(), "dependency cycle: a.0001 -> a.0001");
}

#[test]
fn duplicate_migration() {
    let err = build_err(vec![m("a.0001", &[]), m("a.0001", &[])], &[]);
    assert_eq!(
        err.to_string(),
        "migration a.0001 is defined more than once"
    );
}

//                  +- orders.0002_a
// orders.0001 <----+
//                  +- orders.0002_b
#[test]
fn two_leaves_conflict() {
    let g = build(
        vec![
            m("orders.0001", &[]),
            m("orders.0002_a", &["orders.0001"]),
            m("orders.0002_b", &["orders.0001"]),
            m("zoo.0001", &[]),
        ],
        &[],
    );
    let err = g.check_conflicts().expect_err("two leaves conflict");
    assert_eq!(
        err.to_string(),
        "conflicting migrations in app orders: 0002_a, 0002_b (two leaves); \
         run `luamig makemigrations --merge` to join them"
    );
    assert_eq!(g.conflicts().len(), 1);
}

//                  +- orders.0002_a -+
// orders.0001 <----+                 +- orders.0003_merge
//                  +- orders.0002_b -+
#[test]
fn merge_migration_resolves_conflict() {
    let g = build(
        vec![
            m("orders.0001", &[]),
            m("orders.0002_a", &["orders.0001"]),
            m("orders.0002_b", &["orders.0001"]),
            m("orders.0003_merge", &["orders.0002_a", "orders.0002_b"]),
        ],
        &[],
    );
    assert!(g.check_conflicts().is_ok());
    assert_eq!(g.leaf_nodes("orders"), ks(&["orders.0003_merge"]));
}

// A leaf in app a with a child in another app is still a leaf of app a:
// a.0001 <- b.0001
#[test]
fn leaves_and_roots_ignore_other_apps() {
    let g = build(vec![m("a.0001", &[]), m("b.0001", &["a.0001"])], &[]);
    assert_eq!(g.leaf_nodes("a"), ks(&["a.0001"]));
    assert_eq!(g.root_nodes("b"), ks(&["b.0001"]));
    assert!(g.leaf_nodes("nope").is_empty());
}

/// a.0001 <- a.0002 <- a.0003 <- a.0004 <- b.0001, plus a.0001_squashed_0003 replacing the first three.
fn squash_project() -> Vec<MigrationNode> {
    vec![
        m("a.0001", &[]),
        m("a.0002", &["a.0001"]),
        m("a.0003", &["a.0002"]),
        m("a.0004", &["a.0003"]),
        m("b.0001", &["a.0002"]),
        squash("a.0001_squashed_0003", &[], &["a.0001", "a.0002", "a.0003"]),
    ]
}

// Before:  a.0001 <- a.0002 <- a.0003 <- a.0004
//                       ^
//                       +----- b.0001
// After (nothing applied):
//          a.0001_squashed_0003 <- a.0004
//                   ^
//                   +------------ b.0001
#[test]
fn squash_used_when_none_applied_and_dependencies_remapped() {
    let g = build(squash_project(), &[]);
    assert_eq!(
        g.nodes().cloned().collect::<Vec<_>>(),
        ks(&["a.0001_squashed_0003", "a.0004", "b.0001"])
    );
    assert_eq!(g.parents(&k("a.0004")), vec![&k("a.0001_squashed_0003")]);
    assert_eq!(g.parents(&k("b.0001")), vec![&k("a.0001_squashed_0003")]);
    assert!(!g.is_applied(&k("a.0001_squashed_0003")));
    assert_eq!(
        g.migration_plan(&[target("b", Some("0001"))], false),
        steps(&[("a.0001_squashed_0003", false), ("b.0001", false)])
    );
}

// Same graph, a.0001..a.0003 applied: the squash is used and counts as applied.
#[test]
fn squash_used_when_all_applied_and_counts_as_applied() {
    let g = build(squash_project(), &["a.0001", "a.0002", "a.0003"]);
    assert!(g.contains(&k("a.0001_squashed_0003")));
    assert!(!g.contains(&k("a.0002")));
    assert!(g.is_applied(&k("a.0001_squashed_0003")));
    assert!(g.effective_applied().contains(&k("a.0001_squashed_0003")));
    assert!(g.check_consistent_history().is_ok());
    assert_eq!(
        g.migration_plan(&[target("a", Some("0004"))], false),
        steps(&[("a.0004", false)])
    );
}

// a.0001 applied only: the squash is dropped, the replaced nodes stay, and whatever depended on
// the squash now depends on the last replaced node:
//   a.0001 <- a.0002 <- a.0003 <- a.0004
//                          ^
//                          +----- c.0001   (declared: depends on a.0001_squashed_0003)
#[test]
fn squash_dropped_when_partially_applied() {
    let mut nodes = squash_project();
    nodes.push(m("c.0001", &["a.0001_squashed_0003"]));
    let g = build(nodes, &["a.0001"]);
    assert!(!g.contains(&k("a.0001_squashed_0003")));
    assert!(!g.is_applied(&k("a.0001_squashed_0003")));
    assert_eq!(g.parents(&k("a.0002")), vec![&k("a.0001")]);
    assert_eq!(g.parents(&k("c.0001")), vec![&k("a.0003")]);
    assert_eq!(
        g.migration_plan(&[target("a", Some("0004"))], false),
        steps(&[("a.0002", false), ("a.0003", false), ("a.0004", false)])
    );
}

// The replaced files were deleted after squashing; b.0001 still names a.0002:
//   a.0001_squashed_0003 (replaces a.0001..a.0003, no files) <- b.0001
#[test]
fn replaced_migrations_without_files_are_fine_when_squash_used() {
    let g = build(
        vec![
            squash("a.0001_squashed_0003", &[], &["a.0001", "a.0002", "a.0003"]),
            m("b.0001", &["a.0002"]),
        ],
        &[],
    );
    assert_eq!(
        g.forwards_plan(&k("b.0001")),
        ks(&["a.0001_squashed_0003", "b.0001"])
    );
}

// Same as above, but a.0001 alone is applied, so the squash cannot be used and a.0002 is gone.
#[test]
fn replaced_migration_missing_with_partial_squash() {
    let err = build_err(
        vec![
            m("a.0001", &[]),
            squash("a.0001_squashed_0003", &[], &["a.0001", "a.0002", "a.0003"]),
            m("b.0001", &["a.0002"]),
        ],
        &["a.0001"],
    );
    assert_eq!(
        err.to_string(),
        "replaced migration a.0002 (needed by b.0001) is missing; it was squashed into \
         a.0001_squashed_0003, which cannot be used because only some of the migrations it replaces are applied"
    );
}

/// a.0001 <- a.0002 <- a.0003
///              ^
///              +----- b.0001 <- b.0002
fn two_apps() -> Vec<MigrationNode> {
    vec![
        m("a.0001", &[]),
        m("a.0002", &["a.0001"]),
        m("a.0003", &["a.0002"]),
        m("b.0001", &["a.0002"]),
        m("b.0002", &["b.0001"]),
    ]
}

// Nothing applied; migrate b to 0001 applies its ancestry only.
#[test]
fn migration_plan_forwards_to_target() {
    let g = build(two_apps(), &[]);
    assert_eq!(
        g.migration_plan(&[target("b", Some("0001"))], false),
        steps(&[("a.0001", false), ("a.0002", false), ("b.0001", false)])
    );
}

// Everything applied; migrate a back to 0002 unapplies a.0003 only (b.0001 depends on a.0002, which stays).
#[test]
fn migration_plan_backwards_to_target() {
    let g = build(
        two_apps(),
        &["a.0001", "a.0002", "a.0003", "b.0001", "b.0002"],
    );
    assert_eq!(
        g.migration_plan(&[target("a", Some("0002"))], false),
        steps(&[("a.0003", true)])
    );
    // Migrating to an applied leaf is a no-op.
    assert!(
        g.migration_plan(&[target("a", Some("0003"))], false)
            .is_empty()
    );
}

// Everything applied; migrate a back to 0001: a.0002 goes, and so do b.0002 and b.0001, which depend on it,
// children first.
#[test]
fn migration_plan_backwards_across_apps() {
    let g = build(
        two_apps(),
        &["a.0001", "a.0002", "a.0003", "b.0001", "b.0002"],
    );
    assert_eq!(
        g.migration_plan(&[target("a", Some("0001"))], false),
        steps(&[
            ("a.0003", true),
            ("b.0002", true),
            ("b.0001", true),
            ("a.0002", true)
        ])
    );
}

// Migrate a to zero: everything depending on a's root goes, unapplied nodes are skipped.
#[test]
fn migration_plan_to_zero() {
    let g = build(two_apps(), &["a.0001", "a.0002", "b.0001"]);
    assert_eq!(
        g.migration_plan(&[target("a", None)], false),
        steps(&[("b.0001", true), ("a.0002", true), ("a.0001", true)])
    );
    // b to zero leaves app a alone.
    assert_eq!(
        g.migration_plan(&[target("b", None)], false),
        steps(&[("b.0001", true)])
    );
}

// Several targets share one applied set: a node is never planned twice, and directions may mix.
#[test]
fn migration_plan_multiple_targets_and_clean_start() {
    let g = build(two_apps(), &["a.0001", "a.0002", "a.0003"]);
    assert_eq!(
        g.migration_plan(
            &[target("a", Some("0002")), target("b", Some("0002"))],
            false
        ),
        steps(&[("a.0003", true), ("b.0001", false), ("b.0002", false)])
    );
    assert_eq!(
        g.migration_plan(
            &[target("b", Some("0001")), target("a", Some("0002"))],
            true
        ),
        steps(&[("a.0001", false), ("a.0002", false), ("b.0001", false)])
    );
}

#[test]
fn full_plan_covers_every_node_once() {
    let g = build(two_apps(), &[]);
    assert_eq!(
        g.full_plan(),
        ks(&["a.0001", "a.0002", "a.0003", "b.0001", "b.0002"])
    );
}

// orders: 0001_initial <- 0002_a <- 0002_b <- 0003_items
#[test]
fn resolve_target_variants() {
    let g = build(
        vec![
            m("orders.0001_initial", &[]),
            m("orders.0002_a", &["orders.0001_initial"]),
            m("orders.0002_b", &["orders.0002_a"]),
            m("orders.0003_items", &["orders.0002_b"]),
        ],
        &[],
    );
    assert_eq!(g.resolve_target("orders", "zero"), Ok(None));
    assert_eq!(
        g.resolve_target("orders", "0002_a"),
        Ok(Some(k("orders.0002_a")))
    );
    assert_eq!(
        g.resolve_target("orders", "0003"),
        Ok(Some(k("orders.0003_items")))
    );
    let ambiguous = g.resolve_target("orders", "0002").expect_err("ambiguous");
    assert_eq!(
        ambiguous.to_string(),
        "more than one migration matches '0002' in app 'orders': 0002_a, 0002_b"
    );
    let unknown = g.resolve_target("orders", "x").expect_err("unknown");
    assert_eq!(
        unknown.to_string(),
        "no migration named 'x' in app 'orders'"
    );
    let no_app = g.resolve_target("shop", "zero").expect_err("no such app");
    assert_eq!(no_app.to_string(), "app 'shop' has no migrations");
}

// orders.0001_initial (not applied) <- orders.0002_x (applied)
#[test]
fn inconsistent_history() {
    let g = build(
        vec![
            m("orders.0001_initial", &[]),
            m("orders.0002_x", &["orders.0001_initial"]),
        ],
        &["orders.0002_x"],
    );
    let err = g.check_consistent_history().expect_err("inconsistent");
    assert_eq!(
        err.to_string(),
        "inconsistent history: migration orders.0002_x is applied before its dependency orders.0001_initial"
    );
}

// c.00000 <- c.00001 <- ... <- c.19999 : deep enough to overflow any recursive walk.
#[test]
fn long_chain_does_not_overflow() {
    const N: usize = 20_000;
    let name = |i: usize| format!("{i:05}");
    let nodes: Vec<MigrationNode> = (0..N)
        .map(|i| MigrationNode {
            dependencies: if i == 0 {
                Vec::new()
            } else {
                vec![NodeKey::new("c", name(i - 1))]
            },
            ..MigrationNode::new(NodeKey::new("c", name(i)))
        })
        .collect();
    let g = MigrationGraph::build(nodes, &BTreeSet::new()).expect("chain builds");
    let last = NodeKey::new("c", name(N - 1));
    let first = NodeKey::new("c", name(0));
    assert_eq!(g.forwards_plan(&last).len(), N);
    assert_eq!(g.backwards_plan(&first).len(), N);
    assert_eq!(g.full_plan().len(), N);
    assert_eq!(
        g.migration_plan(&[("c".to_string(), Some(last))], false)
            .len(),
        N
    );
    assert!(g.check_conflicts().is_ok());
}
