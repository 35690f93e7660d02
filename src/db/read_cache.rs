//! The results of the ORM's lookups (`get{...}`, the lookup of `get_or_create`, a foreign
//! key followed), kept within one transaction while nothing can change them, so a loop
//! asking for the same few rows again and again reads each of them once.
//!
//! A kept result is right until something changes the rows it came from: another
//! connection, or this one. Other connections are kept out by locks:
//! - SQLite: inside a transaction nothing but this connection changes what SQLite answers
//!   (in rollback-journal mode the shared lock held since the first read keeps other
//!   connections from committing; in WAL mode the transaction reads one snapshot). Only
//!   lookups of tables (not views, whose rows come from other tables) are kept.
//! - PostgreSQL: only lookups of a plain table (no view, partitions, inheritance children
//!   or row security) that this transaction holds locked against other writers (SHARE
//!   mode or stronger: a table created or altered by the migration, or locked by
//!   `LOCK TABLE`) are kept; the lock lasts until the transaction ends or rolls back to a
//!   savepoint, and both forget everything. Any other table may change under a READ
//!   COMMITTED transaction between two statements, and is read every time, as Django does.
//!   Whether a table is locked is a catalog query, asked when the table is looked up a
//!   second time since everything was last forgotten.
//!
//! This connection's own statements: every statement that may write (on SQLite anything
//! but a query it calls read-only; on PostgreSQL anything but the ORM's own SELECTs and
//! BEGIN / SAVEPOINT / RELEASE) forgets every result, and so does an error on PostgreSQL
//! (which aborts the transaction: the next statement must meet that). The ORM's own row
//! writes to a table whose writes stay inside it (no trigger or rule; on SQLite foreign-key
//! actions off, on PostgreSQL no foreign-key action to run) forget only that table's
//! results; and a row the ORM inserts (`create`, `get_or_create`, `save` of a new row), whose
//! stored values come back from its `RETURNING`, changes only the answers it could join:
//! the one lookup whose values equal the row's, where the database compares those columns
//! exactly (integers, booleans, text under a deterministic collation, each with a value of
//! its own kind), which is forgotten or, if it had no row, becomes this one (so
//! `get_or_create` finds what it created); and every answer of a lookup that tests any other
//! column is forgotten.
//!
//! A table found empty when a lookup of it finds nothing (asked once until everything is
//! forgotten) has every row it gets from then on inserted by the ORM, until a write of any
//! other kind forgets its answers: a lookup statement first kept while it was empty and had
//! no row inserted since knows every row matching any of its values, so a lookup of values
//! of its columns' kinds that it has no answer for matches no row, and needs no query. That
//! is the first lookup of every new row of a `get_or_create` loop filling a new table. An
//! inserted row that such a statement cannot place for certain (a second row for the same
//! values, a value of another kind) ends that.

use std::borrow::Cow;
use std::rc::Rc;

use rustc_hash::FxHashMap as HashMap;

use super::Rows;
use crate::value::{Value, ValueRef};

/// Results kept at most; past that, all are forgotten and keeping starts again.
const MAX_RESULTS: usize = 10_000;

/// How a column compares values of its own kind: exactly when they are equal byte for byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExactColumn {
    Integer,
    Boolean,
    /// Text under a deterministic collation.
    Text,
}

impl ExactColumn {
    /// Whether `v` is of the column's own kind (another kind may be converted on the way in,
    /// and equal to the database though not to the cache).
    pub fn holds(self, v: &Value) -> bool {
        matches!(
            (self, v),
            (ExactColumn::Integer, Value::Int(_))
                | (ExactColumn::Boolean, Value::Bool(_))
                | (ExactColumn::Text, Value::Text(_))
        )
    }

    /// Whether each of `values` is of its column's own kind.
    fn all_hold(kinds: &[ExactColumn], values: &[Value]) -> bool {
        kinds.len() == values.len() && kinds.iter().zip(values).all(|(k, v)| k.holds(v))
    }
}

