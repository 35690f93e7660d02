//! SQLite through rusqlite: statements are cached and parameters bound, never interpolated.

use std::path::Path;
use std::rc::Rc;

use rusqlite::types::{ToSqlOutput, ValueRef};

use super::read_cache::{ExactColumn, ReadCache, TableFacts};
use super::sqlite_statements::RowWriteStatements;
use super::{Connection, InsertSql, RowWriteError, Rows, Vendor, quote_name};
use crate::error::{Error, Result};
use crate::value::Value;

/// An open SQLite database.
pub struct SqliteConnection {
    conn: rusqlite::Connection,
    /// Lookup results kept within a transaction (see [`super::read_cache`]).
    reads: ReadCache,
    /// The ORM's row writes, compiled (finalized in `Drop`, before `conn` closes).
    row_writes: RowWriteStatements,
}

impl Drop for SqliteConnection {
    fn drop(&mut self) {
        self.row_writes.finalize_all();
    }
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
        Ok(SqliteConnection {
            conn,
            reads: ReadCache::default(),
            row_writes: RowWriteStatements::default(),
        })
    }

    /// Whether `table` is a table, whether a row write to it changes nothing else, and which
    /// of its columns compare exactly.
    fn facts_of(&mut self, table: &str) -> Result<&TableFacts, String> {
        if self.reads.facts(table).is_none() {
            let facts = self.learn_facts(table).map_err(|e| e.to_string())?;
            self.reads.learn(table, facts);
        }
        Ok(self.reads.facts(table).expect("learnt above"))
    }

    /// Whether SQLite made an index for `table`'s primary key (every key but the rowid).
    fn has_key_index(&mut self, table: &str) -> rusqlite::Result<bool> {
        let sql = "SELECT EXISTS (SELECT 1 FROM pragma_index_list(?1) WHERE origin = 'pk')";
        self.conn
            .prepare_cached(sql)?
            .query_row([table], |r| r.get(0))
    }

    fn learn_facts(&mut self, table: &str) -> rusqlite::Result<TableFacts> {
        let objects = "SELECT type, name, tbl_name, sql FROM sqlite_master \
             UNION ALL SELECT type, name, tbl_name, sql FROM sqlite_temp_master";
        let sql = format!(
            "SELECT EXISTS (SELECT 1 FROM ({objects}) WHERE type = 'table' AND name = ?1 COLLATE NOCASE) \
             AND NOT EXISTS (SELECT 1 FROM ({objects}) WHERE type = 'view' AND name = ?1 COLLATE NOCASE), \
             NOT EXISTS (SELECT 1 FROM ({objects}) WHERE type = 'trigger' AND tbl_name = ?1 COLLATE NOCASE) \
             AND NOT (SELECT foreign_keys FROM pragma_foreign_keys), \
             EXISTS (SELECT 1 FROM ({objects}) WHERE type = 'table' AND name = ?1 COLLATE NOCASE \
                 AND upper(sql) LIKE '%COLLATE%'), \
             EXISTS (SELECT 1 FROM ({objects}) WHERE type = 'table' AND name = ?1 COLLATE NOCASE \
                 AND upper(sql) LIKE '%WITHOUT%ROWID%')"
        );
        let (keeps_answers, writes_stay_inside, collates, without_rowid) =
            self.conn.prepare_cached(&sql)?.query_row([table], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get::<_, bool>(2)?,
                    r.get::<_, bool>(3)?,
                ))
            })?;
        // Exact comparisons: integer affinity, or text affinity where no column names a
        // collation (the default, BINARY, compares bytes).
        let mut exact_columns = rustc_hash::FxHashMap::default();
        let mut rowid_reads = keeps_answers && !without_rowid;
        let mut key_columns = Vec::new();
        if keeps_answers {
            let mut stmt = self
                .conn
                .prepare_cached("SELECT name, upper(type), pk FROM pragma_table_xinfo(?1)")?;
            let mut rows = stmt.query([table])?;
            while let Some(row) = rows.next()? {
                let (name, ty): (String, String) = (row.get(0)?, row.get(1)?);
                if row.get::<_, i64>(2)? > 0 {
                    key_columns.push((name.clone(), ty.clone()));
                }
                if ["rowid", "_rowid_", "oid"]
                    .iter()
                    .any(|alias| name.eq_ignore_ascii_case(alias))
                {
                    rowid_reads = false;
                }
                let kind = if ty.contains("INT") {
                    ExactColumn::Integer
                } else if !collates && ["CHAR", "CLOB", "TEXT"].iter().any(|t| ty.contains(t)) {
                    ExactColumn::Text
                } else {
                    continue;
                };
                exact_columns.insert(name, kind);
            }
        }
        // The one key column of type INTEGER is the rowid, unless SQLite made an index for
        // the key (as it does for `INTEGER PRIMARY KEY DESC`).
        let rowid_column = match key_columns.as_slice() {
            [(name, ty)] if rowid_reads && ty == "INTEGER" && !self.has_key_index(table)? => {
                Some(name.clone())
            }
            _ => None,
        };
        Ok(TableFacts {
            keeps_answers,
            writes_stay_inside,
            exact_columns: Rc::new(exact_columns),
            rowid_reads,
            rowid_column,
        })
    }

    /// [`Connection::execute`], for a statement that writes rows of `only` alone when given.
    fn run(&mut self, sql: &str, params: &[Value], only: Option<&str>) -> Result<u64, String> {
        // Several statements in one string (RunSQL scripts) run as a batch.
        if params.is_empty() && sql.trim_end().trim_end_matches(';').contains(';') {
            self.reads.forget_all();
            self.conn.execute_batch(sql).map_err(|e| e.to_string())?;
            return Ok(self.conn.changes());
        }
        let stays_inside = self.stays_inside(only)?;
        let mut stmt = self.conn.prepare_cached(sql).map_err(|e| e.to_string())?;
        forget_what_changes(&mut self.reads, &stmt, only, stays_inside);
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

    /// [`Connection::query`], for a statement that writes rows of `only` alone when given.
    fn fetch(&mut self, sql: &str, params: &[Value], only: Option<&str>) -> Result<Rows, String> {
        let stays_inside = self.stays_inside(only)?;
        let mut stmt = self.conn.prepare_cached(sql).map_err(|e| e.to_string())?;
        forget_what_changes(&mut self.reads, &stmt, only, stays_inside);
        read_rows(&mut stmt, params)
    }

    /// Whether a row write to `only` changes nothing but that table (false without one).
    /// With no results kept there is nothing to forget, and nothing to ask.
    fn stays_inside(&mut self, only: Option<&str>) -> Result<bool, String> {
        match only {
            Some(_) if self.reads.is_empty() => Ok(true),
            Some(table) => Ok(self.facts_of(table)?.writes_stay_inside),
            None => Ok(false),
        }
    }
}

