//! PostgreSQL through the `postgres` crate. Parameters are converted to whatever type the
//! server infers for each placeholder, so the engine can bind its backend-neutral values.

use std::collections::HashMap;
use std::error::Error as StdError;
use std::rc::Rc;

use postgres::types::{IsNull, ToSql, Type, to_sql_checked};
use postgres::{Client, NoTls, Statement};
use rust_decimal::Decimal;

use super::read_cache::{ExactColumn, ReadCache, TableFacts};
use super::{Connection, InsertSql, Rows, Vendor, quote_name};
use crate::error::{Error, Result};
use crate::settings::DatabaseUrl;
use crate::value::Value;

/// An open PostgreSQL connection with a cache of prepared statements.
pub struct PostgresConnection {
    client: Client,
    statements: HashMap<String, Statement>,
    /// Lookup results kept while this transaction holds their tables locked against other
    /// writers (see [`super::read_cache`]).
    reads: ReadCache,
}

/// What the read cache needs to know of table `$1` (quoted), as one row of two booleans and
/// a JSON object (no row: no such table). Lookups of it may be kept: a plain table that this transaction
/// holds locked in a mode other sessions' INSERT, UPDATE and DELETE wait for (a lock lasts
/// until the transaction ends or rolls back to a savepoint). Writes to it stay inside: no
/// trigger or rule, but the internal ones that only check (a foreign key's check or NO
/// ACTION / RESTRICT, a deferrable unique constraint's recheck; an action such as ON
/// DELETE CASCADE writes to another table). Its columns that compare exactly, by name:
/// integers ("i"), booleans ("b") and text or varchar under a deterministic collation ("t").
const TABLE_FACTS: &str = "SELECT c.relkind = 'r' AND NOT c.relispartition AND NOT c.relhassubclass \
         AND NOT c.relrowsecurity \
         AND EXISTS (SELECT 1 FROM pg_locks l WHERE l.locktype = 'relation' AND l.relation = c.oid \
             AND l.pid = pg_backend_pid() AND l.granted \
             AND l.mode IN ('ShareLock', 'ShareRowExclusiveLock', 'ExclusiveLock', 'AccessExclusiveLock')), \
     NOT EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgrelid = c.oid AND NOT (t.tgisinternal \
             AND t.tgfoid IN (SELECT p.oid FROM pg_proc p WHERE p.pronamespace = 'pg_catalog'::regnamespace \
                 AND p.proname IN ('RI_FKey_check_ins', 'RI_FKey_check_upd', 'RI_FKey_noaction_del', \
                     'RI_FKey_noaction_upd', 'RI_FKey_restrict_del', 'RI_FKey_restrict_upd', \
                     'unique_key_recheck')))) \
         AND NOT EXISTS (SELECT 1 FROM pg_rewrite r WHERE r.ev_class = c.oid AND r.rulename <> '_RETURN'), \
     (SELECT coalesce(json_object_agg(a.attname, CASE WHEN a.atttypid = 'bool'::regtype THEN 'b' \
                 WHEN a.atttypid IN ('text'::regtype, 'varchar'::regtype) THEN 't' ELSE 'i' END), '{}'::json) \
         FROM pg_attribute a LEFT JOIN pg_collation co ON co.oid = a.attcollation \
         WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped \
             AND (a.atttypid IN ('int2'::regtype, 'int4'::regtype, 'int8'::regtype, 'bool'::regtype) \
                 OR (a.atttypid IN ('text'::regtype, 'varchar'::regtype) AND co.collisdeterministic))) \
     FROM pg_class c WHERE c.oid = to_regclass($1)";

