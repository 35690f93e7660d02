//! Decodes the tables built by `luamig.migrations` / `luamig.models` (already validated in
//! Lua) into the engine's types. Anything unexpected becomes an error naming file and line.

use std::collections::BTreeMap;
use std::path::Path;

use mlua::{Function, Table, Value as LuaValue};

use crate::error::{Error, Result};
use crate::fields::{
    Constraint, Field, FieldDefault, FieldKind, Index, ModelKey, OnDelete, Relation,
};
use crate::graph::NodeKey;
use crate::migration::{DependencySpec, Migration};
use crate::operations::{Hints, Operation, OperationKind, SqlStatement};
use crate::state::ModelOptions;
use crate::value::Value;

use super::{LuaVm, lua_error};

/// Holds the markers (metatables, NULL) that tell luamig's own values apart.
pub struct Decoder {
    null: Table,
    migration_mt: Table,
    operation_mt: Table,
}

/// The context of one decode: the migration's app and its location for messages.
struct Ctx<'a> {
    app: &'a str,
    location: String,
    /// How deep in nested operation lists (`SeparateDatabaseAndState`, `state_operations`).
    depth: std::cell::Cell<usize>,
}

/// Nesting deeper than this is a mistake (and would exhaust the stack further on).
const MAX_NESTING: usize = 50;

fn bad(loc: &str, msg: impl std::fmt::Display) -> Error {
    Error::Lua {
        message: if loc.is_empty() {
            msg.to_string()
        } else {
            format!("{loc}: {msg}")
        },
        traceback: Vec::new(),
    }
}

impl Decoder {
    /// Loads `luamig.migrations` and `luamig.models` to learn their markers.
    pub fn new(vm: &LuaVm) -> Result<Decoder> {
        let migrations = vm.require("luamig.migrations")?;
        let models = vm.require("luamig.models")?;
        Ok(Decoder {
            null: models.get("NULL").map_err(lua_error)?,
            migration_mt: migrations.get("_MigrationMT").map_err(lua_error)?,
            operation_mt: migrations.get("_OperationMT").map_err(lua_error)?,
        })
    }

    /// Decodes what a migration file returned.
    pub fn migration(
        &self,
        value: LuaValue,
        key: NodeKey,
        display: &Path,
        checksum: String,
    ) -> Result<Migration> {
        let shown = display.display().to_string();
        let t = match value {
            LuaValue::Table(t) if t.metatable().as_ref() == Some(&self.migration_mt) => t,
            other => {
                return Err(Error::File {
                    path: display.to_path_buf(),
                    reason: format!(
                        "does not return a Migration (it returns {}; end the file with `return migrations.Migration {{ ... }}`)",
                        describe(&other)
                    ),
                });
            }
        };
        // `return migrations.Migration{...}` is a tail call, which leaves no location.
        let location: String = raw::<String>(&t, "__where", &shown)?
            .filter(|l| !l.is_empty())
            .unwrap_or(shown.clone());
        let ctx = Ctx {
            app: &key.app,
            location: location.clone(),
            depth: std::cell::Cell::new(0),
        };
        let ops: Table = raw(&t, "operations", &location)?
            .ok_or_else(|| bad(&location, "Migration: missing required key 'operations'"))?;
        Ok(Migration {
            dependencies: self.dependencies(&t, "dependencies", &ctx)?,
            run_before: self.dependencies(&t, "run_before", &ctx)?,
            replaces: self
                .dependencies(&t, "replaces", &ctx)?
                .into_iter()
                .map(|d| NodeKey::new(d.app, d.name))
                .collect(),
            initial: raw(&t, "initial", &location)?,
            atomic: raw(&t, "atomic", &location)?.unwrap_or(true),
            operations: self.operations(&ops, &ctx)?,
            key,
            path: display.to_path_buf(),
            checksum,
            location,
        })
    }

