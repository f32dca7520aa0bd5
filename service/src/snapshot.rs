//! Reading a ledger a running service holds: a consistent copy of it
//! through the service's API (docs/OPERATIONS.md, "Reading a ledger a
//! service holds").
//!
//! sled locks the data directory, so while `tla serve`, `tla ledger run
//! --listen` or `tla projector serve` holds it, a read command cannot open
//! it. Instead, [`readable`] finds the service in the holder file
//! (`crate::holder`), fetches a copy of the ledger's first N entries into a
//! temporary directory (N: what was durable when the copy began) and the
//! command runs on that copy. `tla ledger snapshot` makes such a copy
//! into a directory of the user's ([`snapshot`]).
//!
//! **The server side** is [`router`]: `GET /v1/ledger/segments?from=N`
//! answers with the header `Tla-Ledger-Size` (the entries the copy will
//! hold) and a body of frames, each one kind byte, a four-byte big-endian
//! length and that many bytes:
//!
//! | kind | payload |
//! | --- | --- |
//! | `S` | a `ledger::replicate::Segment` (bincode, as on the commit log): the stored records from N on |
//! | `C` | a stored signed checkpoint (the note's text) of a tree size at most the copy's |
//! | `E` | the end: JSON `{"size", "head", "root", "checkpoints"}` |
//! | `X` | the copy failed on the service's side: the reason, as text |
//!
//! The records are read `COPY_STEP_ENTRIES` at a time, each stretch under
//! the ledger's lock and the lock let go before the stretch is sent, so
//! the writer goes on appending during a copy (it waits for one stretch at
//! most). A body without its `E` frame was cut short. Only callers who
//! read every tenant may copy (the holder token, the `auditor` role): the
//! ledger holds every tenant's events and their contact persons' personal
//! data. `COPIES_AT_ONCE` copies run at once; each is logged in the access
//! log (`tla::access`).
//!
//! **The client side** applies each segment with
//! `Ledger::apply_segment`, which checks every record's position, both
//! chains and its hash as it arrives, stores the checkpoints with
//! `Ledger::store_checkpoint` (each only if the copy's own Merkle tree has
//! its root), and checks the copy's head and root against the `E` frame.

use std::convert::Infallible;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError};
use std::time::Duration;

use anyhow::{bail, Context};
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use ingest::writer::SharedLedger;
use ledger::prefix::Verification;
use ledger::replicate::Segment;
use ledger::{Ledger, OpenMode};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};
use web::access::{self, Access, Caller, Readable};

use crate::holder::HolderFile;

/// The path of the copy.
pub const SEGMENTS_PATH: &str = "/v1/ledger/segments";

/// The response header naming how many entries the copy holds.
pub const SIZE_HEADER: &str = "tla-ledger-size";

/// The content type of the frames.
pub const CONTENT_TYPE: &str = "application/vnd.tla-ledger.segments";

/// Entries read under one hold of the ledger's lock: about as many as a
/// step of the verified prefix checks (`ledger::prefix::VERIFY_STEP_ENTRIES`),
/// a few milliseconds the writer may wait, and a bounded buffer (with
/// `STEPS_BUFFERED`) however large the ledger.
pub const COPY_STEP_ENTRIES: u64 = 4_096;

/// Stretches read ahead of the connection: enough to keep it busy while
/// the next is read, few enough that a slow client holds little memory.
const STEPS_BUFFERED: usize = 2;

/// Segment payloads are cut at the commit log's size, so a copy's
/// segments look like the commit log's.
const SEGMENT_BYTES_MAX: usize = ingest::replica::SEGMENT_BYTES_MAX;

/// Checkpoints read under one hold of the ledger's lock.
const CHECKPOINTS_PER_STEP: usize = 1_024;

/// Copies served at once: each reads the whole ledger, and the ledger's
/// lock is shared with the writer; one more is answered 503 at once.
pub const COPIES_AT_ONCE: usize = 1;

/// Seconds a refused copy is told to wait (`Retry-After`).
const RETRY_AFTER_SECONDS: &str = "5";

/// The largest frame a client reads: a segment holds one record at least,
/// and `Segment::decode` takes up to 64 MiB.
const FRAME_BYTES_MAX: u32 = 64 << 20;

/// How long a client waits for the service to accept the connection, and
/// for each read of the copy.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const READ_TIMEOUT: Duration = Duration::from_secs(120);

/// The writer id of a copy's segments (they are the stored records of
/// the ledger, not a writer's batches).
const COPY_WRITER: [u8; 16] = *b"tla-copy\0\0\0\0\0\0\0\0";

