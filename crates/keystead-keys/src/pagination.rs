//! Pagination for the List operations: limits and opaque markers.
//!
//! Every list is ordered by a stable key (key id, alias name, tag key, version). A marker is the
//! last key of the previous page, so the next page starts strictly after it: inserting items
//! between calls never repeats or skips an item that existed throughout.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::Error;

const MARKER_PREFIX: &str = "kst1:";

/// The page size for a List call: `limit` if given, else `default`; more than `max` is a
/// `ValidationException` (the model's own 1..=1000 range is checked at the wire).
pub(crate) fn page_size(limit: Option<i32>, default: usize, max: usize) -> Result<usize, Error> {
    match limit {
        None => Ok(default),
        Some(n) if n >= 1 && n as usize <= max => Ok(n as usize),
        Some(n) => Err(Error::Validation {
            message: format!(
                "1 validation error detected: Value '{n}' at 'limit' failed to satisfy constraint: \
                 Member must have value less than or equal to {max}"
            ),
        }),
    }
}

/// The marker that resumes after `last`.
pub(crate) fn marker_after(last: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("{MARKER_PREFIX}{last}"))
}

/// The position a marker resumes after, or `InvalidMarker` for anything this service did not
/// issue.
pub(crate) fn resume_after(marker: Option<&str>) -> Result<Option<String>, Error> {
    let Some(marker) = marker else {
        return Ok(None);
    };
    let bytes = URL_SAFE_NO_PAD
        .decode(marker)
        .map_err(|_| Error::InvalidMarker)?;
    let text = String::from_utf8(bytes).map_err(|_| Error::InvalidMarker)?;
    text.strip_prefix(MARKER_PREFIX)
        .map(|s| Some(s.to_owned()))
        .ok_or(Error::InvalidMarker)
}

/// One page of `items`, which must be sorted by `position`, starting after `after`. Returns the
/// page and the marker for the next one, if there is more.
pub(crate) fn page<T>(
    items: impl Iterator<Item = T>,
    position: impl Fn(&T) -> String,
    after: Option<&str>,
    size: usize,
) -> (Vec<T>, Option<String>) {
    let mut items = items
        .filter(|i| after.is_none_or(|a| position(i).as_str() > a))
        .peekable();
    let page: Vec<T> = items.by_ref().take(size).collect();
    let next = if items.peek().is_some() {
        page.last().map(|last| marker_after(&position(last)))
    } else {
        None
    };
    (page, next)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_round_trip_and_foreign_markers_are_invalid() {
        let m = marker_after("alias/b");
        assert_eq!(
            resume_after(Some(&m)).expect("own marker"),
            Some("alias/b".to_owned())
        );
        assert_eq!(resume_after(None).expect("no marker"), None);
        for bad in ["!!", "Zm9v", ""] {
            assert!(
                matches!(resume_after(Some(bad)), Err(Error::InvalidMarker)),
                "{bad}"
            );
        }
    }

    #[test]
    fn pages_cover_every_item_once_even_with_inserts_between_calls() {
        let mut items: Vec<String> = (0..10).map(|i| format!("k{i:02}")).collect();
        let (first, next) = page(items.clone().into_iter(), |s| s.clone(), None, 4);
        assert_eq!(first, ["k00", "k01", "k02", "k03"]);
        let after = resume_after(next.as_deref()).expect("marker");
        // An insert before the marker and one after it.
        items.push("k015".to_owned());
        items.push("k055".to_owned());
        items.sort();
        let (second, next) = page(
            items.clone().into_iter(),
            |s| s.clone(),
            after.as_deref(),
            4,
        );
        assert_eq!(second, ["k04", "k05", "k055", "k06"]);
        let after = resume_after(next.as_deref()).expect("marker");
        let (third, next) = page(items.into_iter(), |s| s.clone(), after.as_deref(), 4);
        assert_eq!(third, ["k07", "k08", "k09"]);
        assert_eq!(next, None);
    }

    #[test]
    fn limits_above_the_operation_maximum_are_validation_errors() {
        assert_eq!(page_size(None, 50, 100).expect("default"), 50);
        assert_eq!(page_size(Some(100), 50, 100).expect("max"), 100);
        assert!(matches!(
            page_size(Some(101), 50, 100),
            Err(Error::Validation { .. })
        ));
    }
}