    fn dependencies(&self, t: &Table, key: &str, ctx: &Ctx) -> Result<Vec<DependencySpec>> {
        let Some(list) = raw::<Table>(t, key, &ctx.location)? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for pair in list.sequence_values::<Table>() {
            let pair = pair.map_err(|e| bad(&ctx.location, format!("Migration: {key}: {e}")))?;
            let app: String = pair.get(1).map_err(|e| bad(&ctx.location, e))?;
            let name: String = pair.get(2).map_err(|e| bad(&ctx.location, e))?;
            out.push(DependencySpec { app, name });
        }
        Ok(out)
    }

    fn operations(&self, list: &Table, ctx: &Ctx) -> Result<Vec<Operation>> {
        let mut out = Vec::new();
        for op in list.sequence_values::<Table>() {
            let op = op.map_err(|e| bad(&ctx.location, e))?;
            out.push(self.operation(&op, ctx)?);
        }
        Ok(out)
    }

    fn operation(&self, t: &Table, ctx: &Ctx) -> Result<Operation> {
        if t.metatable().as_ref() != Some(&self.operation_mt) {
            return Err(bad(
                &ctx.location,
                "not an operation (build it with migrations.AddField{...} etc.)",
            ));
        }
        let loc: String = raw(t, "__where", &ctx.location)?.unwrap_or_default();
        let kind_name: String = raw(t, "__op", &loc)?.unwrap_or_default();
        let s = |k: &str| -> Result<String> {
            raw::<String>(t, k, &loc)?
                .ok_or_else(|| bad(&loc, format!("{kind_name}: missing required key '{k}'")))
        };
        let model_of = |k: &str| -> Result<String> { s(k) };
        use OperationKind as K;
        let kind = match kind_name.as_str() {
            "CreateModel" => {
                let name = s("name")?;
                let fields_t: Table = raw(t, "fields", &loc)?
                    .ok_or_else(|| bad(&loc, "CreateModel: missing required key 'fields'"))?;
                let mut fields = Vec::new();
                for pair in fields_t.sequence_values::<Table>() {
                    let pair = pair.map_err(|e| bad(&loc, e))?;
                    let fname: String = pair.get(1).map_err(|e| bad(&loc, e))?;
                    let ft: Table = pair.get(2).map_err(|e| bad(&loc, e))?;
                    fields.push((fname, self.field(&ft, ctx.app, &name)?));
                }
                let options = match raw::<Table>(t, "options", &loc)? {
                    Some(o) => self.options(&o, &loc)?,
                    None => ModelOptions::default(),
                };
                K::CreateModel {
                    name,
                    fields,
                    options,
                }
            }
            "DeleteModel" => K::DeleteModel { name: s("name")? },
            "RenameModel" => K::RenameModel {
                old_name: s("old_name")?,
                new_name: s("new_name")?,
            },
            "AlterModelTable" => K::AlterModelTable {
                name: s("name")?,
                table: raw(t, "table", &loc)?,
            },
            "AlterModelTableComment" | "AlterModelManagers" => K::AlterModelOptions {
                name: s("name")?,
                options: ModelOptions::default(),
            },
            "AlterModelOptions" => {
                let o: Table = raw(t, "options", &loc)?.ok_or_else(|| {
                    bad(&loc, "AlterModelOptions: missing required key 'options'")
                })?;
                K::AlterModelOptions {
                    name: s("name")?,
                    options: self.options(&o, &loc)?,
                }
            }
            "AlterUniqueTogether" => K::AlterUniqueTogether {
                name: s("name")?,
                unique_together: together(
                    raw(t, "unique_together", &loc)?,
                    "unique_together",
                    &loc,
                )?,
            },
            "AlterIndexTogether" => K::AlterIndexTogether {
                name: s("name")?,
                index_together: together(raw(t, "index_together", &loc)?, "index_together", &loc)?,
            },
            "AddIndex" => {
                let it: Table = raw(t, "index", &loc)?
                    .ok_or_else(|| bad(&loc, "AddIndex: missing required key 'index'"))?;
                K::AddIndex {
                    model_name: model_of("model_name")?,
                    index: index(&it, &loc)?,
                }
            }
            "RemoveIndex" => K::RemoveIndex {
                model_name: model_of("model_name")?,
                name: s("name")?,
            },
            "AddConstraint" => {
                let ct: Table = raw(t, "constraint", &loc)?
                    .ok_or_else(|| bad(&loc, "AddConstraint: missing required key 'constraint'"))?;
                K::AddConstraint {
                    model_name: model_of("model_name")?,
                    constraint: constraint(&ct, &loc)?,
                }
            }
            "RemoveConstraint" => K::RemoveConstraint {
                model_name: model_of("model_name")?,
                name: s("name")?,
            },
            "AddField" | "AlterField" => {
                let model_name = model_of("model_name")?;
                let ft: Table = raw(t, "field", &loc)?.ok_or_else(|| {
                    bad(&loc, format!("{kind_name}: missing required key 'field'"))
                })?;
                let field = self.field(&ft, ctx.app, &model_name)?;
                let name = s("name")?;
                let preserve_default = raw(t, "preserve_default", &loc)?.unwrap_or(true);
                if kind_name == "AddField" {
                    K::AddField {
                        model_name,
                        name,
                        field,
                        preserve_default,
                    }
                } else {
                    K::AlterField {
                        model_name,
                        name,
                        field,
                        preserve_default,
                    }
                }
            }
            "RemoveField" => K::RemoveField {
                model_name: model_of("model_name")?,
                name: s("name")?,
            },
            "RenameField" => K::RenameField {
                model_name: model_of("model_name")?,
                old_name: s("old_name")?,
                new_name: s("new_name")?,
            },
            "RunSQL" => {
                let sql = sql_list(
                    &raw::<LuaValue>(t, "sql", &loc)?.unwrap_or(LuaValue::Nil),
                    &loc,
                    self,
                )?;
                let reverse_sql = match raw::<LuaValue>(t, "reverse_sql", &loc)? {
                    None | Some(LuaValue::Nil) => None,
                    Some(v) => Some(sql_list(&v, &loc, self)?),
                };
                K::RunSql {
                    sql,
                    reverse_sql,
                    state_operations: self.nested(t, "state_operations", ctx, &loc)?,
                    hints: hints(t, &loc)?,
                    elidable: raw(t, "elidable", &loc)?.unwrap_or(false),
                }
            }
            "RunLua" => K::RunLua {
                code: raw::<Function>(t, "code", &loc)?
                    .ok_or_else(|| bad(&loc, "RunLua: missing required key 'code'"))?,
                reverse_code: raw(t, "reverse_code", &loc)?,
                atomic: raw(t, "atomic", &loc)?,
                hints: hints(t, &loc)?,
                elidable: raw(t, "elidable", &loc)?.unwrap_or(false),
            },
            "SeparateDatabaseAndState" => K::SeparateDatabaseAndState {
                database_operations: self.nested(t, "database_operations", ctx, &loc)?,
                state_operations: self.nested(t, "state_operations", ctx, &loc)?,
            },
            other => return Err(bad(&loc, format!("unknown operation '{other}'"))),
        };
        Ok(Operation {
            kind,
            location: loc,
        })
    }

