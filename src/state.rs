//! The in-memory project state: every model as the migration history describes it at one
//! point. Pure: no disk, no database. Models sit behind `Rc`, so cloning a state to keep the
//! "before" of an operation costs one pointer per model, and an operation copies only the
//! model it changes.

use std::collections::BTreeMap;
use std::rc::Rc;

use crate::fields::{Constraint, Field, FieldKind, Index, ModelKey};

/// Model options of `CreateModel{options=...}` that matter to the schema or are kept.
#[derive(Clone, Debug, Default)]
pub struct ModelOptions {
    pub db_table: Option<String>,
    pub managed: Option<bool>,
    pub proxy: bool,
    pub unique_together: Vec<Vec<String>>,
    pub index_together: Vec<Vec<String>>,
    pub indexes: Vec<Index>,
    pub constraints: Vec<Constraint>,
    pub ordering: Vec<String>,
    /// Options kept in state only (verbose_name, permissions, ...), by name.
    pub other: BTreeMap<String, String>,
}

/// One model at one point of the history.
#[derive(Clone, Debug)]
pub struct ModelState {
    pub app: String,
    /// The name as declared (`Order`); lookups are case-insensitive.
    pub name: String,
    /// Shared between states (a field is copied only when an operation changes it), so a
    /// state made per operation costs one pointer per field, not a copy of each field.
    pub fields: Vec<(String, Rc<Field>)>,
    pub options: ModelOptions,
}

impl ModelState {
    /// The state key: app label and lowercased name.
    pub fn key(&self) -> ModelKey {
        ModelKey::new(&self.app, &self.name)
    }

    /// The table: `db_table`, else Django's `<app>_<model lowercased>`.
    pub fn db_table(&self) -> String {
        self.options
            .db_table
            .clone()
            .unwrap_or_else(|| format!("{}_{}", self.app, self.name.to_lowercase()))
    }

    /// Whether luamig creates and alters this model's table (`managed = false` and proxy
    /// models have none of their own).
    pub fn is_managed(&self) -> bool {
        self.options.managed.unwrap_or(true) && !self.options.proxy
    }

    /// The field called `name`.
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, f)| &**f)
    }

    /// The field called `name`, or the field whose column or attname is `name` (`customer_id`).
    pub fn field_by_name_or_column(&self, name: &str) -> Option<(&str, &Field)> {
        self.fields
            .iter()
            .find(|(n, _)| n == name)
            .or_else(|| {
                self.fields
                    .iter()
                    .find(|(n, f)| f.column(n).as_deref() == Some(name))
            })
            .map(|(n, f)| (n.as_str(), &**f))
    }

    /// The primary key's name and field.
    pub fn primary_key(&self) -> Option<(&str, &Field)> {
        self.fields
            .iter()
            .find(|(_, f)| f.primary_key)
            .map(|(n, f)| (n.as_str(), &**f))
    }

    /// Field names in declaration order, for "known fields are ..." messages.
    pub fn field_names(&self) -> Vec<&str> {
        self.fields.iter().map(|(n, _)| n.as_str()).collect()
    }

    /// Fields stored in this model's own table (everything but many-to-many).
    pub fn concrete_fields(&self) -> impl Iterator<Item = (&str, &Field)> {
        self.fields
            .iter()
            .filter(|(_, f)| f.kind != FieldKind::ManyToManyField)
            .map(|(n, f)| (n.as_str(), &**f))
    }

    /// Adds the implicit `id = AutoField{primary_key=true}` when no field is a primary key.
    pub fn ensure_primary_key(&mut self) {
        if self.fields.iter().all(|(_, f)| !f.primary_key) {
            let mut id = Field::new(FieldKind::AutoField);
            id.primary_key = true;
            self.fields.insert(0, ("id".to_string(), Rc::new(id)));
        }
    }
}

/// Every model of every app at one point of the history.
#[derive(Clone, Debug, Default)]
pub struct ProjectState {
    models: BTreeMap<ModelKey, Rc<ModelState>>,
}

impl ProjectState {
    /// An empty project.
    pub fn new() -> Self {
        Self::default()
    }

    /// The model `app.name` (name matched case-insensitively).
    pub fn model(&self, app: &str, name: &str) -> Option<&ModelState> {
        self.models
            .get(&ModelKey::new(app, name))
            .map(|m| m.as_ref())
    }

    /// The model under a key.
    pub fn get(&self, key: &ModelKey) -> Option<&ModelState> {
        self.models.get(key).map(|m| m.as_ref())
    }

    /// A mutable model, copied first if another state shares it.
    pub fn model_mut(&mut self, key: &ModelKey) -> Option<&mut ModelState> {
        self.models.get_mut(key).map(Rc::make_mut)
    }

