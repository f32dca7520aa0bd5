//! The web report viewer: HTML pages over the reports of a ledger, for
//! service managers, municipal contacts and auditors who would rather look
//! than read JSON.
//!
//! The viewer knows nothing of sled or the ledger's layout (the projector
//! never does): it reads through a [`ViewerSource`], which the binary
//! implements over the ledger, and [`router`] turns a source into an axum
//! `Router` that `tla demo --serve`, `tla view` and the service of
//! `tla serve` mount. The pages are pure functions of what the source
//! returned (`tenants`, `months`, `report`, `roster`, `meetings`,
//! `follow_up`, `alerts`, `agreements`, with
//! `page` for the frame they share and `chart` for the server-side SVG);
//! `routes` is the only module that does I/O, with `oidc`, its two routes
//! of the OpenID Connect sign-in.
//!
//! Rules every page keeps: every page is a `maud` template, so every
//! string from a report or the ledger is escaped by construction (raw
//! markup only in `signin::with_sign_out`, which splices the sign-out
//! control into a finished page); nothing is fetched from outside (the
//! one stylesheet is served by the router itself, charts are inline SVG,
//! no scripts, no web fonts; the Content-Security-Policy header says so to
//! the browser); every control is a real link or button; Nynorsk by
//! default, English with `?lang=en`, and every link keeps the language.

mod agreements;
mod alerts;
mod chart;
mod follow_up;
mod meetings;
mod months;
mod oidc;
mod outdated;
mod page;
mod report;
mod roster;
mod routes;
mod signin;
mod tenants;
mod words;

use std::sync::Arc;

use projector::{LedgerEvent, Period, Report};

pub use self::months::periods_of;
pub use self::report::{judge, Problem, Verdict};
pub use self::routes::{router, CONTENT_SECURITY_POLICY};

/// What the viewer reads. Implementations do the I/O (the ledger, a
/// cache); every method may block, and the router calls them on tokio's
/// blocking pool.
pub trait ViewerSource: Send + Sync + 'static {
    /// The ledger as it is now.
    fn ledger(&self) -> Result<LedgerFacts, SourceError>;

    /// Every tenant with entries in the ledger, sorted by id.
    fn tenants(&self) -> Result<Vec<String>, SourceError>;

    /// The name people know the tenant by ("Osterøy" for `osteroy`).
    fn display_name(&self, tenant: &str) -> String {
        tenant.to_string()
    }

    /// The tenant's events in the whole ledger, in ledger order
    /// (contacts and meetings are computed from them).
    fn events(&self, tenant: &str) -> Result<Arc<Vec<LedgerEvent>>, SourceError>;

    /// The months the viewer lists for the tenant, oldest first. The
    /// default is [`periods_of`] the tenant's events.
    fn periods(&self, tenant: &str) -> Result<Vec<Period>, SourceError> {
        Ok(periods_of(&self.events(tenant)?))
    }

    /// The report shown for (tenant, period): the last one issued for it,
    /// regenerated from the prefix it pinned, else the report of the
    /// whole ledger now (preliminary while the period runs).
    /// `SourceError::NotFound` when there is none (no agreement in force).
    fn report(&self, tenant: &str, period: Period) -> Result<Arc<Shown>, SourceError>;

    /// Regenerates the shown report from the ledger, without any cache,
    /// and states what the ledger anchors, for [`judge`].
    fn verify(&self, tenant: &str, period: Period) -> Result<VerificationFacts, SourceError>;
}

/// The ledger's size and head now, and its latest signed checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerFacts {
    /// Entries in the ledger.
    pub size: u64,
    /// Hash of the last entry (hex), the head of the chain.
    pub head: String,
    /// The latest signed checkpoint, if one was signed.
    pub checkpoint: Option<CheckpointFacts>,
}

/// The latest signed checkpoint (a C2SP signed note of the ledger's size
/// and Merkle root), as the verification panel shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointFacts {
    /// Entries it covers.
    pub size: u64,
    /// The signed Merkle root of the first `size` entries (hex).
    pub root: String,
    /// The log's name in the note (the signer's origin line).
    pub origin: String,
    /// Whether the ledger's own Merkle root at `size` is the signed one.
    pub matches_ledger: bool,
    pub signature: SignatureCheck,
}

/// What became of a checkpoint's signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignatureCheck {
    /// The viewer was given no public key to check it with.
    NotChecked,
    /// Valid under this public key (its text).
    Valid { key: String },
    /// Not valid under this public key, and why.
    Invalid { key: String, problem: String },
}

/// A report as the viewer shows it, with the ledger entry that issued it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shown {
    pub report: Report,
    pub anchor: Option<Anchor>,
}

/// A `report.issued` entry: what the ledger anchors for a report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anchor {
    /// Ledger position of the `report.issued` entry.
    pub position: u64,
    /// The prefix the issued report was computed from.
    pub ledger_size: u64,
    /// The digest it anchors.
    pub report_digest: String,
}

/// What a verification found, for [`judge`] and the verification panel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerificationFacts {
    /// The last `report.issued` of the tenant and period, if any.
    pub anchor: Option<Anchor>,
    /// The report regenerated now from the anchored prefix (or, without
    /// an anchor, from the whole ledger), or why that failed.
    pub regenerated: Result<Report, String>,
    pub ledger: LedgerFacts,
    /// The ledger's verified prefix, brought up to date.
    pub chain: ChainCheck,
}

/// The ledger's verified prefix: every entry in it was checked once, after
/// it was applied (its hash recomputed from the stored bytes, both chains,
/// the Merkle tiles), so a verification checks only what is new.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainCheck {
    /// The first `entries` entries verified.
    Verified {
        entries: u64,
        /// Hash of the last verified entry (hex).
        head: String,
        /// The Merkle root of the verified entries (hex).
        root: String,
        /// When the prefix was last brought up to date (RFC 3339).
        at: String,
        /// Entries checked while this verification ran: those new since
        /// the last one (none when the writer's verifier was ahead).
        checked_now: u64,
    },
    /// The chain is broken; the message names the first bad position.
    Broken { problem: String },
}

/// Why a source could not answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceError {
    /// No such tenant, or no report for the period; the page says so
    /// with 404.
    NotFound(String),
    /// Reading the ledger or computing failed; the page says so with 500.
    Failed(String),
}

impl std::fmt::Display for SourceError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SourceError::NotFound(m) | SourceError::Failed(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for SourceError {}
