//! Commit groups: finished migrations committed together, with their history rows.

use std::time::{Duration, Instant};

use crate::db::{AtomicLevel, Database};
use crate::error::{Error, Result};
use crate::graph::NodeKey;
use crate::recorder::{PendingRecord, Recorder};

/// Finished migrations are committed in groups: the run keeps one transaction open, each
/// atomic migration runs in a savepoint inside it, and the transaction commits once it has
/// been open for [`COMMIT_INTERVAL`], before a non-atomic migration, and at the end or after
/// a failure (keeping what finished). Each migration stays all-or-nothing; a crash loses at
/// most the unfinished group, and the next run applies it again. One commit, and one fsync,
/// per group instead of per migration; and the group's history rows go out together just
/// before its commit (on PostgreSQL a round trip per migration fewer).
pub(super) struct CommitGroup<'a> {
    db: &'a Database,
    open: Option<(AtomicLevel, Instant)>,
    /// Migrations finished in the open transaction.
    finished: usize,
    /// History rows of the finished migrations, written by [`CommitGroup::commit`].
    records: Vec<PendingRecord>,
}

/// How long finished migrations may wait for their commit.
const COMMIT_INTERVAL: Duration = Duration::from_millis(250);

impl<'a> CommitGroup<'a> {
    pub(super) fn new(db: &'a Database) -> Self {
        CommitGroup {
            db,
            open: None,
            finished: 0,
            records: Vec::new(),
        }
    }

    /// Before a migration: a non-atomic one runs outside any transaction. Returns whether an
    /// atomic one needs a savepoint: only when migrations that finished share the open
    /// transaction. The first of a group needs none (its failure rolls the group back, which
    /// holds only it), and on SQLite a savepoint costs a journal copy of every page written.
    pub(super) fn before(&mut self, atomic: bool) -> Result<bool> {
        if !atomic {
            self.commit()?;
            return Ok(false);
        }
        if self.open.is_none() {
            self.open = Some((self.db.atomic_begin()?, Instant::now()));
            self.finished = 0;
        }
        Ok(self.finished > 0)
    }

    /// Records a migration as applied: with the group's commit when a group is open (its
    /// migration then commits or rolls back with the group), else at once.
    pub(super) fn record_applied(&mut self, key: &NodeKey, checksum: Option<&str>) -> Result<()> {
        if self.open.is_some() {
            self.records
                .push((key.clone(), checksum.map(str::to_string)));
            return Ok(());
        }
        Recorder::new(self.db).record_applied(key, checksum)
    }

    /// After a migration finished: commit when the group is old enough.
    pub(super) fn after(&mut self) -> Result<()> {
        self.finished += 1;
        match &self.open {
            Some((_, since)) if since.elapsed() >= COMMIT_INTERVAL => self.commit(),
            _ => Ok(()),
        }
    }

    /// Writes the finished migrations' history rows and commits; with nothing finished (the
    /// first migration failed) it rolls back instead, so a failed run leaves even a SQLite
    /// file's bytes untouched. Rows that cannot be written roll the group back with them.
    pub(super) fn commit(&mut self) -> Result<()> {
        let finished = std::mem::take(&mut self.finished);
        let records = std::mem::take(&mut self.records);
        match self.open.take() {
            Some((level, _)) if finished > 0 => {
                if let Err(e) = self.write_records(&records) {
                    // The failure to record matters more than a failed rollback.
                    let _ = self.db.atomic_rollback(level);
                    return Err(unrecorded(&records, e));
                }
                self.db.atomic_commit(level)
            }
            Some((level, _)) => self.db.atomic_rollback(level),
            None => Ok(()),
        }
    }

    /// The history rows, in a savepoint tried twice: the statement cancel of a Ctrl-C
    /// pressed just before the commit may land on the first try.
    fn write_records(&self, records: &[PendingRecord]) -> Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        let attempt = || -> Result<()> {
            let level = self.db.atomic_begin()?;
            match Recorder::new(self.db).record_applied_all(records) {
                Ok(()) => self.db.atomic_commit(level),
                Err(e) => {
                    let _ = self.db.atomic_rollback(level);
                    Err(e)
                }
            }
        };
        attempt().or_else(|_| attempt())
    }
}

/// The error of a group whose history rows could not be written: the database's reason
/// (not the long INSERT) and which migrations were rolled back with them.
fn unrecorded(records: &[PendingRecord], cause: Error) -> Error {
    let names: Vec<String> = records.iter().map(|(key, _)| key.to_string()).collect();
    let listed = match names.as_slice() {
        [first, .., last] if names.len() > 3 => {
            format!("{} migrations ({first} ... {last})", names.len())
        }
        _ => names.join(", "),
    };
    let reason = match cause {
        Error::Database { message, .. } => message,
        other => other.to_string(),
    };
    let them = if names.len() == 1 { "it" } else { "them" };
    Error::Database {
        context: format!("cannot record {listed} as applied"),
        message: format!(
            "{reason}\n  rolled back with {them}: the database is as it was before {them}"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(n: usize) -> Vec<PendingRecord> {
        (1..=n)
            .map(|i| (NodeKey::new("shop", format!("{i:04}_m")), None))
            .collect()
    }

    #[test]
    fn unrecorded_names_a_few_migrations_and_counts_many() {
        let cause = || Error::db("database error in `INSERT ...`", "history is closed");
        assert_eq!(
            unrecorded(&records(1), cause()).to_string(),
            "cannot record shop.0001_m as applied: history is closed\n  \
             rolled back with it: the database is as it was before it"
        );
        assert_eq!(
            unrecorded(&records(1000), cause()).to_string(),
            "cannot record 1000 migrations (shop.0001_m ... shop.1000_m) as applied: \
             history is closed\n  rolled back with them: the database is as it was before them"
        );
    }
}
