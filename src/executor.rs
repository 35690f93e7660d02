//! Runs a plan: replays project state, applies or unapplies migrations in transactions,
//! records them, and reports progress through a callback (it never prints).

use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;
use std::time::{Duration, Instant};

use crate::db::{AtomicLevel, Database, Vendor};
use crate::error::{Error, Result};
use crate::graph::{MigrationGraph, NodeKey};
use crate::loader::{Project, graph_nodes};
use crate::migration::Migration;
use crate::operations::{
    Hints, Operation, OperationContext, OperationKind, check_relations, database_backwards,
    database_forwards, state_forwards,
};
use crate::recorder::{AppliedRow, PendingRecord, Recorder};
use crate::router::Router;
use crate::runlua::RunLuaHost;
use crate::schema::SchemaEditor;
use crate::state::ProjectState;

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

    /// Applied migrations of installed apps whose file changed (checksum) or vanished.
    pub fn check_files_match_history(&self) -> Result<()> {
        let problems: Vec<String> = self
            .history_mismatches()
            .iter()
            .map(HistoryMismatch::message)
            .collect();
        match problems.len() {
            0 => Ok(()),
            _ => Err(Error::History(problems.join("\n"))),
        }
    }

    /// Applied migrations whose file changed or is gone, in key order.
    fn history_mismatches(&self) -> Vec<HistoryMismatch<'p>> {
        let replaced: BTreeSet<&NodeKey> = self
            .project
            .migrations
            .values()
            .flat_map(|m| &m.replaces)
            .collect();
        let mut found = Vec::new();
        for (key, row) in &self.applied {
            if !self.project.apps.contains(&key.app) {
                continue;
            }
            match self.project.migrations.get(key) {
                None if replaced.contains(key) => {}
                None => found.push(HistoryMismatch::Gone(key.clone())),
                Some(m) => {
                    if row.checksum.as_ref().is_some_and(|sum| sum != &m.checksum) {
                        found.push(HistoryMismatch::Changed(m));
                    }
                }
            }
        }
        found
    }

    /// `migrate --allow-changed`: records the current checksum of every applied migration
    /// (of `app`, or of all apps) whose file changed, in one transaction, and returns them.
    /// A gone file cannot be accepted: it stays an error.
    pub fn accept_changed_files(&self, app: Option<&str>) -> Result<Vec<&'p Migration>> {
        let mismatches: Vec<HistoryMismatch<'p>> = self
            .history_mismatches()
            .into_iter()
            .filter(|h| app.is_none_or(|a| h.key().app == a))
            .collect();
        let gone: Vec<String> = mismatches
            .iter()
            .filter(|h| matches!(h, HistoryMismatch::Gone(_)))
            .map(HistoryMismatch::message)
            .collect();
        if !gone.is_empty() {
            return Err(Error::History(gone.join("\n")));
        }
        let changed: Vec<&'p Migration> = mismatches
            .into_iter()
            .filter_map(|h| match h {
                HistoryMismatch::Changed(m) => Some(m),
                HistoryMismatch::Gone(_) => None,
            })
            .collect();
        let level = self.db.atomic_begin()?;
        let recorder = Recorder::new(&self.db);
        for m in &changed {
            if let Err(e) = recorder.update_checksum(&m.key, &m.checksum) {
                let _ = self.db.atomic_rollback(level);
                return Err(e);
            }
        }
        self.db.atomic_commit(level)?;
        Ok(changed)
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

    /// The state with every applied migration, in full-plan order.
    fn applied_state(&self) -> Result<ProjectState> {
        let mut state = ProjectState::new();
        for key in self.graph.full_plan() {
            if self.graph.is_applied(&key) {
                apply_state(self.migration(&key)?, &mut state)?;
            }
        }
        Ok(state)
    }

    /// The state before each migration of a backwards plan (Django's `_migrate_all_backwards`).
    fn states_before(&self, plan: &[Step]) -> Result<BTreeMap<NodeKey, ProjectState>> {
        let mut wanted: BTreeSet<&NodeKey> = plan.iter().map(|(k, _)| k).collect();
        let mut states = BTreeMap::new();
        let mut state = ProjectState::new();
        for key in self.graph.full_plan() {
            if wanted.is_empty() {
                break;
            }
            if !self.graph.is_applied(&key) {
                continue;
            }
            if wanted.remove(&key) {
                states.insert(key.clone(), state.clone());
            }
            apply_state(self.migration(&key)?, &mut state)?;
        }
        Ok(states)
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

/// Finished migrations are committed in groups: the run keeps one transaction open, each
/// atomic migration runs in a savepoint inside it, and the transaction commits once it has
/// been open for [`COMMIT_INTERVAL`], before a non-atomic migration, and at the end or after
/// a failure (keeping what finished). Each migration stays all-or-nothing; a crash loses at
/// most the unfinished group, and the next run applies it again. One commit, and one fsync,
/// per group instead of per migration; and the group's history rows go out together just
/// before its commit (on PostgreSQL a round trip per migration fewer).
struct CommitGroup<'a> {
    db: &'a Database,
    open: Option<(AtomicLevel, Instant)>,
    /// Migrations finished in the open transaction.
    finished: usize,
    /// History rows of the finished migrations, written by [`CommitGroup::commit`].
    records: Vec<PendingRecord>,
}