/// The cursor a copy stores with each segment it applies (the position
/// after it); a name no NATS consumer can have (consumer names hold no
/// dots), so it never passes for a writer's cursor.
pub const COPY_CURSOR: &str = "tla.copy";

/// What the access log says for the tenant of a copy: all of them.
const ALL_TENANTS: &str = "*";

const FRAME_SEGMENT: u8 = b'S';
const FRAME_CHECKPOINT: u8 = b'C';
const FRAME_END: u8 = b'E';
const FRAME_ERROR: u8 = b'X';

/// The `E` frame: what the copy holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Copied {
    /// Entries copied, from position 0.
    pub size: u64,
    /// The hash of the last entry (hex).
    pub head: String,
    /// The Merkle root of the entries (hex).
    pub root: String,
    /// Signed checkpoints sent (by the service) or stored (by a copy).
    pub checkpoints: u64,
}

/// What the copy's handlers share.
#[derive(Clone)]
struct Copies {
    ledger: SharedLedger,
    verification: Arc<Verification>,
    access: Access,
    running: Arc<Semaphore>,
}

/// `GET /v1/ledger/segments` over the ledger this process holds, up to
/// what `verification` was told is durable, for callers `access` lets
/// read every tenant.
pub fn router(ledger: &SharedLedger, verification: &Arc<Verification>, access: &Access) -> Router {
    Router::new()
        .route(SEGMENTS_PATH, get(segments))
        .with_state(Copies {
            ledger: Arc::clone(ledger),
            verification: Arc::clone(verification),
            access: access.clone(),
            running: Arc::new(Semaphore::new(COPIES_AT_ONCE)),
        })
}

#[derive(Debug, Deserialize)]
struct FromQuery {
    #[serde(default)]
    from: u64,
}

/// Where a copy starts and ends.
#[derive(Debug, Clone, Copy)]
struct Span {
    from: u64,
    end: u64,
    head: ledger::Hash,
    root: [u8; 32],
    ledger_id: [u8; ledger::store::LEDGER_ID_BYTES],
}

impl Span {
    /// The `E` frame of a copy of this span that sent `checkpoints`.
    fn end_frame(&self, checkpoints: u64) -> Vec<u8> {
        let end = Copied {
            size: self.end,
            head: self.head.to_hex(),
            root: hex::encode(self.root),
            checkpoints,
        };
        // `Copied` is plain strings and numbers: it always serialises.
        frame(FRAME_END, &serde_json::to_vec(&end).unwrap_or_default())
    }
}

async fn segments(
    State(copies): State<Copies>,
    Query(query): Query<FromQuery>,
    headers: HeaderMap,
) -> Response {
    let caller = copies.access.caller(&headers);
    let who = access::who(&caller);
    let what = format!("ledger copy from position {}", query.from);
    if let Some(refused) = refusal(&caller) {
        access::log(&who, &what, ALL_TENANTS, refused.status());
        return refused;
    }
    let Ok(permit) = Arc::clone(&copies.running).try_acquire_owned() else {
        let mut busy = access::problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "busy",
            "copy",
            "another copy of the ledger is being sent; retry later".into(),
        );
        busy.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from_static(RETRY_AFTER_SECONDS),
        );
        access::log(&who, &what, ALL_TENANTS, busy.status());
        return busy;
    };
    let (ledger, durable, from) = (
        Arc::clone(&copies.ledger),
        copies.verification.durable_size(),
        query.from,
    );
    let span = match tokio::task::spawn_blocking(move || span(&ledger, durable, from)).await {
        Ok(Ok(span)) => span,
        Ok(Err(refused)) => {
            let problem = refused.problem();
            access::log(&who, &what, ALL_TENANTS, problem.status());
            return problem;
        }
        Err(error) => {
            tracing::error!(%error, "reading the ledger for a copy failed");
            return failed(format!("reading the ledger failed: {error}"));
        }
    };
    access::log(&who, &what, ALL_TENANTS, StatusCode::OK);
    let (sender, receiver) = mpsc::channel(STEPS_BUFFERED);
    tokio::spawn(send(Arc::clone(&copies.ledger), span, sender, permit, who));
    let stream = futures::stream::unfold(receiver, |mut receiver| async move {
        let frames = receiver.recv().await?;
        Some((Ok::<_, Infallible>(frames), receiver))
    });
    let mut response = axum::body::Body::from_stream(stream).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(SIZE_HEADER, HeaderValue::from(span.end));
    response
}