impl PostgresConnection {
    /// Connects; errors name the server without the password.
    pub fn connect(url: &DatabaseUrl, connect_timeout: std::time::Duration) -> Result<Self> {
        let DatabaseUrl::Postgres {
            user,
            password,
            host,
            port,
            dbname,
            options,
        } = url
        else {
            return Err(Error::Settings("not a PostgreSQL URL".into()));
        };
        let mut config = postgres::Config::new();
        config
            .host(host)
            .port(*port)
            .dbname(dbname)
            .connect_timeout(connect_timeout);
        config.application_name("luamig");
        if let Some(u) = user {
            config.user(u);
        } else {
            config.user(&std::env::var("USER").unwrap_or_else(|_| "postgres".into()));
        }
        if let Some(p) = password {
            config.password(p);
        }
        for (k, v) in options {
            match (k.as_str(), v.as_str()) {
                ("sslmode", "disable" | "prefer" | "allow") => {}
                ("sslmode", other) => {
                    return Err(Error::Settings(format!(
                        "{}: sslmode={other} needs TLS, which luamig does not support yet (use sslmode=disable)",
                        url.redacted()
                    )));
                }
                ("application_name", name) => {
                    config.application_name(name);
                }
                ("connect_timeout", secs) => {
                    let s: u64 = secs.parse().map_err(|_| {
                        Error::Settings(format!(
                            "{}: connect_timeout must be seconds",
                            url.redacted()
                        ))
                    })?;
                    config.connect_timeout(std::time::Duration::from_secs(s));
                }
                ("options", opts) => {
                    config.options(opts);
                }
                (other, _) => {
                    return Err(Error::Settings(format!(
                        "{}: unsupported URL option '{other}'",
                        url.redacted()
                    )));
                }
            }
        }
        let client = config.connect(NoTls).map_err(|e| {
            // The crate's message ("error connecting to server") hides the cause.
            let mut msg = match e.source() {
                Some(cause) if !e.to_string().contains(&cause.to_string()) => {
                    format!("{e}: {cause}")
                }
                _ => e.to_string(),
            };
            if let Some(p) = password.as_deref().filter(|p| !p.is_empty()) {
                msg = msg.replace(p, "***");
            }
            Error::Settings(format!("cannot connect to {}: {msg}", url.redacted()))
        })?;
        crate::interrupt::register(crate::interrupt::Canceller::Postgres(client.cancel_token()));
        Ok(PostgresConnection {
            client,
            statements: HashMap::new(),
            reads: ReadCache::default(),
        })
    }

    /// `error` after forgetting every kept answer: an error aborts the transaction, and the
    /// next statement, a lookup too, must meet that as it would without them.
    fn failed(&mut self, error: postgres::Error) -> String {
        self.reads.forget_all();
        pg_message(error)
    }

    /// [`Connection::execute`] without forgetting kept answers.
    fn run(&mut self, sql: &str, params: &[Value]) -> std::result::Result<u64, String> {
        if params.is_empty() {
            // Statements without parameters (DDL, BEGIN, ...) go through the simple protocol.
            return match self.client.batch_execute(sql) {
                Ok(()) => Ok(0),
                Err(e) => Err(self.failed(e)),
            };
        }
        let stmt = self.statement(sql)?;
        let params: Vec<Param> = params.iter().map(Param).collect();
        let refs: Vec<&(dyn ToSql + Sync)> =
            params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
        match self.client.execute(&stmt, &refs) {
            Ok(n) => Ok(n),
            Err(e) => Err(self.failed(e)),
        }
    }