/// How long finished migrations may wait for their commit.
const COMMIT_INTERVAL: Duration = Duration::from_millis(250);

impl<'a> CommitGroup<'a> {
    fn new(db: &'a Database) -> Self {
        CommitGroup {
            db,
            open: None,
            finished: 0,
            records: Vec::new(),
        }
    }

    /// Before a migration: a non-atomic one runs outside any transaction. Returns whether an
    /// atomic one needs a savepoint: only when migrations that finished share the open
    /// transaction. The first of a group needs none (its failure rolls the group back, which
    /// holds only it), and on SQLite a savepoint costs a journal copy of every page written.
    fn before(&mut self, atomic: bool) -> Result<bool> {
        if !atomic {
            self.commit()?;
            return Ok(false);
        }
        if self.open.is_none() {
            self.open = Some((self.db.atomic_begin()?, Instant::now()));
            self.finished = 0;
        }
        Ok(self.finished > 0)
    }

    /// Records a migration as applied: with the group's commit when a group is open (its
    /// migration then commits or rolls back with the group), else at once.
    fn record_applied(&mut self, key: &NodeKey, checksum: Option<&str>) -> Result<()> {
        if self.open.is_some() {
            self.records
                .push((key.clone(), checksum.map(str::to_string)));
            return Ok(());
        }
        Recorder::new(self.db).record_applied(key, checksum)
    }

    /// After a migration finished: commit when the group is old enough.
    fn after(&mut self) -> Result<()> {
        self.finished += 1;
        match &self.open {
            Some((_, since)) if since.elapsed() >= COMMIT_INTERVAL => self.commit(),
            _ => Ok(()),
        }
    }

    /// Writes the finished migrations' history rows and commits; with nothing finished (the
    /// first migration failed) it rolls back instead, so a failed run leaves even a SQLite
    /// file's bytes untouched. Rows that cannot be written roll the group back with them.
    fn commit(&mut self) -> Result<()> {
        let finished = std::mem::take(&mut self.finished);
        let records = std::mem::take(&mut self.records);
        match self.open.take() {
            Some((level, _)) if finished > 0 => {
                if let Err(e) = self.write_records(&records) {
                    // The failure to record matters more than a failed rollback.
                    let _ = self.db.atomic_rollback(level);
                    return Err(unrecorded(&records, e));
                }
                self.db.atomic_commit(level)
            }
            Some((level, _)) => self.db.atomic_rollback(level),
            None => Ok(()),
        }
    }

    /// The history rows, in a savepoint tried twice: the statement cancel of a Ctrl-C
    /// pressed just before the commit may land on the first try.
    fn write_records(&self, records: &[PendingRecord]) -> Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        let attempt = || -> Result<()> {
            let level = self.db.atomic_begin()?;
            match Recorder::new(self.db).record_applied_all(records) {
                Ok(()) => self.db.atomic_commit(level),
                Err(e) => {
                    let _ = self.db.atomic_rollback(level);
                    Err(e)
                }
            }
        };
        attempt().or_else(|_| attempt())
    }
}

/// The error of a group whose history rows could not be written: the database's reason
/// (not the long INSERT) and which migrations were rolled back with them.
fn unrecorded(records: &[PendingRecord], cause: Error) -> Error {
    let names: Vec<String> = records.iter().map(|(key, _)| key.to_string()).collect();
    let listed = match names.as_slice() {
        [first, .., last] if names.len() > 3 => {
            format!("{} migrations ({first} ... {last})", names.len())
        }
        _ => names.join(", "),
    };
    let reason = match cause {
        Error::Database { message, .. } => message,
        other => other.to_string(),
    };
    let them = if names.len() == 1 { "it" } else { "them" };
    Error::Database {
        context: format!("cannot record {listed} as applied"),
        message: format!(
            "{reason}\n  rolled back with {them}: the database is as it was before {them}"
        ),
    }
}