    fn nested(&self, t: &Table, key: &str, ctx: &Ctx, loc: &str) -> Result<Vec<Operation>> {
        let Some(list) = raw::<Table>(t, key, loc)? else {
            return Ok(Vec::new());
        };
        let depth = ctx.depth.get() + 1;
        if depth > MAX_NESTING {
            return Err(bad(
                loc,
                format!("{key}: operations nested more than {MAX_NESTING} levels deep"),
            ));
        }
        ctx.depth.set(depth);
        let ops = self.operations(&list, ctx);
        ctx.depth.set(depth - 1);
        ops
    }

    /// Decodes a field built by `luamig.models` for model `model` of `app`.
    fn field(&self, t: &Table, app: &str, model: &str) -> Result<Field> {
        let loc: String = raw(t, "__where", "")?.unwrap_or_default();
        let type_name: String = raw(t, "__field", &loc)?
            .ok_or_else(|| bad(&loc, "not a field (use models.CharField{...} etc.)"))?;
        let kind = FieldKind::from_name(&type_name)
            .ok_or_else(|| bad(&loc, format!("unknown field type '{type_name}'")))?;
        let flag = |k: &str| -> Result<bool> { Ok(raw::<bool>(t, k, &loc)?.unwrap_or(false)) };
        let uint = |k: &str| -> Result<Option<u32>> {
            match raw::<i64>(t, k, &loc)? {
                None => Ok(None),
                Some(n) => u32::try_from(n)
                    .map(Some)
                    .map_err(|_| bad(&loc, format!("{type_name}: '{k}' is out of range"))),
            }
        };
        let mut f = Field::new(kind);
        f.location = loc.clone();
        f.null = flag("null")?;
        f.blank = flag("blank")?;
        f.unique = flag("unique")?;
        f.primary_key = flag("primary_key")?;
        f.db_index = match raw::<bool>(t, "db_index", &loc)? {
            Some(b) => b,
            None => kind.is_foreign_key(),
        };
        f.db_column = raw(t, "db_column", &loc)?;
        f.max_length = uint("max_length")?;
        f.max_digits = uint("max_digits")?;
        f.decimal_places = uint("decimal_places")?;
        f.auto_now = flag("auto_now")?;
        f.auto_now_add = flag("auto_now_add")?;
        f.default = match raw::<LuaValue>(t, "default", &loc)? {
            None | Some(LuaValue::Nil) => None,
            Some(LuaValue::Function(func)) => Some(FieldDefault::Lua(func)),
            Some(v) => Some(FieldDefault::Value(self.value(&v, &loc)?)),
        };
        f.db_default = match raw::<LuaValue>(t, "db_default", &loc)? {
            None | Some(LuaValue::Nil) => None,
            Some(v) => Some(self.value(&v, &loc)?),
        };
        if kind.is_foreign_key() || kind == FieldKind::ManyToManyField {
            let to: String = raw(t, "to", &loc)?
                .ok_or_else(|| bad(&loc, format!("{type_name}: missing required key 'to'")))?;
            let on_delete = match raw::<String>(t, "on_delete", &loc)? {
                Some(name) => OnDelete::from_name(&name)
                    .ok_or_else(|| bad(&loc, format!("{type_name}: unknown on_delete '{name}'")))?,
                None => OnDelete::Cascade,
            };
            f.relation = Some(Relation {
                to: model_ref(&to, app, model),
                on_delete,
                related_name: raw(t, "related_name", &loc)?,
                to_field: raw(t, "to_field", &loc)?,
                db_constraint: raw::<bool>(t, "db_constraint", &loc)?.unwrap_or(true),
                through: raw::<String>(t, "through", &loc)?.map(|th| model_ref(&th, app, model)),
                db_table: raw(t, "db_table", &loc)?,
            });
        }
        if kind == FieldKind::OneToOneField {
            f.unique = true;
        }
        Ok(f)
    }

