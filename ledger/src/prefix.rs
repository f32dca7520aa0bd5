//! The verified prefix: how much of the ledger has been checked, checked
//! incrementally so that each entry is checked once, after it is applied,
//! and a reader never waits for a whole-chain pass.
//!
//! [`VerifiedPrefix`] keeps `tla verify`'s streaming state (the chain
//! `Verifier`, the Merkle tree recomputed from the entries, the next
//! append to read) alive between steps. [`Ledger::advance_verified`]
//! feeds it the appends stored after it, a bounded number of entries at a
//! time, with the same checks as `tla verify`: every hash recomputed from
//! the stored bytes, both chains, positions and record times, the stored
//! layout, every Merkle tile the entries complete, and at the end of each
//! step the edge tiles and (when the prefix is the whole ledger) the
//! stored head. The first failure stops it for good and is named.
//!
//! [`Verification`] shares one prefix in a process: whoever makes entries
//! durable (the writer after each durable batch, a replica after each
//! applied and synced batch) calls [`Verification::durable`]; a thread in
//! [`Verification::run`] (or a reader in [`Verification::catch_up`])
//! advances the prefix up to that size in steps of
//! [`VERIFY_STEP_ENTRIES`], each holding the ledger's lock only for its
//! own step; [`Verification::status`] is what the viewer's verification
//! panel and `/healthz` report. A whole-chain pass stays what `tla verify`
//! does offline (`Ledger::verify_dir`).

use std::path::PathBuf;
use std::sync::{Condvar, Mutex, PoisonError};

use crate::chain::Failure;
use crate::merkle;
use crate::read::VerifyState;
use crate::record::{Hash, ZERO_HASH};
use crate::{Ledger, LedgerError};

/// Entries one step of a verified prefix checks at most (whole appends,
/// so one large append may exceed it): some 8 ms of the ledger's lock at
/// `tla verify`'s 2 µs per entry.
pub const VERIFY_STEP_ENTRIES: u64 = 4_096;

/// What a verified prefix has established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrefixStatus {
    /// Entries verified, from position 0.
    pub size: u64,
    /// Hash of the last verified entry (`ZERO_HASH` when none).
    pub head: Hash,
    /// The Merkle root of the verified entries, recomputed from them.
    pub root: merkle::Digest,
    /// When the prefix was last brought up to date or found its failure
    /// (microseconds since the epoch); `None` before its first step.
    pub at_micros: Option<i64>,
    /// Entries checked by this prefix since it was made, each once.
    pub checked: u64,
    /// `report.issued` entries of a foreign source among the verified.
    pub foreign_issuances: u64,
    /// The first bad position and what is wrong there; nothing past it is
    /// verified.
    pub failure: Option<Failure>,
}

impl PrefixStatus {
    fn empty() -> PrefixStatus {
        PrefixStatus {
            size: 0,
            head: ZERO_HASH,
            root: merkle::empty_root(),
            at_micros: None,
            checked: 0,
            foreign_issuances: 0,
            failure: None,
        }
    }
}

/// The verification state of one ledger directory, kept between steps.
pub struct VerifiedPrefix {
    state: VerifyState,
    /// The directory of the ledger it verifies: a prefix never mixes two.
    dir: PathBuf,
    status: PrefixStatus,
}

impl VerifiedPrefix {
    /// An empty prefix of `ledger`, nothing verified yet.
    pub fn new(ledger: &Ledger) -> Result<VerifiedPrefix, LedgerError> {
        Ok(VerifiedPrefix {
            state: VerifyState::new(&ledger.store)?,
            dir: ledger.dir().to_path_buf(),
            status: PrefixStatus::empty(),
        })
    }

    pub fn status(&self) -> &PrefixStatus {
        &self.status
    }

    /// Whether this prefix is of the ledger `ledger` has open.
    pub fn is_of(&self, ledger: &Ledger) -> bool {
        self.dir == ledger.dir()
    }
}