/// What the cache knows of one table, learnt once and forgotten with everything else.
#[derive(Clone, Default)]
pub struct TableFacts {
    /// Lookups of it may be kept (see the module's text).
    pub keeps_answers: bool,
    /// A write to it changes nothing else (see the module's text).
    pub writes_stay_inside: bool,
    /// Its columns that compare exactly (see [`ExactColumn`]), by name.
    pub exact_columns: Rc<HashMap<String, ExactColumn>>,
    /// SQLite: a table whose rows are found by `rowid` (not a view, not `WITHOUT ROWID`, no
    /// column taking that name), so a row just inserted can be read back by it.
    pub rowid_reads: bool,
    /// SQLite: the column that is the `rowid` (an `INTEGER PRIMARY KEY`), if one is.
    pub rowid_column: Option<String>,
}

/// The answers kept for one lookup statement of one table.
struct Answers {
    /// The columns the statement's parameters are compared with (`column = %s`), in order.
    columns: Rc<[String]>,
    /// How each of them compares, when every one compares exactly and every kept answer's
    /// values are of their column's kind: then an inserted row changes only the answer for
    /// its own values.
    kinds: Option<Vec<ExactColumn>>,
    /// By the parameters' values (see [`ReadCache::key`]).
    by_values: HashMap<Vec<u8>, Rc<Rows>>,
    /// Every row of the table matching values of the columns' kinds is in `by_values`, and
    /// values not there match none (see the module's text): their answer, with no row.
    complete: Option<Rc<Rows>>,
}

#[derive(Default)]
pub struct ReadCache {
    /// Results by table (lower case, as SQLite compares names), then by statement.
    results: HashMap<String, HashMap<String, Answers>>,
    count: usize,
    facts: HashMap<String, TableFacts>,
    /// Tables looked up since everything was last forgotten, before their facts were asked.
    looked_up: rustc_hash::FxHashSet<String>,
    /// Tables asked whether they are empty since everything was last forgotten.
    asked_empty: rustc_hash::FxHashSet<String>,
    /// Tables found empty whose every row since is known (see the module's text): whether
    /// a row was inserted since they were found empty (statements kept from then on do not
    /// know it).
    known_rows: HashMap<String, bool>,
}

impl ReadCache {
    /// The key of one lookup's parameter values.
    pub fn key(params: &[Value]) -> Vec<u8> {
        let mut key = Vec::with_capacity(16 * params.len());
        for p in params {
            push_key_value(&mut key, p.borrowed());
        }
        key
    }

    /// No results kept.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The answer kept for `params`, or known without a query (see the module's text).
    pub fn get(&self, table: &str, sql: &str, params: &[Value]) -> Option<&Rc<Rows>> {
        let answers = self.results.get(&*lower(table))?.get(sql)?;
        if let Some(rows) = answers.by_values.get(&Self::key(params)) {
            return Some(rows);
        }
        let kinds = answers.kinds.as_ref()?;
        answers
            .complete
            .as_ref()
            .filter(|_| ExactColumn::all_hold(kinds, params))
    }

    /// Whether to ask if `table` is empty (once until everything is forgotten); see
    /// [`ReadCache::learn_empty`].
    pub fn ask_empty(&mut self, table: &str) -> bool {
        self.asked_empty.insert(lower(table).into_owned())
    }

    /// `table` has no row: every row it gets from now on is inserted by the ORM (and passes
    /// through [`ReadCache::forget_inserted`]) until its answers are forgotten.
    pub fn learn_empty(&mut self, table: &str) {
        self.known_rows.insert(lower(table).into_owned(), false);
    }

    /// [`ReadCache::get`] by the parameters' key (see [`push_key_value`]).
    pub fn get_by_key(&self, table: &str, sql: &str, key: &[u8]) -> Option<&Rc<Rows>> {
        self.results
            .get(&*lower(table))?
            .get(sql)?
            .by_values
            .get(key)
    }

