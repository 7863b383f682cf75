//! Authorization: the one decision point for every operation on a key, the request context that
//! policies see, and the decision cache.
//!
//! The request context is built from three sources: the caller (principal, `aws:userid`, MFA,
//! `aws:SourceIp`, `aws:SecureTransport`, `aws:UserAgent`, `kms:ViaService`, the time), the key
//! (`aws:ResourceTag/*`, `kms:KeySpec`, `kms:KeyUsage`, `kms:KeyOrigin`, `kms:ResourceAliases`)
//! and the operation's own parameters, which each operation passes as [`Facts`]
//! (`kms:EncryptionContext:*`, `kms:RequestAlias`, `aws:RequestTag/*`, `aws:TagKeys`,
//! `kms:GrantOperations`, ...).
//!
//! Decisions are cached per (principal, key, action, relevant context), keyed by a 128-bit
//! digest of the request's inputs, computed without building the request context (building it
//! costs more than evaluating it): the caller's identity, the key entry (each published entry
//! has its own stamp, so a new policy, grant, tag or key state is a new key), the action and
//! the operation's facts; and, only when the key policy or the caller's identity policies read
//! them (`Policy::context_keys`), the source address, the user agent, the time (to the second)
//! and the encryption context (also when a grant is constrained). The cache is dropped whole
//! whenever the generation changes: the key service bumps its generation on every change to
//! its state (keys, policies, grants, aliases), and the identity side reports its own (users,
//! roles, their policies, access keys). A generation is read before the state a decision is
//! computed from, so a decision computed from a state that changed meanwhile is filed under a
//! generation that is already gone. This module never reads the store.

use std::collections::hash_map::RandomState;
use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use keystead_authz::{Policy, Principal, RequestContext};
use keystead_types::{AccountId, Caller};

use crate::{Error, KeyEntry, KeyService, Permit};

/// How many decisions the cache holds before it starts again from empty.
const MAX_CACHED_DECISIONS: usize = 16_384;

/// Facts about one request that policies may test beyond who asks, for what, on which key:
/// the operation's own parameters.
#[derive(Default, Hash)]
pub(crate) struct Facts<'a> {
    encryption_context: Option<&'a BTreeMap<String, String>>,
    request_tags: Option<BTreeMap<String, String>>,
    values: Vec<(&'static str, Vec<String>)>,
}

impl<'a> Facts<'a> {
    /// The request's encryption context (`kms:EncryptionContext:*`, grant constraints).
    pub(crate) fn encryption_context(mut self, context: &'a BTreeMap<String, String>) -> Self {
        self.encryption_context = Some(context);
        self
    }

    /// `kms:RequestAlias`, when `reference` (the key as the request named it) is an alias name
    /// or alias ARN.
    pub(crate) fn request_alias(self, reference: &str) -> Self {
        match crate::reference::parse(reference) {
            Ok(crate::reference::Reference::Alias { name, .. }) => {
                self.value("kms:RequestAlias", name)
            }
            _ => self,
        }
    }

    /// `aws:RequestTag/*` and `aws:TagKeys` for the tags a request attaches.
    pub(crate) fn request_tags<'t>(
        mut self,
        tags: impl IntoIterator<Item = (&'t str, &'t str)>,
    ) -> Self {
        self.request_tags = Some(
            tags.into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
        );
        self
    }

    /// A single-valued condition key.
    pub(crate) fn value(mut self, key: &'static str, value: impl Into<String>) -> Self {
        self.values.push((key, vec![value.into()]));
        self
    }

    /// A multivalued condition key.
    pub(crate) fn values(mut self, key: &'static str, values: Vec<String>) -> Self {
        self.values.push((key, values));
        self
    }

    fn apply(self, mut ctx: RequestContext) -> RequestContext {
        if let Some(context) = self.encryption_context {
            ctx = ctx.with_encryption_context(context.clone());
        }
        if let Some(tags) = &self.request_tags {
            ctx = ctx.with_request_tags(tags);
        }
        for (key, values) in self.values {
            ctx = ctx.with_values(key, values);
        }
        ctx
    }
}

/// A decision as the cache keeps it.
#[derive(Clone)]
enum Cached {
    Allow,
    /// The AccessDeniedException message.
    Deny(Arc<str>),
}

/// Decisions by a 128-bit digest of everything they depend on, for one generation.
pub(crate) struct DecisionCache {
    inner: RwLock<CacheInner>,
    /// Two independently keyed SipHash instances: a false hit needs both to collide.
    hashers: [RandomState; 2],
    hits: AtomicU64,
    misses: AtomicU64,
}