impl Ledger {
    /// Advances `prefix` by whole appends, about `budget` entries at most,
    /// never past the first `limit` entries (an append boundary: what is
    /// known to be durable) nor the ledger's size. Returns whether it then
    /// reaches that size, or stopped at a failure (named in its status
    /// from then on). A storage error leaves the prefix where it was
    /// judged last. A prefix of another directory is left alone (`false`).
    pub fn advance_verified(
        &self,
        prefix: &mut VerifiedPrefix,
        limit: u64,
        budget: u64,
    ) -> Result<bool, LedgerError> {
        if prefix.status.failure.is_some() {
            return Ok(true);
        }
        if !prefix.is_of(self) {
            return Ok(false);
        }
        let limit = limit.min(self.head.size);
        if prefix.status.size > self.head.size {
            let failure = Failure::Missing {
                from: self.head.size,
                to: prefix.status.size - 1,
                detail: format!(
                    "{} entries were verified but the ledger now holds {}",
                    prefix.status.size, self.head.size
                ),
            };
            prefix.fail(failure);
            return Ok(true);
        }
        if prefix.status.size >= limit && prefix.status.at_micros.is_some() {
            return Ok(true);
        }
        let checked_before = prefix.state.checked();
        prefix.state.refresh_tenants(&self.store)?;
        let reached = match prefix
            .state
            .run_to(&self.store, limit, budget.max(1), &mut |_| {})?
        {
            Err(failure) => {
                prefix.fail(failure);
                return Ok(true);
            }
            Ok(reached) => reached,
        };
        let whole =
            (prefix.state.checked() == self.head.size).then_some((self.head.size, self.head.hash));
        match prefix.state.settle(&self.store, whole)? {
            Err(failure) => prefix.fail(failure),
            Ok((size, head, root)) => {
                prefix.status.size = size;
                prefix.status.head = head;
                prefix.status.root = root;
                prefix.status.at_micros = Some(now_micros());
            }
        }
        prefix.status.checked += prefix.state.checked() - checked_before;
        prefix.status.foreign_issuances = prefix.state.verifier.foreign_issuances().total;
        Ok(reached || prefix.status.size >= limit || prefix.status.failure.is_some())
    }
}

impl VerifiedPrefix {
    fn fail(&mut self, failure: Failure) {
        tracing::error!(%failure, "the ledger does not verify");
        self.status.at_micros = Some(now_micros());
        self.status.failure = Some(failure);
    }
}

/// Up to where a [`Verification`] verifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// Whatever the ledger holds: nobody appends behind the verifier's
    /// back (a ledger only read, as `tla view` serves it).
    Head,
    /// The entries reported durable with [`Verification::durable`], and
    /// those the ledger held when the verification was made.
    Durable,
}

/// One verified prefix shared in a process (module doc).
pub struct Verification {
    prefix: Mutex<VerifiedPrefix>,
    /// A copy of the prefix's status, read without waiting for a step.
    status: Mutex<PrefixStatus>,
    target: Mutex<Target>,
    changed: Condvar,
}

#[derive(Debug, Clone, Copy)]
struct Target {
    /// Entries to verify: `u64::MAX` for all the ledger holds.
    size: u64,
    stopped: bool,
}

impl Verification {
    /// A verification of `ledger` with nothing verified yet, reaching as
    /// far as `reach` says.
    pub fn new(ledger: &Ledger, reach: Reach) -> Result<Verification, LedgerError> {
        let size = match reach {
            Reach::Head => u64::MAX,
            Reach::Durable => ledger.size(),
        };
        Ok(Verification {
            prefix: Mutex::new(VerifiedPrefix::new(ledger)?),
            status: Mutex::new(PrefixStatus::empty()),
            target: Mutex::new(Target {
                size,
                stopped: false,
            }),
            changed: Condvar::new(),
        })
    }

    /// The first `size` entries are durable: they are to be verified. Cheap
    /// and never blocks on a step; call it after each durable batch.
    pub fn durable(&self, size: u64) {
        let mut target = self.target.lock().unwrap_or_else(PoisonError::into_inner);
        if target.size != u64::MAX && size > target.size {
            target.size = size;
            self.changed.notify_all();
        }
    }

    /// How many entries are durable as last reported (`durable`), for a
    /// reader that must not go past them; `None` when the verification
    /// reaches whatever the ledger holds (`Reach::Head`: nobody appends).
    pub fn durable_size(&self) -> Option<u64> {
        let target = self.target.lock().unwrap_or_else(PoisonError::into_inner);
        (target.size != u64::MAX).then_some(target.size)
    }

