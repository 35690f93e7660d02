//! Operations: each has a *state half* (`state_forwards`, pure) and a *database half*
//! (`database_forwards` / `database_backwards`, through the schema editor), as Django's do.

mod database;
mod state;

pub use database::{LuaRunner, OperationContext, database_backwards, database_forwards};
pub use state::{check_relations, state_forwards};

use std::collections::BTreeMap;

use crate::fields::{Constraint, Field, Index};
use crate::state::ModelOptions;
use crate::value::Value;

/// One SQL statement of RunSQL, with `%s` placeholders and its parameters.
#[derive(Clone, Debug)]
pub struct SqlStatement {
    pub sql: String,
    pub params: Vec<Value>,
}

/// Hints handed to routers (`hints = { target_db = "default" }`), as strings.
pub type Hints = BTreeMap<String, String>;

/// What an operation does; see SPEC section 3.
#[derive(Clone, Debug)]
pub enum OperationKind {
    CreateModel {
        name: String,
        fields: Vec<(String, Field)>,
        options: ModelOptions,
    },
    DeleteModel {
        name: String,
    },
    RenameModel {
        old_name: String,
        new_name: String,
    },
    AlterModelTable {
        name: String,
        table: Option<String>,
    },
    AlterModelOptions {
        name: String,
        options: ModelOptions,
    },
    AlterUniqueTogether {
        name: String,
        unique_together: Vec<Vec<String>>,
    },
    AlterIndexTogether {
        name: String,
        index_together: Vec<Vec<String>>,
    },
    AddIndex {
        model_name: String,
        index: Index,
    },
    RemoveIndex {
        model_name: String,
        name: String,
    },
    AddConstraint {
        model_name: String,
        constraint: Constraint,
    },
    RemoveConstraint {
        model_name: String,
        name: String,
    },
    AddField {
        model_name: String,
        name: String,
        field: Field,
        preserve_default: bool,
    },
    RemoveField {
        model_name: String,
        name: String,
    },
    AlterField {
        model_name: String,
        name: String,
        field: Field,
        preserve_default: bool,
    },
    RenameField {
        model_name: String,
        old_name: String,
        new_name: String,
    },
    RunSql {
        sql: Vec<SqlStatement>,
        reverse_sql: Option<Vec<SqlStatement>>,
        state_operations: Vec<Operation>,
        hints: Hints,
        elidable: bool,
    },
    RunLua {
        code: mlua::Function,
        reverse_code: Option<mlua::Function>,
        atomic: Option<bool>,
        hints: Hints,
        elidable: bool,
    },
    SeparateDatabaseAndState {
        database_operations: Vec<Operation>,
        state_operations: Vec<Operation>,
    },
}

/// An operation and the `file:line` of its constructor call.
#[derive(Clone, Debug)]
pub struct Operation {
    pub kind: OperationKind,
    pub location: String,
}

impl Operation {
    /// The constructor's name (`AddField`), used in "operation 2 (RunLua)".
    pub fn type_name(&self) -> &'static str {
        use OperationKind::*;
        match &self.kind {
            CreateModel { .. } => "CreateModel",
            DeleteModel { .. } => "DeleteModel",
            RenameModel { .. } => "RenameModel",
            AlterModelTable { .. } => "AlterModelTable",
            AlterModelOptions { .. } => "AlterModelOptions",
            AlterUniqueTogether { .. } => "AlterUniqueTogether",
            AlterIndexTogether { .. } => "AlterIndexTogether",
            AddIndex { .. } => "AddIndex",
            RemoveIndex { .. } => "RemoveIndex",
            AddConstraint { .. } => "AddConstraint",
            RemoveConstraint { .. } => "RemoveConstraint",
            AddField { .. } => "AddField",
            RemoveField { .. } => "RemoveField",
            AlterField { .. } => "AlterField",
            RenameField { .. } => "RenameField",
            RunSql { .. } => "RunSQL",
            RunLua { .. } => "RunLua",
            SeparateDatabaseAndState { .. } => "SeparateDatabaseAndState",
        }
    }

    /// Whether the operation can be unapplied. RunSQL without reverse_sql and RunLua without
    /// reverse_code cannot; SeparateDatabaseAndState is reversible when all its parts are.
    pub fn reversible(&self) -> bool {
        use OperationKind::*;
        match &self.kind {
            RunSql { reverse_sql, .. } => reverse_sql.is_some(),
            RunLua { reverse_code, .. } => reverse_code.is_some(),
            SeparateDatabaseAndState {
                database_operations,
                state_operations,
            } => database_operations
                .iter()
                .chain(state_operations)
                .all(Operation::reversible),
            _ => true,
        }
    }

    /// A one-line human description, as Django's `describe()`.
    pub fn describe(&self) -> String {
        use OperationKind::*;
        match &self.kind {
            CreateModel { name, .. } => format!("Create model {name}"),
            DeleteModel { name } => format!("Delete model {name}"),
            RenameModel { old_name, new_name } => format!("Rename model {old_name} to {new_name}"),
            AlterModelTable { name, table } => format!(
                "Rename table for {name} to {}",
                table.as_deref().unwrap_or("(default)")
            ),
            AlterModelOptions { name, .. } => format!("Change Meta options on {name}"),
            AlterUniqueTogether {
                name,
                unique_together,
            } => format!(
                "Alter unique_together for {name} ({} constraint(s))",
                unique_together.len()
            ),
            AlterIndexTogether {
                name,
                index_together,
            } => format!(
                "Alter index_together for {name} ({} constraint(s))",
                index_together.len()
            ),
            AddIndex { model_name, index } => format!(
                "Create index {} on field(s) {} of model {model_name}",
                index.name,
                index.fields.join(", ")
            ),
            RemoveIndex { model_name, name } => {
                format!("Remove index {name} from {model_name}")
            }
            AddConstraint {
                model_name,
                constraint,
            } => format!(
                "Create constraint {} on model {model_name}",
                constraint.name()
            ),
            RemoveConstraint { model_name, name } => {
                format!("Remove constraint {name} from model {model_name}")
            }
            AddField {
                model_name, name, ..
            } => format!("Add field {name} to {model_name}"),
            RemoveField { model_name, name } => format!("Remove field {name} from {model_name}"),
            AlterField {
                model_name, name, ..
            } => format!("Alter field {name} on {model_name}"),
            RenameField {
                model_name,
                old_name,
                new_name,
            } => format!("Rename field {old_name} on {model_name} to {new_name}"),
            RunSql { .. } => "Raw SQL operation".into(),
            RunLua { .. } => "Raw Lua operation".into(),
            SeparateDatabaseAndState { .. } => "Custom state/database change combination".into(),
        }
    }

    /// The model this operation is about, lowercased, for routers' `model_name`.
    pub fn model_name(&self) -> Option<String> {
        use OperationKind::*;
        let name = match &self.kind {
            CreateModel { name, .. }
            | DeleteModel { name }
            | AlterModelTable { name, .. }
            | AlterModelOptions { name, .. }
            | AlterUniqueTogether { name, .. }
            | AlterIndexTogether { name, .. } => name,
            RenameModel { old_name, .. } => old_name,
            AddIndex { model_name, .. }
            | RemoveIndex { model_name, .. }
            | AddConstraint { model_name, .. }
            | RemoveConstraint { model_name, .. }
            | AddField { model_name, .. }
            | RemoveField { model_name, .. }
            | AlterField { model_name, .. }
            | RenameField { model_name, .. } => model_name,
            RunSql { .. } | RunLua { .. } | SeparateDatabaseAndState { .. } => return None,
        };
        Some(name.to_lowercase())
    }
}
