//! The demo ledger on disk, for `tla demo`: the data directory it claims
//! and replaces whole ([`Target`]), the demo history validated, the
//! reports issued into it (and most of them acknowledged by the
//! municipalities) and regenerated from it.
//!
//! The ledger is built in a staging directory beside the data directory
//! and swapped in with one atomic rename only once it verified, while the
//! demo holds the previous demo ledger's lock (`Target`): a running
//! `tla serve` or `tla view` over it makes the demo refuse before it
//! changes anything, and a crash leaves the old ledger or the new one,
//! never half.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context;
use ledger::checkpoint::{Checkpoint, Signer, Verifier};
use ledger::Outcome;
use schemas::Event;
use web::viewer::Anchor;

use crate::report;

/// The file that marks a data directory as made by `tla demo`, so a rerun
/// may replace it and nothing else is ever deleted.
pub const DEMO_MARKER: &str = "TLA-DEMO";

/// The first line of the marker; the second records the entries the demo
/// wrote (`entries N`), so that a rerun can tell whether anything was
/// added since.
const MARKER_TEXT: &str = "This ledger was made by `tla demo`; running the demo again replaces it.";

/// Marks `dir` as a demo ledger of `entries` entries, all written by the
/// demo.
pub fn write_marker(dir: &Path, entries: u64) -> anyhow::Result<()> {
    std::fs::write(
        dir.join(DEMO_MARKER),
        format!("{MARKER_TEXT}\nentries {entries}\n"),
    )
    .with_context(|| format!("cannot write to {}", dir.display()))
}

/// The entries the demo wrote, as the marker in `dir` records them (a
/// marker of an older demo records none).
fn recorded_entries(dir: &Path) -> Option<u64> {
    let text = std::fs::read_to_string(dir.join(DEMO_MARKER)).ok()?;
    text.lines()
        .find_map(|line| line.strip_prefix("entries "))
        .and_then(|n| n.trim().parse().ok())
}

/// What a demo ledger about to be replaced holds beyond what the demo
/// wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replaced {
    /// Nothing was there to replace.
    Nothing,
    /// A demo ledger of `entries` entries, `added` of them not the demo's
    /// (replaced only with `--force`).
    Demo { entries: u64, added: u64 },
}

/// The demo's signing key, kept in its data directory (a real operator
/// keeps the key apart from the ledger: docs/AUDITING.md).
pub const DEMO_KEY_FILE: &str = "demo-signing.key";

/// The demo's checkpoint origin (and key name).
pub const DEMO_ORIGIN: &str = "demo.tla-ledger.local/ledger";

/// Signs a checkpoint of the demo ledger with a key made for the demo (or
/// the one already in `data_dir`); returns the public key that checks it
/// and the checkpoint.
pub fn sign_checkpoint(
    data_dir: &Path,
    ledger: &ledger::Ledger,
) -> anyhow::Result<(Verifier, Checkpoint)> {
    let path = data_dir.join(DEMO_KEY_FILE);
    let signer = if path.exists() {
        crate::keys::load_signer(&path)?
    } else {
        let mut seed = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut seed);
        let signer = Signer::from_seed(DEMO_ORIGIN, seed)?;
        crate::keys::write_private(&path, &signer.to_text())?;
        std::fs::write(
            data_dir.join(format!("{DEMO_KEY_FILE}.pub")),
            format!("{}\n", signer.verifier().to_text()),
        )
        .context("cannot write the demo's public key")?;
        signer
    };
    let note = ledger.sign_checkpoint(&signer)?;
    let checkpoint = ledger::checkpoint::read_unverified(&note)?;
    Ok((signer.verifier(), checkpoint))
}

/// What the demo's data directory held when the demo claimed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Prior {
    /// Nothing, or an empty directory: the new ledger is renamed onto it,
    /// which fails if another process filled it in the meantime.
    Vacant,
    /// A ledger `tla demo` made: swapped out under its lock, then removed.
    Demo,
}

/// The data directory the demo replaces, held for the whole run: the
/// previous demo ledger's lock (sled's, `ledger::DirLock`) keeps every
/// other process out of it until the new one is in place, and a process
/// holding it (a `tla serve` or `tla view` over it) makes the demo refuse
/// before it touches anything.
pub struct Target {
    /// The directory (absolute when it exists, so that it has a name and a
    /// parent even for `--data-dir .`).
    dir: std::path::PathBuf,
    prior: Prior,
    /// What the swap replaces, for the demo to say.
    pub replaced: Replaced,
    _lock: Option<ledger::DirLock>,
}