    /// What the prefix has established, as of its last step.
    pub fn status(&self) -> PrefixStatus {
        self.status
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Entries to verify now.
    fn target(&self) -> u64 {
        self.target
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .size
    }

    /// Advances the prefix to what is durable now, in steps that each hold
    /// `ledger`'s lock for one step only; what was verified before is not
    /// checked again. Returns the status after it.
    pub fn catch_up(&self, ledger: &Mutex<Ledger>) -> Result<PrefixStatus, LedgerError> {
        let limit = self.target();
        loop {
            let mut prefix = self.prefix.lock().unwrap_or_else(PoisonError::into_inner);
            let reached = {
                // A holder that panicked left the store as it was: reading
                // it is still sound.
                let ledger = ledger.lock().unwrap_or_else(PoisonError::into_inner);
                let stand_in = !prefix.is_of(&ledger);
                let reached = ledger.advance_verified(&mut prefix, limit, VERIFY_STEP_ENTRIES)?;
                // A ledger of another directory stands in while the one
                // verified is reopened: nothing to do until it is back.
                reached || stand_in
            };
            *self.status.lock().unwrap_or_else(PoisonError::into_inner) = prefix.status.clone();
            if reached {
                return Ok(prefix.status.clone());
            }
        }
    }

    /// Verifies each durable batch as it is reported, until `stop`. Meant
    /// for a thread of its own. A storage error is logged and tried again
    /// after a pause, as is a step that made no progress (the ledger is
    /// being reopened).
    pub fn run(&self, ledger: &Mutex<Ledger>) {
        loop {
            {
                let mut target = self.target.lock().unwrap_or_else(PoisonError::into_inner);
                loop {
                    if target.stopped {
                        return;
                    }
                    if self.behind(target.size) {
                        break;
                    }
                    target = self
                        .changed
                        .wait(target)
                        .unwrap_or_else(PoisonError::into_inner);
                }
            }
            let before = self.status();
            let stalled = match self.catch_up(ledger) {
                Err(error) => {
                    tracing::warn!(%error, "verifying the ledger's new entries failed; trying again");
                    true
                }
                Ok(after) => after == before,
            };
            if stalled {
                let target = self.target.lock().unwrap_or_else(PoisonError::into_inner);
                if !target.stopped {
                    let pause = std::time::Duration::from_millis(200);
                    drop(self.changed.wait_timeout(target, pause));
                }
            }
        }
    }

    /// Whether entries up to `target` are still to be verified.
    fn behind(&self, target: u64) -> bool {
        let status = self.status();
        status.failure.is_none()
            && (status.at_micros.is_none() || (target != u64::MAX && target > status.size))
    }

    /// Ends `run`.
    pub fn stop(&self) {
        let mut target = self.target.lock().unwrap_or_else(PoisonError::into_inner);
        target.stopped = true;
        self.changed.notify_all();
    }
}

use schemas::clock::now_micros;

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use schemas::Event;
    use serde_json::json;

    use super::*;
    use crate::{block, record, Record};

    /// 2026-01-01T00:00:00Z in microseconds: the ledger clock of these tests.
    const NOW: i64 = 1_767_225_600_000_000;

    fn events(from: u64, count: u64) -> Vec<Event> {
        let tenants = ["alver", "fedje", "gulen"];
        (from..from + count)
            .map(|n| {
                let value = json!({
                    "specversion": "1.0", "id": format!("ev-{n}"), "source": "test/prefix",
                    "type": "incident.responded", "time": "2025-12-01T10:00:00+01:00",
                    "tenant": tenants[(n % 3) as usize], "data": {"incident_id": "INC-1"}
                });
                Event::from_json(&value).unwrap_or_else(|e| panic!("test event invalid: {e:?}"))
            })
            .collect()
    }

    /// Appends `count` more events in appends of up to 700.
    fn grow(ledger: &mut Ledger, count: u64) {
        let from = ledger.size();
        for chunk in events(from, count).chunks(700) {
            ledger.append(chunk, NOW).unwrap();
        }
    }