#[derive(Default)]
struct CacheInner {
    generation: u64,
    decisions: HashMap<u128, Cached>,
}

impl Default for DecisionCache {
    fn default() -> Self {
        Self {
            inner: RwLock::default(),
            hashers: [RandomState::new(), RandomState::new()],
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }
}

impl DecisionCache {
    fn get(&self, generation: u64, key: u128) -> Option<Cached> {
        let inner = self.inner.read().unwrap_or_else(|p| p.into_inner());
        let found = if inner.generation == generation {
            inner.decisions.get(&key).cloned()
        } else {
            None
        };
        let counter = if found.is_some() {
            &self.hits
        } else {
            &self.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    fn insert(&self, generation: u64, key: u128, decision: Cached) {
        let mut inner = self.inner.write().unwrap_or_else(|p| p.into_inner());
        if generation < inner.generation {
            // Computed from a state that has changed since: never file it.
            return;
        }
        if generation > inner.generation || inner.decisions.len() >= MAX_CACHED_DECISIONS {
            inner.decisions.clear();
            inner.generation = generation;
        }
        inner.decisions.insert(key, decision);
    }

    /// `(hits, misses)` since the service started.
    pub(crate) fn counts(&self) -> (u64, u64) {
        (
            self.hits.load(Ordering::Relaxed),
            self.misses.load(Ordering::Relaxed),
        )
    }

    /// The digest of everything a decision on `entry` for this request can depend on, computed
    /// from the request's inputs without building its context (which costs more than the
    /// evaluation it would save). Inputs that vary from request to request but that no policy
    /// reads (the source address, the user agent, the time, the encryption context) are left
    /// out, so that they do not defeat the cache.
    fn digest(&self, request: &Request<'_>, identity: &[Policy]) -> u128 {
        let reads = Reads::of(std::iter::once(&*request.entry.policy).chain(identity.iter()));
        let constrained_grants = request
            .entry
            .grants
            .compiled
            .iter()
            .any(|g| g.constraints().is_some());
        let [a, b] = &self.hashers;
        let (mut ha, mut hb) = (a.build_hasher(), b.build_hasher());
        for h in [&mut ha as &mut dyn Hasher, &mut hb] {
            let mut h = HasherRef(h);
            let caller = request.caller;
            request.entry.stamp.hash(&mut h);
            request.action.hash(&mut h);
            caller.account_id.as_str().hash(&mut h);
            caller.region.as_str().hash(&mut h);
            caller.service.hash(&mut h);
            caller.via_service.hash(&mut h);
            caller.source.secure_transport.hash(&mut h);
            caller.uses_temporary_credentials().hash(&mut h);
            caller.mfa_authenticated_at.is_some().hash(&mut h);
            caller
                .user
                .as_ref()
                .map(|u| (&u.user_name, &u.path, &u.user_id))
                .hash(&mut h);
            caller
                .role_session
                .as_ref()
                .map(|s| (&s.role_name, &s.role_path, &s.role_id, &s.session_name))
                .hash(&mut h);
            if reads.source_ip {
                caller.source.ip.hash(&mut h);
            }
            if reads.user_agent {
                caller.source.user_agent.hash(&mut h);
            }
            if reads.time || reads.mfa_age {
                request.now.0.div_euclid(1000).hash(&mut h);
                caller.mfa_authenticated_at.map(|t| t.0).hash(&mut h);
            }
            if reads.encryption_context || constrained_grants {
                request.facts.encryption_context.hash(&mut h);
            }
            request.facts.request_tags.hash(&mut h);
            request.facts.values.hash(&mut h);
        }
        (u128::from(ha.finish()) << 64) | u128::from(hb.finish())
    }
}

/// One authorization request, before its context is built.
struct Request<'a> {
    caller: &'a Caller,
    entry: &'a KeyEntry,
    action: &'static str,
    facts: &'a Facts<'a>,
    now: keystead_types::UnixMillis,
}

/// Which request inputs that vary between requests some policy reads.
#[derive(Default)]
struct Reads {
    source_ip: bool,
    user_agent: bool,
    time: bool,
    mfa_age: bool,
    encryption_context: bool,
}

impl Reads {
    fn of<'p>(policies: impl Iterator<Item = &'p Policy>) -> Reads {
        let mut reads = Reads::default();
        for key in policies.flat_map(|p| p.context_keys().iter()) {
            match &**key {
                "aws:sourceip" => reads.source_ip = true,
                "aws:useragent" => reads.user_agent = true,
                "aws:currenttime" | "aws:epochtime" => reads.time = true,
                "aws:multifactorauthage" => reads.mfa_age = true,
                k if k.starts_with("kms:encryptioncontext") => reads.encryption_context = true,
                _ => {}
            }
        }
        reads
    }
}

/// A `&mut dyn Hasher` usable where `Hash::hash` wants a sized `Hasher`.
struct HasherRef<'a>(&'a mut dyn Hasher);

