//! The backend-neutral half of the schema editor: CREATE/DROP TABLE, indexes, constraints,
//! many-to-many tables and the dispatch of field changes to the backend's own forms.
//! In collect mode (`sqlmigrate`) statements are gathered instead of run: one code path.

use std::rc::Rc;

use crate::db::{Database, Vendor, quote_name};
use crate::error::Result;
use crate::fields::{Constraint, Field, FieldKind, Index};
use crate::state::{ModelState, ProjectState, auto_through_model};
use crate::value::{Value, column_value};

use super::columns::{db_type, target_field, type_check, type_suffix};
use super::names::index_name;

/// One statement and its parameters.
#[derive(Clone, Debug)]
pub struct Statement {
    pub sql: String,
    pub params: Vec<Value>,
}

/// Runs (or collects) DDL against one database.
/// One field before and after AlterField or RenameField (or a rename of the model it points
/// at): the models holding it, and its name and definition on each side.
#[derive(Clone, Copy)]
pub struct FieldChange<'a> {
    pub old_model: &'a ModelState,
    pub new_model: &'a ModelState,
    pub old: (&'a str, &'a Field),
    pub new: (&'a str, &'a Field),
}

impl<'a> FieldChange<'a> {
    /// The `i`-th field of `old_model` becoming the `i`-th of `new_model` (a column of an
    /// auto-created link table), when both have one.
    pub fn nth(old_model: &'a ModelState, new_model: &'a ModelState, i: usize) -> Option<Self> {
        let ((a, fa), (b, fb)) = (old_model.fields.get(i)?, new_model.fields.get(i)?);
        Some(FieldChange {
            old_model,
            new_model,
            old: (a, fa),
            new: (b, fb),
        })
    }
}

pub struct SchemaEditor {
    pub db: Rc<Database>,
    pub vendor: Vendor,
    collected: Option<Vec<String>>,
    deferred: Vec<Statement>,
}

impl SchemaEditor {
    /// An editor that runs statements, or (with `collect`) only records them.
    pub fn new(db: Rc<Database>, collect: bool) -> Self {
        SchemaEditor {
            vendor: db.vendor,
            db,
            collected: collect.then(Vec::new),
            deferred: Vec::new(),
        }
    }

    /// Whether statements are only being collected (sqlmigrate, --plan).
    pub fn collecting(&self) -> bool {
        self.collected.is_some()
    }

    /// Longest identifier the backend accepts (Django: 200 for SQLite, 63 for PostgreSQL).
    pub fn max_name_length(&self) -> usize {
        match self.vendor {
            Vendor::Sqlite => 200,
            Vendor::Postgres => 63,
        }
    }

    /// Runs or collects one statement.
    pub fn execute(&mut self, sql: &str, params: &[Value]) -> Result<()> {
        match &mut self.collected {
            Some(out) => {
                out.push(format!("{};", show_with_params(sql, params, self.vendor)));
                Ok(())
            }
            None => self.db.execute(sql, params).map(|_| ()),
        }
    }

    /// Adds a comment line to collected output (ignored when running).
    pub fn comment(&mut self, text: &str) {
        if let Some(out) = &mut self.collected {
            out.push(text.to_string());
        }
    }

    /// Statements kept for the end of the migration (indexes, PostgreSQL foreign keys).
    pub fn defer(&mut self, sql: String) {
        self.deferred.push(Statement {
            sql,
            params: Vec::new(),
        });
    }

    /// Runs the deferred statements.
    pub fn flush_deferred(&mut self) -> Result<()> {
        for stmt in std::mem::take(&mut self.deferred) {
            self.execute(&stmt.sql, &stmt.params)?;
        }
        Ok(())
    }

    /// The collected SQL lines (empty when running).
    pub fn take_collected(&mut self) -> Vec<String> {
        self.collected
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    }

