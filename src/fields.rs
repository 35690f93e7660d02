//! Field, index and constraint descriptions as the project state holds them.

use crate::value::Value;

/// Every field type of `luamig.models`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FieldKind {
    AutoField,
    BigAutoField,
    SmallAutoField,
    IntegerField,
    BigIntegerField,
    SmallIntegerField,
    PositiveIntegerField,
    PositiveSmallIntegerField,
    PositiveBigIntegerField,
    FloatField,
    DecimalField,
    BooleanField,
    CharField,
    TextField,
    SlugField,
    EmailField,
    URLField,
    DateField,
    DateTimeField,
    TimeField,
    DurationField,
    UUIDField,
    JSONField,
    BinaryField,
    ForeignKey,
    OneToOneField,
    ManyToManyField,
}

const KINDS: &[(&str, FieldKind)] = &[
    ("AutoField", FieldKind::AutoField),
    ("BigAutoField", FieldKind::BigAutoField),
    ("SmallAutoField", FieldKind::SmallAutoField),
    ("IntegerField", FieldKind::IntegerField),
    ("BigIntegerField", FieldKind::BigIntegerField),
    ("SmallIntegerField", FieldKind::SmallIntegerField),
    ("PositiveIntegerField", FieldKind::PositiveIntegerField),
    (
        "PositiveSmallIntegerField",
        FieldKind::PositiveSmallIntegerField,
    ),
    (
        "PositiveBigIntegerField",
        FieldKind::PositiveBigIntegerField,
    ),
    ("FloatField", FieldKind::FloatField),
    ("DecimalField", FieldKind::DecimalField),
    ("BooleanField", FieldKind::BooleanField),
    ("CharField", FieldKind::CharField),
    ("TextField", FieldKind::TextField),
    ("SlugField", FieldKind::SlugField),
    ("EmailField", FieldKind::EmailField),
    ("URLField", FieldKind::URLField),
    ("DateField", FieldKind::DateField),
    ("DateTimeField", FieldKind::DateTimeField),
    ("TimeField", FieldKind::TimeField),
    ("DurationField", FieldKind::DurationField),
    ("UUIDField", FieldKind::UUIDField),
    ("JSONField", FieldKind::JSONField),
    ("BinaryField", FieldKind::BinaryField),
    ("ForeignKey", FieldKind::ForeignKey),
    ("OneToOneField", FieldKind::OneToOneField),
    ("ManyToManyField", FieldKind::ManyToManyField),
];

impl FieldKind {
    /// The kind named by a `luamig.models` constructor.
    pub fn from_name(name: &str) -> Option<FieldKind> {
        KINDS.iter().find(|(n, _)| *n == name).map(|(_, k)| *k)
    }

    /// The constructor name, as Django spells the class.
    pub fn name(self) -> &'static str {
        KINDS
            .iter()
            .find(|(_, k)| *k == self)
            .map(|(n, _)| *n)
            .unwrap_or("Field")
    }

    /// Auto-incrementing integer keys.
    pub fn is_auto(self) -> bool {
        matches!(
            self,
            FieldKind::AutoField | FieldKind::BigAutoField | FieldKind::SmallAutoField
        )
    }

    /// ForeignKey and OneToOneField: a column holding another model's key.
    pub fn is_foreign_key(self) -> bool {
        matches!(self, FieldKind::ForeignKey | FieldKind::OneToOneField)
    }

    /// Kinds whose values are text in the database (and get `_like` indexes on PostgreSQL).
    pub fn is_text(self) -> bool {
        matches!(
            self,
            FieldKind::CharField
                | FieldKind::TextField
                | FieldKind::SlugField
                | FieldKind::EmailField
                | FieldKind::URLField
        )
    }
}

/// Django's on_delete behaviours, emulated by the ORM (the database constraint is plain).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnDelete {
    Cascade,
    Protect,
    SetNull,
    SetDefault,
    DoNothing,
    Restrict,
}

impl OnDelete {
    /// Parses the constant of `luamig.models` (`"CASCADE"`, ...).
    pub fn from_name(name: &str) -> Option<OnDelete> {
        Some(match name {
            "CASCADE" => OnDelete::Cascade,
            "PROTECT" => OnDelete::Protect,
            "SET_NULL" => OnDelete::SetNull,
            "SET_DEFAULT" => OnDelete::SetDefault,
            "DO_NOTHING" => OnDelete::DoNothing,
            "RESTRICT" => OnDelete::Restrict,
            _ => return None,
        })
    }
}

