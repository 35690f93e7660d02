//! Test harness: a project in a temporary folder, the real `luamig` binary run in it, and
//! direct reads of its database to check schema and rows.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A throwaway luamig project (settings optional) with a SQLite database file.
pub struct Project {
    pub dir: tempfile::TempDir,
}

#[path = "../run/mod.rs"]
mod run;
pub use run::Run;

impl Default for Project {
    fn default() -> Self {
        Self::new()
    }
}

impl Project {
    /// An empty project folder.
    pub fn new() -> Self {
        Project {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    /// The project folder.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes a file relative to the project folder (creating folders).
    pub fn write(&self, rel: &str, content: &str) -> &Self {
        let p = self.dir.path().join(rel);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, content).expect("write");
        self
    }

    /// Writes `migrations/<app>/<name>.lua`.
    pub fn migration(&self, app: &str, name: &str, content: &str) -> &Self {
        self.write(&format!("migrations/{app}/{name}.lua"), content)
    }

    /// Runs `luamig args...` in the project folder.
    pub fn luamig(&self, args: &[&str]) -> Run {
        let out: Output = Command::new(env!("CARGO_BIN_EXE_luamig"))
            .args(args)
            .current_dir(self.dir.path())
            .env_remove("DATABASE_URL")
            .env("RUST_BACKTRACE", "0")
            .output()
            .expect("run luamig");
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// The default database file.
    pub fn db_path(&self) -> PathBuf {
        self.dir.path().join("db.sqlite3")
    }

    /// Runs a query on the default SQLite database; every value as text ("NULL" for null).
    pub fn query(&self, sql: &str) -> Vec<Vec<String>> {
        let conn = rusqlite::Connection::open(self.db_path()).expect("open db");
        let mut stmt = conn.prepare(sql).expect("prepare");
        let n = stmt.column_count();
        let rows = stmt
            .query_map([], |r| {
                (0..n)
                    .map(|i| {
                        Ok(match r.get_ref(i)? {
                            rusqlite::types::ValueRef::Null => "NULL".to_string(),
                            rusqlite::types::ValueRef::Integer(v) => v.to_string(),
                            rusqlite::types::ValueRef::Real(v) => v.to_string(),
                            rusqlite::types::ValueRef::Text(t) => {
                                String::from_utf8_lossy(t).into_owned()
                            }
                            rusqlite::types::ValueRef::Blob(b) => format!("{b:?}"),
                        })
                    })
                    .collect::<rusqlite::Result<Vec<String>>>()
            })
            .expect("query");
        rows.map(|r| r.expect("row")).collect()
    }

    /// Table names (without sqlite internals), sorted.
    pub fn tables(&self) -> Vec<String> {
        self.query("SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
            .into_iter()
            .map(|r| r[0].clone())
            .collect()
    }

    /// `name type notnull pk` of each column of a table.
    pub fn columns(&self, table: &str) -> Vec<String> {
        self.query(&format!(
            "SELECT name, type, \"notnull\", pk FROM pragma_table_info('{table}') ORDER BY cid"
        ))
        .into_iter()
        .map(|r| r.join(" "))
        .collect()
    }

    /// Names of indexes on a table, sorted (SQLite's automatic ones included).
    pub fn indexes(&self, table: &str) -> Vec<String> {
        self.query(&format!(
            "SELECT name FROM pragma_index_list('{table}') ORDER BY name"
        ))
        .into_iter()
        .map(|r| r[0].clone())
        .collect()
    }

    /// The whole database file's bytes (to prove it unchanged).
    pub fn db_bytes(&self) -> Vec<u8> {
        std::fs::read(self.db_path()).unwrap_or_default()
    }
}

/// The standard prelude of a migration file.
pub const HEAD: &str = "local migrations = require(\"luamig.migrations\")\nlocal models = require(\"luamig.models\")\n";

impl Project {
    /// Runs `luamig args...` with extra environment variables (e.g. `DATABASE_URL`).
    pub fn luamig_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_luamig"));
        cmd.args(args)
            .current_dir(self.dir.path())
            .env_remove("DATABASE_URL")
            .env("RUST_BACKTRACE", "0");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out: Output = cmd.output().expect("run luamig");
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Runs SQL statements directly on the default SQLite database (foreign keys on).
    pub fn exec(&self, sql: &str) {
        self.try_exec(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    /// Like [`Project::exec`], returning the database's error instead of panicking.
    pub fn try_exec(&self, sql: &str) -> Result<(), String> {
        let conn = rusqlite::Connection::open(self.db_path()).map_err(|e| e.to_string())?;
        conn.execute_batch("PRAGMA foreign_keys = ON;")
            .map_err(|e| e.to_string())?;
        conn.execute_batch(sql).map_err(|e| e.to_string())
    }

    /// `name unique col1,col2` of each index of a table (SQLite's automatic ones included), sorted.
    pub fn index_details(&self, table: &str) -> Vec<String> {
        self.query(&format!(
            "SELECT name, \"unique\" FROM pragma_index_list('{table}') ORDER BY name"
        ))
        .into_iter()
        .map(|r| {
            let cols: Vec<String> = self
                .query(&format!(
                    "SELECT name FROM pragma_index_info('{}') ORDER BY seqno",
                    r[0]
                ))
                .into_iter()
                .map(|c| c[0].clone())
                .collect();
            format!("{} {} {}", r[0], r[1], cols.join(","))
        })
        .collect()
    }

    /// `from_column -> table.column` of each foreign key of a table, sorted.
    pub fn foreign_keys(&self, table: &str) -> Vec<String> {
        let mut fks: Vec<String> = self
            .query(&format!(
                "SELECT \"from\", \"table\", \"to\" FROM pragma_foreign_key_list('{table}')"
            ))
            .into_iter()
            .map(|r| format!("{} -> {}.{}", r[0], r[1], r[2]))
            .collect();
        fks.sort();
        fks
    }

    /// The CREATE statement SQLite keeps for a table or index.
    pub fn schema_sql(&self, name: &str) -> String {
        self.query(&format!(
            "SELECT sql FROM sqlite_master WHERE name = '{name}'"
        ))
        .into_iter()
        .next()
        .map(|r| r[0].clone())
        .unwrap_or_default()
    }

    /// Rows of `luamig_migrations` as `app.name`, in id order.
    pub fn applied(&self) -> Vec<String> {
        if !self.db_path().exists() || !self.tables().contains(&"luamig_migrations".to_string()) {
            return Vec::new();
        }
        self.query("SELECT app || '.' || name FROM luamig_migrations ORDER BY id")
            .into_iter()
            .map(|r| r[0].clone())
            .collect()
    }

    /// A single value of a query, as text.
    pub fn scalar(&self, sql: &str) -> String {
        self.query(sql)
            .into_iter()
            .next()
            .and_then(|r| r.into_iter().next())
            .unwrap_or_default()
    }
}

/// A migration file's source: `HEAD`, then a Migration with these dependencies and operations
/// (Lua source of the operation list's items).
pub fn mig(deps: &[(&str, &str)], ops: &str) -> String {
    let deps: Vec<String> = deps
        .iter()
        .map(|(a, n)| format!("{{\"{a}\", \"{n}\"}}"))
        .collect();
    format!(
        "{HEAD}return migrations.Migration {{\n  dependencies = {{ {} }},\n  operations = {{\n{ops}\n  }},\n}}\n",
        deps.join(", ")
    )
}
