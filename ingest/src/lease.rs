//! Which of several ledger processes writes: a lease in the JetStream
//! key-value bucket `LEASE_BUCKET`, one key per ledger (its durable
//! consumer's name), held by the active writer and renewed well within
//! its lifetime (docs/OPERATIONS.md, "Standby and replicas").
//!
//! The bucket's `max_age` is the lease's lifetime: every renewal is a new
//! message, and a key nobody renews ages out of the stream. Taking the
//! lease is KV `create` (succeeds only when the key is absent, deleted or
//! aged out); renewing is `update` with the revision this holder last
//! wrote, so a holder that lost the key (it lapsed and another took it)
//! finds out at its next renewal. A writer that stops cleanly deletes its
//! key, so a standby takes over at once instead of after the lifetime.
//!
//! The lease only decides *who tries* to write. It never decides what is
//! committed: that is the commit log's compare-and-set on the subject's
//! last sequence (`replica::CommitLog`, fencing). A holder whose clock or
//! scheduler stalls past its lease, and so writes while a standby took
//! over, is refused by JetStream at its next publish, whatever the
//! clocks say. So correctness needs no clock; the lifetime only bounds how
//! long a takeover waits.

use std::time::Duration;

use async_nats::jetstream::context::Context;
use async_nats::jetstream::kv;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// The bucket of leases: consumer name → `Owner` (JSON).
pub const LEASE_BUCKET: &str = "TLA_LEDGER_LEASES";

/// How long a lease lives without renewal: a takeover after a crash
/// waits at most this long, plus the standby's poll (`poll_every`).
pub const LEASE_TTL_DEFAULT: Duration = Duration::from_secs(3);

/// The active writer renews this many times per lifetime, so renewals
/// lost to a slow network or a busy machine do not lose the lease.
pub const RENEWALS_PER_TTL: u32 = 6;

/// Who holds a lease, for the operator reading logs and `nats kv get`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Owner {
    /// Random per process: a restarted process is another owner.
    pub id: String,
    pub host: String,
    pub pid: u32,
    /// The holder's ledger directory.
    pub data_dir: String,
}

impl Owner {
    /// This process, holding the ledger in `data_dir`.
    pub fn this_process(data_dir: &std::path::Path) -> Owner {
        Owner {
            id: hex::encode(rand::random::<[u8; 8]>()),
            host: crate::binding::host_name(),
            pid: std::process::id(),
            data_dir: std::fs::canonicalize(data_dir)
                .unwrap_or_else(|_| data_dir.to_owned())
                .display()
                .to_string(),
        }
    }

    /// An owner known only by `what` was found.
    pub fn unknown(what: &str) -> Owner {
        Owner {
            id: "?".into(),
            host: "?".into(),
            pid: 0,
            data_dir: what.to_owned(),
        }
    }

    /// Whether `other` holds the same directory on the same host: one of
    /// the two is gone, because a ledger directory opens in one process
    /// at a time.
    pub fn same_place(&self, other: &Owner) -> bool {
        self.host == other.host && self.data_dir == other.data_dir
    }
}

impl std::fmt::Display for Owner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "pid {} on {} ({}, owner {})",
            self.pid, self.host, self.data_dir, self.id
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LeaseError {
    #[error("the lease bucket {LEASE_BUCKET} is unavailable: {0}")]
    Unavailable(String),
    #[error("the lease of {key:?} lapsed and was taken by {by}")]
    Lost { key: String, by: String },
}

/// The leases of one ledger (`key`: its durable consumer's name).
#[derive(Clone)]
pub struct Leases {
    store: kv::Store,
    key: String,
    ttl: Duration,
}

/// A lease this process holds.
pub struct Lease {
    leases: Leases,
    owner: Owner,
    revision: u64,
}

/// What taking the lease found.
pub enum Taken {
    /// This process holds it now.
    Held(Box<Lease>),
    /// Another process does (as its key says).
    By(Owner),
}

impl Leases {
    /// The lease bucket (created with lifetime `ttl` and `replicas` when
    /// missing; an existing bucket keeps its lifetime, which is then the
    /// one in force) and the key of the ledger fed by `consumer`.
    pub async fn open(
        jetstream: &Context,
        consumer: &str,
        ttl: Duration,
        replicas: usize,
    ) -> Result<Leases, LeaseError> {
        let store = match jetstream.get_key_value(LEASE_BUCKET).await {
            Ok(store) => store,
            Err(_) => jetstream
                .create_key_value(kv::Config {
                    bucket: LEASE_BUCKET.to_owned(),
                    description: "which process writes each ledger (a lease renewed by the \
                                  active writer)"
                        .to_owned(),
                    history: 1,
                    max_age: ttl,
                    num_replicas: replicas.max(1),
                    ..Default::default()
                })
                .await
                .map_err(|e| LeaseError::Unavailable(e.to_string()))?,
        };
        let mut stream = jetstream
            .get_stream(format!("KV_{LEASE_BUCKET}"))
            .await
            .map_err(|e| LeaseError::Unavailable(e.to_string()))?;
        let in_force = stream
            .info()
            .await
            .map_err(|e| LeaseError::Unavailable(e.to_string()))?
            .config
            .max_age;
        if in_force.is_zero() {
            return Err(LeaseError::Unavailable(format!(
                "the bucket has no max_age, so a lease would never lapse; delete it \
                 (`nats kv del {LEASE_BUCKET}`) and it is made again"
            )));
        }
        if in_force != ttl {
            tracing::warn!(
                bucket = LEASE_BUCKET,
                asked = ?ttl,
                ?in_force,
                "the lease bucket exists with another lifetime; using the bucket's"
            );
        }
        Ok(Leases {
            store,
            key: consumer.to_owned(),
            ttl: in_force,
        })
    }