    /// Decodes a constant value: models.NULL, booleans, numbers, strings, tables (JSON).
    pub fn value(&self, v: &LuaValue, loc: &str) -> Result<Value> {
        Ok(match v {
            LuaValue::Nil => Value::Null,
            LuaValue::Boolean(b) => Value::Bool(*b),
            LuaValue::Integer(i) => Value::Int(*i),
            LuaValue::Number(n) => Value::Float(*n),
            LuaValue::String(s) => Value::Text(s.to_str().map_err(|e| bad(loc, e))?.to_string()),
            LuaValue::Table(t) if *t == self.null => Value::Null,
            LuaValue::Table(_) => {
                Value::Json(super::json::lua_to_json(v, 0).map_err(|e| bad(loc, e))?)
            }
            LuaValue::UserData(_) => super::convert::to_value(v).map_err(|e| bad(loc, e))?,
            other => {
                return Err(bad(
                    loc,
                    format!("a {} cannot be stored in a field", other.type_name()),
                ));
            }
        })
    }

    fn options(&self, t: &Table, loc: &str) -> Result<ModelOptions> {
        let mut o = ModelOptions {
            db_table: get(t, "db_table", loc)?,
            managed: get(t, "managed", loc)?,
            proxy: get(t, "proxy", loc)?.unwrap_or(false),
            unique_together: together(get(t, "unique_together", loc)?, "unique_together", loc)?,
            index_together: together(get(t, "index_together", loc)?, "index_together", loc)?,
            ordering: get(t, "ordering", loc)?.unwrap_or_default(),
            ..ModelOptions::default()
        };
        if let Some(list) = get::<Table>(t, "indexes", loc)? {
            for it in list.sequence_values::<Table>() {
                o.indexes.push(index(&it.map_err(|e| bad(loc, e))?, loc)?);
            }
        }
        if let Some(list) = get::<Table>(t, "constraints", loc)? {
            for ct in list.sequence_values::<Table>() {
                o.constraints
                    .push(constraint(&ct.map_err(|e| bad(loc, e))?, loc)?);
            }
        }
        const TYPED: &[&str] = &[
            "db_table",
            "managed",
            "proxy",
            "unique_together",
            "index_together",
            "ordering",
            "indexes",
            "constraints",
        ];
        for pair in t.pairs::<String, LuaValue>() {
            let (k, v) = pair.map_err(|e| bad(loc, e))?;
            if !TYPED.contains(&k.as_str()) {
                let shown = super::json::lua_to_json(&v, 0)
                    .map(|j| j.to_string())
                    .unwrap_or_else(|_| v.type_name().to_string());
                o.other.insert(k, shown);
            }
        }
        Ok(o)
    }
}