    /// Flips a byte of the stored event at `position`, keeping the stored
    /// hash: what an attacker with file access does.
    fn flip(ledger: &Ledger, position: u64) {
        let tenant = ledger.entry(position).unwrap().unwrap().record.tenant;
        let store = ledger.store();
        for item in store.all_tenant_blocks(&tenant) {
            let (first, bytes) = item.unwrap();
            let mut records: Vec<(Vec<u8>, Hash)> = block::records(&bytes)
                .unwrap()
                .map(|r| r.map(|(b, h)| (b.to_vec(), h)).unwrap())
                .collect();
            let Some(at) = records
                .iter()
                .position(|(b, _)| Record::decode(b).unwrap().position == position)
            else {
                continue;
            };
            let last = records[at].0.len() - 2;
            records[at].0[last] ^= 0x20;
            let value = block::encode(records.iter().map(|(b, h)| (&b[..], *h)));
            store.tamper_put_block(&tenant, first, Some(value)).unwrap();
            return;
        }
        panic!("no stored record at {position}");
    }

    /// Advances until the prefix reaches `limit`, counting the steps.
    fn advance(ledger: &Ledger, prefix: &mut VerifiedPrefix, limit: u64, budget: u64) -> u32 {
        let mut steps = 0;
        while !ledger.advance_verified(prefix, limit, budget).unwrap() {
            steps += 1;
            assert!(steps < 10_000, "the prefix does not advance");
        }
        steps + 1
    }

    #[test]
    fn the_prefix_agrees_with_a_whole_verify_and_checks_each_entry_once() {
        let dir = tempfile::tempdir().unwrap();
        let mut ledger = Ledger::open(dir.path()).unwrap();
        let mut prefix = VerifiedPrefix::new(&ledger).unwrap();
        advance(&ledger, &mut prefix, u64::MAX, 1000);
        assert_eq!(prefix.status().size, 0);
        assert_eq!(prefix.status().root, merkle::empty_root());
        grow(&mut ledger, 3000);
        // Budget 1000 over appends of 700: several steps, each bounded.
        let steps = advance(&ledger, &mut prefix, u64::MAX, 1000);
        assert!(steps >= 3, "{steps} steps");
        let whole = ledger.verify(|_| {}).unwrap().unwrap();
        let status = prefix.status().clone();
        assert_eq!(status.failure, None);
        assert_eq!((status.size, status.head), (whole.size, whole.head));
        assert_eq!(Some(status.root), whole.merkle_root);
        assert_eq!(status.checked, 3000);
        // Only what is new is checked: 257 more entries, 257 more checks.
        grow(&mut ledger, 257);
        advance(&ledger, &mut prefix, u64::MAX, 1000);
        assert_eq!(prefix.status().checked, 3257);
        assert_eq!(prefix.status().size, 3257);
        assert_eq!(prefix.status().root, ledger.merkle_root(3257).unwrap());
        // Nothing new: nothing checked.
        advance(&ledger, &mut prefix, u64::MAX, 1000);
        assert_eq!(prefix.status().checked, 3257);
    }

    #[test]
    fn the_prefix_stops_at_the_limit_on_an_append_boundary() {
        let dir = tempfile::tempdir().unwrap();
        let mut ledger = Ledger::open(dir.path()).unwrap();
        grow(&mut ledger, 2100);
        let mut prefix = VerifiedPrefix::new(&ledger).unwrap();
        advance(&ledger, &mut prefix, 1400, 100_000);
        assert_eq!(prefix.status().size, 1400);
        assert_eq!(prefix.status().root, ledger.merkle_root(1400).unwrap());
        assert_eq!(
            prefix.status().head,
            ledger.entry(1399).unwrap().unwrap().hash
        );
        advance(&ledger, &mut prefix, u64::MAX, 100_000);
        assert_eq!(prefix.status().size, 2100);
        assert_eq!(prefix.status().checked, 2100);
    }

    #[test]
    fn a_tampered_new_entry_is_named_and_nothing_past_it_is_verified() {
        let dir = tempfile::tempdir().unwrap();
        let mut ledger = Ledger::open(dir.path()).unwrap();
        grow(&mut ledger, 1000);
        let mut prefix = VerifiedPrefix::new(&ledger).unwrap();
        advance(&ledger, &mut prefix, u64::MAX, 4096);
        assert_eq!(prefix.status().size, 1000);
        grow(&mut ledger, 1000);
        flip(&ledger, 1234);
        advance(&ledger, &mut prefix, u64::MAX, 4096);
        let status = prefix.status().clone();
        let failure = status.failure.expect("the tampered entry is found");
        assert_eq!(
            (failure.position(), failure.kind()),
            (1234, "changed"),
            "{failure}"
        );
        assert!(
            status.size <= 1234,
            "verified {} past the bad entry",
            status.size
        );
        // The offline whole-chain pass names the same position.
        let whole = ledger.verify(|_| {}).unwrap().unwrap_err();
        assert_eq!(whole.position(), 1234);
        // It stays failed: more entries are not checked.
        let checked = status.checked;
        grow(&mut ledger, 10);
        advance(&ledger, &mut prefix, u64::MAX, 4096);
        assert_eq!(prefix.status().checked, checked);
        assert_eq!(
            prefix.status().failure.as_ref().map(Failure::position),
            Some(1234)
        );
    }

