//! The segment store (issue 17): the entries in segment files, sled as
//! their index. Recovery of a torn tail at every cut of a real append's
//! bytes, a segment shorter than its index named as corruption with its
//! position, the order of writes and syncs recorded through the
//! `SegmentFs` wrapper, and the migration of a format-3 store (blocks in
//! sled) with head, Merkle root and every byte of the export unchanged.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use ledger::segment::{OsFs, SegmentFile, SegmentFs, Step};
use ledger::store::Store;
use ledger::{Ledger, LedgerError, OpenMode, StoreError};
use rand::{Rng, SeedableRng};
use serde_json::json;

/// 2026-01-01T00:00:00Z in microseconds.
const NOW: i64 = 1_767_225_600_000_000;

fn event(n: u64) -> schemas::Event {
    let tenants = ["alver", "fedje", "gulen", "masfjorden"];
    let value = json!({
        "specversion": "1.0", "id": format!("ev-{n}"), "source": "test/segments",
        "type": "incident.responded", "time": "2025-12-01T10:00:00+01:00",
        "tenant": tenants[(n % 4) as usize], "data": {"incident_id": format!("INC-{}", n % 7)}
    });
    schemas::Event::from_json(&value).expect("a valid test event")
}

fn events(range: std::ops::Range<u64>) -> Vec<schemas::Event> {
    range.map(event).collect()
}

/// Opens a ledger this process has just closed, waiting for sled's lock to
/// go (it lags the drop by a moment).
fn reopen(dir: &Path) -> Ledger {
    retry_locked(|| Ledger::open_existing(dir))
}

fn retry_locked<T>(mut open: impl FnMut() -> Result<T, LedgerError>) -> T {
    let started = std::time::Instant::now();
    loop {
        match open() {
            Err(LedgerError::Store(StoreError::Locked { .. }))
                if started.elapsed() < std::time::Duration::from_secs(5) =>
            {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            other => return other.expect("open the ledger"),
        }
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// The segment files of a ledger directory, in order.
fn segment_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join("segments"))
        .map(|entries| entries.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    files.sort();
    files
}

fn ids(ledger: &Ledger) -> Vec<String> {
    ledger
        .entries(0)
        .map(|entry| {
            let entry = entry.unwrap();
            let event = serde_json::from_slice::<serde_json::Value>(&entry.record.event).unwrap();
            event["id"].as_str().unwrap().to_owned()
        })
        .collect()
}

fn export(ledger: &Ledger) -> Vec<u8> {
    let mut out = Vec::new();
    ledger.export(&mut out, None).unwrap();
    out
}

/// A ledger of `count` events in appends of `chunk`.
fn ledger_with(dir: &Path, count: u64, chunk: usize) -> Ledger {
    let mut ledger = Ledger::open(dir).unwrap();
    for batch in events(0..count).chunks(chunk) {
        ledger.append(batch, NOW).unwrap();
    }
    ledger
}

#[test]
fn a_torn_tail_is_cut_on_open_at_every_offset_and_nothing_acknowledged_is_lost() {
    let seed: u64 = std::env::var("TLA_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    println!("torn-tail seed {seed} (rerun with TLA_TEST_SEED={seed})");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let root = tempfile::tempdir().unwrap();
    let acked = root.path().join("acked");
    let ledger = ledger_with(&acked, 1500, 400);
    let head = ledger.head();
    drop(ledger);
    // The bytes the next append writes: made in a copy, read past the
    // acknowledged ledger's end.
    let later = root.path().join("later");
    copy_dir(&acked, &later);
    let mut more = reopen(&later);
    more.append(&events(1500..1800), NOW).unwrap();
    drop(more);
    let segment = segment_files(&acked).pop().expect("a segment file");
    let name = segment.file_name().unwrap().to_owned();
    let committed = std::fs::read(&segment).unwrap();
    let grown = std::fs::read(later.join("segments").join(&name)).unwrap();
    assert!(grown.len() > committed.len() && grown.starts_with(&committed));
    let tail = &grown[committed.len()..];
    // Every cut of the append's bytes: a few at random, and the edges.
    let mut cuts = vec![1, 7, 8, 9, tail.len() - 1, tail.len()];
    cuts.extend((0..6).map(|_| rng.gen_range(1..tail.len())));
    for cut in cuts {
        let torn = root.path().join(format!("torn-{cut}"));
        copy_dir(&acked, &torn);
        let mut bytes = committed.clone();
        bytes.extend_from_slice(&tail[..cut]);
        std::fs::write(torn.join("segments").join(&name), &bytes).unwrap();
        let mut ledger = reopen(&torn);
        assert_eq!(ledger.head(), head, "cut at {cut}");
        assert_eq!(
            std::fs::metadata(torn.join("segments").join(&name))
                .unwrap()
                .len(),
            committed.len() as u64,
            "cut at {cut}: the tail is cut off"
        );
        let summary = ledger.verify(|_| {}).unwrap().expect("verifies");
        assert_eq!(summary.size, 1500);
        let expected: Vec<String> = (0..1500).map(|n| format!("ev-{n}")).collect();
        assert_eq!(ids(&ledger), expected, "cut at {cut}: every event once");
        // The append that tore is made again, whole.
        ledger.append(&events(1500..1800), NOW).unwrap();
        assert_eq!(ledger.verify(|_| {}).unwrap().unwrap().size, 1800);
    }
}

#[test]
fn a_segment_shorter_than_its_index_is_corruption_named_with_its_position() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = ledger_with(dir.path(), 1000, 250);
    drop(ledger);
    let segment = segment_files(dir.path()).pop().unwrap();
    let len = std::fs::metadata(&segment).unwrap().len();
    // Cut into the last append's blocks: acknowledged data is gone.
    std::fs::OpenOptions::new()
        .write(true)
        .open(&segment)
        .unwrap()
        .set_len(len - 100)
        .unwrap();
    let error = loop {
        match Ledger::open_existing(dir.path()) {
            Err(LedgerError::Store(StoreError::Locked { .. })) => {
                std::thread::sleep(std::time::Duration::from_millis(10))
            }
            Err(error) => break error.to_string(),
            Ok(_) => panic!("a short segment opened"),
        }
    };
    // The last append (750..1000) holds four tenants' blocks; the last
    // block in the file starts at one of its positions.
    assert!(error.contains("corrupt"), "{error}");
    assert!(
        error.contains("points past the end of segment 0"),
        "{error}"
    );
    let position: u64 = error
        .split("position ")
        .nth(1)
        .and_then(|rest| rest.split(':').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no position in {error}"));
    assert!((750..1000).contains(&position), "{error}");
}

/// Records every step of the write path, and the acknowledgements the test
/// adds, in one sequence.
#[derive(Default)]
struct Recorder {
    steps: Mutex<Vec<String>>,
}

impl Recorder {
    fn push(&self, step: String) {
        self.steps.lock().unwrap().push(step);
    }
    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.steps.lock().unwrap())
    }
}

struct RecordingFs(Arc<Recorder>);

struct RecordingFile {
    inner: Box<dyn SegmentFile>,
    recorder: Arc<Recorder>,
}

impl SegmentFile for RecordingFile {
    fn write_all_at(&self, bytes: &[u8], offset: u64) -> std::io::Result<()> {
        self.recorder.push("pwrite".into());
        self.inner.write_all_at(bytes, offset)
    }
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
        self.inner.read_exact_at(buf, offset)
    }
    fn sync_data(&self) -> std::io::Result<()> {
        self.recorder.push("fdatasync".into());
        self.inner.sync_data()
    }
    fn size(&self) -> std::io::Result<u64> {
        self.inner.size()
    }
    fn set_len(&self, len: u64) -> std::io::Result<()> {
        self.recorder.push(format!("ftruncate {len}"));
        self.inner.set_len(len)
    }
}