/// Where a column of a row just inserted gets its stored value from.
enum Stored {
    Rowid,
    Param(usize),
}

/// For each column of the row as stored, where its value comes from when the table stores
/// the INSERT's values exactly as given, with no trigger to change them: a column given a
/// value of its own kind (see [`ExactColumn`]: integer affinity, or text), or the rowid left
/// out. None when a column is left out (its default is the database's) or given another
/// kind (which SQLite may convert).
fn stored_as_given(
    facts: &TableFacts,
    sql: &InsertSql<'_>,
    params: &[Value],
) -> Option<Vec<Stored>> {
    sql.stored
        .iter()
        .map(|column| {
            let is_rowid = facts.rowid_column.as_deref() == Some(column);
            let given = sql.columns.iter().position(|c| c == column);
            match given.map(|i| (i, &params[i])) {
                // The rowid given NULL is a new one, as left out.
                None | Some((_, Value::Null)) if is_rowid => Some(Stored::Rowid),
                Some((i, Value::Null)) => Some(Stored::Param(i)),
                Some((i, v)) if facts.exact_columns.get(column)?.holds(v) => Some(Stored::Param(i)),
                _ => None,
            }
        })
        .collect()
}

/// Forgets the kept results `stmt` may change: none for a read-only query; for a row write
/// to the table `only` that `stays_inside`, that table's; else all.
fn forget_what_changes(
    reads: &mut ReadCache,
    stmt: &rusqlite::Statement<'_>,
    only: Option<&str>,
    stays_inside: bool,
) {
    // Transaction control is read-only to SQLite and returns no columns, but a rollback
    // changes rows.
    if stmt.readonly() && stmt.column_count() > 0 {
        return;
    }
    match only {
        Some(table) if stays_inside => reads.forget_table(table),
        _ => reads.forget_all(),
    }
}

