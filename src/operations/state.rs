//! The state half of every operation: how it changes the in-memory project state.
//! Pure; errors name the operation's file and line and what exists instead.

use std::rc::Rc;

use crate::error::{Error, Result};
use crate::fields::{Field, FieldDefault, ModelKey};
use crate::state::{ModelState, ProjectState};

use super::{Operation, OperationKind};

/// Applies `op` (of a migration in `app`) to `state`.
pub fn state_forwards(op: &Operation, app: &str, state: &mut ProjectState) -> Result<()> {
    use OperationKind::*;
    let loc = op.location.as_str();
    match &op.kind {
        CreateModel {
            name,
            fields,
            options,
        } => create_model(loc, app, state, name, fields, options.clone()),
        DeleteModel { name } => {
            let key = existing(loc, state, app, name, "DeleteModel")?;
            state.remove(&key);
            Ok(())
        }
        RenameModel { old_name, new_name } => rename_model(loc, app, state, old_name, new_name),
        AlterModelTable { name, table } => {
            model_mut(loc, state, app, name, "AlterModelTable")?
                .options
                .db_table = table.clone();
            Ok(())
        }
        AlterModelOptions { name, options } => {
            let m = model_mut(loc, state, app, name, "AlterModelOptions")?;
            m.options.managed = options.managed;
            m.options.ordering = options.ordering.clone();
            m.options.other = options.other.clone();
            Ok(())
        }
        AlterUniqueTogether {
            name,
            unique_together,
        } => {
            let m = model_mut(loc, state, app, name, "AlterUniqueTogether")?;
            check_fields_exist(loc, m, unique_together.iter().flatten(), "unique_together")?;
            m.options.unique_together = unique_together.clone();
            Ok(())
        }
        AlterIndexTogether {
            name,
            index_together,
        } => {
            let m = model_mut(loc, state, app, name, "AlterIndexTogether")?;
            check_fields_exist(loc, m, index_together.iter().flatten(), "index_together")?;
            m.options.index_together = index_together.clone();
            Ok(())
        }
        AddIndex { model_name, index } => {
            let m = model_mut(loc, state, app, model_name, "AddIndex")?;
            let names = index
                .fields
                .iter()
                .map(|f| f.trim_start_matches('-').to_string());
            check_fields_exist(loc, m, names.collect::<Vec<_>>().iter(), "Index")?;
            if m.options.indexes.iter().any(|i| i.name == index.name) {
                return Err(Error::state(
                    loc,
                    format!(
                        "AddIndex: model {} already has an index named '{}'",
                        m.name, index.name
                    ),
                ));
            }
            m.options.indexes.push(index.clone());
            Ok(())
        }
        RemoveIndex { model_name, name } => {
            let m = model_mut(loc, state, app, model_name, "RemoveIndex")?;
            let before = m.options.indexes.len();
            m.options.indexes.retain(|i| &i.name != name);
            if m.options.indexes.len() == before {
                return Err(no_such(
                    loc,
                    "RemoveIndex",
                    "index",
                    name,
                    &m.name,
                    index_names(m),
                ));
            }
            Ok(())
        }
        AddConstraint {
            model_name,
            constraint,
        } => {
            let m = model_mut(loc, state, app, model_name, "AddConstraint")?;
            if let crate::fields::Constraint::Unique { fields, .. } = constraint {
                check_fields_exist(loc, m, fields.iter(), "UniqueConstraint")?;
            }
            if m.options
                .constraints
                .iter()
                .any(|c| c.name() == constraint.name())
            {
                return Err(Error::state(
                    loc,
                    format!(
                        "AddConstraint: model {} already has a constraint named '{}'",
                        m.name,
                        constraint.name()
                    ),
                ));
            }
            m.options.constraints.push(constraint.clone());
            Ok(())
        }
        RemoveConstraint { model_name, name } => {
            let m = model_mut(loc, state, app, model_name, "RemoveConstraint")?;
            let before = m.options.constraints.len();
            m.options.constraints.retain(|c| c.name() != name);
            if m.options.constraints.len() == before {
                let names = m
                    .options
                    .constraints
                    .iter()
                    .map(|c| c.name().to_string())
                    .collect();
                return Err(no_such(
                    loc,
                    "RemoveConstraint",
                    "constraint",
                    name,
                    &m.name,
                    names,
                ));
            }
            Ok(())
        }
        AddField {
            model_name,
            name,
            field,
            preserve_default,
        } => add_field(loc, app, state, model_name, name, field, *preserve_default),
        RemoveField { model_name, name } => {
            let m = model_mut(loc, state, app, model_name, "RemoveField")?;
            let Some(pos) = m.fields.iter().position(|(n, _)| n == name) else {
                return Err(no_field(loc, "RemoveField", name, m));
            };
            m.fields.remove(pos);
            Ok(())
        }
        AlterField {
            model_name,
            name,
            field,
            preserve_default,
        } => alter_field(loc, app, state, model_name, name, field, *preserve_default),
        RenameField {
            model_name,
            old_name,
            new_name,
        } => rename_field(loc, app, state, model_name, old_name, new_name),
        RunSql {
            state_operations, ..
        }
        | SeparateDatabaseAndState {
            state_operations, ..
        } => {
            for inner in state_operations {
                state_forwards(inner, app, state)?;
            }
            Ok(())
        }
        RunLua { .. } => Ok(()),
    }
}

