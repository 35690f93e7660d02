//! Per-row UPDATEs sent in batches on PostgreSQL, where each statement costs a round trip:
//! `obj:save{update_fields=...}` in a loop queues its row, and the queue goes out as one
//! `UPDATE ... FROM unnest(...)` before any other statement runs (so reads see the rows and
//! order is kept), at a commit, and at the end of each RunLua. A rollback drops the queue.
//!
//! Each column travels as one array parameter, written as PostgreSQL's array text and cast
//! to the column's type: the statement's text and its parameter count are the same for
//! every batch, and the planner, expecting few rows from `unnest`, finds each row by its
//! key. (A `VALUES` list of one parameter per value made PostgreSQL settle on a generic
//! plan that scanned the whole table for every batch.)
//! When a batch fails, its rows run again one by one, so the error names the row's `save`
//! line and the rows before it are written, exactly as without batching.
//!
//! A full `obj:save()` is queued too: its batch returns the keys it updated, and a row it
//! did not find is inserted, as Django's `save()` does. Reads of *other* tables by the ORM
//! (`get{...}`, the lookup of `get_or_create`) may run before the queue is sent, when no
//! trigger or rule on the queued table could write elsewhere and the table read is a plain
//! one (not a view): they cannot tell the difference, and a loop of `get_or_create` plus
//! `save()` then costs one round trip per row instead of two.

use std::collections::HashSet;
use std::rc::Rc;

use super::{PreparedSql, quote_name};
use crate::value::Value;

/// Rows queued before a batch is sent regardless.
pub const MAX_ROWS: usize = 500;

/// What one kind of row update writes: table, key, columns and their PostgreSQL types.
pub struct BatchShape {
    /// The one-row statement (`UPDATE t SET a = %s, b = %s WHERE pk = %s`).
    pub single: PreparedSql,
    pub table: String,
    pub pk_column: String,
    pub pk_type: String,
    /// `(column, type)` in the order of the one-row statement's parameters.
    pub columns: Vec<(String, String)>,
    /// The batch statement (see [`BatchShape::batch_sql`]).
    pub batch: PreparedSql,
    /// For a full `save()`: `INSERT INTO t (columns..., key)` for a row the UPDATE did not
    /// find, taking the one-row statement's parameters; the batch then returns the keys it
    /// updated.
    pub insert_missing: Option<PreparedSql>,
    /// No trigger or rule on the table: reads of other tables may pass the queue.
    pub reads_may_pass: bool,
}

/// How a shape's rows are written besides the UPDATE (see [`BatchShape::new`]).
pub struct Extras {
    /// Insert the rows the UPDATE does not find (a full `save()`).
    pub insert_missing: bool,
    /// See [`BatchShape::reads_may_pass`].
    pub reads_may_pass: bool,
}

/// Queued rows of one shape: the one-row statement's parameters (columns, then the key),
/// and where in the user's code each row was saved.
pub struct Pending {
    pub shape: Rc<BatchShape>,
    pub rows: Vec<(Vec<Value>, String)>,
    /// The keys queued: a row saved again must wait for the batch, as one UPDATE cannot
    /// say which of two source rows for the same target wins.
    pub keys: HashSet<RowKey>,
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
    /// The shape of `single`, updating `columns` (with their types) of `table` by its key.
    pub fn new(
        db: &super::Database,
        single: PreparedSql,
        table: &str,
        (pk_column, pk_type): (String, String),
        columns: Vec<(String, String)>,
        extras: Extras,
    ) -> BatchShape {
        let mut shape = BatchShape {
            single,
            table: table.to_string(),
            pk_column,
            pk_type,
            columns,
            batch: db.prepare(""),
            insert_missing: None,
            reads_may_pass: extras.reads_may_pass,
        };
        let mut batch = shape.batch_sql();
        if extras.insert_missing {
            let pk = quote_name(&shape.pk_column);
            batch.push_str(&format!(" RETURNING {}.{pk}", quote_name(table)));
            let mut names: Vec<String> = shape.columns.iter().map(|(c, _)| quote_name(c)).collect();
            names.push(pk);
            shape.insert_missing = Some(db.prepare(&format!(
                "INSERT INTO {} ({}) VALUES ({})",
                quote_name(table),
                names.join(", "),
                vec!["%s"; names.len()].join(", ")
            )));
        }
        shape.batch = db.prepare(&batch);
        shape
    }

    /// `UPDATE t SET a = v.a, ... FROM unnest(%s::text::pk_type[], %s::text::a_type[], ...)
    /// AS v(pk, a, ...) WHERE t.pk = v.pk`, the same for any number of rows.
    fn batch_sql(&self) -> String {
        let mut arrays = format!("%s::text::{}[]", self.pk_type);
        for (_, ty) in &self.columns {
            arrays.push_str(&format!(", %s::text::{ty}[]"));
        }
        let names: Vec<String> = self.columns.iter().map(|(c, _)| quote_name(c)).collect();
        let sets: Vec<String> = names.iter().map(|n| format!("{n} = \"v\".{n}")).collect();
        let pk = quote_name(&self.pk_column);
        format!(
            "UPDATE {table} SET {} FROM unnest({arrays}) AS \"v\" ({pk}, {}) WHERE {table}.{pk} = \"v\".{pk}",
            sets.join(", "),
            names.join(", "),
            table = quote_name(&self.table),
        )
    }

    /// The parameters of [`BatchShape::batch_sql`] for `rows`: one array per column, key first.
    pub fn batch_params(&self, rows: &[(Vec<Value>, String)]) -> Vec<Value> {
        let width = self.columns.len() + 1;
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
