//! ListSecrets with Filters, SortOrder and pagination, and the pagination helper the other
//! list operations share. NextToken is an opaque offset.

use base64::Engine;
use keystead_types::Caller;

use crate::ops::secrets::SecretView;
use crate::{Error, SecretsService};

/// One ListSecrets filter: a key (`name`, `description`, `tag-key`, `tag-value`,
/// `primary-region`, `all`) and values; a value starting with `!` negates.
#[derive(Debug, Clone)]
pub struct ListFilter {
    /// The filter key.
    pub key: String,
    /// The values; any may match.
    pub values: Vec<String>,
}

/// One page of ListSecrets.
pub struct SecretPage {
    /// The secrets.
    pub secrets: Vec<SecretView>,
    /// Where the next page starts.
    pub next_token: Option<String>,
}

impl SecretsService {
    /// ListSecrets in the caller's account and region, those the caller may describe, sorted by
    /// `sort_by` (`created-date` by default, `name`, `last-changed-date`,
    /// `last-accessed-date`).
    #[allow(clippy::too_many_arguments)] // One argument per ListSecrets parameter.
    pub fn list_secrets(
        &self,
        caller: &Caller,
        filters: &[ListFilter],
        include_planned_deletion: bool,
        sort_by: Option<&str>,
        descending: bool,
        max_results: Option<i32>,
        next_token: Option<&str>,
    ) -> Result<SecretPage, Error> {
        let state = self.read();
        let mut views: Vec<SecretView> = state
            .secrets
            .values()
            .filter(|e| {
                e.record.account_id == caller.account_id && e.record.region == caller.region
            })
            .filter(|e| include_planned_deletion || !e.is_deleted())
            .filter(|e| filters.iter().all(|f| matches(&e.record, f)))
            .filter(|e| {
                self.authorize_secret(caller, e, "secretsmanager:ListSecrets")
                    .is_ok()
            })
            .map(|e| e.view())
            .collect();
        drop(state);
        views.sort_by(|a, b| {
            let (a, b) = (&a.record, &b.record);
            let primary = match sort_by {
                Some("name") => std::cmp::Ordering::Equal,
                Some("last-changed-date") => a.last_changed_at.cmp(&b.last_changed_at),
                Some("last-accessed-date") => a.last_accessed_at.cmp(&b.last_accessed_at),
                _ => a.created_at.cmp(&b.created_at),
            };
            primary.then_with(|| a.name.cmp(&b.name))
        });
        if descending {
            views.reverse();
        }
        let (secrets, next_token) = paginate(views, max_results, next_token)?;
        Ok(SecretPage {
            secrets,
            next_token,
        })
    }
}

fn matches(record: &keystead_store::SecretRecord, filter: &ListFilter) -> bool {
    filter.values.iter().any(|raw| {
        let (negate, value) = match raw.strip_prefix('!') {
            Some(v) => (true, v),
            None => (false, raw.as_str()),
        };
        let prefix = |s: &str| s.starts_with(value);
        let hit = match filter.key.as_str() {
            "name" => prefix(&record.name),
            "description" => record.description.as_deref().is_some_and(prefix),
            "tag-key" => record.tags.iter().any(|t| prefix(&t.key)),
            "tag-value" => record.tags.iter().any(|t| prefix(&t.value)),
            "primary-region" => record
                .primary_region
                .as_ref()
                .is_some_and(|r| prefix(r.as_str())),
            "all" => {
                prefix(&record.name)
                    || record.description.as_deref().is_some_and(prefix)
                    || record
                        .tags
                        .iter()
                        .any(|t| prefix(&t.key) || prefix(&t.value))
            }
            _ => false,
        };
        hit != negate
    })
}

/// One page of `items` from the opaque offset `next_token`, at most `max_results` (1–100,
/// default 100) long.
pub(crate) fn paginate<T>(
    items: Vec<T>,
    max_results: Option<i32>,
    next_token: Option<&str>,
) -> Result<(Vec<T>, Option<String>), Error> {
    let size = usize::try_from(max_results.unwrap_or(100).clamp(1, 100)).unwrap_or(100);
    let start = match next_token {
        None => 0,
        Some(t) => {
            let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(t)
                .map_err(|_| Error::InvalidNextToken)?;
            let text = String::from_utf8(bytes).map_err(|_| Error::InvalidNextToken)?;
            text.strip_prefix("offset:")
                .and_then(|n| n.parse::<usize>().ok())
                .ok_or(Error::InvalidNextToken)?
        }
    };
    let total = items.len();
    let page: Vec<T> = items.into_iter().skip(start).take(size).collect();
    let next = (start + page.len() < total).then(|| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(format!("offset:{}", start + page.len()))
    });
    Ok((page, next))
}
