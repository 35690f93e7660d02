//! The migration dependency graph: building it from loaded migrations (with squash replacement), validating it, and planning.
//!
//! Mirrors Django 5.2's `django/db/migrations/graph.py`, the replacement part of `loader.py` `build_graph`,
//! `loader.py` `check_consistent_history`/`detect_conflicts` and `executor.py` `migration_plan`.
//! Everything here is pure: no I/O, no database. Iteration is always in sorted key order so plans are reproducible.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::ops::Range;

mod build;

use build::{Builder, RefKind};

/// A migration's identity: app label + migration name. Displays as `app.name`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeKey {
    /// The app label, e.g. `orders`.
    pub app: String,
    /// The migration name within the app, e.g. `0001_initial`.
    pub name: String,
}

impl NodeKey {
    /// Builds a key from an app label and a migration name.
    pub fn new(app: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            app: app.into(),
            name: name.into(),
        }
    }
}

impl fmt::Display for NodeKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.app, self.name)
    }
}

/// What the loader knows of one migration file, already resolved to concrete keys.
///
/// The loader resolves `__first__`/`__latest__` before calling, so only real names appear here, but a
/// referenced key may still have no file: [`MigrationGraph::build`] reports that.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MigrationNode {
    /// This migration's key.
    pub key: NodeKey,
    /// Parents: migrations that must be applied before this one.
    pub dependencies: Vec<NodeKey>,
    /// Migrations that must run after this one (each gets this node as a parent).
    pub run_before: Vec<NodeKey>,
    /// For a squashed migration: the keys it replaces. Empty otherwise.
    pub replaces: Vec<NodeKey>,
}

impl MigrationNode {
    /// A migration with no dependencies, `run_before` or `replaces`; fill the fields in as needed.
    pub fn new(key: NodeKey) -> Self {
        Self {
            key,
            dependencies: Vec::new(),
            run_before: Vec::new(),
            replaces: Vec::new(),
        }
    }
}

/// Everything that can go wrong while building, checking or querying the graph.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum GraphError {
    /// Two loaded migrations share one key.
    #[error("migration {0} is defined more than once")]
    DuplicateMigration(NodeKey),
    /// A dependency names a migration that does not exist.
    #[error("migration {child} depends on missing migration {parent}")]
    MissingParent {
        /// The migration declaring the dependency.
        child: NodeKey,
        /// The missing migration.
        parent: NodeKey,
    },
    /// A `run_before` entry names a migration that does not exist.
    #[error("migration {node} runs before missing migration {target}")]
    MissingRunBefore {
        /// The migration declaring `run_before`.
        node: NodeKey,
        /// The missing migration.
        target: NodeKey,
    },
    /// A migration refers to a replaced migration whose file is gone, and the squash that would stand in
    /// for it was left out because only some of the migrations it replaces are applied (Django's #23556 message).
    #[error(
        "replaced migration {missing} (needed by {needed_by}) is missing; it was squashed into {}, \
         which cannot be used because only some of the migrations it replaces are applied",
        join_keys(.squashes, ", ")
    )]
    ReplacedMissing {
        /// The migration that refers to the missing one.
        needed_by: NodeKey,
        /// The replaced migration that has no file.
        missing: NodeKey,
        /// The squashed migrations that list `missing` in `replaces`.
        squashes: Vec<NodeKey>,
    },
    /// A dependency cycle, listed in "depends on" order, starting at its smallest key which is repeated at the end.
    #[error("dependency cycle: {}", join_keys(.0, " -> "))]
    Cycle(Vec<NodeKey>),
    /// An app has more than one leaf migration.
    #[error(
        "conflicting migrations in app {app}: {} ({} leaves); run `luamig makemigrations --merge` to join them",
        .leaves.join(", "),
        count_word(.leaves.len())
    )]
    Conflict {
        /// The conflicting app.
        app: String,
        /// Names of its leaf migrations, sorted.
        leaves: Vec<String>,
    },
    /// An applied migration has a parent that is not applied.
    #[error(
        "inconsistent history: migration {applied} is applied before its dependency {dependency}"
    )]
    InconsistentHistory {
        /// The applied migration.
        applied: NodeKey,
        /// Its unapplied parent.
        dependency: NodeKey,
    },
    /// `resolve_target` found neither an exact name nor a prefix match.
    #[error("no migration named '{name}' in app '{app}'")]
    TargetNotFound {
        /// The app searched.
        app: String,
        /// The name the user typed.
        name: String,
    },
    /// `resolve_target` found several migrations starting with the typed prefix.
    #[error("more than one migration matches '{prefix}' in app '{app}': {}", .matches.join(", "))]
    AmbiguousTarget {
        /// The app searched.
        app: String,
        /// The prefix the user typed.
        prefix: String,
        /// Names of the matching migrations, sorted.
        matches: Vec<String>,
    },
    /// `resolve_target` was asked about an app that has no migrations in the graph.
    #[error("app '{app}' has no migrations")]
    NoMigrations {
        /// The app asked about.
        app: String,
    },
}

