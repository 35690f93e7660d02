//! Runs a test on each backend: SQLite in a temporary folder, and PostgreSQL in a database
//! of its own (created and dropped per test, so tests run in parallel). Without a reachable
//! PostgreSQL, PostgreSQL tests fail when `CI` is set and are skipped loudly otherwise.
#![allow(dead_code)]

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Which database a test runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The admin URL tests create their databases through.
pub fn admin_url() -> String {
    std::env::var("LUAMIG_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// A project folder bound to a fresh database on one backend.
pub struct Env {
    pub backend: Backend,
    pub dir: tempfile::TempDir,
    pg_name: Option<String>,
}

#[path = "../run/mod.rs"]
mod run;
pub use run::Run;

static COUNTER: AtomicUsize = AtomicUsize::new(0);

fn pg_client(url: &str) -> Option<postgres::Client> {
    postgres::Client::connect(url, postgres::NoTls).ok()
}

impl Env {
    /// A new environment, or None when PostgreSQL is unreachable outside CI.
    pub fn new(backend: Backend) -> Option<Env> {
        let dir = tempfile::tempdir().expect("temp dir");
        if backend == Backend::Sqlite {
            return Some(Env {
                backend,
                dir,
                pg_name: None,
            });
        }
        let Some(mut admin) = pg_client(&admin_url()) else {
            if std::env::var_os("CI").is_some() {
                panic!(
                    "PostgreSQL is not reachable at {} and CI is set",
                    admin_url()
                );
            }
            eprintln!(
                "\n*** SKIPPED: PostgreSQL not reachable at {} (set LUAMIG_TEST_POSTGRES_URL) ***\n",
                admin_url()
            );
            return None;
        };
        let name = format!(
            "luamig_t_{}_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0)
        );
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .expect("create test database");
        Some(Env {
            backend,
            dir,
            pg_name: Some(name),
        })
    }

    /// The database URL the binary is given.
    pub fn url(&self) -> String {
        match &self.pg_name {
            None => "sqlite:db.sqlite3".into(),
            Some(name) => {
                let admin = admin_url();
                let base = admin
                    .rsplit_once('/')
                    .map(|(b, _)| b.to_string())
                    .unwrap_or(admin);
                format!("{base}/{name}")
            }
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Copies a scenario folder (like `spec/orders_customers`) into the project folder:
    /// its `migrations/` folder and `luamig.lua` if present.
    pub fn copy_from(&self, src: &Path) {
        let wanted = |rel: &Path| {
            rel.starts_with("migrations")
                || rel == Path::new("luamig.lua")
                || rel.as_os_str().is_empty()
        };
        for entry in walkdir::WalkDir::new(src).into_iter().filter_entry(|e| {
            e.path()
                .strip_prefix(src)
                .map(|r| wanted(r) || r.starts_with("migrations"))
                .unwrap_or(false)
        }) {
            let entry = entry.expect("walk");
            let rel = entry.path().strip_prefix(src).expect("prefix");
            let dest = self.dir.path().join(rel);
            if entry.file_type().is_dir() {
                std::fs::create_dir_all(&dest).expect("mkdir");
            } else {
                std::fs::copy(entry.path(), &dest).expect("copy");
            }
        }
    }

    /// Writes a file into the project folder.
    pub fn write(&self, rel: &str, content: &str) {
        let p = self.dir.path().join(rel);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, content).expect("write");
    }

    /// Runs the binary against this environment's database.
    pub fn luamig(&self, args: &[&str]) -> Run {
        let out = Command::new(env!("CARGO_BIN_EXE_luamig"))
            .args(args)
            .current_dir(self.dir.path())
            .env("DATABASE_URL", self.url())
            .env("RUST_BACKTRACE", "0")
            .output()
            .expect("run luamig");
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Rows of a query, every value as text (NULL as "NULL"); write SQL both backends read
    /// the same way (cast booleans to integers, decimals to text...).
    pub fn rows(&self, sql: &str) -> Vec<Vec<String>> {
        match self.backend {
            Backend::Sqlite => {
                let conn =
                    rusqlite::Connection::open(self.dir.path().join("db.sqlite3")).expect("open");
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
            Backend::Postgres => {
                let mut c = pg_client(&self.url()).expect("connect to test database");
                let mut out = Vec::new();
                for m in c.simple_query(sql).expect("query") {
                    if let postgres::SimpleQueryMessage::Row(r) = m {
                        out.push(
                            (0..r.len())
                                .map(|i| r.get(i).unwrap_or("NULL").to_string())
                                .collect(),
                        );
                    }
                }
                out
            }
        }
    }

    /// The single value of a query.
    pub fn value(&self, sql: &str) -> String {
        self.rows(sql)
            .first()
            .and_then(|r| r.first())
            .cloned()
            .unwrap_or_default()
    }

    /// Names of tables, sorted, without SQLite internals.
    pub fn tables(&self) -> Vec<String> {
        let sql = match self.backend {
            Backend::Sqlite => {
                "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
            }
            Backend::Postgres => {
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename"
            }
        };
        self.rows(sql).into_iter().map(|r| r[0].clone()).collect()
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        if let Some(name) = &self.pg_name
            && let Some(mut admin) = pg_client(&admin_url())
        {
            let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
        }
    }
}

/// Declares `name_sqlite` and `name_postgres` tests that call `name(backend)`.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[test]
                fn sqlite() {
                    if let Some(env) = $crate::backends::Env::new($crate::backends::Backend::Sqlite) {
                        super::$name(&env);
                    }
                }
                #[test]
                fn postgres() {
                    if let Some(env) = $crate::backends::Env::new($crate::backends::Backend::Postgres) {
                        super::$name(&env);
                    }
                }
            }
        )*
    };
}