    /// Keeps `rows`, the answer of `sql` comparing `columns` with `params`; returns it. The
    /// caller has checked that `table`'s facts allow keeping answers: facts, once learnt,
    /// stay until everything is forgotten, so every kept answer may be handed out.
    pub fn keep(
        &mut self,
        table: &str,
        (sql, columns): (&str, &Rc<[String]>),
        params: &[Value],
        rows: Rows,
    ) -> Rc<Rows> {
        let rows = Rc::new(rows);
        if self.count >= MAX_RESULTS {
            self.results.clear();
            self.count = 0;
        }
        let table = lower(table);
        let exact_columns = self.facts.get(&*table).map(|f| f.exact_columns.clone());
        // Found empty, and no row inserted since: a statement kept now knows every row.
        let knows_every_row = self.known_rows.get(&*table) == Some(&false);
        let answers = self
            .results
            .entry(table.into_owned())
            .or_default()
            .entry(sql.to_string())
            .or_insert_with(|| Answers {
                columns: columns.clone(),
                kinds: columns
                    .iter()
                    .map(|c| exact_columns.as_ref()?.get(c).copied())
                    .collect(),
                by_values: HashMap::default(),
                complete: knows_every_row.then(|| {
                    Rc::new(Rows {
                        columns: rows.columns.clone(),
                        rows: Vec::new(),
                    })
                }),
            });
        if !answers
            .kinds
            .as_ref()
            .is_some_and(|kinds| ExactColumn::all_hold(kinds, params))
        {
            answers.kinds = None;
            answers.complete = None;
        }
        if answers
            .by_values
            .insert(Self::key(params), rows.clone())
            .is_none()
        {
            self.count += 1;
        }
        rows
    }

    /// Whether this is the first lookup of `table` since everything was last forgotten.
    pub fn first_lookup(&mut self, table: &str) -> bool {
        self.looked_up.insert(lower(table).into_owned())
    }

    /// What is known of `table`, if anything.
    pub fn facts(&self, table: &str) -> Option<&TableFacts> {
        self.facts.get(&*lower(table))
    }

    pub fn learn(&mut self, table: &str, facts: TableFacts) {
        self.facts.insert(lower(table).into_owned(), facts);
    }

    /// After a row write to `table` that changed nothing else.
    pub fn forget_table(&mut self, table: &str) {
        let table = lower(table);
        self.known_rows.remove(&*table);
        if let Some(gone) = self.results.remove(&*table) {
            self.count -= gone.values().map(|a| a.by_values.len()).sum::<usize>();
        }
    }

    /// After the ORM inserted `inserted` (the rows as stored, by column) into `table`:
    /// forgets the answers those rows could join (see the module's text), or, when writes
    /// to the table do not stay inside it, everything.
    pub fn forget_inserted(&mut self, table: &str, inserted: &Rows, writes_stay_inside: bool) {
        if !writes_stay_inside {
            return self.forget_all();
        }
        let table = lower(table);
        if let Some(inserted_since) = self.known_rows.get_mut(&*table) {
            *inserted_since = true;
        }
        let Some(lookups) = self.results.get_mut(&*table) else {
            return;
        };
        let room = MAX_RESULTS.saturating_sub(self.count);
        let mut added = 0;
        let mut removed = 0;
        for answers in lookups.values_mut() {
            for row in &inserted.rows {
                let the_row = || {
                    Rc::new(Rows {
                        columns: inserted.columns.clone(),
                        rows: vec![row.clone()],
                    })
                };
                match answers.key_of(&inserted.columns, row) {
                    Joins::None => {}
                    Joins::One(key) => {
                        let kept = answers.by_values.get(&key);
                        let had_no_row =
                            kept.map(|k| k.rows.is_empty() && k.columns == inserted.columns);
                        let known_none = answers
                            .complete
                            .as_ref()
                            .is_some_and(|none| none.columns == inserted.columns);
                        match had_no_row {
                            // No row matched before; exactly this one does now (its values
                            // are as stored, as a lookup reads them).
                            Some(true) => {
                                answers.by_values.insert(key, the_row());
                            }
                            // Known to match no row before, as the one above.
                            None if known_none && added < room => {
                                answers.by_values.insert(key, the_row());
                                added += 1;
                            }
                            // Its answer is not known any more; nor is every row.
                            _ => {
                                if answers.by_values.remove(&key).is_some() {
                                    removed += 1;
                                }
                                answers.complete = None;
                            }
                        }
                    }
                    Joins::Any => {
                        removed += answers.by_values.len();
                        answers.by_values.clear();
                        answers.complete = None;
                        break;
                    }
                }
            }
        }
        self.count = self.count + added - removed;
    }

    /// After a statement that may have changed anything (and may have added a trigger).
    pub fn forget_all(&mut self) {
        if self.count > 0
            || !self.facts.is_empty()
            || !self.looked_up.is_empty()
            || !self.asked_empty.is_empty()
        {
            self.results.clear();
            self.facts.clear();
            self.looked_up.clear();
            self.asked_empty.clear();
            self.known_rows.clear();
            self.count = 0;
        }
    }
}

