//! Compiles a queryset's description (filters, excludes, ordering, slices) into SQL with
//! bound parameters: Django's lookups, joins across foreign keys, F() expressions.

use std::rc::Rc;

use mlua::{Table, Value as LuaValue};

use crate::db::{Vendor, quote_name};
use crate::value::Value;

use super::meta::{FieldMeta, ModelMeta, Registry};
use super::values::to_db;

/// Lookups of SPEC 5, in Django's spelling.
const LOOKUPS: &[&str] = &[
    "exact",
    "iexact",
    "isnull",
    "in",
    "gt",
    "gte",
    "lt",
    "lte",
    "contains",
    "icontains",
    "startswith",
    "istartswith",
    "endswith",
    "iendswith",
    "range",
];

/// A compiled FROM/WHERE/ORDER BY.
#[derive(Debug, Default)]
pub struct Compiled {
    pub from: String,
    pub where_sql: String,
    pub order_sql: String,
    pub params: Vec<Value>,
    pub joins: bool,
}

/// Compiles against one base model.
pub struct Compiler<'a> {
    reg: &'a Registry,
    vendor: Vendor,
    base: Rc<ModelMeta>,
    joins: Vec<(String, String, String)>,
    params: Vec<Value>,
}

type Res<T> = std::result::Result<T, String>;

impl<'a> Compiler<'a> {
    /// A compiler for queries on `base`.
    pub fn new(reg: &'a Registry, vendor: Vendor, base: Rc<ModelMeta>) -> Self {
        Compiler {
            reg,
            vendor,
            base,
            joins: Vec::new(),
            params: Vec::new(),
        }
    }

    /// The base table's quoted name (also its alias).
    pub fn base_alias(&self) -> String {
        quote_name(&self.base.table)
    }

    /// Resolves `customer__city` to (alias, field), joining as needed; returns the lookup
    /// named by the last part, if any.
    fn resolve(&mut self, key: &str) -> Res<(String, FieldMeta, Option<String>)> {
        let parts: Vec<&str> = key.split("__").collect();
        let mut model = self.base.clone();
        let mut alias = self.base_alias();
        let mut path = String::new();
        let mut i = 0;
        loop {
            let part = parts[i];
            let field = model
                .field(part)
                .cloned()
                .ok_or_else(|| self.unknown(&model, part))?;
            let rest = &parts[i + 1..];
            let next_is_field = rest
                .first()
                .is_some_and(|n| !LOOKUPS.contains(n) || field_target_has(self.reg, &field, n));
            if next_is_field && field.target.is_some() && field.attname != part {
                let target = field
                    .target
                    .clone()
                    .and_then(|t| self.reg.get(&t).cloned())
                    .ok_or_else(|| format!("{key}: related model is missing"))?;
                path.push_str(part);
                path.push_str("__");
                alias = self.join(&alias, &field, &target, &path);
                model = target;
                i += 1;
                continue;
            }
            return match rest {
                [] => Ok((alias, field, None)),
                [lookup] if LOOKUPS.contains(lookup) => {
                    Ok((alias, field, Some((*lookup).to_string())))
                }
                [other, ..] => Err(format!(
                    "{}.{}: unsupported lookup or field '{other}' in '{key}' (lookups: {})",
                    model.app,
                    model.name,
                    LOOKUPS.join(", ")
                )),
            };
        }
    }

    fn unknown(&self, model: &ModelMeta, part: &str) -> String {
        if model.reverse.iter().any(|r| r.accessor == part) || model.m2m.contains_key(part) {
            return format!(
                "{}.{}: filtering across '{part}' (a reverse or many-to-many relation) is not supported; filter the related model instead",
                model.app, model.name
            );
        }
        model.unknown_field(part)
    }

    fn join(
        &mut self,
        from_alias: &str,
        field: &FieldMeta,
        target: &ModelMeta,
        path: &str,
    ) -> String {
        if let Some((_, alias, _)) = self.joins.iter().find(|(p, _, _)| p == path) {
            return alias.clone();
        }
        let alias = format!("T{}", self.joins.len() + 1);
        let to_col = field
            .field
            .relation
            .as_ref()
            .and_then(|r| r.to_field.as_deref())
            .and_then(|tf| target.field(tf))
            .unwrap_or_else(|| target.pk_field())
            .column
            .clone()
            .unwrap_or_default();
        let sql = format!(
            " INNER JOIN {} {alias} ON ({from_alias}.{} = {alias}.{})",
            quote_name(&target.table),
            quote_name(field.column.as_deref().unwrap_or_default()),
            quote_name(&to_col)
        );
        self.joins.push((path.to_string(), alias.clone(), sql));
        alias
    }

