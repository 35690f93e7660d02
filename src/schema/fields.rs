//! Adding, removing and altering one field: the backend-neutral decisions, then SQLite's
//! rebuild or PostgreSQL's ALTER forms. Lua-function defaults are filled row by row.

use std::rc::Rc;

use mlua::Value as LuaValue;

use crate::db::{Vendor, quote_name};
use crate::error::{Error, Result};
use crate::fields::{Field, FieldDefault, FieldKind};
use crate::lua::{convert, lua_error};
use crate::state::{ModelState, ProjectState, auto_through_model};
use crate::value::{Value, column_value};

use super::names::index_name;
use super::{FieldChange, SchemaEditor};

impl SchemaEditor {
    /// AddField: `new_model` is the model with the field, in `state`.
    pub fn add_field(
        &mut self,
        state: &ProjectState,
        old_model: &ModelState,
        new_model: &ModelState,
        name: &str,
        field: &Field,
    ) -> Result<()> {
        if field.kind == FieldKind::ManyToManyField {
            return match auto_through_model(new_model, name, field, self.max_name_length()) {
                Some(through) => self.create_model(state, &through),
                None => Ok(()),
            };
        }
        if let Some(FieldDefault::Lua(func)) = &field.default {
            return self.add_field_filled_per_row(state, old_model, new_model, name, field, func);
        }
        let default = field.constant_default().filter(|v| !v.is_null()).cloned();
        match self.vendor {
            Vendor::Sqlite => {
                self.sqlite_add_field(state, old_model, new_model, name, field, default)
            }
            Vendor::Postgres => self.pg_add_field(state, new_model, name, field, default),
        }
    }

    /// A Lua-function default is called once per existing row (Django calls it once for all
    /// rows, which gives every row the same "unique" UUID). The column is added nullable,
    /// filled, then altered to its declared form.
    fn add_field_filled_per_row(
        &mut self,
        state: &ProjectState,
        old_model: &ModelState,
        new_model: &ModelState,
        name: &str,
        field: &Field,
        func: &mlua::Function,
    ) -> Result<()> {
        let mut loose = field.clone();
        loose.null = true;
        // PostgreSQL can add a nullable UNIQUE column directly, so its constraint gets the
        // name Django's AddField gives it (`<table>_<column>_key`); SQLite would rebuild the
        // table twice, so it adds uniqueness with the final rebuild.
        loose.unique = field.unique && self.vendor == Vendor::Postgres;
        loose.default = None;
        let mut loose_model = new_model.clone();
        if let Some(slot) = loose_model.fields.iter_mut().find(|(n, _)| n == name) {
            slot.1 = Rc::new(loose.clone());
        }
        match self.vendor {
            Vendor::Sqlite => {
                self.sqlite_add_field(state, old_model, &loose_model, name, &loose, None)?
            }
            Vendor::Postgres => self.pg_add_field(state, &loose_model, name, &loose, None)?,
        }
        let column = field.column(name).unwrap_or_else(|| name.to_string());
        let table = new_model.db_table();
        if self.collecting() {
            self.comment(&format!(
                "-- (fill {} of every row of {} by calling its Lua default)",
                quote_name(&column),
                quote_name(&table)
            ));
        } else {
            self.fill_per_row(new_model, &table, &column, field.kind, func)?;
        }
        self.alter_field(
            state,
            FieldChange {
                old_model: &loose_model,
                new_model,
                old: (name, &loose),
                new: (name, field),
            },
        )
    }

    fn fill_per_row(
        &mut self,
        model: &ModelState,
        table: &str,
        column: &str,
        kind: FieldKind,
        func: &mlua::Function,
    ) -> Result<()> {
        let Some((pk_name, pk)) = model.primary_key() else {
            return Ok(());
        };
        let pk_col = pk.column(pk_name).unwrap_or_else(|| pk_name.to_string());
        let rows = self.db.query(
            &format!("SELECT {} FROM {}", quote_name(&pk_col), quote_name(table)),
            &[],
        )?;
        let update = format!(
            "UPDATE {} SET {} = %s WHERE {} = %s",
            quote_name(table),
            quote_name(column),
            quote_name(&pk_col)
        );
        for row in rows.rows {
            let Some(key) = row.into_iter().next() else {
                continue;
            };
            let produced: LuaValue = func.call(()).map_err(lua_error)?;
            let value = convert::to_value(&produced).map_err(lua_error)?;
            self.db
                .execute(&update, &[column_value(kind, &value, self.vendor), key])?;
        }
        Ok(())
    }

