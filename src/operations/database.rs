//! The database half of every operation, forwards and backwards, through the schema editor.
//! `from` is the state before the operation runs in the given direction, `to` after, as in
//! Django (so backwards `from` is the state with the operation applied).

use crate::error::{Error, Result};
use crate::fields::FieldKind;
use crate::schema::{FieldChange, SchemaEditor};
use crate::state::{ModelState, ProjectState, auto_through_model};

use super::state::{missing_model, state_forwards};
use super::{Hints, Operation, OperationKind};

/// Runs RunLua code; provided by the executor so operations stay free of Lua plumbing.
pub trait LuaRunner {
    /// Calls `code(apps, schema_editor)` with `apps` built from `state`.
    fn run_lua(
        &self,
        code: &mlua::Function,
        state: &ProjectState,
        editor: &mut SchemaEditor,
        location: &str,
    ) -> Result<()>;
}

/// Everything an operation's database half needs.
pub struct OperationContext<'a> {
    pub app: &'a str,
    pub editor: &'a mut SchemaEditor,
    /// Routers' verdict for (model name, hints) on this database.
    pub allow: &'a dyn Fn(Option<&str>, &Hints) -> Result<bool>,
    pub lua: &'a dyn LuaRunner,
}

/// Applies `op` to the database.
pub fn database_forwards(
    op: &Operation,
    cx: &mut OperationContext,
    from: &ProjectState,
    to: &ProjectState,
) -> Result<()> {
    run(op, cx, from, to, false)
}

/// Unapplies `op` (`from` has it applied, `to` has not).
pub fn database_backwards(
    op: &Operation,
    cx: &mut OperationContext,
    from: &ProjectState,
    to: &ProjectState,
) -> Result<()> {
    run(op, cx, from, to, true)
}

fn model<'s>(
    state: &'s ProjectState,
    app: &str,
    name: &str,
    op: &Operation,
) -> Result<&'s ModelState> {
    state
        .model(app, name)
        .ok_or_else(|| missing_model(&op.location, state, app, name, op.type_name()))
}

