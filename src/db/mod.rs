//! Database connections behind one small trait, so the engine is backend-agnostic:
//! SQLite and PostgreSQL differ only in their implementations of [`Connection`].

pub mod batch;
pub mod lock;
mod postgres;
mod read_cache;
mod sqlite;
mod sqlite_library;
mod sqlite_statements;

pub use read_cache::{TableFacts, push_key_value};

use std::cell::RefCell;
use std::rc::Rc;

use crate::error::{Error, Result};
use crate::settings::DatabaseUrl;
use crate::value::Value;

/// Which SQL dialect a connection speaks; named as Django's `connection.vendor`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Vendor {
    Sqlite,
    Postgres,
}

impl Vendor {
    /// `"sqlite"` or `"postgresql"`.
    pub fn name(self) -> &'static str {
        match self {
            Vendor::Sqlite => "sqlite",
            Vendor::Postgres => "postgresql",
        }
    }
}

/// Rows returned by a query, with the column names.
#[derive(Debug, Default)]
pub struct Rows {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Value>>,
}

impl Rows {
    /// The first column of every row that holds text (names from catalog queries).
    pub fn first_column_text(self) -> Vec<String> {
        self.rows
            .into_iter()
            .filter_map(|r| match r.into_iter().next() {
                Some(Value::Text(t)) => Some(t),
                _ => None,
            })
            .collect()
    }
}

/// What a backend must provide. SQL reaching these methods already uses the backend's own
/// placeholders; [`Database`] translates Django-style `%s`.
pub trait Connection {
    /// The dialect.
    fn vendor(&self) -> Vendor;
    /// Runs one statement with bound parameters; returns the rows changed.
    fn execute(&mut self, sql: &str, params: &[Value]) -> std::result::Result<u64, String>;
    /// Runs one or more statements without parameters.
    fn execute_batch(&mut self, sql: &str) -> std::result::Result<(), String>;
    /// Runs a query with bound parameters.
    fn query(&mut self, sql: &str, params: &[Value]) -> std::result::Result<Rows, String>;
    /// Runs BEGIN, SAVEPOINT or RELEASE SAVEPOINT, which change no rows and release no
    /// locks: answers kept by [`Connection::query_cached`] stay.
    fn execute_control(&mut self, sql: &str) -> std::result::Result<(), String> {
        self.execute_batch(sql)
    }
    /// [`Connection::query`] of a SELECT the ORM compiled from model tables, which writes
    /// nothing: answers kept by [`Connection::query_cached`] stay.
    fn query_reading(&mut self, sql: &str, params: &[Value]) -> std::result::Result<Rows, String> {
        self.query(sql, params)
    }
    /// [`Connection::execute`] of the ORM's row write, which writes rows of `table` only
    /// (beyond what its triggers do).
    fn execute_writing(
        &mut self,
        _table: &str,
        sql: &str,
        params: &[Value],
    ) -> std::result::Result<u64, String> {
        self.execute(sql, params)
    }
    /// [`Connection::execute_writing`] of `sql` once per row of `rows`, in order, each row
    /// it changes nothing in then written by `insert_missing` when given: queued saves sent
    /// one by one. The first failure stops it (the rows before it are written).
    fn execute_writing_rows(
        &mut self,
        table: &str,
        (sql, insert_missing): (&str, Option<&str>),
        rows: &[&[Value]],
    ) -> std::result::Result<(), RowWriteError> {
        for (row, params) in rows.iter().enumerate() {
            let updated = self
                .execute_writing(table, sql, params)
                .map_err(RowWriteError::at(row, false))?;
            if let (0, Some(insert)) = (updated, insert_missing) {
                self.execute_writing(table, insert, params)
                    .map_err(RowWriteError::at(row, true))?;
            }
        }
        Ok(())
    }
    /// [`Connection::query`] of the ORM's row write (`INSERT ... RETURNING`), as
    /// [`Connection::execute_writing`].
    fn query_writing(
        &mut self,
        _table: &str,
        sql: &str,
        params: &[Value],
    ) -> std::result::Result<Rows, String> {
        self.query(sql, params)
    }
    /// [`Connection::query_writing`] of the ORM's INSERT of one row into `table`, returning
    /// the columns it stored: only the kept answers that row could join are forgotten (see
    /// `read_cache`).
    fn query_inserting(
        &mut self,
        table: &str,
        sql: InsertSql<'_>,
        params: &[Value],
    ) -> std::result::Result<Rows, String> {
        self.query_writing(table, sql.returning, params)
    }
    /// [`Connection::query`] of an ORM lookup reading `table` only and comparing `columns`
    /// with the parameters (`column = %s`, in order), which may be answered from results
    /// kept while nothing could change them (see `read_cache`).
    fn query_cached(
        &mut self,
        _table: &str,
        (sql, _columns): (&str, &std::rc::Rc<[String]>),
        params: &[Value],
    ) -> std::result::Result<std::rc::Rc<Rows>, String> {
        self.query(sql, params).map(std::rc::Rc::new)
    }
    /// The answer kept for a [`Connection::query_cached`] lookup, by its parameters' key
    /// (`read_cache::push_key_value`), if there is one now; runs nothing.
    fn kept_answer(&mut self, _table: &str, _sql: &str, _key: &[u8]) -> Option<std::rc::Rc<Rows>> {
        None
    }
    /// What the read cache knows of `table` (see `read_cache`), asked once while nothing
    /// could change it.
    fn table_facts(&mut self, table: &str) -> std::result::Result<TableFacts, String>;
    /// Names of the tables that exist.
    fn table_names(&mut self) -> std::result::Result<Vec<String>, String>;
    /// Column names of a table, in order.
    fn column_names(&mut self, table: &str) -> std::result::Result<Vec<String>, String>;
    /// Placeholder for the n-th parameter (1-based): `?` or `$n`.
    fn placeholder(&self, n: usize) -> String;
}