    /// RemoveField: `old_model` still has the field, `new_model` no longer does.
    pub fn remove_field(
        &mut self,
        state: &ProjectState,
        old_model: &ModelState,
        new_model: &ModelState,
        name: &str,
        field: &Field,
    ) -> Result<()> {
        if field.kind == FieldKind::ManyToManyField {
            return match auto_through_model(old_model, name, field, self.max_name_length()) {
                Some(through) => self.drop_table(&through.db_table()),
                None => Ok(()),
            };
        }
        let column = field.column(name).unwrap_or_else(|| name.to_string());
        let table = old_model.db_table();
        match self.vendor {
            Vendor::Sqlite if is_plain_column(old_model, name, field) => {
                let sql = format!(
                    "ALTER TABLE {} DROP COLUMN {}",
                    quote_name(&table),
                    quote_name(&column)
                );
                self.execute(&sql, &[])
            }
            Vendor::Sqlite => {
                let copy = same_columns(new_model);
                self.remake_table(state, old_model, new_model, copy, Vec::new())
            }
            Vendor::Postgres => {
                let sql = format!(
                    "ALTER TABLE {} DROP COLUMN {} CASCADE",
                    quote_name(&table),
                    quote_name(&column)
                );
                self.execute(&sql, &[])
            }
        }
    }

    /// AlterField and RenameField (`new_model` is of `state`).
    pub fn alter_field(&mut self, state: &ProjectState, change: FieldChange) -> Result<()> {
        let (new_model, (new_name, new), (_, old)) = (change.new_model, change.new, change.old);
        let m2m = (
            old.kind == FieldKind::ManyToManyField,
            new.kind == FieldKind::ManyToManyField,
        );
        match m2m {
            (true, true) => {
                return self.alter_many_to_many(change);
            }
            (true, false) | (false, true) => {
                return Err(Error::Plan(format!(
                    "cannot alter field {}.{} between a many-to-many and a plain field; remove it and add a new one",
                    new_model.name, new_name
                )));
            }
            (false, false) => {}
        }
        match self.vendor {
            Vendor::Sqlite => self.sqlite_alter_field(state, change),
            Vendor::Postgres => self.pg_alter_field(state, change),
        }
    }

    /// A foreign key (possibly renamed) whose target model was renamed or moved to another
    /// table. SQLite's RENAME TABLE already repointed the reference, so only a changed
    /// column name is renamed; on PostgreSQL the constraint's name still mentions the old
    /// table and column, so the field is altered as Django does, re-making the constraint.
    pub fn repoint_foreign_key(&mut self, state: &ProjectState, change: FieldChange) -> Result<()> {
        let FieldChange {
            new_model,
            old: (old_name, old),
            new: (new_name, new),
            ..
        } = change;
        match self.vendor {
            Vendor::Sqlite => {
                let (Some(a), Some(b)) = (old.column(old_name), new.column(new_name)) else {
                    return Ok(());
                };
                if a == b {
                    return Ok(());
                }
                self.rename_column(&new_model.db_table(), &a, &b)
            }
            Vendor::Postgres => self.pg_alter_field(state, change),
        }
    }

    fn alter_many_to_many(&mut self, change: FieldChange) -> Result<()> {
        let FieldChange {
            old_model,
            new_model,
            old: (old_name, old),
            new: (new_name, new),
        } = change;
        let max = self.max_name_length();
        let (Some(a), Some(b)) = (
            auto_through_model(old_model, old_name, old, max),
            auto_through_model(new_model, new_name, new, max),
        ) else {
            return Ok(());
        };
        self.alter_db_table(&a.db_table(), &b.db_table())?;
        // The column pointing at the other side follows its model's name.
        let (Some((_, fa)), Some((_, fb))) = (a.fields.get(2), b.fields.get(2)) else {
            return Ok(());
        };
        let (ca, cb) = (fa.column(&a.fields[2].0), fb.column(&b.fields[2].0));
        if let (Some(ca), Some(cb)) = (ca, cb) {
            self.rename_column(&b.db_table(), &ca, &cb)?;
        }
        Ok(())
    }