/// A model reference as the state keys it: app label and lowercased model name.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ModelKey {
    pub app: String,
    pub name: String,
}

impl ModelKey {
    /// Builds a key; the model name is lowercased as Django's state does.
    pub fn new(app: &str, name: &str) -> Self {
        ModelKey {
            app: app.to_string(),
            name: name.to_lowercase(),
        }
    }
}

impl std::fmt::Display for ModelKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.app, self.name)
    }
}

/// The relation part of ForeignKey, OneToOneField and ManyToManyField.
#[derive(Clone, Debug)]
pub struct Relation {
    /// The target model; `None` app means resolved later ("self").
    pub to: ModelKey,
    pub on_delete: OnDelete,
    pub related_name: Option<String>,
    pub to_field: Option<String>,
    pub db_constraint: bool,
    /// ManyToManyField: an explicit through model.
    pub through: Option<ModelKey>,
    /// ManyToManyField: the name of the auto-created table.
    pub db_table: Option<String>,
}

/// A field default: a constant, or a Lua function called once per row.
#[derive(Clone, Debug)]
pub enum FieldDefault {
    Value(Value),
    Lua(mlua::Function),
}

/// One field of a model, as declared in a migration.
#[derive(Clone, Debug)]
pub struct Field {
    pub kind: FieldKind,
    pub null: bool,
    pub blank: bool,
    pub unique: bool,
    pub db_index: bool,
    pub primary_key: bool,
    pub db_column: Option<String>,
    pub default: Option<FieldDefault>,
    pub db_default: Option<Value>,
    pub max_length: Option<u32>,
    pub max_digits: Option<u32>,
    pub decimal_places: Option<u32>,
    pub auto_now: bool,
    pub auto_now_add: bool,
    pub relation: Option<Relation>,
    /// `file:line` of the constructor call, for error messages.
    pub location: String,
}

impl Field {
    /// A bare field of a kind with Django's defaults; used for the implicit `id`.
    pub fn new(kind: FieldKind) -> Self {
        Field {
            kind,
            null: false,
            blank: false,
            unique: false,
            db_index: false,
            primary_key: false,
            db_column: None,
            default: None,
            db_default: None,
            max_length: None,
            max_digits: None,
            decimal_places: None,
            auto_now: false,
            auto_now_add: false,
            relation: None,
            location: String::new(),
        }
    }

    /// The column this field is stored in (`None` for a many-to-many field).
    pub fn column(&self, name: &str) -> Option<String> {
        if self.kind == FieldKind::ManyToManyField {
            return None;
        }
        Some(match (&self.db_column, self.kind.is_foreign_key()) {
            (Some(c), _) => c.clone(),
            (None, true) => format!("{name}_id"),
            (None, false) => name.to_string(),
        })
    }

    /// Unique in the database: declared unique, a primary key, or a one-to-one link.
    pub fn is_unique(&self) -> bool {
        self.unique || self.primary_key || self.kind == FieldKind::OneToOneField
    }

    /// Gets an index of its own (db_index, or a foreign key), unless unique already indexes it.
    /// (ForeignKey's db_index defaults to true when decoded, as in Django.)
    pub fn wants_index(&self) -> bool {
        self.db_index && !self.is_unique() && self.kind != FieldKind::ManyToManyField
    }

    /// A constant default, if any (a Lua-function default has none until called).
    pub fn constant_default(&self) -> Option<&Value> {
        match &self.default {
            Some(FieldDefault::Value(v)) => Some(v),
            _ => None,
        }
    }
}

/// `models.Index{fields, name, condition}`; a leading `-` on a field orders it descending.
#[derive(Clone, Debug)]
pub struct Index {
    pub name: String,
    pub fields: Vec<String>,
    pub condition: Option<String>,
    pub opclasses: Vec<String>,
}

/// `models.UniqueConstraint` or `models.CheckConstraint`.
#[derive(Clone, Debug)]
pub enum Constraint {
    Unique {
        name: String,
        fields: Vec<String>,
        condition: Option<String>,
        deferrable: Option<String>,
    },
    Check {
        name: String,
        check: String,
    },
}

impl Constraint {
    /// The constraint's name.
    pub fn name(&self) -> &str {
        match self {
            Constraint::Unique { name, .. } | Constraint::Check { name, .. } => name,
        }
    }
}