    /// The field a value for `field` is converted with: a foreign key compares with its
    /// target's key type.
    pub fn value_field(&self, field: &FieldMeta) -> crate::fields::Field {
        if let Some(t) = field.target.as_ref().and_then(|t| self.reg.get(t)) {
            return t.pk_field().field.clone();
        }
        field.field.clone()
    }

    fn bind(&mut self, field: &FieldMeta, v: &LuaValue) -> Res<String> {
        if let Some(sql) = self.expression(v)? {
            return Ok(sql);
        }
        let vf = self.value_field(field);
        self.params
            .push(to_db(&vf, v, self.vendor).map_err(|e| format!("{}: {e}", field.name))?);
        Ok("%s".into())
    }

    /// SQL for an F() expression tree, or None when `v` is a plain value.
    fn expression(&mut self, v: &LuaValue) -> Res<Option<String>> {
        let LuaValue::Table(t) = v else {
            return Ok(None);
        };
        let Ok(Some(op)) = t.get::<Option<String>>("__expr") else {
            return Ok(None);
        };
        if op == "F" {
            let name: String = t.get("name").map_err(|e| e.to_string())?;
            let (alias, field, lookup) = self.resolve(&name)?;
            if lookup.is_some() {
                return Err(format!("F(\"{name}\") names a lookup, not a field"));
            }
            return Ok(Some(format!(
                "{alias}.{}",
                quote_name(field.column.as_deref().unwrap_or_default())
            )));
        }
        let lhs: LuaValue = t.get("lhs").map_err(|e| e.to_string())?;
        let rhs: LuaValue = t.get("rhs").map_err(|e| e.to_string())?;
        let l = self.operand(&lhs)?;
        let r = self.operand(&rhs)?;
        Ok(Some(format!("({l} {op} {r})")))
    }

    fn operand(&mut self, v: &LuaValue) -> Res<String> {
        if let Some(sql) = self.expression(v)? {
            return Ok(sql);
        }
        let value = crate::lua::convert::to_value(v).map_err(|e| e.to_string())?;
        self.params.push(value);
        Ok("%s".into())
    }

    /// One `key = value` condition.
    pub fn condition(&mut self, key: &str, v: &LuaValue) -> Res<String> {
        if key == "__in_link" {
            return self.link_condition(v);
        }
        let (alias, field, lookup) = self.resolve(key)?;
        let col = format!(
            "{alias}.{}",
            quote_name(field.column.as_deref().unwrap_or_default())
        );
        let lookup = lookup.unwrap_or_else(|| "exact".into());
        let is_null = v.is_nil() || crate::lua::convert::is_null(v);
        let pg = self.vendor == Vendor::Postgres;
        Ok(match lookup.as_str() {
            "exact" if is_null => format!("{col} IS NULL"),
            "exact" => format!("{col} = {}", self.bind(&field, v)?),
            "isnull" => match v {
                LuaValue::Boolean(true) => format!("{col} IS NULL"),
                LuaValue::Boolean(false) => format!("{col} IS NOT NULL"),
                _ => return Err(format!("{key}: __isnull takes true or false")),
            },
            "gt" | "gte" | "lt" | "lte" => {
                let op = match lookup.as_str() {
                    "gt" => ">",
                    "gte" => ">=",
                    "lt" => "<",
                    _ => "<=",
                };
                format!("{col} {op} {}", self.bind(&field, v)?)
            }
            "in" => {
                let LuaValue::Table(list) = v else {
                    return Err(format!("{key}: __in takes a list"));
                };
                let items: Vec<LuaValue> = list
                    .sequence_values()
                    .collect::<mlua::Result<_>>()
                    .map_err(|e| e.to_string())?;
                if items.is_empty() {
                    return Ok("1 = 0".into());
                }
                let mut marks = Vec::new();
                for item in &items {
                    marks.push(self.bind(&field, item)?);
                }
                format!("{col} IN ({})", marks.join(", "))
            }
            "range" => {
                let LuaValue::Table(pair) = v else {
                    return Err(format!("{key}: __range takes {{low, high}}"));
                };
                let (lo, hi): (LuaValue, LuaValue) = (
                    pair.get(1).map_err(|e| e.to_string())?,
                    pair.get(2).map_err(|e| e.to_string())?,
                );
                format!(
                    "{col} BETWEEN {} AND {}",
                    self.bind(&field, &lo)?,
                    self.bind(&field, &hi)?
                )
            }
            "iexact" | "contains" | "icontains" | "startswith" | "istartswith" | "endswith"
            | "iendswith" => {
                let text = match v {
                    LuaValue::String(s) => s.to_string_lossy(),
                    LuaValue::Integer(_) | LuaValue::Number(_) => v.to_string().unwrap_or_default(),
                    _ => return Err(format!("{key}: __{lookup} takes a string")),
                };
                self.text_lookup(&col, &lookup, &text, pg)
            }
            other => return Err(format!("{key}: unsupported lookup '{other}'")),
        })
    }

