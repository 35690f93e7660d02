//! PostgreSQL's ALTER TABLE forms for field changes, in Django's order: drop what goes
//! (foreign key, unique, indexes), rename, retype, change nullability, then add what comes.
//! Names of existing constraints are read from the database, as Django does, so a database
//! made by Django (or by hand) is altered correctly.

use crate::db::quote_name;
use crate::error::Result;
use crate::fields::Field;
use crate::state::{ModelState, ProjectState};
use crate::value::{Value, column_value};

use super::columns::{db_type, target_field};
use super::editor::{create_index_sql, literal};
use super::names::index_name;
use super::{FieldChange, SchemaEditor};

/// Which constraints or indexes of one column to find.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    ForeignKey,
    Unique,
    Index,
}

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
        self.execute(
            &format!("ALTER TABLE {} ADD COLUMN {col}", quote_name(&table)),
            &[],
        )?;
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

    /// Runs pending deferred constraint checks, so a schema change after row writes in the
    /// same transaction never meets "pending trigger events"; later writes defer again.
    pub fn settle_constraints(&mut self) -> Result<()> {
        if self.collecting() {
            return Ok(());
        }
        self.db.settle_deferred_checks()
    }

    pub(super) fn pg_alter_field(
        &mut self,
        state: &ProjectState,
        change: FieldChange,
    ) -> Result<()> {
        let FieldChange {
            new_model,
            old: (old_name, old),
            new: (new_name, new),
            ..
        } = change;
        let table = new_model.db_table();
        let old_col = old.column(old_name).unwrap_or_else(|| old_name.to_string());
        let new_col = new.column(new_name).unwrap_or_else(|| new_name.to_string());
        let old_type = db_type(state, old, self.vendor);
        let new_type = db_type(state, new, self.vendor);
        let old_target = target_field(state, old).map(|(m, n, _)| (m.db_table(), n.to_string()));
        let new_target = target_field(state, new).map(|(m, n, _)| (m.db_table(), n.to_string()));
        let fk_goes = old.kind.is_foreign_key()
            && old.relation.as_ref().is_some_and(|r| r.db_constraint)
            && (!new.kind.is_foreign_key()
                || old_col != new_col
                || old_target != new_target
                || old_type != new_type
                || new.relation.as_ref().is_some_and(|r| !r.db_constraint));
        if fk_goes {
            self.drop_column_objects(&table, &old_col, Kind::ForeignKey, None)?;
        }
        if old.is_unique() && !new.is_unique() && !old.primary_key {
            self.drop_column_objects(
                &table,
                &old_col,
                Kind::Unique,
                Some(format!("{table}_{old_col}_key")),
            )?;
        }
        let old_like = self.like_index_sql(&table, &old_col, old).is_some();
        let new_like = self.like_index_sql(&table, &new_col, new).is_some();
        if old.wants_index() && !new.wants_index() {
            let computed = index_name(&table, &[&old_col], "", self.max_name_length());
            self.drop_column_objects(&table, &old_col, Kind::Index, Some(computed))?;
        }
        if old_like && (!new_like || old_type != new_type) {
            let like = index_name(&table, &[&old_col], "_like", self.max_name_length());
            self.execute(&format!("DROP INDEX IF EXISTS {}", quote_name(&like)), &[])?;
        }
        self.rename_column(&table, &old_col, &new_col)?;
        let t = quote_name(&table);
        let c = quote_name(&new_col);
        if old_type != new_type {
            self.execute(
                &format!("ALTER TABLE {t} ALTER COLUMN {c} TYPE {new_type} USING {c}::{new_type}"),
                &[],
            )?;
        }
        self.pg_alter_null(&t, &c, old, new)?;
        if new.is_unique() && !old.is_unique() && !new.primary_key {
            let name = index_name(&table, &[&new_col], "_uniq", self.max_name_length());
            self.execute(
                &format!(
                    "ALTER TABLE {t} ADD CONSTRAINT {} UNIQUE ({c})",
                    quote_name(&name)
                ),
                &[],
            )?;
        }
        if new.wants_index() && !old.wants_index() {
            let name = index_name(&table, &[&new_col], "", self.max_name_length());
            self.execute(&create_index_sql(&name, &table, &c, None, false), &[])?;
        }
        if new_like
            && (!old_like || old_type != new_type)
            && let Some(sql) = self.like_index_sql(&table, &new_col, new)
        {
            self.execute(&sql, &[])?;
        }
        let fk_comes = new.kind.is_foreign_key()
            && new.relation.as_ref().is_some_and(|r| r.db_constraint)
            && (fk_goes
                || !old.kind.is_foreign_key()
                || old.relation.as_ref().is_some_and(|r| !r.db_constraint));
        if fk_comes && let Some((to_model, to_name, to_field)) = target_field(state, new) {
            let to_col = to_field
                .column(to_name)
                .unwrap_or_else(|| to_name.to_string());
            let sql = self.create_fk_sql(&table, &new_col, &to_model.db_table(), &to_col);
            self.execute(&sql, &[])?;
        }
        Ok(())
    }

    fn pg_alter_null(&mut self, t: &str, c: &str, old: &Field, new: &Field) -> Result<()> {
        if old.null && !new.null {
            if let Some(d) = new
                .constant_default()
                .filter(|v| !v.is_null())
                .or(new.db_default.as_ref())
            {
                let v = literal(&column_value(new.kind, d, self.vendor), self.vendor);
                self.execute(&format!("UPDATE {t} SET {c} = {v} WHERE {c} IS NULL"), &[])?;
                self.settle_constraints()?;
            }
            self.execute(
                &format!("ALTER TABLE {t} ALTER COLUMN {c} SET NOT NULL"),
                &[],
            )?;
        } else if !old.null && new.null {
            self.execute(
                &format!("ALTER TABLE {t} ALTER COLUMN {c} DROP NOT NULL"),
                &[],
            )?;
        }
        match (&old.db_default, &new.db_default) {
            (a, Some(b)) if a.as_ref() != Some(b) => {
                let v = literal(&column_value(new.kind, b, self.vendor), self.vendor);
                self.execute(
                    &format!("ALTER TABLE {t} ALTER COLUMN {c} SET DEFAULT {v}"),
                    &[],
                )?;
            }
            (Some(_), None) => self.execute(
                &format!("ALTER TABLE {t} ALTER COLUMN {c} DROP DEFAULT"),
                &[],
            )?,
            _ => {}
        }
        Ok(())
    }

    /// Drops the foreign keys, unique constraints or plain indexes on exactly one column,
    /// found in the catalog; `fallback` is the name to use when the table is not there yet
    /// (sqlmigrate of an unapplied migration).
    fn drop_column_objects(
        &mut self,
        table: &str,
        column: &str,
        kind: Kind,
        fallback: Option<String>,
    ) -> Result<()> {
        let mut names = self.pg_column_objects(table, column, kind)?;
        if names.is_empty() {
            names.extend(fallback.filter(|_| self.collecting()));
        }
        for name in names {
            let sql = match kind {
                Kind::ForeignKey => format!(
                    "SET CONSTRAINTS {q} IMMEDIATE; ALTER TABLE {} DROP CONSTRAINT {q}",
                    quote_name(table),
                    q = quote_name(&name)
                ),
                Kind::Unique => format!(
                    "ALTER TABLE {} DROP CONSTRAINT {}",
                    quote_name(table),
                    quote_name(&name)
                ),
                Kind::Index => format!("DROP INDEX {}", quote_name(&name)),
            };
            self.execute(&sql, &[])?;
        }
        Ok(())
    }

    fn pg_column_objects(&mut self, table: &str, column: &str, kind: Kind) -> Result<Vec<String>> {
        let sql = match kind {
            Kind::ForeignKey | Kind::Unique => {
                "SELECT c.conname::text FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid \
                 JOIN pg_namespace n ON n.oid = t.relnamespace AND n.nspname = current_schema() \
                 JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = ANY(c.conkey) \
                 WHERE t.relname = %s AND a.attname = %s AND c.contype = %s AND array_length(c.conkey, 1) = 1 ORDER BY 1"
            }
            Kind::Index => {
                "SELECT i.relname::text FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid \
                 JOIN pg_class t ON t.oid = x.indrelid JOIN pg_namespace n ON n.oid = t.relnamespace AND n.nspname = current_schema() \
                 JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = x.indkey[0] \
                 WHERE t.relname = %s AND a.attname = %s AND %s = 'i' AND x.indnatts = 1 AND NOT x.indisunique AND NOT x.indisprimary \
                 AND NOT EXISTS (SELECT 1 FROM pg_opclass o WHERE o.oid = x.indclass[0] AND o.opcname LIKE '%%pattern_ops') ORDER BY 1"
            }
        };
        let code = match kind {
            Kind::ForeignKey => "f",
            Kind::Unique => "u",
            Kind::Index => "i",
        };
        let rows = self.db.query(
            sql,
            &[
                Value::Text(table.into()),
                Value::Text(column.into()),
                Value::Text(code.into()),
            ],
        )?;
        Ok(rows.first_column_text())
    }
}