impl Target {
    /// Claims `dir`, refusing a directory that holds anything `tla demo`
    /// did not make, one whose ledger another process holds, and (unless
    /// `force`) a demo ledger that holds entries the demo did not write:
    /// events imported or agreements published into it since.
    pub fn claim(dir: &Path, force: bool) -> anyhow::Result<Target> {
        if !dir.exists() {
            return Ok(Target {
                dir: dir.to_owned(),
                prior: Prior::Vacant,
                replaced: Replaced::Nothing,
                _lock: None,
            });
        }
        let replaced = match dir.join(DEMO_MARKER).exists() {
            true => Self::demo_entries(dir, force)?,
            false => Replaced::Nothing,
        };
        // Just opened to count its entries: sled's threads may still hold
        // the lock for a moment.
        let acquired = match replaced {
            Replaced::Demo { .. } => ledger::DirLock::acquire_closed(dir),
            Replaced::Nothing => ledger::DirLock::try_acquire(dir),
        };
        let lock = match acquired {
            Ok(lock) => lock,
            Err(ledger::StoreError::Locked { pid, .. }) => anyhow::bail!(
                "the ledger in {} is held by {}; `tla demo` replaces a demo ledger only when \
                 no process holds it, so stop that process first (or pass another \
                 --data-dir, for example --data-dir tla-demo); nothing was changed",
                dir.display(),
                crate::holder_of(dir, pid)
            ),
            Err(error) => {
                return Err(error).with_context(|| format!("cannot lock {}", dir.display()))
            }
        };
        let is_demo = dir.join(DEMO_MARKER).exists();
        let is_empty = std::fs::read_dir(dir)
            .with_context(|| format!("cannot read {}", dir.display()))?
            .next()
            .is_none();
        if !is_demo && !is_empty {
            anyhow::bail!(
                "{} holds data that `tla demo` did not create; the demo needs a fresh ledger, \
                 so pass another --data-dir (for example --data-dir tla-demo)",
                dir.display()
            );
        }
        let dir = std::fs::canonicalize(dir)
            .with_context(|| format!("cannot resolve {}", dir.display()))?;
        let prior = if is_demo { Prior::Demo } else { Prior::Vacant };
        Ok(Target {
            dir,
            prior,
            replaced,
            _lock: lock,
        })
    }

    /// The entries of the demo ledger in `dir`, refused (unless `force`)
    /// when it holds more than the demo wrote. Read before the lock is
    /// taken (the lock and an open ledger exclude each other even in one
    /// process); a process that appends in between is held off by the
    /// lock, and `claim` refuses then.
    fn demo_entries(dir: &Path, force: bool) -> anyhow::Result<Replaced> {
        let entries = match ledger::Ledger::open_in(dir, ledger::OpenMode::Existing) {
            Ok(ledger) => ledger.size(),
            // Held (said by `claim`) or with no ledger yet: nothing to count.
            Err(_) => return Ok(Replaced::Nothing),
        };
        let recorded = recorded_entries(dir);
        let added = entries.saturating_sub(recorded.unwrap_or(0));
        if force || recorded == Some(entries) {
            return Ok(Replaced::Demo { entries, added });
        }
        let added = match recorded {
            Some(recorded) => format!(
                "{} entries the demo did not write (imported or published since; the demo \
                 wrote {recorded} of its {entries})",
                entries.saturating_sub(recorded)
            ),
            None => format!(
                "{entries} entries, made by an earlier `tla demo` that did not record how \
                 many it wrote, so some may not be the demo's"
            ),
        };
        anyhow::bail!(
            "{} holds a demo ledger with {added}; running the demo again deletes them: pass \
             --force to replace it anyway, or another --data-dir (for example --data-dir \
             tla-demo); nothing was changed",
            dir.display()
        )
    }

