//! How fast the same event rows go in without the HTTP server: through the store crate
//! (`Store::insert_batch`, the path the server's batch endpoint takes) and, as a pure
//! database ceiling, as plain SQL into a scratch table (multi-row `INSERT`, and `COPY`
//! through `psql` on PostgreSQL).

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use llmlab_store::{Backend, NewEvent, NewUser, Store};

use crate::Result;

/// One way of inserting rows, and how long it took.
#[derive(Debug, Clone)]
pub struct InsertRun {
    pub label: String,
    pub events: u64,
    pub writers: usize,
    pub elapsed: Duration,
}

impl InsertRun {
    pub fn events_per_sec(&self) -> f64 {
        super::load::per_sec(self.events, self.elapsed)
    }
}

/// The event columns a client's call fills; the scratch tables have exactly these.
const COLUMNS: &str = "workspace_id, event_id, provider, model, resolved_model, input_tokens, \
     output_tokens, cached_input_tokens, cache_write_tokens, reasoning_tokens, batch, \
     cost_nanos, cost_source, price_effective_from, ts, latency_ms, tags_json, created_at";

/// Inserts `batches` chunks (cycling through `chunks`) with `writers` threads, each
/// taking the next chunk when done with its last; returns the wall time.
fn in_parallel(
    writers: usize,
    batches: u64,
    insert: impl Fn(u64) -> Result<()> + Sync,
) -> Result<Duration> {
    let next = AtomicU64::new(0);
    let started = Instant::now();
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..writers.max(1))
            .map(|_| {
                scope.spawn(|| {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= batches {
                            return Ok(());
                        }
                        insert(i)?;
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .map_err(|_| "an insert thread panicked".to_string())?
            })
            .collect::<Result<Vec<()>>>()
    })?;
    Ok(started.elapsed())
}

fn chunk_at(chunks: &[Vec<NewEvent>], i: u64) -> Result<&[NewEvent]> {
    let len = u64::try_from(chunks.len()).map_err(|e| e.to_string())?;
    let index = usize::try_from(i % len.max(1)).map_err(|e| e.to_string())?;
    chunks
        .get(index)
        .map(Vec::as_slice)
        .ok_or_else(|| "no rows to insert".to_string())
}

fn rows_in(chunks: &[Vec<NewEvent>], batches: u64) -> Result<u64> {
    (0..batches).try_fold(0u64, |n, i| Ok(n + chunk_at(chunks, i)?.len() as u64))
}

/// A migrated store on `url` with one user's personal workspace owning the rows.
pub fn open(url: &str, writers: usize) -> Result<(Store, i64)> {
    let pool = u32::try_from(writers.max(1)).map_err(|e| e.to_string())?;
    let store = Store::connect(url, pool).map_err(|e| format!("{url}: {e}"))?;
    let user = store
        .create_user(&NewUser {
            email: format!("ceiling-{:08x}@example.com", rand::random::<u32>()),
            password_hash: "not-a-hash".into(),
        })
        .map_err(|e| e.to_string())?;
    let workspace = store
        .with_conn(|c| llmlab_store::workspaces::personal(c, user.id))
        .map_err(|e| e.to_string())?;
    Ok((store, workspace.get()))
}

/// What each ceiling writes: `batches` chunks (cycling through `chunks`) by `writers`
/// threads into `store`, for workspace `user_id`.
pub struct Load<'a> {
    /// The database.
    pub store: &'a Store,
    /// The workspace written to.
    pub user_id: i64,
    /// The chunks, cycled through.
    pub chunks: &'a [Vec<NewEvent>],
    /// How many chunks to write.
    pub batches: u64,
    /// How many threads write.
    pub writers: usize,
}

/// `Store::insert_batch`, one chunk per call, as the server's batch endpoint does.
pub fn through_store(load: &Load<'_>) -> Result<InsertRun> {
    let elapsed = in_parallel(load.writers, load.batches, |i| {
        let chunk = chunk_at(load.chunks, i)?;
        load.store
            .insert_batch(llmlab_store::WorkspaceId(load.user_id), chunk)
            .map(drop)
            .map_err(|e| format!("insert_batch: {e}"))
    })?;
    Ok(InsertRun {
        label: "Store::insert_batch".into(),
        events: rows_in(load.chunks, load.batches)?,
        writers: load.writers,
        elapsed,
    })
}

