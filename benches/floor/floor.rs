//! The benchmark's "floor": plain rusqlite / postgres code issuing the same SQL statements
//! as luamig's data-migration workloads (keyset SELECTs of 500 rows, one statement per row,
//! the same DDL), with prepared statements, in one transaction. What the database allows.
//!
//! Usage: floor WORKLOAD URL [FILE], WORKLOAD one of slug, uuid, orders, bulk, ddl; URL
//! `sqlite:PATH` (`sqlite:///abs/path`) or `postgres://...`. The tables of the data workloads
//! are those luamig's setup migration made (see benches/luamig_projects.py). `ddl` is
//! workload 5's apply-all on an empty database: it makes luamig's history table, runs FILE's
//! `SQL <statement>` lines in order, and writes a history row for each `RECORD <app> <name>`
//! line at the end, 500 per INSERT, as luamig writes a commit group's rows. Prints the
//! number of rows (or migrations) handled.

use std::error::Error;

use luamig::lua::stdlib::slugify;

type Res<T> = Result<T, Box<dyn Error>>;

const CHUNK: i64 = 500;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let ddl = args.len() == 4 && args[1] == "ddl";
    if args.len() != 3 && !ddl {
        eprintln!("usage: floor slug|uuid|orders|bulk URL | floor ddl URL FILE");
        std::process::exit(2);
    }
    let (workload, url) = (args[1].as_str(), args[2].as_str());
    let steps = match ddl.then(|| DdlStep::read(&args[3])).transpose() {
        Ok(steps) => steps.unwrap_or_default(),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    };
    let result = if let Some(path) = url.strip_prefix("sqlite:") {
        let path = path.strip_prefix("//").unwrap_or(path);
        sqlite::run(workload, path, &steps)
    } else {
        pg::run(workload, url, &steps)
    };
    match result {
        Ok(n) => println!("{n}"),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
    }
}

/// One line of the `ddl` workload's file.
enum DdlStep {
    Sql(String),
    Record(String, String),
}

impl DdlStep {
    fn read(path: &str) -> Res<Vec<DdlStep>> {
        let text = std::fs::read_to_string(path)?;
        text.lines()
            .map(|line| match line.split_once(' ') {
                Some(("SQL", sql)) => Ok(DdlStep::Sql(sql.to_string())),
                Some(("RECORD", rest)) => match rest.split_once(' ') {
                    Some((app, name)) => Ok(DdlStep::Record(app.into(), name.into())),
                    None => Err(format!("bad RECORD line: {line}").into()),
                },
                _ => Err(format!("bad line: {line}").into()),
            })
            .collect()
    }
}

// luamig's history rows, as src/recorder.rs writes them: up to 500 per statement.
const HISTORY_CHECKSUM: &str = "0000000000000000000000000000000000000000000000000000000000000000";
const HISTORY_ROWS_PER_INSERT: usize = 500;

/// The multi-row history INSERT for `rows` rows (placeholders `$1`, `$2`, ... as both
/// databases take them).
fn history_insert(rows: usize) -> String {
    let values: Vec<String> = (0..rows)
        .map(|i| {
            format!(
                "(${}, ${}, CURRENT_TIMESTAMP, ${})",
                3 * i + 1,
                3 * i + 2,
                3 * i + 3
            )
        })
        .collect();
    format!(
        r#"INSERT INTO "luamig_migrations" ("app", "name", "applied", "checksum") VALUES {}"#,
        values.join(", ")
    )
}

/// The `(app, name)` of each RECORD step, in order.
fn history_rows(steps: &[DdlStep]) -> Vec<(&str, &str)> {
    steps
        .iter()
        .filter_map(|step| match step {
            DdlStep::Record(app, name) => Some((app.as_str(), name.as_str())),
            DdlStep::Sql(_) => None,
        })
        .collect()
}

mod sqlite {
    use super::*;
    use rusqlite::{Connection, params};