    /// [`Connection::query`] without forgetting kept answers.
    fn fetch(&mut self, sql: &str, params: &[Value]) -> std::result::Result<Rows, String> {
        let stmt = self.statement(sql)?;
        let params: Vec<Param> = params.iter().map(Param).collect();
        let refs: Vec<&(dyn ToSql + Sync)> =
            params.iter().map(|p| p as &(dyn ToSql + Sync)).collect();
        let rows = match self.client.query(&stmt, &refs) {
            Ok(rows) => rows,
            Err(e) => return Err(self.failed(e)),
        };
        let columns = stmt
            .columns()
            .iter()
            .map(|c| c.name().to_string())
            .collect::<Vec<_>>();
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let mut values = Vec::with_capacity(columns.len());
            for i in 0..columns.len() {
                values.push(read(row, i)?);
            }
            out.push(values);
        }
        Ok(Rows { columns, rows: out })
    }

    /// What the read cache knows of `table`, asked once (see [`TABLE_FACTS`]).
    fn facts_of(&mut self, table: &str) -> std::result::Result<&TableFacts, String> {
        if self.reads.facts(table).is_none() {
            let rows = self.fetch(TABLE_FACTS, &[Value::Text(quote_name(table))])?;
            let row = rows.rows.first();
            let flag = |i: usize| matches!(row.and_then(|r| r.get(i)), Some(Value::Bool(true)));
            let mut exact_columns = rustc_hash::FxHashMap::default();
            if let Some(Value::Json(serde_json::Value::Object(columns))) =
                row.and_then(|r| r.get(2))
            {
                for (name, kind) in columns {
                    let kind = match kind.as_str() {
                        Some("i") => ExactColumn::Integer,
                        Some("b") => ExactColumn::Boolean,
                        Some("t") => ExactColumn::Text,
                        _ => continue,
                    };
                    exact_columns.insert(name.clone(), kind);
                }
            }
            let facts = TableFacts {
                keeps_answers: flag(0),
                writes_stay_inside: flag(1),
                exact_columns: Rc::new(exact_columns),
                rowid_reads: false,
                rowid_column: None,
            };
            self.reads.learn(table, facts);
        }
        Ok(self.reads.facts(table).expect("learnt above"))
    }

    /// Before the ORM's row write to `table`: forgets the answers it may change, that
    /// table's when its writes stay inside it, else all.
    fn forget_written(&mut self, table: &str) -> std::result::Result<(), String> {
        if self.reads.is_empty() {
            return Ok(());
        }
        if self.facts_of(table)?.writes_stay_inside {
            self.reads.forget_table(table);
        } else {
            self.reads.forget_all();
        }
        Ok(())
    }

    fn statement(&mut self, sql: &str) -> std::result::Result<Statement, String> {
        if let Some(s) = self.statements.get(sql) {
            return Ok(s.clone());
        }
        let s = match self.client.prepare(sql) {
            Ok(s) => s,
            Err(e) => return Err(self.failed(e)),
        };
        if self.statements.len() > 256 {
            self.statements.clear();
        }
        self.statements.insert(sql.to_string(), s.clone());
        Ok(s)
    }
}

/// The server's message (and detail) rather than the crate's generic "db error".
fn pg_message(e: postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => match db.detail() {
            Some(d) => format!("{}: {} ({d})", db.severity(), db.message()),
            None => format!("{}: {}", db.severity(), db.message()),
        },
        None => e.to_string(),
    }
}

/// A value bound to a placeholder of whatever type the server chose for it.
#[derive(Debug)]
struct Param<'a>(&'a Value);

type BoxErr = Box<dyn StdError + Sync + Send>;