/// Runs `stmt` with `params`; its rows.
fn read_rows(stmt: &mut rusqlite::Statement<'_>, params: &[Value]) -> Result<Rows, String> {
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
        self.run(sql, params, None)
    }

    fn execute_writing(&mut self, table: &str, sql: &str, params: &[Value]) -> Result<u64, String> {
        if params.is_empty() {
            return self.run(sql, params, Some(table));
        }
        let stays_inside = self.stays_inside(Some(table))?;
        // SAFETY: the statements were compiled on this connection, which is open.
        let ran = unsafe { self.row_writes.run(self.conn.handle(), sql, params) };
        // Forgotten even when it failed: a failed write changed nothing, but forgetting too
        // much only costs a query.
        match stays_inside {
            true => self.reads.forget_table(table),
            false => self.reads.forget_all(),
        }
        ran
    }

    fn execute_writing_rows(
        &mut self,
        table: &str,
        (sql, insert_missing): (&str, Option<&str>),
        rows: &[&[Value]],
    ) -> Result<(), RowWriteError> {
        let stays_inside = self
            .stays_inside(Some(table))
            .map_err(RowWriteError::at(0, false))?;
        // As `execute_writing` row by row, with what the writes change forgotten once (even
        // when one fails: a failed write changed nothing, but forgetting too much only costs
        // a query), before them, since nothing reads in between.
        match stays_inside {
            true => self.reads.forget_table(table),
            false => self.reads.forget_all(),
        }
        for (row, params) in rows.iter().enumerate() {
            // SAFETY: the statements were compiled on this connection, which is open.
            let updated = unsafe { self.row_writes.run(self.conn.handle(), sql, params) }
                .map_err(RowWriteError::at(row, false))?;
            if let (0, Some(insert)) = (updated, insert_missing) {
                // SAFETY: as above.
                unsafe { self.row_writes.run(self.conn.handle(), insert, params) }
                    .map_err(RowWriteError::at(row, true))?;
            }
        }
        Ok(())
    }

    fn execute_batch(&mut self, sql: &str) -> Result<(), String> {
        self.reads.forget_all();
        self.conn.execute_batch(sql).map_err(|e| e.to_string())
    }

    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Rows, String> {
        self.fetch(sql, params, None)
    }

    fn query_writing(&mut self, table: &str, sql: &str, params: &[Value]) -> Result<Rows, String> {
        self.fetch(sql, params, Some(table))
    }

    fn query_inserting(
        &mut self,
        table: &str,
        sql: InsertSql<'_>,
        params: &[Value],
    ) -> Result<Rows, String> {
        // With nothing kept there is nothing to forget (as `stays_inside`).
        let nothing_kept = self.reads.is_empty();
        let facts = self.facts_of(table)?;
        let stays_inside = nothing_kept || facts.writes_stay_inside;
        let rowid_reads = facts.rowid_reads;
        // SQLite runs a statement with RETURNING under a statement journal, copying every
        // page it writes before writing it (8 KB and more per row): on a table, the INSERT
        // alone and a read of the row by rowid cost far less; and nothing more when the row
        // is stored exactly as given.
        let rowid;
        let (query, query_params) = if rowid_reads {
            let as_given = facts
                .writes_stay_inside
                .then(|| stored_as_given(facts, &sql, params));
            // SAFETY: the statements were compiled on this connection, which is open.
            unsafe {
                self.row_writes
                    .run(self.conn.handle(), sql.insert, params)?
            };
            let id = self.conn.last_insert_rowid();
            if let Some(Some(from)) = as_given {
                let row = (from.iter())
                    .map(|from| match from {
                        Stored::Rowid => Value::Int(id),
                        Stored::Param(i) => params[*i].clone(),
                    })
                    .collect();
                let rows = Rows {
                    columns: sql.stored.to_vec(),
                    rows: vec![row],
                };
                self.reads.forget_inserted(table, &rows, stays_inside);
                return Ok(rows);
            }
            rowid = [Value::Int(id)];
            (sql.read_back, &rowid[..])
        } else {
            (sql.returning, params)
        };
        let mut stmt = self.conn.prepare_cached(query).map_err(|e| e.to_string())?;
        let rows = read_rows(&mut stmt, query_params)?;
        // A failed INSERT changed nothing; a done one forgets what its row could change.
        self.reads.forget_inserted(table, &rows, stays_inside);
        Ok(rows)
    }

    fn query_cached(
        &mut self,
        table: &str,
        (sql, columns): (&str, &Rc<[String]>),
        params: &[Value],
    ) -> Result<Rc<Rows>, String> {
        if self.conn.is_autocommit() {
            self.reads.forget_all();
            return self.fetch(sql, params, None).map(Rc::new);
        }
        if !self.facts_of(table)?.keeps_answers {
            return self.fetch(sql, params, None).map(Rc::new);
        }
        if let Some(rows) = self.reads.get(table, sql, params) {
            return Ok(rows.clone());
        }
        let rows = self.fetch(sql, params, None)?;
        // An empty table's lookups know its every row from now on (see `read_cache`): asked
        // when a lookup finds nothing, as the first of a `get_or_create` that fills it does.
        if rows.rows.is_empty() && self.reads.ask_empty(table) {
            let empty = format!("SELECT NOT EXISTS (SELECT 1 FROM {})", quote_name(table));
            let found = self.fetch(&empty, &[], None)?;
            if found.rows.first().and_then(|r| r.first()) == Some(&Value::Int(1)) {
                self.reads.learn_empty(table);
            }
        }
        Ok(self.reads.keep(table, (sql, columns), params, rows))
    }

    fn kept_answer(&mut self, table: &str, sql: &str, key: &[u8]) -> Option<Rc<Rows>> {
        // Answers are kept only of tables whose facts allow it (see `query_cached`).
        if self.conn.is_autocommit() {
            return None;
        }
        self.reads.get_by_key(table, sql, key).cloned()
    }

    fn table_facts(&mut self, table: &str) -> Result<TableFacts, String> {
        self.facts_of(table).cloned()
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
