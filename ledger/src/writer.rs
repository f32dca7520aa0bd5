//! Building one append: records chained in order, grouped by tenant into
//! blocks, and the layout that gives the global order back. Pure: the
//! result is a `store::Commit` that the ledger applies in one batch.

use std::collections::HashMap;

use schemas::Event;

use crate::record::{self, Hash, ZERO_HASH};
use crate::store::{self, Commit, Layout};
use crate::{block, Head, TenantHead};

/// One tenant's block being filled, and the position of its first record.
struct Open {
    first: u64,
    block: block::Builder,
}

/// The records of one append being built, before they are committed.
pub(crate) struct Pending<'a> {
    committed: &'a HashMap<String, TenantHead>,
    record_time: i64,
    head: Head,
    /// Position of the append's first entry.
    first: u64,
    /// Per tenant of `layout.tenants`, its head as this append leaves it.
    heads: Vec<TenantHead>,
    /// Index of each tenant in `layout.tenants`.
    tenant_indexes: HashMap<String, usize>,
    /// Per tenant of `layout.tenants`, its block being filled.
    open: Vec<Option<Open>>,
    layout: Layout,
    commit: Commit,
    new_keys: Vec<(u64, u64)>,
    /// Merkle leaf hashes of the new entries, in position order.
    leaves: Vec<crate::merkle::Digest>,
    /// The new records' bytes and hashes, when asked for (`collect_records`):
    /// what a replicating writer publishes before it applies.
    records: Option<Vec<(Vec<u8>, Hash)>>,
}

/// What an append writes and what the ledger learns from it: the commit,
/// (fingerprint, position) of each new entry, the touched tenants' heads,
/// the new head, and the new entries' Merkle leaf hashes (the caller adds
/// the tiles they change to the commit).
pub(crate) type Finished = (
    Commit,
    Vec<(u64, u64)>,
    HashMap<String, TenantHead>,
    Head,
    Vec<crate::merkle::Digest>,
);

