//! The AWS Query protocol services (STS and IAM): form-encoded `Action=...&Version=...`
//! requests, XML responses and XML errors, as botocore and the aws CLI speak them.
//!
//! STS serves `GetCallerIdentity`, `AssumeRole` and `GetSessionToken`; IAM serves users,
//! roles, access keys, inline user and role policies and virtual MFA devices (see
//! [`iam_dispatch`]). Every other action answers `InvalidAction` naming it, so a client
//! learns at once what keystead cannot do yet.

use keystead_identity::{Error as IdentityError, Identity};
use keystead_sigv4::RequestParts;
use keystead_store::AccessKeyStatus;
use keystead_types::Caller;
use keystead_wire::query::{QueryParams, parse_query_request};
use keystead_wire::{AwsError, QueryError, Timestamp, iam, sts};

use crate::App;
use crate::response_elements;

/// A Query request's outcome: the response, or an error with the namespace to write it in.
pub(crate) type QueryResult = Result<QueryResponse, (QueryError, &'static str)>;

/// A successful Query response.
pub(crate) struct QueryResponse {
    /// The XML body.
    pub(crate) body: Vec<u8>,
    /// `responseElements` of its audit record, taken from the output before it became XML
    /// ([`crate::response_elements`]); `None` for the actions that change nothing or return
    /// nothing.
    pub(crate) response_elements: Option<serde_json::Map<String, serde_json::Value>>,
}

impl QueryResponse {
    /// A response whose record has no `responseElements`.
    fn without_elements(body: Vec<u8>) -> Self {
        Self {
            body,
            response_elements: None,
        }
    }
}

/// Which Query service a request is for, from its `Version` parameter.
enum Service {
    Sts(sts::Operation),
    Iam(iam::Operation),
}

/// Handles one Query-protocol request: parameters from the query string and the form body,
/// the service from `Version`, SigV4 for that service, then the action.
pub(crate) async fn handle(
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
    // Service credentials act as a service principal towards KMS only: they are no IAM
    // identity, and must not reach the root user's IAM and STS powers through their account.
    if let Some(name) = &caller.service {
        let action = match &service {
            Service::Sts(op) => format!("sts:{}", op.name()),
            Service::Iam(op) => format!("iam:{}", op.name()),
        };
        let denied = IdentityError::AccessDenied(format!(
            "User: {name} is not authorized to perform: {action} because service credentials              act only towards KMS"
        ));
        let mapped = match service {
            Service::Sts(_) => sts_error(denied),
            Service::Iam(_) => iam_error(denied),
        };
        return Err((mapped, namespace));
    }
    match service {
        Service::Sts(sts::Operation::GetCallerIdentity) => Ok(QueryResponse::without_elements(
            get_caller_identity(&caller, request_id),
        )),
        Service::Sts(op @ (sts::Operation::AssumeRole | sts::Operation::GetSessionToken)) => {
            sts_session(app, &caller, op, &params, request_id)
                .await
                .map_err(|e| (e, namespace))
        }
        Service::Sts(op) => Err((not_yet(op.name()), namespace)),
        Service::Iam(op) => iam_dispatch(app, &caller, op, &params, request_id)
            .await
            .map_err(|e| (e, namespace)),
    }
}

/// One IAM action: parse and validate its request, call the identity service, encode the
/// response. Access key changes reach [`crate::credentials`] right after the store has them.
async fn iam_dispatch(
    app: &App,
    caller: &Caller,
    op: iam::Operation,
    params: &QueryParams,
    request_id: &str,
) -> Result<QueryResponse, QueryError> {
    use iam::Operation as Op;
    let identity = &app.identity;
    // Set by the actions whose records carry what they created.
    let mut elements = None;
    let empty =
        || keystead_wire::query::to_query_empty_response(op.name(), iam::XML_NAMESPACE, request_id);
    let body = match op {
        Op::CreateUser => {
            let r: iam::CreateUserRequest = parse_query_request(params)?;
            let tags = r
                .tags
                .unwrap_or_default()
                .into_iter()
                .map(|t| keystead_store::Tag {
                    key: t.key.unwrap_or_default(),
                    value: t.value.unwrap_or_default(),
                })
                .collect();
            let user = identity
                .create_user(
                    caller,
                    &r.user_name.unwrap_or_default(),
                    r.path.as_deref(),
                    tags,
                )
                .await
                .map_err(iam_error)?;
            let response = iam::CreateUserResponse {
                user: Some(wire_user(&user)),
            };
            elements = response_elements::iam_create_user(&response);
            xml(op, request_id, &response)
        }
        Op::GetUser => {
            let r: iam::GetUserRequest = parse_query_request(params)?;
            let user = match identity
                .get_user(caller, r.user_name.as_deref())
                .map_err(iam_error)?
            {
                Identity::User(user) => wire_user(&user),
                Identity::Root { arn, user_id } => iam::User {
                    arn: Some(arn),
                    user_id: Some(user_id),
                    ..Default::default()
                },
            };
            xml(op, request_id, &iam::GetUserResponse { user: Some(user) })
        }
        Op::ListUsers => {
            let r: iam::ListUsersRequest = parse_query_request(params)?;
            let page = identity
                .list_users(
                    caller,
                    r.path_prefix.as_deref(),
                    r.marker.as_deref(),
                    r.max_items,
                )
                .map_err(iam_error)?;
            xml(
                op,
                request_id,
                &iam::ListUsersResponse {
                    is_truncated: Some(page.next_marker.is_some()),
                    marker: page.next_marker,
                    users: Some(page.items.iter().map(wire_user).collect()),
                },
            )
        }
        Op::DeleteUser => {
            let r: iam::DeleteUserRequest = parse_query_request(params)?;
            identity
                .delete_user(caller, &r.user_name.unwrap_or_default())
                .await
                .map_err(iam_error)?;
            empty()
        }
        Op::CreateAccessKey => {
            let r: iam::CreateAccessKeyRequest = parse_query_request(params)?;
            let created = identity
                .create_access_key(caller, r.user_name.as_deref())
                .await
                .map_err(iam_error)?;
            app.credentials.insert(
                &created.record,
                created.secret_access_key.as_bytes(),
                created.user.clone(),
            );
            let response = iam::CreateAccessKeyResponse {
                access_key: Some(iam::AccessKey {
                    access_key_id: Some(created.record.access_key_id.clone()),
                    create_date: Some(Timestamp::from_epoch_millis(created.record.created_at.0)),
                    secret_access_key: Some(created.secret_access_key.clone().into()),
                    status: Some(iam::StatusType::Active),
                    user_name: created.user.map(|u| u.user_name),
                }),
            };
            elements = response_elements::iam_create_access_key(&response);
            xml(op, request_id, &response)
        }
        Op::ListAccessKeys => {
            let r: iam::ListAccessKeysRequest = parse_query_request(params)?;
            let page = identity
                .list_access_keys(
                    caller,
                    r.user_name.as_deref(),
                    r.marker.as_deref(),
                    r.max_items,
                )
                .map_err(iam_error)?;
            xml(
                op,
                request_id,
                &iam::ListAccessKeysResponse {
                    is_truncated: Some(page.next_marker.is_some()),
                    marker: page.next_marker,
                    access_key_metadata: Some(
                        page.items
                            .into_iter()
                            .map(|k| iam::AccessKeyMetadata {
                                access_key_id: Some(k.access_key_id),
                                create_date: Some(Timestamp::from_epoch_millis(k.created_at.0)),
                                status: Some(wire_status(k.status)),
                                user_name: k.user_name,
                            })
                            .collect(),
                    ),
                },
            )
        }
        Op::UpdateAccessKey => {
            let r: iam::UpdateAccessKeyRequest = parse_query_request(params)?;
            let status = match r.status {
                Some(iam::StatusType::Active) => AccessKeyStatus::Active,
                Some(iam::StatusType::Inactive) => AccessKeyStatus::Inactive,
                _ => {
                    return Err(iam::ErrorCode::ValidationError
                        .with_message("Status must be Active or Inactive."));
                }
            };
            let id = r.access_key_id.unwrap_or_default();
            let record = identity
                .update_access_key(caller, r.user_name.as_deref(), &id, status)
                .await
                .map_err(iam_error)?;
            app.credentials
                .set_active(&id, record.status == AccessKeyStatus::Active);
            empty()
        }
        Op::DeleteAccessKey => {
            let r: iam::DeleteAccessKeyRequest = parse_query_request(params)?;
            let id = r.access_key_id.unwrap_or_default();
            identity
                .delete_access_key(caller, r.user_name.as_deref(), &id)
                .await
                .map_err(iam_error)?;
            app.credentials.remove(&id);
            empty()
        }
        Op::PutUserPolicy => {
            let r: iam::PutUserPolicyRequest = parse_query_request(params)?;
            identity
                .put_user_policy(
                    caller,
                    &r.user_name.unwrap_or_default(),
                    &r.policy_name.unwrap_or_default(),
                    &r.policy_document.unwrap_or_default(),
                )
                .await
                .map_err(iam_error)?;
            empty()
        }
        Op::GetUserPolicy => {
            let r: iam::GetUserPolicyRequest = parse_query_request(params)?;
            let (user_name, policy_name) = (
                r.user_name.unwrap_or_default(),
                r.policy_name.unwrap_or_default(),
            );
            let document = identity
                .get_user_policy(caller, &user_name, &policy_name)
                .map_err(iam_error)?;
            xml(
                op,
                request_id,
                &iam::GetUserPolicyResponse {
                    policy_document: Some(keystead_wire::query::encode_policy_document(&document)),
                    policy_name: Some(policy_name),
                    user_name: Some(user_name),
                },
            )
        }
        Op::ListUserPolicies => {
            let r: iam::ListUserPoliciesRequest = parse_query_request(params)?;
            let page = identity
                .list_user_policies(
                    caller,
                    &r.user_name.unwrap_or_default(),
                    r.marker.as_deref(),
                    r.max_items,
                )
                .map_err(iam_error)?;
            xml(
                op,
                request_id,
                &iam::ListUserPoliciesResponse {
                    is_truncated: Some(page.next_marker.is_some()),
                    marker: page.next_marker,
                    policy_names: Some(page.items),
                },
            )
        }
        Op::DeleteUserPolicy => {
            let r: iam::DeleteUserPolicyRequest = parse_query_request(params)?;
            identity
                .delete_user_policy(
                    caller,
                    &r.user_name.unwrap_or_default(),
                    &r.policy_name.unwrap_or_default(),
                )
                .await
                .map_err(iam_error)?;
            empty()
        }
        Op::CreateVirtualMFADevice => {
            let r: iam::CreateVirtualMFADeviceRequest = parse_query_request(params)?;
            let created = identity
                .create_virtual_mfa_device(
                    caller,
                    &r.virtual_mfa_device_name.unwrap_or_default(),
                    r.path.as_deref(),
                )
                .await
                .map_err(iam_error)?;
            // The seed is returned as a blob of its Base32 text, as AWS does, and the QR code
            // of its otpauth:// URI as a PNG.
            let seed = zeroize::Zeroizing::new(created.base32_seed.as_bytes().to_vec());
            let png = zeroize::Zeroizing::new(created.qr_code_png.to_vec());
            let response = iam::CreateVirtualMFADeviceResponse {
                virtual_mfa_device: Some(iam::VirtualMFADevice {
                    serial_number: Some(created.record.serial_number.clone()),
                    base32_string_seed: Some(keystead_wire::SensitiveBlob::new(seed)),
                    qr_code_png: Some(keystead_wire::SensitiveBlob::new(png)),
                    ..Default::default()
                }),
            };
            elements = response_elements::iam_create_virtual_mfa_device(&response);
            xml(op, request_id, &response)
        }
        Op::EnableMFADevice => {
            let r: iam::EnableMFADeviceRequest = parse_query_request(params)?;
            identity
                .enable_mfa_device(
                    caller,
                    r.user_name.as_deref(),
                    r.serial_number.as_deref().unwrap_or_default(),
                    r.authentication_code1.as_deref().unwrap_or_default(),
                    r.authentication_code2.as_deref().unwrap_or_default(),
                )
                .await
                .map_err(iam_error)?;
            empty()
        }
        Op::ListMFADevices => {
            let r: iam::ListMFADevicesRequest = parse_query_request(params)?;
            let devices = identity
                .list_mfa_devices(caller, r.user_name.as_deref())
                .map_err(iam_error)?;
            xml(
                op,
                request_id,
                &iam::ListMFADevicesResponse {
                    is_truncated: Some(false),
                    marker: None,
                    mfa_devices: Some(
                        devices
                            .into_iter()
                            .map(|d| iam::MFADevice {
                                enable_date: Some(Timestamp::from_epoch_millis(d.enabled_at.0)),
                                serial_number: Some(d.serial_number),
                                // The root user's devices are listed under the account id.
                                user_name: Some(
                                    d.user_name.unwrap_or_else(|| caller.account_id.to_string()),
                                ),
                            })
                            .collect(),
                    ),
                },
            )
        }
        Op::DeactivateMFADevice => {
            let r: iam::DeactivateMFADeviceRequest = parse_query_request(params)?;
            identity
                .deactivate_mfa_device(
                    caller,
                    r.user_name.as_deref(),
                    r.serial_number.as_deref().unwrap_or_default(),
                )
                .await
                .map_err(iam_error)?;
            empty()
        }
        Op::DeleteVirtualMFADevice => {
            let r: iam::DeleteVirtualMFADeviceRequest = parse_query_request(params)?;
            identity
                .delete_virtual_mfa_device(caller, r.serial_number.as_deref().unwrap_or_default())
                .await
                .map_err(iam_error)?;
            empty()
        }
        Op::CreateRole => {
            let r: iam::CreateRoleRequest = parse_query_request(params)?;
            let role = identity
                .create_role(
                    caller,
                    keystead_identity::NewRole {
                        role_name: r.role_name.as_deref().unwrap_or_default(),
                        path: r.path.as_deref(),
                        assume_role_policy_document: r
                            .assume_role_policy_document
                            .as_deref()
                            .unwrap_or_default(),
                        description: r.description.as_deref(),
                        max_session_duration: r.max_session_duration,
                        tags: store_tags(r.tags),
                    },
                )
                .await
                .map_err(iam_error)?;
            let response = iam::CreateRoleResponse {
                role: Some(wire_role(&role)),
            };
            elements = response_elements::iam_create_role(&response);
            xml(op, request_id, &response)
        }
        Op::GetRole => {
            let r: iam::GetRoleRequest = parse_query_request(params)?;
            let role = identity
                .get_role(caller, r.role_name.as_deref().unwrap_or_default())
                .map_err(iam_error)?;
            xml(
                op,
                request_id,
                &iam::GetRoleResponse {
                    role: Some(wire_role(&role)),
                },
            )
        }
        Op::ListRoles => {
            let r: iam::ListRolesRequest = parse_query_request(params)?;
            let page = identity
                .list_roles(
                    caller,
                    r.path_prefix.as_deref(),
                    r.marker.as_deref(),
                    r.max_items,
                )
                .map_err(iam_error)?;
            xml(
                op,
                request_id,
                &iam::ListRolesResponse {
                    is_truncated: Some(page.next_marker.is_some()),
                    marker: page.next_marker,
                    roles: Some(page.items.iter().map(wire_role).collect()),
                },
            )
        }
        Op::DeleteRole => {
            let r: iam::DeleteRoleRequest = parse_query_request(params)?;
            identity
                .delete_role(caller, r.role_name.as_deref().unwrap_or_default())
                .await
                .map_err(iam_error)?;
            empty()
        }
        Op::UpdateAssumeRolePolicy => {
            let r: iam::UpdateAssumeRolePolicyRequest = parse_query_request(params)?;
            identity
                .update_assume_role_policy(
                    caller,
                    r.role_name.as_deref().unwrap_or_default(),
                    r.policy_document.as_deref().unwrap_or_default(),
                )
                .await
                .map_err(iam_error)?;
            empty()
        }
        Op::PutRolePolicy => {
            let r: iam::PutRolePolicyRequest = parse_query_request(params)?;
            identity
                .put_role_policy(
                    caller,
                    r.role_name.as_deref().unwrap_or_default(),
                    r.policy_name.as_deref().unwrap_or_default(),
                    r.policy_document.as_deref().unwrap_or_default(),
                )
                .await
                .map_err(iam_error)?;
            empty()
        }
        Op::GetRolePolicy => {
            let r: iam::GetRolePolicyRequest = parse_query_request(params)?;
            let (role_name, policy_name) = (
                r.role_name.unwrap_or_default(),
                r.policy_name.unwrap_or_default(),
            );
            let document = identity
                .get_role_policy(caller, &role_name, &policy_name)
                .map_err(iam_error)?;
            xml(
                op,
                request_id,
                &iam::GetRolePolicyResponse {
                    policy_document: Some(keystead_wire::query::encode_policy_document(&document)),
                    policy_name: Some(policy_name),
                    role_name: Some(role_name),
                },
            )
        }
        Op::ListRolePolicies => {
            let r: iam::ListRolePoliciesRequest = parse_query_request(params)?;
            let page = identity
                .list_role_policies(
                    caller,
                    r.role_name.as_deref().unwrap_or_default(),
                    r.marker.as_deref(),
                    r.max_items,
                )
                .map_err(iam_error)?;
            xml(
                op,
                request_id,
                &iam::ListRolePoliciesResponse {
                    is_truncated: Some(page.next_marker.is_some()),
                    marker: page.next_marker,
                    policy_names: Some(page.items),
                },
            )
        }
        Op::DeleteRolePolicy => {
            let r: iam::DeleteRolePolicyRequest = parse_query_request(params)?;
            identity
                .delete_role_policy(
                    caller,
                    r.role_name.as_deref().unwrap_or_default(),
                    r.policy_name.as_deref().unwrap_or_default(),
                )
                .await
                .map_err(iam_error)?;
            empty()
        }
        other => return Err(not_yet(other.name())),
    };
    Ok(QueryResponse {
        body,
        response_elements: elements,
    })
}

fn xml<T: keystead_wire::query::ToXml>(
    op: iam::Operation,
    request_id: &str,
    result: &T,
) -> Vec<u8> {
    keystead_wire::query::to_query_response(op.name(), iam::XML_NAMESPACE, result, request_id)
}

fn wire_user(user: &keystead_identity::User) -> iam::User {
    let r = &user.record;
    iam::User {
        arn: Some(user.arn.clone()),
        create_date: Some(Timestamp::from_epoch_millis(r.created_at.0)),
        path: Some(r.path.clone()),
        tags: (!r.tags.is_empty()).then(|| {
            r.tags
                .iter()
                .map(|t| iam::Tag {
                    key: Some(t.key.clone()),
                    value: Some(t.value.clone()),
                })
                .collect()
        }),
        user_id: Some(r.user_id.clone()),
        user_name: Some(r.user_name.clone()),
        ..Default::default()
    }
}

fn store_tags(tags: Option<Vec<iam::Tag>>) -> Vec<keystead_store::Tag> {
    tags.unwrap_or_default()
        .into_iter()
        .map(|t| keystead_store::Tag {
            key: t.key.unwrap_or_default(),
            value: t.value.unwrap_or_default(),
        })
        .collect()
}

fn wire_role(role: &keystead_identity::Role) -> iam::Role {
    let r = &role.record;
    iam::Role {
        arn: Some(role.arn.clone()),
        assume_role_policy_document: Some(keystead_wire::query::encode_policy_document(
            &r.assume_role_policy_document,
        )),
        create_date: Some(Timestamp::from_epoch_millis(r.created_at.0)),
        description: r.description.clone(),
        max_session_duration: i32::try_from(r.max_session_duration).ok(),
        path: Some(r.path.clone()),
        role_id: Some(r.role_id.clone()),
        role_name: Some(r.role_name.clone()),
        tags: (!r.tags.is_empty()).then(|| {
            r.tags
                .iter()
                .map(|t| iam::Tag {
                    key: Some(t.key.clone()),
                    value: Some(t.value.clone()),
                })
                .collect()
        }),
        ..Default::default()
    }
}

fn wire_status(status: AccessKeyStatus) -> iam::StatusType {
    match status {
        AccessKeyStatus::Active => iam::StatusType::Active,
        AccessKeyStatus::Inactive => iam::StatusType::Inactive,
    }
}

/// The IAM error for an identity-service error.
fn iam_error(e: IdentityError) -> QueryError {
    use iam::ErrorCode as C;
    let code = match &e {
        IdentityError::NoSuchEntity(_) => C::NoSuchEntityException,
        IdentityError::EntityAlreadyExists(_) => C::EntityAlreadyExistsException,
        IdentityError::DeleteConflict(_) => C::DeleteConflictException,
        IdentityError::MalformedPolicyDocument(_) => C::MalformedPolicyDocumentException,
        IdentityError::LimitExceeded(_) => C::LimitExceededException,
        IdentityError::Validation(_) => C::ValidationError,
        IdentityError::AccessDenied(_) => C::AccessDenied,
        IdentityError::InvalidAuthenticationCode(_) => C::InvalidAuthenticationCodeException,
        IdentityError::Crypto(_) | IdentityError::Store(_) | IdentityError::Corrupt(_) => {
            tracing::error!(error = %e, "IAM request failed");
            return C::ServiceFailureException
                .with_message("The request processing has failed because of an unknown error.");
        }
    };
    code.with_message(e.to_string())
}

/// STS AssumeRole and GetSessionToken: the identity service checks and stores the session;
/// its credentials reach [`crate::credentials`] right after, so they work from the next request.
async fn sts_session(
    app: &App,
    caller: &Caller,
    op: sts::Operation,
    params: &QueryParams,
    request_id: &str,
) -> Result<QueryResponse, QueryError> {
    let (created, assumed_role_user) = if op == sts::Operation::AssumeRole {
        let r: sts::AssumeRoleRequest = parse_query_request(params)?;
        let created = app
            .identity
            .assume_role(
                caller,
                keystead_identity::AssumeRole {
                    role_arn: r.role_arn.as_deref().unwrap_or_default(),
                    role_session_name: r.role_session_name.as_deref().unwrap_or_default(),
                    duration_seconds: r.duration_seconds,
                    external_id: r.external_id.as_deref(),
                    policy: r.policy.as_deref(),
                },
            )
            .await
            .map_err(sts_error)?;
        let (_, role_session) = keystead_identity::session_identity(&created.record);
        let user = role_session.map(|s| sts::AssumedRoleUser {
            arn: Some(s.assumed_role_arn(&created.record.account_id)),
            assumed_role_id: Some(s.assumed_role_id()),
        });
        (created, user)
    } else {
        let r: sts::GetSessionTokenRequest = parse_query_request(params)?;
        let created = app
            .identity
            .get_session_token(
                caller,
                r.duration_seconds,
                r.serial_number.as_deref().zip(r.token_code.as_deref()),
            )
            .await
            .map_err(sts_error)?;
        (created, None)
    };
    app.credentials.insert_session(&created);
    let credentials = sts::Credentials {
        access_key_id: Some(created.record.access_key_id.clone()),
        expiration: Some(Timestamp::from_epoch_millis(created.record.expiration.0)),
        secret_access_key: Some(created.secret_access_key.clone().into()),
        session_token: Some(created.session_token.to_string()),
    };
    fn body<T: keystead_wire::query::ToXml>(
        op: sts::Operation,
        request_id: &str,
        response: &T,
    ) -> Vec<u8> {
        keystead_wire::query::to_query_response(op.name(), sts::XML_NAMESPACE, response, request_id)
    }
    Ok(if op == sts::Operation::AssumeRole {
        let response = sts::AssumeRoleResponse {
            assumed_role_user,
            credentials: Some(credentials),
            ..Default::default()
        };
        QueryResponse {
            body: body(op, request_id, &response),
            response_elements: response_elements::sts_assume_role(&response),
        }
    } else {
        let response = sts::GetSessionTokenResponse {
            credentials: Some(credentials),
            ..Default::default()
        };
        QueryResponse {
            body: body(op, request_id, &response),
            response_elements: response_elements::sts_get_session_token(&response),
        }
    })
}

/// The STS error for an identity-service error.
fn sts_error(e: IdentityError) -> QueryError {
    use sts::ErrorCode as C;
    let code = match &e {
        IdentityError::AccessDenied(_)
        | IdentityError::NoSuchEntity(_)
        | IdentityError::InvalidAuthenticationCode(_) => C::AccessDenied,
        IdentityError::MalformedPolicyDocument(_) => C::MalformedPolicyDocumentException,
        IdentityError::LimitExceeded(_) => C::PackedPolicyTooLargeException,
        IdentityError::Validation(_) => C::ValidationError,
        IdentityError::EntityAlreadyExists(_)
        | IdentityError::DeleteConflict(_)
        | IdentityError::Crypto(_)
        | IdentityError::Store(_)
        | IdentityError::Corrupt(_) => {
            tracing::error!(error = %e, "STS request failed");
            return C::InternalFailure
                .with_message("The request processing has failed because of an unknown error.");
        }
    };
    code.with_message(e.to_string())
}

/// STS GetCallerIdentity: the root user (whose user id is the account id), an IAM user, or a
/// role session (`arn:aws:sts::ACCOUNT:assumed-role/NAME/SESSION`, user id `AROA...:SESSION`).
fn get_caller_identity(caller: &Caller, request_id: &str) -> Vec<u8> {
    let result = sts::GetCallerIdentityResponse {
        account: Some(caller.account_id.to_string()),
        arn: Some(caller.principal_arn()),
        user_id: Some(caller.user_id()),
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
        "ExpiredTokenException" => sts::ErrorCode::ExpiredToken,
        "AccessDeniedException" => sts::ErrorCode::AccessDenied,
        _ => sts::ErrorCode::InternalFailure,
    };
    code.with_message(e.message)
}
