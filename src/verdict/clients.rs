//! The one per-client aggregate: every face (the summary table, the dashboard, the `verdict`
//! record, `stats.verdict` and the metrics) reads a [`Clients`], so they group, bound and
//! judge alike.
//!
//! Bound: at most [`MAX_CLIENTS`] clients. The one overflow rule: a client first seen once
//! the table is full is judged with every other such client in one `(other clients)` entry
//! ([`ClientKey::Other`]); the requests folded there are counted
//! ([`Clients::requests_folded`], `clients_folded` in the records) and the entry is shown
//! like any client. Nothing is evicted, so a client's verdict never loses its history.
//!
//! A face that needs more per client than the verdict inputs (the dashboard's pids, command
//! line, ancestry) keeps it in the entry's [`Detail`], fed by the same records.

use std::hash::BuildHasher;
use std::net::{IpAddr, Ipv4Addr};

use hashbrown::HashTable;

use super::client::{ClientKey, client_ip};
use super::{BareTokens, ClientSummary, HostVerdict, Verdict, host_verdict_of, verdict};
use crate::event::{Outcome, RequestCounts, RequestRecord, Version};
use crate::time::Timestamp;

/// Most clients kept; further ones are folded into one (see the module's note).
pub const MAX_CLIENTS: usize = 10_000;

/// What a face keeps per client beyond the verdict inputs.
pub trait Detail: Sized {
    /// The detail of a client first seen with `r`.
    fn new(key: &ClientKey, r: &RequestRecord) -> Self;
    /// One more request of this client (`newer`: not older than any seen before).
    fn add(&mut self, _r: &RequestRecord, _newer: bool) {}
}

impl Detail for () {
    fn new(_: &ClientKey, _: &RequestRecord) {}
}

/// One client: its key, what the verdict rests on, and the face's detail.
#[derive(Debug, Clone)]
pub struct ClientStats<D = ()> {
    pub key: ClientKey,
    /// The client's address when first seen (live, a process may use several).
    pub ip: IpAddr,
    /// What the verdict and the advice are computed from.
    pub summary: ClientSummary,
    /// Requests by kind (the table's and the dashboard's columns).
    pub counts: RequestCounts,
    /// Requests of any kind that got no answer.
    pub unanswered: u64,
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
    pub detail: D,
    hash: u64,
}

impl<D> std::ops::Deref for ClientStats<D> {
    type Target = D;
    fn deref(&self) -> &D {
        &self.detail
    }
}

impl<D> std::ops::DerefMut for ClientStats<D> {
    fn deref_mut(&mut self) -> &mut D {
        &mut self.detail
    }
}

impl<D> ClientStats<D> {
    /// What enforcing IMDSv2 would do to this client.
    pub fn verdict(&self) -> Verdict {
        verdict(&self.summary)
    }

    /// Requests of the three AWS kinds.
    pub fn requests(&self) -> u64 {
        self.counts.v1 + self.counts.v2 + self.counts.token_request
    }

    /// The hop-limit symptom: a token request went unanswered, then IMDSv1 was served.
    pub fn hop_limit_suspect(&self) -> bool {
        self.summary.hop_limit_suspect()
    }

    /// The client as the `client` field of the `verdict` record and the table's CLIENT
    /// column: its address, or `(other clients)`.
    pub fn client_label(&self) -> String {
        match self.key {
            ClientKey::Other => "(other clients)".to_owned(),
            _ => self.ip.to_string(),
        }
    }

    fn add(&mut self, r: &RequestRecord) -> bool {
        let newer = r.timestamp >= self.last_seen;
        self.summary.add(r);
        self.counts.add(r);
        if r.imds.outcome == Outcome::NoResponse {
            self.unanswered += 1;
        }
        self.first_seen = self.first_seen.min(r.timestamp);
        self.last_seen = self.last_seen.max(r.timestamp);
        newer
    }
}

