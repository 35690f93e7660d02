//! Runs a plan: replays project state, applies or unapplies migrations in transactions,
//! records them, and reports progress through a callback (it never prints). State replay,
//! commit groups and the checks of applied files live in the submodules.

use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

use crate::db::{Database, Vendor};
use crate::error::{Error, Result};
use crate::graph::{MigrationGraph, NodeKey};
use crate::loader::{Project, graph_nodes};
use crate::migration::Migration;
use crate::operations::{
    Hints, Operation, OperationContext, OperationKind, database_backwards, database_forwards,
    state_forwards,
};
use crate::recorder::{AppliedRow, Recorder};
use crate::router::Router;
use crate::runlua::RunLuaHost;
use crate::schema::SchemaEditor;
use crate::state::ProjectState;

mod commit_group;
mod history;
mod replay;

use commit_group::CommitGroup;
pub use replay::apply_state;
use replay::walk_operations;

/// One step of a plan: a migration and its direction.
pub type Step = (NodeKey, bool);

/// Receives progress; the command line prints it (Django's `migration_progress_callback`).
pub trait Progress {
    /// A migration starts (`Applying x...`).
    fn start(&mut self, key: &NodeKey, backwards: bool);
    /// It finished; `fake` when only recorded.
    fn success(&mut self, key: &NodeKey, backwards: bool, fake: bool);
}

/// How `migrate` runs its plan.
#[derive(Clone, Copy, Debug, Default)]
pub struct RunOptions {
    pub fake: bool,
    pub fake_initial: bool,
}

/// The checks that need no database: the graph (cycles, missing parents, two leaves in an
/// app) and every operation against the state before it. Commands run them before opening
/// the database, so a broken project never creates a SQLite file. Returns the graph, with
/// nothing marked applied.
pub fn check_project(project: &Project) -> Result<MigrationGraph> {
    let graph = MigrationGraph::build(graph_nodes(&project.migrations), &BTreeSet::new())?;
    graph.check_conflicts()?;
    let mut state = ProjectState::new();
    for key in graph.full_plan() {
        let m = project
            .migrations
            .get(&key)
            .ok_or_else(|| Error::Plan(format!("migration {key} has no file")))?;
        apply_state(m, &mut state)?;
    }
    Ok(graph)
}

/// A project bound to one database.
pub struct Executor<'p> {
    pub project: &'p Project,
    pub db: Rc<Database>,
    pub graph: MigrationGraph,
    pub applied: BTreeMap<NodeKey, AppliedRow>,
    router: Router<'p>,
}

impl<'p> Executor<'p> {
    /// Reads the history of `db` and builds the graph.
    pub fn new(project: &'p Project, db: Rc<Database>) -> Result<Self> {
        let applied = Recorder::new(&db).applied()?;
        let applied_keys: BTreeSet<NodeKey> = applied.keys().cloned().collect();
        let graph = MigrationGraph::build(graph_nodes(&project.migrations), &applied_keys)?;
        let router = Router::new(&project.settings.routers, &project.vm.lua);
        Ok(Executor {
            project,
            db,
            graph,
            applied,
            router,
        })
    }

    /// The checks every `migrate` and `check` makes: one leaf per app, consistent history,
    /// and applied files unchanged and present.
    pub fn check(&self) -> Result<()> {
        self.graph.check_conflicts()?;
        self.graph.check_consistent_history()?;
        self.check_files_match_history()
    }