    /// A new, empty directory beside the target (same file system, so the
    /// swap is a rename), removed again if the demo stops before the swap.
    pub fn staging(&self) -> anyhow::Result<tempfile::TempDir> {
        let parent = match self.dir.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent,
            _ => Path::new("."),
        };
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
        let name = self
            .dir
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_else(|| "tla-data".into());
        tempfile::Builder::new()
            .prefix(&format!(".{name}{STAGING_INFIX}"))
            .tempdir_in(parent)
            .with_context(|| format!("cannot create a directory in {}", parent.display()))
    }

    /// Puts the finished ledger in `staging` (closed by the caller) in
    /// place of the target in one rename, and removes the previous demo.
    pub fn swap_in(self, staging: tempfile::TempDir) -> anyhow::Result<()> {
        // From here the staging directory is removed only once swapped out.
        let staging = staging.keep();
        // Nobody opens the new ledger until it is in place.
        let new_lock = ledger::DirLock::acquire_closed(&staging)
            .with_context(|| format!("cannot lock the new ledger in {}", staging.display()))?;
        match self.prior {
            Prior::Vacant => std::fs::rename(&staging, &self.dir).with_context(|| {
                format!(
                    "cannot move the new demo ledger from {} to {} (did another process \
                     create a ledger there meanwhile?); it was left in {}",
                    staging.display(),
                    self.dir.display(),
                    staging.display()
                )
            })?,
            Prior::Demo => {
                exchange(&staging, &self.dir)?;
                // `staging` now holds the previous demo, still locked by us.
                std::fs::remove_dir_all(&staging).with_context(|| {
                    format!(
                        "the new demo ledger is in {}, but the previous one could not be \
                         removed from {}; delete that directory",
                        self.dir.display(),
                        staging.display()
                    )
                })?;
            }
        }
        drop(new_lock);
        Ok(())
    }
}

/// Between the target's name and the random suffix of the staging
/// directory: `.tla-data.demo-XXXXXX` beside `tla-data` (docs/OPERATIONS.md
/// says to delete one that a crash left behind).
const STAGING_INFIX: &str = ".demo-";

/// Swaps two directories in one atomic step (Linux `renameat2` with
/// `RENAME_EXCHANGE`): every process sees either the old ledger or the new
/// one at `target`, never none or half.
#[cfg(target_os = "linux")]
fn exchange(staging: &Path, target: &Path) -> anyhow::Result<()> {
    use rustix::fs::{renameat_with, RenameFlags, CWD};
    renameat_with(CWD, staging, CWD, target, RenameFlags::EXCHANGE).with_context(|| {
        format!(
            "cannot swap the new demo ledger in {} with the previous one in {} (the file \
             system must support renameat2 RENAME_EXCHANGE); the previous demo is unchanged",
            staging.display(),
            target.display()
        )
    })
}

/// Elsewhere no atomic swap exists: the previous demo is renamed aside,
/// then the new one into place (a crash between the two leaves the target
/// missing, with both ledgers beside it).
#[cfg(not(target_os = "linux"))]
fn exchange(staging: &Path, target: &Path) -> anyhow::Result<()> {
    let aside = staging.with_extension("old");
    std::fs::rename(target, &aside)
        .and_then(|()| std::fs::rename(staging, target))
        .and_then(|()| std::fs::rename(&aside, staging))
        .with_context(|| format!("cannot replace {}", target.display()))
}

/// The demo history's events validated, or the first invalid one named.
pub fn validate(values: &[serde_json::Value]) -> anyhow::Result<Vec<Event>> {
    values
        .iter()
        .enumerate()
        .map(|(n, value)| {
            Event::from_json(value).map_err(|errors| {
                let listed: Vec<String> = errors.iter().map(ToString::to_string).collect();
                anyhow::anyhow!(
                    "demo event {n} is invalid (a bug in the demo): {}",
                    listed.join("; ")
                )
            })
        })
        .collect()
}

/// Computes every tenant's report of every period against the ledger
/// (`progress` after each) and issues them all in one append; returns the
/// reports and the `report.issued` entries that anchor them.
pub fn issue_reports(
    ledger: &mut ledger::Ledger,
    tenants: &[String],
    periods: &[String],
    mut progress: impl FnMut(),
) -> anyhow::Result<(Vec<projector::Report>, Vec<Anchor>)> {
    let mut reports = Vec::new();
    let size = ledger.size();
    for tenant in tenants {
        // One read of the tenant's entries for all its months.
        let events = report::tenant_events(ledger, tenant, size)?;
        for period in periods {
            let period = period
                .parse()
                .map_err(|e| anyhow::anyhow!("demo period: {e}"))?;
            let horizon = report::Horizon::Now;
            let r = report::generate_from(ledger, tenant, period, (size, &events), horizon)?;
            reports.push(r);
            progress();
        }
    }
    let now = crate::now_micros();
    let issued = reports
        .iter()
        .map(|r| report::issued_event(r, &report::issued_id(r), now))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let outcomes = ledger.append(&issued, now)?;
    let anchors = reports
        .iter()
        .zip(outcomes)
        .map(|(r, outcome)| Anchor {
            position: match outcome {
                Outcome::Appended(p) | Outcome::Duplicate(p) => p,
            },
            ledger_size: r.manifest.ledger_size,
            report_digest: r.manifest.report_digest.clone(),
        })
        .collect();
    Ok((reports, anchors))
}

