//! Per-row UPDATEs of `obj:save{...}` in a loop, queued and sent together before any other
//! statement runs (so reads see the rows and order is kept), at a commit, and at the end of
//! each RunLua. A rollback drops the queue.
//!
//! On PostgreSQL, where each statement costs a round trip, the queue goes out as one
//! `UPDATE ... FROM unnest(...)`. Each column travels as one array parameter, written as
//! PostgreSQL's array text and cast to the column's type: the statement's text and its
//! parameter count are the same for every batch, and the planner, expecting few rows from
//! `unnest`, finds each row by its key. (A `VALUES` list of one parameter per value made
//! PostgreSQL settle on a generic plan that scanned the whole table for every batch.)
//! When a batch fails, its rows run again one by one, so the error names the row's `save`
//! line and the rows before it are written, exactly as without batching.
//!
//! On SQLite the queue runs the same one-row statement for each row, back to back: the same
//! statements, but SQLite's pages and compiled statement stay in the CPU's caches instead of
//! being pushed out by the Lua loop between two rows (about 5% less time on a loop of
//! `get_or_create` plus `save()`). A row that fails names its `save` line; the rows before
//! it are written.
//!
//! A full `obj:save()` is queued too: a row its UPDATE did not find is inserted, as Django's
//! `save()` does (on PostgreSQL the batch returns the keys it updated). Reads of *other*
//! tables by the ORM (`get{...}`, the lookup of `get_or_create`) may run before the queue is
//! sent, when no trigger or rule on the queued table could write elsewhere and the table
//! read is a plain one (not a view): they cannot tell the difference, and a loop of
//! `get_or_create` plus `save()` then costs one round trip per row instead of two.

use std::rc::Rc;

use rustc_hash::FxHashSet;

use super::{PreparedSql, quote_name};
use crate::value::Value;

/// Rows queued before a batch is sent regardless.
pub const MAX_ROWS: usize = 500;

/// What one kind of row update writes: table, key and columns.
pub struct BatchShape {
    /// The one-row statement (`UPDATE t SET a = %s, b = %s WHERE pk = %s`).
    pub single: PreparedSql,
    pub table: String,
    /// PostgreSQL: the statement sending every queued row at once. None on SQLite, where
    /// the rows run one by one.
    pub batch: Option<Batch>,
    /// For a full `save()`: `INSERT INTO t (columns..., key)` for a row the UPDATE did not
    /// find, taking the one-row statement's parameters.
    pub insert_missing: Option<PreparedSql>,
    /// No trigger or rule on the table: reads of other tables may pass the queue.
    pub reads_may_pass: bool,
}

/// PostgreSQL's statement for a whole queue (see [`Batch::sql`]).
pub struct Batch {
    pub sql: PreparedSql,
    /// The columns it writes, besides the key.
    columns: usize,
}

/// What a shape's table is: its key and the columns the one-row statement writes, in
/// the order of its parameters.
pub struct Columns<'a> {
    pub table: &'a str,
    pub pk: &'a str,
    pub columns: &'a [String],
}

/// How a shape's rows are written besides the UPDATE (see [`BatchShape::new`]).
pub struct Extras {
    /// Insert the rows the UPDATE does not find (a full `save()`).
    pub insert_missing: bool,
    /// See [`BatchShape::reads_may_pass`].
    pub reads_may_pass: bool,
}

/// Queued rows of one shape: the one-row statement's parameters (columns, then the key),
/// and where in the user's code each row was saved ("file:line").
pub struct Pending {
    pub shape: Rc<BatchShape>,
    pub rows: Vec<(Vec<Value>, Rc<str>)>,
    /// The keys queued: a row saved again must wait for the batch, as one UPDATE cannot
    /// say which of two source rows for the same target wins.
    pub keys: FxHashSet<RowKey>,
}

/// A queued row's key, hashable.
#[derive(Hash, PartialEq, Eq)]
pub enum RowKey {
    Int(i64),
    Text(String),
    Other(String),
}

impl RowKey {
    /// The key of a one-row statement's parameters (the last one).
    pub fn of(params: &[Value]) -> RowKey {
        match params.last() {
            Some(Value::Int(i)) => RowKey::Int(*i),
            Some(Value::Text(t)) => RowKey::Text(t.clone()),
            other => RowKey::Other(format!("{other:?}")),
        }
    }
}

