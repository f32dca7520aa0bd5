//! [`LedgerSource`], through which every server of the web viewer
//! (`tla view`, `tla demo --serve`, the service of `tla serve`) reads the
//! ledger, and [`serve_viewer`], the viewer alone on a port until Ctrl-C.
//!
//! The ledger is opened once (sled holds an exclusive lock) and shared
//! behind a mutex; a server that has its own routes mounts the viewer's
//! beside them with
//! `router.merge(viewer::router(Arc::new(LedgerSource::new(ledger)?)))`.
//! Reports are cached per (tenant, period) for the ledger size they were
//! computed at, so that the tenant list and the month grids cost one
//! computation per report until the ledger grows; a verification never
//! reads the cache. A verification brings the ledger's verified prefix
//! (`ledger::prefix`) up to date, checking only the entries new since, in
//! short steps of the ledger's lock, and regenerates the report with the
//! lock held only to read the tenant's events: it never stops the writer
//! for a whole-chain pass.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use anyhow::Context;
use ledger::checkpoint::Verifier;
use ledger::prefix::{PrefixStatus, Reach, Verification};
use ledger::Ledger;
use projector::{LedgerEvent, Period, ReportError};

use crate::report::GenerateError;
use schemas::EventData;
use web::viewer::{
    self, Anchor, ChainCheck, CheckpointFacts, LedgerFacts, Shown, SignatureCheck, SourceError,
    VerificationFacts, ViewerSource,
};

/// Where the viewer listens unless told otherwise: this machine only.
pub const LISTEN_DEFAULT: &str = "127.0.0.1:8080";

/// Worker threads of the viewer's runtime: pages are computed on the
/// blocking pool, so two are plenty on the small machines this runs on.
const WORKER_THREADS: usize = 2;