    /// Adds or replaces a model.
    pub fn insert(&mut self, model: ModelState) {
        self.models.insert(model.key(), Rc::new(model));
    }

    /// Removes a model, returning it.
    pub fn remove(&mut self, key: &ModelKey) -> Option<Rc<ModelState>> {
        self.models.remove(key)
    }

    /// Every model, sorted by key.
    pub fn models(&self) -> impl Iterator<Item = &ModelState> {
        self.models.values().map(|m| m.as_ref())
    }

    /// Whether any model of `app` exists.
    pub fn has_app(&self, app: &str) -> bool {
        self.models.keys().any(|k| k.app == app)
    }

    /// Models of one app, sorted.
    pub fn app_models(&self, app: &str) -> Vec<&ModelState> {
        self.models
            .values()
            .filter(|m| m.app == app)
            .map(|m| m.as_ref())
            .collect()
    }

    /// Keys of models with a field related to `target` (foreign key, one-to-one, many-to-many
    /// or through), sorted.
    pub fn models_relating_to(&self, target: &ModelKey) -> Vec<ModelKey> {
        self.models
            .iter()
            .filter(|(_, m)| {
                m.fields.iter().any(|(_, f)| {
                    f.relation
                        .as_ref()
                        .is_some_and(|r| &r.to == target || r.through.as_ref() == Some(target))
                })
            })
            .map(|(k, _)| k.clone())
            .collect()
    }
}

/// The model Django auto-creates for a many-to-many field without `through`: table
/// `<model table>_<field>`, with `id` and one foreign key to each side (`from_`/`to_`
/// prefixes when a model relates to itself), unique together.
pub fn auto_through_model(
    model: &ModelState,
    field_name: &str,
    field: &Field,
    max_name_length: usize,
) -> Option<ModelState> {
    let rel = field.relation.as_ref()?;
    if rel.through.is_some() {
        return None;
    }
    let from = model.name.to_lowercase();
    let to = rel.to.name.clone();
    let (from_name, to_name) = if model.key() == rel.to {
        (format!("from_{from}"), format!("to_{to}"))
    } else {
        (from.clone(), to.clone())
    };
    let table = rel.db_table.clone().unwrap_or_else(|| {
        crate::schema::names::truncate_name(
            &format!("{}_{field_name}", model.db_table()),
            max_name_length,
        )
    });
    let fk = |target: ModelKey| {
        let mut f = Field::new(FieldKind::ForeignKey);
        f.db_index = true;
        f.relation = Some(crate::fields::Relation {
            to: target,
            on_delete: crate::fields::OnDelete::Cascade,
            related_name: None,
            to_field: None,
            db_constraint: true,
            through: None,
            db_table: None,
        });
        f
    };
    let mut through = ModelState {
        app: model.app.clone(),
        name: format!("{}_{field_name}", model.name),
        fields: vec![
            (from_name.clone(), Rc::new(fk(model.key()))),
            (to_name.clone(), Rc::new(fk(rel.to.clone()))),
        ],
        options: ModelOptions {
            db_table: Some(table),
            unique_together: vec![vec![from_name, to_name]],
            ..ModelOptions::default()
        },
    };
    through.ensure_primary_key();
    Some(through)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order() -> ModelState {
        let mut m = ModelState {
            app: "orders".into(),
            name: "Order".into(),
            fields: vec![("title".into(), Rc::new(Field::new(FieldKind::TextField)))],
            options: ModelOptions::default(),
        };
        m.ensure_primary_key();
        m
    }

    #[test]
    fn implicit_primary_key_and_django_table_name() {
        let m = order();
        assert_eq!(m.field_names(), vec!["id", "title"]);
        assert_eq!(m.primary_key().map(|(n, _)| n), Some("id"));
        assert_eq!(m.db_table(), "orders_order");
    }

    #[test]
    fn lookups_are_case_insensitive() {
        let mut s = ProjectState::new();
        s.insert(order());
        assert!(s.model("orders", "order").is_some());
        assert!(s.model("orders", "ORDER").is_some());
        assert!(s.model("pages", "Order").is_none());
    }

    #[test]
    fn cloned_state_is_independent_of_changes() {
        let mut before = ProjectState::new();
        before.insert(order());
        let mut after = before.clone();
        let key = ModelKey::new("orders", "Order");
        if let Some(m) = after.model_mut(&key) {
            m.fields
                .push(("slug".into(), Rc::new(Field::new(FieldKind::SlugField))));
        }
        assert_eq!(before.get(&key).map(|m| m.fields.len()), Some(2));
        assert_eq!(after.get(&key).map(|m| m.fields.len()), Some(3));
    }
}