/// Joins keys rendered as `app.name` with `sep`.
fn join_keys(keys: &[NodeKey], sep: &str) -> String {
    keys.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(sep)
}

/// Small counts read better as words in the conflict message ("two leaves").
fn count_word(n: usize) -> String {
    const WORDS: [&str; 10] = [
        "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
    ];
    WORDS
        .get(n)
        .map_or_else(|| n.to_string(), |w| (*w).to_string())
}

/// Which way a plan walks: towards parents (to apply) or towards children (to unapply).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Direction {
    Forwards,
    Backwards,
}

/// Three-colour marking for cycle detection.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Colour {
    White,
    Grey,
    Black,
}

/// The validated, acyclic migration graph of a whole project, with the effective applied set.
#[derive(Clone, Debug)]
pub struct MigrationGraph {
    /// Every node, sorted; a node's index is its position here.
    keys: Vec<NodeKey>,
    /// `parents[i]`: sorted indices of the parents of node `i`.
    parents: Vec<Vec<usize>>,
    /// `children[i]`: sorted indices of the children of node `i`.
    children: Vec<Vec<usize>>,
    /// The applied set after replacement.
    applied: BTreeSet<NodeKey>,
}

impl MigrationGraph {
    /// Builds the graph from every loaded migration and the set of applied keys.
    ///
    /// Squashed migrations are handled as Django's loader does, in sorted key order: if all or none of the
    /// replaced keys are applied, the squash is used, the replaced nodes (with or without files) are removed and
    /// edges to them re-pointed at the squash; if only some are applied, the squash is removed and its children
    /// depend on the latest replaced nodes instead. The squash counts as applied iff all replaced keys are.
    /// Then any reference to a key with no node is reported, then any cycle.
    pub fn build(
        mut nodes: Vec<MigrationNode>,
        applied: &BTreeSet<NodeKey>,
    ) -> Result<MigrationGraph, GraphError> {
        nodes.sort_by(|a, b| a.key.cmp(&b.key));
        let mut builder = Builder::default();
        let mut replacements: BTreeMap<&NodeKey, BTreeSet<&NodeKey>> = BTreeMap::new();
        for node in &nodes {
            builder.add_migration(&node.key)?;
            if !node.replaces.is_empty() {
                replacements.insert(&node.key, node.replaces.iter().collect());
            }
        }
        for node in &nodes {
            for parent in &node.dependencies {
                builder.add_dependency(&node.key, parent, RefKind::Dependency, &node.key);
            }
            for child in &node.run_before {
                builder.add_dependency(child, &node.key, RefKind::RunBefore, &node.key);
            }
        }
        let mut effective = applied.clone();
        for (&squash, replaced) in &replacements {
            let all = replaced.iter().all(|k| effective.contains(*k));
            let any = replaced.iter().any(|k| effective.contains(*k));
            if all {
                effective.insert(squash.clone());
            } else {
                effective.remove(squash);
            }
            // A squash that a later squash already replaced has nothing left to do (Django 5.2 would error).
            if !builder.has(squash) {
                continue;
            }
            if all || !any {
                builder.use_replacement(squash, replaced);
            } else {
                builder.drop_replacement(squash, replaced);
            }
        }
        builder.check_placeholders(&replacements)?;
        let graph = builder.finish(effective);
        match graph.find_cycle() {
            Some(cycle) => Err(GraphError::Cycle(cycle)),
            None => Ok(graph),
        }
    }