    /// The migration behind a key.
    pub fn migration(&self, key: &NodeKey) -> Result<&'p Migration> {
        self.project
            .migrations
            .get(key)
            .ok_or_else(|| Error::Plan(format!("migration {key} has no file")))
    }

    /// Refuses a plan that unapplies an irreversible operation, before anything runs.
    pub fn check_reversible(&self, plan: &[Step]) -> Result<()> {
        for (key, backwards) in plan {
            if !backwards {
                continue;
            }
            let m = self.migration(key)?;
            if let Some((i, op)) = m
                .operations
                .iter()
                .enumerate()
                .find(|(_, op)| !op.reversible())
            {
                return Err(Error::Plan(format!(
                    "{}: migration {key} cannot be unapplied: operation {} ({}) is irreversible{}; nothing was unapplied",
                    op.location,
                    i + 1,
                    op.type_name(),
                    match op.kind {
                        OperationKind::RunSql { .. } => " (it has no reverse_sql)",
                        OperationKind::RunLua { .. } => " (it has no reverse_code)",
                        _ => "",
                    }
                )));
            }
        }
        Ok(())
    }

    /// Runs a plan (all forwards or all backwards, as `migration_plan` returns for one
    /// target set) and records each step.
    pub fn migrate(
        &self,
        plan: &[Step],
        opts: RunOptions,
        progress: &mut dyn Progress,
    ) -> Result<()> {
        if plan.is_empty() {
            return Ok(());
        }
        let _watch = crate::interrupt::LuaWatch::new(&self.project.vm.lua)?;
        crate::interrupt::writes_begin();
        Recorder::new(&self.db).ensure_table()?;
        let mut group = CommitGroup::new(&self.db);
        let result = self.run_plan(plan, opts, progress, &mut group);
        // What finished is kept whether the run went through or stopped; the failure (when
        // there is one) matters more than a commit that fails after it.
        let committed = group.commit();
        result.and(committed)
    }

    fn run_plan(
        &self,
        plan: &[Step],
        opts: RunOptions,
        progress: &mut dyn Progress,
        group: &mut CommitGroup,
    ) -> Result<()> {
        if plan.iter().all(|(_, b)| !b) {
            let planned: BTreeSet<&NodeKey> = plan.iter().map(|(k, _)| k).collect();
            let mut state = self.applied_state()?;
            for key in self.graph.full_plan() {
                if planned.contains(&key) {
                    let savepoint = group.before(self.migration(&key)?.atomic)?;
                    not_started_if_interrupted(&key)?;
                    state = self.apply(&key, state, opts, progress, group, savepoint)?;
                    group.after()?;
                }
            }
            return Ok(());
        }
        let states = self.states_before(plan)?;
        for (key, backwards) in plan {
            let state = match states.get(key) {
                Some(s) if *backwards => s.clone(),
                _ => {
                    return Err(Error::Plan(format!(
                        "cannot mix applying and unapplying in one run ({key})"
                    )));
                }
            };
            let savepoint = group.before(self.migration(key)?.atomic)?;
            not_started_if_interrupted(key)?;
            self.unapply(key, state, opts, progress, group, savepoint)?;
            group.after()?;
        }
        Ok(())
    }

    fn apply(
        &self,
        key: &NodeKey,
        state: ProjectState,
        opts: RunOptions,
        progress: &mut dyn Progress,
        group: &mut CommitGroup,
        savepoint: bool,
    ) -> Result<ProjectState> {
        let m = self.migration(key)?;
        progress.start(key, false);
        let fake = opts.fake || (opts.fake_initial && self.initial_tables_exist(m, &state)?);
        if fake {
            // The state is ours alone: changed in place, no model is copied.
            let mut after = state;
            apply_state(m, &mut after)?;
            self.record(m, false, group)?;
            progress.success(key, false, true);
            return Ok(after);
        }
        let after = self.run_migration(m, state, false, group, savepoint)?;
        progress.success(key, false, false);
        Ok(after)
    }

    fn unapply(
        &self,
        key: &NodeKey,
        state: ProjectState,
        opts: RunOptions,
        progress: &mut dyn Progress,
        group: &mut CommitGroup,
        savepoint: bool,
    ) -> Result<()> {
        let m = self.migration(key)?;
        progress.start(key, true);
        if opts.fake {
            self.record(m, true, group)?;
        } else {
            self.run_migration(m, state, true, group, savepoint)?;
        }
        progress.success(key, true, opts.fake);
        Ok(())
    }

    /// Records `m` as applied (the rows are written with the group's commit, see
    /// [`CommitGroup::record_applied`]) or removes its rows now.
    fn record(&self, m: &Migration, backwards: bool, group: &mut CommitGroup) -> Result<()> {
        let recorder = Recorder::new(&self.db);
        // A squashed migration is recorded under the names it replaces as well.
        let keys = std::iter::once(&m.key).chain(&m.replaces);
        for key in keys {
            let checksum = self
                .project
                .migrations
                .get(key)
                .map(|r| r.checksum.as_str());
            // A row to replace exists only for what the history had (a squash's replaced
            // migrations); skipping the DELETE saves a statement per migration.
            if backwards || self.applied.contains_key(key) {
                recorder.record_unapplied(key)?;
            }
            if !backwards {
                group.record_applied(key, checksum)?;
            }
        }
        Ok(())
    }

    /// Runs one migration's operations (forwards from `state`, or backwards where `state` is
    /// the state before it), in a transaction when atomic, and records it. An atomic
    /// migration gets a savepoint of its own when `savepoint` (see [`CommitGroup::before`]);
    /// otherwise the group's transaction, holding nothing else yet, is rolled back for it.
    fn run_migration(
        &self,
        m: &Migration,
        state: ProjectState,
        backwards: bool,
        group: &mut CommitGroup,
        savepoint: bool,
    ) -> Result<ProjectState> {
        let level = if m.atomic && savepoint {
            Some(self.db.atomic_begin()?)
        } else {
            None
        };
        let result = self
            .run_operations(m, state, backwards)
            .and_then(|after| {
                self.check_foreign_keys(m)?;
                // Code that caught the interrupt's error must not get its migration committed.
                if crate::interrupt::requested() {
                    return Err(Error::Migration {
                        migration: m.key.to_string(),
                        cause: Box::new(Error::Interrupted),
                        note: Some(if m.atomic {
                            format!("{} rolled back: the database is as it was before it", m.key)
                        } else {
                            format!(
                                "{} is not atomic: all its operations stayed {}, and it was not recorded",
                                m.key,
                                if backwards { "unapplied" } else { "applied" }
                            )
                        }),
                    });
                }
                self.record(m, backwards, group)?;
                Ok(after)
            })
            .map_err(blame_interrupt);
        match (result, level) {
            (Ok(after), Some(level)) => {
                self.db.atomic_commit(level)?;
                Ok(after)
            }
            (Ok(after), None) => Ok(after),
            (Err(e), Some(level)) => {
                // The original error matters more than a failed rollback.
                let _ = self.db.atomic_rollback(level);
                Err(e)
            }
            (Err(e), None) => Err(e),
        }
    }

    fn run_operations(
        &self,
        m: &Migration,
        state: ProjectState,
        backwards: bool,
    ) -> Result<ProjectState> {
        let mut editor = SchemaEditor::new(self.db.clone(), false);
        let host = self.lua_host();
        let allow = |model: Option<&str>, hints: &Hints| {
            self.router
                .allow_migrate(&self.db.alias, &m.key.app, model, hints)
        };
        let result = walk_operations(m, state, backwards, |i, done, op, before, after| {
            let mut cx = OperationContext {
                app: &m.key.app,
                editor: &mut editor,
                allow: &allow,
                lua: &host,
            };
            run_one(op, &mut cx, before, after, backwards, m.atomic, &self.db)
                .map_err(|cause| self.operation_failure(m, i, op, cause, done, backwards))
        })?;
        editor.flush_deferred().map_err(|e| Error::Migration {
            migration: m.key.to_string(),
            cause: Box::new(Error::State {
                location: m.location.clone(),
                message: e.to_string(),
            }),
            note: m
                .atomic
                .then(|| format!("{} rolled back: the database is as it was before it", m.key)),
        })?;
        Ok(result)
    }

    fn operation_failure(
        &self,
        m: &Migration,
        i: usize,
        op: &Operation,
        cause: Error,
        done: usize,
        backwards: bool,
    ) -> Error {
        let note = if m.atomic {
            Some(format!(
                "{} rolled back: the database is as it was before {}",
                m.key,
                if backwards { "unapplying it" } else { "it" }
            ))
        } else if done == 0 {
            Some(format!(
                "{} is not atomic; no earlier operation had run, and it was not recorded",
                m.key
            ))
        } else {
            Some(format!(
                "{} is not atomic: the {done} operation(s) before this one stayed {}, and the migration was not recorded as {}",
                m.key,
                if backwards { "unapplied" } else { "applied" },
                if backwards { "unapplied" } else { "applied" }
            ))
        };
        // Lua errors already start with their file and line; others get the operation's.
        let cause = match cause {
            e @ (Error::Lua { .. } | Error::State { .. } | Error::Migration { .. }) => e,
            other => Error::State {
                location: op.location.clone(),
                message: other.to_string(),
            },
        };
        Error::Migration {
            migration: format!("{}, operation {} ({})", m.key, i + 1, op.type_name()),
            cause: Box::new(cause),
            note,
        }
    }

    /// SQLite does not check deferred foreign keys while they are switched off for table
    /// rebuilds, so each migration checks them before it commits.
    fn check_foreign_keys(&self, m: &Migration) -> Result<()> {
        if self.db.vendor == Vendor::Postgres {
            // Deferred checks would otherwise wait for the group's commit, and fail there
            // in the name of no migration.
            return self
                .db
                .settle_deferred_checks()
                .map_err(|cause| Error::Migration {
                    migration: m.key.to_string(),
                    cause: Box::new(cause),
                    note: m.atomic.then(|| {
                        format!("{} rolled back: the database is as it was before it", m.key)
                    }),
                });
        }
        let rows = self.db.query("PRAGMA foreign_key_check", &[])?;
        if let Some(r) = rows.rows.first() {
            let table = match r.first() {
                Some(crate::value::Value::Text(t)) => t.clone(),
                _ => String::new(),
            };
            return Err(Error::Migration {
                migration: m.key.to_string(),
                cause: Box::new(Error::State {
                    location: m.location.clone(),
                    message: format!(
                        "foreign key check failed: {} row(s) of table {table} point at rows that do not exist",
                        rows.rows.len()
                    ),
                }),
                note: m
                    .atomic
                    .then(|| format!("{} rolled back: the database is as it was before it", m.key)),
            });
        }
        Ok(())
    }

    /// `--fake-initial`: an initial migration whose tables (and added columns) all exist.
    fn initial_tables_exist(&self, m: &Migration, state: &ProjectState) -> Result<bool> {
        let is_initial = m
            .initial
            .unwrap_or_else(|| !m.dependencies.iter().any(|d| d.app == m.key.app));
        if !is_initial {
            return Ok(false);
        }
        let tables: BTreeSet<String> = self.db.table_names()?.into_iter().collect();
        let mut after = state.clone();
        let mut found_any = false;
        for op in &m.operations {
            state_forwards(op, &m.key.app, &mut after)?;
            match &op.kind {
                OperationKind::CreateModel { name, .. } => {
                    let Some(model) = after.model(&m.key.app, name) else {
                        return Ok(false);
                    };
                    if !model.is_managed() {
                        continue;
                    }
                    if !tables.contains(&model.db_table()) {
                        return Ok(false);
                    }
                    found_any = true;
                }
                OperationKind::AddField {
                    model_name, name, ..
                } => {
                    let Some(model) = after.model(&m.key.app, model_name) else {
                        return Ok(false);
                    };
                    let Some(col) = model.field(name).and_then(|f| f.column(name)) else {
                        continue;
                    };
                    if !self.db.column_names(&model.db_table())?.contains(&col) {
                        return Ok(false);
                    }
                    found_any = true;
                }
                _ => return Ok(false),
            }
        }
        Ok(found_any)
    }

    fn lua_host(&self) -> RunLuaHost<'p> {
        RunLuaHost {
            lua: &self.project.vm.lua,
            db: self.db.clone(),
        }
    }

    /// The SQL a migration would run (sqlmigrate): the same operations, collected.
    pub fn collect_sql(&self, key: &NodeKey, backwards: bool) -> Result<Vec<String>> {
        let m = self.migration(key)?;
        if backwards {
            self.check_reversible(&[(key.clone(), true)])?;
        }
        let mut before = ProjectState::new();
        for k in self.graph.forwards_plan(key) {
            if &k == key {
                break;
            }
            apply_state(self.migration(&k)?, &mut before)?;
        }
        let mut editor = SchemaEditor::new(self.db.clone(), true);
        let host = self.lua_host();
        let allow = |model: Option<&str>, hints: &Hints| {
            self.router
                .allow_migrate(&self.db.alias, &m.key.app, model, hints)
        };
        let mut out = Vec::new();
        if m.atomic {
            out.push("BEGIN;".to_string());
        }
        walk_operations(m, before, backwards, |_, _, op, before, after| {
            out.push("--".into());
            out.push(format!("-- {}", op.describe()));
            out.push("--".into());
            let mut cx = OperationContext {
                app: &m.key.app,
                editor: &mut editor,
                allow: &allow,
                lua: &host,
            };
            if backwards {
                database_backwards(op, &mut cx, after, before)?;
            } else {
                database_forwards(op, &mut cx, before, after)?;
            }
            let sql = editor.take_collected();
            if sql.is_empty() {
                out.push("-- (no-op)".into());
            }
            out.extend(sql);
            Ok(())
        })?;
        editor.flush_deferred()?;
        out.extend(editor.take_collected());
        if m.atomic {
            out.push("COMMIT;".to_string());
        }
        Ok(out)
    }
}