    #[test]
    fn a_tampered_edge_tile_and_a_changed_head_are_caught() {
        let dir = tempfile::tempdir().unwrap();
        let mut ledger = Ledger::open(dir.path()).unwrap();
        grow(&mut ledger, 1300);
        let mut prefix = VerifiedPrefix::new(&ledger).unwrap();
        advance(&ledger, &mut prefix, 700, 4096);
        assert_eq!(prefix.status().failure, None);
        // The edge tile of positions 1280.. is checked at the step's end.
        ledger.store().tamper_put_tile(0, 5, &[0; 32]).unwrap();
        advance(&ledger, &mut prefix, u64::MAX, 4096);
        let failure = prefix.status().failure.clone().expect("the tile is found");
        assert_eq!(failure.position(), 1280, "{failure}");

        let dir = tempfile::tempdir().unwrap();
        let mut ledger = Ledger::open(dir.path()).unwrap();
        grow(&mut ledger, 50);
        let forged = record::hash(b"forged");
        ledger.head.hash = forged;
        let mut prefix = VerifiedPrefix::new(&ledger).unwrap();
        advance(&ledger, &mut prefix, u64::MAX, 4096);
        let failure = prefix.status().failure.clone().expect("the head is found");
        assert_eq!(
            (failure.position(), failure.kind()),
            (49, "changed"),
            "{failure}"
        );
    }

    #[test]
    fn a_replica_applying_records_advances_the_prefix() {
        let leader_dir = tempfile::tempdir().unwrap();
        let mut leader = Ledger::open(leader_dir.path()).unwrap();
        grow(&mut leader, 1500);
        let records: Vec<(Vec<u8>, Hash)> = leader
            .entries(0)
            .map(|e| e.map(|e| (e.record.encode(), e.hash)).unwrap())
            .collect();
        let replica_dir = tempfile::tempdir().unwrap();
        let replica = Ledger::open(replica_dir.path()).unwrap();
        let verification = Verification::new(&replica, Reach::Durable).unwrap();
        let replica = Arc::new(Mutex::new(replica));
        for chunk in records.chunks(400) {
            let head = {
                let mut replica = replica.lock().unwrap();
                let head = replica.apply_records_unsynced(chunk).unwrap();
                replica.syncer().sync().unwrap();
                head
            };
            verification.durable(head.size);
            let status = verification.catch_up(&replica).unwrap();
            assert_eq!(status.size, head.size);
        }
        let status = verification.status();
        assert_eq!(status.checked, 1500);
        assert_eq!(status.root, leader.merkle_root(1500).unwrap());
        assert_eq!(status.head, leader.head().hash);
    }

    #[test]
    fn the_verification_thread_follows_durable_sizes_and_stops() {
        let dir = tempfile::tempdir().unwrap();
        let mut ledger = Ledger::open(dir.path()).unwrap();
        grow(&mut ledger, 100);
        let verification = Arc::new(Verification::new(&ledger, Reach::Durable).unwrap());
        let ledger = Arc::new(Mutex::new(ledger));
        let thread = {
            let (verification, ledger) = (Arc::clone(&verification), Arc::clone(&ledger));
            std::thread::spawn(move || verification.run(&ledger))
        };
        let wait_for = |size: u64| {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
            while verification.status().size != size {
                assert!(
                    std::time::Instant::now() < deadline,
                    "not verified to {size}"
                );
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
        };
        wait_for(100);
        // Applied but not reported durable: not verified.
        grow(&mut ledger.lock().unwrap(), 200);
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert_eq!(verification.status().size, 100);
        assert_eq!(verification.durable_size(), Some(100));
        verification.durable(300);
        assert_eq!(verification.durable_size(), Some(300));
        wait_for(300);
        assert_eq!(verification.status().checked, 300);
        verification.stop();
        thread.join().unwrap();
    }
}
