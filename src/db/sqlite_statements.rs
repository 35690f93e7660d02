//! The ORM's row writes on SQLite (`save()`'s UPDATE and INSERT, run once per row), kept
//! compiled by their SQL text and run through SQLite's C API.
//!
//! rusqlite's statement cache hashes the SQL with SipHash twice per run (taking the
//! statement out and putting it back) and copies every text parameter; per row that cost
//! as much as binding and stepping the statement. Here a statement stays in place, found by
//! a cheap hash, and text is bound where it lies (it outlives the step, and the bindings
//! are cleared before the statement is left).

use std::ffi::{CStr, c_char, c_int};
use std::ptr::NonNull;

use rusqlite::ffi;

use crate::value::Value;

/// Compiled statements of one connection. They must be finalized before the connection
/// closes: its owner calls [`RowWriteStatements::finalize_all`] from its `Drop`.
#[derive(Default)]
pub(super) struct RowWriteStatements {
    compiled: rustc_hash::FxHashMap<Box<str>, NonNull<ffi::sqlite3_stmt>>,
}

impl RowWriteStatements {
    /// Runs `sql`, a statement returning no rows, with `params` on `db`; the rows changed.
    ///
    /// # Safety
    /// `db` is the open connection every statement here was compiled on.
    pub(super) unsafe fn run(
        &mut self,
        db: *mut ffi::sqlite3,
        sql: &str,
        params: &[Value],
    ) -> Result<u64, String> {
        unsafe {
            let stmt = match self.compiled.get(sql) {
                Some(stmt) => *stmt,
                None => {
                    let stmt = compile(db, sql)?;
                    self.compiled.insert(sql.into(), stmt);
                    stmt
                }
            };
            let stmt = stmt.as_ptr();
            let result = bind_all(db, stmt, params).and_then(|()| step_once(db, stmt));
            // Left ready for the next run, holding no pointer into `params`.
            ffi::sqlite3_reset(stmt);
            ffi::sqlite3_clear_bindings(stmt);
            result?;
            Ok(ffi::sqlite3_changes64(db) as u64)
        }
    }

    /// Finalizes every statement; the connection can then close.
    pub(super) fn finalize_all(&mut self) {
        for (_, stmt) in self.compiled.drain() {
            // SAFETY: each was compiled by `compile` and is finalized once, here.
            unsafe { ffi::sqlite3_finalize(stmt.as_ptr()) };
        }
    }
}

/// Compiles `sql` (one statement) for repeated runs.
unsafe fn compile(db: *mut ffi::sqlite3, sql: &str) -> Result<NonNull<ffi::sqlite3_stmt>, String> {
    let len = c_int::try_from(sql.len()).map_err(|_| "statement too long".to_string())?;
    let mut stmt = std::ptr::null_mut();
    let mut tail: *const c_char = std::ptr::null();
    unsafe {
        let rc = ffi::sqlite3_prepare_v3(
            db,
            sql.as_ptr().cast(),
            len,
            ffi::SQLITE_PREPARE_PERSISTENT as _,
            &mut stmt,
            &mut tail,
        );
        if rc != ffi::SQLITE_OK {
            ffi::sqlite3_finalize(stmt);
            return Err(message(db, rc));
        }
        let Some(stmt) = NonNull::new(stmt) else {
            return Err("empty statement".to_string());
        };
        // `tail` points just past the first statement, within `sql`.
        let rest = (tail as usize).saturating_sub(sql.as_ptr() as usize);
        let after = sql.as_bytes().get(rest..).unwrap_or_default();
        if !after.iter().all(u8::is_ascii_whitespace) {
            ffi::sqlite3_finalize(stmt.as_ptr());
            return Err("more than one statement".to_string());
        }
        Ok(stmt)
    }
}

/// Binds `params` to `?1`, `?2`, ... of `stmt`. Text and blobs are bound where they lie.
unsafe fn bind_all(
    db: *mut ffi::sqlite3,
    stmt: *mut ffi::sqlite3_stmt,
    params: &[Value],
) -> Result<(), String> {
    unsafe {
        let expected = ffi::sqlite3_bind_parameter_count(stmt);
        if expected as usize != params.len() {
            return Err(format!(
                "wrong number of parameters: the statement takes {expected}, {} given",
                params.len()
            ));
        }
        for (i, v) in params.iter().enumerate() {
            let n = (i + 1) as c_int;
            let rc = match v {
                Value::Null => ffi::sqlite3_bind_null(stmt, n),
                Value::Bool(b) => ffi::sqlite3_bind_int64(stmt, n, *b as i64),
                Value::Int(i) => ffi::sqlite3_bind_int64(stmt, n, *i),
                Value::Float(f) => ffi::sqlite3_bind_double(stmt, n, *f),
                Value::Text(s) => bind_text(stmt, n, s.as_bytes(), ffi::SQLITE_STATIC()),
                Value::Bytes(b) => ffi::sqlite3_bind_blob64(
                    stmt,
                    n,
                    b.as_ptr().cast(),
                    b.len() as u64,
                    ffi::SQLITE_STATIC(),
                ),
                // Made here, so SQLite takes its own copy.
                Value::Decimal(d) => {
                    bind_text(stmt, n, d.to_string().as_bytes(), ffi::SQLITE_TRANSIENT())
                }
                Value::Json(j) => {
                    bind_text(stmt, n, j.to_string().as_bytes(), ffi::SQLITE_TRANSIENT())
                }
            };
            if rc != ffi::SQLITE_OK {
                return Err(message(db, rc));
            }
        }
        Ok(())
    }
}