/// An applied migration that no longer matches its file.
enum HistoryMismatch<'p> {
    /// The file's bytes differ from what was applied.
    Changed(&'p Migration),
    /// The file is gone.
    Gone(NodeKey),
}

impl HistoryMismatch<'_> {
    fn key(&self) -> &NodeKey {
        match self {
            HistoryMismatch::Changed(m) => &m.key,
            HistoryMismatch::Gone(key) => key,
        }
    }

    fn message(&self) -> String {
        match self {
            HistoryMismatch::Changed(m) => format!(
                "migration {} was changed after it was applied ({}): restore the applied version, put the change in a new migration, or accept it with `luamig migrate --allow-changed`",
                m.key,
                m.display_path()
            ),
            HistoryMismatch::Gone(key) => format!(
                "migration {key} is applied but its file is gone: restore the file (to forget it without touching the schema, restore it and run `luamig migrate {} <earlier migration> --fake`)",
                key.app
            ),
        }
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

/// Calls `f(index, done, op, before, after)` for each operation of `m` in the order a run
/// visits them (last to first when unapplying; `done` counts the calls before), with the
/// states around it; returns the state after the migration (forwards) or before it
/// (backwards). Forwards, the states are made one at a time, so memory does not grow with
/// the number of operations; backwards needs them all first, and keeps each once.
fn walk_operations<F>(
    m: &Migration,
    mut state: ProjectState,
    backwards: bool,
    mut f: F,
) -> Result<ProjectState>
where
    F: FnMut(usize, usize, &Operation, &ProjectState, &ProjectState) -> Result<()>,
{
    if !backwards {
        for (i, op) in m.operations.iter().enumerate() {
            let before = state.clone();
            state_forwards(op, &m.key.app, &mut state)?;
            f(i, i, op, &before, &state)?;
        }
        return Ok(state);
    }
    let mut states = Vec::with_capacity(m.operations.len() + 1);
    states.push(state.clone());
    for op in &m.operations {
        state_forwards(op, &m.key.app, &mut state)?;
        states.push(state.clone());
    }
    for (done, (i, op)) in m.operations.iter().enumerate().rev().enumerate() {
        f(i, done, op, &states[i], &states[i + 1])?;
    }
    Ok(states.swap_remove(0))
}

/// Applies a migration's state half and checks that its relations point at real models.
pub fn apply_state(m: &Migration, state: &mut ProjectState) -> Result<()> {
    let mut touched = Vec::new();
    for op in &m.operations {
        state_forwards(op, &m.key.app, state)?;
        collect_touched(op, &mut touched);
    }
    check_relations(state, &m.key.app, &touched)
}

fn collect_touched(op: &Operation, out: &mut Vec<String>) {
    use OperationKind::*;
    match &op.kind {
        CreateModel { name, .. } => out.push(name.clone()),
        AddField { model_name, .. } | AlterField { model_name, .. } => out.push(model_name.clone()),
        RunSql {
            state_operations, ..
        }
        | SeparateDatabaseAndState {
            state_operations, ..
        } => {
            for inner in state_operations {
                collect_touched(inner, out);
            }
        }
        _ => {}
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

#[cfg(test)]
mod tests {
    use super::*;

    fn records(n: usize) -> Vec<PendingRecord> {
        (1..=n)
            .map(|i| (NodeKey::new("shop", format!("{i:04}_m")), None))
            .collect()
    }

    #[test]
    fn unrecorded_names_a_few_migrations_and_counts_many() {
        let cause = || Error::db("database error in `INSERT ...`", "history is closed");
        assert_eq!(
            unrecorded(&records(1), cause()).to_string(),
            "cannot record shop.0001_m as applied: history is closed\n  \
             rolled back with it: the database is as it was before it"
        );
        assert_eq!(
            unrecorded(&records(1000), cause()).to_string(),
            "cannot record 1000 migrations (shop.0001_m ... shop.1000_m) as applied: \
             history is closed\n  rolled back with them: the database is as it was before them"
        );
    }
}
