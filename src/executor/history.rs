//! Applied migrations against their files: a file changed since it was applied (its
//! checksum) or gone is an error, unless `migrate --allow-changed` accepts the change.

use std::collections::BTreeSet;

use crate::error::{Error, Result};
use crate::graph::NodeKey;
use crate::migration::Migration;
use crate::recorder::Recorder;

use super::Executor;

impl<'p> Executor<'p> {
    /// Applied migrations of installed apps whose file changed (checksum) or vanished.
    pub fn check_files_match_history(&self) -> Result<()> {
        let problems: Vec<String> = self
            .history_mismatches()
            .iter()
            .map(HistoryMismatch::message)
            .collect();
        match problems.len() {
            0 => Ok(()),
            _ => Err(Error::History(problems.join("\n"))),
        }
    }

    /// Applied migrations whose file changed or is gone, in key order.
    fn history_mismatches(&self) -> Vec<HistoryMismatch<'p>> {
        let replaced: BTreeSet<&NodeKey> = self
            .project
            .migrations
            .values()
            .flat_map(|m| &m.replaces)
            .collect();
        let mut found = Vec::new();
        for (key, row) in &self.applied {
            if !self.project.apps.contains(&key.app) {
                continue;
            }
            match self.project.migrations.get(key) {
                None if replaced.contains(key) => {}
                None => found.push(HistoryMismatch::Gone(key.clone())),
                Some(m) => {
                    if row.checksum.as_ref().is_some_and(|sum| sum != &m.checksum) {
                        found.push(HistoryMismatch::Changed(m));
                    }
                }
            }
        }
        found
    }

    /// `migrate --allow-changed`: records the current checksum of every applied migration
    /// (of `app`, or of all apps) whose file changed, in one transaction, and returns them.
    /// A gone file cannot be accepted: it stays an error.
    pub fn accept_changed_files(&self, app: Option<&str>) -> Result<Vec<&'p Migration>> {
        let mismatches: Vec<HistoryMismatch<'p>> = self
            .history_mismatches()
            .into_iter()
            .filter(|h| app.is_none_or(|a| h.key().app == a))
            .collect();
        let gone: Vec<String> = mismatches
            .iter()
            .filter(|h| matches!(h, HistoryMismatch::Gone(_)))
            .map(HistoryMismatch::message)
            .collect();
        if !gone.is_empty() {
            return Err(Error::History(gone.join("\n")));
        }
        let changed: Vec<&'p Migration> = mismatches
            .into_iter()
            .filter_map(|h| match h {
                HistoryMismatch::Changed(m) => Some(m),
                HistoryMismatch::Gone(_) => None,
            })
            .collect();
        let level = self.db.atomic_begin()?;
        let recorder = Recorder::new(&self.db);
        for m in &changed {
            if let Err(e) = recorder.update_checksum(&m.key, &m.checksum) {
                let _ = self.db.atomic_rollback(level);
                return Err(e);
            }
        }
        self.db.atomic_commit(level)?;
        Ok(changed)
    }
}

/// An applied migration that no longer matches its file.
enum HistoryMismatch<'p> {
    /// The file's bytes differ from what was applied.
    Changed(&'p Migration),
    /// The file is gone.
    Gone(NodeKey),
}

impl HistoryMismatch<'_> {
    fn key(&self) -> &NodeKey {
        match self {
            HistoryMismatch::Changed(m) => &m.key,
            HistoryMismatch::Gone(key) => key,
        }
    }

    fn message(&self) -> String {
        match self {
            HistoryMismatch::Changed(m) => format!(
                "migration {} was changed after it was applied ({}): restore the applied version, put the change in a new migration, or accept it with `luamig migrate --allow-changed`",
                m.key,
                m.display_path()
            ),
            HistoryMismatch::Gone(key) => format!(
                "migration {key} is applied but its file is gone: restore the file (to forget it without touching the schema, restore it and run `luamig migrate {} <earlier migration> --fake`)",
                key.app
            ),
        }
    }
}