    /// `"column" type NULL/NOT NULL PRIMARY KEY/UNIQUE CHECK (...) suffix REFERENCES ...`.
    /// `default` is written as `DEFAULT <literal>` (adding a column to a table with rows).
    pub fn column_sql(
        &mut self,
        state: &ProjectState,
        model: &ModelState,
        name: &str,
        field: &Field,
        default: Option<&Value>,
    ) -> String {
        let column = field.column(name).unwrap_or_else(|| name.to_string());
        let mut parts = vec![quote_name(&column), db_type(state, field, self.vendor)];
        if let Some(v) = field.db_default.as_ref().or(default) {
            parts.push(format!(
                "DEFAULT {}",
                literal(&column_value(field.kind, v, self.vendor), self.vendor)
            ));
        }
        parts.push(
            if field.null && !field.primary_key {
                "NULL"
            } else {
                "NOT NULL"
            }
            .to_string(),
        );
        if field.primary_key {
            parts.push("PRIMARY KEY".into());
        } else if field.is_unique() {
            parts.push("UNIQUE".into());
        }
        if let Some(check) = type_check(field.kind, &column, self.vendor) {
            parts.push(format!("CHECK ({check})"));
        }
        if let Some(suffix) = type_suffix(field.kind, self.vendor) {
            parts.push(suffix.to_string());
        }
        if let Some(fk) = self.foreign_key_clause(state, model, name, field) {
            parts.push(fk);
        }
        parts.join(" ")
    }

    /// The inline REFERENCES clause (SQLite), or None after deferring an ALTER TABLE
    /// ADD CONSTRAINT (PostgreSQL, as Django does).
    fn foreign_key_clause(
        &mut self,
        state: &ProjectState,
        model: &ModelState,
        name: &str,
        field: &Field,
    ) -> Option<String> {
        let rel = field.relation.as_ref()?;
        if !field.kind.is_foreign_key() || !rel.db_constraint {
            return None;
        }
        let (target, target_name, target_field) = target_field(state, field)?;
        let to_table = target.db_table();
        let to_column = target_field.column(target_name)?;
        match self.vendor {
            Vendor::Sqlite => Some(format!(
                "REFERENCES {} ({}) DEFERRABLE INITIALLY DEFERRED",
                quote_name(&to_table),
                quote_name(&to_column)
            )),
            Vendor::Postgres => {
                let column = field.column(name)?;
                let sql = self.create_fk_sql(&model.db_table(), &column, &to_table, &to_column);
                self.defer(sql);
                None
            }
        }
    }

    /// `ALTER TABLE ... ADD CONSTRAINT ..._fk_... FOREIGN KEY ... DEFERRABLE INITIALLY DEFERRED`.
    pub fn create_fk_sql(
        &self,
        table: &str,
        column: &str,
        to_table: &str,
        to_column: &str,
    ) -> String {
        let name = index_name(
            table,
            &[column],
            &format!("_fk_{to_table}_{to_column}"),
            self.max_name_length(),
        );
        format!(
            "ALTER TABLE {} ADD CONSTRAINT {} FOREIGN KEY ({}) REFERENCES {} ({}) DEFERRABLE INITIALLY DEFERRED",
            quote_name(table),
            quote_name(&name),
            quote_name(column),
            quote_name(to_table),
            quote_name(to_column)
        )
    }

    /// CREATE TABLE for `model` under `table`, plus its many-to-many tables; indexes are
    /// deferred.
    pub fn create_model(&mut self, state: &ProjectState, model: &ModelState) -> Result<()> {
        let table = model.db_table();
        self.create_table(state, model, &table)?;
        self.defer_model_indexes(model, &table);
        for (name, field) in &model.fields {
            if field.kind == FieldKind::ManyToManyField
                && let Some(through) =
                    auto_through_model(model, name, field, self.max_name_length())
            {
                self.create_model(state, &through)?;
            }
        }
        Ok(())
    }

    /// The CREATE TABLE statement alone.
    pub fn create_table(
        &mut self,
        state: &ProjectState,
        model: &ModelState,
        table: &str,
    ) -> Result<()> {
        let sql = self.create_table_sql(state, model, table);
        self.execute(&sql, &[])
    }

    /// The CREATE TABLE statement of [`SchemaEditor::create_table`] (on PostgreSQL, making
    /// it defers the foreign keys' constraints).
    pub fn create_table_sql(
        &mut self,
        state: &ProjectState,
        model: &ModelState,
        table: &str,
    ) -> String {
        let mut defs = Vec::new();
        for (name, field) in model.concrete_fields() {
            defs.push(self.column_sql(state, model, name, field, None));
        }
        for c in &model.options.constraints {
            if let Some(sql) = inline_constraint_sql(model, c) {
                defs.push(sql);
            }
        }
        format!("CREATE TABLE {} ({})", quote_name(table), defs.join(", "))
    }