    fn sqlite_add_field(
        &mut self,
        state: &ProjectState,
        old_model: &ModelState,
        new_model: &ModelState,
        name: &str,
        field: &Field,
        default: Option<Value>,
    ) -> Result<()> {
        let table = new_model.db_table();
        // ALTER TABLE ADD COLUMN cannot add a primary key, a UNIQUE column or a NOT NULL
        // column, and cannot drop a default afterwards: those rebuild the table (as Django).
        if field.null && !field.is_unique() && default.is_none() {
            if !self.add_column_by_recreating(state, old_model, new_model, &table)? {
                let col = self.column_sql(state, new_model, name, field, None);
                self.execute(
                    &format!("ALTER TABLE {} ADD COLUMN {col}", quote_name(&table)),
                    &[],
                )?;
            }
            for sql in self.field_index_sql(&table, name, field) {
                self.defer(sql);
            }
            return Ok(());
        }
        let column = field.column(name).unwrap_or_else(|| name.to_string());
        let mut copy = same_columns(old_model);
        let mut params = Vec::new();
        if field.db_default.is_none() {
            let v = default.unwrap_or(Value::Null);
            params.push(column_value(field.kind, &v, self.vendor));
            copy.push((column, "%s".to_string()));
        }
        self.remake_table(state, old_model, new_model, copy, params)
    }

    fn sqlite_alter_field(&mut self, state: &ProjectState, change: FieldChange) -> Result<()> {
        let FieldChange {
            old_model,
            new_model,
            old: (old_name, old),
            new: (new_name, new),
        } = change;
        let old_col = old.column(old_name).unwrap_or_else(|| old_name.to_string());
        let new_col = new.column(new_name).unwrap_or_else(|| new_name.to_string());
        let old_def = self.definition_without_name(state, old_model, old_name, old);
        let new_def = self.definition_without_name(state, new_model, new_name, new);
        let same_index = old.wants_index() == new.wants_index();
        if old_def == new_def && same_index {
            // Only the name (or nothing the database sees) changed.
            let table = new_model.db_table();
            self.rename_column(&table, &old_col, &new_col)?;
            // Django rebuilds the table for a foreign key, which names its index after the
            // new column; renaming the index gives the same schema without the rebuild.
            if new.kind.is_foreign_key() && new.wants_index() && old_col != new_col {
                let old_index = index_name(&table, &[&old_col], "", self.max_name_length());
                self.execute(
                    &format!("DROP INDEX IF EXISTS {}", quote_name(&old_index)),
                    &[],
                )?;
                for sql in self.field_index_sql(&table, new_name, new) {
                    self.execute(&sql, &[])?;
                }
            }
            return Ok(());
        }
        let mut copy: Vec<(String, String)> = same_columns(old_model)
            .into_iter()
            .filter(|(c, _)| *c != old_col)
            .collect();
        let mut params = Vec::new();
        let default = new
            .constant_default()
            .filter(|v| !v.is_null())
            .or(new.db_default.as_ref());
        match default {
            Some(d) if old.null && !new.null => {
                copy.push((new_col, format!("coalesce({}, %s)", quote_name(&old_col))));
                params.push(column_value(new.kind, d, self.vendor));
            }
            _ => copy.push((new_col, quote_name(&old_col))),
        }
        self.remake_table(state, old_model, new_model, copy, params)
    }

    /// A column definition with the name left out, to tell a pure rename from a change.
    fn definition_without_name(
        &mut self,
        state: &ProjectState,
        model: &ModelState,
        name: &str,
        field: &Field,
    ) -> String {
        let full = self.column_sql(state, model, name, field, None);
        let column = quote_name(&field.column(name).unwrap_or_else(|| name.to_string()));
        full.replacen(&column, "", 1).replace(&column, "<col>")
    }
}

/// `(column, select expression)` for every concrete column of a model, copied as is.
fn same_columns(model: &ModelState) -> Vec<(String, String)> {
    model
        .concrete_fields()
        .filter_map(|(n, f)| f.column(n))
        .map(|c| (c.clone(), quote_name(&c)))
        .collect()
}

/// A column SQLite can drop with ALTER TABLE: not a key, not unique, not indexed, not a
/// foreign key, and named by no index or constraint of the model.
fn is_plain_column(model: &ModelState, name: &str, field: &Field) -> bool {
    let o = &model.options;
    let mentioned = o
        .unique_together
        .iter()
        .chain(&o.index_together)
        .flatten()
        .any(|n| n == name)
        || o.indexes
            .iter()
            .flat_map(|i| &i.fields)
            .any(|f| f.trim_start_matches('-') == name)
        || !o.constraints.is_empty();
    !(field.primary_key
        || field.is_unique()
        || field.db_index
        || field.kind.is_foreign_key()
        || mentioned)
}