/// Stops before a migration starts once Ctrl-C was pressed.
fn not_started_if_interrupted(key: &NodeKey) -> Result<()> {
    crate::interrupt::check().map_err(|cause| Error::Migration {
        migration: key.to_string(),
        cause: Box::new(cause),
        note: Some(format!(
            "{key} had not started; migrations this run finished before it stay as they are"
        )),
    })
}

/// A failure that an interrupt caused (a cancelled statement, Lua stopped by the hook) is
/// reported as the interrupt, keeping where it happened and what was rolled back.
fn blame_interrupt(e: Error) -> Error {
    if !crate::interrupt::requested() {
        return e;
    }
    match e {
        Error::Migration {
            migration, note, ..
        } => Error::Migration {
            migration,
            cause: Box::new(Error::Interrupted),
            note,
        },
        _ => Error::Interrupted,
    }
}

/// Runs one operation; a RunLua with `atomic = true` inside a non-atomic migration gets a
/// transaction of its own.
fn run_one(
    op: &Operation,
    cx: &mut OperationContext,
    before: &ProjectState,
    after: &ProjectState,
    backwards: bool,
    migration_atomic: bool,
    db: &Database,
) -> Result<()> {
    let own_tx = !migration_atomic
        && matches!(
            op.kind,
            OperationKind::RunLua {
                atomic: Some(true),
                ..
            }
        );
    let level = if own_tx {
        Some(db.atomic_begin()?)
    } else {
        None
    };
    let result = if backwards {
        database_backwards(op, cx, after, before)
    } else {
        database_forwards(op, cx, before, after)
    };
    match (level, &result) {
        (Some(level), Ok(())) => db.atomic_commit(level)?,
        (Some(level), Err(_)) => {
            let _ = db.atomic_rollback(level);
        }
        (None, _) => {}
    }
    result
}