fn index_names(m: &ModelState) -> Vec<String> {
    m.options.indexes.iter().map(|i| i.name.clone()).collect()
}

fn no_such(loc: &str, op: &str, what: &str, name: &str, model: &str, known: Vec<String>) -> Error {
    let known = if known.is_empty() {
        "it has none".to_string()
    } else {
        format!("it has: {}", known.join(", "))
    };
    Error::state(
        loc,
        format!("{op}: model {model} has no {what} named '{name}' ({known})"),
    )
}

fn no_field(loc: &str, op: &str, name: &str, m: &ModelState) -> Error {
    Error::state(
        loc,
        format!(
            "{op}: model {}.{} has no field named '{name}' (its fields are: {})",
            m.app,
            m.name,
            m.field_names().join(", ")
        ),
    )
}

/// The key of an existing model, or an error listing the app's models.
fn existing(loc: &str, state: &ProjectState, app: &str, name: &str, op: &str) -> Result<ModelKey> {
    match state.model(app, name) {
        Some(m) => Ok(m.key()),
        None => Err(missing_model(loc, state, app, name, op)),
    }
}

/// The error for a model that does not exist at this point of the history.
pub(crate) fn missing_model(
    loc: &str,
    state: &ProjectState,
    app: &str,
    name: &str,
    op: &str,
) -> Error {
    let models: Vec<&str> = state
        .app_models(app)
        .iter()
        .map(|m| m.name.as_str())
        .collect();
    let known = if models.is_empty() {
        format!("app '{app}' has no models at this point")
    } else {
        format!("models of app '{app}': {}", models.join(", "))
    };
    Error::state(
        loc,
        format!("{op}: model {app}.{name} does not exist at this point of the history ({known})"),
    )
}

fn model_mut<'a>(
    loc: &str,
    state: &'a mut ProjectState,
    app: &str,
    name: &str,
    op: &str,
) -> Result<&'a mut ModelState> {
    let key = existing(loc, state, app, name, op)?;
    state
        .model_mut(&key)
        .ok_or_else(|| missing_model(loc, &ProjectState::new(), app, name, op))
}

fn check_fields_exist<'a>(
    loc: &str,
    m: &ModelState,
    names: impl Iterator<Item = &'a String>,
    what: &str,
) -> Result<()> {
    for name in names {
        if m.field(name).is_none() {
            return Err(no_field(loc, what, name, m));
        }
    }
    Ok(())
}

fn create_model(
    loc: &str,
    app: &str,
    state: &mut ProjectState,
    name: &str,
    fields: &[(String, Field)],
    options: crate::state::ModelOptions,
) -> Result<()> {
    if let Some(m) = state.model(app, name) {
        return Err(Error::state(
            loc,
            format!("CreateModel: model {app}.{} already exists", m.name),
        ));
    }
    let mut seen = std::collections::BTreeSet::new();
    for (field_name, _) in fields {
        if !seen.insert(field_name.as_str()) {
            return Err(Error::state(
                loc,
                format!("CreateModel: model {name} has two fields named '{field_name}'"),
            ));
        }
    }
    if fields.iter().filter(|(_, f)| f.primary_key).count() > 1 {
        return Err(Error::state(
            loc,
            format!("CreateModel: model {name} has more than one primary key"),
        ));
    }
    let mut model = ModelState {
        app: app.to_string(),
        name: name.to_string(),
        fields: fields
            .iter()
            .map(|(n, f)| (n.clone(), Rc::new(f.clone())))
            .collect(),
        options,
    };
    model.ensure_primary_key();
    let lists = model
        .options
        .unique_together
        .iter()
        .chain(&model.options.index_together);
    check_fields_exist(loc, &model, lists.flatten(), "CreateModel")?;
    state.insert(model);
    Ok(())
}