    /// Pattern lookups. SQLite's LIKE ignores ASCII case, so the case-sensitive ones use
    /// instr/substr there; PostgreSQL uses LIKE and UPPER() as Django does.
    fn text_lookup(&mut self, col: &str, lookup: &str, text: &str, pg: bool) -> String {
        let escaped = text
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        let (pattern, insensitive) = match lookup {
            "iexact" => (escaped.clone(), true),
            "contains" => (format!("%{escaped}%"), false),
            "icontains" => (format!("%{escaped}%"), true),
            "startswith" => (format!("{escaped}%"), false),
            "istartswith" => (format!("{escaped}%"), true),
            "endswith" => (format!("%{escaped}"), false),
            _ => (format!("%{escaped}"), true),
        };
        if pg {
            self.params.push(Value::Text(pattern));
            return if insensitive {
                format!("UPPER({col}::text) LIKE UPPER(%s)")
            } else {
                format!("{col}::text LIKE %s")
            };
        }
        if insensitive {
            self.params.push(Value::Text(pattern));
            return format!("{col} LIKE %s ESCAPE '\\'");
        }
        self.params.push(Value::Text(text.to_string()));
        match lookup {
            "contains" => format!("instr({col}, %s) > 0"),
            "startswith" => {
                self.params.push(Value::Text(text.to_string()));
                format!("substr({col}, 1, length(%s)) = %s")
            }
            _ => {
                self.params.push(Value::Text(text.to_string()));
                self.params.push(Value::Text(text.to_string()));
                format!("(length(%s) = 0 OR substr({col}, -length(%s)) = %s)")
            }
        }
    }

    /// Rows linked through a many-to-many table: `pk IN (SELECT target FROM link WHERE source = id)`.
    fn link_condition(&mut self, v: &LuaValue) -> Res<String> {
        let LuaValue::Table(t) = v else {
            return Err("bad link condition".into());
        };
        let get = |k: &str| t.get::<String>(k).map_err(|e| e.to_string());
        let (table, source, target) = (get("table")?, get("source")?, get("target")?);
        let id: LuaValue = t.get("id").map_err(|e| e.to_string())?;
        self.params
            .push(crate::lua::convert::to_value(&id).map_err(|e| e.to_string())?);
        let pk = self.base.pk_field().column.clone().unwrap_or_default();
        Ok(format!(
            "{}.{} IN (SELECT {} FROM {} WHERE {} = %s)",
            self.base_alias(),
            quote_name(&pk),
            quote_name(&target),
            quote_name(&table),
            quote_name(&source)
        ))
    }

    /// `exclude{...}` as Django means it: leave out the rows that match, so rows whose
    /// column is NULL (or whose relation is empty) stay. Compiled as `pk NOT IN (rows
    /// matching)`, with joins of its own.
    fn excluded(&mut self, conds: &Table) -> Res<String> {
        let mut inner = Compiler::new(self.reg, self.vendor, self.base.clone());
        let mut parts = Vec::new();
        for pair in conds.clone().sequence_values::<Table>() {
            let pair = pair.map_err(|e| e.to_string())?;
            let key: String = pair.get(1).map_err(|e| e.to_string())?;
            let value: LuaValue = pair.get(2).map_err(|e| e.to_string())?;
            parts.push(inner.condition(&key, &value)?);
        }
        if parts.is_empty() {
            return Ok("1 = 1".into());
        }
        let pk = quote_name(self.base.pk_field().column.as_deref().unwrap_or_default());
        let base = self.base_alias();
        let mut from = base.clone();
        for (_, _, sql) in &inner.joins {
            from.push_str(sql);
        }
        self.params.extend(inner.params);
        Ok(format!(
            "{base}.{pk} NOT IN (SELECT {base}.{pk} FROM {from} WHERE {})",
            parts.join(" AND ")
        ))
    }

