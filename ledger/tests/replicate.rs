//! The replicated ledger's primitives (`ledger::replicate`): an append
//! prepared, shipped as segments and committed gives the same ledger as a
//! plain append; a replica applying the segments becomes byte-identical
//! (head, Merkle root, cursors, refusals); altered, missing or foreign
//! segments are refused with the position named and apply nothing past it.

use ledger::replicate::Segment;
use ledger::{AppendOptions, Ledger, ReplicaError, SkewClock};
use schemas::Event;

const NOW: i64 = 1_800_000_000_000_000;
const STREAM: &str = "commit-log";

fn event(tenant: &str, id: &str) -> Event {
    let value = serde_json::json!({
        "specversion": "1.0", "id": id, "source": "test/replicate",
        "type": "incident.opened", "time": "2025-11-03T09:15:00+01:00",
        "tenant": tenant, "datacontenttype": "application/json",
        "data": {"incident_id": id, "service": "epost", "priority": "P2"}
    });
    Event::from_json(&value).expect("a valid event")
}

fn events(tenant: &str, from: usize, n: usize) -> Vec<Event> {
    (from..from + n)
        .map(|i| event(tenant, &format!("e{i}")))
        .collect()
}

/// Prepares `batch` on `leader` with a cursor and refusals, ships it as
/// segments of at most `max_bytes`, commits it; returns the segments.
fn replicate_batch(
    leader: &mut Ledger,
    batch: &[Event],
    refused: &[(&Event, String)],
    sequence: u64,
    max_bytes: usize,
) -> Vec<Segment> {
    let options = AppendOptions {
        now_micros: NOW,
        skew: SkewClock::Ledger,
        cursor: Some(("consumer", sequence)),
        refused,
    };
    let (prepared, _) = leader.prepare_with(batch, options).unwrap();
    assert_eq!(prepared.records().len(), batch.len());
    let segments = prepared.segments(leader.ledger_id().unwrap(), [7; 16], max_bytes);
    leader.commit_prepared(prepared, None).unwrap();
    // What goes over the wire is the encoding.
    segments
        .iter()
        .map(|s| Segment::decode(&s.encode()).unwrap())
        .collect()
}

fn apply_all(replica: &mut Ledger, segments: &[Segment], first_sequence: u64) -> u64 {
    let mut sequence = first_sequence;
    for segment in segments {
        replica.apply_segment(segment, (STREAM, sequence)).unwrap();
        sequence += 1;
    }
    sequence
}

#[test]
fn a_replica_of_the_segments_equals_the_leader() {
    let dirs = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut leader = Ledger::open(dirs.0.path()).unwrap();
    let mut replica = Ledger::open(dirs.1.path()).unwrap();
    let refused_event = event("fedje", "refused-1");
    let mut sequence = 1;
    for (round, tenant) in ["alver", "fedje", "alver"].iter().enumerate() {
        let batch = events(tenant, round * 100, 100);
        let refused = [(&refused_event, "no agreement".to_owned())];
        // Small segments: each append is split over several messages.
        let segments = replicate_batch(&mut leader, &batch, &refused, round as u64, 4096);
        assert!(segments.len() > 1, "4 KiB segments split 100 records");
        sequence = apply_all(&mut replica, &segments, sequence);
    }
    leader.syncer().sync().unwrap();
    replica.syncer().sync().unwrap();
    assert_eq!(replica.head(), leader.head());
    assert_eq!(replica.size(), 300);
    assert_eq!(
        replica.merkle_root(300).unwrap(),
        leader.merkle_root(300).unwrap()
    );
    assert_eq!(replica.identity().unwrap(), leader.identity().unwrap());
    assert_eq!(replica.cursor("consumer").unwrap(), Some(2));
    assert_eq!(replica.cursor(STREAM).unwrap(), Some(sequence - 1));
    let entries = |l: &Ledger| l.entries(0).map(|e| e.unwrap()).collect::<Vec<_>>();
    assert_eq!(entries(&replica), entries(&leader));
    // The refusal travelled: the replica refuses the same event again.
    for ledger in [&replica, &leader] {
        match ledger.check(std::slice::from_ref(&refused_event), NOW) {
            Err(ledger::LedgerError::Rejected(rejected)) => assert!(
                matches!(rejected[0].1, ledger::Rejection::RefusedBefore { .. }),
                "{rejected:?}"
            ),
            other => panic!("expected the event refused again, got {other:?}"),
        }
    }
    let summary = replica.verify(|_| ()).unwrap();
    assert_eq!(summary.expect("the replica verifies").size, 300);
}

#[test]
fn prepared_then_committed_equals_a_plain_append() {
    let dirs = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut plain = Ledger::open(dirs.0.path()).unwrap();
    let mut prepared_ledger = Ledger::open(dirs.1.path()).unwrap();
    for round in 0..3 {
        let mut batch = events("alver", round * 10, 10);
        batch.push(event("alver", "e0")); // a duplicate after round 0
        let plain_outcomes = plain.append_unsynced(&batch, NOW).unwrap();
        let (prepared, outcomes) = prepared_ledger
            .prepare_with(&batch, AppendOptions::at(NOW))
            .unwrap();
        assert_eq!(outcomes, plain_outcomes);
        // Nothing is applied before the commit.
        assert_eq!(prepared_ledger.size(), prepared.base().size);
        prepared_ledger.commit_prepared(prepared, None).unwrap();
        assert_eq!(prepared_ledger.head(), plain.head());
    }
}