/// 401 for a caller not known, 403 for one who may not read every
/// tenant; `None` for one who may copy.
fn refusal(caller: &Caller) -> Option<Response> {
    match caller {
        Caller::Known(reader) if reader.tenants == Readable::All => None,
        Caller::Known(reader) => Some(access::problem(
            StatusCode::FORBIDDEN,
            "forbidden",
            "authorization",
            format!(
                "{:?} may not copy the ledger: it holds every tenant's events, so only a \
                 token that reads every tenant (role = \"auditor\") may",
                reader.who
            ),
        )),
        // Anonymous or refused credentials: the same 401 as any read.
        _ => access::refusal(caller, ALL_TENANTS),
    }
}

fn failed(detail: String) -> Response {
    access::problem(
        StatusCode::INTERNAL_SERVER_ERROR,
        "ledger",
        "ledger",
        detail,
    )
}

/// The copy's span: from `from` to what is durable now (`durable`, or
/// the ledger's size when nobody appends), with the head and root there.
fn span(ledger: &SharedLedger, durable: Option<u64>, from: u64) -> Result<Span, NoSpan> {
    // A holder that panicked left the store as it was: reading is sound.
    let ledger = ledger.lock().unwrap_or_else(PoisonError::into_inner);
    let end = durable.map_or(ledger.size(), |durable| durable.min(ledger.size()));
    if from > end {
        return Err(NoSpan::BeyondSize { from, end });
    }
    let read = || -> Result<Span, ledger::LedgerError> {
        let head = match end {
            0 => ledger::ZERO_HASH,
            _ => ledger.entry(end - 1)?.map_or(ledger::ZERO_HASH, |e| e.hash),
        };
        Ok(Span {
            from,
            end,
            head,
            root: ledger.merkle_root(end)?,
            ledger_id: ledger.ledger_id()?,
        })
    };
    read().map_err(|error| NoSpan::Failed(format!("reading the ledger failed: {error}")))
}

/// Why a copy cannot begin.
enum NoSpan {
    /// `from` is past the durable entries.
    BeyondSize {
        from: u64,
        end: u64,
    },
    Failed(String),
}

impl NoSpan {
    fn problem(self) -> Response {
        match self {
            NoSpan::BeyondSize { from, end } => access::problem(
                StatusCode::BAD_REQUEST,
                "beyond-size",
                "from",
                format!("from={from} is past the ledger's {end} durable entries"),
            ),
            NoSpan::Failed(detail) => failed(detail),
        }
    }
}

/// Sends the copy's frames into `sender`, a stretch at a time, then the
/// checkpoints and the end; holds `_permit` (one of `COPIES_AT_ONCE`)
/// until done or until the client went away.
async fn send(
    ledger: SharedLedger,
    span: Span,
    sender: mpsc::Sender<Vec<u8>>,
    _permit: OwnedSemaphorePermit,
    who: String,
) {
    let mut next = span.from;
    let mut checkpoints_from = 0;
    let mut checkpoints = 0;
    loop {
        let (ledger, at, from) = (Arc::clone(&ledger), next, checkpoints_from);
        let step = tokio::task::spawn_blocking(move || read_step(&ledger, span, at, from)).await;
        let frames = match step {
            Ok(Ok(step)) => step,
            Ok(Err(error)) => Step::failed(error),
            Err(error) => Step::failed(format!("reading the ledger failed: {error}")),
        };
        let Step {
            frames,
            next: after,
            checkpoints: (sent, resume),
            done,
        } = frames;
        if sender.send(frames).await.is_err() {
            tracing::info!(
                who,
                at = next,
                "a ledger copy ended early: its client went away"
            );
            return;
        }
        checkpoints += sent;
        (next, checkpoints_from) = (after, resume);
        if done {
            break;
        }
    }
    if sender.send(span.end_frame(checkpoints)).await.is_ok() {
        tracing::info!(
            who,
            from = span.from,
            to = span.end,
            checkpoints,
            "a ledger copy was sent"
        );
    }
}

/// One stretch of a copy, as frames.
struct Step {
    frames: Vec<u8>,
    /// The next position to read.
    next: u64,
    /// Checkpoints in `frames`, and the tree size to read the next from.
    checkpoints: (u64, u64),
    /// Whether `frames` ends the copy (it failed, or only the end is left).
    done: bool,
}

impl Step {
    fn failed(reason: String) -> Step {
        tracing::warn!(reason, "a ledger copy failed");
        Step {
            frames: frame(FRAME_ERROR, reason.as_bytes()),
            next: 0,
            checkpoints: (0, 0),
            done: true,
        }
    }
}