    /// Index statements for a model (unique_together, partial unique constraints, field
    /// indexes, index_together, Meta indexes), deferred to the end of the migration.
    pub fn defer_model_indexes(&mut self, model: &ModelState, table: &str) {
        for sql in self.model_index_sql(model, table) {
            self.defer(sql);
        }
    }

    /// The statements of [`SchemaEditor::defer_model_indexes`].
    pub fn model_index_sql(&self, model: &ModelState, table: &str) -> Vec<String> {
        let mut out = Vec::new();
        for names in &model.options.unique_together {
            if let Some(cols) = columns_of(model, names) {
                out.push(self.unique_together_sql(table, &cols));
            }
        }
        for c in &model.options.constraints {
            if let Constraint::Unique {
                condition: Some(_), ..
            } = c
            {
                out.extend(self.constraint_index_sql(model, table, c));
            }
        }
        for (name, field) in model.concrete_fields() {
            out.extend(self.field_index_sql(table, name, field));
        }
        for names in &model.options.index_together {
            if let Some(cols) = columns_of(model, names) {
                let refs: Vec<&str> = cols.iter().map(String::as_str).collect();
                let idx = index_name(table, &refs, "_idx", self.max_name_length());
                out.push(create_index_sql(
                    &idx,
                    table,
                    &quoted_list(&cols),
                    None,
                    false,
                ));
            }
        }
        for index in &model.options.indexes {
            if let Some(sql) = self.index_sql(model, table, index) {
                out.push(sql);
            }
        }
        out
    }

    /// `CREATE INDEX` for one field with db_index (and PostgreSQL's `_like` index for text).
    pub fn field_index_sql(&self, table: &str, name: &str, field: &Field) -> Vec<String> {
        let Some(column) = field.column(name) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        if field.wants_index() {
            let idx = index_name(table, &[&column], "", self.max_name_length());
            out.push(create_index_sql(
                &idx,
                table,
                &quote_name(&column),
                None,
                false,
            ));
        }
        if let Some(like) = self.like_index_sql(table, &column, field) {
            out.push(like);
        }
        out
    }

    /// PostgreSQL's extra `varchar_pattern_ops` / `text_pattern_ops` index on indexed or
    /// unique text columns, so LIKE 'abc%' can use an index (as Django creates).
    pub fn like_index_sql(&self, table: &str, column: &str, field: &Field) -> Option<String> {
        if self.vendor != Vendor::Postgres || field.primary_key || !field.kind.is_text() {
            return None;
        }
        if !(field.db_index || field.is_unique()) {
            return None;
        }
        let ops = if field.kind == FieldKind::TextField {
            "text_pattern_ops"
        } else {
            "varchar_pattern_ops"
        };
        let idx = index_name(table, &[column], "_like", self.max_name_length());
        Some(create_index_sql(
            &idx,
            table,
            &format!("{} {ops}", quote_name(column)),
            None,
            false,
        ))
    }

    fn unique_together_sql(&self, table: &str, cols: &[String]) -> String {
        let refs: Vec<&str> = cols.iter().map(String::as_str).collect();
        let name = index_name(table, &refs, "_uniq", self.max_name_length());
        match self.vendor {
            Vendor::Sqlite => create_index_sql(&name, table, &quoted_list(cols), None, true),
            Vendor::Postgres => format!(
                "ALTER TABLE {} ADD CONSTRAINT {} UNIQUE ({})",
                quote_name(table),
                quote_name(&name),
                quoted_list(cols)
            ),
        }
    }

    /// `CREATE INDEX` for a `models.Index`.
    pub fn index_sql(&self, model: &ModelState, table: &str, index: &Index) -> Option<String> {
        let mut cols = Vec::new();
        for (i, f) in index.fields.iter().enumerate() {
            let (name, desc) = match f.strip_prefix('-') {
                Some(n) => (n, " DESC"),
                None => (f.as_str(), ""),
            };
            let column = model.field(name)?.column(name)?;
            let ops = index
                .opclasses
                .get(i)
                .map(|o| format!(" {o}"))
                .unwrap_or_default();
            cols.push(format!("{}{ops}{desc}", quote_name(&column)));
        }
        Some(create_index_sql(
            &index.name,
            table,
            &cols.join(", "),
            index.condition.as_deref(),
            false,
        ))
    }