/// Serves the viewer over `source` on `listen` until Ctrl-C (or SIGTERM),
/// printing the URL to open first.
/// `tokens`, when given, is a tokens file whose read grants say who may
/// sign in; without it the viewer is open to whoever reaches the port.
/// The viewer holds the ledger in `data_dir` as `command` (`tla view`):
/// it leaves a holder file there naming its pid and URL, and serves the
/// copy of the ledger (`crate::snapshot`), so that the read commands work
/// on a copy through it while it runs.
pub fn serve_viewer(
    source: Arc<LedgerSource>,
    listen: SocketAddr,
    tokens: Option<&std::path::Path>,
    (data_dir, command): (&std::path::Path, &str),
) -> anyhow::Result<()> {
    let holder_token = crate::access::holder_token()?;
    let access = match tokens {
        None => web::access::Access::open("local viewer"),
        Some(path) => {
            let config = crate::access::ReadConfig {
                tokens: Some(path.to_owned()),
                public_url: None,
                session_hours: web::session::SESSION_HOURS_DEFAULT,
                oidc: None,
            };
            config.access(config.load_tokens()?, holder_token.clone())?
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(WORKER_THREADS)
        .enable_all()
        .build()
        .context("cannot start the viewer's runtime")?;
    runtime.block_on(async move {
        let listener = match tokio::net::TcpListener::bind(listen).await {
            Ok(listener) => listener,
            Err(e) => anyhow::bail!(
                "cannot listen on {listen} ({e}); pass another address with --listen, e.g. --listen 127.0.0.1:8181"
            ),
        };
        let bound = listener.local_addr().context("the listener has no address")?;
        let holder =
            crate::holder::Holder::write_viewer(data_dir, command, bound, &holder_token)?;
        {
            // Said whether or not anyone reads stdout (`tla view | head`).
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            let _unread = writeln!(out, "The report viewer is at http://{bound}/ (Ctrl-C stops it).")
                .and_then(|()| out.flush());
        }
        let copies = crate::snapshot::router(&source.ledger, &source.verification, &access);
        let app = viewer::router(source, access).merge(copies);
        let served = axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
            .with_graceful_shutdown(shutdown())
            .await
            .context("the viewer stopped");
        holder.remove();
        served
    })
}

async fn shutdown() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => {
                    // Without a SIGTERM handler Ctrl-C still stops it.
                    interrupt.await.ok();
                    return;
                }
            };
        tokio::select! {
            _ = interrupt => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    interrupt.await.ok();
}

/// The ledger as a [`ViewerSource`]. It shares the ledger's mutex with
/// whoever else uses the ledger in the process (the service's writer):
/// the viewer holds it only while it reads or computes one page's reports.
pub struct LedgerSource {
    ledger: Arc<Mutex<Ledger>>,
    cache: Mutex<Cache>,
    /// The key checkpoint signatures are checked with, when given.
    verifier: Option<Verifier>,
    /// The ledger's verified prefix, shared with whoever else advances it.
    verification: Arc<Verification>,
}

/// What has been read or computed at one ledger size.
#[derive(Default)]
struct Cache {
    size: u64,
    events: HashMap<String, Arc<Vec<LedgerEvent>>>,
    reports: HashMap<(String, Period), Arc<Shown>>,
}

impl LedgerSource {
    /// A source over a ledger shared with others in the process, with a
    /// verified prefix of its own that verifications advance to the
    /// ledger's head (for a ledger nobody appends to behind its back; a
    /// writing service passes its own with `with_verification`).
    pub fn new(ledger: Arc<Mutex<Ledger>>) -> Result<LedgerSource, SourceError> {
        let verification = {
            let held = ledger.lock().map_err(|_| poisoned())?;
            Verification::new(&held, Reach::Head).map_err(failed)?
        };
        Ok(LedgerSource {
            ledger,
            cache: Mutex::new(Cache::default()),
            verifier: None,
            verification: Arc::new(verification),
        })
    }

    /// Checks checkpoint signatures with `verifier`.
    pub fn with_verifier(self, verifier: Option<Verifier>) -> LedgerSource {
        LedgerSource { verifier, ..self }
    }

    /// Reports (and advances) `verification`, the one the ledger's writer
    /// or replica advances after each durable batch.
    pub fn with_verification(self, verification: Arc<Verification>) -> LedgerSource {
        LedgerSource {
            verification,
            ..self
        }
    }

    /// The verified prefix this source reports.
    pub fn verification(&self) -> &Arc<Verification> {
        &self.verification
    }

    /// The ledger's size, head and latest signed checkpoint.
    fn facts(&self, ledger: &Ledger) -> Result<LedgerFacts, SourceError> {
        let head = ledger.head();
        Ok(LedgerFacts {
            size: head.size,
            head: head.hash.to_hex(),
            checkpoint: self.checkpoint(ledger)?,
        })
    }

    /// The latest signed checkpoint: whether the ledger's Merkle root at
    /// its size is the signed root, and its signature under the verifier.
    fn checkpoint(&self, ledger: &Ledger) -> Result<Option<CheckpointFacts>, SourceError> {
        let Some((_, note)) = ledger.latest_checkpoint().map_err(failed)? else {
            return Ok(None);
        };
        let signed = ledger::checkpoint::read_unverified(&note).map_err(failed)?;
        let ours = ledger.merkle_root(signed.size).map_err(failed)?;
        let signature = match &self.verifier {
            None => SignatureCheck::NotChecked,
            Some(v) => match v.open(&note) {
                Ok(_) => SignatureCheck::Valid { key: v.to_text() },
                Err(e) => SignatureCheck::Invalid {
                    key: v.to_text(),
                    problem: e.to_string(),
                },
            },
        };
        Ok(Some(CheckpointFacts {
            size: signed.size,
            root: hex::encode(signed.root),
            origin: signed.origin,
            matches_ledger: ours == signed.root,
            signature,
        }))
    }

    /// A source that is the ledger's only user.
    pub fn owning(ledger: Ledger) -> Result<LedgerSource, SourceError> {
        LedgerSource::new(Arc::new(Mutex::new(ledger)))
    }

    fn lock(&self) -> Result<MutexGuard<'_, Ledger>, SourceError> {
        self.ledger.lock().map_err(|_| poisoned())
    }

    /// The cache, emptied when the ledger has grown since it was filled.
    fn cache(&self, size: u64) -> Result<MutexGuard<'_, Cache>, SourceError> {
        let mut cache = self
            .cache
            .lock()
            .map_err(|_| SourceError::Failed("a viewer request panicked".into()))?;
        if cache.size != size {
            *cache = Cache {
                size,
                ..Cache::default()
            };
        }
        Ok(cache)
    }

    /// Puts reports computed elsewhere (the demo's) in the cache, so the
    /// first page views need not compute them again.
    pub fn remember(&self, reports: &[(projector::Report, Anchor)]) -> Result<(), SourceError> {
        let size = self.lock()?.size();
        let mut cache = self.cache(size)?;
        for (report, anchor) in reports {
            let Ok(period) = report.period.parse() else {
                continue;
            };
            let shown = Shown {
                report: report.clone(),
                anchor: Some(anchor.clone()),
            };
            cache
                .reports
                .insert((report.tenant.clone(), period), Arc::new(shown));
        }
        Ok(())
    }

    /// What the shown report of (tenant, period) pins, read with the
    /// ledger locked: the prefix it is computed from (the anchored one,
    /// else the whole ledger) and that prefix's pins.
    fn pins(
        ledger: &Ledger,
        period: Period,
        events: &[LedgerEvent],
    ) -> anyhow::Result<(u64, crate::report::Pins)> {
        let prefix = anchor(events, period).map_or(ledger.size(), |a| a.ledger_size);
        Ok((prefix, crate::report::Pins::of(ledger, prefix)?))
    }

    /// Computes the shown report of (tenant, period) from the pins read
    /// before, without the ledger's lock.
    fn compute(
        tenant: &str,
        period: Period,
        events: &[LedgerEvent],
        pinned: anyhow::Result<(u64, crate::report::Pins)>,
    ) -> Result<Shown, GenerateError> {
        let anchor = anchor(events, period);
        let (prefix, pins) = pinned?;
        let prefix_events = (prefix, events);
        let report = match &anchor {
            // An issued report in the format it was issued in.
            Some(a) => {
                let digest = &a.report_digest;
                crate::report::generate_issued(tenant, period, prefix_events, &pins, digest)?
            }
            None => {
                let horizon = crate::report::Horizon::Now;
                crate::report::generate_pinned(tenant, period, prefix_events, &pins, horizon)?
            }
        };
        Ok(Shown { report, anchor })
    }
}

