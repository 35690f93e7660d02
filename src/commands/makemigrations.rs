//! `luamig makemigrations APP --empty [--name NAME]` and `luamig makemigrations --merge`.

use std::collections::BTreeSet;
use std::path::Path;

use crate::error::{Error, Result};
use crate::graph::{MigrationGraph, NodeKey};
use crate::loader::{Project, graph_nodes};
use crate::writer::{MigrationFile, write_migration};

pub fn run(
    project: &Project,
    app: Option<String>,
    empty: bool,
    name: Option<String>,
    merge: bool,
) -> Result<i32> {
    if merge {
        return run_merge(project, name.as_deref());
    }
    let Some(app) = app else {
        return Err(Error::Usage(
            "makemigrations needs an app label with --empty (or --merge)".into(),
        ));
    };
    if !empty {
        return Err(Error::CommandLine(
            "luamig does not detect model changes: use `makemigrations APP --empty` and write the operations by hand".into(),
        ));
    }
    check_label("app label", &app)?;
    if let Some(n) = &name {
        check_label("migration name", n)?;
    }
    let graph = MigrationGraph::build(graph_nodes(&project.migrations), &BTreeSet::new())?;
    let leaves = graph.leaf_nodes(&app);
    if leaves.len() > 1 {
        graph.check_conflicts()?;
    }
    let number = next_number(project, &app);
    let stem = match (&name, number) {
        (Some(n), _) => format!("{number:04}_{n}"),
        (None, 1) => "0001_initial".to_string(),
        (None, _) => format!(
            "{number:04}_auto_{}",
            chrono::Utc::now().format("%Y%m%d_%H%M")
        ),
    };
    let file = MigrationFile {
        dependencies: leaves,
        initial: number == 1,
    };
    let path = write_migration(project, &app, &stem, &file)?;
    println!("{}", path.display());
    Ok(0)
}

fn run_merge(project: &Project, name: Option<&str>) -> Result<i32> {
    let graph = MigrationGraph::build(graph_nodes(&project.migrations), &BTreeSet::new())?;
    let conflicts = graph.conflicts();
    if conflicts.is_empty() {
        println!("No conflicts detected to merge.");
        return Ok(0);
    }
    for (app, leaves) in conflicts {
        let number = next_number(project, &app);
        let stem = match name {
            Some(n) => format!("{number:04}_{n}"),
            None => format!("{number:04}_merge_{}", leaves.join("_")),
        };
        let file = MigrationFile {
            dependencies: leaves
                .iter()
                .map(|l| NodeKey::new(app.clone(), l.clone()))
                .collect(),
            initial: false,
        };
        let path = write_migration(project, &app, &stem, &file)?;
        println!("{}", path.display());
    }
    Ok(0)
}

/// One more than the highest leading number of the app's migration files.
fn next_number(project: &Project, app: &str) -> u32 {
    let dir = project.settings.migrations_dir.join(app);
    let files = crate::loader::migration_files(&dir).unwrap_or_default();
    files
        .iter()
        .filter_map(|(stem, _)| {
            let digits: String = stem.chars().take_while(char::is_ascii_digit).collect();
            digits.parse::<u32>().ok()
        })
        .max()
        .unwrap_or(0)
        + 1
}

fn check_label(what: &str, s: &str) -> Result<()> {
    let ok = !s.is_empty()
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !Path::new(s).is_absolute();
    if ok {
        Ok(())
    } else {
        Err(Error::Usage(format!(
            "{what} '{s}' may only contain letters, digits and '_'"
        )))
    }
}