    /// Indexes that implement a constraint (a unique constraint with a condition).
    fn constraint_index_sql(
        &self,
        model: &ModelState,
        table: &str,
        c: &Constraint,
    ) -> Option<String> {
        let Constraint::Unique {
            name,
            fields,
            condition,
            ..
        } = c
        else {
            return None;
        };
        let cols = columns_of(model, fields)?;
        Some(create_index_sql(
            name,
            table,
            &quoted_list(&cols),
            condition.as_deref(),
            true,
        ))
    }

    /// DROP TABLE for a model and its auto-created many-to-many tables.
    pub fn delete_model(&mut self, model: &ModelState) -> Result<()> {
        for (name, field) in &model.fields {
            if field.kind == FieldKind::ManyToManyField
                && let Some(through) =
                    auto_through_model(model, name, field, self.max_name_length())
            {
                self.drop_table(&through.db_table())?;
            }
        }
        self.drop_table(&model.db_table())
    }

    /// `DROP TABLE` (with CASCADE on PostgreSQL, as Django).
    pub fn drop_table(&mut self, table: &str) -> Result<()> {
        let cascade = if self.vendor == Vendor::Postgres {
            " CASCADE"
        } else {
            ""
        };
        self.execute(&format!("DROP TABLE {}{cascade}", quote_name(table)), &[])
    }

    /// Renames a table.
    pub fn alter_db_table(&mut self, old: &str, new: &str) -> Result<()> {
        if old == new {
            return Ok(());
        }
        let sql = format!(
            "ALTER TABLE {} RENAME TO {}",
            quote_name(old),
            quote_name(new)
        );
        self.execute(&sql, &[])
    }

    /// Renames a column.
    pub fn rename_column(&mut self, table: &str, old: &str, new: &str) -> Result<()> {
        if old == new {
            return Ok(());
        }
        let sql = format!(
            "ALTER TABLE {} RENAME COLUMN {} TO {}",
            quote_name(table),
            quote_name(old),
            quote_name(new)
        );
        self.execute(&sql, &[])
    }

    /// Changes unique_together or index_together: drops the sets that went, creates the new.
    pub fn alter_together(
        &mut self,
        model: &ModelState,
        old: &[Vec<String>],
        new: &[Vec<String>],
        unique: bool,
    ) -> Result<()> {
        let table = model.db_table();
        let suffix = if unique { "_uniq" } else { "_idx" };
        for names in old.iter().filter(|o| !new.contains(o)) {
            let Some(cols) = columns_of(model, names) else {
                continue;
            };
            let refs: Vec<&str> = cols.iter().map(String::as_str).collect();
            let name = index_name(&table, &refs, suffix, self.max_name_length());
            self.drop_index_or_constraint(&table, &name, unique)?;
        }
        for names in new.iter().filter(|n| !old.contains(n)) {
            let Some(cols) = columns_of(model, names) else {
                continue;
            };
            let sql = if unique {
                self.unique_together_sql(&table, &cols)
            } else {
                let refs: Vec<&str> = cols.iter().map(String::as_str).collect();
                let idx = index_name(&table, &refs, "_idx", self.max_name_length());
                create_index_sql(&idx, &table, &quoted_list(&cols), None, false)
            };
            self.execute(&sql, &[])?;
        }
        Ok(())
    }

    /// Drops an index (SQLite, or a PostgreSQL index) or a PostgreSQL unique constraint.
    pub fn drop_index_or_constraint(
        &mut self,
        table: &str,
        name: &str,
        constraint: bool,
    ) -> Result<()> {
        let sql = if constraint && self.vendor == Vendor::Postgres {
            format!(
                "ALTER TABLE {} DROP CONSTRAINT {}",
                quote_name(table),
                quote_name(name)
            )
        } else {
            format!("DROP INDEX {}", quote_name(name))
        };
        self.execute(&sql, &[])
    }

    /// AddIndex.
    pub fn add_index(&mut self, model: &ModelState, index: &Index) -> Result<()> {
        match self.index_sql(model, &model.db_table(), index) {
            Some(sql) => self.execute(&sql, &[]),
            None => Ok(()),
        }
    }