/// Which kept answers of one statement an inserted row could join.
enum Joins {
    /// None: a compared column is NULL, which `=` never matches.
    None,
    /// Only the one for these parameter values.
    One(Vec<u8>),
    /// Any of them.
    Any,
}

impl Answers {
    /// The answers an inserted `row` (values by column `names`) could join.
    fn key_of(&self, names: &[String], row: &[Value]) -> Joins {
        let Some(kinds) = &self.kinds else {
            return Joins::Any;
        };
        let mut key = Vec::with_capacity(16 * kinds.len());
        for (column, kind) in self.columns.iter().zip(kinds) {
            match names
                .iter()
                .position(|n| n == column)
                .and_then(|i| row.get(i))
            {
                Some(Value::Null) => return Joins::None,
                // Stored as another kind, it may equal the database's idea of a kept value.
                Some(v) if kind.holds(v) => push_key_value(&mut key, v.borrowed()),
                _ => return Joins::Any,
            }
        }
        Joins::One(key)
    }
}

/// Appends `v` to the key of a lookup's parameter values: a tag per kind, and a length
/// before variable-size values, so no two lists of values share a key.
pub fn push_key_value(key: &mut Vec<u8>, v: ValueRef) {
    match v {
        ValueRef::Null => key.push(0),
        ValueRef::Bool(b) => key.extend_from_slice(&[1, b as u8]),
        ValueRef::Int(i) => {
            key.push(2);
            key.extend_from_slice(&i.to_le_bytes());
        }
        ValueRef::Float(f) => {
            key.push(3);
            key.extend_from_slice(&f.to_bits().to_le_bytes());
        }
        ValueRef::Text(t) => push_bytes(key, 4, t.as_bytes()),
        ValueRef::Bytes(b) => push_bytes(key, 5, b),
        ValueRef::Decimal(d) => push_bytes(key, 6, d.to_string().as_bytes()),
        ValueRef::Json(j) => push_bytes(key, 7, j.to_string().as_bytes()),
    }
}

fn push_bytes(key: &mut Vec<u8>, tag: u8, bytes: &[u8]) {
    key.push(tag);
    key.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
    key.extend_from_slice(bytes);
}

