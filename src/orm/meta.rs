//! What the ORM needs to know of a historical model: its table, columns and relations,
//! resolved once from the project state.

use std::collections::BTreeMap;
use std::rc::Rc;

use crate::fields::{Field, FieldKind, ModelKey, OnDelete};
use crate::state::{ModelState, ProjectState, auto_through_model};

/// One concrete or many-to-many field of a model.
#[derive(Clone, Debug)]
pub struct FieldMeta {
    pub name: String,
    /// The column (None for many-to-many).
    pub column: Option<String>,
    /// The attribute holding the raw value: `customer_id` for a foreign key, else the name.
    pub attname: String,
    pub field: Field,
    /// Target model of a relation.
    pub target: Option<ModelKey>,
}

/// A many-to-many field's link table.
#[derive(Clone, Debug)]
pub struct M2mMeta {
    pub table: String,
    /// Column pointing back at this model, and at the target.
    pub source_column: String,
    pub target_column: String,
    pub target: ModelKey,
}

/// A relation pointing at this model from another one (for `customer.order_set`).
#[derive(Clone, Debug)]
pub struct ReverseMeta {
    /// The accessor name: `related_name`, else `<model>_set`.
    pub accessor: String,
    pub model: ModelKey,
    pub field: String,
    /// Many-to-many seen from the other side.
    pub m2m: Option<M2mMeta>,
}

/// A model as the ORM sees it.
#[derive(Clone, Debug)]
pub struct ModelMeta {
    pub key: ModelKey,
    pub app: String,
    pub name: String,
    pub table: String,
    pub fields: Vec<FieldMeta>,
    pub pk: usize,
    pub m2m: BTreeMap<String, M2mMeta>,
    pub reverse: Vec<ReverseMeta>,
    pub ordering: Vec<String>,
}

impl ModelMeta {
    /// The primary key field.
    pub fn pk_field(&self) -> &FieldMeta {
        &self.fields[self.pk]
    }

    /// A concrete field by name or attname (`customer` or `customer_id`), or `pk`.
    pub fn field(&self, name: &str) -> Option<&FieldMeta> {
        if name == "pk" {
            return Some(self.pk_field());
        }
        self.fields
            .iter()
            .find(|f| f.name == name)
            .or_else(|| self.fields.iter().find(|f| f.attname == name))
    }

    /// Every name a user may use, for "its fields are: ..." messages.
    pub fn field_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.fields.iter().map(|f| f.name.clone()).collect();
        names.extend(self.m2m.keys().cloned());
        names
    }

    /// The error text for an unknown field.
    pub fn unknown_field(&self, name: &str) -> String {
        format!(
            "{}.{} has no field named '{name}'; its fields are: {}",
            self.app,
            self.name,
            self.field_names().join(", ")
        )
    }

    /// How a delete of this model's rows affects rows pointing at it.
    pub fn on_delete_rules(&self) -> impl Iterator<Item = (&ReverseMeta, OnDelete)> {
        self.reverse
            .iter()
            .filter(|r| r.m2m.is_none())
            .map(|r| (r, OnDelete::Cascade))
    }
}

/// Every model of a state, by key, built once per RunLua call.
#[derive(Debug, Default)]
pub struct Registry {
    pub models: BTreeMap<ModelKey, Rc<ModelMeta>>,
}

impl Registry {
    /// Resolves every model of `state` (SQLite and PostgreSQL name tables the same way).
    pub fn build(state: &ProjectState, max_name_length: usize) -> Registry {
        let mut models = BTreeMap::new();
        for m in state.models() {
            models.insert(m.key(), model_meta(m, state, max_name_length));
        }
        // Reverse accessors: every relation pointing at a model.
        for m in state.models() {
            for (name, f) in &m.fields {
                let Some(rel) = &f.relation else { continue };
                let accessor = match rel.related_name.as_deref() {
                    Some(n) if n.ends_with('+') => continue,
                    Some(n) => n.to_string(),
                    None => format!("{}_set", m.name.to_lowercase()),
                };
                let m2m = (f.kind == FieldKind::ManyToManyField)
                    .then(|| {
                        models
                            .get(&m.key())
                            .and_then(|mm: &ModelMeta| mm.m2m.get(name))
                            .cloned()
                    })
                    .flatten();
                if let Some(target) = models.get_mut(&rel.to) {
                    target.reverse.push(ReverseMeta {
                        accessor,
                        model: m.key(),
                        field: name.clone(),
                        m2m: m2m.map(|l| M2mMeta {
                            table: l.table,
                            source_column: l.target_column,
                            target_column: l.source_column,
                            target: m.key(),
                        }),
                    });
                }
            }
        }
        Registry {
            models: models.into_iter().map(|(k, v)| (k, Rc::new(v))).collect(),
        }
    }

    /// The model under a key.
    pub fn get(&self, key: &ModelKey) -> Option<&Rc<ModelMeta>> {
        self.models.get(key)
    }
}

fn model_meta(m: &ModelState, state: &ProjectState, max_name_length: usize) -> ModelMeta {
    let mut fields = Vec::new();
    let mut m2m = BTreeMap::new();
    for (name, f) in &m.fields {
        if f.kind == FieldKind::ManyToManyField {
            if let Some(link) = m2m_meta(m, state, name, f, max_name_length) {
                m2m.insert(name.clone(), link);
            }
            continue;
        }
        let column = f.column(name);
        fields.push(FieldMeta {
            name: name.clone(),
            attname: if f.kind.is_foreign_key() {
                format!("{name}_id")
            } else {
                name.clone()
            },
            column,
            target: f.relation.as_ref().map(|r| r.to.clone()),
            field: (**f).clone(),
        });
    }
    let pk = fields.iter().position(|f| f.field.primary_key).unwrap_or(0);
    ModelMeta {
        key: m.key(),
        app: m.app.clone(),
        name: m.name.clone(),
        table: m.db_table(),
        fields,
        pk,
        m2m,
        reverse: Vec::new(),
        ordering: m.options.ordering.clone(),
    }
}

fn m2m_meta(
    m: &ModelState,
    state: &ProjectState,
    name: &str,
    f: &Field,
    max: usize,
) -> Option<M2mMeta> {
    let rel = f.relation.as_ref()?;
    match &rel.through {
        None => {
            let through = auto_through_model(m, name, f, max)?;
            let source = through.fields.get(1)?;
            let target = through.fields.get(2)?;
            Some(M2mMeta {
                table: through.db_table(),
                source_column: source.1.column(&source.0)?,
                target_column: target.1.column(&target.0)?,
                target: rel.to.clone(),
            })
        }
        // An explicit through model: its first FK to each side (Django's default choice).
        Some(_) => through_meta(state, m, name),
    }
}

/// Link-table facts of a `through` model, resolved against the state.
pub fn through_meta(state: &ProjectState, m: &ModelState, name: &str) -> Option<M2mMeta> {
    let f = m.field(name)?;
    let rel = f.relation.as_ref()?;
    let through = state.get(rel.through.as_ref()?)?;
    let col_to = |target: &ModelKey, skip: Option<&str>| {
        through
            .fields
            .iter()
            .find(|(n, tf)| {
                tf.relation.as_ref().is_some_and(|r| &r.to == target) && Some(n.as_str()) != skip
            })
            .and_then(|(n, tf)| tf.column(n).map(|c| (n.clone(), c)))
    };
    let (src_name, source_column) = col_to(&m.key(), None)?;
    let (_, target_column) = col_to(&rel.to, Some(src_name.as_str()))?;
    Some(M2mMeta {
        table: through.db_table(),
        source_column,
        target_column,
        target: rel.to.clone(),
    })
}