    /// Whether `key` is a node of the graph (replaced migrations of a used squash are not).
    pub fn contains(&self, key: &NodeKey) -> bool {
        self.index_of(key).is_some()
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the graph has no nodes.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Every node, sorted.
    pub fn nodes(&self) -> impl Iterator<Item = &NodeKey> {
        self.keys.iter()
    }

    /// Every app label with at least one node, sorted.
    pub fn apps(&self) -> Vec<&str> {
        let mut apps: Vec<&str> = self.keys.iter().map(|k| k.app.as_str()).collect();
        apps.dedup();
        apps
    }

    /// Direct parents of `key`, sorted; empty if `key` is not in the graph.
    pub fn parents(&self, key: &NodeKey) -> Vec<&NodeKey> {
        self.neighbours(key, Direction::Forwards)
    }

    /// Direct children of `key`, sorted; empty if `key` is not in the graph.
    pub fn children(&self, key: &NodeKey) -> Vec<&NodeKey> {
        self.neighbours(key, Direction::Backwards)
    }

    /// The applied set after replacement: a squash is in it iff all of its replaced keys were applied.
    ///
    /// Like Django's `loader.applied_migrations`, it may also hold keys that are not graph nodes (applied rows
    /// with no file, and the replaced keys of a squash in use).
    pub fn effective_applied(&self) -> &BTreeSet<NodeKey> {
        &self.applied
    }

    /// Whether `key` is in the effective applied set.
    pub fn is_applied(&self, key: &NodeKey) -> bool {
        self.applied.contains(key)
    }

    /// `target`'s ancestors and `target` itself, parents before children; parents are visited in sorted order,
    /// so `a.0001` comes before `b.0001`. Empty if `target` is not in the graph.
    pub fn forwards_plan(&self, target: &NodeKey) -> Vec<NodeKey> {
        self.plan_from(target, Direction::Forwards)
    }

    /// `target` and its descendants, children before parents (the order to unapply). Empty if `target` is not
    /// in the graph.
    pub fn backwards_plan(&self, target: &NodeKey) -> Vec<NodeKey> {
        self.plan_from(target, Direction::Backwards)
    }

    /// Leaf nodes of `app`: nodes with no child in the same app. Sorted.
    pub fn leaf_nodes(&self, app: &str) -> Vec<NodeKey> {
        self.leaf_indices(app)
            .map(|i| self.keys[i].clone())
            .collect()
    }

    /// Root nodes of `app`: nodes with no parent in the same app. Sorted.
    pub fn root_nodes(&self, app: &str) -> Vec<NodeKey> {
        self.root_indices(app)
            .map(|i| self.keys[i].clone())
            .collect()
    }

    /// Django's `detect_conflicts`: every app with two or more leaves, mapped to its leaf names (sorted).
    pub fn conflicts(&self) -> BTreeMap<String, Vec<String>> {
        self.apps()
            .into_iter()
            .filter_map(|app| {
                let leaves: Vec<String> = self
                    .leaf_indices(app)
                    .map(|i| self.keys[i].name.clone())
                    .collect();
                (leaves.len() > 1).then(|| (app.to_string(), leaves))
            })
            .collect()
    }

    /// Errors with [`GraphError::Conflict`] for the first conflicting app in sorted order.
    pub fn check_conflicts(&self) -> Result<(), GraphError> {
        match self.conflicts().into_iter().next() {
            Some((app, leaves)) => Err(GraphError::Conflict { app, leaves }),
            None => Ok(()),
        }
    }

    /// Django's `check_consistent_history`: the first (sorted) effectively applied node with an unapplied parent.
    ///
    /// Using the effective set covers Django's special case: a squash whose replaced migrations are all
    /// applied counts as applied even though it was never recorded itself.
    pub fn check_consistent_history(&self) -> Result<(), GraphError> {
        for (i, key) in self.keys.iter().enumerate() {
            if !self.applied.contains(key) {
                continue;
            }
            let unapplied = self.parents[i]
                .iter()
                .map(|&p| &self.keys[p])
                .find(|p| !self.applied.contains(*p));
            if let Some(parent) = unapplied {
                return Err(GraphError::InconsistentHistory {
                    applied: key.clone(),
                    dependency: parent.clone(),
                });
            }
        }
        Ok(())
    }

    /// Every node in forwards order: `forwards_plan(leaf)` for each leaf of each app in sorted order,
    /// concatenated, each node once (Django's `_generate_plan` over all leaves, used to replay state).
    pub fn full_plan(&self) -> Vec<NodeKey> {
        let leaves: Vec<usize> = self
            .apps()
            .into_iter()
            .flat_map(|app| self.leaf_indices(app))
            .collect();
        // The visited set stays closed under ancestors, so sharing it across leaves yields exactly the
        // de-duplicated concatenation, in O(n + e) overall.
        let mut seen = vec![false; self.keys.len()];
        let mut order = Vec::with_capacity(self.keys.len());
        for leaf in leaves {
            self.walk(leaf, Direction::Forwards, &mut seen, &mut order);
        }
        order.into_iter().map(|i| self.keys[i].clone()).collect()
    }

    /// Django's `executor.migration_plan`: `(key, backwards)` steps, each node at most once.
    ///
    /// Per target: `(app, None)` unapplies everything applied in `backwards_plan` of each root of `app`;
    /// `(_, Some(key))` with `key` applied unapplies, for each child of `key` in the same app, the applied nodes of
    /// its `backwards_plan` (so later migrations of other apps depending on them go too, but nothing of `key`'s
    /// own ancestry); with `key` unapplied applies `forwards_plan(key)` minus the applied nodes. The applied set
    /// is the effective one, or empty when `clean_start`. Keys not in the graph contribute nothing: resolve
    /// user input with [`Self::resolve_target`] first.
    pub fn migration_plan(
        &self,
        targets: &[(String, Option<NodeKey>)],
        clean_start: bool,
    ) -> Vec<(NodeKey, bool)> {
        let mut applied: Vec<bool> = if clean_start {
            vec![false; self.keys.len()]
        } else {
            self.keys.iter().map(|k| self.applied.contains(k)).collect()
        };
        let mut steps: Vec<(usize, bool)> = Vec::new();
        for (app, target) in targets {
            let starts: Vec<usize> = match target {
                None => self.root_indices(app).collect(),
                Some(key) => match self.index_of(key) {
                    None => continue,
                    Some(i) if applied[i] => self.children[i]
                        .iter()
                        .copied()
                        .filter(|&c| self.keys[c].app == key.app)
                        .collect(),
                    Some(i) => {
                        let mut order = Vec::new();
                        self.walk(
                            i,
                            Direction::Forwards,
                            &mut vec![false; self.keys.len()],
                            &mut order,
                        );
                        for node in order {
                            if !applied[node] {
                                applied[node] = true;
                                steps.push((node, false));
                            }
                        }
                        continue;
                    }
                },
            };
            self.unapply_from(&starts, &mut applied, &mut steps);
        }
        steps
            .into_iter()
            .map(|(i, backwards)| (self.keys[i].clone(), backwards))
            .collect()
    }

    /// Resolves the `TARGET` of `migrate APP TARGET`: `zero` -> `None`; an exact name; else a unique prefix.
    pub fn resolve_target(&self, app: &str, name: &str) -> Result<Option<NodeKey>, GraphError> {
        let candidates = &self.keys[self.app_range(app)];
        if candidates.is_empty() {
            return Err(GraphError::NoMigrations {
                app: app.to_string(),
            });
        }
        if name == "zero" {
            return Ok(None);
        }
        if let Some(exact) = candidates.iter().find(|k| k.name == name) {
            return Ok(Some(exact.clone()));
        }
        // An empty prefix would match everything; treat it as a name that does not exist.
        let matches: Vec<&NodeKey> = candidates
            .iter()
            .filter(|k| !name.is_empty() && k.name.starts_with(name))
            .collect();
        match matches.as_slice() {
            [] => Err(GraphError::TargetNotFound {
                app: app.to_string(),
                name: name.to_string(),
            }),
            [only] => Ok(Some((*only).clone())),
            _ => Err(GraphError::AmbiguousTarget {
                app: app.to_string(),
                prefix: name.to_string(),
                matches: matches.iter().map(|k| k.name.clone()).collect(),
            }),
        }
    }

    fn index_of(&self, key: &NodeKey) -> Option<usize> {
        self.keys.binary_search(key).ok()
    }

    /// Indices of `app`'s nodes: keys sort by app first, so they are one contiguous run.
    fn app_range(&self, app: &str) -> Range<usize> {
        let start = self.keys.partition_point(|k| k.app.as_str() < app);
        let end = self.keys.partition_point(|k| k.app.as_str() <= app);
        start..end
    }

    fn leaf_indices<'a>(&'a self, app: &'a str) -> impl Iterator<Item = usize> + 'a {
        self.app_range(app)
            .filter(move |&i| self.children[i].iter().all(|&c| self.keys[c].app != app))
    }

    fn root_indices<'a>(&'a self, app: &'a str) -> impl Iterator<Item = usize> + 'a {
        self.app_range(app)
            .filter(move |&i| self.parents[i].iter().all(|&p| self.keys[p].app != app))
    }

    fn edges(&self, node: usize, direction: Direction) -> &[usize] {
        match direction {
            Direction::Forwards => &self.parents[node],
            Direction::Backwards => &self.children[node],
        }
    }

    fn neighbours(&self, key: &NodeKey, direction: Direction) -> Vec<&NodeKey> {
        self.index_of(key)
            .map(|i| {
                self.edges(i, direction)
                    .iter()
                    .map(|&j| &self.keys[j])
                    .collect()
            })
            .unwrap_or_default()
    }

    fn plan_from(&self, target: &NodeKey, direction: Direction) -> Vec<NodeKey> {
        let Some(start) = self.index_of(target) else {
            return Vec::new();
        };
        let mut order = Vec::new();
        self.walk(
            start,
            direction,
            &mut vec![false; self.keys.len()],
            &mut order,
        );
        order.into_iter().map(|i| self.keys[i].clone()).collect()
    }

    /// Iterative post-order DFS from `start` along `direction`, neighbours in ascending order, appending each
    /// newly finished node to `out`. Nodes already `seen` are skipped. Each node and edge is handled once, and the
    /// explicit stack keeps deep chains off the call stack. Marking on entry is safe because the graph is acyclic.
    fn walk(&self, start: usize, direction: Direction, seen: &mut [bool], out: &mut Vec<usize>) {
        if seen[start] {
            return;
        }
        seen[start] = true;
        let mut stack: Vec<(usize, usize)> = vec![(start, 0)];
        while let Some(frame) = stack.last_mut() {
            let (node, cursor) = *frame;
            match self.edges(node, direction).get(cursor) {
                Some(&next) => {
                    frame.1 += 1;
                    if !seen[next] {
                        seen[next] = true;
                        stack.push((next, 0));
                    }
                }
                None => {
                    stack.pop();
                    out.push(node);
                }
            }
        }
    }

    /// Appends, as backwards steps, the applied nodes of each start's `backwards_plan`, marking them unapplied.
    fn unapply_from(&self, starts: &[usize], applied: &mut [bool], steps: &mut Vec<(usize, bool)>) {
        // Sharing `seen` across starts gives the same result as separate walks: it stays closed under descendants.
        let mut seen = vec![false; self.keys.len()];
        let mut order = Vec::new();
        for &start in starts {
            self.walk(start, Direction::Backwards, &mut seen, &mut order);
        }
        for node in order {
            if applied[node] {
                applied[node] = false;
                steps.push((node, true));
            }
        }
    }

    /// Iterative three-colour DFS along "depends on" edges. Returns the first cycle found (starts tried in sorted
    /// order), rotated to begin at its smallest key, with that key repeated at the end.
    fn find_cycle(&self) -> Option<Vec<NodeKey>> {
        let mut colour = vec![Colour::White; self.keys.len()];
        let mut stack: Vec<(usize, usize)> = Vec::new();
        for start in 0..self.keys.len() {
            if colour[start] != Colour::White {
                continue;
            }
            colour[start] = Colour::Grey;
            stack.push((start, 0));
            while let Some(frame) = stack.last_mut() {
                let (node, cursor) = *frame;
                let Some(&next) = self.parents[node].get(cursor) else {
                    colour[node] = Colour::Black;
                    stack.pop();
                    continue;
                };
                frame.1 += 1;
                match colour[next] {
                    Colour::White => {
                        colour[next] = Colour::Grey;
                        stack.push((next, 0));
                    }
                    // Grey nodes are exactly those on the stack, so `next` closes a cycle through the stack's top.
                    Colour::Grey => return Some(self.cycle_path(&stack, next)),
                    Colour::Black => {}
                }
            }
        }
        None
    }

    fn cycle_path(&self, stack: &[(usize, usize)], closing: usize) -> Vec<NodeKey> {
        // `closing` is grey, hence on the stack; 0 is only a fallback that still yields a path.
        let from = stack.iter().position(|&(n, _)| n == closing).unwrap_or(0);
        let mut cycle: Vec<usize> = stack[from..].iter().map(|&(n, _)| n).collect();
        let smallest = (0..cycle.len()).min_by_key(|&i| cycle[i]).unwrap_or(0);
        cycle.rotate_left(smallest);
        cycle.extend(cycle.first().copied());
        cycle.into_iter().map(|i| self.keys[i].clone()).collect()
    }
}

#[cfg(test)]
mod tests;
