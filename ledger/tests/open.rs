//! Opening a ledger: `OpenMode::Existing` never creates one, every ledger
//! has an identity, and the ledger's lock (sled's `flock` on `DIR/db`) is
//! the one `DirLock` takes, also after the directory was renamed.

use std::path::Path;

use ledger::{DirLock, Ledger, LedgerError, OpenMode, StoreError};
use schemas::Event;

fn event(id: &str) -> Event {
    let value = serde_json::json!({
        "specversion": "1.0", "id": id, "source": "test/open",
        "type": "incident.opened", "time": "2025-11-03T09:15:00+01:00",
        "tenant": "alver", "datacontenttype": "application/json",
        "data": {"incident_id": id, "service": "epost", "priority": "P2"}
    });
    Event::from_json(&value).expect("a valid event")
}

const NOW: i64 = 1_800_000_000_000_000;

fn is_no_ledger(result: Result<Ledger, LedgerError>, dir: &Path) {
    match result {
        Err(LedgerError::Store(StoreError::NoLedger { dir: named })) => assert_eq!(named, dir),
        Err(other) => panic!("expected no ledger in {}, got {other}", dir.display()),
        Ok(_) => panic!("expected no ledger in {}, opened one", dir.display()),
    }
}

fn is_locked(result: Result<Ledger, LedgerError>) -> Option<u32> {
    match result {
        Err(LedgerError::Store(StoreError::Locked { pid, .. })) => pid,
        Err(other) => panic!("expected the ledger to be locked, got {other}"),
        Ok(_) => panic!("expected the ledger to be locked, opened it"),
    }
}

#[test]
fn existing_mode_creates_nothing_where_there_is_no_ledger() {
    let root = tempfile::tempdir().unwrap();
    let missing = root.path().join("missing");
    is_no_ledger(Ledger::open_existing(&missing), &missing);
    assert!(!missing.exists());
    let empty = root.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    is_no_ledger(Ledger::open_in(&empty, OpenMode::Existing), &empty);
    assert_eq!(std::fs::read_dir(&empty).unwrap().count(), 0);
    match Ledger::verify_dir(&empty, |_| ()) {
        Err(LedgerError::Store(StoreError::NoLedger { .. })) => {}
        Err(other) => panic!("verify_dir of an empty directory: {other}"),
        Ok(_) => panic!("verify_dir verified an empty directory"),
    }
    assert_eq!(std::fs::read_dir(&empty).unwrap().count(), 0);
    // Create mode makes one, which Existing then opens.
    let ledger = Ledger::open_in(&empty, OpenMode::Create).unwrap();
    drop(ledger);
    assert_eq!(ledger_size(&empty), 0);
}

fn ledger_size(dir: &Path) -> u64 {
    let mut waited = 0;
    loop {
        match Ledger::open_existing(dir) {
            // sled lets go of a closed store a moment after the drop.
            Err(LedgerError::Store(StoreError::Locked { .. })) if waited < 200 => {
                std::thread::sleep(std::time::Duration::from_millis(10));
                waited += 1;
            }
            opened => return opened.expect("the ledger opens").size(),
        }
    }
}

#[test]
fn each_ledger_has_its_own_id_and_its_first_entry_tells_copies_apart() {
    let root = tempfile::tempdir().unwrap();
    let mut a = Ledger::open(&root.path().join("a")).unwrap();
    let b = Ledger::open(&root.path().join("b")).unwrap();
    let id = a.identity().unwrap().expect("a new ledger has an id");
    assert_eq!(id.id.len(), 32, "{}", id.id);
    assert_eq!(id.first_entry, None);
    assert_ne!(id.id, b.identity().unwrap().unwrap().id);
    a.append(&[event("e-1"), event("e-2")], NOW).unwrap();
    let first = a.entry(0).unwrap().unwrap().hash;
    let after = a.identity().unwrap().unwrap();
    assert_eq!(after.id, id.id, "the id stays");
    assert_eq!(after.first_entry, Some(first));
    // The consumer and stream that feed it are recorded.
    assert_eq!(a.consumer_stream("tla-ledger").unwrap(), None);
    a.record_consumer("tla-ledger", "TLA_EVENTS").unwrap();
    drop(a);
    let a = Ledger::open(&root.path().join("a")).unwrap();
    assert_eq!(a.identity().unwrap().unwrap(), after);
    assert_eq!(
        a.consumer_stream("tla-ledger").unwrap().as_deref(),
        Some("TLA_EVENTS")
    );
}

#[test]
fn a_ledger_older_than_ids_gets_one_at_its_first_writable_open() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("old");
    Ledger::open(&dir)
        .unwrap()
        .append(&[event("e-1")], NOW)
        .unwrap();
    // Remove the id the way a store written by an older build lacks it
    // (the same segment size as the store, which sled insists on).
    {
        let db = sled::Config::new()
            .path(&dir)
            .segment_size(16 << 20)
            .open()
            .expect("sled opens the store");
        db.remove(b"I").unwrap().expect("the store had an id");
        db.flush().unwrap();
    }
    let reader = reopen(&dir, OpenMode::Existing);
    assert_eq!(reader.identity().unwrap(), None, "a reader writes nothing");
    drop(reader);
    let writer = reopen(&dir, OpenMode::Create);
    let identity = writer
        .identity()
        .unwrap()
        .expect("a writable open gives an id");
    assert_eq!(
        identity.first_entry,
        Some(writer.entry(0).unwrap().unwrap().hash)
    );
}

/// Opens a store this process just closed (sled lets go a moment late).
fn reopen(dir: &Path, mode: OpenMode) -> Ledger {
    for _ in 0..200 {
        match Ledger::open_in(dir, mode) {
            Err(LedgerError::Store(StoreError::Locked { .. })) => {
                std::thread::sleep(std::time::Duration::from_millis(10))
            }
            opened => return opened.expect("the ledger opens"),
        }
    }
    panic!("{} stayed locked", dir.display());
}

#[test]
fn dir_lock_is_the_ledgers_lock_and_follows_a_renamed_directory() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("ledger");
    // No ledger: nothing to lock.
    assert!(DirLock::try_acquire(&dir).unwrap().is_none());
    let ledger = Ledger::open(&dir).unwrap();
    match DirLock::try_acquire(&dir) {
        Err(StoreError::Locked { pid, .. }) => {
            assert_eq!(
                pid,
                Some(std::process::id()),
                "/proc/locks names the holder"
            )
        }
        other => panic!("expected Locked, got {other:?}"),
    }
    drop(ledger);
    let lock = DirLock::acquire_closed(&dir)
        .unwrap()
        .expect("a ledger to lock");
    assert_eq!(is_locked(Ledger::open(&dir)), Some(std::process::id()));
    // The lock belongs to the file: renamed, the ledger is still held.
    let moved = root.path().join("moved");
    std::fs::rename(&dir, &moved).unwrap();
    is_locked(Ledger::open_existing(&moved));
    drop(lock);
    assert_eq!(Ledger::open_existing(&moved).unwrap().size(), 0);
}