    /// RemoveIndex.
    pub fn remove_index(&mut self, index: &Index) -> Result<()> {
        self.execute(&format!("DROP INDEX {}", quote_name(&index.name)), &[])
    }

    /// AddConstraint on PostgreSQL, or a unique index; SQLite check and plain unique
    /// constraints need a table rebuild, which the caller does.
    pub fn add_constraint_sql(&self, model: &ModelState, c: &Constraint) -> Option<String> {
        let table = model.db_table();
        if let Some(sql) = self.constraint_index_sql(model, &table, c)
            && matches!(
                c,
                Constraint::Unique {
                    condition: Some(_),
                    ..
                }
            )
        {
            return Some(sql);
        }
        if self.vendor == Vendor::Sqlite {
            return None;
        }
        let body = inline_constraint_sql(model, c)?;
        Some(format!("ALTER TABLE {} ADD {body}", quote_name(&table)))
    }

    /// The opposite of [`SchemaEditor::add_constraint_sql`].
    pub fn remove_constraint_sql(&self, model: &ModelState, c: &Constraint) -> Option<String> {
        if let Constraint::Unique {
            condition: Some(_),
            name,
            ..
        } = c
        {
            return Some(format!("DROP INDEX {}", quote_name(name)));
        }
        if self.vendor == Vendor::Sqlite {
            return None;
        }
        Some(format!(
            "ALTER TABLE {} DROP CONSTRAINT {}",
            quote_name(&model.db_table()),
            quote_name(c.name())
        ))
    }
}

/// `CREATE [UNIQUE] INDEX "name" ON "table" (cols) [WHERE cond]`.
pub fn create_index_sql(
    name: &str,
    table: &str,
    cols: &str,
    condition: Option<&str>,
    unique: bool,
) -> String {
    let unique = if unique { "UNIQUE " } else { "" };
    let condition = condition.map(|c| format!(" WHERE {c}")).unwrap_or_default();
    format!(
        "CREATE {unique}INDEX {} ON {} ({cols}){condition}",
        quote_name(name),
        quote_name(table)
    )
}

/// `CONSTRAINT "name" UNIQUE (...)` / `CONSTRAINT "name" CHECK (...)`, for constraints
/// that live in the table definition.
pub fn inline_constraint_sql(model: &ModelState, c: &Constraint) -> Option<String> {
    match c {
        Constraint::Unique {
            name,
            fields,
            condition: None,
            deferrable,
        } => {
            let cols = columns_of(model, fields)?;
            let deferrable = match deferrable.as_deref() {
                Some("deferred") => " DEFERRABLE INITIALLY DEFERRED",
                Some("immediate") => " DEFERRABLE INITIALLY IMMEDIATE",
                _ => "",
            };
            Some(format!(
                "CONSTRAINT {} UNIQUE ({}){deferrable}",
                quote_name(name),
                quoted_list(&cols)
            ))
        }
        Constraint::Unique { .. } => None,
        Constraint::Check { name, check } => {
            Some(format!("CONSTRAINT {} CHECK ({check})", quote_name(name)))
        }
    }
}

/// Columns of the named fields, or None if one is gone (a field removed since).
pub fn columns_of(model: &ModelState, names: &[String]) -> Option<Vec<String>> {
    names
        .iter()
        .map(|n| model.field(n).and_then(|f| f.column(n)))
        .collect()
}

/// `"a", "b"`.
pub fn quoted_list(cols: &[String]) -> String {
    cols.iter()
        .map(|c| quote_name(c))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A literal for DDL (defaults cannot be bound parameters in CREATE/ALTER TABLE).
pub fn literal(v: &Value, vendor: Vendor) -> String {
    match (v, vendor) {
        (Value::Bool(b), Vendor::Postgres) => if *b { "true" } else { "false" }.into(),
        (Value::Bytes(b), Vendor::Postgres) => {
            let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
            format!("'\\x{hex}'::bytea")
        }
        _ => v.to_sql_literal(),
    }
}

/// SQL with its parameters shown as literals, for sqlmigrate output.
pub fn show_with_params(sql: &str, params: &[Value], vendor: Vendor) -> String {
    if params.is_empty() {
        return sql.to_string();
    }
    crate::db::translate_placeholders(sql, |n| {
        params
            .get(n - 1)
            .map(|v| literal(v, vendor))
            .unwrap_or_else(|| "?".into())
    })
}
