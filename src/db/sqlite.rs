//! SQLite through rusqlite: statements are cached and parameters bound, never interpolated.

use std::path::Path;

use rusqlite::types::{ToSqlOutput, ValueRef};

use super::{Connection, Rows, Vendor};
use crate::error::{Error, Result};
use crate::value::Value;

/// An open SQLite database.
pub struct SqliteConnection {
    conn: rusqlite::Connection,
}

impl SqliteConnection {
    /// Opens (creating if needed) the file at `path`, or an in-memory database for `None`.
    pub fn open(path: Option<&Path>) -> Result<Self> {
        super::sqlite_library::configure();
        let conn = match path {
            Some(p) => rusqlite::Connection::open(p),
            None => rusqlite::Connection::open_in_memory(),
        }
        .map_err(|e| {
            let shown = path
                .map(|p| p.display().to_string())
                .unwrap_or(":memory:".into());
            Error::Settings(format!("cannot open SQLite database {shown}: {e}"))
        })?;
        // Foreign keys are checked explicitly at the end of each migration (as Django's
        // schema editor does), because a table rebuild briefly breaks them.
        conn.execute_batch("PRAGMA foreign_keys = OFF; PRAGMA legacy_alter_table = OFF;")
            .map_err(|e| Error::db("configuring SQLite", e))?;
        conn.busy_timeout(std::time::Duration::from_secs(60))
            .map_err(|e| Error::db("configuring SQLite", e))?;
        conn.set_prepared_statement_cache_capacity(64);
        crate::interrupt::register(crate::interrupt::Canceller::Sqlite(
            conn.get_interrupt_handle(),
        ));
        Ok(SqliteConnection { conn })
    }
}

struct Param<'a>(&'a Value);

impl rusqlite::ToSql for Param<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self.0 {
            Value::Null => ToSqlOutput::Borrowed(ValueRef::Null),
            Value::Bool(b) => ToSqlOutput::Owned(rusqlite::types::Value::Integer(*b as i64)),
            Value::Int(i) => ToSqlOutput::Owned(rusqlite::types::Value::Integer(*i)),
            Value::Float(f) => ToSqlOutput::Owned(rusqlite::types::Value::Real(*f)),
            Value::Text(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
            Value::Bytes(b) => ToSqlOutput::Borrowed(ValueRef::Blob(b)),
            Value::Decimal(d) => ToSqlOutput::Owned(rusqlite::types::Value::Text(d.to_string())),
            Value::Json(j) => ToSqlOutput::Owned(rusqlite::types::Value::Text(j.to_string())),
        })
    }
}

fn read(v: ValueRef<'_>) -> Value {
    match v {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::Int(i),
        ValueRef::Real(f) => Value::Float(f),
        ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => Value::Bytes(b.to_vec()),
    }
}

impl Connection for SqliteConnection {
    fn vendor(&self) -> Vendor {
        Vendor::Sqlite
    }

    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, String> {
        // Several statements in one string (RunSQL scripts) run as a batch.
        if params.is_empty() && sql.trim_end().trim_end_matches(';').contains(';') {
            self.conn.execute_batch(sql).map_err(|e| e.to_string())?;
            return Ok(self.conn.changes());
        }
        let mut stmt = self.conn.prepare_cached(sql).map_err(|e| e.to_string())?;
        let params: Vec<Param> = params.iter().map(Param).collect();
        // A statement that returns rows (a SELECT in RunSQL, `... RETURNING`) runs to the
        // end with its rows thrown away, as on PostgreSQL.
        if stmt.column_count() > 0 {
            let read_only = stmt.readonly();
            let mut rows = stmt
                .query(rusqlite::params_from_iter(params.iter()))
                .map_err(|e| e.to_string())?;
            while rows.next().map_err(|e| e.to_string())?.is_some() {}
            drop(rows);
            return Ok(if read_only { 0 } else { self.conn.changes() });
        }
        let n = stmt
            .execute(rusqlite::params_from_iter(params.iter()))
            .map_err(|e| e.to_string())?;
        Ok(n as u64)
    }

    fn execute_batch(&mut self, sql: &str) -> Result<(), String> {
        self.conn.execute_batch(sql).map_err(|e| e.to_string())
    }

    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Rows, String> {
        let mut stmt = self.conn.prepare_cached(sql).map_err(|e| e.to_string())?;
        let columns: Vec<String> = stmt.column_names().map(|c| c.to_string()).collect();
        let params: Vec<Param> = params.iter().map(Param).collect();
        let mut rows = stmt
            .query(rusqlite::params_from_iter(params.iter()))
            .map_err(|e| e.to_string())?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(|e| e.to_string())? {
            let mut values = Vec::with_capacity(columns.len());
            for i in 0..columns.len() {
                values.push(read(row.get_ref(i).map_err(|e| e.to_string())?));
            }
            out.push(values);
        }
        Ok(Rows { columns, rows: out })
    }

    fn table_names(&mut self) -> Result<Vec<String>, String> {
        let rows = self.query(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
            &[],
        )?;
        Ok(rows.first_column_text())
    }

    fn column_names(&mut self, table: &str) -> Result<Vec<String>, String> {
        let rows = self.query(
            "SELECT name FROM pragma_table_info(?1) ORDER BY cid",
            &[Value::Text(table.to_string())],
        )?;
        Ok(rows.first_column_text())
    }

    fn placeholder(&self, _n: usize) -> String {
        "?".to_string()
    }
}