/// Acknowledges most of the issued demo `reports` in one append, as the
/// municipalities would: each by the tenant's contact (`tenant_contact`)
/// at the period's end, naming the issued digest. Each tenant's last
/// period (just sent) is not acknowledged yet, nor a period that ended
/// with nobody in the role. Returns how many were acknowledged.
pub fn acknowledge_reports(
    ledger: &mut ledger::Ledger,
    reports: &[projector::Report],
) -> anyhow::Result<usize> {
    let mut last: BTreeMap<&str, &str> = BTreeMap::new();
    for r in reports {
        let period = last.entry(r.tenant.as_str()).or_default();
        *period = (*period).max(r.period.as_str());
    }
    let now = crate::now_micros();
    let mut events = Vec::new();
    for r in reports {
        if last.get(r.tenant.as_str()) == Some(&r.period.as_str()) {
            continue;
        }
        let Some(person) = tenant_contact(r) else {
            continue;
        };
        let comment = match r.deviations.is_empty() {
            true => "Motteke utan merknader.",
            false => "Motteke. Vi ventar på oppfølging av avvika.",
        };
        let period = r
            .period
            .parse()
            .map_err(|e| anyhow::anyhow!("demo period: {e}"))?;
        let digest = r.manifest.report_digest.as_str();
        let event = crate::follow_up::acknowledged_event(
            &r.tenant,
            (period, digest),
            &person,
            Some(comment),
            now,
        )?;
        events.push(event);
    }
    ledger.append(&events, now)?;
    Ok(events.len())
}

/// Who held the tenant's contact role at the end of a report's period,
/// from its responsibility overview.
fn tenant_contact(report: &projector::Report) -> Option<String> {
    let story = report.story.as_ref()?;
    story
        .contacts
        .iter()
        .flatten()
        .find(|row| row.role == "tenant_contact" && row.service.is_none())
        .and_then(|row| row.person.clone())
}

/// Regenerates every report from the ledger prefix it pins (`progress`
/// after each); `Some((tenant, period))` names the first one that does not
/// reproduce byte for byte.
pub fn first_unreproduced(
    ledger: &ledger::Ledger,
    reports: &[projector::Report],
    mut progress: impl FnMut(),
) -> anyhow::Result<Option<(String, String)>> {
    let mut events: BTreeMap<&str, Vec<projector::LedgerEvent>> = BTreeMap::new();
    for r in reports {
        let tenant = r.tenant.as_str();
        if !events.contains_key(tenant) {
            events.insert(
                tenant,
                report::tenant_events(ledger, tenant, ledger.size())?,
            );
        }
        let period = r
            .period
            .parse()
            .map_err(|e| anyhow::anyhow!("period: {e}"))?;
        let horizon = r
            .manifest
            .horizon
            .as_deref()
            .map(report::parse_instant)
            .transpose()?;
        let prefix = (r.manifest.ledger_size, &events[tenant][..]);
        let again = report::generate_from(
            ledger,
            tenant,
            period,
            prefix,
            report::Horizon::Pinned(horizon),
        )?;
        if again.canonical_bytes() != r.canonical_bytes() {
            return Ok(Some((r.tenant.clone(), r.period.clone())));
        }
        progress();
    }
    Ok(None)
}

