//! SQLite's table rebuild, for changes its ALTER TABLE cannot make
//! (https://www.sqlite.org/lang_altertable.html#otheralter): create `new__<table>` with the
//! new definition, copy every row, drop the old table, rename, then recreate every index,
//! including indexes the model state does not know (made by RunSQL).

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
}