/// An open database under its settings alias. Shared (via `Rc`) by the executor, the schema
/// editor and Lua code; each call borrows the connection only for its own duration.
pub struct Database {
    pub alias: String,
    pub vendor: Vendor,
    conn: RefCell<Box<dyn Connection>>,
    /// Open transactions: 0 outside, 1 in a transaction, more in savepoints.
    depth: std::cell::Cell<u32>,
    /// A statement that may have written rows ran since deferred checks were last run.
    rows_written: std::cell::Cell<bool>,
    /// Row updates queued to go out in one statement (PostgreSQL; see [`batch`]).
    pending: RefCell<Option<batch::Pending>>,
    /// PostgreSQL: transaction control (BEGIN, SAVEPOINT, RELEASE) not sent yet. It goes
    /// out in front of the next statement, in the same round trip when that statement has
    /// no parameters: a migration's savepoint rides with its first DDL. These statements
    /// cannot fail on their own, so an error still belongs to the statement that carried
    /// them.
    control: RefCell<String>,
}

/// An open transaction level, closed by [`Database::atomic_commit`] or
/// [`Database::atomic_rollback`].
#[must_use]
pub struct AtomicLevel(u32);

impl AtomicLevel {
    /// The nesting depth this level opened at (0: the transaction itself).
    pub fn depth(&self) -> u32 {
        self.0
    }

    /// The level opened at `depth`, handed back by Lua code.
    pub fn at(depth: u32) -> Self {
        AtomicLevel(depth)
    }
}

impl Database {
    /// Opens the database at `url` under `alias`. With `create` false, a SQLite file that
    /// does not exist is not created: an empty in-memory database stands in for it (so
    /// `--plan`, `showmigrations` and `sqlmigrate` leave no file behind).
    pub fn connect(alias: &str, url: &DatabaseUrl, create: bool) -> Result<Database> {
        let conn: Box<dyn Connection> = match url {
            DatabaseUrl::Sqlite(Some(path)) if !create && !path.exists() => {
                Box::new(sqlite::SqliteConnection::open(None)?)
            }
            DatabaseUrl::Sqlite(path) => Box::new(sqlite::SqliteConnection::open(path.as_deref())?),
            DatabaseUrl::Postgres { .. } => Box::new(postgres::PostgresConnection::connect(
                url,
                std::time::Duration::from_secs(10),
            )?),
        };
        Ok(Database {
            alias: alias.to_string(),
            vendor: conn.vendor(),
            conn: RefCell::new(conn),
            depth: std::cell::Cell::new(0),
            rows_written: std::cell::Cell::new(false),
            pending: RefCell::new(None),
            control: RefCell::new(String::new()),
        })
    }