impl SegmentFs for RecordingFs {
    fn open(&self, path: &Path, create: bool) -> std::io::Result<Box<dyn SegmentFile>> {
        Ok(Box::new(RecordingFile {
            inner: OsFs.open(path, create)?,
            recorder: self.0.clone(),
        }))
    }
    fn sync_dir(&self, dir: &Path) -> std::io::Result<()> {
        self.0.push("fsync dir".into());
        OsFs.sync_dir(dir)
    }
    fn note(&self, step: Step) {
        match step {
            Step::IndexApplied => self.0.push("index applied".into()),
            Step::IndexFlushed => self.0.push("index flushed".into()),
            _ => {}
        }
    }
}

/// Whether `steps` holds `order` as a subsequence.
fn in_order(steps: &[String], order: &[&str]) -> bool {
    let mut wanted = order.iter().peekable();
    for step in steps {
        if wanted.peek().is_some_and(|w| *w == step) {
            wanted.next();
        }
    }
    wanted.peek().is_none()
}

#[test]
fn data_is_durable_before_the_index_and_the_index_before_the_acknowledgement() {
    let dir = tempfile::tempdir().unwrap();
    let recorder = Arc::new(Recorder::default());
    let fs = Arc::new(RecordingFs(recorder.clone()));
    let mut ledger =
        Ledger::open_with(dir.path(), OpenMode::Create, fs.clone(), &mut |_, _| {}).unwrap();
    recorder.take();

    // One durable append (`append`): the first creates the segment file.
    ledger.append(&events(0..300), NOW).unwrap();
    recorder.push("ack".into());
    let steps = recorder.take();
    assert_eq!(
        steps,
        [
            "ftruncate 0",
            "fsync dir",
            "pwrite",
            "fdatasync",
            "index applied",
            "index flushed",
            "ack"
        ],
        "{steps:?}"
    );
    ledger.append(&events(300..600), NOW).unwrap();
    recorder.push("ack".into());
    let steps = recorder.take();
    assert_eq!(
        steps,
        [
            "pwrite",
            "fdatasync",
            "index applied",
            "index flushed",
            "ack"
        ],
        "{steps:?}"
    );

    // The pipelined writer: each batch's outcomes are reported only after
    // its data was synced, then indexed, then the index flushed; the next
    // batch's data may be written meanwhile, never indexed before its sync.
    let batches: Vec<Vec<schemas::Event>> = (0..4)
        .map(|n| events(600 + n * 100..700 + n * 100))
        .collect();
    ledger
        .append_pipelined(
            batches.iter().map(Vec::as_slice),
            || NOW,
            |_| recorder.push("ack".into()),
        )
        .unwrap();
    let steps = recorder.take();
    assert_eq!(steps.iter().filter(|s| *s == "ack").count(), 4, "{steps:?}");
    // Every "index applied" follows a fdatasync after the last pwrite
    // before it, and every ack follows an "index flushed" after the last
    // "index applied" before it.
    let mut synced_since_write = true;
    let mut flushed_since_index = true;
    let mut unacked_flushes = 0;
    for step in &steps {
        match step.as_str() {
            "pwrite" => synced_since_write = false,
            "fdatasync" => synced_since_write = true,
            "index applied" => {
                assert!(
                    synced_since_write,
                    "indexed before its data was synced: {steps:?}"
                );
                flushed_since_index = false;
            }
            "index flushed" => {
                flushed_since_index = true;
                unacked_flushes += 1;
            }
            "ack" => {
                assert!(
                    unacked_flushes > 0,
                    "acknowledged before a flush: {steps:?}"
                );
                unacked_flushes -= 1;
            }
            _ => {}
        }
    }
    assert!(flushed_since_index, "{steps:?}");
    assert!(in_order(
        &steps,
        &[
            "pwrite",
            "fdatasync",
            "index applied",
            "index flushed",
            "ack"
        ]
    ));

    // Recovery cuts through the same wrapper: a torn tail is truncated
    // (and synced) before anything is written again.
    drop(ledger);
    let segment = segment_files(dir.path()).pop().unwrap();
    let len = std::fs::metadata(&segment).unwrap().len();
    let mut bytes = std::fs::read(&segment).unwrap();
    bytes.extend_from_slice(&[0xAB; 37]);
    std::fs::write(&segment, &bytes).unwrap();
    let ledger = retry_locked(|| {
        Ledger::open_with(dir.path(), OpenMode::Existing, fs.clone(), &mut |_, _| {})
    });
    let steps = recorder.take();
    assert_eq!(
        steps,
        [format!("ftruncate {len}"), "fdatasync".into()],
        "{steps:?}"
    );
    assert_eq!(ledger.size(), 1000);
}