fn rename_model(
    loc: &str,
    app: &str,
    state: &mut ProjectState,
    old: &str,
    new: &str,
) -> Result<()> {
    let old_key = existing(loc, state, app, old, "RenameModel")?;
    let new_key = ModelKey::new(app, new);
    if new_key != old_key && state.get(&new_key).is_some() {
        return Err(Error::state(
            loc,
            format!("RenameModel: model {app}.{new} already exists"),
        ));
    }
    let related = state.models_relating_to(&old_key);
    let Some(model) = state.remove(&old_key) else {
        return Err(missing_model(loc, state, app, old, "RenameModel"));
    };
    let mut model = (*model).clone();
    model.name = new.to_string();
    state.insert(model);
    for key in related {
        let key = if key == old_key { new_key.clone() } else { key };
        if let Some(m) = state.model_mut(&key) {
            for (_, f) in m.fields.iter_mut() {
                let points_at_old = f
                    .relation
                    .as_ref()
                    .is_some_and(|r| r.to == old_key || r.through.as_ref() == Some(&old_key));
                if !points_at_old {
                    continue;
                }
                if let Some(r) = Rc::make_mut(f).relation.as_mut() {
                    if r.to == old_key {
                        r.to = new_key.clone();
                    }
                    if r.through.as_ref() == Some(&old_key) {
                        r.through = Some(new_key.clone());
                    }
                }
            }
        }
    }
    Ok(())
}

fn add_field(
    loc: &str,
    app: &str,
    state: &mut ProjectState,
    model_name: &str,
    name: &str,
    field: &Field,
    preserve_default: bool,
) -> Result<()> {
    let m = model_mut(loc, state, app, model_name, "AddField")?;
    if m.field(name).is_some() {
        return Err(Error::state(
            loc,
            format!(
                "AddField: model {}.{} already has a field named '{name}'",
                m.app, m.name
            ),
        ));
    }
    let mut field = field.clone();
    if !preserve_default {
        field.default = None;
    }
    m.fields.push((name.to_string(), Rc::new(field)));
    Ok(())
}

fn alter_field(
    loc: &str,
    app: &str,
    state: &mut ProjectState,
    model_name: &str,
    name: &str,
    field: &Field,
    preserve_default: bool,
) -> Result<()> {
    let m = model_mut(loc, state, app, model_name, "AlterField")?;
    let Some(slot) = m.fields.iter_mut().find(|(n, _)| n == name) else {
        return Err(no_field(loc, "AlterField", name, m));
    };
    let mut field = field.clone();
    if !preserve_default {
        field.default = None::<FieldDefault>;
    }
    slot.1 = Rc::new(field);
    Ok(())
}

fn rename_field(
    loc: &str,
    app: &str,
    state: &mut ProjectState,
    model_name: &str,
    old: &str,
    new: &str,
) -> Result<()> {
    let m = model_mut(loc, state, app, model_name, "RenameField")?;
    if m.field(new).is_some() {
        return Err(Error::state(
            loc,
            format!(
                "RenameField: model {}.{} already has a field named '{new}'",
                m.app, m.name
            ),
        ));
    }
    let Some(slot) = m.fields.iter_mut().find(|(n, _)| n == old) else {
        return Err(no_field(loc, "RenameField", old, m));
    };
    slot.0 = new.to_string();
    let rename = |n: &mut String| {
        if n == old {
            *n = new.to_string();
        } else if n.strip_prefix('-') == Some(old) {
            *n = format!("-{new}");
        }
    };
    let opts = &mut m.options;
    opts.unique_together.iter_mut().flatten().for_each(rename);
    opts.index_together.iter_mut().flatten().for_each(rename);
    opts.indexes
        .iter_mut()
        .flat_map(|i| i.fields.iter_mut())
        .for_each(rename);
    for c in opts.constraints.iter_mut() {
        if let crate::fields::Constraint::Unique { fields, .. } = c {
            fields.iter_mut().for_each(rename);
        }
    }
    Ok(())
}

/// Every relation of a model must point at a model that exists; checked after each migration
/// so a migration may create two models that refer to each other in any order.
pub fn check_relations(state: &ProjectState, app: &str, changed: &[String]) -> Result<()> {
    for model_name in changed {
        let Some(m) = state.model(app, model_name) else {
            continue;
        };
        for (name, f) in &m.fields {
            let Some(r) = &f.relation else { continue };
            for target in std::iter::once(&r.to).chain(r.through.as_ref()) {
                if state.get(target).is_none() {
                    return Err(Error::state(
                        &f.location,
                        format!(
                            "{}: field '{name}' of {}.{} refers to model {}.{}, which does not exist at this point of the history",
                            f.kind.name(),
                            m.app,
                            m.name,
                            target.app,
                            target.name
                        ),
                    ));
                }
            }
        }
    }
    Ok(())
}
