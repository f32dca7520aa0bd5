//! Ledger tests: appends, idempotency, and tamper evidence through the
//! test-only door of the store.

use proptest::prelude::*;
use serde_json::json;

use super::*;

/// 2026-01-01T00:00:00Z in microseconds: the ledger clock of these tests.
const NOW: i64 = 1_767_225_600_000_000;

fn event(tenant: &str, n: u64) -> Event {
    event_with(tenant, n, "INC-1")
}

fn event_with(tenant: &str, n: u64, incident: &str) -> Event {
    let value = json!({
        "specversion": "1.0", "id": format!("ev-{n}"), "source": "test/ledger",
        "type": "incident.responded", "time": "2025-12-01T10:00:00+01:00",
        "tenant": tenant, "data": {"incident_id": incident}
    });
    Event::from_json(&value).unwrap_or_else(|errors| panic!("test event invalid: {errors:?}"))
}

fn events(count: u64) -> Vec<Event> {
    let tenants = ["alver", "fedje", "gulen"];
    (0..count)
        .map(|n| event(tenants[(n % 3) as usize], n))
        .collect()
}

fn ledger_with(count: u64) -> (tempfile::TempDir, Ledger) {
    let dir = tempfile::tempdir().unwrap();
    let mut ledger = Ledger::open(dir.path()).unwrap();
    let all = events(count);
    // Several appends, so entries span several blocks of unequal size.
    for chunk in all.chunks(700) {
        ledger.append(chunk, NOW).unwrap();
    }
    (dir, ledger)
}

#[test]
fn append_stores_in_order_with_chained_hashes() {
    let (_dir, ledger) = ledger_with(2000);
    assert_eq!(ledger.size(), 2000);
    let entries: Vec<Entry> = ledger.entries(0).map(Result::unwrap).collect();
    assert_eq!(entries.len(), 2000);
    let mut prev = ZERO_HASH;
    for (n, entry) in entries.iter().enumerate() {
        assert_eq!(entry.record.position, n as u64);
        assert_eq!(entry.record.prev_hash, prev);
        assert_eq!(entry.hash, record::hash(&entry.record.encode()));
        prev = entry.hash;
    }
    assert_eq!(ledger.head().hash, prev);
    let summary = ledger.verify(|_| {}).unwrap().unwrap();
    assert_eq!(summary.size, 2000);
    assert_eq!(summary.tenants, 3);
}

#[test]
fn tenant_entries_follow_the_tenant_chain() {
    let (_dir, ledger) = ledger_with(1500);
    let fedje: Vec<Entry> = ledger.tenant_entries("fedje").map(Result::unwrap).collect();
    assert_eq!(fedje.len(), 500);
    let mut prev = ZERO_HASH;
    for (seq, entry) in fedje.iter().enumerate() {
        assert_eq!(entry.record.tenant, "fedje");
        assert_eq!(entry.record.tenant_seq, seq as u64);
        assert_eq!(entry.record.tenant_prev_hash, prev);
        assert_eq!(entry.record.position % 3, 1);
        prev = entry.hash;
    }
    assert_eq!(ledger.tenants().get("fedje"), Some(&500));
    assert_eq!(ledger.tenant_entries("nobody").count(), 0);
}

#[test]
fn duplicates_are_reported_not_stored_also_after_reopen() {
    let (dir, ledger) = ledger_with(10);
    let head = ledger.head();
    drop(ledger);
    let mut ledger = reopen(dir.path());
    assert_eq!(ledger.head(), head);
    let again = events(12);
    let outcomes = ledger.append(&again, NOW).unwrap();
    assert_eq!(outcomes[3], Outcome::Duplicate(3));
    assert_eq!(outcomes[10], Outcome::Appended(10));
    assert_eq!(outcomes[11], Outcome::Appended(11));
    assert_eq!(ledger.size(), 12);
    // A repeat inside one batch points at the first copy.
    let repeat = vec![event("alver", 50), event("alver", 50)];
    let outcomes = ledger.append(&repeat, NOW).unwrap();
    assert_eq!(
        outcomes,
        vec![Outcome::Appended(12), Outcome::Duplicate(12)]
    );
}

#[test]
fn a_conflict_refuses_the_whole_batch() {
    let (_dir, mut ledger) = ledger_with(5);
    let head = ledger.head();
    let batch = vec![event("alver", 100), event_with("gulen", 2, "INC-OTHER")];
    let Err(LedgerError::Rejected(rejected)) = ledger.append(&batch, NOW) else {
        panic!("conflict accepted");
    };
    assert_eq!(rejected.len(), 1);
    assert_eq!(rejected[0].0, 1);
    assert!(
        matches!(rejected[0].1, Rejection::Conflict { position: 2, .. }),
        "{rejected:?}"
    );
    assert!(rejected[0]
        .1
        .to_string()
        .contains("conflicts with ledger position 2"));
    assert_eq!(ledger.head(), head);
    let in_batch = vec![event("alver", 200), event_with("alver", 200, "INC-OTHER")];
    let Err(LedgerError::Rejected(rejected)) = ledger.append(&in_batch, NOW) else {
        panic!("in-batch conflict accepted");
    };
    assert!(matches!(
        rejected[0].1,
        Rejection::ConflictInBatch { other: 0, .. }
    ));
    assert_eq!(ledger.head(), head);
}

#[test]
fn clock_skew_beyond_five_minutes_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut ledger = Ledger::open(dir.path()).unwrap();
    // The event's time is 2025-12-01T09:00:00Z = 1764579600 s.
    let event_time = 1_764_579_600_i64 * 1_000_000;
    let ok = ledger.append(&[event("alver", 1)], event_time - 300_000_000);
    assert!(ok.is_ok(), "exactly 300 s ahead is allowed: {ok:?}");
    let Err(LedgerError::Rejected(rejected)) =
        ledger.append(&[event("alver", 2)], event_time - 301_000_000)
    else {
        panic!("skewed event accepted");
    };
    assert!(rejected[0]
        .1
        .to_string()
        .contains("more than 300 s after the ledger's clock"));
    assert_eq!(ledger.size(), 1);
}