/// Per-client state of a run (see the module's note).
#[derive(Debug, Clone)]
pub struct Clients<D = ()> {
    /// Live: clients are processes (see [`ClientKey::of`]).
    live: bool,
    /// Boxed: an entry is ~500 bytes, and a table at 10,000 clients has 16,384 slots (and
    /// two tables while it grows): 8 MiB of the dense capture's peak inline (issue 29).
    table: HashTable<Box<ClientStats<D>>>,
    hasher: foldhash::fast::RandomState,
    other: Option<Box<ClientStats<D>>>,
    requests_folded: u64,
    newest: Timestamp,
    /// The input was incomplete (a capture cut mid-record): the host is never called safe.
    incomplete: bool,
}

impl<D> Default for Clients<D> {
    fn default() -> Self {
        Clients::new(false)
    }
}

/// The borrowed key of an offline record, hashed and compared like its [`ClientKey`]: a
/// request of a known client costs no allocation (this runs for every request).
#[derive(Hash)]
enum Probe<'a> {
    Address(IpAddr, Option<&'a str>),
    Owned(&'a ClientKey),
}

impl Probe<'_> {
    fn matches(&self, k: &ClientKey) -> bool {
        match (self, k) {
            (Probe::Address(ip, ua), ClientKey::Address { ip: kip, user_agent }) => {
                ip == kip && *ua == user_agent.as_deref()
            }
            (Probe::Owned(a), b) => *a == b,
            _ => false,
        }
    }
}

fn probe_of(k: &ClientKey) -> Probe<'_> {
    match k {
        ClientKey::Address { ip, user_agent } => Probe::Address(*ip, user_agent.as_deref()),
        k => Probe::Owned(k),
    }
}

impl<D> Clients<D> {
    /// An empty aggregate; `live`: clients are processes.
    pub fn new(live: bool) -> Clients<D> {
        Clients {
            live,
            table: HashTable::new(),
            hasher: foldhash::fast::RandomState::default(),
            other: None,
            requests_folded: 0,
            newest: Timestamp(0),
            incomplete: false,
        }
    }

    pub fn is_live(&self) -> bool {
        self.live
    }

    /// Clients kept, `(other clients)` included.
    pub fn len(&self) -> usize {
        self.table.len() + usize::from(self.other.is_some())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Requests of clients past the bound, judged in `(other clients)`.
    pub fn requests_folded(&self) -> u64 {
        self.requests_folded
    }

    /// Time of the newest request.
    pub fn newest(&self) -> Timestamp {
        self.newest
    }

    /// Every client, `(other clients)` last, in no particular order otherwise.
    pub fn values(&self) -> impl Iterator<Item = &ClientStats<D>> {
        self.table.iter().map(|c| &**c).chain(self.other.as_deref())
    }

    pub fn get(&self, key: &ClientKey) -> Option<&ClientStats<D>> {
        if *key == ClientKey::Other {
            return self.other.as_deref();
        }
        let p = probe_of(key);
        self.table.find(self.hasher.hash_one(&p), |c| p.matches(&c.key)).map(|c| &**c)
    }

    pub fn get_mut(&mut self, key: &ClientKey) -> Option<&mut ClientStats<D>> {
        if *key == ClientKey::Other {
            return self.other.as_deref_mut();
        }
        let p = probe_of(key);
        self.table.find_mut(self.hasher.hash_one(&p), |c| p.matches(&c.key)).map(|c| &mut **c)
    }

    /// Removes a client (the dashboard's row that only ever had a token request pending,
    /// whose answer went to another client). `(other clients)` stays.
    pub fn remove(&mut self, key: &ClientKey) -> Option<ClientStats<D>> {
        let p = probe_of(key);
        let h = self.hasher.hash_one(&p);
        self.table.find_entry(h, |c| p.matches(&c.key)).ok().map(|e| *e.remove().0)
    }

    /// Says the input was incomplete: what was not read may hold a served IMDSv1 request.
    /// `at` (the input's time then) dates the verdict when no request does.
    pub fn mark_incomplete(&mut self, at: Timestamp) {
        self.incomplete = true;
        if self.is_empty() {
            self.newest = self.newest.max(at);
        }
    }

    /// The host-level verdict over every client.
    pub fn host(&self) -> HostVerdict {
        let mut h = host_verdict_of(self.values().map(|c| &c.summary));
        h.clients_folded = self.requests_folded;
        if self.incomplete {
            h.mark_incomplete();
        }
        h
    }

    /// Requests sent after the server closed the connection (not judged).
    pub fn server_closed(&self) -> u64 {
        self.values().map(|c| c.summary.server_closed).sum()
    }
}

impl<D: Detail> Clients<D> {
    /// One finished request: counted in its client's entry (created if new, folded if the
    /// table is full). Returns the entry.
    pub fn add(&mut self, r: &RequestRecord) -> &mut ClientStats<D> {
        self.newest = self.newest.max(r.timestamp);
        let bare = self.bare_tokens(r);
        let c = self.entry(r, true);
        let newer = c.add(r);
        if let Some(b) = bare.filter(|_| c.summary.token_requests() == 0) {
            c.summary.bare_tokens = b;
        }
        c.detail.add(r, newer);
        c
    }

