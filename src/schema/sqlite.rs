//! SQLite's table rebuild, for changes its ALTER TABLE cannot make
//! (https://www.sqlite.org/lang_altertable.html#otheralter): create `new__<table>` with the
//! new definition, copy every row, drop the old table, rename, then recreate every index,
//! including indexes the model state does not know (made by RunSQL). And the cheaper
//! rebuild of an empty table, for a column added to it.

use crate::db::quote_name;
use crate::error::Result;
use crate::state::{ModelState, ProjectState};
use crate::value::Value;

use super::SchemaEditor;

impl SchemaEditor {
    /// Rebuilds `new_model`'s table (which was `old_model`). `copy` lists `(new column,
    /// SELECT expression over the old table)`; `params` are the expression's `%s` values.
    pub fn remake_table(
        &mut self,
        state: &ProjectState,
        old_model: &ModelState,
        new_model: &ModelState,
        copy: Vec<(String, String)>,
        params: Vec<Value>,
    ) -> Result<()> {
        self.flush_deferred()?;
        let table = new_model.db_table();
        let temp = format!("new__{table}");
        let extra_indexes = self.indexes_outside_model(old_model, new_model, &table)?;
        self.create_table(state, new_model, &temp)?;
        let (cols, exprs): (Vec<String>, Vec<String>) = copy.into_iter().unzip();
        let insert = format!(
            "INSERT INTO {} ({}) SELECT {} FROM {}",
            quote_name(&temp),
            cols.iter()
                .map(|c| quote_name(c))
                .collect::<Vec<_>>()
                .join(", "),
            exprs.join(", "),
            quote_name(&table)
        );
        self.execute(&insert, &params)?;
        self.drop_table(&table)?;
        self.alter_db_table(&temp, &table)?;
        for sql in self.model_index_sql(new_model, &table) {
            self.execute(&sql, &[])?;
        }
        for sql in extra_indexes {
            self.execute(&sql, &[])?;
        }
        Ok(())
    }

    /// CREATE INDEX statements of indexes on `table` that the model state would not recreate
    /// (made by RunSQL, say), kept only while every column they index is still there and no
    /// index of the model covers the same columns.
    fn indexes_outside_model(
        &mut self,
        old_model: &ModelState,
        model: &ModelState,
        table: &str,
    ) -> Result<Vec<String>> {
        if self.collecting() {
            return Ok(Vec::new());
        }
        // Indexes either state describes are luamig's own: the new state decides about them.
        let mut known: Vec<String> = self.model_index_sql(model, table);
        known.extend(self.model_index_sql(old_model, table));
        let columns: Vec<String> = model
            .concrete_fields()
            .filter_map(|(n, f)| f.column(n))
            .collect();
        let rows = self.db.query(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = %s AND sql IS NOT NULL",
            &[Value::Text(table.to_string())],
        )?;
        let mut keep = Vec::new();
        for r in rows.rows {
            let (Some(Value::Text(name)), Some(Value::Text(sql))) = (r.first(), r.get(1)) else {
                continue;
            };
            if known.iter().any(|k| k.contains(&quote_name(name))) {
                continue;
            }
            let info = self.db.query(
                "SELECT name FROM pragma_index_info(%s)",
                &[Value::Text(name.clone())],
            )?;
            let indexed: Vec<String> = info
                .rows
                .into_iter()
                .filter_map(|r| match r.into_iter().next() {
                    Some(Value::Text(c)) => Some(c),
                    _ => None,
                })
                .collect();
            let all_present = !indexed.is_empty() && indexed.iter().all(|c| columns.contains(c));
            let cols_sql = super::editor::quoted_list(&indexed);
            let covered = known.iter().any(|k| k.ends_with(&format!("({cols_sql})")));
            if all_present && !covered {
                keep.push(sql.clone());
            }
        }
        Ok(keep)
    }

    /// Adds the column of `new_model` to an empty `table` that is exactly as luamig created
    /// it (`old_model`'s CREATE TABLE) by creating the table again, with its indexes: SQLite
    /// re-reads every table's definition after `ALTER TABLE ... ADD COLUMN`, which makes
    /// applying a long history to a new database take time growing with the square of its
    /// length, and reads only the new table's after CREATE TABLE. With no rows, nothing is
    /// lost. False, having done nothing, for a table with rows, triggers (dropping the
    /// table would drop them), a used AUTOINCREMENT counter (it would restart) or another
    /// definition (made by RunSQL, or changed under luamig); and when only collecting
    /// statements, so `sqlmigrate` shows the ALTER TABLE that works on any table.
    pub fn add_column_by_recreating(
        &mut self,
        state: &ProjectState,
        old_model: &ModelState,
        new_model: &ModelState,
        table: &str,
    ) -> Result<bool> {
        if self.collecting() {
            return Ok(false);
        }
        let expected = self.create_table_sql(state, old_model, table);
        let name = || Value::Text(table.to_string());
        // One pass over sqlite_master, which has no index: every query of it reads all of
        // it, and a long history makes it long. Its rows of the table (the table, its
        // indexes and triggers), and whether AUTOINCREMENT counters exist at all.
        let schema = self.db.query(
            "SELECT type, name, sql FROM sqlite_master \
             WHERE tbl_name = %s COLLATE NOCASE OR name = 'sqlite_sequence' ORDER BY rowid",
            &[name()],
        )?;
        fn text(v: Option<&Value>) -> Option<&str> {
            match v {
                Some(Value::Text(t)) => Some(t),
                _ => None,
            }
        }
        let mut as_created = false;
        let mut counters = false;
        let mut indexes = Vec::new();
        for row in &schema.rows {
            let (kind, row_name, sql) = (text(row.first()), text(row.get(1)), text(row.get(2)));
            match kind {
                Some("table") if row_name == Some("sqlite_sequence") => counters = true,
                Some("table") if row_name == Some(table) => as_created = sql == Some(&*expected),
                Some("trigger") => return Ok(false),
                Some("index") => indexes.extend(sql.map(str::to_string)),
                _ => {}
            }
        }
        if !as_created {
            return Ok(false);
        }
        let mut params = vec![name()];
        let counter = if counters {
            params.push(name());
            "OR EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = %s)"
        } else {
            ""
        };
        let blocked = self.db.query(
            &format!(
                "SELECT EXISTS (SELECT 1 FROM {}) \
                 OR EXISTS (SELECT 1 FROM sqlite_temp_master WHERE type = 'trigger' AND tbl_name = %s COLLATE NOCASE) \
                 {counter}",
                quote_name(table)
            ),
            &params,
        )?;
        if blocked.rows.first().and_then(|r| r.first()) != Some(&Value::Int(0)) {
            return Ok(false);
        }
        // Outside a transaction (a migration with `atomic = false`), the statements still
        // go together: never a dropped table without its successor.
        let level = if self.db.in_transaction() {
            None
        } else {
            Some(self.db.atomic_begin()?)
        };
        let mut recreate = || -> Result<()> {
            self.drop_table(table)?;
            self.create_table(state, new_model, table)?;
            for sql in &indexes {
                self.execute(sql, &[])?;
            }
            Ok(())
        };
        match (recreate(), level) {
            (Ok(()), Some(level)) => self.db.atomic_commit(level)?,
            (Err(e), Some(level)) => {
                // The statement's error matters more than a failed rollback.
                let _ = self.db.atomic_rollback(level);
                return Err(e);
            }
            (result, None) => result?,
        }
        Ok(true)
    }
}