#[test]
fn record_time_never_decreases() {
    let dir = tempfile::tempdir().unwrap();
    let mut ledger = Ledger::open(dir.path()).unwrap();
    ledger.append(&[event("alver", 1)], NOW).unwrap();
    ledger
        .append(&[event("alver", 2)], NOW - 5_000_000)
        .unwrap();
    let times: Vec<i64> = ledger
        .entries(0)
        .map(|e| e.unwrap().record.record_time)
        .collect();
    assert_eq!(times, vec![NOW, NOW]);
}

#[test]
fn export_round_trips_through_the_export_verifier() {
    let (_dir, ledger) = ledger_with(1200);
    let mut out = Vec::new();
    let summary = ledger.export(&mut out, None).unwrap();
    assert_eq!(summary.entries, 1200);
    let (header, checked) = export::verify(&mut &out[..]).unwrap();
    assert_eq!(header.entries, 1200);
    assert_eq!(checked.head, ledger.head().hash);
    let mut tenant = Vec::new();
    ledger.export(&mut tenant, Some("gulen")).unwrap();
    let (header, checked) = export::verify(&mut &tenant[..]).unwrap();
    assert_eq!((header.scope.as_str(), checked.size), ("tenant", 400));
}

/// An export of `ledger_with(count)` as lines, edited by `edit`, then
/// verified (against `checkpoint` when given).
fn check_export(
    count: u64,
    tenant: Option<&str>,
    checkpoint: Option<&checkpoint::Checkpoint>,
    edit: impl FnOnce(&mut Vec<serde_json::Value>),
) -> Result<chain::Summary, String> {
    let (_dir, ledger) = ledger_with(count);
    let mut out = Vec::new();
    ledger.export(&mut out, tenant).unwrap();
    let mut lines: Vec<serde_json::Value> = std::str::from_utf8(&out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    edit(&mut lines);
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    export::verify_against(&mut text.as_bytes(), checkpoint)
        .map(|(_, summary)| summary)
        .map_err(|e| e.to_string())
}

/// Re-hashes the last line after an edit of its fields, and points the
/// header's heads at it: a forger's recomputation.
fn rehash_last(lines: &mut [serde_json::Value]) {
    let last = lines.len() - 1;
    let line: export::Line = serde_json::from_value(lines[last].clone()).unwrap();
    let record = Record {
        position: line.position,
        record_time: line.record_time,
        prev_hash: Hash::from_hex(&line.prev_hash).unwrap(),
        tenant_seq: line.tenant_seq,
        tenant_prev_hash: Hash::from_hex(&line.tenant_prev_hash).unwrap(),
        tenant: line.tenant,
        event: line.event.into_bytes(),
    };
    let hash = record::hash(&record.encode()).to_hex();
    lines[last]["hash"] = json!(hash);
    lines[0]["head"] = json!(hash);
    if lines[0]["scope"] == "ledger" {
        lines[0]["ledger_head"] = json!(hash);
    }
}

#[test]
fn an_export_verifies_strictly_and_gives_its_merkle_root() {
    let (_dir, ledger) = ledger_with(300);
    let summary = check_export(300, None, None, |_| {}).unwrap();
    assert_eq!(summary.merkle_root, Some(ledger.merkle_root(300).unwrap()));
    check_export(300, Some("gulen"), None, |_| {}).unwrap();
    // Other key order in a line is the same line.
    check_export(300, None, None, |lines| {
        let reordered: serde_json::Map<_, _> = lines[5]
            .as_object()
            .unwrap()
            .iter()
            .rev()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        lines[5] = serde_json::Value::Object(reordered);
    })
    .unwrap();
    let refused =
        |tenant: Option<&str>, edit: &dyn Fn(&mut Vec<serde_json::Value>), expect: &str| {
            let error = check_export(300, tenant, None, edit).unwrap_err();
            assert!(error.contains(expect), "{error:?} lacks {expect:?}");
        };
    refused(None, &|l| l[0]["tenant"] = json!("alver"), "tenant null");
    refused(
        None,
        &|l| l[0]["ledger_size"] = json!(5000),
        "ledger_size 5000",
    );
    refused(
        None,
        &|l| l[0]["ledger_head"] = json!("ab".repeat(32)),
        "ledger_head",
    );
    refused(
        None,
        &|l| l[0]["record"] = json!("tla-ledger/entry/v2"),
        "record",
    );
    refused(None, &|l| l[0]["signed_by"] = json!("us"), "unknown field");
    refused(None, &|l| l[7]["note"] = json!("x"), "unknown field");
    let upper = |l: &mut Vec<serde_json::Value>, line: usize, field: &str| {
        let upper = l[line][field].as_str().unwrap().to_uppercase();
        l[line][field] = json!(upper);
    };
    refused(None, &|l| upper(l, 7, "prev_hash"), "lowercase hex");
    refused(None, &|l| upper(l, 0, "head"), "lowercase hex");
    refused(
        Some("gulen"),
        &|l| l[0]["ledger_size"] = json!(200),
        "beyond the header's ledger_size",
    );
    // A non-canonical event, the entry and the heads re-hashed.
    refused(
        None,
        &|l| {
            let last = l.len() - 1;
            let event = l[last]["event"].as_str().unwrap().replacen(':', ": ", 1);
            l[last]["event"] = json!(event);
            rehash_last(l);
        },
        "not in canonical JSON",
    );
    refused(
        None,
        &|l| {
            let last = l.len() - 1;
            let value: serde_json::Value =
                serde_json::from_str(l[last]["event"].as_str().unwrap()).unwrap();
            let event = format!("{{\"zz\":1,{}", &value.to_string()[1..]);
            l[last]["event"] = json!(event);
            rehash_last(l);
        },
        "not in canonical JSON",
    );
}

#[test]
fn an_export_is_held_against_a_checkpoint_by_the_root_of_its_first_size_entries() {
    let (_dir, ledger) = ledger_with(300);
    let at = |size| checkpoint::Checkpoint::new("o", size, ledger.merkle_root(size).unwrap());
    for size in [0, 1, 257, 300] {
        check_export(300, None, Some(&at(size)), |_| {}).unwrap();
    }
    let beyond = checkpoint::Checkpoint::new("o", 301, [0; 32]);
    let error = check_export(300, None, Some(&beyond), |_| {}).unwrap_err();
    assert!(error.contains("holds 300 entries, but the checkpoint signs a tree of 301"));
    // Truncated, header recomputed: the chain verifies, the checkpoint does not.
    let error = check_export(300, None, Some(&at(300)), |lines| {
        lines.truncate(251);
        let head = lines[250]["hash"].clone();
        lines[0]["entries"] = json!(250);
        lines[0]["ledger_size"] = json!(250);
        lines[0]["head"] = head.clone();
        lines[0]["ledger_head"] = head;
    })
    .unwrap_err();
    assert!(error.contains("holds 250 entries"), "{error}");
    // Rewritten, chain recomputed: the root differs.
    let error = check_export(300, None, Some(&at(300)), |lines| {
        let last = lines.len() - 1;
        let event = lines[last]["event"].as_str().unwrap().replace("INC", "INX");
        lines[last]["event"] = json!(event);
        rehash_last(lines);
    })
    .unwrap_err();
    assert!(error.contains("the export was rewritten"), "{error}");
    let error = check_export(300, Some("gulen"), Some(&at(300)), |_| {}).unwrap_err();
    assert!(error.contains("export of tenant gulen"), "{error}");
}

// ---- tamper evidence -------------------------------------------------------

/// One tenant's records of one append, as stored: (bytes, stored hash).
type Run = Vec<(Vec<u8>, Hash)>;

/// Rewrites the stored records through the test-only door. `edit` gets
/// every run (tenant, records in stored order); blocks are then written
/// back as they were grouped, keyed by their first record's position. The
/// append layouts are left as they were: they are what the data is
/// checked against.
fn tamper(ledger: &Ledger, edit: impl FnOnce(&mut Vec<(String, Run)>)) {
    let store = ledger.store();
    let mut runs = Vec::new();
    for item in store.layouts(0) {
        let (first, layout) = item.unwrap();
        for tenant in &layout.tenants {
            let mut run = Vec::new();
            for block_item in store.tenant_blocks(tenant, first..first + layout.len()) {
                let (block_first, bytes) = block_item.unwrap();
                for record in block::records(&bytes).unwrap() {
                    let (bytes, hash) = record.unwrap();
                    run.push((bytes.to_vec(), hash));
                }
                store.tamper_put_block(tenant, block_first, None).unwrap();
            }
            runs.push((tenant.clone(), run));
        }
    }
    edit(&mut runs);
    for (tenant, run) in runs {
        for chunk in run.chunks(block::BLOCK_ENTRIES_MAX) {
            let first = Record::decode(&chunk[0].0).map_or(0, |r| r.position);
            let value = block::encode(chunk.iter().map(|(b, h)| (&b[..], *h)));
            store.tamper_put_block(&tenant, first, Some(value)).unwrap();
        }
    }
}

/// (run, index in run) of the record at `position`.
fn locate(runs: &[(String, Run)], position: u64) -> (usize, usize) {
    for (r, (_, run)) in runs.iter().enumerate() {
        for (i, (bytes, _)) in run.iter().enumerate() {
            if Record::decode(bytes).unwrap().position == position {
                return (r, i);
            }
        }
    }
    panic!("no record at {position}");
}

fn failure_of(ledger: &Ledger) -> Failure {
    match ledger.verify(|_| {}).unwrap() {
        Ok(summary) => panic!("tampered ledger verified: {summary:?}"),
        Err(failure) => failure,
    }
}

/// Re-encodes a record after `change`, keeping or recomputing the stored hash.
fn rewrite(slot: &mut (Vec<u8>, Hash), rehash: bool, change: impl FnOnce(&mut Record)) {
    let mut record = Record::decode(&slot.0).unwrap();
    change(&mut record);
    slot.0 = record.encode();
    if rehash {
        slot.1 = record::hash(&slot.0);
    }
}

#[derive(Debug, Clone, Copy)]
enum Tamper {
    FlipByte,
    ChangeEventRehash,
    Delete,
    Swap,
    Insert,
    TruncateTail,
}

/// Applies a tamper at position `p`; returns where and what `verify` must
/// report. A swap exchanges `p` with the next entry of the same tenant in
/// the same append (entries of different tenants live in different blocks,
/// so exchanging those changes nothing stored).
fn apply(ledger: &Ledger, tamper_kind: Tamper, p: usize) -> (u64, &'static str) {
    let p64 = p as u64;
    let mut expected = (p64, "changed");
    tamper(ledger, |runs| {
        let (r, i) = locate(runs, p64);
        let run = &mut runs[r].1;
        match tamper_kind {
            Tamper::FlipByte => {
                let last = run[i].0.len() - 2;
                run[i].0[last] ^= 0x20;
            }
            Tamper::ChangeEventRehash => rewrite(&mut run[i], true, |r| {
                r.event = br#"{"forged":true}"#.to_vec()
            }),
            Tamper::Delete => {
                run.remove(i);
                expected = (p64, "missing");
            }
            Tamper::Swap => {
                run.swap(i, i + 1);
                expected = (p64, "reordered");
            }
            Tamper::Insert => {
                let mut forged = run[i].clone();
                rewrite(&mut forged, true, |r| {
                    r.event = br#"{"forged":true}"#.to_vec()
                });
                run.insert(i, forged);
                expected = (p64, "inserted");
            }
            Tamper::TruncateTail => {
                for (_, run) in runs.iter_mut() {
                    run.retain(|(bytes, _)| Record::decode(bytes).unwrap().position < p64);
                }
                expected = (p64, "missing");
            }
        }
    });
    expected
}

fn assert_caught(size: u64, tamper_kind: Tamper, p: usize) {
    let (_dir, ledger) = ledger_with(size);
    let (position, kind) = apply(&ledger, tamper_kind, p);
    let failure = failure_of(&ledger);
    assert_eq!(
        (failure.position(), failure.kind()),
        (position, kind),
        "{tamper_kind:?} at {p} of {size}: {failure}"
    );
}

#[test]
fn tampering_is_caught_at_the_right_position() {
    for (tamper_kind, p) in [
        (Tamper::FlipByte, 0),
        (Tamper::FlipByte, 1500),
        (Tamper::ChangeEventRehash, 0),
        (Tamper::ChangeEventRehash, 1023),
        (Tamper::ChangeEventRehash, 1999),
        (Tamper::Delete, 0),
        (Tamper::Delete, 1024),
        (Tamper::Swap, 0),
        (Tamper::Swap, 1024),
        (Tamper::Insert, 0),
        (Tamper::Insert, 777),
        (Tamper::Insert, 1999),
        (Tamper::TruncateTail, 1990),
    ] {
        assert_caught(2000, tamper_kind, p);
    }
}

#[test]
fn a_changed_head_is_caught() {
    let (_dir, ledger) = ledger_with(10);
    let head = store::Head {
        size: 10,
        hash: [9; 32],
        last_record_time: NOW,
    };
    ledger.store().tamper_put_head(head).unwrap();
    drop(ledger);
    let ledger = reopen(_dir.path());
    let failure = failure_of(&ledger);
    assert_eq!(
        (failure.position(), failure.kind()),
        (9, "changed"),
        "{failure}"
    );
}

#[test]
fn the_last_entry_changed_with_its_hash_is_caught_by_the_head() {
    let (_dir, ledger) = ledger_with(10);
    tamper(&ledger, |runs| {
        let (r, i) = locate(runs, 9);
        rewrite(&mut runs[r].1[i], true, |r| r.event = b"{}".to_vec())
    });
    let failure = failure_of(&ledger);
    assert_eq!(
        (failure.position(), failure.kind()),
        (9, "changed"),
        "{failure}"
    );
}

fn tamper_strategy() -> impl Strategy<Value = (u64, Tamper, usize)> {
    let kinds = prop_oneof![
        Just(Tamper::FlipByte),
        Just(Tamper::ChangeEventRehash),
        Just(Tamper::Delete),
        Just(Tamper::Swap),
        Just(Tamper::Insert),
        Just(Tamper::TruncateTail),
    ];
    (4u64..60, kinds, any::<prop::sample::Index>()).prop_map(|(size, kind, index)| {
        // A swap needs a successor of the same tenant in the same append
        // (tenants alternate in threes; appends hold 700); a truncation
        // keeps at least one entry.
        let p = match kind {
            Tamper::Swap => index.index(size as usize - 3),
            Tamper::TruncateTail => 1 + index.index(size as usize - 1),
            _ => index.index(size as usize),
        };
        (size, kind, p)
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn random_tampering_is_caught_where_it_happened((size, tamper_kind, p) in tamper_strategy()) {
        assert_caught(size, tamper_kind, p);
    }

    #[test]
    fn random_untampered_ledgers_verify(size in 0u64..80, split in 1usize..30) {
        let dir = tempfile::tempdir().unwrap();
        let mut ledger = Ledger::open(dir.path()).unwrap();
        for chunk in events(size).chunks(split) {
            ledger.append(chunk, NOW).unwrap();
        }
        let summary = ledger.verify(|_| {}).unwrap().unwrap();
        prop_assert_eq!(summary.size, size);
        prop_assert_eq!(summary.head, ledger.head().hash);
    }
}

#[test]
fn a_block_the_append_did_not_record_is_caught() {
    let dir = tempfile::tempdir().unwrap();
    let mut ledger = Ledger::open(dir.path()).unwrap();
    ledger.append(&events(6), NOW).unwrap();
    let alver_only: Vec<Event> = (100..104).map(|n| event("alver", n)).collect();
    ledger.append(&alver_only, NOW).unwrap();
    // A copy of fedje's block, filed under a position of the second append.
    let (_, bytes) = ledger.store().last_tenant_block("fedje").unwrap().unwrap();
    ledger
        .store()
        .tamper_put_block("fedje", 7, Some(bytes.to_vec()))
        .unwrap();
    let failure = failure_of(&ledger);
    assert_eq!(
        (failure.position(), failure.kind()),
        (7, "inserted"),
        "{failure}"
    );
}

#[test]
fn a_tenant_reads_only_its_own_blocks() {
    let (_dir, ledger) = ledger_with(3000);
    let mut blocks = 0;
    for item in ledger.store().all_tenant_blocks("gulen") {
        let (_, bytes) = item.unwrap();
        for record in block::records(&bytes).unwrap() {
            let record = Record::decode(record.unwrap().0).unwrap();
            assert_eq!(record.tenant, "gulen");
        }
        blocks += 1;
    }
    // 3,000 events in appends of 700: five appends, one gulen block each.
    assert_eq!(blocks, 5);
}

#[test]
fn unsynced_appends_are_durable_after_a_sync_from_another_thread() {
    let dir = tempfile::tempdir().unwrap();
    let mut ledger = Ledger::open(dir.path()).unwrap();
    let syncer = ledger.syncer();
    let all = events(30);
    ledger.append_unsynced(&all[..10], NOW).unwrap();
    let first_sync = std::thread::spawn(move || syncer.sync());
    ledger.append_unsynced(&all[10..], NOW).unwrap();
    first_sync.join().unwrap().unwrap();
    ledger.syncer().sync().unwrap();
    let head = ledger.head();
    drop(ledger);
    let ledger = reopen(dir.path());
    assert_eq!(ledger.head(), head);
    assert_eq!(ledger.verify(|_| {}).unwrap().unwrap().size, 30);
}

#[test]
fn pipelined_appends_report_each_batch_in_order_once_durable() {
    let dir = tempfile::tempdir().unwrap();
    let mut ledger = Ledger::open(dir.path()).unwrap();
    let all = events(95);
    let mut reported = Vec::new();
    ledger
        .append_pipelined(all.chunks(10), || NOW, |outcomes| reported.extend(outcomes))
        .unwrap();
    let expected: Vec<Outcome> = (0..95).map(Outcome::Appended).collect();
    assert_eq!(reported, expected);
    // A refused batch stops the pipeline; what was reported stays.
    let mut more: Vec<Event> = (100..120).map(|n| event("alver", n)).collect();
    more[15] = event_with("alver", 3, "INC-CONFLICT");
    let mut reported = 0;
    let result = ledger.append_pipelined(more.chunks(10), || NOW, |o| reported += o.len());
    assert!(
        matches!(result, Err(LedgerError::Rejected(_))),
        "{result:?}"
    );
    assert_eq!(reported, 10);
    drop(ledger);
    let ledger = reopen(dir.path());
    assert_eq!(ledger.verify(|_| {}).unwrap().unwrap().size, 105);
}

#[test]
fn verifying_a_directory_in_stretches_reopens_and_still_finds_tampering() {
    let (dir, ledger) = ledger_with(2000);
    let head = ledger.head();
    drop(ledger);
    let mut seen = Vec::new();
    let summary = verify_dropped(dir.path(), 500, |n| seen.push(n))
        .unwrap()
        .unwrap();
    assert_eq!((summary.size, summary.head), (2000, head.hash));
    assert_eq!(seen, vec![700, 1400, 2000]);
    let ledger = reopen(dir.path());
    apply(&ledger, Tamper::Delete, 1500);
    drop(ledger);
    let failure = verify_dropped(dir.path(), 500, |_| {})
        .unwrap()
        .unwrap_err();
    assert_eq!(
        (failure.position(), failure.kind()),
        (1500, "missing"),
        "{failure}"
    );
}

/// The leaf hashes of every stored entry, computed from the records.
fn leaves_of(ledger: &Ledger) -> Vec<merkle::Digest> {
    ledger
        .entries(0)
        .map(|entry| merkle::leaf_hash(&entry.unwrap().record.encode()))
        .collect()
}

#[test]
fn the_stored_tree_gives_the_reference_roots_and_proofs() {
    let (_dir, ledger) = ledger_with(1300);
    let leaves = leaves_of(&ledger);
    let root = merkle::root(&leaves);
    assert_eq!(ledger.merkle_root(1300).unwrap(), root);
    assert_eq!(
        ledger.verify(|_| {}).unwrap().unwrap().merkle_root,
        Some(root)
    );
    for size in [1u64, 2, 255, 256, 257, 700, 1024, 1299, 1300] {
        let prefix = &leaves[..size as usize];
        assert_eq!(ledger.merkle_root(size).unwrap(), merkle::root(prefix));
        for index in [0, size / 2, size - 1] {
            let proof = ledger.inclusion_proof(index, size).unwrap();
            assert_eq!(ledger.leaf_hash(index).unwrap(), leaves[index as usize]);
            merkle::verify_inclusion(
                &leaves[index as usize],
                index,
                size,
                &proof,
                &merkle::root(prefix),
            )
            .unwrap();
        }
        let proof = ledger.consistency_proof(size, 1300).unwrap();
        merkle::verify_consistency(size, 1300, &merkle::root(prefix), &root, &proof).unwrap();
    }
    assert!(matches!(
        ledger.merkle_root(1301),
        Err(LedgerError::BeyondSize { .. })
    ));
    assert!(ledger.inclusion_proof(5, 5).is_err());
    assert!(ledger.consistency_proof(0, 5).is_err());
}

#[test]
fn verify_finds_an_altered_tile_and_names_the_position() {
    let (_dir, ledger) = ledger_with(1300);
    let leaves = leaves_of(&ledger);
    // Leaf 300 lives in level-0 tile 1 at offset 44; tile 1 is whole.
    let mut tile = tiles::tile_bytes(&leaves[256..512]);
    tile[44 * 32] ^= 1;
    ledger.store().tamper_put_tile(0, 1, &tile).unwrap();
    let failure = ledger.verify(|_| {}).unwrap().unwrap_err();
    assert_eq!(
        (failure.position(), failure.kind()),
        (300, "corrupt"),
        "{failure}"
    );
    assert!(
        failure.to_string().contains("Merkle leaf hash"),
        "{failure}"
    );
    // The edge tile (positions 1280..1300) is checked at the end.
    let (_dir, ledger) = ledger_with(1300);
    ledger.store().tamper_put_tile(0, 5, &[0; 32]).unwrap();
    let failure = ledger.verify(|_| {}).unwrap().unwrap_err();
    assert_eq!(failure.position(), 1280, "{failure}");
}

/// verify checks the chain on one thread and the tiles on another, a few
/// appends behind: whichever of the two finds the earlier bad position must
/// be the one reported, as a single pass in ledger order would report it.
#[test]
fn verify_reports_the_earlier_of_a_tile_and_a_chain_failure() {
    // (altered leaf, its level-0 tile, entry deleted, position reported)
    let cases = [
        // The tile (append 0) comes before the chain break (append 2).
        (300u64, 1u64, 1500usize, (300u64, "corrupt")),
        // The chain break (append 0) comes before the tile (append 1).
        (1100, 4, 100, (100, "missing")),
        // Both in append 1: the chain is judged before that append's tiles.
        (1100, 4, 1300, (1300, "missing")),
    ];
    for (leaf, tile_index, deleted, expected) in cases {
        let (dir, ledger) = ledger_with(2000);
        let leaves = leaves_of(&ledger);
        let first = (tile_index * 256) as usize;
        let mut tile = tiles::tile_bytes(&leaves[first..first + 256]);
        tile[(leaf as usize - first) * 32] ^= 1;
        ledger
            .store()
            .tamper_put_tile(0, tile_index, &tile)
            .unwrap();
        apply(&ledger, Tamper::Delete, deleted);
        let failure = ledger.verify(|_| {}).unwrap().unwrap_err();
        assert_eq!((failure.position(), failure.kind()), expected, "{failure}");
        drop(ledger);
        for stretch in [1, 500, VERIFY_REOPEN_ENTRIES] {
            let failure = verify_dropped(dir.path(), stretch, |_| {})
                .unwrap()
                .unwrap_err();
            let found = (failure.position(), failure.kind());
            assert_eq!(found, expected, "stretch {stretch}: {failure}");
        }
    }
}

#[test]
fn a_format_2_store_gets_its_tiles_on_open() {
    let (dir, ledger) = ledger_with(900);
    let root = ledger.merkle_root(900).unwrap();
    ledger.store().tamper_downgrade().unwrap();
    drop(ledger);
    // verify_dir upgrades, then checks the tiles it wrote.
    let summary = verify_dropped(dir.path(), VERIFY_REOPEN_ENTRIES, |_| {});
    assert_eq!(summary.unwrap().unwrap().merkle_root, Some(root));
    let mut ledger = reopen(dir.path());
    assert_eq!(ledger.store().format(), store::FORMAT_VERSION);
    ledger.append(&[event("alver", 5000)], NOW).unwrap();
    let leaves = leaves_of(&ledger);
    assert_eq!(ledger.merkle_root(901).unwrap(), merkle::root(&leaves));
}

#[test]
fn checkpoints_are_signed_stored_and_never_inconsistent() {
    let (_dir, mut ledger) = ledger_with(600);
    let signer = checkpoint::Signer::from_seed("test.example/ledger", [3; 32]).unwrap();
    let verifier = signer.verifier();
    let note = ledger.sign_checkpoint(&signer).unwrap();
    let first = verifier.open(&note).unwrap();
    assert_eq!(
        (first.size, first.root),
        (600, ledger.merkle_root(600).unwrap())
    );
    assert_eq!(
        ledger.sign_checkpoint(&signer).unwrap(),
        note,
        "same size, same note"
    );
    ledger.append(&events(650)[600..], NOW).unwrap();
    let second = verifier
        .open(&ledger.sign_checkpoint(&signer).unwrap())
        .unwrap();
    assert_eq!(second.size, 650);
    assert_eq!(ledger.latest_checkpoint().unwrap().unwrap().0, 650);
    assert_eq!(ledger.checkpoint_covering(601).unwrap().unwrap().0, 650);
    assert_eq!(ledger.checkpoint_covering(600).unwrap().unwrap().1, note);
    // A past that no longer matches the last checkpoint is not signed over.
    // The root of 650 = 512 + 138 reads its first 512 leaves from the
    // level-1 tile (two hashes: the roots of level-0 tiles 0 and 1).
    let leaves = leaves_of(&ledger);
    let mut tile = tiles::tile_bytes(&[
        merkle::root(&leaves[..256]),
        merkle::root(&leaves[256..512]),
    ]);
    tile[0] ^= 1;
    ledger.store().tamper_put_tile(1, 0, &tile).unwrap();
    ledger.append(&events(660)[650..], NOW).unwrap();
    let refused = ledger.sign_checkpoint(&signer).unwrap_err();
    assert!(
        matches!(
            refused,
            LedgerError::InconsistentCheckpoint { size: 650, .. }
        ),
        "{refused}"
    );
}

#[test]
fn a_consumer_cursor_is_stored_with_its_append_and_survives_reopening() {
    let dir = tempfile::tempdir().unwrap();
    let mut ledger = Ledger::open(dir.path()).unwrap();
    assert_eq!(ledger.cursor("writer").unwrap(), None);
    let batch = events(10);
    ledger
        .append_unsynced_with(&batch, with_cursor(("writer", 10)))
        .unwrap();
    ledger.syncer().sync().unwrap();
    assert_eq!(ledger.cursor("writer").unwrap(), Some(10));
    // A batch of duplicates appends nothing but still moves the cursor.
    let outcomes = ledger
        .append_unsynced_with(&batch, with_cursor(("writer", 20)))
        .unwrap();
    assert!(outcomes.iter().all(|o| matches!(o, Outcome::Duplicate(_))));
    ledger.syncer().sync().unwrap();
    drop(ledger);
    let ledger = reopen(dir.path());
    assert_eq!(ledger.cursor("writer").unwrap(), Some(20));
    assert_eq!(ledger.cursor("other").unwrap(), None);
    assert_eq!(ledger.verify(|_| {}).unwrap().unwrap().size, 10);
}

fn with_cursor(cursor: (&str, u64)) -> AppendOptions<'_> {
    AppendOptions {
        cursor: Some(cursor),
        ..AppendOptions::at(NOW)
    }
}

/// An event whose `time` is `seconds` after `NOW`.
fn future_event(tenant: &str, n: u64, seconds: i64) -> Event {
    let time = rfc3339(NOW + seconds * 1_000_000);
    let value = json!({
        "specversion": "1.0", "id": format!("future-{n}"), "source": "test/ledger",
        "type": "incident.responded", "time": time,
        "tenant": tenant, "data": {"incident_id": "INC-1"}
    });
    Event::from_json(&value).unwrap_or_else(|errors| panic!("test event invalid: {errors:?}"))
}

#[test]
fn the_same_source_and_id_in_two_tenants_are_two_events() {
    let dir = tempfile::tempdir().unwrap();
    let mut ledger = Ledger::open(dir.path()).unwrap();
    // One batch, and then again after reopening (the index loaded from the
    // store rather than built by appends).
    let outcomes = ledger
        .append(&[event("alver", 1), event("fedje", 1)], NOW)
        .unwrap();
    assert_eq!(outcomes, vec![Outcome::Appended(0), Outcome::Appended(1)]);
    drop(ledger);
    let mut ledger = reopen(dir.path());
    let outcomes = ledger
        .append(&[event("gulen", 1), event("fedje", 1)], NOW)
        .unwrap();
    assert_eq!(outcomes, vec![Outcome::Appended(2), Outcome::Duplicate(1)]);
    assert_eq!(
        ledger.find("alver", "test/ledger", "ev-1").unwrap(),
        Some(0)
    );
    assert_eq!(
        ledger.find("fedje", "test/ledger", "ev-1").unwrap(),
        Some(1)
    );
    assert_eq!(
        ledger.find("gulen", "test/ledger", "ev-1").unwrap(),
        Some(2)
    );
    assert_eq!(ledger.find("modalen", "test/ledger", "ev-1").unwrap(), None);
    // Other content under fedje's key is a conflict; under a new tenant's
    // it is that tenant's event.
    let rejected = ledger
        .append(&[event_with("fedje", 1, "INC-2")], NOW)
        .unwrap_err();
    assert!(matches!(
        rejected,
        LedgerError::Rejected(ref r) if matches!(r[0].1, Rejection::Conflict { position: 1, .. })
    ));
    let outcomes = ledger
        .append(&[event_with("vaksdal", 1, "INC-2")], NOW)
        .unwrap();
    assert_eq!(outcomes, vec![Outcome::Appended(3)]);
}

#[test]
fn a_batch_of_only_refused_events_after_reopening_moves_the_cursor() {
    // The crash loop of issue 25: the first batch after a restart holds
    // only refused events, so the writer's retry appends no event, only
    // its cursor, before anything loaded the key index.
    let (dir, ledger) = ledger_with(30);
    drop(ledger);
    let mut ledger = reopen(dir.path());
    let future = [future_event("alver", 1, 3600)];
    let refused = ledger
        .append_unsynced_with(&future, with_cursor(("writer", 31)))
        .unwrap_err();
    assert!(matches!(refused, LedgerError::Rejected(_)), "{refused}");
    drop(ledger);
    let mut ledger = reopen(dir.path());
    let outcomes = ledger
        .append_unsynced_with(&[], with_cursor(("writer", 31)))
        .unwrap();
    assert!(outcomes.is_empty());
    ledger.syncer().sync().unwrap();
    assert_eq!(ledger.cursor("writer").unwrap(), Some(31));
    // The index, loaded after that append, still knows every entry.
    let again = events(30);
    let outcomes = ledger.append(&again, NOW).unwrap();
    assert!(outcomes.iter().all(|o| matches!(o, Outcome::Duplicate(_))));
    assert_eq!(ledger.size(), 30);
}

#[test]
fn a_refused_event_stays_refused_and_a_corrected_one_is_judged_afresh() {
    let dir = tempfile::tempdir().unwrap();
    let mut ledger = Ledger::open(dir.path()).unwrap();
    let ghost = event("ghost", 1);
    let refused = [(&ghost, "tenant \"ghost\" has no agreement".to_owned())];
    let options = AppendOptions {
        refused: &refused,
        ..with_cursor(("writer", 1))
    };
    let outcomes = ledger.append_unsynced_with(&[], options).unwrap();
    assert!(outcomes.is_empty());
    ledger.syncer().sync().unwrap();
    drop(ledger);
    let mut ledger = reopen(dir.path());
    let Err(LedgerError::Rejected(rejected)) = ledger.append(std::slice::from_ref(&ghost), NOW)
    else {
        panic!("a remembered refusal was appended");
    };
    assert!(
        matches!(&rejected[0].1, Rejection::RefusedBefore { reason, .. } if reason.contains("no agreement")),
        "{:?}",
        rejected
    );
    assert_eq!(ledger.size(), 0);
    // The same key with other content (a corrected event) is new.
    let outcomes = ledger
        .append(&[event_with("ghost", 1, "INC-9")], NOW)
        .unwrap();
    assert_eq!(outcomes, vec![Outcome::Appended(0)]);
}

#[test]
fn clock_skew_is_judged_against_the_time_each_event_was_received() {
    let dir = tempfile::tempdir().unwrap();
    let mut ledger = Ledger::open(dir.path()).unwrap();
    // Both events are 10 minutes ahead of NOW. The first was received an
    // hour later (a replay long after it arrived is judged as it was);
    // the second was received at NOW: ahead of it by more than allowed.
    let batch = [future_event("alver", 1, 600), future_event("alver", 2, 600)];
    let received = [NOW + 3_600_000_000, NOW];
    let options = AppendOptions {
        skew: SkewClock::Received(&received),
        ..AppendOptions::at(NOW + 7_200_000_000)
    };
    let Err(LedgerError::Rejected(rejected)) = ledger.append_unsynced_with(&batch, options) else {
        panic!("the skewed event was not refused");
    };
    assert_eq!(rejected.len(), 1);
    assert_eq!(rejected[0].0, 1);
    let text = rejected[0].1.to_string();
    assert!(
        text.contains("after the time the event stream received it"),
        "{text}"
    );
    let outcomes = ledger.append_unsynced_with(&batch[..1], options).unwrap();
    assert_eq!(outcomes, vec![Outcome::Appended(0)]);
}

#[test]
fn has_agreement_is_found_in_the_tenant_entries_and_learnt_from_appends() {
    let dir = tempfile::tempdir().unwrap();
    let mut ledger = Ledger::open(dir.path()).unwrap();
    ledger.append(&[event("alver", 1)], NOW).unwrap();
    assert!(!ledger.has_agreement("alver").unwrap());
    assert!(!ledger.has_agreement("nobody").unwrap());
    let agreement = json!({
        "specversion": "1.0", "id": "agreement-1", "source": "test/ledger",
        "type": "agreement.published", "time": "2025-12-01T10:00:00+01:00",
        "tenant": "alver", "data": {"agreement": {
            "version": "2026-1", "effective_from": "2026-01-01T00:00:00+01:00",
            "timezone": "Europe/Oslo",
            "services": [{"id": "epost", "name": "E-post",
                "availability": {"target_pct": "99.5", "calendar": "24x7"}}]
        }}
    });
    let agreement = Event::from_json(&agreement);
    let agreement = agreement.unwrap_or_else(|errors| panic!("agreement invalid: {errors:?}"));
    ledger.append(&[agreement], NOW).unwrap();
    assert!(ledger.has_agreement("alver").unwrap());
    drop(ledger);
    let mut ledger = reopen(dir.path());
    assert!(ledger.has_agreement("alver").unwrap());
    assert!(!ledger.has_agreement("fedje").unwrap());
}

/// The stored record bytes of entries `from..` of a ledger, each with
/// its hash.
fn records_from(ledger: &Ledger, from: u64) -> Vec<(Vec<u8>, Hash)> {
    ledger
        .entries(from)
        .map(|entry| {
            let entry = entry.unwrap();
            (entry.record.encode(), entry.hash)
        })
        .collect()
}

#[test]
fn a_replica_applying_the_records_byte_for_byte_has_the_same_head_and_tree() {
    let (_dir, leader) = ledger_with(2500);
    let records = records_from(&leader, 0);
    let replica_dir = tempfile::tempdir().unwrap();
    let mut replica = Ledger::open(replica_dir.path()).unwrap();
    // In uneven pieces, as a follower receives them.
    for piece in [
        &records[..1],
        &records[1..700],
        &records[700..2499],
        &records[2499..],
    ] {
        replica.apply_records_unsynced(piece).unwrap();
    }
    replica.syncer().sync().unwrap();
    assert_eq!(replica.head(), leader.head());
    assert_eq!(
        replica.merkle_root(2500).unwrap(),
        leader.merkle_root(2500).unwrap()
    );
    assert_eq!(records_from(&replica, 0), records);
    assert_eq!(replica.verify(|_| {}).unwrap().unwrap().size, 2500);
    // It knows the keys too: the leader's events are duplicates there.
    let outcomes = replica.append(&events(3), NOW).unwrap();
    assert!(outcomes.iter().all(|o| matches!(o, Outcome::Duplicate(_))));
    drop(replica);
    let reopened = reopen(replica_dir.path());
    assert_eq!(reopened.head(), leader.head());
}

#[test]
fn a_replica_refuses_a_record_that_does_not_extend_it_and_applies_nothing_from_it_on() {
    let (_dir, leader) = ledger_with(300);
    let records = records_from(&leader, 0);
    type Batch = Vec<(Vec<u8>, Hash)>;
    let check = |mut batch: Batch, tamper: &dyn Fn(&mut Batch), expect: &str| {
        let dir = tempfile::tempdir().unwrap();
        let mut replica = Ledger::open(dir.path()).unwrap();
        tamper(&mut batch);
        let error = replica.apply_records_unsynced(&batch).unwrap_err();
        let text = error.to_string();
        assert!(text.contains(expect), "{text}");
        assert!(
            matches!(error, ReplicaError::Refused { position: 200, .. }),
            "{text}"
        );
        // The records before it are applied, none from it on.
        replica.syncer().sync().unwrap();
        assert_eq!(replica.size(), 200);
        assert_eq!(replica.verify(|_| {}).unwrap().unwrap().size, 200);
        drop(replica);
        // sled lets go of its lock a moment after the drop.
        let reopened = store::Store::reopen(dir.path()).unwrap();
        assert_eq!(Ledger::from_store(reopened).unwrap().size(), 200);
    };
    // Each tampering re-hashes what it changed, as a forger would, but
    // for the first: an altered byte the leader's hash catches.
    let rehashed = |batch: &mut Batch, bytes: Vec<u8>| {
        batch[200] = (bytes.clone(), record::hash(&bytes));
    };
    let flip_event = |batch: &mut Batch| {
        let last = batch[200].0.len() - 3;
        batch[200].0[last] ^= 1;
    };
    let skip = |batch: &mut Batch| {
        batch.remove(200);
    };
    let foreign_tenant = |batch: &mut Batch| {
        let mut record = Record::decode(&batch[200].0).unwrap();
        record.tenant = "modalen".into();
        rehashed(batch, record.encode());
    };
    let long_tenant = |batch: &mut Batch| {
        let mut bytes = batch[200].0.clone();
        bytes[108] = 200; // a tenant length no record may have
        rehashed(batch, bytes);
    };
    let other_time = |batch: &mut Batch| {
        let mut record = Record::decode(&batch[200].0).unwrap();
        record.record_time -= 1;
        rehashed(batch, record.encode());
    };
    check(records.clone(), &flip_event, "altered on the way");
    check(records.clone(), &skip, "carries position 201, expected 200");
    check(
        records.clone(),
        &foreign_tenant,
        "the record's tenant is modalen",
    );
    check(records.clone(), &long_tenant, "not a record");
    check(records, &other_time, "record time is before");
}

/// Opens the ledger in `dir` again right after this process dropped its
/// handle: sled lets go of its lock a moment after the drop, which
/// `Store::reopen` waits for (a plain open would find it locked).
/// `Ledger::verify_dir_reopening` of a directory whose ledger was just
/// dropped: sled releases its lock a moment after the drop (see
/// `Store::reopen`), so a lock still held is waited out.
fn verify_dropped(
    dir: &std::path::Path,
    stretch: u64,
    mut progress: impl FnMut(u64),
) -> Result<Result<Summary, Failure>, LedgerError> {
    let started = std::time::Instant::now();
    loop {
        match Ledger::verify_dir_reopening(dir, stretch, &mut progress) {
            Err(LedgerError::Store(store::StoreError::Locked { .. }))
                if started.elapsed() < std::time::Duration::from_secs(5) =>
            {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            verified => return verified,
        }
    }
}

fn reopen(dir: &std::path::Path) -> Ledger {
    Ledger::reopen(dir).expect("reopen")
}