    /// For an IMDSv1 request with a User-Agent: the token requests its process (offline: its
    /// address) sent without one, which are another client's ([`ClientSummary::bare_tokens`]).
    fn bare_tokens(&self, r: &RequestRecord) -> Option<BareTokens> {
        if r.imds.version != Version::V1 || r.imds.user_agent.is_none() {
            return None;
        }
        let bare = if self.live && r.live.is_some() {
            let mut k = ClientKey::of(r, true);
            match &mut k {
                ClientKey::Process { user_agent, .. } | ClientKey::Unattributed { user_agent, .. } => {
                    *user_agent = None
                }
                _ => return None,
            }
            self.get(&k)
        } else {
            self.get(&ClientKey::Address { ip: client_ip(r), user_agent: None })
        };
        bare.map(|c| BareTokens::of(&c.summary)).filter(BareTokens::any)
    }

    /// The entry of a request not yet finished (a token request waiting for its answer),
    /// created if new, without counting it.
    pub fn touch(&mut self, r: &RequestRecord) -> &mut ClientStats<D> {
        self.entry(r, false)
    }

    fn entry(&mut self, r: &RequestRecord, counted: bool) -> &mut ClientStats<D> {
        let owned;
        let probe = if self.live && r.live.is_some() {
            owned = ClientKey::of(r, true);
            Probe::Owned(&owned)
        } else {
            Probe::Address(client_ip(r), r.imds.user_agent.as_deref())
        };
        let h = self.hasher.hash_one(&probe);
        if self.table.len() >= MAX_CLIENTS && self.table.find(h, |c| probe.matches(&c.key)).is_none() {
            self.requests_folded += u64::from(counted);
            return self.other.get_or_insert_with(|| Box::new(new_stats(ClientKey::Other, 0, r)));
        }
        match self.table.find_entry(h, |c| probe.matches(&c.key)) {
            Ok(e) => e.into_mut(),
            Err(absent) => {
                let key = match probe {
                    Probe::Owned(k) => k.clone(),
                    Probe::Address(ip, ua) => ClientKey::Address { ip, user_agent: ua.map(str::to_owned) },
                };
                absent.into_table().insert_unique(h, Box::new(new_stats(key, h, r)), |c| c.hash).into_mut()
            }
        }
    }
}

fn new_stats<D: Detail>(key: ClientKey, hash: u64, r: &RequestRecord) -> ClientStats<D> {
    let ip = match key {
        ClientKey::Other => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        _ => client_ip(r),
    };
    ClientStats {
        detail: D::new(&key, r),
        key,
        ip,
        summary: ClientSummary::default(),
        counts: RequestCounts::default(),
        unanswered: 0,
        first_seen: r.timestamp,
        last_seen: r.timestamp,
        hash,
    }
}