/// Reads the next stretch under the ledger's lock: records from `at` on,
/// or, once they are all sent, checkpoints of tree sizes from
/// `checkpoints_from` on; encodes them after letting the lock go.
fn read_step(
    ledger: &SharedLedger,
    span: Span,
    at: u64,
    checkpoints_from: u64,
) -> Result<Step, String> {
    let reading = |error: ledger::LedgerError| format!("reading the ledger failed: {error}");
    let (segments, notes, to) = {
        let ledger = ledger.lock().unwrap_or_else(PoisonError::into_inner);
        let locked = std::time::Instant::now();
        // The writer's supervisor reopens a failed ledger with a stand-in
        // meanwhile: a copy never mixes two ledgers.
        if ledger.ledger_id().map_err(reading)? != span.ledger_id {
            return Err("the service reopened its ledger during the copy; copy again".into());
        }
        let read = if at < span.end {
            let to = span.end.min(at + COPY_STEP_ENTRIES);
            let segments = ledger
                .stored_segments_until(at, to, COPY_WRITER, SEGMENT_BYTES_MAX)
                .map_err(reading)?;
            (segments, Vec::new(), to)
        } else {
            let notes = ledger
                .stored_checkpoints(checkpoints_from, span.end, CHECKPOINTS_PER_STEP)
                .map_err(reading)?;
            (Vec::new(), notes, at)
        };
        // How long the writer may have waited for this stretch.
        tracing::debug!(at, held = ?locked.elapsed(), "a stretch of a ledger copy read");
        read
    };
    let mut frames = Vec::new();
    for segment in &segments {
        frames.extend(frame(FRAME_SEGMENT, &segment.encode()));
    }
    for (_, note) in &notes {
        frames.extend(frame(FRAME_CHECKPOINT, note.as_bytes()));
    }
    let resume = notes.last().map_or(checkpoints_from, |(size, _)| size + 1);
    Ok(Step {
        frames,
        next: to,
        checkpoints: (notes.len() as u64, resume),
        done: at >= span.end && notes.len() < CHECKPOINTS_PER_STEP,
    })
}

/// One frame: the kind, the payload's length (big-endian u32), the payload.
fn frame(kind: u8, payload: &[u8]) -> Vec<u8> {
    // Payloads are segments under `SEGMENT_BYTES_MAX` plus one record, or
    // notes and texts of a few hundred bytes; none comes near 4 GiB.
    let length = u32::try_from(payload.len()).unwrap_or(u32::MAX);
    let mut bytes = Vec::with_capacity(payload.len() + 5);
    bytes.push(kind);
    bytes.extend_from_slice(&length.to_be_bytes());
    bytes.extend_from_slice(payload);
    bytes
}

/// One piece of a copy, from the service or from a ledger read here.
enum Piece {
    Segment(Segment),
    Checkpoint(String),
    End(Copied),
}

/// Reads the frames of a copy from `reader`; `None` at the end of the
/// body (which must come after an `E` frame).
fn read_piece(reader: &mut impl Read) -> anyhow::Result<Option<Piece>> {
    let mut kind = [0u8; 1];
    if reader.read(&mut kind).context("reading the copy")? == 0 {
        return Ok(None);
    }
    let mut length = [0u8; 4];
    reader
        .read_exact(&mut length)
        .context("reading the copy: cut short inside a frame")?;
    let length = u32::from_be_bytes(length);
    if length > FRAME_BYTES_MAX {
        bail!("the copy holds a frame of {length} bytes, over the {FRAME_BYTES_MAX} a copy takes");
    }
    let mut payload = vec![0u8; length as usize];
    reader
        .read_exact(&mut payload)
        .context("reading the copy: cut short inside a frame")?;
    let text = |payload: Vec<u8>| {
        String::from_utf8(payload).context("the copy holds a frame that is not UTF-8")
    };
    Ok(Some(match kind[0] {
        FRAME_SEGMENT => {
            Piece::Segment(Segment::decode(&payload).map_err(|e| anyhow::anyhow!("the copy: {e}"))?)
        }
        FRAME_CHECKPOINT => Piece::Checkpoint(text(payload)?),
        FRAME_END => Piece::End(
            serde_json::from_slice(&payload).context("the copy's end frame does not read")?,
        ),
        FRAME_ERROR => bail!("the service failed during the copy: {}", text(payload)?),
        other => bail!("the copy holds a frame of unknown kind {other:#04x}"),
    }))
}

/// How a copy reports progress: (entries copied, entries in all).
pub type Progress<'a> = &'a dyn Fn(u64, u64);