    /// The description of the field a (possibly traversing) name ends at.
    pub fn field_meta(&mut self, key: &str) -> Res<FieldMeta> {
        let (_, f, _) = self.resolve(key)?;
        Ok(f)
    }

    /// The field a (possibly traversing) name ends at.
    pub fn field_of(&mut self, key: &str) -> Res<crate::fields::Field> {
        let (_, f, _) = self.resolve(key)?;
        Ok(f.field)
    }

    /// Compiles the query description `q` (see `luamig/orm.lua`).
    pub fn compile(mut self, q: &Table) -> Res<Compiled> {
        let mut clauses = Vec::new();
        if let Ok(Some(groups)) = q.get::<Option<Table>>("where") {
            for group in groups.sequence_values::<Table>() {
                let group = group.map_err(|e| e.to_string())?;
                let negate: bool = group.get("neg").unwrap_or(false);
                let conds: Table = group.get("conds").map_err(|e| e.to_string())?;
                if negate {
                    let clause = self.excluded(&conds)?;
                    clauses.push(clause);
                    continue;
                }
                let mut parts = Vec::new();
                for pair in conds.sequence_values::<Table>() {
                    let pair = pair.map_err(|e| e.to_string())?;
                    let key: String = pair.get(1).map_err(|e| e.to_string())?;
                    let value: LuaValue = pair.get(2).map_err(|e| e.to_string())?;
                    parts.push(self.condition(&key, &value)?);
                }
                if parts.is_empty() {
                    continue;
                }
                let joined = parts.join(" AND ");
                clauses.push(format!("({joined})"));
            }
        }
        let mut order = Vec::new();
        let explicit: Option<Vec<String>> = q.get("order").map_err(|e| e.to_string())?;
        for item in explicit.unwrap_or_else(|| self.base.ordering.clone()) {
            if item == "?" {
                order.push("RANDOM()".to_string());
                continue;
            }
            let (name, dir) = match item.strip_prefix('-') {
                Some(n) => (n.to_string(), " DESC"),
                None => (item.clone(), " ASC"),
            };
            let (alias, field, _) = self.resolve(&name)?;
            order.push(format!(
                "{alias}.{}{dir}",
                quote_name(field.column.as_deref().unwrap_or_default())
            ));
        }
        let mut from = quote_name(&self.base.table);
        for (_, _, sql) in &self.joins {
            from.push_str(sql);
        }
        Ok(Compiled {
            from,
            where_sql: clauses.join(" AND "),
            order_sql: order.join(", "),
            params: self.params,
            joins: !self.joins.is_empty(),
        })
    }

    /// Compiles `SET` assignments (values or F expressions) for an UPDATE of the base table.
    pub fn assignments(&mut self, values: &Table) -> Res<(String, Vec<Value>)> {
        let mut sets = Vec::new();
        let before = self.params.len();
        let mut keys: Vec<(String, LuaValue)> = values
            .pairs::<String, LuaValue>()
            .collect::<mlua::Result<_>>()
            .map_err(|e| e.to_string())?;
        keys.sort_by(|a, b| a.0.cmp(&b.0));
        for (key, v) in keys {
            let field = self
                .base
                .field(&key)
                .cloned()
                .ok_or_else(|| self.base.unknown_field(&key))?;
            let col = quote_name(field.column.as_deref().unwrap_or_default());
            let rhs = match self.expression(&v)? {
                // F() in an UPDATE refers to the row's own columns, unqualified.
                Some(sql) => sql.replace(&format!("{}.", self.base_alias()), ""),
                None => {
                    let vf = self.value_field(&field);
                    self.params
                        .push(to_db(&vf, &v, self.vendor).map_err(|e| format!("{key}: {e}"))?);
                    "%s".to_string()
                }
            };
            sets.push(format!("{col} = {rhs}"));
        }
        let params = self.params.split_off(before);
        Ok((sets.join(", "), params))
    }
}

fn field_target_has(reg: &Registry, field: &FieldMeta, name: &str) -> bool {
    field
        .target
        .as_ref()
        .and_then(|t| reg.get(t))
        .is_some_and(|m| m.field(name).is_some())
}
