//! CloudTrail's `LookupEvents` over JSON 1.1 (`CloudTrail_20131101.LookupEvents`, SigV4 service
//! `cloudtrail`), answered from the audit trail's index. Every other CloudTrail operation
//! answers `UnsupportedOperationException`.
//!
//! This module validates as CloudTrail does (one lookup attribute at most, `MaxResults`
//! 1..=50, `StartTime` not after `EndTime`) and authorizes `cloudtrail:LookupEvents`: the root
//! user always, IAM users and role sessions when their inline policies allow it. A caller sees
//! only the records delivered to its own account. It must not read the log files itself: the
//! index in `keystead-audit` does that.

use keystead_audit::{LookupAttribute, LookupQuery};
use keystead_types::{Caller, UnixMillis};
use keystead_wire::AwsError;
use keystead_wire::cloudtrail::{
    self as wire, ErrorCode, LookupAttributeKey, LookupEventsRequest, Operation,
};

use crate::App;

/// `LookupEvents`' default and largest page.
const MAX_RESULTS: i64 = 50;

/// One CloudTrail request from an authenticated `caller`.
pub(crate) async fn dispatch(
    app: &App,
    caller: &Caller,
    operation: Operation,
    body: &[u8],
) -> Result<Vec<u8>, AwsError> {
    match operation {
        Operation::LookupEvents => lookup_events(app, caller, body).await,
        other => Err(ErrorCode::UnsupportedOperationException
            .with_message(format!("keystead does not support {} yet.", other.name()))),
    }
}

async fn lookup_events(app: &App, caller: &Caller, body: &[u8]) -> Result<Vec<u8>, AwsError> {
    // CloudTrail answers an out-of-range MaxResults with its own exception, before the generic
    // validation would call it a ValidationException.
    if let Ok(serde_json::Value::Object(raw)) = serde_json::from_slice(body)
        && let Some(max) = raw.get("MaxResults")
        && !max.as_i64().is_some_and(|m| (1..=MAX_RESULTS).contains(&m))
    {
        return Err(ErrorCode::InvalidMaxResultsException
            .with_message("MaxResults must be between 1 and 50."));
    }
    let request: LookupEventsRequest = keystead_wire::parse_request(body)?;
    app.identity
        .authorize(caller, "cloudtrail:LookupEvents", "*")
        .map_err(|e| ErrorCode::AccessDeniedException.with_message(e.to_string()))?;
    // Insight events (the only EventCategory) are never recorded by keystead.
    let insights = request.event_category.is_some();
    let query = lookup_query(caller, request)?;
    let log = app.audit.shared_log().filter(|_| !insights);
    let Some(log) = log else {
        // Auditing is off, or insight events were asked for: there is nothing to look up.
        return Ok(keystead_wire::to_response_body(
            &wire::LookupEventsResponse {
                events: Some(Vec::new()),
                next_token: None,
            },
        ));
    };
    let page = tokio::task::spawn_blocking(move || log.lookup(&query))
        .await
        .map_err(|_| internal())?
        .map_err(|e| match e {
            keystead_audit::Error::InvalidNextToken => ErrorCode::InvalidNextTokenException
                .with_message("Invalid NextToken. Use a token from a previous response."),
            other => {
                tracing::error!(error = %other, "audit lookup failed");
                internal()
            }
        })?;
    let events = page
        .events
        .into_iter()
        .map(|e| wire::Event {
            access_key_id: e.access_key_id,
            cloud_trail_event: Some(e.cloud_trail_event),
            event_id: Some(e.event_id),
            event_name: Some(e.event_name),
            event_source: Some(e.event_source),
            event_time: Some(keystead_wire::Timestamp::from_epoch_millis(e.event_time.0)),
            read_only: e.read_only.map(|r| r.to_string()),
            resources: (!e.resources.is_empty()).then(|| {
                e.resources
                    .into_iter()
                    .map(|(resource_type, name)| wire::Resource {
                        resource_name: Some(name),
                        resource_type: (!resource_type.is_empty()).then_some(resource_type),
                    })
                    .collect()
            }),
            username: e.username,
        })
        .collect();
    Ok(keystead_wire::to_response_body(
        &wire::LookupEventsResponse {
            events: Some(events),
            next_token: page.next_token,
        },
    ))
}

/// The index query for a validated request.
fn lookup_query(caller: &Caller, request: LookupEventsRequest) -> Result<LookupQuery, AwsError> {
    let invalid_attributes =
        |message: &str| ErrorCode::InvalidLookupAttributesException.with_message(message);
    let attributes = request.lookup_attributes.unwrap_or_default();
    if attributes.len() > 1 {
        return Err(invalid_attributes(
            "You cannot specify more than one lookup attribute.",
        ));
    }
    let attribute = match attributes.into_iter().next() {
        None => None,
        Some(a) => {
            let value = a
                .attribute_value
                .ok_or_else(|| invalid_attributes("AttributeValue is required."))?;
            let key = a
                .attribute_key
                .ok_or_else(|| invalid_attributes("AttributeKey is required."))?;
            Some(match key {
                LookupAttributeKey::EventId => LookupAttribute::EventId(value),
                LookupAttributeKey::EventName => LookupAttribute::EventName(value),
                LookupAttributeKey::ReadOnly => match value.as_str() {
                    "true" => LookupAttribute::ReadOnly(true),
                    "false" => LookupAttribute::ReadOnly(false),
                    _ => {
                        return Err(invalid_attributes(
                            "The ReadOnly attribute value must be true or false.",
                        ));
                    }
                },
                LookupAttributeKey::Username => LookupAttribute::Username(value),
                LookupAttributeKey::ResourceType => LookupAttribute::ResourceType(value),
                LookupAttributeKey::ResourceName => LookupAttribute::ResourceName(value),
                LookupAttributeKey::EventSource => LookupAttribute::EventSource(value),
                LookupAttributeKey::AccessKeyId => LookupAttribute::AccessKeyId(value),
                LookupAttributeKey::Unknown(_) => {
                    return Err(invalid_attributes("The AttributeKey is not valid."));
                }
            })
        }
    };
    let millis = |t: keystead_wire::Timestamp| UnixMillis((t.as_secs_f64() * 1000.0) as i64);
    let start = request.start_time.map(millis);
    let end = request.end_time.map(millis);
    if let (Some(start), Some(end)) = (start, end)
        && start > end
    {
        return Err(ErrorCode::InvalidTimeRangeException
            .with_message("Start time must not be after end time."));
    }
    Ok(LookupQuery {
        account_id: caller.account_id.to_string(),
        attribute,
        start,
        end,
        max_results: usize::try_from(request.max_results.unwrap_or(50)).unwrap_or(50),
        next_token: request.next_token,
    })
}

fn internal() -> AwsError {
    AwsError::new("InternalFailure", 500, "An internal error occurred.")
}