/// Applies `pieces` to a new ledger in `dir` (empty or absent), checking
/// each record as it arrives and the whole against the end piece; the
/// ledger is synced and closed on return.
fn apply(
    dir: &Path,
    total: u64,
    pieces: &mut dyn Iterator<Item = anyhow::Result<Piece>>,
    progress: Progress<'_>,
) -> anyhow::Result<Copied> {
    let mut copy = crate::open_ledger(dir, OpenMode::Create)?;
    let mut stored = 0;
    for piece in pieces {
        match piece? {
            Piece::Segment(segment) => {
                copy.apply_segment(&segment, (COPY_CURSOR, segment.end()))
                    .context("the copy refused the ledger's records")?;
                progress(copy.size(), total);
            }
            Piece::Checkpoint(note) => {
                if copy
                    .store_checkpoint_unsynced(&note, None)
                    .context("the copy refused a stored checkpoint")?
                {
                    stored += 1;
                }
            }
            Piece::End(end) => {
                let copied = finish(&copy, &end, stored)?;
                close(copy, dir)?;
                return Ok(copied);
            }
        }
    }
    bail!(
        "the copy ended after {} of {total} entries, before the service said it was complete",
        copy.size()
    )
}

/// Checks the copy against the service's end piece and syncs it.
fn finish(copy: &Ledger, end: &Copied, stored: u64) -> anyhow::Result<Copied> {
    let head = copy.head();
    let root = hex::encode(copy.merkle_root(head.size)?);
    let copied = Copied {
        size: head.size,
        head: head.hash.to_hex(),
        root,
        checkpoints: stored,
    };
    if (copied.size, &copied.head, &copied.root) != (end.size, &end.head, &end.root) {
        bail!(
            "the copy holds {} entries, head {}, root {}, but the service sent {} entries, \
             head {}, root {}",
            copied.size,
            copied.head,
            copied.root,
            end.size,
            end.head,
            end.root
        );
    }
    if stored != end.checkpoints {
        bail!(
            "the copy stored {stored} of the {} checkpoints the service sent",
            end.checkpoints
        );
    }
    copy.syncer().sync()?;
    Ok(copied)
}

/// Closes the copy and waits until its directory is free to open again
/// (sled lets go of its lock a moment after the close).
fn close(copy: Ledger, dir: &Path) -> anyhow::Result<()> {
    drop(copy);
    drop(ledger::store::DirLock::acquire_closed(dir)?);
    Ok(())
}

/// Fetches a copy of the ledger from the service `holder` names into
/// `dir` (a new ledger there), verified as it arrives.
fn fetch(
    holder: &HolderFile,
    url: &str,
    dir: &Path,
    progress: Progress<'_>,
) -> anyhow::Result<Copied> {
    let address = format!("{url}{SEGMENTS_PATH}?from=0");
    let agent = ureq::AgentBuilder::new()
        .timeout_connect(CONNECT_TIMEOUT)
        .timeout_read(READ_TIMEOUT)
        .build();
    let response = match agent
        .get(&address)
        .set("Authorization", &format!("Bearer {}", holder.token))
        .call()
    {
        Ok(response) => response,
        Err(ureq::Error::Status(status, response)) => {
            let problem: serde_json::Value = response.into_json().unwrap_or_default();
            let detail = problem["detail"].as_str().unwrap_or("no detail").to_owned();
            bail!(
                "{} answered {status} for {address}: {detail}",
                holder.describe()
            );
        }
        Err(error) => bail!(
            "{} serves its API at {url}, which did not answer: {error}",
            holder.describe()
        ),
    };
    let total = response
        .header(SIZE_HEADER)
        .and_then(|size| size.parse().ok())
        .with_context(|| format!("{address} answered without a {SIZE_HEADER} header"))?;
    let mut reader = std::io::BufReader::new(response.into_reader());
    let mut pieces = std::iter::from_fn(|| read_piece(&mut reader).transpose());
    apply(dir, total, &mut pieces, progress)
}