    /// Whether a transaction is open.
    pub fn in_transaction(&self) -> bool {
        self.depth.get() > 0
    }

    /// Starts a transaction, or a savepoint when one is open.
    pub fn atomic_begin(&self) -> Result<AtomicLevel> {
        // Queued row updates belong before the savepoint: rolling it back must keep them.
        self.flush_pending()?;
        let depth = self.depth.get();
        if depth == 0 {
            self.control_statement("BEGIN")?;
        } else {
            self.control_statement(&format!("SAVEPOINT luamig_sp{depth}"))?;
        }
        self.depth.set(depth + 1);
        Ok(AtomicLevel(depth))
    }

    /// Commits the transaction or releases the savepoint of `level`.
    pub fn atomic_commit(&self, level: AtomicLevel) -> Result<()> {
        self.flush_pending()?;
        self.depth.set(level.0);
        if level.0 == 0 {
            self.execute("COMMIT", &[]).map(|_| ())
        } else {
            self.control_statement(&format!("RELEASE SAVEPOINT luamig_sp{}", level.0))
        }
    }

    /// Rolls back the transaction or the savepoint of `level`.
    pub fn atomic_rollback(&self, level: AtomicLevel) -> Result<()> {
        // Queued row updates belong to what is rolled back.
        self.pending.borrow_mut().take();
        self.depth.set(level.0);
        if level.0 == 0 {
            self.execute("ROLLBACK", &[]).map(|_| ())
        } else {
            let sp = format!("luamig_sp{}", level.0);
            self.execute(&format!("ROLLBACK TO SAVEPOINT {sp}"), &[])?;
            self.execute(&format!("RELEASE SAVEPOINT {sp}"), &[])
                .map(|_| ())
        }
    }

    /// Runs one statement. With parameters, `%s` marks each one and `%%` is a literal `%`
    /// (Django's convention); without, the SQL is sent as written.
    pub fn execute(&self, sql: &str, params: &[Value]) -> Result<u64> {
        self.flush_pending()?;
        self.run(sql, params)
    }

    /// [`Database::execute`] without sending queued row updates first.
    fn run(&self, sql: &str, params: &[Value]) -> Result<u64> {
        self.note_statement(sql);
        if params.is_empty() {
            let control = self.control.take();
            let mut conn = self.conn.borrow_mut();
            if control.is_empty() {
                return conn.execute(sql, params).map_err(|e| db_error(sql, e));
            }
            return conn
                .execute(&(control + sql), params)
                .map_err(|e| db_error(sql, e));
        }
        let mut conn = self.connection()?;
        let native = translate_placeholders(sql, |n| conn.placeholder(n));
        conn.execute(&native, params).map_err(|e| db_error(sql, e))
    }

    /// BEGIN, SAVEPOINT or RELEASE: on PostgreSQL kept for the next statement's round trip
    /// (see `control`), elsewhere run now.
    fn control_statement(&self, sql: &str) -> Result<()> {
        if self.vendor != Vendor::Postgres {
            return self.execute(sql, &[]).map(|_| ());
        }
        let mut control = self.control.borrow_mut();
        control.push_str(sql);
        control.push_str("; ");
        Ok(())
    }