    pub fn run(workload: &str, path: &str, steps: &[DdlStep]) -> Res<u64> {
        let mut conn = Connection::open(path)?;
        conn.execute_batch("PRAGMA foreign_keys = OFF; PRAGMA legacy_alter_table = OFF;")?;
        let tx = conn.transaction()?;
        let n = match workload {
            "slug" => slug(&tx)?,
            "uuid" => uuid(&tx)?,
            "orders" => orders(&tx)?,
            "bulk" => bulk(&tx)?,
            "ddl" => ddl(&tx, steps)?,
            _ => return Err(format!("unknown workload {workload}").into()),
        };
        // Foreign keys are off (table rebuilds break them briefly): check before commit.
        let broken: i64 =
            tx.query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
                r.get(0)
            })?;
        if broken != 0 {
            return Err(format!("{broken} rows fail the foreign key check").into());
        }
        tx.commit()?;
        Ok(n)
    }

    fn ddl(tx: &rusqlite::Transaction, steps: &[DdlStep]) -> Res<u64> {
        tx.execute(
            r#"CREATE TABLE "luamig_migrations" ("id" integer NOT NULL PRIMARY KEY AUTOINCREMENT, "app" varchar(255) NOT NULL, "name" varchar(255) NOT NULL, "applied" datetime NOT NULL, "checksum" varchar(64) NULL)"#,
            [],
        )?;
        for step in steps {
            if let DdlStep::Sql(sql) = step {
                tx.execute(sql, [])?;
            }
        }
        let rows = history_rows(steps);
        for chunk in rows.chunks(HISTORY_ROWS_PER_INSERT) {
            let params: Vec<&str> = chunk
                .iter()
                .flat_map(|(app, name)| [*app, *name, HISTORY_CHECKSUM])
                .collect();
            tx.prepare_cached(&history_insert(chunk.len()))?
                .execute(rusqlite::params_from_iter(params))?;
        }
        Ok(rows.len() as u64)
    }

    fn slug(tx: &rusqlite::Transaction) -> Res<u64> {
        let mut select = tx.prepare(
            r#"SELECT "id", "title", "slug" FROM "blog_article" WHERE "slug" = ?1 AND "id" > ?2 ORDER BY "id" ASC LIMIT ?3"#,
        )?;
        let mut update = tx.prepare(r#"UPDATE "blog_article" SET "slug" = ?1 WHERE "id" = ?2"#)?;
        let (mut after, mut n) = (0i64, 0u64);
        loop {
            let rows: Vec<(i64, String, String)> = select
                .query_map(params!["", after, CHUNK], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })?
                .collect::<Result<_, _>>()?;
            let Some(last) = rows.last() else { break };
            after = last.0;
            for (id, title, _) in &rows {
                update.execute(params![slugify(title, false), id])?;
                n += 1;
            }
        }
        Ok(n)
    }

    fn uuid(tx: &rusqlite::Transaction) -> Res<u64> {
        let n = {
            let mut select = tx.prepare(
                r#"SELECT "id", "name", "uuid" FROM "inventory_item" WHERE "id" > ?1 ORDER BY "id" ASC LIMIT ?2"#,
            )?;
            let mut update =
                tx.prepare(r#"UPDATE "inventory_item" SET "uuid" = ?1 WHERE "id" = ?2"#)?;
            let (mut after, mut n) = (0i64, 0u64);
            loop {
                let rows: Vec<(i64, String, Option<String>)> = select
                    .query_map(params![after, CHUNK], |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                    })?
                    .collect::<Result<_, _>>()?;
                let Some(last) = rows.last() else { break };
                after = last.0;
                for (id, _, _) in &rows {
                    // Stored as Django does on SQLite: 32 hex digits, no hyphens.
                    let value = uuid::Uuid::new_v4().simple().to_string();
                    update.execute(params![value, id])?;
                    n += 1;
                }
            }
            n
        };
        // AlterField to unique (and NOT NULL): SQLite rebuilds the table.
        tx.execute_batch(
            r#"CREATE TABLE "new__inventory_item" ("id" integer NOT NULL PRIMARY KEY AUTOINCREMENT, "name" varchar(100) NOT NULL, "uuid" char(32) NOT NULL UNIQUE);
INSERT INTO "new__inventory_item" ("id", "name", "uuid") SELECT "id", "name", "uuid" FROM "inventory_item";
DROP TABLE "inventory_item";
ALTER TABLE "new__inventory_item" RENAME TO "inventory_item";"#,
        )?;
        Ok(n)
    }

    fn orders(tx: &rusqlite::Transaction) -> Res<u64> {
        tx.execute_batch(
            r#"CREATE TABLE "shop_customer" ("id" integer NOT NULL PRIMARY KEY AUTOINCREMENT, "name" varchar(50) NOT NULL, "city" varchar(50) NOT NULL);
ALTER TABLE "shop_order" ADD COLUMN "customer_id" integer NULL REFERENCES "shop_customer" ("id") DEFERRABLE INITIALLY DEFERRED;
CREATE UNIQUE INDEX "shop_customer_name_city_97b14523_uniq" ON "shop_customer" ("name", "city");
CREATE INDEX "shop_order_customer_id_f638df20" ON "shop_order" ("customer_id");"#,
        )?;
        let n = {
            let mut select = tx.prepare(
                r#"SELECT "id", "customer_name", "customer_city", "customer_id" FROM "shop_order" WHERE "id" > ?1 ORDER BY "id" ASC LIMIT ?2"#,
            )?;
            let mut get = tx.prepare(
                r#"SELECT "id", "name", "city" FROM "shop_customer" WHERE "city" = ?1 AND "name" = ?2 LIMIT 21"#,
            )?;
            let mut create =
                tx.prepare(r#"INSERT INTO "shop_customer" ("name", "city") VALUES (?1, ?2)"#)?;
            let mut save = tx.prepare(
                r#"UPDATE "shop_order" SET "customer_name" = ?1, "customer_city" = ?2, "customer_id" = ?3 WHERE "id" = ?4"#,
            )?;
            let (mut after, mut n) = (0i64, 0u64);
            loop {
                let rows: Vec<(i64, String, String, Option<i64>)> = select
                    .query_map(params![after, CHUNK], |r| {
                        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
                    })?
                    .collect::<Result<_, _>>()?;
                let Some(last) = rows.last() else { break };
                after = last.0;
                for (id, name, city, _) in &rows {
                    let found: Vec<i64> = get
                        .query_map(params![city, name], |r| r.get(0))?
                        .collect::<Result<_, _>>()?;
                    let customer = match found.first() {
                        Some(c) => *c,
                        None => {
                            create.execute(params![name, city])?;
                            tx.last_insert_rowid()
                        }
                    };
                    save.execute(params![name, city, customer, id])?;
                    n += 1;
                }
            }
            n
        };
        tx.execute_batch(
            r#"ALTER TABLE "shop_order" DROP COLUMN "customer_name";
ALTER TABLE "shop_order" DROP COLUMN "customer_city";
CREATE TABLE "new__shop_order" ("id" integer NOT NULL PRIMARY KEY AUTOINCREMENT, "customer_id" integer NOT NULL REFERENCES "shop_customer" ("id") DEFERRABLE INITIALLY DEFERRED);
INSERT INTO "new__shop_order" ("id", "customer_id") SELECT "id", "customer_id" FROM "shop_order";
DROP TABLE "shop_order";
ALTER TABLE "new__shop_order" RENAME TO "shop_order";
CREATE INDEX "shop_order_customer_id_f638df20" ON "shop_order" ("customer_id");"#,
        )?;
        Ok(n)
    }

    fn bulk(tx: &rusqlite::Transaction) -> Res<u64> {
        let n = tx.execute(
            r#"UPDATE "catalog_product" SET "status" = ?1"#,
            params!["draft"],
        )?;
        tx.execute(
            r#"UPDATE "catalog_product" SET "price" = ("catalog_product"."price" + ?1)"#,
            params![1],
        )?;
        Ok(n as u64)
    }
}