    /// The lease's lifetime in force.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// How often the holder renews.
    pub fn renew_every(&self) -> Duration {
        self.ttl / RENEWALS_PER_TTL
    }

    /// How often a standby tries to take the lease.
    pub fn poll_every(&self) -> Duration {
        self.ttl / 3
    }

    /// Takes the lease for `owner` if nobody holds it, or if the holder is
    /// an earlier process of the same directory on the same host (one that
    /// died: `owner` holds the directory now).
    pub async fn take(&self, owner: &Owner) -> Result<Taken, LeaseError> {
        let value = encode(owner);
        match self.store.create(&self.key, value.clone()).await {
            Ok(revision) => Ok(Taken::Held(Box::new(Lease {
                leases: self.clone(),
                owner: owner.clone(),
                revision,
            }))),
            Err(error) if error.kind() == kv::CreateErrorKind::AlreadyExists => {
                let entry = self
                    .store
                    .entry(&self.key)
                    .await
                    .map_err(|e| LeaseError::Unavailable(e.to_string()))?;
                let Some(entry) = entry else {
                    // It lapsed between the two requests: try again later.
                    return Ok(Taken::By(Owner::unknown(
                        "(the lease lapsed as it was read)",
                    )));
                };
                let Ok(holder) = serde_json::from_slice::<Owner>(&entry.value) else {
                    return Ok(Taken::By(Owner::unknown("(an unreadable lease value)")));
                };
                if !holder.same_place(owner) {
                    return Ok(Taken::By(holder));
                }
                // Our own directory's lease, from a process that died (this
                // one holds the directory's lock, so that one is gone):
                // taken over at once rather than waited out.
                match self.store.update(&self.key, value, entry.revision).await {
                    Ok(revision) => {
                        tracing::info!(previous = %holder, "took over the lease of this ledger directory's previous process");
                        Ok(Taken::Held(Box::new(Lease {
                            leases: self.clone(),
                            owner: owner.clone(),
                            revision,
                        })))
                    }
                    Err(error) if error.kind() == kv::UpdateErrorKind::WrongLastRevision => {
                        Ok(Taken::By(self.holder().await?.unwrap_or(holder)))
                    }
                    Err(error) => Err(LeaseError::Unavailable(error.to_string())),
                }
            }
            Err(error) => Err(LeaseError::Unavailable(error.to_string())),
        }
    }

    /// Who holds the lease now, if anyone.
    pub async fn holder(&self) -> Result<Option<Owner>, LeaseError> {
        let value = self
            .store
            .get(&self.key)
            .await
            .map_err(|e| LeaseError::Unavailable(e.to_string()))?;
        Ok(value.and_then(|v| serde_json::from_slice(&v).ok()))
    }
}

impl Lease {
    /// Renews the lease; `Lost` when it lapsed and another took it (or it
    /// was deleted by an operator).
    pub async fn renew(&mut self) -> Result<(), LeaseError> {
        let leases = &self.leases;
        match leases
            .store
            .update(&leases.key, encode(&self.owner), self.revision)
            .await
        {
            Ok(revision) => {
                self.revision = revision;
                Ok(())
            }
            Err(error) if error.kind() == kv::UpdateErrorKind::WrongLastRevision => {
                let by = match leases.holder().await {
                    Ok(Some(owner)) => owner.to_string(),
                    Ok(None) => "nobody (it lapsed)".to_owned(),
                    Err(error) => format!("(unknown: {error})"),
                };
                Err(LeaseError::Lost {
                    key: leases.key.clone(),
                    by,
                })
            }
            Err(error) => Err(LeaseError::Unavailable(error.to_string())),
        }
    }

    /// Gives the lease up (a clean stop), so a standby takes over now.
    pub async fn release(self) {
        let leases = &self.leases;
        if let Err(error) = leases
            .store
            .delete_expect_revision(&leases.key, Some(self.revision))
            .await
        {
            tracing::debug!(%error, "the lease was not released (it may have lapsed)");
        }
    }

    pub fn owner(&self) -> &Owner {
        &self.owner
    }

    pub fn leases(&self) -> &Leases {
        &self.leases
    }
}

fn encode(owner: &Owner) -> Bytes {
    Bytes::from(serde_json::to_vec(owner).unwrap_or_default())
}
