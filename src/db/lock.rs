//! The migration lock: one `migrate` at a time per database. PostgreSQL uses an advisory
//! lock; SQLite a lock on a file next to the database (SQLite's own locks last one
//! transaction, and a run spans many). Released when the guard drops.

use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::settings::DatabaseUrl;
use crate::value::Value;

use super::{Database, Vendor};

/// Advisory lock key: a fixed number, "luamig" in ASCII.
const PG_LOCK_KEY: i64 = 0x6c75_616d_6967;

/// Holds the lock until dropped.
pub enum MigrationLock<'a> {
    Postgres(&'a Database),
    File(std::fs::File),
    None,
}

impl Drop for MigrationLock<'_> {
    fn drop(&mut self) {
        match self {
            MigrationLock::Postgres(db) => {
                let _ = db.query("SELECT pg_advisory_unlock(%s)", &[Value::Int(PG_LOCK_KEY)]);
            }
            MigrationLock::File(f) => {
                let _ = f.unlock();
            }
            MigrationLock::None => {}
        }
    }
}

/// Waits up to `timeout` for the lock of `db`.
pub fn acquire<'a>(
    db: &'a Database,
    url: &DatabaseUrl,
    timeout: Duration,
) -> Result<MigrationLock<'a>> {
    let start = Instant::now();
    let timed_out = || {
        Error::Usage(format!(
            "another luamig migrate is running on database '{}' and did not finish within {} s (--lock-timeout)",
            db.alias,
            timeout.as_secs()
        ))
    };
    match (db.vendor, url) {
        (Vendor::Postgres, _) => loop {
            let rows = db.query(
                "SELECT pg_try_advisory_lock(%s)",
                &[Value::Int(PG_LOCK_KEY)],
            )?;
            if matches!(
                rows.rows.first().and_then(|r| r.first()),
                Some(Value::Bool(true))
            ) {
                return Ok(MigrationLock::Postgres(db));
            }
            if start.elapsed() >= timeout {
                return Err(timed_out());
            }
            std::thread::sleep(Duration::from_millis(100));
        },
        (Vendor::Sqlite, DatabaseUrl::Sqlite(Some(path))) => {
            let lock_path = path.with_file_name(format!(
                "{}.luamig-lock",
                path.file_name()
                    .map(|n| n.to_string_lossy().to_string())
                    .unwrap_or_default()
            ));
            let file = std::fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&lock_path)
                .map_err(|e| Error::File {
                    path: lock_path.clone(),
                    reason: e.to_string(),
                })?;
            loop {
                match file.try_lock() {
                    Ok(()) => return Ok(MigrationLock::File(file)),
                    Err(std::fs::TryLockError::WouldBlock) => {}
                    Err(std::fs::TryLockError::Error(e)) => {
                        return Err(Error::File {
                            path: lock_path,
                            reason: e.to_string(),
                        });
                    }
                }
                if start.elapsed() >= timeout {
                    return Err(timed_out());
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        _ => Ok(MigrationLock::None),
    }
}
