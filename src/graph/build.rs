//! Assembling the graph: nodes and edges keyed by migration, placeholders for keys with no
//! file, and the squash surgery (a replacement used or dropped), frozen at the end into
//! [`MigrationGraph`]'s index form.

use std::collections::{BTreeMap, BTreeSet};

use super::{GraphError, MigrationGraph, NodeKey};

/// How a key with no file came to be referenced; dependencies sort first so they are reported first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum RefKind {
    Dependency,
    RunBefore,
}

/// A node while the graph is being assembled; keyed edges make the squash surgery simple. Keys are borrowed from
/// the `MigrationNode`s being built, so no edge copies a key.
#[derive(Default)]
struct WorkNode<'a> {
    parents: BTreeSet<&'a NodeKey>,
    children: BTreeSet<&'a NodeKey>,
    /// `None` for a migration with a file. For a placeholder (Django's `DummyNode`), the migrations that referred
    /// to it; a placeholder still present after replacement is a missing-migration error.
    referrers: Option<BTreeSet<(RefKind, &'a NodeKey)>>,
}

/// The mutable graph used during [`MigrationGraph::build`]. Invariant: every key in any `parents`/`children`
/// set is itself a key of `nodes` (edges are only added between existing nodes and removed with them).
#[derive(Default)]
pub(super) struct Builder<'a> {
    nodes: BTreeMap<&'a NodeKey, WorkNode<'a>>,
}

impl<'a> Builder<'a> {
    /// Whether `key` is still a node (a squash a later one replaced is not).
    pub(super) fn has(&self, key: &NodeKey) -> bool {
        self.nodes.contains_key(key)
    }

    pub(super) fn add_migration(&mut self, key: &'a NodeKey) -> Result<(), GraphError> {
        if self.nodes.contains_key(key) {
            return Err(GraphError::DuplicateMigration(key.clone()));
        }
        self.nodes.insert(key, WorkNode::default());
        Ok(())
    }

    /// Makes sure `key` exists, creating a placeholder that remembers `origin` if it has no file.
    pub(super) fn ensure(&mut self, key: &'a NodeKey, kind: RefKind, origin: &'a NodeKey) {
        let node = self.nodes.entry(key).or_insert_with(|| WorkNode {
            referrers: Some(BTreeSet::new()),
            ..WorkNode::default()
        });
        if let Some(referrers) = &mut node.referrers {
            referrers.insert((kind, origin));
        }
    }

    pub(super) fn add_dependency(
        &mut self,
        child: &'a NodeKey,
        parent: &'a NodeKey,
        kind: RefKind,
        origin: &'a NodeKey,
    ) {
        self.ensure(child, kind, origin);
        self.ensure(parent, kind, origin);
        self.link(child, parent);
    }

    /// Adds the edge `parent -> child`; both ends must already exist (callers guarantee it).
    pub(super) fn link(&mut self, child: &'a NodeKey, parent: &'a NodeKey) {
        if let Some(node) = self.nodes.get_mut(child) {
            node.parents.insert(parent);
        }
        if let Some(node) = self.nodes.get_mut(parent) {
            node.children.insert(child);
        }
    }

    /// Django's `remove_replaced_nodes`: drop every replaced node and point its outside edges at `squash`.
    pub(super) fn use_replacement(
        &mut self,
        squash: &'a NodeKey,
        replaced: &BTreeSet<&'a NodeKey>,
    ) {
        for key in replaced {
            let Some(old) = self.nodes.remove(key) else {
                continue;
            };
            for child in &old.children {
                if let Some(node) = self.nodes.get_mut(child) {
                    node.parents.remove(key);
                }
                // Edges between two replaced nodes are internal to the squash; re-pointing them
                // would make the squash depend on itself.
                if !replaced.contains(child) {
                    self.link(child, squash);
                }
            }
            for parent in &old.parents {
                if let Some(node) = self.nodes.get_mut(parent) {
                    node.children.remove(key);
                }
                if !replaced.contains(parent) {
                    self.link(squash, parent);
                }
            }
        }
    }

    /// Django's `remove_replacement_node`: drop `squash` and make its children depend on the latest replaced
    /// nodes instead. Its parents need no remapping: the replaced nodes already carry that ancestry.
    pub(super) fn drop_replacement(
        &mut self,
        squash: &'a NodeKey,
        replaced: &BTreeSet<&'a NodeKey>,
    ) {
        let Some(old) = self.nodes.remove(squash) else {
            return;
        };
        let present: Vec<&NodeKey> = replaced
            .iter()
            .copied()
            .filter(|k| self.nodes.contains_key(*k))
            .collect();
        let inner_parents: BTreeSet<&NodeKey> = present
            .iter()
            .filter_map(|k| self.nodes.get(*k))
            .flat_map(|n| n.parents.iter().copied())
            .collect();
        // Only the replaced nodes that no other replaced node depends on: the tips of the replaced chain.
        let latest: Vec<&NodeKey> = present
            .into_iter()
            .filter(|k| !inner_parents.contains(*k))
            .collect();
        for &child in old.children.iter().filter(|c| **c != squash) {
            if let Some(node) = self.nodes.get_mut(child) {
                node.parents.remove(squash);
            }
            for &tip in &latest {
                self.link(child, tip);
            }
        }
        for parent in &old.parents {
            if let Some(node) = self.nodes.get_mut(parent) {
                node.children.remove(squash);
            }
        }
    }

    /// Django's `validate_consistency` plus the friendlier #23556 message: any placeholder left is an error.
    pub(super) fn check_placeholders(
        &self,
        replacements: &BTreeMap<&'a NodeKey, BTreeSet<&'a NodeKey>>,
    ) -> Result<(), GraphError> {
        for (&key, node) in &self.nodes {
            let Some(referrers) = &node.referrers else {
                continue;
            };
            // `ensure` records a referrer whenever it creates a placeholder, so this always matches.
            let Some(&(kind, origin)) = referrers.first() else {
                continue;
            };
            let squashes: Vec<NodeKey> = replacements
                .iter()
                .filter(|(_, replaced)| replaced.contains(key))
                .map(|(&squash, _)| squash.clone())
                .collect();
            if !squashes.is_empty() && squashes.iter().all(|s| !self.nodes.contains_key(s)) {
                return Err(GraphError::ReplacedMissing {
                    needed_by: origin.clone(),
                    missing: key.clone(),
                    squashes,
                });
            }
            return Err(match kind {
                RefKind::Dependency => GraphError::MissingParent {
                    child: origin.clone(),
                    parent: key.clone(),
                },
                RefKind::RunBefore => GraphError::MissingRunBefore {
                    node: origin.clone(),
                    target: key.clone(),
                },
            });
        }
        Ok(())
    }

    /// Freezes into index-based adjacency. Keys are sorted and indices follow key order, so sorted key sets
    /// map to sorted index lists.
    pub(super) fn finish(self, applied: BTreeSet<NodeKey>) -> MigrationGraph {
        let keys: Vec<NodeKey> = self.nodes.keys().map(|&k| k.clone()).collect();
        // By the Builder invariant every neighbour is in `keys`, so the lookup never drops anything.
        let to_indices = |set: &BTreeSet<&NodeKey>| -> Vec<usize> {
            set.iter()
                .filter_map(|k| keys.binary_search(k).ok())
                .collect()
        };
        let parents = self
            .nodes
            .values()
            .map(|n| to_indices(&n.parents))
            .collect();
        let children = self
            .nodes
            .values()
            .map(|n| to_indices(&n.children))
            .collect();
        MigrationGraph {
            keys,
            parents,
            children,
            applied,
        }
    }
}