    /// The connection, with transaction control still waiting sent first.
    fn connection(&self) -> Result<std::cell::RefMut<'_, Box<dyn Connection>>> {
        let control = self.control.take();
        let mut conn = self.conn.borrow_mut();
        if !control.is_empty() {
            conn.execute_control(&control)
                .map_err(|e| db_error(control.trim_end(), e))?;
        }
        Ok(conn)
    }

    /// Translates a statement's placeholders once, for one run per row (see
    /// [`Database::execute_prepared`]).
    pub fn prepare(&self, sql: &str) -> PreparedSql {
        let conn = self.conn.borrow();
        PreparedSql {
            native: translate_placeholders(sql, |n| conn.placeholder(n)),
            shown: sql.to_string(),
        }
    }

    /// Runs a statement from [`Database::prepare`]; the connection's statement cache keeps
    /// it compiled between runs.
    pub fn execute_prepared(&self, sql: &PreparedSql, params: &[Value]) -> Result<u64> {
        self.flush_pending()?;
        self.run_prepared(sql, params)
    }

    fn run_prepared(&self, sql: &PreparedSql, params: &[Value]) -> Result<u64> {
        self.with_prepared(sql, |conn, native| conn.execute(native, params))
    }

    /// Runs `run` on the connection with `sql`'s native text, noting the statement first
    /// and naming its shown text in an error. Queued row updates are the caller's to send.
    fn with_prepared<T>(
        &self,
        sql: &PreparedSql,
        run: impl FnOnce(&mut dyn Connection, &str) -> std::result::Result<T, String>,
    ) -> Result<T> {
        self.note_statement(&sql.shown);
        let mut conn = self.connection()?;
        run(&mut **conn, &sql.native).map_err(|e| db_error(&sql.shown, e))
    }

    /// Runs several statements separated by `;`, without parameters.
    pub fn execute_batch(&self, sql: &str) -> Result<()> {
        self.flush_pending()?;
        self.note_statement(sql);
        self.connection()?
            .execute_batch(sql)
            .map_err(|e| db_error(sql, e))
    }

    /// Runs a query; `%s` placeholders as in [`Database::execute`].
    pub fn query(&self, sql: &str, params: &[Value]) -> Result<Rows> {
        self.run_query(sql, params, |conn, native| conn.query(native, params))
    }

    /// [`Database::query`] of a SELECT the ORM compiled from model tables, which writes
    /// nothing (so answers kept for lookups stay).
    pub fn query_reading(&self, sql: &str, params: &[Value]) -> Result<Rows> {
        self.run_query(sql, params, |conn, native| {
            conn.query_reading(native, params)
        })
    }

    fn run_query(
        &self,
        sql: &str,
        params: &[Value],
        run: impl FnOnce(&mut dyn Connection, &str) -> std::result::Result<Rows, String>,
    ) -> Result<Rows> {
        self.flush_pending()?;
        self.note_statement(sql);
        let mut conn = self.connection()?;
        let native = if params.is_empty() {
            sql.to_string()
        } else {
            translate_placeholders(sql, |n| conn.placeholder(n))
        };
        run(&mut **conn, &native).map_err(|e| db_error(sql, e))
    }

    /// Runs a query from [`Database::prepare`].
    pub fn query_prepared(&self, sql: &PreparedSql, params: &[Value]) -> Result<Rows> {
        self.flush_pending()?;
        self.run_query_prepared(sql, params)
    }

    /// [`Database::query_prepared`] for an ORM lookup that reads only `table`, a plain table
    /// (no view): row updates queued for another table stay queued when nothing but their
    /// own table could notice them (see [`batch`]), and on SQLite the answer may be one kept
    /// from the same lookup earlier in the transaction (see `read_cache`).
    pub fn query_prepared_reading(
        &self,
        table: &str,
        (sql, columns): (&PreparedSql, &std::rc::Rc<[String]>),
        params: &[Value],
    ) -> Result<std::rc::Rc<Rows>> {
        if !self.reads_may_pass_queue(table) {
            self.flush_pending()?;
        }
        self.with_prepared(sql, |conn, native| {
            conn.query_cached(table, (native, columns), params)
        })
    }

    /// Whether a lookup reading only the plain table `table` may run before the queued row
    /// updates are sent (see [`batch`]): none are queued, or nothing but their own table
    /// could notice them.
    fn reads_may_pass_queue(&self, table: &str) -> bool {
        match &*self.pending.borrow() {
            None => true,
            Some(p) => p.shape.reads_may_pass && p.shape.table != table,
        }
    }

    /// The answer kept for an ORM lookup (see `read_cache`), by its parameters' key
    /// (`read_cache::push_key_value`), if any; runs nothing, so a caller without one takes
    /// [`Database::query_prepared_reading`].
    pub fn kept_answer(
        &self,
        table: &str,
        sql: &PreparedSql,
        key: &[u8],
    ) -> Option<std::rc::Rc<Rows>> {
        if !self.control.borrow().is_empty() || !self.reads_may_pass_queue(table) {
            return None;
        }
        self.conn.borrow_mut().kept_answer(table, &sql.native, key)
    }

    /// [`Database::execute_prepared`] for the ORM's row write to `table`.
    pub fn execute_prepared_writing(
        &self,
        table: &str,
        sql: &PreparedSql,
        params: &[Value],
    ) -> Result<u64> {
        self.flush_pending()?;
        self.run_prepared_writing(table, sql, params)
    }

    fn run_prepared_writing(
        &self,
        table: &str,
        sql: &PreparedSql,
        params: &[Value],
    ) -> Result<u64> {
        // A row write: what `note_statement` would find out from its first word.
        self.rows_written.set(true);
        let mut conn = self.connection()?;
        conn.execute_writing(table, &sql.native, params)
            .map_err(|e| db_error(&sql.shown, e))
    }

    /// [`Database::query_prepared`] for the ORM's INSERT of one row into `table`, returning
    /// every column it stored.
    pub fn query_prepared_inserting(
        &self,
        table: &str,
        sql: &InsertStatements,
        params: &[Value],
    ) -> Result<Rows> {
        self.flush_pending()?;
        self.with_prepared(&sql.returning, |conn, native| {
            let sql = InsertSql {
                returning: native,
                insert: &sql.insert.native,
                read_back: &sql.read_back.native,
                columns: &sql.columns,
                stored: &sql.stored,
            };
            conn.query_inserting(table, sql, params)
        })
    }

    fn run_query_prepared(&self, sql: &PreparedSql, params: &[Value]) -> Result<Rows> {
        self.with_prepared(sql, |conn, native| conn.query(native, params))
    }

    /// Queues a one-row UPDATE of `shape` (see [`batch`]); `location` is where the user's
    /// code saved the row, for the error if it fails.
    pub fn queue_update(
        &self,
        shape: &std::rc::Rc<batch::BatchShape>,
        params: Vec<Value>,
        location: std::rc::Rc<str>,
    ) -> Result<()> {
        let key = batch::RowKey::of(&params);
        let joins = matches!(
            &*self.pending.borrow(),
            Some(p) if std::rc::Rc::ptr_eq(&p.shape, shape) && !p.keys.contains(&key)
        );
        if !joins {
            self.flush_pending()?;
        }
        let full = {
            let mut pending = self.pending.borrow_mut();
            let p = pending.get_or_insert_with(|| batch::Pending {
                shape: shape.clone(),
                rows: Vec::with_capacity(batch::MAX_ROWS),
                keys: Default::default(),
            });
            p.rows.push((params, location));
            p.keys.insert(key);
            p.rows.len() >= batch::MAX_ROWS
        };
        if full {
            self.flush_pending()?;
        }
        Ok(())
    }

    /// Sends the queued row updates, if any: on PostgreSQL one statement for all, or, when
    /// that fails, one per row so the error names the row's `save` line; on SQLite one per
    /// row.
    pub fn flush_pending(&self) -> Result<()> {
        let Some(pending) = self.pending.borrow_mut().take() else {
            return Ok(());
        };
        let shape = &pending.shape;
        if let Some(batch) = shape.batch.as_ref().filter(|_| pending.rows.len() > 1) {
            let params = batch.params(&pending.rows);
            let guarded = self.in_transaction();
            if guarded {
                self.control_statement("SAVEPOINT luamig_batch")?;
            }
            match self.run_batch(shape, batch, &pending.rows, &params) {
                Ok(()) => {
                    if guarded {
                        self.control_statement("RELEASE SAVEPOINT luamig_batch")?;
                    }
                    return Ok(());
                }
                Err(_) if guarded => {
                    self.run("ROLLBACK TO SAVEPOINT luamig_batch", &[])?;
                    self.run("RELEASE SAVEPOINT luamig_batch", &[])?;
                }
                Err(_) => {}
            }
        }
        // One by one, each error naming its row's `save`.
        self.rows_written.set(true);
        let rows: Vec<&[Value]> = pending.rows.iter().map(|(p, _)| &p[..]).collect();
        let insert = shape.insert_missing.as_ref();
        let sql = (&*shape.single.native, insert.map(|i| &*i.native));
        let sent = self
            .connection()?
            .execute_writing_rows(&shape.table, sql, &rows);
        sent.map_err(|e| {
            let shown = match insert {
                Some(insert) if e.inserting => &insert.shown,
                _ => &shape.single.shown,
            };
            Error::Lua {
                message: format!("{}: {}", pending.rows[e.row].1, db_error(shown, e.message)),
                traceback: Vec::new(),
            }
        })
    }

    /// One batch of `rows` (with `params` made from them); for a full `save()`, then the
    /// rows it did not find, inserted.
    fn run_batch(
        &self,
        shape: &batch::BatchShape,
        batch: &batch::Batch,
        rows: &[(Vec<Value>, std::rc::Rc<str>)],
        params: &[Value],
    ) -> Result<()> {
        let table = &shape.table;
        let Some(insert) = &shape.insert_missing else {
            return self
                .run_prepared_writing(table, &batch.sql, params)
                .map(|_| ());
        };
        let updated = self.with_prepared(&batch.sql, |conn, native| {
            conn.query_writing(table, native, params)
        })?;
        let found: Vec<&Value> = updated.rows.iter().filter_map(|r| r.first()).collect();
        for (row, _) in rows {
            if let Some(key) = row.last()
                && !found.contains(&key)
            {
                self.run_prepared_writing(table, insert, row)?;
            }
        }
        Ok(())
    }

    /// Runs a statement on luamig's own bookkeeping table (which no foreign key points at),
    /// so it does not count as a row write for [`Database::settle_deferred_checks`].
    pub fn execute_bookkeeping(&self, sql: &str, params: &[Value]) -> Result<u64> {
        let written = self.rows_written.get();
        let result = self.execute(sql, params);
        self.rows_written.set(written);
        result
    }

    /// PostgreSQL: runs the deferred foreign-key checks that rows written in this
    /// transaction left pending (then defers again), so a following ALTER TABLE never meets
    /// "pending trigger events" and a violation is reported where it was made. Nothing to do
    /// on SQLite, outside a transaction, or when no statement could have written rows.
    pub fn settle_deferred_checks(&self) -> Result<()> {
        if self.vendor != Vendor::Postgres || !self.in_transaction() || !self.rows_written.get() {
            return Ok(());
        }
        self.execute_batch("SET CONSTRAINTS ALL IMMEDIATE; SET CONSTRAINTS ALL DEFERRED")?;
        self.rows_written.set(false);
        Ok(())
    }

    /// Notes a statement that may write rows: anything but DDL, transaction control and
    /// session settings. (A SELECT may call a function that writes.)
    fn note_statement(&self, sql: &str) {
        const NO_ROWS: &[&str] = &[
            "ALTER",
            "CREATE",
            "DROP",
            "COMMENT",
            "SAVEPOINT",
            "RELEASE",
            "ROLLBACK",
            "BEGIN",
            "COMMIT",
            "SET",
            "SHOW",
            "PRAGMA",
        ];
        let first = sql.split_whitespace().next().unwrap_or("");
        if !NO_ROWS.iter().any(|k| first.eq_ignore_ascii_case(k)) {
            self.rows_written.set(true);
        }
    }

    /// Whether `table`'s lookups may be kept and whether writes to it stay inside it (see
    /// `read_cache`).
    pub fn table_facts(&self, table: &str) -> Result<TableFacts> {
        self.connection()?
            .table_facts(table)
            .map_err(|e| Error::db(format!("reading what is known of {table}"), e))
    }

    /// Names of existing tables.
    pub fn table_names(&self) -> Result<Vec<String>> {
        self.flush_pending()?;
        self.connection()?
            .table_names()
            .map_err(|e| Error::db("listing tables", e))
    }

    /// Column names of a table.
    pub fn column_names(&self, table: &str) -> Result<Vec<String>> {
        self.flush_pending()?;
        self.connection()?
            .column_names(table)
            .map_err(|e| Error::db(format!("reading the columns of {table}"), e))
    }
}