impl<'a> Pending<'a> {
    pub fn new(
        committed: &'a HashMap<String, TenantHead>,
        head: Head,
        record_time: i64,
    ) -> Pending<'a> {
        Pending {
            committed,
            record_time,
            head,
            first: head.size,
            heads: Vec::new(),
            tenant_indexes: HashMap::new(),
            open: Vec::new(),
            layout: Layout {
                tenants: Vec::new(),
                tenant_of: Vec::new(),
                fingerprints: Vec::new(),
            },
            commit: Commit::default(),
            new_keys: Vec::new(),
            leaves: Vec::new(),
            records: None,
        }
    }

    /// Keeps a copy of each new record's bytes (`take_records`).
    pub fn collect_records(&mut self) {
        self.records = Some(Vec::new());
    }

    /// The records collected since `collect_records`, in position order.
    pub fn take_records(&mut self) -> Vec<(Vec<u8>, Hash)> {
        self.records.take().unwrap_or_default()
    }

    /// The tenant's index in the layout, added on first touch.
    fn tenant_index(&mut self, tenant: &str) -> usize {
        if let Some(&index) = self.tenant_indexes.get(tenant) {
            return index;
        }
        let head = self.committed.get(tenant).copied();
        let head = head.unwrap_or(TenantHead {
            next_seq: 0,
            last_hash: ZERO_HASH,
        });
        self.heads.push(head);
        if !self.committed.contains_key(tenant) {
            self.commit.new_tenants.push(tenant.to_owned());
        }
        let index = self.layout.tenants.len();
        self.tenant_indexes.insert(tenant.to_owned(), index);
        self.layout.tenants.push(tenant.to_owned());
        self.open.push(None);
        index
    }

    /// Chains one event; returns its position.
    pub fn add(&mut self, event: &Event, fingerprint: u64) -> u64 {
        let tenant = self.tenant_index(&event.tenant);
        let tenant_head = self.heads[tenant];
        let fields = record::Fields {
            position: self.head.size,
            record_time: self.record_time,
            prev_hash: self.head.hash,
            tenant_seq: tenant_head.next_seq,
            tenant_prev_hash: tenant_head.last_hash,
            tenant: &event.tenant,
            event: event.canonical(),
        };
        self.push(tenant, &fields, fingerprint).0
    }

    /// Adds a record another ledger made (a replica applying the commit
    /// log), after checking that it extends this one exactly: its
    /// position, both chains and its record time. Returns its position and
    /// hash, or what does not match.
    pub fn add_record(
        &mut self,
        fields: &record::Fields<'_>,
        fingerprint: u64,
    ) -> Result<(u64, Hash), String> {
        let expected = self.head.size;
        if fields.position != expected {
            return Err(format!(
                "carries position {}, expected {expected}",
                fields.position
            ));
        }
        if fields.prev_hash != self.head.hash {
            return Err(format!(
                "links to previous hash {}, but the entry before it hashes to {}",
                fields.prev_hash, self.head.hash
            ));
        }
        let last_time = self.head.last_record_time.unwrap_or(i64::MIN);
        if fields.record_time < last_time {
            return Err("its record time is before the previous entry's".into());
        }
        // Looked up without adding the tenant: a refused record leaves
        // nothing behind.
        let tenant_head = match self.tenant_indexes.get(fields.tenant) {
            Some(&index) => self.heads[index],
            None => self
                .committed
                .get(fields.tenant)
                .copied()
                .unwrap_or(TenantHead {
                    next_seq: 0,
                    last_hash: ZERO_HASH,
                }),
        };
        if fields.tenant_seq != tenant_head.next_seq {
            return Err(format!(
                "carries tenant sequence {}, expected {} for tenant {}",
                fields.tenant_seq, tenant_head.next_seq, fields.tenant
            ));
        }
        if fields.tenant_prev_hash != tenant_head.last_hash {
            return Err(format!(
                "links to the tenant's previous hash {}, but tenant {}'s last entry hashes to {}",
                fields.tenant_prev_hash, fields.tenant, tenant_head.last_hash
            ));
        }
        let tenant = self.tenant_index(fields.tenant);
        Ok(self.push(tenant, fields, fingerprint))
    }

    /// Puts a checked record into its tenant's block and moves the heads.
    fn push(
        &mut self,
        tenant: usize,
        fields: &record::Fields<'_>,
        fingerprint: u64,
    ) -> (u64, Hash) {
        let position = fields.position;
        let tenant_head = self.heads[tenant];
        let open = self.open[tenant].get_or_insert_with(|| Open {
            first: position,
            block: block::Builder::new(),
        });
        let (hash, leaf): (Hash, _) = open.block.push(fields);
        self.leaves.push(leaf);
        if let Some(records) = &mut self.records {
            let mut bytes = Vec::with_capacity(record::FIXED_LEN + fields.event.len() + 64);
            fields.encode_into(&mut bytes);
            records.push((bytes, hash));
        }
        let full = open.block.len() == block::BLOCK_ENTRIES_MAX
            || open.block.bytes_len() >= block::BLOCK_BYTES_MAX;
        if full {
            self.seal(tenant);
        }
        self.heads[tenant] = TenantHead {
            next_seq: tenant_head.next_seq + 1,
            last_hash: hash,
        };
        self.head = Head {
            size: position + 1,
            hash,
            last_record_time: Some(fields.record_time),
        };
        self.layout.tenant_of.push(tenant as u16);
        self.layout.fingerprints.push(fingerprint);
        self.new_keys.push((fingerprint, position));
        (position, hash)
    }

    /// Closes the tenant's open block.
    fn seal(&mut self, tenant: usize) {
        if let Some(open) = self.open[tenant].take() {
            let name = self.layout.tenants[tenant].clone();
            self.commit
                .blocks
                .push((name, open.first, open.block.finish()));
        }
    }

    pub fn finish(mut self) -> Finished {
        for tenant in 0..self.open.len() {
            self.seal(tenant);
        }
        let tenants = self
            .layout
            .tenants
            .iter()
            .cloned()
            .zip(self.heads)
            .collect();
        let head = self.head;
        if !self.layout.is_empty() {
            self.commit.layout = Some((self.first, self.layout));
            self.commit.head = Some(store::Head {
                size: head.size,
                hash: head.hash.0,
                last_record_time: head.last_record_time.unwrap_or(0),
            });
        }
        (self.commit, self.new_keys, tenants, head, self.leaves)
    }
}