fn lower(table: &str) -> Cow<'_, str> {
    match table.bytes().any(|b| b.is_ascii_uppercase()) {
        true => Cow::Owned(table.to_ascii_lowercase()),
        false => Cow::Borrowed(table),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(n: i64) -> Rows {
        Rows {
            columns: vec!["id".into()],
            rows: vec![vec![Value::Int(n)]],
        }
    }

    fn text(s: &str) -> Value {
        Value::Text(s.into())
    }

    const SQL: &str = "SELECT id FROM t WHERE name = ? AND n = ?";

    fn columns() -> Rc<[String]> {
        Rc::from(vec!["name".to_string(), "n".to_string()])
    }

    /// A cache that keeps lookups of `t`, whose `name` and `n` compare exactly.
    fn cache_of_t() -> ReadCache {
        let mut cache = ReadCache::default();
        let exact = [
            ("name".to_string(), ExactColumn::Text),
            ("n".to_string(), ExactColumn::Integer),
        ];
        cache.learn(
            "t",
            TableFacts {
                keeps_answers: true,
                writes_stay_inside: true,
                exact_columns: Rc::new(exact.into_iter().collect()),
                rowid_reads: true,
                rowid_column: None,
            },
        );
        cache
    }

    fn inserted(name: Value, n: Value) -> Rows {
        Rows {
            columns: vec!["id".into(), "name".into(), "n".into()],
            rows: vec![vec![Value::Int(99), name, n]],
        }
    }

    #[test]
    fn values_of_different_kinds_or_splits_make_different_keys() {
        let a = ReadCache::key(&[text("ab"), text("c")]);
        let b = ReadCache::key(&[text("a"), text("bc")]);
        let c = ReadCache::key(&[Value::Int(1), Value::Null]);
        let d = ReadCache::key(&[Value::Float(1.0), Value::Null]);
        let e = ReadCache::key(&[text("1"), Value::Null]);
        let keys = [a, b, c, d, e];
        for (i, x) in keys.iter().enumerate() {
            for y in &keys[i + 1..] {
                assert_ne!(x, y);
            }
        }
    }

    #[test]
    fn forgetting_a_table_keeps_the_others_and_names_ignore_case() {
        let mut cache = ReadCache::default();
        let one: Rc<[String]> = Rc::from(vec!["id".to_string()]);
        cache.keep("shop_customer", (SQL, &one), &[Value::Int(1)], rows(1));
        cache.keep("shop_order", (SQL, &one), &[Value::Int(2)], rows(2));
        cache.forget_table("SHOP_CUSTOMER");
        assert!(cache.get("shop_customer", SQL, &[Value::Int(1)]).is_none());
        let kept = cache.get("Shop_Order", SQL, &[Value::Int(2)]).unwrap();
        assert_eq!(kept.rows, rows(2).rows);
        cache.forget_all();
        assert!(cache.get("shop_order", SQL, &[Value::Int(2)]).is_none());
        assert!(cache.is_empty());
    }

    #[test]
    fn an_inserted_row_forgets_only_the_answer_for_its_own_values() {
        let mut cache = cache_of_t();
        for (name, n) in [("a", 1), ("b", 1), ("a", 2)] {
            cache.keep(
                "t",
                (SQL, &columns()),
                &[text(name), Value::Int(n)],
                rows(0),
            );
        }
        cache.forget_inserted("t", &inserted(text("a"), Value::Int(1)), true);
        assert!(cache.get("t", SQL, &[text("a"), Value::Int(1)]).is_none());
        assert!(cache.get("t", SQL, &[text("b"), Value::Int(1)]).is_some());
        assert!(cache.get("t", SQL, &[text("a"), Value::Int(2)]).is_some());
        assert_eq!(cache.count, 2);
        // NULL never equals a lookup's value.
        cache.forget_inserted("t", &inserted(text("b"), Value::Null), true);
        assert_eq!(cache.count, 2);
        // Into a table whose writes reach others (a trigger): everything goes.
        cache.forget_inserted("t", &inserted(text("z"), Value::Int(9)), false);
        assert!(cache.is_empty() && cache.facts("t").is_none());
    }

    /// `t` found empty, then a lookup of ("a", 1) kept with no row.
    fn cache_of_empty_t() -> ReadCache {
        let mut cache = cache_of_t();
        assert!(cache.ask_empty("t"));
        assert!(!cache.ask_empty("T"), "asked once");
        cache.learn_empty("t");
        cache.keep(
            "t",
            (SQL, &columns()),
            &[text("a"), Value::Int(1)],
            no_row(),
        );
        cache
    }

    fn no_row() -> Rows {
        Rows {
            columns: vec!["id".into(), "name".into(), "n".into()],
            rows: vec![],
        }
    }

    #[test]
    fn a_table_found_empty_answers_lookups_of_rows_it_never_got() {
        let mut cache = cache_of_empty_t();
        let b = [text("b"), Value::Int(1)];
        assert!(cache.get("t", SQL, &b).unwrap().rows.is_empty());
        // Values of another kind may equal a stored value: the database must say.
        assert!(
            cache
                .get("t", SQL, &[Value::Int(7), Value::Int(1)])
                .is_none()
        );
        // A row inserted by the ORM is the answer of its values, even never asked before.
        let row = inserted(text("b"), Value::Int(1));
        cache.forget_inserted("t", &row, true);
        assert_eq!(cache.get("t", SQL, &b).unwrap().rows, row.rows);
        assert_eq!(cache.count, 2);
        assert!(
            cache
                .get("t", SQL, &[text("c"), Value::Int(1)])
                .unwrap()
                .rows
                .is_empty()
        );
        // A statement first kept after a row went in does not know that row.
        let other = "SELECT id FROM t WHERE n = ? AND name = ?";
        cache.keep(
            "t",
            (other, &columns()),
            &[text("x"), Value::Int(5)],
            no_row(),
        );
        assert!(cache.get("t", other, &[text("y"), Value::Int(5)]).is_none());
    }

    #[test]
    fn a_row_a_lookup_cannot_place_for_certain_ends_knowing_every_row() {
        // A second row for the same values.
        let mut cache = cache_of_empty_t();
        let a = inserted(text("a"), Value::Int(1));
        cache.forget_inserted("t", &a, true);
        cache.forget_inserted("t", &a, true);
        assert!(cache.get("t", SQL, &[text("a"), Value::Int(1)]).is_none());
        assert!(cache.get("t", SQL, &[text("z"), Value::Int(1)]).is_none());
        // A value of another kind than its column's.
        let mut cache = cache_of_empty_t();
        cache.forget_inserted("t", &inserted(Value::Int(3), Value::Int(1)), true);
        assert!(cache.get("t", SQL, &[text("z"), Value::Int(1)]).is_none());
        // Any other write to the table; and everything forgotten, after which the table
        // is asked about again.
        let mut cache = cache_of_empty_t();
        cache.forget_table("t");
        cache.keep(
            "t",
            (SQL, &columns()),
            &[text("a"), Value::Int(1)],
            no_row(),
        );
        assert!(cache.get("t", SQL, &[text("z"), Value::Int(1)]).is_none());
        assert!(!cache.ask_empty("t"));
        cache.forget_all();
        assert!(cache.ask_empty("t"));
    }

    #[test]
    fn an_inserted_row_is_the_answer_of_its_lookup_that_had_no_row() {
        let mut cache = cache_of_t();
        let none = || Rows {
            columns: vec!["id".into(), "name".into(), "n".into()],
            rows: vec![],
        };
        cache.keep("t", (SQL, &columns()), &[text("a"), Value::Int(1)], none());
        cache.keep("t", (SQL, &columns()), &[text("b"), Value::Int(1)], none());
        let row = inserted(text("a"), Value::Int(1));
        cache.forget_inserted("t", &row, true);
        let now = cache.get("t", SQL, &[text("a"), Value::Int(1)]).unwrap();
        assert_eq!((&now.columns, &now.rows), (&row.columns, &row.rows));
        assert!(
            cache
                .get("t", SQL, &[text("b"), Value::Int(1)])
                .unwrap()
                .rows
                .is_empty()
        );
        // A second row joins an answer that had one: forgotten, not guessed.
        cache.forget_inserted("t", &row, true);
        assert!(cache.get("t", SQL, &[text("a"), Value::Int(1)]).is_none());
    }

    #[test]
    fn an_inserted_row_forgets_every_answer_it_cannot_tell_apart() {
        let cases: [(&str, Rows); 3] = [
            // Stored as another kind than the column's (the database converted it).
            (
                "a text in an integer column",
                inserted(text("a"), text("1")),
            ),
            // A compared column that did not come back.
            (
                "a column not returned",
                Rows {
                    columns: vec!["id".into(), "name".into()],
                    rows: vec![vec![Value::Int(99), text("z")]],
                },
            ),
            ("a float", inserted(text("z"), Value::Float(1.0))),
        ];
        for (what, row) in cases {
            let mut cache = cache_of_t();
            cache.keep("t", (SQL, &columns()), &[text("a"), Value::Int(1)], rows(0));
            cache.forget_inserted("t", &row, true);
            assert!(cache.is_empty(), "{what}");
        }
        // A column that does not compare exactly (not learnt as one), or a kept lookup whose
        // value was of another kind: every answer goes.
        let mut cache = cache_of_t();
        let other: Rc<[String]> = Rc::from(vec!["name".to_string(), "city".to_string()]);
        cache.keep("t", ("other", &other), &[text("a"), text("x")], rows(0));
        cache.keep("t", (SQL, &columns()), &[text("a"), text("1")], rows(0));
        cache.keep("t", (SQL, &columns()), &[text("b"), Value::Int(1)], rows(0));
        cache.forget_inserted("t", &inserted(text("q"), Value::Int(7)), true);
        assert!(cache.is_empty());
    }

    #[test]
    fn past_the_limit_everything_is_forgotten_and_keeping_starts_again() {
        let mut cache = ReadCache::default();
        let one: Rc<[String]> = Rc::from(vec!["id".to_string()]);
        for i in 0..MAX_RESULTS as i64 {
            cache.keep("t", (SQL, &one), &[Value::Int(i)], rows(i));
        }
        assert!(cache.get("t", SQL, &[Value::Int(0)]).is_some());
        cache.keep("t", (SQL, &one), &[Value::Int(-1)], rows(-1));
        assert!(cache.get("t", SQL, &[Value::Int(0)]).is_none());
        assert!(cache.get("t", SQL, &[Value::Int(-1)]).is_some());
        assert_eq!(cache.count, 1);
    }
}