impl Hasher for HasherRef<'_> {
    fn finish(&self) -> u64 {
        self.0.finish()
    }

    fn write(&mut self, bytes: &[u8]) {
        self.0.write(bytes);
    }
}

impl KeyService {
    /// The one authorization decision point: the key policy, the caller's identity policies (an
    /// IAM user's or role's inline policies; none for the root user or a service) and the key's
    /// grants, evaluated as AWS does for the caller.
    pub(crate) fn authorize(
        &self,
        caller: &Caller,
        entry: &KeyEntry,
        action: &'static str,
    ) -> Result<Permit, Error> {
        self.authorize_with(caller, entry, action, Facts::default())
    }

    /// [`Self::authorize`] with the operation's parameters that policies may test.
    pub(crate) fn authorize_with(
        &self,
        caller: &Caller,
        entry: &KeyEntry,
        action: &'static str,
        facts: Facts<'_>,
    ) -> Result<Permit, Error> {
        let generation = self.generation();
        let identity_policies = self.identity_policies(caller);
        let request = Request {
            caller,
            entry,
            action,
            facts: &facts,
            now: self.now(),
        };
        let key = self.cache.digest(&request, &identity_policies);
        let cached = match self.cache.get(generation, key) {
            Some(cached) => cached,
            None => {
                let now = request.now;
                let ctx = self.key_context(caller, entry, action, facts, &identity_policies, now);
                let decision = keystead_authz::evaluate_kms(
                    &entry.policy,
                    &identity_policies,
                    &entry.grants.compiled,
                    &ctx,
                );
                let cached = match decision.access_denied_message(&ctx) {
                    None => Cached::Allow,
                    Some(message) => Cached::Deny(message.into()),
                };
                self.cache.insert(generation, key, cached.clone());
                cached
            }
        };
        match cached {
            Cached::Allow => Ok(Permit(())),
            Cached::Deny(message) => Err(Error::AccessDenied {
                message: message.to_string(),
            }),
        }
    }

    /// CreateKey's authorization: there is no key policy yet, so the caller's identity policies
    /// decide (AWS: "CreateKey ... Required permissions: kms:CreateKey (IAM policy)"). The root
    /// user may; a service principal may not.
    pub(crate) fn authorize_create_key(
        &self,
        caller: &Caller,
        facts: Facts<'_>,
    ) -> Result<(), Error> {
        let ctx =
            facts.apply(self.request_context(caller, "*", &caller.account_id, "kms:CreateKey"));
        if caller.service.is_none() && caller.is_root() {
            return Ok(());
        }
        // Within its account, an identity is governed by its policies alone: evaluate them
        // under a resource policy that delegates everything to the account.
        let delegation =
            crate::policy::parse(&crate::policy::default_policy(caller.account_id.as_str()))?;
        let identity_policies = self.identity_policies(caller);
        let decision = keystead_authz::evaluate_kms(&delegation, &identity_policies, &[], &ctx);
        match decision.access_denied_message(&ctx) {
            None => Ok(()),
            Some(message) => Err(Error::AccessDenied { message }),
        }
    }

    /// The state generation decisions are filed under: the key service's and the identity
    /// side's, both monotonic, so their sum changes whenever either does.
    fn generation(&self) -> u64 {
        let identity = self.identity.as_ref().map_or(0, |i| i.generation());
        self.generation
            .load(Ordering::Acquire)
            .wrapping_add(identity)
    }

    /// `(hits, misses)` of the decision cache since the service started.
    pub fn decision_cache_counts(&self) -> (u64, u64) {
        self.cache.counts()
    }

    pub(crate) fn identity_policies(&self, caller: &Caller) -> Arc<[Policy]> {
        if caller.service.is_some() {
            return Arc::from(Vec::new());
        }
        match (&caller.role_session, &caller.user, &self.identity) {
            (Some(session), _, Some(identity)) => {
                identity.role_policies(&caller.account_id, &session.role_name)
            }
            (None, Some(user), Some(identity)) => {
                identity.user_policies(&caller.account_id, &user.user_name)
            }
            _ => Arc::from(Vec::new()),
        }
    }