/// The pieces of a copy of the ledger in `data_dir`, read here (nobody
/// holds it), a stretch at a time.
fn local_pieces(source: &Ledger) -> impl Iterator<Item = anyhow::Result<Piece>> + '_ {
    let end = source.size();
    let mut next = 0;
    let mut pending: std::collections::VecDeque<Piece> = Default::default();
    let mut finished = false;
    std::iter::from_fn(move || loop {
        if let Some(piece) = pending.pop_front() {
            return Some(Ok(piece));
        }
        if finished {
            return None;
        }
        let mut read = || -> anyhow::Result<Vec<Piece>> {
            if next < end {
                let to = end.min(next + COPY_STEP_ENTRIES);
                let segments =
                    source.stored_segments_until(next, to, COPY_WRITER, SEGMENT_BYTES_MAX)?;
                next = to;
                return Ok(segments.into_iter().map(Piece::Segment).collect());
            }
            finished = true;
            let notes = source.stored_checkpoints(0, end, usize::MAX)?;
            let head = source.head();
            let end = Piece::End(Copied {
                size: end,
                head: head.hash.to_hex(),
                root: hex::encode(source.merkle_root(end)?),
                checkpoints: notes.len() as u64,
            });
            let mut pieces: Vec<Piece> = notes
                .into_iter()
                .map(|(_, note)| Piece::Checkpoint(note))
                .collect();
            pieces.push(end);
            Ok(pieces)
        };
        match read() {
            Ok(pieces) => pending.extend(pieces),
            Err(error) => {
                finished = true;
                return Some(Err(error));
            }
        }
    })
}

/// The directory a read command reads: the data directory itself, or,
/// while a service that serves an API holds it, a copy fetched from that
/// service into a temporary directory (removed when this is dropped).
pub struct ReadDir {
    path: PathBuf,
    copy: Option<CopyDir>,
}

struct CopyDir {
    _dir: tempfile::TempDir,
    copied: Copied,
    holder: String,
    url: String,
}

