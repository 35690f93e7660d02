//! Project state replayed from migrations: the state the applied history describes, the
//! state before each step of a backwards plan, and the states around each operation.

use std::collections::{BTreeMap, BTreeSet};

use crate::error::Result;
use crate::graph::NodeKey;
use crate::migration::Migration;
use crate::operations::{Operation, OperationKind, check_relations, state_forwards};
use crate::state::ProjectState;

use super::{Executor, Step};

impl Executor<'_> {
    /// The state with every applied migration, in full-plan order.
    pub(super) fn applied_state(&self) -> Result<ProjectState> {
        let mut state = ProjectState::new();
        for key in self.graph.full_plan() {
            if self.graph.is_applied(&key) {
                apply_state(self.migration(&key)?, &mut state)?;
            }
        }
        Ok(state)
    }

    /// The state before each migration of a backwards plan (Django's `_migrate_all_backwards`).
    pub(super) fn states_before(&self, plan: &[Step]) -> Result<BTreeMap<NodeKey, ProjectState>> {
        let mut wanted: BTreeSet<&NodeKey> = plan.iter().map(|(k, _)| k).collect();
        let mut states = BTreeMap::new();
        let mut state = ProjectState::new();
        for key in self.graph.full_plan() {
            if wanted.is_empty() {
                break;
            }
            if !self.graph.is_applied(&key) {
                continue;
            }
            if wanted.remove(&key) {
                states.insert(key.clone(), state.clone());
            }
            apply_state(self.migration(&key)?, &mut state)?;
        }
        Ok(states)
    }
}

/// Calls `f(index, done, op, before, after)` for each operation of `m` in the order a run
/// visits them (last to first when unapplying; `done` counts the calls before), with the
/// states around it; returns the state after the migration (forwards) or before it
/// (backwards). Forwards, the states are made one at a time, so memory does not grow with
/// the number of operations; backwards needs them all first, and keeps each once.
pub(super) fn walk_operations<F>(
    m: &Migration,
    mut state: ProjectState,
    backwards: bool,
    mut f: F,
) -> Result<ProjectState>
where
    F: FnMut(usize, usize, &Operation, &ProjectState, &ProjectState) -> Result<()>,
{
    if !backwards {
        for (i, op) in m.operations.iter().enumerate() {
            let before = state.clone();
            state_forwards(op, &m.key.app, &mut state)?;
            f(i, i, op, &before, &state)?;
        }
        return Ok(state);
    }
    let mut states = Vec::with_capacity(m.operations.len() + 1);
    states.push(state.clone());
    for op in &m.operations {
        state_forwards(op, &m.key.app, &mut state)?;
        states.push(state.clone());
    }
    for (done, (i, op)) in m.operations.iter().enumerate().rev().enumerate() {
        f(i, done, op, &states[i], &states[i + 1])?;
    }
    Ok(states.swap_remove(0))
}

/// Applies a migration's state half and checks that its relations point at real models.
pub fn apply_state(m: &Migration, state: &mut ProjectState) -> Result<()> {
    let mut touched = Vec::new();
    for op in &m.operations {
        state_forwards(op, &m.key.app, state)?;
        collect_touched(op, &mut touched);
    }
    check_relations(state, &m.key.app, &touched)
}

fn collect_touched(op: &Operation, out: &mut Vec<String>) {
    use OperationKind::*;
    match &op.kind {
        CreateModel { name, .. } => out.push(name.clone()),
        AddField { model_name, .. } | AlterField { model_name, .. } => out.push(model_name.clone()),
        RunSql {
            state_operations, ..
        }
        | SeparateDatabaseAndState {
            state_operations, ..
        } => {
            for inner in state_operations {
                collect_touched(inner, out);
            }
        }
        _ => {}
    }
}