impl ToSql for Param<'_> {
    fn to_sql(&self, ty: &Type, out: &mut bytes::BytesMut) -> std::result::Result<IsNull, BoxErr> {
        match self.0 {
            Value::Null => Ok(IsNull::Yes),
            Value::Bool(b) => match *ty {
                Type::BOOL => b.to_sql(ty, out),
                _ if is_int(ty) => int_to_sql(*b as i64, ty, out),
                _ => (if *b { "true" } else { "false" }).to_sql(&Type::TEXT, out),
            },
            Value::Int(i) => match *ty {
                Type::BOOL => (*i != 0).to_sql(ty, out),
                Type::FLOAT4 => (*i as f32).to_sql(ty, out),
                Type::FLOAT8 => (*i as f64).to_sql(ty, out),
                Type::NUMERIC => Decimal::from(*i).to_sql(ty, out),
                _ if is_int(ty) => int_to_sql(*i, ty, out),
                _ => text_to_sql(&i.to_string(), ty, out),
            },
            Value::Float(f) => match *ty {
                Type::FLOAT4 => (*f as f32).to_sql(ty, out),
                Type::FLOAT8 => f.to_sql(ty, out),
                Type::NUMERIC => Decimal::try_from(*f)
                    .map_err(|e| -> BoxErr { e.to_string().into() })?
                    .to_sql(ty, out),
                _ if is_int(ty) && f.fract() == 0.0 => int_to_sql(*f as i64, ty, out),
                _ => text_to_sql(&f.to_string(), ty, out),
            },
            Value::Decimal(d) => match *ty {
                Type::NUMERIC => d.to_sql(ty, out),
                Type::FLOAT4 | Type::FLOAT8 => text_to_sql(&d.to_string(), ty, out),
                _ if is_int(ty) => int_to_sql(
                    i64::try_from(*d).map_err(|e| -> BoxErr { e.to_string().into() })?,
                    ty,
                    out,
                ),
                _ => text_to_sql(&d.to_string(), ty, out),
            },
            Value::Text(s) => text_to_sql(s, ty, out),
            Value::Bytes(b) => match *ty {
                Type::BYTEA => b.as_slice().to_sql(ty, out),
                _ => text_to_sql(&String::from_utf8_lossy(b), ty, out),
            },
            Value::Json(j) => match *ty {
                Type::JSON | Type::JSONB => postgres::types::Json(j).to_sql(ty, out),
                _ => text_to_sql(&j.to_string(), ty, out),
            },
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

fn is_int(ty: &Type) -> bool {
    matches!(*ty, Type::INT2 | Type::INT4 | Type::INT8 | Type::OID)
}

fn int_to_sql(i: i64, ty: &Type, out: &mut bytes::BytesMut) -> std::result::Result<IsNull, BoxErr> {
    let range = |what: &str| -> BoxErr { format!("{i} is out of range for {what}").into() };
    match *ty {
        Type::INT2 => i16::try_from(i)
            .map_err(|_| range("smallint"))?
            .to_sql(ty, out),
        Type::INT4 => i32::try_from(i)
            .map_err(|_| range("integer"))?
            .to_sql(ty, out),
        Type::OID => u32::try_from(i).map_err(|_| range("oid"))?.to_sql(ty, out),
        _ => i.to_sql(&Type::INT8, out),
    }
}

/// Text to a typed placeholder: parsed into the type's binary form.
fn text_to_sql(
    s: &str,
    ty: &Type,
    out: &mut bytes::BytesMut,
) -> std::result::Result<IsNull, BoxErr> {
    let bad = |what: &str| -> BoxErr { format!("'{s}' is not a valid {what}").into() };
    match *ty {
        Type::UUID => uuid::Uuid::parse_str(s.trim())
            .map_err(|_| bad("UUID"))?
            .to_sql(ty, out),
        Type::TIMESTAMPTZ => parse_datetime(s)
            .ok_or_else(|| bad("datetime"))?
            .to_sql(ty, out),
        Type::TIMESTAMP => parse_datetime(s)
            .ok_or_else(|| bad("datetime"))?
            .naive_utc()
            .to_sql(ty, out),
        Type::DATE => chrono::NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
            .map_err(|_| bad("date"))?
            .to_sql(ty, out),
        Type::TIME => chrono::NaiveTime::parse_from_str(s.trim(), "%H:%M:%S%.f")
            .map_err(|_| bad("time"))?
            .to_sql(ty, out),
        Type::NUMERIC => crate::lua::decimal::parse(s)
            .map_err(|_| bad("decimal"))?
            .to_sql(ty, out),
        Type::BOOL => match s.trim() {
            "true" | "t" | "1" => true.to_sql(ty, out),
            "false" | "f" | "0" => false.to_sql(ty, out),
            _ => Err(bad("boolean")),
        },
        Type::FLOAT4 => s
            .trim()
            .parse::<f32>()
            .map_err(|_| bad("number"))?
            .to_sql(ty, out),
        Type::FLOAT8 => s
            .trim()
            .parse::<f64>()
            .map_err(|_| bad("number"))?
            .to_sql(ty, out),
        _ if is_int(ty) => int_to_sql(
            s.trim().parse::<i64>().map_err(|_| bad("integer"))?,
            ty,
            out,
        ),
        Type::JSON | Type::JSONB => {
            let v: serde_json::Value = serde_json::from_str(s)
                .unwrap_or_else(|_| serde_json::Value::String(s.to_string()));
            postgres::types::Json(v).to_sql(ty, out)
        }
        Type::BYTEA => s.as_bytes().to_sql(ty, out),
        _ => s.to_sql(&Type::TEXT, out),
    }
}

fn parse_datetime(s: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    let t = s.trim();
    chrono::DateTime::parse_from_rfc3339(t)
        .map(|d| d.with_timezone(&chrono::Utc))
        .ok()
        .or_else(|| {
            chrono::DateTime::parse_from_str(t, "%Y-%m-%d %H:%M:%S%.f%#z")
                .ok()
                .map(|d| d.with_timezone(&chrono::Utc))
        })
        .or_else(|| {
            chrono::NaiveDateTime::parse_from_str(t, "%Y-%m-%d %H:%M:%S%.f")
                .ok()
                .map(|n| n.and_utc())
        })
        .or_else(|| {
            chrono::NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S%.f")
                .ok()
                .map(|n| n.and_utc())
        })
}

fn read(row: &postgres::Row, i: usize) -> std::result::Result<Value, String> {
    let ty = row.columns()[i].type_().clone();
    let e = |err: postgres::Error| err.to_string();
    macro_rules! get {
        ($t:ty, $f:expr) => {{
            let v: Option<$t> = row.try_get(i).map_err(e)?;
            Ok(v.map($f).unwrap_or(Value::Null))
        }};
    }
    match ty {
        Type::BOOL => get!(bool, Value::Bool),
        Type::INT2 => get!(i16, |x| Value::Int(x as i64)),
        Type::INT4 => get!(i32, |x| Value::Int(x as i64)),
        Type::INT8 => get!(i64, Value::Int),
        Type::OID => get!(u32, |x| Value::Int(x as i64)),
        Type::FLOAT4 => get!(f32, |x| Value::Float(x as f64)),
        Type::FLOAT8 => get!(f64, Value::Float),
        Type::NUMERIC => get!(Decimal, Value::Decimal),
        Type::UUID => get!(uuid::Uuid, |u| Value::Text(u.hyphenated().to_string())),
        Type::TIMESTAMPTZ => get!(chrono::DateTime<chrono::Utc>, |d| Value::Text(
            d.format("%Y-%m-%d %H:%M:%S%.f").to_string()
        )),
        Type::TIMESTAMP => get!(chrono::NaiveDateTime, |d| Value::Text(
            d.format("%Y-%m-%d %H:%M:%S%.f").to_string()
        )),
        Type::DATE => get!(chrono::NaiveDate, |d| Value::Text(
            d.format("%Y-%m-%d").to_string()
        )),
        Type::TIME => get!(chrono::NaiveTime, |d| Value::Text(
            d.format("%H:%M:%S%.f").to_string()
        )),
        Type::JSON | Type::JSONB => get!(
            postgres::types::Json<serde_json::Value>,
            |j| Value::Json(j.0)
        ),
        Type::BYTEA => get!(Vec<u8>, Value::Bytes),
        _ => {
            let v: std::result::Result<Option<String>, _> = row.try_get(i);
            match v {
                Ok(v) => Ok(v.map(Value::Text).unwrap_or(Value::Null)),
                Err(_) => Err(format!("cannot read a column of type {}", ty.name())),
            }
        }
    }
}

impl Connection for PostgresConnection {
    fn vendor(&self) -> Vendor {
        Vendor::Postgres
    }

    fn execute(&mut self, sql: &str, params: &[Value]) -> std::result::Result<u64, String> {
        self.reads.forget_all();
        self.run(sql, params)
    }

    fn execute_writing(
        &mut self,
        table: &str,
        sql: &str,
        params: &[Value],
    ) -> std::result::Result<u64, String> {
        self.forget_written(table)?;
        self.run(sql, params)
    }

    fn execute_batch(&mut self, sql: &str) -> std::result::Result<(), String> {
        self.reads.forget_all();
        self.client.batch_execute(sql).map_err(|e| self.failed(e))
    }

    fn execute_control(&mut self, sql: &str) -> std::result::Result<(), String> {
        self.client.batch_execute(sql).map_err(|e| self.failed(e))
    }

    fn query(&mut self, sql: &str, params: &[Value]) -> std::result::Result<Rows, String> {
        self.reads.forget_all();
        self.fetch(sql, params)
    }

    fn query_reading(&mut self, sql: &str, params: &[Value]) -> std::result::Result<Rows, String> {
        self.fetch(sql, params)
    }

    fn query_writing(
        &mut self,
        table: &str,
        sql: &str,
        params: &[Value],
    ) -> std::result::Result<Rows, String> {
        self.forget_written(table)?;
        self.fetch(sql, params)
    }

    fn query_inserting(
        &mut self,
        table: &str,
        sql: InsertSql<'_>,
        params: &[Value],
    ) -> std::result::Result<Rows, String> {
        let stays_inside = self.reads.is_empty() || self.facts_of(table)?.writes_stay_inside;
        // A failed INSERT forgets everything (see `failed`); a done one what its row could
        // change.
        let rows = self.fetch(sql.returning, params)?;
        self.reads.forget_inserted(table, &rows, stays_inside);
        Ok(rows)
    }

    fn query_cached(
        &mut self,
        table: &str,
        (sql, columns): (&str, &Rc<[String]>),
        params: &[Value],
    ) -> std::result::Result<Rc<Rows>, String> {
        // What is known of a table costs a round trip: asked only when it is looked up
        // again since everything was last forgotten (a loop of raw SQL and one lookup each
        // never asks).
        if self.reads.facts(table).is_none() && self.reads.first_lookup(table) {
            return self.fetch(sql, params).map(Rc::new);
        }
        if !self.facts_of(table)?.keeps_answers {
            return self.fetch(sql, params).map(Rc::new);
        }
        if let Some(rows) = self.reads.get(table, sql, params) {
            return Ok(rows.clone());
        }
        let rows = self.fetch(sql, params)?;
        Ok(self.reads.keep(table, (sql, columns), params, rows))
    }

    fn kept_answer(&mut self, table: &str, sql: &str, key: &[u8]) -> Option<Rc<Rows>> {
        // Answers are kept only of tables whose facts allow it (see `query_cached`).
        self.reads.get_by_key(table, sql, key).cloned()
    }

    fn table_facts(&mut self, table: &str) -> Result<TableFacts, String> {
        self.facts_of(table).cloned()
    }

    fn table_names(&mut self) -> std::result::Result<Vec<String>, String> {
        let rows = self.query(
            "SELECT tablename::text FROM pg_tables WHERE schemaname = current_schema() ORDER BY 1",
            &[],
        )?;
        Ok(rows.first_column_text())
    }

    fn column_names(&mut self, table: &str) -> std::result::Result<Vec<String>, String> {
        let rows = self.query(
            "SELECT column_name::text FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
            &[Value::Text(table.to_string())],
        )?;
        Ok(rows.first_column_text())
    }

    fn placeholder(&self, n: usize) -> String {
        format!("${n}")
    }
}