impl ReadDir {
    /// The data directory itself.
    pub fn own(data_dir: &Path) -> ReadDir {
        ReadDir {
            path: data_dir.to_owned(),
            copy: None,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What was copied, when this is a copy.
    pub fn copied(&self) -> Option<&Copied> {
        self.copy.as_ref().map(|copy| &copy.copied)
    }

    /// For a copy, the sentence saying what the command works on.
    pub fn note(&self, data_dir: &Path) -> Option<String> {
        let copy = self.copy.as_ref()?;
        Some(format!(
            "the ledger at {} is held by {}: working on a copy of its first {} entries \
             (head {}), fetched through {} and verified as it arrived",
            data_dir.display(),
            copy.holder,
            copy.copied.size,
            copy.copied.head,
            copy.url
        ))
    }
}

/// The service holding `data_dir` whose API a copy can come from: `None`
/// when nobody holds it (or it is no ledger), or when its holder serves
/// no API (opening the ledger then says who holds it and how to let read
/// commands in).
fn serving_holder(data_dir: &Path) -> Option<(HolderFile, String)> {
    let pid = match ledger::store::DirLock::try_acquire(data_dir) {
        Err(ledger::StoreError::Locked { pid, .. }) => pid,
        _ => return None,
    };
    let holder = HolderFile::read(data_dir)?;
    // A holder file left by a killed service names another process.
    if pid.is_some_and(|pid| pid != holder.pid) {
        return None;
    }
    let url = holder.url.clone()?;
    Some((holder, url))
}

/// Where a read command reads `data_dir` (`ReadDir`): while a service
/// holds it, a copy fetched through the service's API; `progress` follows
/// the copy.
pub fn readable(data_dir: &Path, progress: Progress<'_>) -> anyhow::Result<ReadDir> {
    let Some((holder, url)) = serving_holder(data_dir) else {
        return Ok(ReadDir::own(data_dir));
    };
    let dir = tempfile::Builder::new()
        .prefix("tla-copy-")
        .tempdir()
        .context("cannot make a temporary directory for a copy of the ledger (set TMPDIR)")?;
    owner_only(dir.path())?;
    let copied = fetch(&holder, &url, dir.path(), progress).with_context(|| {
        format!(
            "cannot copy the ledger at {}, held by {}",
            data_dir.display(),
            holder.describe()
        )
    })?;
    Ok(ReadDir {
        path: dir.path().to_owned(),
        copy: Some(CopyDir {
            _dir: dir,
            copied,
            holder: holder.describe(),
            url,
        }),
    })
}

/// Makes `dir` readable by its owner only: a copy holds every tenant's
/// events and their contact persons' personal data.
fn owner_only(dir: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .with_context(|| format!("cannot make {} readable by its owner only", dir.display()))
}

/// What `tla ledger snapshot` made.
pub struct Snapshot {
    pub copied: Copied,
    /// The service it came from ("`tla serve` (pid 1234)"), or `None`
    /// when it was read from the directory itself.
    pub holder: Option<String>,
}

/// `tla ledger snapshot`: a copy of the ledger in `data_dir` into `out`
/// (absent or empty), through the service's API while a service holds
/// it, else read directly; verified as it is made. Built beside `out`
/// and renamed into place, so `out` holds a whole copy or nothing.
pub fn snapshot(data_dir: &Path, out: &Path, progress: Progress<'_>) -> anyhow::Result<Snapshot> {
    if let Ok(mut entries) = std::fs::read_dir(out) {
        if entries.next().is_some() {
            bail!(
                "{} is not empty: a snapshot goes into a new or empty directory",
                out.display()
            );
        }
    } else if out.exists() {
        bail!("{} exists and is not a directory", out.display());
    }
    let parent = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let staging = tempfile::Builder::new()
        .prefix(".tla-snapshot-")
        .tempdir_in(parent)
        .with_context(|| format!("cannot make a directory in {}", parent.display()))?;
    owner_only(staging.path())?;
    let (copied, holder) = match serving_holder(data_dir) {
        Some((holder, url)) => {
            let copied = fetch(&holder, &url, staging.path(), progress).with_context(|| {
                format!(
                    "cannot copy the ledger at {}, held by {}",
                    data_dir.display(),
                    holder.describe()
                )
            })?;
            (copied, Some(holder.describe()))
        }
        None => {
            let source = crate::open_ledger(data_dir, OpenMode::Existing)?;
            let total = source.size();
            let copied = apply(staging.path(), total, &mut local_pieces(&source), progress)?;
            (copied, None)
        }
    };
    std::fs::rename(staging.path(), out)
        .with_context(|| format!("cannot move the snapshot into {}", out.display()))?;
    // Renamed away: nothing is left for the guard to remove.
    drop(staging.keep());
    Ok(Snapshot { copied, holder })
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000_000_000;

    fn events(from: usize, n: usize) -> Vec<schemas::Event> {
        (from..from + n)
            .map(|i| {
                let value = serde_json::json!({
                    "specversion": "1.0", "id": format!("e{i}"), "source": "test/snapshot",
                    "type": "incident.opened", "time": "2025-11-03T09:15:00+01:00",
                    "tenant": if i % 2 == 0 { "alver" } else { "fedje" },
                    "data": {"incident_id": format!("INC-{i}"), "service": "epost", "priority": "P2"}
                });
                schemas::Event::from_json(&value).unwrap()
            })
            .collect()
    }

    /// A ledger of 5,000 entries in appends of 1,000, each followed by a
    /// signed checkpoint.
    fn held() -> (tempfile::TempDir, SharedLedger) {
        let dir = tempfile::tempdir().unwrap();
        let mut ledger = Ledger::open(dir.path()).unwrap();
        let signer = ledger::checkpoint::Signer::from_seed("tla.example/copy", [5; 32]).unwrap();
        for round in 0..5 {
            let batch = events(round * 1_000, 1_000);
            ledger.append(&batch, NOW + round as i64).unwrap();
            ledger.sign_checkpoint(&signer).unwrap();
        }
        (dir, Arc::new(std::sync::Mutex::new(ledger)))
    }

    /// The body the service sends for a copy from `from` of what `durable`
    /// says (as `send` does, without the connection).
    fn body(ledger: &SharedLedger, durable: Option<u64>, from: u64) -> Vec<u8> {
        let Ok(span) = span(ledger, durable, from) else {
            panic!("no span")
        };
        let (mut bytes, mut at, mut checkpoints_from, mut checkpoints) = (Vec::new(), from, 0, 0);
        loop {
            let step = read_step(ledger, span, at, checkpoints_from).unwrap();
            bytes.extend(step.frames);
            checkpoints += step.checkpoints.0;
            (at, checkpoints_from) = (step.next, step.checkpoints.1);
            if step.done {
                break;
            }
        }
        bytes.extend(span.end_frame(checkpoints));
        bytes
    }

    fn copy(body: &[u8], dir: &Path) -> anyhow::Result<Copied> {
        let mut reader = body;
        let mut pieces = std::iter::from_fn(|| read_piece(&mut reader).transpose());
        apply(dir, 0, &mut pieces, &|_, _| ())
    }

    /// Frames of `body` as (kind, payload).
    fn frames(mut body: &[u8]) -> Vec<(u8, Vec<u8>)> {
        let mut found = Vec::new();
        while !body.is_empty() {
            let length = u32::from_be_bytes(body[1..5].try_into().unwrap()) as usize;
            found.push((body[0], body[5..5 + length].to_vec()));
            body = &body[5 + length..];
        }
        found
    }

    fn unframe(frames: &[(u8, Vec<u8>)]) -> Vec<u8> {
        frames.iter().flat_map(|(k, p)| frame(*k, p)).collect()
    }

    #[test]
    fn a_copy_holds_the_durable_entries_and_their_checkpoints() {
        let (_dir, ledger) = held();
        // Durable: 3,500 of the 5,000 (the rest applied, not yet synced).
        let durable = body(&ledger, Some(3_500), 0);
        let out = tempfile::tempdir().unwrap();
        let copied = copy(&durable, out.path()).unwrap();
        let held = ledger.lock().unwrap();
        assert_eq!(copied.size, 3_500);
        assert_eq!(copied.root, hex::encode(held.merkle_root(3_500).unwrap()));
        assert_eq!(
            copied.head,
            held.entry(3_499).unwrap().unwrap().hash.to_hex()
        );
        assert_eq!(
            copied.checkpoints, 3,
            "those of sizes 1,000, 2,000 and 3,000"
        );
        let copy = Ledger::open_existing(out.path()).unwrap();
        assert_eq!(copy.identity().unwrap(), held.identity().unwrap());
        assert_eq!(copy.latest_checkpoint().unwrap().unwrap().0, 3_000);
        let summary = copy.verify(|_| ()).unwrap().unwrap();
        assert_eq!(summary.size, 3_500);
        drop(held);
        // Read in stretches of `COPY_STEP_ENTRIES`: a segment starts where
        // each stretch does.
        let starts: Vec<u64> = frames(&body(&ledger, None, 0))
            .iter()
            .filter(|(kind, _)| *kind == FRAME_SEGMENT)
            .map(|(_, p)| Segment::decode(p).unwrap().first)
            .collect();
        assert!(starts.contains(&COPY_STEP_ENTRIES), "{starts:?}");
    }

    #[test]
    fn a_copy_cut_short_altered_or_failed_is_refused() {
        let (_dir, ledger) = held();
        let whole = frames(&body(&ledger, None, 0));
        let check = |frames: &[(u8, Vec<u8>)], expected: &str| {
            let out = tempfile::tempdir().unwrap();
            let error = format!("{:#}", copy(&unframe(frames), out.path()).unwrap_err());
            assert!(error.contains(expected), "{error}");
        };
        // Without its end frame.
        check(
            &whole[..whole.len() - 1],
            "before the service said it was complete",
        );
        // Cut inside a frame.
        let mut cut = unframe(&whole);
        cut.truncate(cut.len() - 3);
        let out = tempfile::tempdir().unwrap();
        let error = format!("{:#}", copy(&cut, out.path()).unwrap_err());
        assert!(error.contains("cut short inside a frame"), "{error}");
        // A record altered on the way: refused at its position.
        let mut altered = whole.clone();
        let mut segment = Segment::decode(&altered[1].1).unwrap();
        let position = segment.first + 7;
        let record = &mut segment.records[7].0;
        let at = record.len() - 10;
        record[at] ^= 0x01;
        altered[1].1 = segment.encode();
        check(&altered, &format!("position {position}"));
        // A failure on the service's side, and a frame of no known kind.
        let mut failed = whole[..2].to_vec();
        failed.push((FRAME_ERROR, b"the disk is on fire".to_vec()));
        check(
            &failed,
            "the service failed during the copy: the disk is on fire",
        );
        check(&[(b'Z', Vec::new())], "unknown kind");
        // An end that does not match what arrived.
        let mut lying = whole.clone();
        let last = lying.len() - 1;
        let mut end: Copied = serde_json::from_slice(&lying[last].1).unwrap();
        end.size += 1;
        lying[last].1 = serde_json::to_vec(&end).unwrap();
        check(&lying, "but the service sent 5001 entries");
    }

    #[test]
    fn a_copy_starts_where_asked_and_never_past_the_durable_entries() {
        let (_dir, ledger) = held();
        let Err(NoSpan::BeyondSize { from, end }) = span(&ledger, Some(4_000), 4_001) else {
            panic!("a copy past the durable entries")
        };
        assert_eq!((from, end), (4_001, 4_000));
        let tail = frames(&body(&ledger, Some(4_000), 3_000));
        let Some((FRAME_SEGMENT, first)) = tail.first() else {
            panic!("no segment")
        };
        assert_eq!(Segment::decode(first).unwrap().first, 3_000);
        let records: usize = tail
            .iter()
            .filter(|(kind, _)| *kind == FRAME_SEGMENT)
            .map(|(_, p)| Segment::decode(p).unwrap().records.len())
            .sum();
        assert_eq!(records, 1_000);
    }
}
