//! Tags: TagResource, UntagResource, ListResourceTags, and the tag rules CreateKey shares.

use keystead_store::Tag;
use keystead_types::Caller;

use crate::key_state::{self, Use};
use crate::pagination::{page, page_size, resume_after};
use crate::reference::Aliases;
use crate::{Error, Facts, KeyService};

/// AWS's limit on tags per key.
const MAX_TAGS: usize = 50;

/// One page of ListResourceTags.
#[derive(Debug, Clone)]
pub struct TagPage {
    /// The tags, ordered by key.
    pub tags: Vec<Tag>,
    /// Where the next page starts, if there is one.
    pub next_marker: Option<String>,
}

impl KeyService {
    /// TagResource: adds tags, replacing the value of a tag key that exists.
    pub async fn tag_resource(
        &self,
        caller: &Caller,
        key: &str,
        tags: Vec<Tag>,
    ) -> Result<(), Error> {
        validate_tags(&tags)?;
        let facts =
            Facts::default().request_tags(tags.iter().map(|t| (t.key.as_str(), t.value.as_str())));
        self.update_key_with(caller, key, "kms:TagResource", facts, |r, arn| {
            key_state::check(r.key_state, Use::Manage, arn)?;
            for tag in tags {
                match r.tags.iter_mut().find(|t| t.key == tag.key) {
                    Some(existing) => existing.value = tag.value,
                    None => r.tags.push(tag),
                }
            }
            if r.tags.len() > MAX_TAGS {
                return Err(Error::InvalidTag {
                    reason: format!("A KMS key can have at most {MAX_TAGS} tags."),
                });
            }
            Ok(())
        })
        .await
        .map(drop)
    }

    /// UntagResource: removes the named tag keys; keys that are not present are ignored.
    pub async fn untag_resource(
        &self,
        caller: &Caller,
        key: &str,
        tag_keys: &[String],
    ) -> Result<(), Error> {
        let facts = Facts::default().values("aws:TagKeys", tag_keys.to_vec());
        self.update_key_with(caller, key, "kms:UntagResource", facts, |r, arn| {
            key_state::check(r.key_state, Use::Manage, arn)?;
            r.tags.retain(|t| !tag_keys.contains(&t.key));
            Ok(())
        })
        .await
        .map(drop)
    }

    /// ListResourceTags.
    pub fn list_resource_tags(
        &self,
        caller: &Caller,
        key: &str,
        limit: Option<i32>,
        marker: Option<&str>,
    ) -> Result<TagPage, Error> {
        let size = page_size(limit, 50, 50)?;
        let after = resume_after(marker)?;
        let entry = self.resolve(caller, key, Aliases::Refused)?;
        let _permit = self.authorize(caller, &entry, "kms:ListResourceTags")?;
        let mut tags = entry.record.tags.clone();
        tags.sort_by(|a, b| a.key.cmp(&b.key));
        let (tags, next_marker) = page(tags.into_iter(), |t| t.key.clone(), after.as_deref(), size);
        Ok(TagPage { tags, next_marker })
    }
}

/// AWS's tag rules beyond the model's lengths: no reserved `aws:` prefix, no duplicate keys in
/// one request, at most 50.
pub(crate) fn validate_tags(tags: &[Tag]) -> Result<(), Error> {
    if tags.len() > MAX_TAGS {
        return Err(Error::InvalidTag {
            reason: format!("A KMS key can have at most {MAX_TAGS} tags."),
        });
    }
    for (i, tag) in tags.iter().enumerate() {
        if tag.key.to_ascii_lowercase().starts_with("aws:") {
            return Err(Error::InvalidTag {
                reason: "Tag keys beginning with aws: are reserved for AWS use.".to_owned(),
            });
        }
        if tags[..i].iter().any(|t| t.key == tag.key) {
            return Err(Error::InvalidTag {
                reason: format!("Duplicate tag key {} in the request.", tag.key),
            });
        }
    }
    Ok(())
}
