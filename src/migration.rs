//! A loaded migration file: its identity, graph edges, flags and operations.

use std::path::PathBuf;

use crate::graph::NodeKey;
use crate::operations::Operation;

/// A dependency as written: `{"orders", "0001_initial"}`, `"__first__"` or `"__latest__"`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DependencySpec {
    pub app: String,
    pub name: String,
}

/// One migration file, decoded and validated.
#[derive(Debug)]
pub struct Migration {
    pub key: NodeKey,
    /// Path relative to the project folder, as error messages show it.
    pub path: PathBuf,
    /// SHA-256 of the file's bytes, lowercase hex.
    pub checksum: String,
    pub dependencies: Vec<DependencySpec>,
    pub run_before: Vec<DependencySpec>,
    pub replaces: Vec<NodeKey>,
    pub initial: Option<bool>,
    pub atomic: bool,
    pub operations: Vec<Operation>,
    /// `file:line` of the `Migration{}` call.
    pub location: String,
}

impl Migration {
    /// The file as shown in messages: `migrations/orders/0002_customer.lua`.
    pub fn display_path(&self) -> String {
        self.path.display().to_string()
    }
}