/// The table of deviations (avvik) per tenant and month that `tla demo`
/// prints, with a total per month and a count per kind.
pub fn deviations_table(reports: &[projector::Report], periods: &[String]) -> String {
    let mut out = String::new();
    out.push_str("Deviations (avvik) per tenant and month (. = every guarantee met):");
    out.push('\n');
    out.push_str(&format!("{:<12}", "tenant"));
    for period in periods {
        out.push_str(&format!("{:>6}", &period[2..]));
    }
    out.push_str(&format!("{:>7}", "total"));
    out.push('\n');
    let mut tenants: Vec<&str> = reports.iter().map(|r| r.tenant.as_str()).collect();
    tenants.dedup();
    let count = |tenant: Option<&str>, period: &str| -> usize {
        let matching = reports
            .iter()
            .filter(|r| r.period == period && tenant.is_none_or(|t| r.tenant == t));
        matching.map(|r| r.deviations.len()).sum()
    };
    let mut row = |name: &str, tenant: Option<&str>| {
        out.push_str(&format!("{name:<12}"));
        let mut total = 0;
        for period in periods {
            let n = count(tenant, period);
            total += n;
            let cell = if n == 0 {
                ".".to_string()
            } else {
                n.to_string()
            };
            out.push_str(&format!("{cell:>6}"));
        }
        out.push_str(&format!("{total:>7}"));
        out.push('\n');
    };
    for tenant in tenants {
        row(demo::tenant_display_name(tenant), Some(tenant));
    }
    row("all", None);
    let mut kinds: BTreeMap<&str, usize> = BTreeMap::new();
    for d in reports.iter().flat_map(|r| &r.deviations) {
        *kinds.entry(d.kind()).or_default() += 1;
    }
    let kinds: Vec<String> = kinds.iter().map(|(k, n)| format!("{n} {k}")).collect();
    out.push_str(&format!("By kind: {}.", kinds.join(", ")));
    out.push('\n');
    out.push('\n');
    out
}

/// The table of events per tenant and kind of fact that `tla demo` prints.
pub fn events_table(events: &[Event]) -> String {
    // (type prefixes, title): causes and actions share the follow-up column.
    const COLUMNS: [(&[&str], &str); 7] = [
        (&["outage"], "outages"),
        (&["maintenance"], "maint."),
        (&["incident"], "incidents"),
        (&["meeting"], "meetings"),
        (&["minutes"], "minutes"),
        (&["contact"], "contacts"),
        (&["deviation", "action"], "follow-up"),
    ];
    let mut out = String::new();
    let mut counts: BTreeMap<&str, [u64; 8]> = BTreeMap::new();
    for event in events {
        let row = counts.entry(event.tenant.as_str()).or_default();
        let prefix = event
            .event_type
            .as_str()
            .split('.')
            .next()
            .unwrap_or_default();
        if let Some(column) = COLUMNS.iter().position(|(p, _)| p.contains(&prefix)) {
            row[column] += 1;
        }
        row[COLUMNS.len()] += 1;
    }
    out.push_str(&format!("{:<14}", "tenant"));
    for (_, title) in COLUMNS {
        out.push_str(&format!("{title:>10}"));
    }
    out.push_str(&format!("{:>10}", "events"));
    out.push('\n');
    for (tenant, row) in &counts {
        let name = demo::tenant_display_name(tenant);
        out.push_str(&format!("{name:<14}"));
        for value in row {
            out.push_str(&format!("{value:>10}"));
        }
        out.push('\n');
    }
    out.push('\n');
    out
}

/// The table of the alerts (varsling) `tla demo`'s year would have sent:
/// a count per kind and tenant of every alert that fired by `until`
/// (`projector::alert`, the function the live projector publishes from).
pub fn alerts_table(events: &[Event], tenants: &[String], until: i64) -> String {
    use projector::alert::Kind;
    let ledger_events: Vec<projector::LedgerEvent> = events
        .iter()
        .enumerate()
        .map(|(i, e)| projector::LedgerEvent {
            position: i as u64,
            event: e.clone(),
        })
        .collect();
    let mut counts: BTreeMap<(Kind, &str), usize> = BTreeMap::new();
    for tenant in tenants {
        let scan = projector::alert::alerts(tenant, &ledger_events, until, i64::MIN);
        for alert in scan.alerts {
            *counts.entry((alert.kind, tenant.as_str())).or_default() += 1;
        }
    }
    let mut out = String::from("Alerts (varsel) the year would have sent, per kind and tenant:\n");
    out.push_str(&format!("{:<26}", "kind"));
    for tenant in tenants {
        let short: String = tenant.chars().take(9).collect();
        out.push_str(&format!("{short:>10}"));
    }
    out.push_str(&format!("{:>8}\n", "total"));
    for kind in Kind::ALL {
        out.push_str(&format!("{:<26}", kind.as_str()));
        let mut total = 0;
        for tenant in tenants {
            let n = counts.get(&(kind, tenant.as_str())).copied().unwrap_or(0);
            total += n;
            out.push_str(&format!("{n:>10}"));
        }
        out.push_str(&format!("{total:>8}\n"));
    }
    out.push('\n');
    out
}