/// Creates an empty scratch table with the event columns and no index or constraint.
fn create_scratch(store: &Store, table: &str) -> Result<()> {
    let sql = format!("CREATE TABLE {table} AS SELECT {COLUMNS} FROM events WHERE 1 = 0");
    store.execute_batch(&sql).map_err(|e| format!("{sql}: {e}"))
}

/// One multi-row `INSERT` per chunk, SQL literals only (no binds, no `RETURNING`), into a
/// scratch table without indexes: what the database itself can absorb.
pub fn plain_insert(load: &Load<'_>) -> Result<InsertRun> {
    let table = "bench_raw_insert";
    create_scratch(load.store, table)?;
    let created_at = llmlab_store::now_utc();
    let statements = load
        .chunks
        .iter()
        .map(|chunk| insert_sql(table, load.user_id, chunk, created_at))
        .collect::<Result<Vec<String>>>()?;
    let elapsed = in_parallel(load.writers, load.batches, |i| {
        let len = statements.len().max(1) as u64;
        let sql = usize::try_from(i % len)
            .ok()
            .and_then(|k| statements.get(k))
            .ok_or("no statement")?;
        load.store
            .execute_batch(sql)
            .map_err(|e| format!("INSERT INTO {table}: {e}"))
    })?;
    Ok(InsertRun {
        label: format!(
            "multi-row INSERT into a scratch table ({} rows/statement)",
            chunk_len(load.chunks)
        ),
        events: rows_in(load.chunks, load.batches)?,
        writers: load.writers,
        elapsed,
    })
}

fn chunk_len(chunks: &[Vec<NewEvent>]) -> usize {
    chunks.first().map_or(0, Vec::len)
}

fn insert_sql(
    table: &str,
    user_id: i64,
    chunk: &[NewEvent],
    created_at: chrono::NaiveDateTime,
) -> Result<String> {
    let mut sql = format!("INSERT INTO {table} ({COLUMNS}) VALUES ");
    for (i, e) in chunk.iter().enumerate() {
        if i > 0 {
            sql.push(',');
        }
        let fields = row_fields(user_id, e, created_at)?;
        let literals: Vec<String> = fields.iter().map(Field::sql_literal).collect();
        sql.push('(');
        sql.push_str(&literals.join(","));
        sql.push(')');
    }
    Ok(sql)
}

/// A value of one row, rendered as an SQL literal or a CSV field.
enum Field {
    Null,
    Int(i64),
    Bool(bool),
    Text(String),
}

impl Field {
    fn sql_literal(&self) -> String {
        match self {
            Field::Null => "NULL".into(),
            Field::Int(n) => n.to_string(),
            Field::Bool(b) => if *b { "TRUE" } else { "FALSE" }.into(),
            Field::Text(s) => format!("'{}'", s.replace('\'', "''")),
        }
    }

    fn csv(&self) -> String {
        match self {
            Field::Null => String::new(),
            Field::Int(n) => n.to_string(),
            Field::Bool(b) => if *b { "t" } else { "f" }.into(),
            Field::Text(s) => format!("\"{}\"", s.replace('"', "\"\"")),
        }
    }
}