fn run(
    op: &Operation,
    cx: &mut OperationContext,
    from: &ProjectState,
    to: &ProjectState,
    back: bool,
) -> Result<()> {
    use OperationKind::*;
    let app = cx.app;
    let empty = Hints::new();
    let hints = match &op.kind {
        RunSql { hints, .. } | RunLua { hints, .. } => hints,
        _ => &empty,
    };
    if !matches!(op.kind, SeparateDatabaseAndState { .. })
        && !(cx.allow)(op.model_name().as_deref(), hints)?
    {
        return Ok(());
    }
    // Unmanaged and proxy models have no table of their own.
    if let Some(name) = op.model_name() {
        let m = from.model(app, &name).or_else(|| to.model(app, &name));
        if m.is_some_and(|m| !m.is_managed()) && !matches!(op.kind, AlterModelOptions { .. }) {
            return Ok(());
        }
    }
    if !matches!(
        op.kind,
        RunSql { .. } | RunLua { .. } | SeparateDatabaseAndState { .. }
    ) {
        cx.editor.settle_constraints()?;
    }
    match &op.kind {
        CreateModel { name, .. } | DeleteModel { name } => {
            let creating = matches!(op.kind, CreateModel { .. }) != back;
            if creating {
                let m = model(to, app, name, op)?;
                cx.editor.create_model(to, m)
            } else {
                cx.editor.delete_model(model(from, app, name, op)?)
            }
        }
        RenameModel { old_name, new_name } => {
            let (a, b) = if back {
                (new_name, old_name)
            } else {
                (old_name, new_name)
            };
            rename_model(
                cx,
                model(from, app, a, op)?,
                model(to, app, b, op)?,
                from,
                to,
            )
        }
        AlterModelTable { name, .. } => {
            let (old, new) = (model(from, app, name, op)?, model(to, app, name, op)?);
            cx.editor.alter_db_table(&old.db_table(), &new.db_table())?;
            rename_m2m_tables(cx, old, new, to)
        }
        AlterModelOptions { .. } => Ok(()),
        AlterUniqueTogether { name, .. } | AlterIndexTogether { name, .. } => {
            let unique = matches!(op.kind, AlterUniqueTogether { .. });
            let (old, new) = (model(from, app, name, op)?, model(to, app, name, op)?);
            let pick = |m: &ModelState| {
                if unique {
                    m.options.unique_together.clone()
                } else {
                    m.options.index_together.clone()
                }
            };
            cx.editor
                .alter_together(new, &pick(old), &pick(new), unique)
        }
        AddIndex { model_name, index } => {
            if back {
                cx.editor.remove_index(index)
            } else {
                cx.editor.add_index(model(to, app, model_name, op)?, index)
            }
        }
        RemoveIndex { model_name, name } => {
            // The index is described in whichever state still has it.
            let holder = if back { to } else { from };
            let m = model(holder, app, model_name, op)?;
            let Some(index) = m.options.indexes.iter().find(|i| &i.name == name) else {
                return Ok(());
            };
            if back {
                cx.editor.add_index(m, index)
            } else {
                cx.editor.remove_index(index)
            }
        }
        AddConstraint { model_name, .. } | RemoveConstraint { model_name, .. } => {
            let adding = matches!(op.kind, AddConstraint { .. }) != back;
            constraint_change(
                cx,
                op,
                model(from, app, model_name, op)?,
                model(to, app, model_name, op)?,
                to,
                adding,
            )
        }
        AddField {
            model_name, name, ..
        }
        | RemoveField { model_name, name } => {
            let adding = matches!(op.kind, AddField { .. }) != back;
            let (old, new) = (
                model(from, app, model_name, op)?,
                model(to, app, model_name, op)?,
            );
            if adding {
                let field = new.field(name).ok_or_else(|| {
                    Error::state(&op.location, format!("field {name} is missing"))
                })?;
                cx.editor
                    .add_field(to, old, new, name, &with_operation_default(op, field))
            } else {
                let field = old.field(name).ok_or_else(|| {
                    Error::state(&op.location, format!("field {name} is missing"))
                })?;
                cx.editor.remove_field(to, old, new, name, field)
            }
        }
        AlterField {
            model_name, name, ..
        } => {
            let (old, new) = (
                model(from, app, model_name, op)?,
                model(to, app, model_name, op)?,
            );
            match (old.field(name), new.field(name)) {
                (Some(a), Some(b)) if !back => cx.editor.alter_field(
                    to,
                    FieldChange {
                        old_model: old,
                        new_model: new,
                        old: (name, a),
                        new: (name, &with_operation_default(op, b)),
                    },
                ),
                (Some(a), Some(b)) => cx.editor.alter_field(
                    to,
                    FieldChange {
                        old_model: old,
                        new_model: new,
                        old: (name, a),
                        new: (name, b),
                    },
                ),
                _ => Ok(()),
            }
        }
        RenameField {
            model_name,
            old_name,
            new_name,
        } => {
            let (a, b) = if back {
                (new_name, old_name)
            } else {
                (old_name, new_name)
            };
            let (old, new) = (
                model(from, app, model_name, op)?,
                model(to, app, model_name, op)?,
            );
            match (old.field(a), new.field(b)) {
                (Some(fa), Some(fb)) => cx.editor.alter_field(
                    to,
                    FieldChange {
                        old_model: old,
                        new_model: new,
                        old: (a, fa),
                        new: (b, fb),
                    },
                ),
                _ => Ok(()),
            }
        }
        RunSql {
            sql, reverse_sql, ..
        } => {
            let stmts = if back {
                reverse_sql.as_deref().unwrap_or(&[])
            } else {
                sql.as_slice()
            };
            for s in stmts {
                cx.editor.execute(&s.sql, &s.params)?;
            }
            Ok(())
        }
        RunLua {
            code, reverse_code, ..
        } => {
            let f = if back {
                reverse_code.as_ref()
            } else {
                Some(code)
            };
            match f {
                Some(f) if cx.editor.collecting() => {
                    let _ = f;
                    cx.editor
                        .comment("-- THIS OPERATION CANNOT BE WRITTEN AS SQL");
                    Ok(())
                }
                Some(f) => {
                    cx.editor.flush_deferred()?;
                    cx.lua.run_lua(f, from, cx.editor, &op.location)
                }
                None => Ok(()),
            }
        }
        SeparateDatabaseAndState {
            database_operations,
            ..
        } => separate_database_and_state(cx, database_operations, from, to, back),
    }
}

/// The field as the operation declared it, default included (`preserve_default = false`
/// removes it only from the state).
fn with_operation_default(op: &Operation, field: &crate::fields::Field) -> crate::fields::Field {
    let mut f = field.clone();
    if let OperationKind::AddField {
        field: declared, ..
    }
    | OperationKind::AlterField {
        field: declared, ..
    } = &op.kind
        && f.default.is_none()
    {
        f.default = declared.default.clone();
    }
    f
}

fn separate_database_and_state(
    cx: &mut OperationContext,
    ops: &[Operation],
    from: &ProjectState,
    to: &ProjectState,
    back: bool,
) -> Result<()> {
    if !back {
        let mut current = from.clone();
        for inner in ops {
            let mut next = current.clone();
            state_forwards(inner, cx.app, &mut next)?;
            run(inner, cx, &current, &next, false)?;
            current = next;
        }
        return Ok(());
    }
    // Backwards: replay the database operations from the state before them (`to`), then
    // undo them last to first.
    let mut states = vec![to.clone()];
    for inner in ops {
        let mut next = states.last().cloned().unwrap_or_default();
        state_forwards(inner, cx.app, &mut next)?;
        states.push(next);
    }
    let _ = from;
    for (i, inner) in ops.iter().enumerate().rev() {
        run(inner, cx, &states[i + 1], &states[i], true)?;
    }
    Ok(())
}