#[test]
fn a_stale_prepared_append_is_not_committed() {
    let dir = tempfile::tempdir().unwrap();
    let mut leader = Ledger::open(dir.path()).unwrap();
    let (stale, _) = leader
        .prepare_with(&events("alver", 0, 2), AppendOptions::at(NOW))
        .unwrap();
    leader
        .append_unsynced(&events("alver", 10, 1), NOW)
        .unwrap();
    let error = leader.commit_prepared(stale, None).unwrap_err();
    assert!(error.to_string().contains("prepared at size 0"), "{error}");
    assert_eq!(leader.size(), 1);
}

fn refused_at(result: Result<ledger::replicate::Applied, ReplicaError>) -> (u64, String) {
    match result {
        Err(ReplicaError::Refused { position, detail }) => (position, detail),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn an_altered_record_is_refused_at_its_position_and_nothing_after_it_applies() {
    let dirs = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut leader = Ledger::open(dirs.0.path()).unwrap();
    let mut replica = Ledger::open(dirs.1.path()).unwrap();
    let first = replicate_batch(&mut leader, &events("alver", 0, 5), &[], 1, 1 << 20);
    apply_all(&mut replica, &first, 1);
    let mut second = replicate_batch(&mut leader, &events("alver", 5, 5), &[], 2, 1 << 20);
    assert_eq!(second.len(), 1);
    // One byte of the third record's event changed in flight.
    let record = &mut second[0].records[2].0;
    let last = record.len() - 3;
    record[last] ^= 0x20;
    let (position, detail) = refused_at(replica.apply_segment(&second[0], (STREAM, 2)));
    assert_eq!(position, 7);
    assert!(detail.contains("altered"), "{detail}");
    // The two records before it are applied, nothing from it on; the
    // segment's cursor is not stored.
    assert_eq!(replica.size(), 7);
    assert_eq!(replica.cursor(STREAM).unwrap(), Some(1));
    assert_eq!(replica.cursor("consumer").unwrap(), Some(1));
}

#[test]
fn a_forged_record_with_its_own_hash_is_refused_by_the_chain() {
    let dir = tempfile::tempdir().unwrap();
    let mut leader = Ledger::open(dir.path()).unwrap();
    let segments = replicate_batch(&mut leader, &events("alver", 0, 3), &[], 1, 1 << 20);
    // A forger makes a segment of a different ledger's records, hashes
    // recomputed, claiming to extend this one.
    let other = tempfile::tempdir().unwrap();
    let mut forger = Ledger::open(other.path()).unwrap();
    let mut forged = replicate_batch(&mut forger, &events("alver", 50, 3), &[], 1, 1 << 20);
    forged[0].ledger_id = leader.ledger_id().unwrap();
    let fresh = tempfile::tempdir().unwrap();
    let mut replica = Ledger::open(fresh.path()).unwrap();
    apply_all(&mut replica, &segments, 1);
    forged[0].first = 3;
    let (position, detail) = refused_at(replica.apply_segment(&forged[0], (STREAM, 2)));
    assert_eq!(position, 3);
    assert!(
        detail.contains("head") || detail.contains("links"),
        "{detail}"
    );
    assert_eq!(replica.size(), 3);
}

#[test]
fn segments_seen_twice_change_nothing_and_gaps_or_other_ledgers_are_refused() {
    let dirs = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut leader = Ledger::open(dirs.0.path()).unwrap();
    let mut replica = Ledger::open(dirs.1.path()).unwrap();
    let a = replicate_batch(&mut leader, &events("alver", 0, 4), &[], 1, 1 << 20);
    let b = replicate_batch(&mut leader, &events("alver", 4, 4), &[], 2, 1 << 20);
    let c = replicate_batch(&mut leader, &events("alver", 8, 4), &[], 3, 1 << 20);
    apply_all(&mut replica, &a, 1);
    // A gap: c before b.
    let (position, detail) = refused_at(replica.apply_segment(&c[0], (STREAM, 3)));
    assert_eq!(position, 4);
    assert!(detail.contains("missing"), "{detail}");
    apply_all(&mut replica, &b, 2);
    // a again: held, identical, skipped.
    let applied = replica.apply_segment(&a[0], (STREAM, 2)).unwrap();
    assert_eq!((applied.held, applied.applied), (4, 0));
    apply_all(&mut replica, &c, 3);
    assert_eq!(replica.head(), leader.head());
    // Another ledger's segment.
    let other = tempfile::tempdir().unwrap();
    let mut stranger = Ledger::open(other.path()).unwrap();
    let foreign = replicate_batch(&mut stranger, &events("alver", 90, 1), &[], 1, 1 << 20);
    let (_, detail) = refused_at(replica.apply_segment(&foreign[0], (STREAM, 4)));
    assert!(detail.contains("belongs to ledger"), "{detail}");
    // Different history at a held position.
    let mut diverged = c[0].clone();
    diverged.records[0].1 = [9; 32];
    let (position, detail) = refused_at(replica.apply_segment(&diverged, (STREAM, 5)));
    assert_eq!(position, 8);
    assert!(detail.contains("histories differ"), "{detail}");
}

#[test]
fn replicas_store_checkpoints_only_when_their_tree_agrees() {
    let dirs = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut leader = Ledger::open(dirs.0.path()).unwrap();
    let mut replica = Ledger::open(dirs.1.path()).unwrap();
    let signer = ledger::checkpoint::Signer::from_seed("tla.example/test", [3; 32]).unwrap();
    let a = replicate_batch(&mut leader, &events("alver", 0, 4), &[], 1, 1 << 20);
    let note = leader.sign_checkpoint(&signer).unwrap();
    let verifier = signer.verifier();
    // Not yet: the replica is smaller.
    assert!(!replica.store_checkpoint(&note, Some(&verifier)).unwrap());
    apply_all(&mut replica, &a, 1);
    assert!(replica.store_checkpoint(&note, Some(&verifier)).unwrap());
    assert_eq!(replica.latest_checkpoint().unwrap(), Some((4, note)));
    // A checkpoint of another tree of the same size is refused.
    let other = tempfile::tempdir().unwrap();
    let mut stranger = Ledger::open(other.path()).unwrap();
    stranger.append(&events("alver", 50, 4), NOW).unwrap();
    let foreign = stranger.sign_checkpoint(&signer).unwrap();
    let error = replica.store_checkpoint(&foreign, None).unwrap_err();
    assert!(error.to_string().contains("root"), "{error}");
}

#[test]
fn a_ledger_from_before_replication_ships_as_stored_segments() {
    let dirs = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut old = Ledger::open(dirs.0.path()).unwrap();
    old.append(&events("alver", 0, 300), NOW).unwrap();
    old.append(&events("fedje", 0, 200), NOW + 1).unwrap();
    // The part the commit log already holds, then the rest.
    let head = old.stored_segments(0, [1; 16], 1 << 20).unwrap();
    let rest = old.stored_segments(120, [1; 16], 8 << 10).unwrap();
    assert!(rest.len() > 1);
    assert_eq!(rest[0].first, 120);
    let mut replica = Ledger::open(dirs.1.path()).unwrap();
    replica.apply_segment(&head[0], (STREAM, 1)).unwrap();
    // Segments overlapping what the replica holds are checked and skipped.
    for (sequence, segment) in (2..).zip(&rest) {
        replica.apply_segment(segment, (STREAM, sequence)).unwrap();
    }
    assert_eq!(replica.head(), old.head());
    assert_eq!(
        replica.merkle_root(500).unwrap(),
        old.merkle_root(500).unwrap()
    );
}

#[test]
fn a_copy_reads_bounded_stretches_and_the_checkpoints_below_its_size() {
    let dirs = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut ledger = Ledger::open(dirs.0.path()).unwrap();
    let signer = ledger::checkpoint::Signer::from_seed("tla.example/test", [3; 32]).unwrap();
    let mut notes = Vec::new();
    for round in 0..4 {
        ledger
            .append(&events("alver", round * 100, 100), NOW + round as i64)
            .unwrap();
        notes.push(ledger.sign_checkpoint(&signer).unwrap());
    }
    // Stretches of 130 entries, never past 350 (what was durable, say).
    let mut copy = Ledger::open(dirs.1.path()).unwrap();
    let mut from = 0;
    while from < 350 {
        let to = (from + 130).min(350);
        let segments = ledger
            .stored_segments_until(from, to, [2; 16], 4 << 10)
            .unwrap();
        assert_eq!(segments.first().unwrap().first, from);
        assert_eq!(segments.last().unwrap().end(), to, "stops at {to}");
        for segment in &segments {
            copy.apply_segment(segment, ("copy", segment.end()))
                .unwrap();
        }
        from = to;
    }
    assert_eq!(copy.size(), 350);
    assert_eq!(
        copy.merkle_root(350).unwrap(),
        ledger.merkle_root(350).unwrap()
    );
    // The checkpoints of sizes 100..=350: those of 100, 200 and 300.
    let stored = ledger.stored_checkpoints(100, 350, 10).unwrap();
    let sizes: Vec<u64> = stored.iter().map(|c| c.0).collect();
    assert_eq!(sizes, [100, 200, 300]);
    assert_eq!(stored[0].1, notes[0]);
    assert_eq!(ledger.stored_checkpoints(0, 400, 2).unwrap().len(), 2);
    for (_, note) in &stored {
        assert!(copy.store_checkpoint(note, None).unwrap());
    }
    assert_eq!(copy.latest_checkpoint().unwrap().unwrap().0, 300);
}
