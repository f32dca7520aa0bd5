//! The append baseline most teams would build instead: a PostgreSQL table
//! whose BEFORE INSERT trigger chains each row to the previous one with
//! SHA-256 and whose other triggers refuse UPDATE, DELETE and TRUNCATE.
//!
//! Two ways of writing to it are measured, each with one transaction and
//! one durable commit (`synchronous_commit` as the server has it, on by
//! default) per batch, over loopback:
//!
//! - `Style::RowByRow`: one INSERT per event, as an application (or ORM)
//!   writes events one at a time; the baseline the targets are set against;
//! - `Style::MultiRow`: one INSERT of the whole batch (`unnest` of two
//!   arrays): PostgreSQL's best shot; the trigger still runs per row.
//!
//! It works in a schema of its own, dropped afterwards, so it disturbs
//! nothing else on the server.

use std::time::Instant;

use postgres::{Client, NoTls};
use sha2::{Digest as _, Sha256};

use super::{say, settle, Context};

/// The schema, table and triggers, `{schema}` replaced.
const SETUP: &str = r#"
CREATE SCHEMA {schema};
CREATE TABLE {schema}.ledger (
    position bigint PRIMARY KEY,
    record bytea NOT NULL,
    prev_hash bytea NOT NULL,
    hash bytea NOT NULL
);
CREATE FUNCTION {schema}.chain() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE previous bytea;
BEGIN
    SELECT hash INTO previous FROM {schema}.ledger ORDER BY position DESC LIMIT 1;
    NEW.prev_hash := coalesce(previous, '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea);
    NEW.hash := sha256(NEW.prev_hash || NEW.record);
    RETURN NEW;
END $$;
CREATE TRIGGER chain BEFORE INSERT ON {schema}.ledger
    FOR EACH ROW EXECUTE FUNCTION {schema}.chain();
CREATE FUNCTION {schema}.refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the ledger is append-only';
END $$;
CREATE TRIGGER append_only BEFORE UPDATE OR DELETE ON {schema}.ledger
    FOR EACH ROW EXECUTE FUNCTION {schema}.refuse();
CREATE TRIGGER no_truncate BEFORE TRUNCATE ON {schema}.ledger
    FOR EACH STATEMENT EXECUTE FUNCTION {schema}.refuse();
"#;

/// How the baseline sends its rows.
#[derive(Clone, Copy, Debug)]
pub enum Style {
    RowByRow,
    MultiRow,
}

/// Best seconds (of the run's rounds) to append every record durably, or
/// why the baseline could not run.
pub fn append(cx: &Context<'_>, records: &[Vec<u8>], style: Style) -> Result<f64, String> {
    let mut client = Client::connect(cx.postgres, NoTls)
        .map_err(|e| format!("no PostgreSQL reachable with {:?}: {e}", cx.postgres))?;
    let schema = format!("tla_bench_{}", std::process::id());
    let result = rounds(cx, &mut client, &schema, records, style);
    // Dropped whatever happened; a failure here leaves only an empty
    // schema named after this process.
    let _ = client.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
    result.map_err(|e| format!("PostgreSQL baseline failed: {e:#}"))
}

fn rounds(
    cx: &Context<'_>,
    client: &mut Client,
    schema: &str,
    records: &[Vec<u8>],
    style: Style,
) -> anyhow::Result<f64> {
    let expected = sha256_chain(records);
    let mut best = f64::MAX;
    for round in 0..cx.sizes.rounds {
        client.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))?;
        client.batch_execute(&SETUP.replace("{schema}", schema))?;
        let insert_batch = client.prepare(&format!(
            "INSERT INTO {schema}.ledger (position, record) \
             SELECT * FROM unnest($1::bigint[], $2::bytea[])"
        ))?;
        let insert_row = client.prepare(&format!(
            "INSERT INTO {schema}.ledger (position, record) VALUES ($1, $2)"
        ))?;
        settle();
        let started = Instant::now();
        for (index, chunk) in records.chunks(cx.batch).enumerate() {
            let first = (index * cx.batch) as i64;
            let mut transaction = client.transaction()?;
            match style {
                Style::RowByRow => {
                    for (offset, bytes) in chunk.iter().enumerate() {
                        let position = first + offset as i64;
                        transaction.execute(&insert_row, &[&position, &bytes.as_slice()])?;
                    }
                }
                Style::MultiRow => {
                    let positions: Vec<i64> = (first..first + chunk.len() as i64).collect();
                    let bytes: Vec<&[u8]> = chunk.iter().map(Vec::as_slice).collect();
                    transaction.execute(&insert_batch, &[&positions, &bytes])?;
                }
            }
            transaction.commit()?;
        }
        let secs = started.elapsed().as_secs_f64();
        best = best.min(secs);
        // The table must hold the same chain: same count, same last hash.
        let row = client.query_one(
            &format!(
                "SELECT count(*), (SELECT hash FROM {schema}.ledger ORDER BY position DESC LIMIT 1) \
                 FROM {schema}.ledger"
            ),
            &[],
        )?;
        let (count, last): (i64, Option<Vec<u8>>) = (row.get(0), row.get(1));
        anyhow::ensure!(
            count == records.len() as i64 && last.as_deref() == Some(expected.as_slice()),
            "the table holds {count} rows whose chain differs from the records' SHA-256 \
             chain: the baseline is broken"
        );
        say(format_args!(
            "append: round {round}: PostgreSQL {style:?} {:.0}/s",
            records.len() as f64 / secs
        ));
    }
    Ok(best)
}

/// The chain the triggers compute: SHA-256(previous hash || record).
fn sha256_chain(records: &[Vec<u8>]) -> [u8; 32] {
    let mut previous = [0u8; 32];
    for bytes in records {
        let mut hasher = Sha256::new();
        hasher.update(previous);
        hasher.update(bytes);
        previous = hasher.finalize().into();
    }
    previous
}
