//! `luamig showmigrations [APP...] [--plan]`.

use std::collections::BTreeSet;

use crate::error::{Error, Result};
use crate::executor::Executor;
use crate::graph::NodeKey;
use crate::loader::Project;

pub fn run(project: &Project, alias: &str, apps: &[String], plan: bool) -> Result<i32> {
    let db = super::open(project, alias, false)?;
    let ex = Executor::new(project, db)?;
    for app in apps {
        if !project.apps.contains(app) {
            return Err(Error::Usage(format!("no installed app with label '{app}'")));
        }
    }
    let mark = |k: &NodeKey| if ex.graph.is_applied(k) { "[X]" } else { "[ ]" };
    if plan {
        for key in ex.graph.full_plan() {
            if apps.is_empty() || apps.contains(&key.app) {
                println!("{}  {key}", mark(&key));
            }
        }
        return Ok(0);
    }
    let shown: Vec<&String> = if apps.is_empty() {
        project.apps.iter().collect()
    } else {
        apps.iter().collect()
    };
    for app in shown {
        println!("{app}");
        let mut seen = BTreeSet::new();
        let mut any = false;
        for leaf in ex.graph.leaf_nodes(app) {
            for key in ex.graph.forwards_plan(&leaf) {
                if key.app != *app || !seen.insert(key.clone()) {
                    continue;
                }
                any = true;
                let squashed = project
                    .migrations
                    .get(&key)
                    .map(|m| m.replaces.len())
                    .unwrap_or(0);
                let note = if squashed > 0 {
                    format!(" ({squashed} squashed migrations)")
                } else {
                    String::new()
                };
                println!(" {} {}{note}", mark(&key), key.name);
            }
        }
        if !any {
            println!(" (no migrations)");
        }
    }
    Ok(0)
}