#[test]
fn a_format_3_store_migrates_with_head_root_and_export_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let mut ledger = ledger_with(dir.path(), 2500, 300);
    // A duplicate and a second segment's worth of small appends.
    ledger.append(&events(0..10), NOW).unwrap();
    for n in 2500..2600 {
        ledger.append(&[event(n)], NOW).unwrap();
    }
    let head = ledger.head();
    let root = ledger.merkle_root(head.size).unwrap();
    let exported = export(&ledger);
    let fedje: Vec<_> = ledger
        .tenant_entries("fedje")
        .map(|e| e.unwrap().hash)
        .collect();
    drop(ledger);

    let store = retry_locked(|| Store::reopen(dir.path()).map_err(LedgerError::from));
    store.rewrite_as_format_3().unwrap();
    assert!(
        segment_files(dir.path()).is_empty(),
        "no segment files left"
    );

    let mut seen = Vec::new();
    let migrated =
        retry_locked(|| Ledger::migrate(dir.path(), &mut |done, total| seen.push((done, total))));
    assert_eq!(migrated.found, 3);
    assert_eq!(migrated.head, head);
    assert_eq!(migrated.root, root);
    assert_eq!(seen.first(), Some(&(0, 2600)));
    assert_eq!(seen.last(), Some(&(2600, 2600)));
    assert!(!segment_files(dir.path()).is_empty());

    let mut ledger = reopen(dir.path());
    assert_eq!(ledger.head(), head);
    assert_eq!(ledger.merkle_root(head.size).unwrap(), root);
    assert_eq!(
        export(&ledger),
        exported,
        "the export is byte for byte the same"
    );
    let again: Vec<_> = ledger
        .tenant_entries("fedje")
        .map(|e| e.unwrap().hash)
        .collect();
    assert_eq!(again, fedje);
    assert_eq!(ledger.verify(|_| {}).unwrap().unwrap().size, 2600);
    // Still a writable ledger, and migrating again finds nothing to do.
    ledger.append(&events(2600..2700), NOW).unwrap();
    drop(ledger);
    let again = retry_locked(|| Ledger::migrate(dir.path(), &mut |_, _| {}));
    assert_eq!(again.found, ledger::store::FORMAT_VERSION);
    assert_eq!(again.head.size, 2700);
}