impl BatchShape {
    /// The shape of `single`, updating `columns` of `table` by its key; `types` are the
    /// PostgreSQL types of the key and of each column, for the batch statement (None on
    /// SQLite).
    pub fn new(
        db: &super::Database,
        single: PreparedSql,
        of: Columns,
        types: Option<(String, Vec<String>)>,
        extras: Extras,
    ) -> BatchShape {
        let (table, pk) = (quote_name(of.table), quote_name(of.pk));
        let names: Vec<String> = of.columns.iter().map(|c| quote_name(c)).collect();
        let insert_missing = extras.insert_missing.then(|| {
            let mut all = names.clone();
            all.push(pk.clone());
            db.prepare(&format!(
                "INSERT INTO {table} ({}) VALUES ({})",
                all.join(", "),
                vec!["%s"; all.len()].join(", ")
            ))
        });
        let batch = types.map(|(pk_type, column_types)| {
            let mut sql = Batch::sql(&table, &pk, &names, &pk_type, &column_types);
            if extras.insert_missing {
                sql.push_str(&format!(" RETURNING {table}.{pk}"));
            }
            Batch {
                sql: db.prepare(&sql),
                columns: column_types.len(),
            }
        });
        BatchShape {
            single,
            table: of.table.to_string(),
            batch,
            insert_missing,
            reads_may_pass: extras.reads_may_pass,
        }
    }
}

impl Batch {
    /// `UPDATE t SET a = v.a, ... FROM unnest(%s::text::pk_type[], %s::text::a_type[], ...)
    /// AS v(pk, a, ...) WHERE t.pk = v.pk`, the same for any number of rows (names quoted).
    fn sql(table: &str, pk: &str, names: &[String], pk_type: &str, types: &[String]) -> String {
        let mut arrays = format!("%s::text::{pk_type}[]");
        for ty in types {
            arrays.push_str(&format!(", %s::text::{ty}[]"));
        }
        let sets: Vec<String> = names.iter().map(|n| format!("{n} = \"v\".{n}")).collect();
        format!(
            "UPDATE {table} SET {} FROM unnest({arrays}) AS \"v\" ({pk}, {}) WHERE {table}.{pk} = \"v\".{pk}",
            sets.join(", "),
            names.join(", "),
        )
    }

    /// The parameters of [`Batch::sql`] for `rows`: one array per column, key first.
    pub fn params(&self, rows: &[(Vec<Value>, Rc<str>)]) -> Vec<Value> {
        let width = self.columns + 1;
        let mut arrays = vec![String::from("{"); width];
        for (n, (row, _)) in rows.iter().enumerate() {
            // The one-row order is columns then key; the batch wants the key first.
            let Some((key, columns)) = row.split_last() else {
                continue;
            };
            for (array, value) in arrays.iter_mut().zip(std::iter::once(key).chain(columns)) {
                if n > 0 {
                    array.push(',');
                }
                push_element(array, value);
            }
        }
        arrays
            .into_iter()
            .map(|mut a| {
                a.push('}');
                Value::Text(a)
            })
            .collect()
    }
}

/// `value` as an element of PostgreSQL's array text, in the text form the element type's
/// input function reads: quoted with `"` and `\` escaped, or a bare NULL.
fn push_element(out: &mut String, value: &Value) {
    let text = match value {
        Value::Null => {
            out.push_str("NULL");
            return;
        }
        Value::Bool(b) => (if *b { "true" } else { "false" }).to_string(),
        Value::Int(i) => i.to_string(),
        Value::Float(f) if f.is_infinite() => {
            (if *f > 0.0 { "Infinity" } else { "-Infinity" }).to_string()
        }
        Value::Float(f) => f.to_string(),
        Value::Text(t) => t.clone(),
        Value::Bytes(b) => {
            let mut hex = String::with_capacity(2 + b.len() * 2);
            hex.push_str("\\x");
            for byte in b {
                hex.push_str(&format!("{byte:02x}"));
            }
            hex
        }
        Value::Decimal(d) => d.to_string(),
        Value::Json(j) => j.to_string(),
    };
    out.push('"');
    for c in text.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
}
