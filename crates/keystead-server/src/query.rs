//! The AWS Query protocol services (STS and IAM): form-encoded `Action=...&Version=...`
//! requests, XML responses and XML errors, as botocore and the aws CLI speak them.
//!
//! Only STS `GetCallerIdentity` is served so far; every other action of STS and IAM answers
//! `InvalidAction` naming it, so a client learns at once what keystead cannot do yet.

use keystead_sigv4::RequestParts;
use keystead_types::Caller;
use keystead_wire::query::QueryParams;
use keystead_wire::{AwsError, QueryError, iam, sts};

use crate::App;

/// A Query request's outcome: the XML body, or an error with the namespace to write it in.
pub(crate) type QueryResult = Result<Vec<u8>, (QueryError, &'static str)>;

/// Which Query service a request is for, from its `Version` parameter.
enum Service {
    Sts(sts::Operation),
    Iam(iam::Operation),
}

/// Handles one Query-protocol request: parameters from the query string and the form body,
/// the service from `Version`, SigV4 for that service, then the action.
pub(crate) fn handle(
    app: &App,
    parts: &http::request::Parts,
    body: &[u8],
    request_id: &str,
) -> QueryResult {
    let query = parts.uri.query().unwrap_or("").as_bytes();
    let params =
        QueryParams::parse_parts(query, body).map_err(|e| (e.into(), sts::XML_NAMESPACE))?;
    let (service, signing_name, namespace) = match params.version() {
        Some(iam::API_VERSION) => (
            Service::Iam(
                iam::Operation::from_params(&params).map_err(|e| (e.into(), iam::XML_NAMESPACE))?,
            ),
            "iam",
            iam::XML_NAMESPACE,
        ),
        _ => (
            Service::Sts(
                sts::Operation::from_params(&params).map_err(|e| (e.into(), sts::XML_NAMESPACE))?,
            ),
            "sts",
            sts::XML_NAMESPACE,
        ),
    };
    let request_parts = RequestParts {
        method: &parts.method,
        uri: &parts.uri,
        headers: &parts.headers,
    };
    let caller = app
        .credentials
        .authenticate(&request_parts, body, signing_name)
        .map_err(|e| (query_auth_error(e), namespace))?;
    match service {
        Service::Sts(sts::Operation::GetCallerIdentity) => {
            Ok(get_caller_identity(&caller, request_id))
        }
        Service::Sts(op) => Err((not_yet(op.name()), namespace)),
        Service::Iam(op) => Err((not_yet(op.name()), namespace)),
    }
}

/// STS GetCallerIdentity. Until IAM users and roles exist, every caller is its account's root
/// user, whose user id is the account id.
fn get_caller_identity(caller: &Caller, request_id: &str) -> Vec<u8> {
    let result = sts::GetCallerIdentityResponse {
        account: Some(caller.account_id.to_string()),
        arn: Some(caller.principal_arn()),
        user_id: Some(caller.account_id.to_string()),
    };
    keystead_wire::query::to_query_response(
        sts::Operation::GetCallerIdentity.name(),
        sts::XML_NAMESPACE,
        &result,
        request_id,
    )
}

fn not_yet(action: &str) -> QueryError {
    sts::ErrorCode::InvalidAction.with_message(format!("keystead does not support {action} yet."))
}

/// The Query protocol's names for the authentication failures the JSON protocol calls
/// `UnrecognizedClientException`, `InvalidSignatureException`, and so on.
fn query_auth_error(e: AwsError) -> QueryError {
    let code = match e.code {
        "UnrecognizedClientException" => sts::ErrorCode::InvalidClientTokenId,
        "InvalidSignatureException" => sts::ErrorCode::SignatureDoesNotMatch,
        "IncompleteSignatureException" => sts::ErrorCode::IncompleteSignature,
        "MissingAuthenticationTokenException" => sts::ErrorCode::MissingAuthenticationToken,
        "RequestExpired" => sts::ErrorCode::RequestExpired,
        "AccessDeniedException" => sts::ErrorCode::AccessDenied,
        _ => sts::ErrorCode::InternalFailure,
    };
    code.with_message(e.message)
}