fn db_error(sql: &str, message: String) -> Error {
    let mut shown: String = sql.split_whitespace().collect::<Vec<_>>().join(" ");
    if shown.chars().count() > 200 {
        shown = shown.chars().take(200).collect::<String>() + "...";
    }
    Error::db(format!("database error in `{shown}`"), message)
}

/// Which of [`Connection::execute_writing_rows`]'s statements failed: the UPDATE of row
/// `row`, or the INSERT that followed it finding none.
pub struct RowWriteError {
    pub row: usize,
    pub inserting: bool,
    pub message: String,
}

impl RowWriteError {
    /// The error of row `row`'s UPDATE, or of its INSERT, from the database's message.
    pub fn at(row: usize, inserting: bool) -> impl FnOnce(String) -> RowWriteError {
        move |message| RowWriteError {
            row,
            inserting,
            message,
        }
    }
}

/// A statement with its placeholders already in the backend's form, and its `%s` form for
/// error messages.
#[derive(Clone)]
pub struct PreparedSql {
    native: String,
    shown: String,
}

/// The ORM's INSERT of one row that hands back the row as stored, two ways: `returning`, one
/// statement with a RETURNING clause; or `insert`, the same without it, then `read_back`,
/// a SELECT of the same columns `WHERE rowid = %s`, or no read at all where the table stores
/// the values as given (SQLite, on tables; see `SqliteConnection::query_inserting`).
pub struct InsertStatements {
    pub returning: PreparedSql,
    pub insert: PreparedSql,
    pub read_back: PreparedSql,
    /// The columns the parameters go into, in order.
    pub columns: Rc<[String]>,
    /// The columns of the row as it comes back, in order.
    pub stored: Rc<[String]>,
}

