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
//!
//! This connection's own statements: every statement that may write (on SQLite anything
//! but a query it calls read-only; on PostgreSQL anything but the ORM's own SELECTs and
//! BEGIN / SAVEPOINT / RELEASE) forgets every result, and so does an error on PostgreSQL
//! (which aborts the transaction: the next statement must meet that). The ORM's own row
//! writes to a table whose writes stay inside it (no trigger or rule; on SQLite foreign-key
//! actions off, on PostgreSQL no foreign-key action to run) forget only that table's
//! results.

use std::borrow::Cow;
use std::rc::Rc;

use rustc_hash::FxHashMap as HashMap;

use super::Rows;
use crate::value::Value;

/// Results kept at most; past that, all are forgotten and keeping starts again.
const MAX_RESULTS: usize = 10_000;

/// What the cache knows of one table, learnt once and forgotten with everything else.
#[derive(Clone, Copy)]
pub struct TableFacts {
    /// Lookups of it may be kept (see the module's text).
    pub keeps_answers: bool,
    /// A write to it changes nothing else (see the module's text).
    pub writes_stay_inside: bool,
}

#[derive(Default)]
pub struct ReadCache {
    /// Results by table (lower case, as SQLite compares names), then statement + values.
    results: HashMap<String, HashMap<Vec<u8>, Rc<Rows>>>,
    count: usize,
    facts: HashMap<String, TableFacts>,
}

impl ReadCache {
    /// The key of one lookup: its SQL and its parameter values.
    pub fn key(sql: &str, params: &[Value]) -> Vec<u8> {
        let mut key = Vec::with_capacity(sql.len() + 16 * params.len());
        key.extend_from_slice(sql.as_bytes());
        for p in params {
            // A tag per kind, and a length before variable-size values, so no two lists of
            // values share a key.
            match p {
                Value::Null => key.push(0),
                Value::Bool(b) => key.extend_from_slice(&[1, *b as u8]),
                Value::Int(i) => {
                    key.push(2);
                    key.extend_from_slice(&i.to_le_bytes());
                }
                Value::Float(f) => {
                    key.push(3);
                    key.extend_from_slice(&f.to_bits().to_le_bytes());
                }
                Value::Text(t) => push_bytes(&mut key, 4, t.as_bytes()),
                Value::Bytes(b) => push_bytes(&mut key, 5, b),
                Value::Decimal(d) => push_bytes(&mut key, 6, d.to_string().as_bytes()),
                Value::Json(j) => push_bytes(&mut key, 7, j.to_string().as_bytes()),
            }
        }
        key
    }

    /// No results kept.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    pub fn get(&self, table: &str, key: &[u8]) -> Option<&Rc<Rows>> {
        self.results.get(&*lower(table))?.get(key)
    }

    pub fn put(&mut self, table: &str, key: Vec<u8>, rows: Rc<Rows>) {
        if self.count >= MAX_RESULTS {
            self.results.clear();
            self.count = 0;
        }
        let previous = self
            .results
            .entry(lower(table).into_owned())
            .or_default()
            .insert(key, rows);
        if previous.is_none() {
            self.count += 1;
        }
    }

    /// What is known of `table`, if anything.
    pub fn facts(&self, table: &str) -> Option<TableFacts> {
        self.facts.get(&*lower(table)).copied()
    }

    pub fn learn(&mut self, table: &str, facts: TableFacts) {
        self.facts.insert(lower(table).into_owned(), facts);
    }

    /// After a row write to `table` that changed nothing else.
    pub fn forget_table(&mut self, table: &str) {
        if let Some(gone) = self.results.remove(&*lower(table)) {
            self.count -= gone.len();
        }
    }

    /// After a statement that may have changed anything (and may have added a trigger).
    pub fn forget_all(&mut self) {
        if self.count > 0 || !self.facts.is_empty() {
            self.results.clear();
            self.facts.clear();
            self.count = 0;
        }
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

    fn rows(n: i64) -> Rc<Rows> {
        Rc::new(Rows {
            columns: vec!["id".into()],
            rows: vec![vec![Value::Int(n)]],
        })
    }

    #[test]
    fn values_of_different_kinds_or_splits_make_different_keys() {
        let sql = "SELECT 1 WHERE a = ? AND b = ?";
        let a = ReadCache::key(sql, &[Value::Text("ab".into()), Value::Text("c".into())]);
        let b = ReadCache::key(sql, &[Value::Text("a".into()), Value::Text("bc".into())]);
        let c = ReadCache::key(sql, &[Value::Int(1), Value::Null]);
        let d = ReadCache::key(sql, &[Value::Float(1.0), Value::Null]);
        let e = ReadCache::key(sql, &[Value::Text("1".into()), Value::Null]);
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
        cache.put("shop_customer", b"k1".to_vec(), rows(1));
        cache.put("shop_order", b"k2".to_vec(), rows(2));
        cache.forget_table("SHOP_CUSTOMER");
        assert!(cache.get("shop_customer", b"k1").is_none());
        assert_eq!(cache.get("Shop_Order", b"k2").unwrap().rows, rows(2).rows);
        cache.forget_all();
        assert!(cache.get("shop_order", b"k2").is_none());
    }

    #[test]
    fn past_the_limit_everything_is_forgotten_and_keeping_starts_again() {
        let mut cache = ReadCache::default();
        for i in 0..MAX_RESULTS as i64 {
            cache.put("t", i.to_le_bytes().to_vec(), rows(i));
        }
        assert!(cache.get("t", &0i64.to_le_bytes()).is_some());
        cache.put("t", b"new".to_vec(), rows(-1));
        assert!(cache.get("t", &0i64.to_le_bytes()).is_none());
        assert!(cache.get("t", b"new").is_some());
        assert_eq!(cache.count, 1);
    }
}