unsafe fn bind_text(
    stmt: *mut ffi::sqlite3_stmt,
    n: c_int,
    text: &[u8],
    lifetime: ffi::sqlite3_destructor_type,
) -> c_int {
    unsafe {
        ffi::sqlite3_bind_text64(
            stmt,
            n,
            text.as_ptr().cast(),
            text.len() as u64,
            lifetime,
            ffi::SQLITE_UTF8 as _,
        )
    }
}

/// Steps a statement that returns no rows to its end.
unsafe fn step_once(db: *mut ffi::sqlite3, stmt: *mut ffi::sqlite3_stmt) -> Result<(), String> {
    unsafe {
        match ffi::sqlite3_step(stmt) {
            ffi::SQLITE_DONE => Ok(()),
            ffi::SQLITE_ROW => Err("the statement returned rows".to_string()),
            rc => Err(message(db, rc)),
        }
    }
}

/// SQLite's message for the failure `rc` (as rusqlite words it).
unsafe fn message(db: *mut ffi::sqlite3, rc: c_int) -> String {
    unsafe {
        let text = if ffi::sqlite3_errcode(db) == rc {
            ffi::sqlite3_errmsg(db)
        } else {
            ffi::sqlite3_errstr(rc)
        };
        if text.is_null() {
            return format!("SQLite error {rc}");
        }
        CStr::from_ptr(text).to_string_lossy().into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(
        conn: &rusqlite::Connection,
        statements: &mut RowWriteStatements,
        sql: &str,
        params: &[Value],
    ) -> Result<u64, String> {
        // SAFETY: every statement here is compiled on `conn`, which outlives the calls.
        unsafe { statements.run(conn.handle(), sql, params) }
    }

    #[test]
    fn binds_every_kind_of_value_and_reuses_the_statement() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (id integer PRIMARY KEY, v)")
            .unwrap();
        let mut statements = RowWriteStatements::default();
        let insert = "INSERT INTO t (id, v) VALUES (?, ?)";
        let values = [
            Value::Null,
            Value::Bool(true),
            Value::Int(-7),
            Value::Float(1.5),
            Value::Text("é".into()),
            Value::Bytes(vec![0, 255]),
            Value::Decimal("1.20".parse().unwrap()),
            Value::Json(serde_json::json!({"a": 1})),
        ];
        for (i, v) in values.iter().enumerate() {
            let changed = run(
                &conn,
                &mut statements,
                insert,
                &[Value::Int(i as i64), v.clone()],
            );
            assert_eq!(changed, Ok(1));
        }
        assert_eq!(statements.compiled.len(), 1);
        let stored: Vec<String> = conn
            .prepare("SELECT quote(v) FROM t ORDER BY id")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(
            stored,
            [
                "NULL",
                "1",
                "-7",
                "1.5",
                "'é'",
                "X'00FF'",
                "'1.20'",
                "'{\"a\":1}'"
            ]
        );
        let err = run(
            &conn,
            &mut statements,
            insert,
            &[Value::Int(1), Value::Null],
        );
        assert_eq!(err, Err("UNIQUE constraint failed: t.id".to_string()));
        let err = run(&conn, &mut statements, insert, &[Value::Int(1)]);
        assert!(err.unwrap_err().contains("takes 2, 1 given"));
        statements.finalize_all();
    }

    #[test]
    fn refuses_what_is_not_one_statement_returning_no_rows() {
        let conn = rusqlite::Connection::open_in_memory().unwrap();
        let mut statements = RowWriteStatements::default();
        for (sql, refusal) in [
            ("SELECT ?; SELECT 2", "more than one statement"),
            ("SELECT ?", "the statement returned rows"),
            ("UPDATE nowhere SET a = ?", "no such table: nowhere"),
        ] {
            let got = run(&conn, &mut statements, sql, &[Value::Int(1)]);
            assert_eq!(got, Err(refusal.to_string()), "{sql}");
        }
        statements.finalize_all();
    }
}
