//! Migration of the demo ledger (issue 17): `tla demo` builds its year,
//! the store is rewritten in the format before segment files (each block a
//! sled value, store format 3), and `tla ledger migrate` converts it back:
//! the head, the Merkle root, the export and the digest of every tenant's
//! report of every period are unchanged, and the ledger verifies.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::Env;
use ledger::{Ledger, LedgerError, StoreError};
use service::report::Horizon;

/// Opens a ledger this process (or a `tla` it ran) has just closed.
fn open(dir: &Path) -> Ledger {
    let started = std::time::Instant::now();
    loop {
        match Ledger::open_existing(dir) {
            Err(LedgerError::Store(StoreError::Locked { .. }))
                if started.elapsed() < std::time::Duration::from_secs(5) =>
            {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            opened => return opened.expect("open the ledger"),
        }
    }
}

/// Every tenant's report digest of every demo period (2025-11 to 2026-10).
fn digests(ledger: &Ledger) -> BTreeMap<(String, String), String> {
    let mut digests = BTreeMap::new();
    for tenant in ledger.tenants().keys() {
        for month in 0..12 {
            let (year, month) = (2025 + (10 + month) / 12, (10 + month) % 12 + 1);
            let period = format!("{year}-{month:02}");
            let report = service::report::generate(
                ledger,
                tenant,
                period.parse().expect("a period"),
                None,
                Horizon::Now,
            )
            .expect("a report");
            digests.insert(
                (tenant.clone(), period),
                report.manifest.report_digest.clone(),
            );
        }
    }
    digests
}

#[test]
fn the_demo_ledger_migrates_with_head_root_and_every_report_digest_unchanged() {
    let env = Env::new();
    env.run(&["demo"]).assert_code(0);
    let dir = env.data_dir();
    let ledger = open(&dir);
    let head = ledger.head();
    let root = hex::encode(ledger.merkle_root(head.size).unwrap());
    let before = digests(&ledger);
    assert_eq!(before.len(), 8 * 12, "every tenant's twelve periods");
    drop(ledger);
    let exported = env.run(&["export"]).assert_code(0).stdout.clone();

    // The store as the build before segment files left it.
    let store = loop {
        match ledger::store::Store::reopen(&dir) {
            Err(StoreError::Locked { .. }) => {
                std::thread::sleep(std::time::Duration::from_millis(10))
            }
            opened => break opened.expect("open the store"),
        }
    };
    store.rewrite_as_format_3().unwrap();
    assert!(!dir.join("segments").exists());

    let run = env.run(&["ledger", "migrate"]);
    run.assert_code(0)
        .assert_stdout_contains("from store format 3 to 4")
        .assert_stdout_contains(&head.hash.to_hex())
        .assert_stdout_contains(&root);
    assert!(dir.join("segments").join("00000000.seg").is_file());

    let ledger = open(&dir);
    assert_eq!(ledger.head(), head);
    assert_eq!(hex::encode(ledger.merkle_root(head.size).unwrap()), root);
    assert_eq!(digests(&ledger), before, "every report digest unchanged");
    drop(ledger);
    assert_eq!(env.run(&["export"]).assert_code(0).stdout, exported);
    env.run(&["verify"])
        .assert_code(0)
        .assert_stdout_contains(&format!("ok: {} entries", head.size));
    env.run(&["ledger", "migrate"])
        .assert_code(0)
        .assert_stdout_contains("has store format 4 already");
}