/// "app.Model", "Model" (same app) or "self" (the model being defined).
fn model_ref(to: &str, app: &str, model: &str) -> ModelKey {
    if to == "self" {
        return ModelKey::new(app, model);
    }
    match to.split_once('.') {
        Some((a, m)) => ModelKey::new(a, m),
        None => ModelKey::new(app, to),
    }
}

/// Reads `key` of a table the user built (options, hints), through any `__index` it has.
fn get<V: mlua::FromLua>(t: &Table, key: &str, loc: &str) -> Result<Option<V>> {
    t.get::<Option<V>>(key)
        .map_err(|e| bad(loc, format!("'{key}': {e}")))
}

/// Reads `key` of a table tagged by luamig's constructors (a migration, operation, field,
/// index or constraint). Their metatables have no `__index`, so a raw read finds what `get`
/// would, without the protected call mlua makes for every table that has a metatable.
fn raw<V: mlua::FromLua>(t: &Table, key: &str, loc: &str) -> Result<Option<V>> {
    t.raw_get::<Option<V>>(key)
        .map_err(|e| bad(loc, format!("'{key}': {e}")))
}

/// unique_together as written, the value of `key`: `{ {"a","b"}, ... }` or one `{ "a", "b" }`.
fn together(value: Option<LuaValue>, key: &str, loc: &str) -> Result<Vec<Vec<String>>> {
    match value {
        None | Some(LuaValue::Nil) => Ok(Vec::new()),
        Some(LuaValue::Table(list)) => {
            if let Ok(flat) = list
                .clone()
                .sequence_values::<String>()
                .collect::<mlua::Result<Vec<_>>>()
                && !flat.is_empty()
            {
                return Ok(vec![flat]);
            }
            list.sequence_values::<Vec<String>>()
                .collect::<mlua::Result<Vec<_>>>()
                .map_err(|e| bad(loc, format!("'{key}': {e}")))
        }
        Some(_) => Err(bad(
            loc,
            format!("'{key}' must be a list of lists of field names"),
        )),
    }
}

fn index(t: &Table, loc: &str) -> Result<Index> {
    let loc2: String = raw(t, "__where", loc)?.unwrap_or(loc.to_string());
    Ok(Index {
        name: raw(t, "name", &loc2)?
            .ok_or_else(|| bad(&loc2, "Index: missing required key 'name'"))?,
        fields: raw(t, "fields", &loc2)?.unwrap_or_default(),
        condition: raw(t, "condition", &loc2)?,
        opclasses: raw(t, "opclasses", &loc2)?.unwrap_or_default(),
    })
}