mod pg {
    use super::*;
    use postgres::{Client, NoTls, Transaction};

    pub fn run(workload: &str, url: &str, steps: &[DdlStep]) -> Res<u64> {
        let mut client = Client::connect(url, NoTls)?;
        let mut tx = client.transaction()?;
        let n = match workload {
            "slug" => slug(&mut tx)?,
            "uuid" => uuid(&mut tx)?,
            "orders" => orders(&mut tx)?,
            "bulk" => bulk(&mut tx)?,
            "ddl" => ddl(&mut tx, steps)?,
            _ => return Err(format!("unknown workload {workload}").into()),
        };
        tx.commit()?;
        Ok(n)
    }

    fn ddl(tx: &mut Transaction, steps: &[DdlStep]) -> Res<u64> {
        tx.batch_execute(
            r#"CREATE TABLE "luamig_migrations" ("id" integer NOT NULL PRIMARY KEY GENERATED BY DEFAULT AS IDENTITY, "app" varchar(255) NOT NULL, "name" varchar(255) NOT NULL, "applied" timestamp with time zone NOT NULL, "checksum" varchar(64) NULL)"#,
        )?;
        for step in steps {
            if let DdlStep::Sql(sql) = step {
                tx.batch_execute(sql)?;
            }
        }
        let rows = history_rows(steps);
        for chunk in rows.chunks(HISTORY_ROWS_PER_INSERT) {
            let params: Vec<&(dyn postgres::types::ToSql + Sync)> = chunk
                .iter()
                .flat_map(|(app, name)| {
                    [
                        app as &(dyn postgres::types::ToSql + Sync),
                        name,
                        &HISTORY_CHECKSUM,
                    ]
                })
                .collect();
            tx.execute(&history_insert(chunk.len()), &params)?;
        }
        Ok(rows.len() as u64)
    }