fn constraint_change(
    cx: &mut OperationContext,
    op: &Operation,
    old: &ModelState,
    new: &ModelState,
    to: &ProjectState,
    adding: bool,
) -> Result<()> {
    let name = match &op.kind {
        OperationKind::AddConstraint { constraint, .. } => constraint.name().to_string(),
        OperationKind::RemoveConstraint { name, .. } => name.clone(),
        _ => return Ok(()),
    };
    let holder = if adding { new } else { old };
    let Some(c) = holder.options.constraints.iter().find(|c| c.name() == name) else {
        return Ok(());
    };
    let sql = if adding {
        cx.editor.add_constraint_sql(holder, c)
    } else {
        cx.editor.remove_constraint_sql(holder, c)
    };
    match sql {
        Some(sql) => cx.editor.execute(&sql, &[]),
        // SQLite cannot add or drop table constraints: rebuild the table.
        None => {
            let copy = new
                .concrete_fields()
                .filter_map(|(n, f)| f.column(n))
                .map(|c| (c.clone(), crate::db::quote_name(&c)))
                .collect();
            cx.editor.remake_table(to, old, new, copy, Vec::new())
        }
    }
}

fn rename_model(
    cx: &mut OperationContext,
    old: &ModelState,
    new: &ModelState,
    from: &ProjectState,
    to: &ProjectState,
) -> Result<()> {
    cx.editor.alter_db_table(&old.db_table(), &new.db_table())?;
    repoint_foreign_keys(cx, old, new, from, to)?;
    rename_m2m_tables(cx, old, new, to)?;
    // Many-to-many tables of other models name their column after this model.
    let max = cx.editor.max_name_length();
    for other in from.models() {
        for (fname, f) in &other.fields {
            if f.kind != FieldKind::ManyToManyField || other.key() == old.key() {
                continue;
            }
            let points_here = f.relation.as_ref().is_some_and(|r| r.to == old.key());
            let Some(other_after) = to.get(&if other.key() == old.key() {
                new.key()
            } else {
                other.key()
            }) else {
                continue;
            };
            let (Some(before), Some(after)) = (
                points_here
                    .then(|| auto_through_model(other, fname, f, max))
                    .flatten(),
                other_after
                    .field(fname)
                    .and_then(|nf| auto_through_model(other_after, fname, nf, max)),
            ) else {
                continue;
            };
            // The link table's column pointing at the renamed model.
            if let Some(change) = FieldChange::nth(&before, &after, 2) {
                cx.editor.repoint_foreign_key(to, change)?;
            }
        }
    }
    Ok(())
}

/// Foreign keys of every model (the renamed one included) that point at the renamed model.
fn repoint_foreign_keys(
    cx: &mut OperationContext,
    old: &ModelState,
    new: &ModelState,
    from: &ProjectState,
    to: &ProjectState,
) -> Result<()> {
    for other in to.models() {
        let other_before = if other.key() == new.key() {
            Some(old)
        } else {
            from.get(&other.key())
        };
        let Some(other_before) = other_before else {
            continue;
        };
        for (name, f) in &other.fields {
            let points_here =
                f.kind.is_foreign_key() && f.relation.as_ref().is_some_and(|r| r.to == new.key());
            if let Some(before) = other_before.field(name).filter(|_| points_here) {
                cx.editor.repoint_foreign_key(
                    to,
                    FieldChange {
                        old_model: other_before,
                        new_model: other,
                        old: (name, before),
                        new: (name, f),
                    },
                )?;
            }
        }
    }
    Ok(())
}

/// Auto-created many-to-many tables are named after their model's table and hold a column
/// named after the model: both follow a rename.
fn rename_m2m_tables(
    cx: &mut OperationContext,
    old: &ModelState,
    new: &ModelState,
    to: &ProjectState,
) -> Result<()> {
    let max = cx.editor.max_name_length();
    for (name, f) in &old.fields {
        if f.kind != FieldKind::ManyToManyField {
            continue;
        }
        let Some(nf) = new.field(name) else { continue };
        let (Some(a), Some(b)) = (
            auto_through_model(old, name, f, max),
            auto_through_model(new, name, nf, max),
        ) else {
            continue;
        };
        cx.editor.alter_db_table(&a.db_table(), &b.db_table())?;
        // The link table's column pointing at the model itself.
        if let Some(change) = FieldChange::nth(&a, &b, 1) {
            cx.editor.repoint_foreign_key(to, change)?;
        }
    }
    Ok(())
}