    /// The request context for an operation on `entry`: the caller's keys, the key's keys and
    /// the operation's `facts`.
    fn key_context(
        &self,
        caller: &Caller,
        entry: &KeyEntry,
        action: &str,
        facts: Facts<'_>,
        identity: &[Policy],
        now: keystead_types::UnixMillis,
    ) -> RequestContext {
        let record = &entry.record;
        let mut ctx = self
            .request_context_at(caller, &entry.arn, &record.account_id, action, now)
            .with_value("kms:KeySpec", &record.key_spec)
            .with_value("kms:KeyUsage", &record.key_usage)
            .with_value("kms:KeyOrigin", &record.origin);
        if !record.tags.is_empty() {
            let tags: BTreeMap<String, String> = record
                .tags
                .iter()
                .map(|t| (t.key.clone(), t.value.clone()))
                .collect();
            ctx = ctx.with_resource_tags(&tags);
        }
        // Listing the key's aliases scans every alias: only do it for policies that ask.
        let reads = |key: &str| {
            std::iter::once(&*entry.policy)
                .chain(identity.iter())
                .any(|p| p.context_keys().iter().any(|k| &**k == key))
        };
        if reads("kms:resourcealiases") {
            let aliases: Vec<String> = self
                .read()
                .aliases
                .values()
                .filter(|a| a.target_key_id == record.key_id)
                .map(|a| a.alias_name.clone())
                .collect();
            ctx = ctx.with_values("kms:ResourceAliases", aliases);
        }
        facts.apply(ctx)
    }

    /// The request as policies see it without a key: who, what, on which resource, when and
    /// from where.
    pub(crate) fn request_context(
        &self,
        caller: &Caller,
        resource: &str,
        resource_account: &AccountId,
        action: &str,
    ) -> RequestContext {
        self.request_context_at(caller, resource, resource_account, action, self.now())
    }

    /// [`Self::request_context`] at `now`.
    fn request_context_at(
        &self,
        caller: &Caller,
        resource: &str,
        resource_account: &AccountId,
        action: &str,
        now: keystead_types::UnixMillis,
    ) -> RequestContext {
        let mut ctx = RequestContext::new(
            principal(caller),
            action,
            resource,
            resource_account.clone(),
        )
        .with_current_time(now)
        .with_value("aws:RequestedRegion", caller.region.as_str())
        .with_value(
            "aws:SecureTransport",
            bool_text(caller.source.secure_transport),
        );
        if caller.service.is_none() {
            ctx = ctx.with_value("aws:userid", &caller.user_id());
        }
        if let Some(ip) = caller.source.ip {
            ctx = ctx.with_value("aws:SourceIp", &ip.to_string());
        }
        if let Some(agent) = &caller.source.user_agent {
            ctx = ctx.with_value("aws:UserAgent", agent);
        }
        if let Some(via) = &caller.via_service {
            ctx = ctx.with_value("kms:ViaService", via);
        }
        // Long-term keys carry no MFA keys at all; sessions say whether MFA was used, and when.
        if caller.service.is_some() || !caller.uses_temporary_credentials() {
            return ctx;
        }
        match caller.mfa_authenticated_at {
            Some(at) => {
                let age = u64::try_from(now.0.saturating_sub(at.0) / 1000).unwrap_or(0);
                ctx.with_mfa(true, Some(age))
            }
            None => ctx.with_mfa(false, None),
        }
    }
}

/// The caller as a policy principal. Users' and roles' ARNs are built from validated names, so
/// they always parse; fall back to an anonymous principal (which nothing allows) rather than
/// to the root user.
fn principal(caller: &Caller) -> Principal {
    if let Some(service) = &caller.service {
        return Principal::service(service);
    }
    match (&caller.role_session, &caller.user) {
        (Some(session), _) => {
            Principal::assumed_role(&session.role_arn(&caller.account_id), &session.session_name)
                .unwrap_or_else(|_| Principal::anonymous())
        }
        (None, Some(_)) => {
            Principal::from_arn(&caller.principal_arn()).unwrap_or_else(|_| Principal::anonymous())
        }
        (None, None) => Principal::root(&caller.account_id),
    }
}

pub(crate) fn bool_text(b: bool) -> &'static str {
    if b { "true" } else { "false" }
}