    fn slug(tx: &mut Transaction) -> Res<u64> {
        let select = tx.prepare(
            r#"SELECT "id", "title", "slug" FROM "blog_article" WHERE "slug" = $1 AND "id" > $2 ORDER BY "id" ASC LIMIT $3"#,
        )?;
        let update = tx.prepare(r#"UPDATE "blog_article" SET "slug" = $1 WHERE "id" = $2"#)?;
        let (mut after, mut n) = (0i32, 0u64);
        loop {
            let rows = tx.query(&select, &[&"", &after, &CHUNK])?;
            let Some(last) = rows.last() else { break };
            after = last.get(0);
            for row in &rows {
                let (id, title): (i32, &str) = (row.get(0), row.get(1));
                tx.execute(&update, &[&slugify(title, false), &id])?;
                n += 1;
            }
        }
        Ok(n)
    }

    fn uuid(tx: &mut Transaction) -> Res<u64> {
        let select = tx.prepare(
            r#"SELECT "id", "name", "uuid" FROM "inventory_item" WHERE "id" > $1 ORDER BY "id" ASC LIMIT $2"#,
        )?;
        let update = tx.prepare(r#"UPDATE "inventory_item" SET "uuid" = $1 WHERE "id" = $2"#)?;
        let (mut after, mut n) = (0i32, 0u64);
        loop {
            let rows = tx.query(&select, &[&after, &CHUNK])?;
            let Some(last) = rows.last() else { break };
            after = last.get(0);
            for row in &rows {
                let id: i32 = row.get(0);
                tx.execute(&update, &[&uuid::Uuid::new_v4(), &id])?;
                n += 1;
            }
        }
        tx.batch_execute(
            r#"ALTER TABLE "inventory_item" ALTER COLUMN "uuid" SET NOT NULL;
ALTER TABLE "inventory_item" ADD CONSTRAINT "inventory_item_uuid_fc00604e_uniq" UNIQUE ("uuid");"#,
        )?;
        Ok(n)
    }

    fn orders(tx: &mut Transaction) -> Res<u64> {
        tx.batch_execute(
            r#"CREATE TABLE "shop_customer" ("id" integer NOT NULL PRIMARY KEY GENERATED BY DEFAULT AS IDENTITY, "name" varchar(50) NOT NULL, "city" varchar(50) NOT NULL);
ALTER TABLE "shop_order" ADD COLUMN "customer_id" integer NULL;
ALTER TABLE "shop_customer" ADD CONSTRAINT "shop_customer_name_city_97b14523_uniq" UNIQUE ("name", "city");
ALTER TABLE "shop_order" ADD CONSTRAINT "shop_order_customer_id_f638df20_fk_shop_customer_id" FOREIGN KEY ("customer_id") REFERENCES "shop_customer" ("id") DEFERRABLE INITIALLY DEFERRED;
CREATE INDEX "shop_order_customer_id_f638df20" ON "shop_order" ("customer_id");"#,
        )?;
        let select = tx.prepare(
            r#"SELECT "id", "customer_name", "customer_city", "customer_id" FROM "shop_order" WHERE "id" > $1 ORDER BY "id" ASC LIMIT $2"#,
        )?;
        let get = tx.prepare(
            r#"SELECT "id", "name", "city" FROM "shop_customer" WHERE "city" = $1 AND "name" = $2 LIMIT 21"#,
        )?;
        let create = tx.prepare(
            r#"INSERT INTO "shop_customer" ("name", "city") VALUES ($1, $2) RETURNING "id""#,
        )?;
        let save = tx.prepare(
            r#"UPDATE "shop_order" SET "customer_name" = $1, "customer_city" = $2, "customer_id" = $3 WHERE "id" = $4"#,
        )?;
        let (mut after, mut n) = (0i32, 0u64);
        loop {
            let rows = tx.query(&select, &[&after, &CHUNK])?;
            let Some(last) = rows.last() else { break };
            after = last.get(0);
            for row in &rows {
                let (id, name, city): (i32, &str, &str) = (row.get(0), row.get(1), row.get(2));
                let found = tx.query(&get, &[&city, &name])?;
                let customer: i32 = match found.first() {
                    Some(c) => c.get(0),
                    None => tx.query_one(&create, &[&name, &city])?.get(0),
                };
                tx.execute(&save, &[&name, &city, &customer, &id])?;
                n += 1;
            }
        }
        tx.batch_execute(
            r#"SET CONSTRAINTS ALL IMMEDIATE;
SET CONSTRAINTS ALL DEFERRED;
ALTER TABLE "shop_order" DROP COLUMN "customer_name" CASCADE;
ALTER TABLE "shop_order" DROP COLUMN "customer_city" CASCADE;
ALTER TABLE "shop_order" ALTER COLUMN "customer_id" SET NOT NULL;"#,
        )?;
        Ok(n)
    }

    fn bulk(tx: &mut Transaction) -> Res<u64> {
        let n = tx.execute(r#"UPDATE "catalog_product" SET "status" = $1"#, &[&"draft"])?;
        tx.execute(
            r#"UPDATE "catalog_product" SET "price" = ("catalog_product"."price" + $1)"#,
            &[&1i32],
        )?;
        Ok(n)
    }
}