/// The last `report.issued` of the period among the tenant's events.
fn anchor(events: &[LedgerEvent], period: Period) -> Option<Anchor> {
    let wanted = period.to_string();
    events.iter().rev().find_map(|e| match &e.event.data {
        EventData::ReportIssued {
            period,
            ledger_size,
            report_digest,
            ..
        } if *period == wanted && e.event.source == schemas::LEDGER_SOURCE => Some(Anchor {
            position: e.position,
            ledger_size: *ledger_size,
            report_digest: report_digest.clone(),
        }),
        _ => None,
    })
}

/// A report that cannot exist is "not found"; anything else failed.
fn failure(e: GenerateError) -> SourceError {
    match e {
        GenerateError::Report(
            ReportError::NoAgreement { .. }
            | ReportError::PeriodNotStarted { .. }
            | ReportError::InvalidPeriod { .. },
        ) => SourceError::NotFound(format!("{e:#}")),
        _ => SourceError::Failed(format!("{e:#}")),
    }
}

fn failed(e: impl std::fmt::Display) -> SourceError {
    SourceError::Failed(e.to_string())
}

fn poisoned() -> SourceError {
    SourceError::Failed("a viewer request panicked while reading the ledger".into())
}

/// The verified prefix as the verification panel shows it.
fn chain_check(status: &PrefixStatus, checked_now: u64) -> ChainCheck {
    match &status.failure {
        Some(failure) => ChainCheck::Broken {
            problem: failure.to_string(),
        },
        None => ChainCheck::Verified {
            entries: status.size,
            head: status.head.to_hex(),
            root: hex::encode(status.root),
            at: status.at_micros.map(ledger::rfc3339).unwrap_or_default(),
            checked_now,
        },
    }
}

impl ViewerSource for LedgerSource {
    fn ledger(&self) -> Result<LedgerFacts, SourceError> {
        self.facts(&*self.lock()?)
    }

    fn tenants(&self) -> Result<Vec<String>, SourceError> {
        Ok(self.lock()?.tenants().into_keys().collect())
    }

    fn display_name(&self, tenant: &str) -> String {
        match demo::tenant_display_name(tenant) {
            "" => tenant.to_string(),
            name => name.to_string(),
        }
    }

    fn events(&self, tenant: &str) -> Result<Arc<Vec<LedgerEvent>>, SourceError> {
        let ledger = self.lock()?;
        let size = ledger.size();
        if let Some(events) = self.cache(size)?.events.get(tenant) {
            return Ok(Arc::clone(events));
        }
        let events = Arc::new(crate::report::tenant_events(&ledger, tenant, size).map_err(failed)?);
        self.cache(size)?
            .events
            .insert(tenant.to_string(), Arc::clone(&events));
        Ok(events)
    }

    fn report(&self, tenant: &str, period: Period) -> Result<Arc<Shown>, SourceError> {
        let events = self.events(tenant)?;
        let key = (tenant.to_string(), period);
        // The lock is held to read the pins, not to compute the report.
        let (size, pinned) = {
            let ledger = self.lock()?;
            let size = ledger.size();
            if let Some(shown) = self.cache(size)?.reports.get(&key) {
                return Ok(Arc::clone(shown));
            }
            (size, LedgerSource::pins(&ledger, period, &events))
        };
        let shown = LedgerSource::compute(tenant, period, &events, pinned).map_err(failure)?;
        let shown = Arc::new(shown);
        // A preliminary report changes with the clock: computed each time.
        if !shown.report.preliminary {
            self.cache(size)?.reports.insert(key, Arc::clone(&shown));
        }
        Ok(shown)
    }

