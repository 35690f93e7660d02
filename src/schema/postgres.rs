//! PostgreSQL's ALTER TABLE forms for field changes.

use crate::db::quote_name;
use crate::error::Result;
use crate::fields::Field;
use crate::state::{ModelState, ProjectState};
use crate::value::{Value, column_value};

use super::SchemaEditor;
use super::editor::literal;

impl SchemaEditor {
    /// ADD COLUMN with the default written in, then DROP DEFAULT unless it is a db_default
    /// (the database keeps no default of its own, as in Django).
    pub(super) fn pg_add_field(
        &mut self,
        state: &ProjectState,
        model: &ModelState,
        name: &str,
        field: &Field,
        default: Option<Value>,
    ) -> Result<()> {
        let table = model.db_table();
        let col = self.column_sql(state, model, name, field, default.as_ref());
        self.execute(&format!("ALTER TABLE {} ADD COLUMN {col}", quote_name(&table)), &[])?;
        let column = field.column(name).unwrap_or_else(|| name.to_string());
        if default.is_some() && field.db_default.is_none() {
            let sql = format!(
                "ALTER TABLE {} ALTER COLUMN {} DROP DEFAULT",
                quote_name(&table),
                quote_name(&column)
            );
            self.execute(&sql, &[])?;
        }
        for sql in self.field_index_sql(&table, name, field) {
            self.defer(sql);
        }
        Ok(())
    }

    /// Type, nullability, default, uniqueness, index and foreign-key changes, each as its own
    /// ALTER, in Django's order.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn pg_alter_field(
        &mut self,
        state: &ProjectState,
        _old_model: &ModelState,
        new_model: &ModelState,
        old_name: &str,
        old: &Field,
        new_name: &str,
        new: &Field,
    ) -> Result<()> {
        let table = new_model.db_table();
        let old_col = old.column(old_name).unwrap_or_else(|| old_name.to_string());
        let new_col = new.column(new_name).unwrap_or_else(|| new_name.to_string());
        self.rename_column(&table, &old_col, &new_col)?;
        let t = quote_name(&table);
        let c = quote_name(&new_col);
        let old_type = super::columns::db_type(state, old, self.vendor);
        let new_type = super::columns::db_type(state, new, self.vendor);
        if old_type != new_type {
            self.execute(&format!("ALTER TABLE {t} ALTER COLUMN {c} TYPE {new_type} USING {c}::{new_type}"), &[])?;
        }
        if old.null && !new.null {
            if let Some(d) = new.constant_default().filter(|v| !v.is_null()) {
                let v = literal(&column_value(new.kind, d, self.vendor), self.vendor);
                self.execute(&format!("UPDATE {t} SET {c} = {v} WHERE {c} IS NULL"), &[])?;
            }
            self.execute(&format!("ALTER TABLE {t} ALTER COLUMN {c} SET NOT NULL"), &[])?;
        } else if !old.null && new.null {
            self.execute(&format!("ALTER TABLE {t} ALTER COLUMN {c} DROP NOT NULL"), &[])?;
        }
        Ok(())
    }
}