fn constraint(t: &Table, loc: &str) -> Result<Constraint> {
    let loc2: String = raw(t, "__where", loc)?.unwrap_or(loc.to_string());
    let kind: String = raw(t, "__kind", &loc2)?.unwrap_or_default();
    let name: String = raw(t, "name", &loc2)?
        .ok_or_else(|| bad(&loc2, format!("{kind}: missing required key 'name'")))?;
    Ok(match kind.as_str() {
        "UniqueConstraint" => Constraint::Unique {
            name,
            fields: raw(t, "fields", &loc2)?.unwrap_or_default(),
            condition: raw(t, "condition", &loc2)?,
            deferrable: raw(t, "deferrable", &loc2)?,
        },
        _ => Constraint::Check {
            name,
            check: match raw::<String>(t, "check", &loc2)? {
                Some(c) => c,
                None => raw(t, "condition", &loc2)?.unwrap_or_default(),
            },
        },
    })
}

fn hints(t: &Table, loc: &str) -> Result<Hints> {
    let mut out = BTreeMap::new();
    if let Some(h) = raw::<Table>(t, "hints", loc)? {
        for pair in h.pairs::<String, LuaValue>() {
            let (k, v) = pair.map_err(|e| bad(loc, format!("hints: {e}")))?;
            let shown = match v {
                LuaValue::String(s) => s.to_string_lossy(),
                other => other.to_string().unwrap_or_default(),
            };
            out.insert(k, shown);
        }
    }
    Ok(out)
}

/// RunSQL's sql: a string, a list of strings, or a list of {sql, params}.
fn sql_list(v: &LuaValue, loc: &str, dec: &Decoder) -> Result<Vec<SqlStatement>> {
    let one = |sql: String, params: Vec<Value>| SqlStatement { sql, params };
    match v {
        LuaValue::String(s) => {
            let s = s.to_str().map_err(|e| bad(loc, e))?.to_string();
            Ok(if s.trim().is_empty() {
                Vec::new()
            } else {
                vec![one(s, Vec::new())]
            })
        }
        LuaValue::Table(list) => {
            let mut out = Vec::new();
            for item in list.sequence_values::<LuaValue>() {
                match item.map_err(|e| bad(loc, e))? {
                    LuaValue::String(s) => out.push(one(
                        s.to_str().map_err(|e| bad(loc, e))?.to_string(),
                        Vec::new(),
                    )),
                    LuaValue::Table(pair) => {
                        let sql: String =
                            pair.get(1).map_err(|e| bad(loc, format!("RunSQL: {e}")))?;
                        let mut params = Vec::new();
                        if let Some(ps) = pair.get::<Option<Table>>(2).map_err(|e| bad(loc, e))? {
                            for p in ps.sequence_values::<LuaValue>() {
                                params.push(dec.value(&p.map_err(|e| bad(loc, e))?, loc)?);
                            }
                        }
                        out.push(one(sql, params));
                    }
                    other => {
                        return Err(bad(
                            loc,
                            format!("RunSQL: a {} is not SQL", other.type_name()),
                        ));
                    }
                }
            }
            Ok(out)
        }
        _ => Err(bad(loc, "RunSQL: missing required key 'sql'")),
    }
}

fn describe(v: &LuaValue) -> String {
    match v {
        LuaValue::Nil => "nothing".into(),
        LuaValue::Table(t) => match t.metatable().and_then(|mt| mt.get::<String>("__name").ok()) {
            Some(name) if name.starts_with("luamig operation") => "an operation".into(),
            Some(name) => format!("a {name}"),
            None => "a plain table".into(),
        },
        LuaValue::Integer(_) | LuaValue::Number(_) => "a number".into(),
        other => format!("a {}", other.type_name()),
    }
}