    fn verify(&self, tenant: &str, period: Period) -> Result<VerificationFacts, SourceError> {
        // Only what is new since the prefix last advanced is checked, in
        // steps that each hold the ledger's lock briefly.
        let before = self.verification.status().checked;
        let verified = self.verification.catch_up(&self.ledger).map_err(failed)?;
        let checked_now = verified.checked.saturating_sub(before);
        // The lock is held to read the tenant's events and the pins, not to
        // compute the report.
        let (events, pinned, ledger_facts) = {
            let ledger = self.lock()?;
            let events =
                crate::report::tenant_events(&ledger, tenant, ledger.size()).map_err(failed)?;
            let pinned = LedgerSource::pins(&ledger, period, &events);
            (events, pinned, self.facts(&ledger)?)
        };
        let regenerated = LedgerSource::compute(tenant, period, &events, pinned);
        let anchor = anchor(&events, period);
        Ok(VerificationFacts {
            anchor,
            regenerated: regenerated
                .map(|shown| shown.report)
                .map_err(|e| failure(e).to_string()),
            ledger: ledger_facts,
            chain: chain_check(&verified, checked_now),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-01-01T00:00:00Z in microseconds.
    const NOW: i64 = 1_767_225_600_000_000;

    fn events(from: u64, count: u64) -> Vec<schemas::Event> {
        (from..from + count)
            .map(|n| {
                let tenant = ["alver", "fedje"][(n % 2) as usize];
                let value = serde_json::json!({
                    "specversion": "1.0", "id": format!("ev-{n}"), "source": "test/source",
                    "type": "incident.responded", "time": "2025-12-01T10:00:00+01:00",
                    "tenant": tenant,
                    "data": {"incident_id": "INC-1"}
                });
                schemas::Event::from_json(&value).expect("test event")
            })
            .collect()
    }

    fn grow(ledger: &Mutex<Ledger>, count: u64) {
        let mut ledger = ledger.lock().unwrap();
        let from = ledger.size();
        for chunk in events(from, count).chunks(1000) {
            ledger.append(chunk, NOW).unwrap();
        }
    }

    fn checked_now(facts: &VerificationFacts) -> (u64, u64) {
        match &facts.chain {
            ChainCheck::Verified {
                entries,
                checked_now,
                ..
            } => (*entries, *checked_now),
            ChainCheck::Broken { problem } => panic!("the chain is broken: {problem}"),
        }
    }

    #[test]
    fn a_verification_checks_only_what_is_new_since_the_last() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Arc::new(Mutex::new(Ledger::open(dir.path()).unwrap()));
        grow(&ledger, 5000);
        let source = LedgerSource::new(Arc::clone(&ledger)).unwrap();
        let period: Period = "2025-12".parse().unwrap();
        let first = source.verify("alver", period).unwrap();
        assert_eq!(checked_now(&first), (5000, 5000));
        let ChainCheck::Verified { root, head, .. } = &first.chain else {
            unreachable!()
        };
        let held = ledger.lock().unwrap();
        assert_eq!(root, &hex::encode(held.merkle_root(5000).unwrap()));
        assert_eq!(head, &held.head().hash.to_hex());
        drop(held);
        // 37 new entries: 37 checked, not 5037.
        grow(&ledger, 37);
        let second = source.verify("alver", period).unwrap();
        assert_eq!(checked_now(&second), (5037, 37));
        let third = source.verify("fedje", period).unwrap();
        assert_eq!(checked_now(&third), (5037, 0));
        assert_eq!(source.verification().status().checked, 5037);
    }

    #[test]
    fn a_verification_shares_the_writers_prefix_and_reaches_only_what_is_durable() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Arc::new(Mutex::new(Ledger::open(dir.path()).unwrap()));
        grow(&ledger, 300);
        let verification = {
            let held = ledger.lock().unwrap();
            Arc::new(Verification::new(&held, Reach::Durable).unwrap())
        };
        let source = LedgerSource::new(Arc::clone(&ledger))
            .unwrap()
            .with_verification(Arc::clone(&verification));
        let period: Period = "2025-12".parse().unwrap();
        assert_eq!(
            checked_now(&source.verify("alver", period).unwrap()),
            (300, 300)
        );
        // Appended but not reported durable by the writer: not verified yet.
        grow(&ledger, 100);
        assert_eq!(
            checked_now(&source.verify("alver", period).unwrap()),
            (300, 0)
        );
        verification.durable(400);
        assert_eq!(
            checked_now(&source.verify("alver", period).unwrap()),
            (400, 100)
        );
    }
}