/// The values of [`COLUMNS`] for one event.
fn row_fields(user_id: i64, e: &NewEvent, created_at: chrono::NaiveDateTime) -> Result<Vec<Field>> {
    let text = |s: &str| Field::Text(s.to_string());
    let opt_int = |n: Option<i64>| n.map_or(Field::Null, Field::Int);
    Ok(vec![
        Field::Int(user_id),
        e.event_id.as_deref().map_or(Field::Null, text),
        text(&e.provider),
        text(&e.model),
        text(&e.resolved_model),
        Field::Int(e.tokens.input_tokens),
        Field::Int(e.tokens.output_tokens),
        Field::Int(e.tokens.cached_input_tokens),
        Field::Int(e.tokens.cache_write_tokens),
        Field::Int(e.tokens.reasoning_tokens),
        Field::Bool(e.batch),
        Field::Int(e.cost_nanos),
        text(&e.cost_source),
        e.price_effective_from
            .map_or(Field::Null, |d| Field::Text(d.to_string())),
        Field::Int(e.ts),
        opt_int(e.latency_ms),
        Field::Text(serde_json::to_string(&e.tags).map_err(|err| err.to_string())?),
        Field::Text(created_at.format("%Y-%m-%d %H:%M:%S%.6f").to_string()),
    ])
}

/// PostgreSQL only: the same rows streamed through one `COPY … FROM STDIN` by `psql`
/// into a scratch table without indexes, the fastest way into PostgreSQL. `None` when
/// this is SQLite or `psql` is not installed.
pub fn copy(load: &Load<'_>, url: &str) -> Result<Option<InsertRun>> {
    if load.store.backend() != Backend::Postgres {
        return Ok(None);
    }
    let Some(psql) = crate::pg::find_bin("psql") else {
        eprintln!("xtask: psql not found: the COPY ceiling is skipped");
        return Ok(None);
    };
    let table = "bench_raw_copy";
    create_scratch(load.store, table)?;
    let created_at = llmlab_store::now_utc();
    let csv = load
        .chunks
        .iter()
        .map(|chunk| chunk_csv(load.user_id, chunk, created_at))
        .collect::<Result<Vec<String>>>()?;
    let started = Instant::now();
    let mut child = Command::new(psql)
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-c"])
        .arg(format!(
            "\\copy {table} ({COLUMNS}) FROM pstdin WITH (FORMAT csv)"
        ))
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot run psql: {e}"))?;
    let mut stdin = child.stdin.take().ok_or("psql has no stdin")?;
    for i in 0..load.batches {
        let k = usize::try_from(i % csv.len().max(1) as u64).map_err(|e| e.to_string())?;
        let block = csv.get(k).ok_or("no rows to copy")?;
        stdin
            .write_all(block.as_bytes())
            .map_err(|e| format!("writing to psql: {e}"))?;
    }
    drop(stdin);
    let status = child.wait().map_err(|e| format!("psql: {e}"))?;
    let elapsed = started.elapsed();
    if !status.success() {
        return Err(format!("psql \\copy failed ({status})"));
    }
    Ok(Some(InsertRun {
        label: "COPY into a scratch table (psql \\copy)".into(),
        events: rows_in(load.chunks, load.batches)?,
        writers: 1,
        elapsed,
    }))
}

fn chunk_csv(
    user_id: i64,
    chunk: &[NewEvent],
    created_at: chrono::NaiveDateTime,
) -> Result<String> {
    let mut out = String::new();
    for e in chunk {
        let fields: Vec<String> = row_fields(user_id, e, created_at)?
            .iter()
            .map(Field::csv)
            .collect();
        out.push_str(&fields.join(","));
        out.push('\n');
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_are_quoted_and_escaped() {
        assert_eq!(Field::Text("it's".into()).sql_literal(), "'it''s'");
        assert_eq!(
            Field::Text(r#"{"a":"b"}"#.into()).csv(),
            r#""{""a"":""b""}""#
        );
        assert_eq!(Field::Null.sql_literal(), "NULL");
        assert_eq!(Field::Null.csv(), "");
        assert_eq!(Field::Bool(true).sql_literal(), "TRUE");
    }

    #[test]
    fn parallel_inserts_cover_every_batch_once() -> Result<()> {
        let seen = std::sync::Mutex::new(Vec::new());
        in_parallel(3, 10, |i| {
            seen.lock().map_err(|e| e.to_string())?.push(i);
            Ok(())
        })?;
        let mut seen = seen.into_inner().map_err(|e| e.to_string())?;
        seen.sort_unstable();
        assert_eq!(seen, (0..10).collect::<Vec<u64>>());
        Ok(())
    }
}
