//! [`LedgerSource`], through which every server of the web viewer
//! (`tla view`, `tla demo --serve`, the service of `tla serve`) reads the
//! ledger, and [`serve_viewer`], the viewer alone on a port until Ctrl-C.
//!
//! The ledger is opened once (sled holds an exclusive lock) and shared
//! behind a mutex; a server that has its own routes mounts the viewer's
//! beside them with
//! `router.merge(viewer::router(Arc::new(LedgerSource::new(ledger))))`.
//! Reports are cached per (tenant, period) for the ledger size they were
//! computed at, so that the tenant list and the month grids cost one
//! computation per report until the ledger grows; a verification never
//! reads the cache.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use anyhow::Context;
use ledger::checkpoint::Verifier;
use ledger::Ledger;
use projector::{LedgerEvent, Period, ReportError};
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
pub fn serve_viewer(
    source: Arc<LedgerSource>,
    listen: SocketAddr,
    tokens: Option<&std::path::Path>,
) -> anyhow::Result<()> {
    let access = match tokens {
        None => web::access::Access::open("local viewer"),
        Some(path) => {
            let config = crate::access::ReadConfig {
                tokens: Some(path.to_owned()),
                public_url: None,
                session_hours: web::session::SESSION_HOURS_DEFAULT,
            };
            config.access(config.load_tokens()?, crate::access::holder_token()?)?
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
        println!("The report viewer is at http://{bound}/ (Ctrl-C stops it).");
        use std::io::Write;
        std::io::stdout().flush().context("writing to stdout")?;
        let app = viewer::router(source, access);
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
            .with_graceful_shutdown(shutdown())
            .await
            .context("the viewer stopped")
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
}

/// What has been read or computed at one ledger size.
#[derive(Default)]
struct Cache {
    size: u64,
    events: HashMap<String, Arc<Vec<LedgerEvent>>>,
    reports: HashMap<(String, Period), Arc<Shown>>,
}

impl LedgerSource {
    /// A source over a ledger shared with others in the process.
    pub fn new(ledger: Arc<Mutex<Ledger>>) -> LedgerSource {
        LedgerSource {
            ledger,
            cache: Mutex::new(Cache::default()),
            verifier: None,
        }
    }

    /// Checks checkpoint signatures with `verifier`.
    pub fn with_verifier(self, verifier: Option<Verifier>) -> LedgerSource {
        LedgerSource { verifier, ..self }
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
    pub fn owning(ledger: Ledger) -> LedgerSource {
        LedgerSource::new(Arc::new(Mutex::new(ledger)))
    }

    fn lock(&self) -> Result<MutexGuard<'_, Ledger>, SourceError> {
        self.ledger.lock().map_err(|_| {
            SourceError::Failed("a viewer request panicked while reading the ledger".into())
        })
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

    /// Computes the shown report of (tenant, period) with the ledger
    /// locked.
    fn compute(
        ledger: &Ledger,
        tenant: &str,
        period: Period,
        events: &[LedgerEvent],
    ) -> Result<Shown, SourceError> {
        let anchor = anchor(events, period);
        let report = match &anchor {
            Some(a) => crate::report::generate_from(
                ledger,
                tenant,
                period,
                (a.ledger_size, events),
                crate::report::Horizon::Pinned(None),
            ),
            None => crate::report::generate_from(
                ledger,
                tenant,
                period,
                (ledger.size(), events),
                crate::report::Horizon::Now,
            ),
        };
        Ok(Shown {
            report: report.map_err(failure)?,
            anchor,
        })
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
fn failure(e: anyhow::Error) -> SourceError {
    match e.downcast_ref::<ReportError>() {
        Some(
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
        let ledger = self.lock()?;
        let size = ledger.size();
        let key = (tenant.to_string(), period);
        if let Some(shown) = self.cache(size)?.reports.get(&key) {
            return Ok(Arc::clone(shown));
        }
        let shown = Arc::new(LedgerSource::compute(&ledger, tenant, period, &events)?);
        // A preliminary report changes with the clock: computed each time.
        if !shown.report.preliminary {
            self.cache(size)?.reports.insert(key, Arc::clone(&shown));
        }
        Ok(shown)
    }

    fn verify(&self, tenant: &str, period: Period) -> Result<VerificationFacts, SourceError> {
        let ledger = self.lock()?;
        let head = ledger.head();
        let events = crate::report::tenant_events(&ledger, tenant, head.size).map_err(failed)?;
        let regenerated = LedgerSource::compute(&ledger, tenant, period, &events);
        let chain = match ledger.verify(|_| {}).map_err(failed)? {
            Ok(summary) => ChainCheck::Verified {
                entries: summary.size,
            },
            Err(problem) => ChainCheck::Broken {
                problem: problem.to_string(),
            },
        };
        Ok(VerificationFacts {
            anchor: anchor(&events, period),
            regenerated: regenerated.map(|s| s.report).map_err(|e| e.to_string()),
            ledger: self.facts(&ledger)?,
            chain,
        })
    }
}