/// [`InsertStatements`] in the backend's own placeholders.
pub struct InsertSql<'a> {
    pub returning: &'a str,
    pub insert: &'a str,
    pub read_back: &'a str,
    pub columns: &'a [String],
    pub stored: &'a [String],
}

/// Turns Django-style `%s` placeholders into the backend's, and `%%` into `%`.
pub fn translate_placeholders(sql: &str, placeholder: impl Fn(usize) -> String) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut n = 0;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '%' {
            match chars.peek() {
                Some('s') => {
                    chars.next();
                    n += 1;
                    out.push_str(&placeholder(n));
                    continue;
                }
                Some('%') => {
                    chars.next();
                    out.push('%');
                    continue;
                }
                _ => {}
            }
        }
        out.push(c);
    }
    out
}

/// Quotes an identifier for SQL: `"name"`, with embedded quotes doubled. Every table, column,
/// index and constraint name luamig writes goes through here.
pub fn quote_name(name: &str) -> String {
    if name.starts_with('"') && name.ends_with('"') && name.len() >= 2 {
        return name.to_string();
    }
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_translate_and_percent_escapes() {
        let sql =
            translate_placeholders("a = %s AND b LIKE '10%%' AND c = %s", |n| format!("${n}"));
        assert_eq!(sql, "a = $1 AND b LIKE '10%' AND c = $2");
    }

    #[test]
    fn identifiers_are_quoted_once() {
        assert_eq!(quote_name("orders_order"), "\"orders_order\"");
        assert_eq!(quote_name("\"x\""), "\"x\"");
        assert_eq!(quote_name("we\"ird"), "\"we\"\"ird\"");
    }
}
