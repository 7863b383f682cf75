//! What the server writes to the audit trail: one CloudTrail record per API request, whatever
//! its outcome (success, validation error, denial, failed authentication, unknown operation,
//! oversized body), and one `AwsServiceEvent` record per key the workers rotate or delete.
//!
//! This module decides what goes into a record; [`keystead_audit::AuditLog`] makes it durable.
//! It must never put a secret into a record: request parameters are copied from the request
//! with CloudTrail's camelCase names, minus every field that carries plaintext, ciphertext,
//! key material, secret values or credentials ([`SENSITIVE_PARAMETERS`]), and the log itself
//! refuses a record that still carries one. `responseElements` is `null` except for the
//! calls that change state, as AWS writes them and without their secrets
//! ([`crate::response_elements`]; `{keyId}` for the KMS calls on one key in
//! [`NAMES_KEY_IN_RESPONSE`]); AWS writes `null` for every read and every cryptographic
//! operation, and so does keystead, so that no response secret (a data key, a plaintext, a
//! secret value) can reach the trail.

use std::borrow::Cow;
use std::net::IpAddr;
use std::sync::Arc;

use keystead_audit::{
    AuditEvent, AuditLog, IdentityType, Resource, SessionAttributes, SessionContext, SessionIssuer,
    UserIdentity,
};
use keystead_keys::KeyService;
use keystead_types::{Caller, RequestSource, UnixMillis};
use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::response_elements::NAMES_KEY_IN_RESPONSE;

/// Request parameters never copied into a record, compared without case and at any depth
/// (except inside an encryption context, whose keys are the caller's own names).
const SENSITIVE_PARAMETERS: &[&str] = &[
    "plaintext",
    "ciphertextblob",
    "sourceciphertextblob",
    "secretstring",
    "secretbinary",
    "password",
    "newpassword",
    "oldpassword",
    "secretaccesskey",
    "sessiontoken",
    "tokencode",
    "authenticationcode1",
    "authenticationcode2",
    "keymaterial",
    "encryptedkeymaterial",
    "importtoken",
    "privatekeyplaintext",
    "sharedsecret",
    "message",
    "signature",
    "mac",
    "recipient",
    "samlassertion",
    "webidentitytoken",
    "publickey",
    "privatekey",
    "randompassword",
    "base32stringseed",
    "qrcodepng",
];

/// The JSON request members (of the KMS, Secrets Manager and CloudTrail models' inputs) copied
/// into `requestParameters`: every input member except those that carry plaintext, ciphertext,
/// key material, secret values or credentials. A member not listed (unknown to the models, or
/// sensitive) is never copied, whatever its value.
const LOGGED_JSON_MEMBERS: &[&str] = &[
    "AddReplicaRegions",
    "AdvancedEventSelectors",
    "AggregationConfigurations",
    "AliasName",
    "BillingMode",
    "BlockPublicPolicy",
    "BypassPolicyLockoutSafetyCheck",
    "Channel",
    "ClientRequestToken",
    "CloudHsmClusterId",
    "CloudWatchLogsLogGroupArn",
    "CloudWatchLogsRoleArn",
    "Constraints",
    "ContextKeySelectors",
    "CrossAccountPrimaryARN",
    "CrossAccountReplicaARN",
    "CustomKeyStoreId",
    "CustomKeyStoreName",
    "CustomKeyStoreType",
    "CustomerMasterKeySpec",
    "DashboardId",
    "DataType",
    "DelegatedAdminAccountId",
    "DeliveryS3Uri",
    "Description",
    "Destination",
    "DestinationEncryptionAlgorithm",
    "DestinationEncryptionContext",
    "DestinationKeyId",
    "Destinations",
    "Dimensions",
    "DryRun",
    "DryRunModifiers",
    "EnableLogFileValidation",
    "EncapsulationAlgorithm",
    "EncryptionAlgorithm",
    "EncryptionContext",
    "EndEventTime",
    "EndTime",
    "ErrorCode",
    "EventCategory",
    "EventDataStore",
    "EventDataStoreOwnerAccountId",
    "EventDataStores",
    "EventName",
    "EventSelectors",
    "EventSource",
    "ExcludeCharacters",
    "ExcludeLowercase",
    "ExcludeNumbers",
    "ExcludePunctuation",
    "ExcludeUppercase",
    "ExpirationModel",
    "ExternalSecretRotationMetadata",
    "ExternalSecretRotationRoleArn",
    "FederationRoleArn",
    "Filters",
    "ForceDeleteWithoutRecovery",
    "ForceOverwriteReplicaSecret",
    "GrantId",
    "GrantToken",
    "GrantTokens",
    "GranteePrincipal",
    "GranteeServicePrincipal",
    "ImportId",
    "ImportSource",
    "ImportStatus",
    "ImportType",
    "IncludeDeprecated",
    "IncludeGlobalServiceEvents",
    "IncludeKeyMaterial",
    "IncludePlannedDeletion",
    "IncludeSpace",
    "InsightSelectors",
    "InsightSource",
    "InsightType",
    "InsightsDestination",
    "IsMultiRegionTrail",
    "IsOrganizationTrail",
    "KeyAgreementAlgorithm",
    "KeyId",
    "KeyMaterialDescription",
    "KeyMaterialId",
    "KeyPairSpec",
    "KeySpec",
    "KeyUsage",
    "KmsKeyId",
    "Limit",
    "LookupAttributes",
    "MacAlgorithm",
    "Marker",
    "MaxEventSize",
    "MaxQueryResults",
    "MaxResults",
    "MemberAccountId",
    "MessageType",
    "MoveToVersionId",
    "MultiRegion",
    "MultiRegionEnabled",
    "Name",
    "NamePrefix",
    "NewCustomKeyStoreName",
    "NextToken",
    "NumberOfBytes",
    "Operations",
    "OrganizationEnabled",
    "Origin",
    "PasswordLength",
    "PendingWindowInDays",
    "Period",
    "Policy",
    "PolicyName",
    "PrimaryRegion",
    "Prompt",
    "QueryAlias",
    "QueryId",
    "QueryParameterValues",
    "QueryParameters",
    "QueryStatement",
    "QueryStatus",
    "RecoveryWindowInDays",
    "RecursiveLogging",
    "RefreshId",
    "RefreshSchedule",
    "RemoveFromVersionId",
    "RemoveReplicaRegions",
    "ReplicaRegion",
    "ReplicaRestriction",
    "ReplicationRoleARN",
    "RequireEachIncludedType",
    "ResourceArn",
    "ResourceId",
    "ResourceIdList",
    "ResourceOwners",
    "ResourcePolicy",
    "RetentionPeriod",
    "RetiringPrincipal",
    "RetiringServicePrincipal",
    "RotateImmediately",
    "RotationLambdaARN",
    "RotationPeriodInDays",
    "RotationRules",
    "S3BucketName",
    "S3KeyPrefix",
    "SearchPhrase",
    "SecretId",
    "SecretIdList",
    "SigningAlgorithm",
    "SnsTopicName",
    "SortBy",
    "SortOrder",
    "Source",
    "SourceEncryptionAlgorithm",
    "SourceEncryptionContext",
    "SourceKeyId",
    "StartEventTime",
    "StartIngestion",
    "StartTime",
    "TagKeys",
    "Tags",
    "TagsList",
    "TargetKeyId",
    "TerminationProtectionEnabled",
    "TrailName",
    "Type",
    "ValidTo",
    "VersionId",
    "VersionStage",
    "VersionStages",
    "Widgets",
    "WrappingAlgorithm",
    "WrappingKeySpec",
    "XksKeyId",
    "XksProxyConnectivity",
    "XksProxyUriEndpoint",
    "XksProxyUriPath",
    "XksProxyVpcEndpointServiceName",
    "XksProxyVpcEndpointServiceOwner",
    "includeShadowTrails",
    "trailNameList",
];

/// The service a request was addressed to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Service {
    /// AWS KMS (`TrentService.*`).
    Kms,
    /// AWS STS (Query protocol).
    Sts,
    /// AWS IAM (Query protocol).
    Iam,
    /// CloudTrail (`CloudTrail_20131101.*`).
    CloudTrail,
    /// Secrets Manager (`secretsmanager.*`).
    SecretsManager,
}

impl Service {
    /// `eventSource`.
    pub(crate) fn event_source(self) -> &'static str {
        match self {
            Service::Kms => "kms.amazonaws.com",
            Service::Sts => "sts.amazonaws.com",
            Service::Iam => "iam.amazonaws.com",
            Service::CloudTrail => "cloudtrail.amazonaws.com",
            Service::SecretsManager => "secretsmanager.amazonaws.com",
        }
    }

    /// The SigV4 signing name and the metrics label.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Service::Kms => "kms",
            Service::Sts => "sts",
            Service::Iam => "iam",
            Service::CloudTrail => "cloudtrail",
            Service::SecretsManager => "secretsmanager",
        }
    }
}

/// The request's parameters, as far as they could be read.
#[derive(Default)]
pub(crate) enum Parameters {
    /// Nothing readable: no body, a body too large, or not JSON.
    #[default]
    None,
    /// A JSON 1.1 body: only its top-level members in [`LOGGED_JSON_MEMBERS`], by their
    /// request names (the rest, plaintexts and ciphertexts included, is never copied).
    Json(Map<String, Value>),
    /// Query-protocol parameters (name, value), without `Action` and `Version`.
    Query(Vec<(String, String)>),
}

/// Everything known about one API request when its response has been decided.
pub(crate) struct RequestFacts {
    /// The `x-amzn-requestid` returned.
    pub(crate) request_id: String,
    /// When the request arrived.
    pub(crate) time: UnixMillis,
    /// The connection it came on.
    pub(crate) source: RequestSource,
    /// The service addressed; `None` until known.
    pub(crate) service: Option<Service>,
    /// The operation's name, as the client sent it.
    pub(crate) event_name: String,
    /// The access key id in the signature, even when authentication failed.
    pub(crate) access_key_id: Option<String>,
    /// The account of that access key, when keystead knows the key.
    pub(crate) access_key_account: Option<String>,
    /// The region in the signature's scope.
    pub(crate) scope_region: Option<String>,
    /// The authenticated caller, once authentication succeeded.
    pub(crate) caller: Option<Caller>,
    /// The request's parameters.
    pub(crate) parameters: Parameters,
    /// The ARN of the key a `CreateKey` request created.
    pub(crate) new_key_arn: Option<String>,
    /// The key id in the header of the request's `CiphertextBlob`, if it has a readable one.
    pub(crate) ciphertext_key_id: Option<String>,
    /// `responseElements` of a successful call, for the operations AWS writes them for
    /// ([`crate::response_elements`]).
    pub(crate) response_elements: Option<Map<String, Value>>,
}

impl RequestFacts {
    /// Facts about a request that has just arrived.
    pub(crate) fn new(request_id: String, time: UnixMillis, source: RequestSource) -> Self {
        Self {
            request_id,
            time,
            source,
            service: None,
            event_name: String::new(),
            access_key_id: None,
            access_key_account: None,
            scope_region: None,
            caller: None,
            parameters: Parameters::None,
            new_key_arn: None,
            ciphertext_key_id: None,
            response_elements: None,
        }
    }

    /// Reads the access key id and region from the request's signature, if it has one, so that
    /// a request that fails authentication is still recorded with what it claimed.
    pub(crate) fn note_signature(
        &mut self,
        parts: &keystead_sigv4::RequestParts<'_>,
        credentials: &crate::credentials::Credentials,
    ) {
        if let Ok(signed) = keystead_sigv4::parse(parts) {
            self.access_key_account = credentials
                .account_of(signed.access_key_id())
                .map(|a| a.to_string());
            self.access_key_id = Some(signed.access_key_id().to_owned());
            self.scope_region = Some(signed.scope().region().to_owned());
        }
    }

    /// Keeps what a record needs of a JSON body whose top level is an object: the members in
    /// [`LOGGED_JSON_MEMBERS`], and the key id in the header of its `CiphertextBlob`.
    ///
    /// One pass over the body that copies nothing else: a plaintext or ciphertext member is
    /// skipped where it stands (serde's `IgnoredAny`), and a `CiphertextBlob` is read in place
    /// for its first bytes only.
    pub(crate) fn note_json_body(&mut self, body: &[u8]) {
        if let Ok(JsonBody {
            logged,
            ciphertext_key_id,
        }) = serde_json::from_slice::<JsonBody>(body)
        {
            self.parameters = Parameters::Json(logged);
            self.ciphertext_key_id = ciphertext_key_id;
        }
    }
}

/// The server's audit trail, or none when auditing is off; and what it knows of keys'
/// and access keys' accounts, to name resources and failed callers.
pub(crate) struct Audit {
    log: Option<Arc<AuditLog>>,
    /// The account that receives records no caller's account can be named for.
    default_account: String,
    /// The region named when a request named none.
    default_region: String,
}

impl Audit {
    /// An audit trail writing to `log` (`None`: auditing is off).
    pub(crate) fn new(log: Option<AuditLog>, default_account: String) -> Self {
        Self {
            log: log.map(Arc::new),
            default_account,
            default_region: "us-east-1".to_owned(),
        }
    }

    /// Whether records are written.
    pub(crate) fn enabled(&self) -> bool {
        self.log.is_some()
    }

    /// The trail, when auditing is on.
    pub(crate) fn log(&self) -> Option<&AuditLog> {
        self.log.as_deref()
    }

    /// The trail, shared, for blocking work on another thread (lookups).
    pub(crate) fn shared_log(&self) -> Option<Arc<AuditLog>> {
        self.log.clone()
    }

    /// Writes the record of one API request and returns once it is on disk. `error` is the
    /// `(errorCode, errorMessage)` returned, if the request failed. A no-op when auditing is
    /// off.
    pub(crate) async fn record_request(
        &self,
        keys: &KeyService,
        facts: &RequestFacts,
        error: Option<(&str, &str)>,
    ) -> Result<(), keystead_audit::Error> {
        let Some(log) = &self.log else {
            return Ok(());
        };
        let mut event = self.request_event(keys, facts, error);
        match log.append(&event).await {
            Err(keystead_audit::Error::EventTooLarge { .. }) => {
                // A request within the body limit can still make a record over CloudTrail's
                // 256 KiB (a long description that then fails validation): keep the record,
                // without its parameters, and say so.
                event.request_parameters = None;
                if let Some(message) = &mut event.error_message {
                    truncate(message, MAX_LOGGED_TEXT);
                }
                let mut note = Map::new();
                note.insert(
                    "requestParametersOmitted".to_owned(),
                    Value::String("the record would exceed 256 KiB".to_owned()),
                );
                event.additional_event_data = Some(note);
                log.append(&event).await.map(|_| ())
            }
            other => other.map(|_| ()),
        }
    }

    /// Writes the `AwsServiceEvent` record of something a worker did to a key (`RotateKey`,
    /// `DeleteKey`). A no-op when auditing is off.
    pub(crate) async fn record_key_service_event(
        &self,
        event_name: &str,
        key_arn: &str,
        time: UnixMillis,
    ) -> Result<(), keystead_audit::Error> {
        let Some(log) = &self.log else {
            return Ok(());
        };
        let (account, region) = account_and_region_of_arn(key_arn)
            .unwrap_or((self.default_account.as_str(), self.default_region.as_str()));
        let mut event = AuditEvent::service_event(
            to_time(time),
            "kms.amazonaws.com",
            event_name,
            region,
            account,
            "kms.amazonaws.com",
            keystead_audit::random_event_id(),
        );
        event.resources.push(key_resource(key_arn));
        log.append(&event).await.map(|_| ())
    }

    /// The CloudTrail record of one API request.
    pub(crate) fn request_event(
        &self,
        keys: &KeyService,
        facts: &RequestFacts,
        error: Option<(&str, &str)>,
    ) -> AuditEvent {
        let caller = facts.caller.as_ref();
        let known_account = caller
            .map(|c| c.account_id.to_string())
            .or_else(|| facts.access_key_account.clone());
        let recipient = known_account
            .clone()
            .unwrap_or_else(|| self.default_account.clone());
        let region = caller
            .map(|c| c.region.to_string())
            .or_else(|| facts.scope_region.clone())
            .unwrap_or_else(|| self.default_region.clone());
        let identity = match caller {
            Some(c) => user_identity(c, facts.time),
            None => UserIdentity {
                account_id: known_account,
                access_key_id: facts.access_key_id.clone(),
                ..UserIdentity::default()
            },
        };
        let source_ip = facts
            .source
            .ip
            .map_or_else(|| "AWS Internal".to_owned(), |ip: IpAddr| ip.to_string());
        let service = facts.service.unwrap_or(Service::Kms);
        let mut event = AuditEvent::api_call(
            identity,
            to_time(facts.time),
            service.event_source(),
            facts.event_name.as_str(),
            region.as_str(),
            source_ip,
            facts.request_id.as_str(),
            keystead_audit::random_event_id(),
            recipient.as_str(),
        );
        event.user_agent = facts.source.user_agent.clone().map(|mut agent| {
            truncate(&mut agent, MAX_LOGGED_TEXT);
            agent
        });
        if let Some((code, message)) = error {
            event.error_code = Some(code.to_owned());
            event.error_message = Some(message.to_owned());
        }
        event.read_only = is_read_only(service, &facts.event_name);
        if error.is_none() {
            event.response_elements = facts.response_elements.clone();
        }
        // CloudTrail writes `null`, not `{}`, for a request without parameters.
        event.request_parameters = match &facts.parameters {
            Parameters::None => None,
            // An unparsable body has no parameters (CloudTrail writes none either), whatever
            // fragments of it were readable.
            Parameters::Json(_)
                if error.is_some_and(|(code, _)| code == "SerializationException") =>
            {
                None
            }
            Parameters::Json(map) => Some(logged_json_parameters(map)),
            Parameters::Query(pairs) => Some(query_parameters(pairs)),
        }
        .filter(|map| !map.is_empty());
        if service == Service::Kms {
            let account = caller.map(|c| c.account_id.to_string());
            event.resources = kms_resources(keys, facts, account.as_deref(), &region);
            if error.is_none() && NAMES_KEY_IN_RESPONSE.contains(&facts.event_name.as_str()) {
                // Since December 2022 AWS records the key's ARN in `responseElements.keyId` for
                // these, although the operations do not return it.
                if let [resource] = event.resources.as_slice() {
                    event
                        .response_elements
                        .get_or_insert_with(Map::new)
                        .insert("keyId".to_owned(), Value::String(resource.arn.clone()));
                }
            }
            if let Some(arn) = ciphertext_key_arn(keys, facts) {
                // As AWS does for Decrypt without a KeyId: name the key the ciphertext names.
                event
                    .request_parameters
                    .get_or_insert_with(Map::new)
                    .entry("keyId")
                    .or_insert_with(|| Value::String(arn.clone()));
                if !event.resources.iter().any(|r| r.arn == arn) {
                    event.resources.push(key_resource(&arn));
                }
            }
        }
        event
    }
}

/// The ARN of the key a `Decrypt`/`ReEncrypt` ciphertext names in its header, when the
/// request names no key and the key is one keystead holds. The header is not authenticated
/// here; a record of a forged blob names the key the forger chose, as AWS's would.
fn ciphertext_key_arn(keys: &KeyService, facts: &RequestFacts) -> Option<String> {
    let Parameters::Json(map) = &facts.parameters else {
        return None;
    };
    match facts.event_name.as_str() {
        "Decrypt" if !map.contains_key("KeyId") => {}
        "ReEncrypt" if !map.contains_key("SourceKeyId") => {}
        _ => return None,
    }
    keys.key_arn(facts.ciphertext_key_id.as_deref()?)
}

/// `resources`: the KMS keys the request names (by id or key ARN).
fn kms_resources(
    keys: &KeyService,
    facts: &RequestFacts,
    account: Option<&str>,
    region: &str,
) -> Vec<Resource> {
    let Parameters::Json(map) = &facts.parameters else {
        return Vec::new();
    };
    let mut resources: Vec<Resource> = facts.new_key_arn.iter().map(|a| key_resource(a)).collect();
    for field in ["KeyId", "SourceKeyId", "DestinationKeyId", "TargetKeyId"] {
        let Some(Value::String(reference)) = map.get(field) else {
            continue;
        };
        let arn = if reference.starts_with("arn:") {
            reference.contains(":key/").then(|| reference.clone())
        } else if !crate::metrics::looks_like_key_id(reference) {
            // An alias, or not a key reference at all: nothing to name.
            None
        } else {
            keys.key_arn(reference)
                .or_else(|| account.map(|a| format!("arn:aws:kms:{region}:{a}:key/{reference}")))
        };
        if let Some(arn) = arn
            && !resources.iter().any(|r| r.arn == arn)
        {
            resources.push(key_resource(&arn));
        }
    }
    resources
}

/// `resources[]` entry for a KMS key ARN.
fn key_resource(arn: &str) -> Resource {
    Resource {
        account_id: account_and_region_of_arn(arn).map(|(account, _)| account.to_owned()),
        resource_type: Some("AWS::KMS::Key".to_owned()),
        arn: arn.to_owned(),
    }
}

/// The account and region of `arn:aws:kms:REGION:ACCOUNT:...`.
fn account_and_region_of_arn(arn: &str) -> Option<(&str, &str)> {
    let mut parts = arn.splitn(6, ':');
    let (_, _, _, region, account) = (
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    );
    Some((account, region))
}

/// `userIdentity` of an authenticated caller, as CloudTrail writes it for root users, IAM
/// users, assumed roles, sessions and service principals.
fn user_identity(caller: &Caller, now: UnixMillis) -> UserIdentity {
    let account = caller.account_id.to_string();
    let mut identity = UserIdentity {
        principal_id: Some(caller.user_id()),
        arn: Some(caller.principal_arn()),
        account_id: Some(account.clone()),
        access_key_id: Some(caller.access_key_id.clone()),
        ..UserIdentity::default()
    };
    if let Some(service) = &caller.service {
        identity = UserIdentity {
            identity_type: Some(IdentityType::AwsService),
            account_id: Some(account),
            invoked_by: Some(service.clone()),
            ..UserIdentity::default()
        };
        return identity;
    }
    let session_attributes = || SessionAttributes {
        mfa_authenticated: caller.mfa_authenticated_at.is_some(),
        creation_date: to_time(caller.session_created_at.unwrap_or(now)),
    };
    if let Some(session) = &caller.role_session {
        identity.identity_type = Some(IdentityType::AssumedRole);
        identity.session_context = Some(SessionContext {
            session_issuer: Some(SessionIssuer {
                issuer_type: "Role".to_owned(),
                principal_id: session.role_id.clone(),
                arn: session.role_arn(&caller.account_id),
                account_id: account,
                user_name: session.role_name.clone(),
            }),
            web_id_federation_data: Some(Map::new()),
            attributes: Some(session_attributes()),
        });
    } else {
        match &caller.user {
            Some(user) => {
                identity.identity_type = Some(IdentityType::IamUser);
                identity.user_name = Some(user.user_name.clone());
            }
            None => identity.identity_type = Some(IdentityType::Root),
        }
        if caller.uses_temporary_credentials() {
            identity.session_context = Some(SessionContext {
                session_issuer: None,
                web_id_federation_data: None,
                attributes: Some(session_attributes()),
            });
        }
    }
    if let Some(via) = &caller.via_service {
        // kms:ViaService names the regional endpoint; CloudTrail's invokedBy the service.
        let service = via.split('.').next().unwrap_or(via);
        identity.invoked_by = Some(format!("{service}.amazonaws.com"));
    }
    identity
}

/// Whether CloudTrail marks the operation read-only.
fn is_read_only(service: Service, name: &str) -> bool {
    const READ_ONLY_PREFIXES: &[&str] = &[
        "Describe",
        "Get",
        "List",
        "Lookup",
        "Encrypt",
        "Decrypt",
        "ReEncrypt",
        "Generate",
        "Sign",
        "Verify",
        "DeriveSharedSecret",
    ];
    match service {
        Service::Sts => true,
        _ => READ_ONLY_PREFIXES.iter().any(|p| name.starts_with(p)),
    }
}

/// Whether a request parameter or response member of this name is never recorded.
pub(crate) fn is_sensitive(name: &str) -> bool {
    SENSITIVE_PARAMETERS
        .iter()
        .any(|s| name.eq_ignore_ascii_case(s))
}

/// `KeyId` → `keyId`.
pub(crate) fn camel_case(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => first.to_ascii_lowercase().to_string() + chars.as_str(),
        None => String::new(),
    }
}

/// The top level of a JSON request: only [`LOGGED_JSON_MEMBERS`], then as [`camel_case_map`].
fn logged_json_parameters(map: &Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::new();
    for (name, value) in map {
        if LOGGED_JSON_MEMBERS.binary_search(&name.as_str()).is_err() || is_sensitive(name) {
            continue;
        }
        let value = if name.contains("EncryptionContext") {
            value.clone()
        } else {
            camel_case_value(value)
        };
        out.insert(camel_case(name), value);
    }
    out
}

/// A JSON request object with CloudTrail's names and without sensitive fields. Encryption
/// contexts are copied as they are: their keys are the caller's.
fn camel_case_map(map: &Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::new();
    for (name, value) in map {
        if is_sensitive(name) {
            continue;
        }
        let value = if name.contains("EncryptionContext") {
            value.clone()
        } else {
            camel_case_value(value)
        };
        out.insert(camel_case(name), value);
    }
    out
}

fn camel_case_value(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(camel_case_map(map)),
        Value::Array(items) => Value::Array(items.iter().map(camel_case_value).collect()),
        other => other.clone(),
    }
}

/// Query parameters with camelCase names (each dotted segment), without sensitive ones.
fn query_parameters(pairs: &[(String, String)]) -> Map<String, Value> {
    let mut out = Map::new();
    for (name, value) in pairs {
        if name.split('.').any(is_sensitive) {
            continue;
        }
        let name: Vec<String> = name.split('.').map(camel_case).collect();
        out.insert(name.join("."), Value::String(value.clone()));
    }
    out
}

/// What [`RequestFacts::note_json_body`] keeps of a JSON body.
struct JsonBody {
    /// The members in [`LOGGED_JSON_MEMBERS`], by their request names.
    logged: Map<String, Value>,
    /// The key id in the header of `CiphertextBlob`.
    ciphertext_key_id: Option<String>,
}

impl<'de> Deserialize<'de> for JsonBody {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(JsonBodyVisitor)
    }
}

struct JsonBodyVisitor;

impl<'de> Visitor<'de> for JsonBodyVisitor {
    type Value = JsonBody;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut members: A) -> Result<JsonBody, A::Error> {
        let mut body = JsonBody {
            logged: Map::new(),
            ciphertext_key_id: None,
        };
        while let Some(Text(name)) = members.next_key::<Text<'de>>()? {
            if LOGGED_JSON_MEMBERS.binary_search(&&*name).is_ok() {
                // As `Value` does, a repeated member keeps its last value.
                body.logged
                    .insert(name.into_owned(), members.next_value::<Value>()?);
            } else if name == "CiphertextBlob" {
                body.ciphertext_key_id = members
                    .next_value::<AnyText<'de>>()?
                    .0
                    .and_then(|blob| ciphertext_header_key_id(&blob));
            } else {
                members.next_value::<IgnoredAny>()?;
            }
        }
        Ok(body)
    }
}

/// A JSON string, borrowed from the body unless it has escapes.
struct Text<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Text<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer
            .deserialize_str(TextVisitor)
            .map(|text| Text(text.0.unwrap_or_default()))
    }
}

/// Any JSON value: the text of a string, `None` for anything else (skipped, not copied).
struct AnyText<'de>(Option<Cow<'de, str>>);

impl<'de> Deserialize<'de> for AnyText<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(TextVisitor)
    }
}

struct TextVisitor;

impl<'de> Visitor<'de> for TextVisitor {
    type Value = AnyText<'de>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_borrowed_str<E: serde::de::Error>(self, text: &'de str) -> Result<Self::Value, E> {
        Ok(AnyText(Some(Cow::Borrowed(text))))
    }

    fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Self::Value, E> {
        Ok(AnyText(Some(Cow::Owned(text.to_owned()))))
    }

    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(AnyText(None))
    }

    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(AnyText(None))
    }

    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(AnyText(None))
    }

    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(AnyText(None))
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(AnyText(None))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut items: A) -> Result<Self::Value, A::Error> {
        while items.next_element::<IgnoredAny>()?.is_some() {}
        Ok(AnyText(None))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut members: A) -> Result<Self::Value, A::Error> {
        while members.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(AnyText(None))
    }
}

/// The key id in the header of a base64 ciphertext blob, decoding only the header's bytes. The
/// header is not authenticated here (see [`ciphertext_key_arn`]).
fn ciphertext_header_key_id(blob: &str) -> Option<String> {
    use base64::Engine;
    use keystead_crypto::ciphertext::{BLOB_OVERHEAD, HEADER_LEN, read_header};
    // Base64 text of at least `BLOB_OVERHEAD` bytes, of which the header is the first
    // `HEADER_LEN` (a whole number of 4-character groups, since 21 = 7 * 3).
    const HEADER_CHARS: usize = HEADER_LEN.div_ceil(3) * 4;
    if blob.len() < BLOB_OVERHEAD.div_ceil(3) * 4 || !blob.len().is_multiple_of(4) {
        return None;
    }
    let mut header = [0u8; HEADER_CHARS / 4 * 3];
    let n = base64::engine::general_purpose::STANDARD
        .decode_slice(blob.get(..HEADER_CHARS)?, &mut header)
        .ok()?;
    // `read_header` checks the length of a whole blob: pad the header out to one.
    let mut padded = [0u8; BLOB_OVERHEAD];
    padded.get_mut(..n)?.copy_from_slice(header.get(..n)?);
    (n >= HEADER_LEN).then_some(())?;
    Some(read_header(&padded).ok()?.key_id.to_string())
}

/// The longest user agent or error message kept whole in a record of an oversized request.
const MAX_LOGGED_TEXT: usize = 1024;

/// Cuts `text` to at most `max` bytes, at a character boundary.
fn truncate(text: &mut String, max: usize) {
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
}

fn to_time(at: UnixMillis) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(at.0) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sensitive_fields_are_dropped_and_names_camel_cased() {
        let body = serde_json::json!({
            "KeyId": "k",
            "Plaintext": "c2VjcmV0",
            "EncryptionContext": {"Plaintext": "is a context key", "Dept": "IT"},
            "NumberOfBytes": 32,
            "Constraints": {"EncryptionContextSubset": {"A": "b"}},
            "GrantTokens": ["t"],
        });
        let Value::Object(map) = body else {
            panic!("object")
        };
        let out = Value::Object(camel_case_map(&map));
        assert_eq!(
            out,
            serde_json::json!({
                "keyId": "k",
                "encryptionContext": {"Plaintext": "is a context key", "Dept": "IT"},
                "numberOfBytes": 32,
                "constraints": {"encryptionContextSubset": {"A": "b"}},
                "grantTokens": ["t"],
            })
        );
    }

    #[test]
    fn members_outside_the_models_are_not_logged() {
        assert!(
            LOGGED_JSON_MEMBERS.windows(2).all(|w| w[0] < w[1]),
            "sorted"
        );
        let Value::Object(map) = serde_json::json!({"KeyId": "k", "Bogus": "c2VjcmV0"}) else {
            panic!("object")
        };
        assert_eq!(
            Value::Object(logged_json_parameters(&map)),
            serde_json::json!({"keyId": "k"})
        );
    }

    #[test]
    fn a_json_body_keeps_only_logged_members_and_the_ciphertext_key() {
        use base64::Engine;
        let key_id = "1234abcd-12ab-34cd-56ef-1234567890ab";
        let mut blob = vec![keystead_crypto::ciphertext::FORMAT_V1];
        blob.extend_from_slice(
            key_id
                .parse::<keystead_types::KeyId>()
                .expect("key id")
                .as_bytes(),
        );
        blob.extend_from_slice(&[0, 0, 0, 1]);
        blob.resize(100, 7);
        let blob = base64::engine::general_purpose::STANDARD.encode(&blob);
        let body = format!(
            r#"{{"KeyId":"alias/x","Plaintext":"c2VjcmV0","Bogus":[1,{{"a":2}}],
                "CiphertextBlob":"{blob}","EncryptionContext":{{"Dept":"I\u0054"}},
                "GrantTokens":["t"]}}"#
        );
        let mut facts = RequestFacts::new(
            "r".into(),
            UnixMillis(0),
            RequestSource {
                ip: None,
                secure_transport: false,
                user_agent: None,
            },
        );
        facts.note_json_body(body.as_bytes());
        let Parameters::Json(map) = &facts.parameters else {
            panic!("json parameters")
        };
        assert_eq!(
            Value::Object(map.clone()),
            serde_json::json!({
                "KeyId": "alias/x",
                "EncryptionContext": {"Dept": "IT"},
                "GrantTokens": ["t"],
            })
        );
        assert_eq!(facts.ciphertext_key_id.as_deref(), Some(key_id));

        // Not an object, or not JSON: no parameters at all.
        for body in [&b"[1]"[..], b"{\"KeyId\":", b"{} x"] {
            let mut other = RequestFacts::new("r".into(), UnixMillis(0), facts.source.clone());
            other.note_json_body(body);
            assert!(matches!(other.parameters, Parameters::None));
        }
        // A blob too short to be a ciphertext, or not base64, names no key.
        assert_eq!(ciphertext_header_key_id("AAAA"), None);
        assert_eq!(ciphertext_header_key_id(&"!".repeat(100)), None);
    }

    #[test]
    fn query_parameters_drop_mfa_codes_and_passwords() {
        let pairs = vec![
            ("RoleArn".to_owned(), "arn".to_owned()),
            ("TokenCode".to_owned(), "123456".to_owned()),
            ("Tags.member.1.Key".to_owned(), "k".to_owned()),
        ];
        let out = Value::Object(query_parameters(&pairs));
        assert_eq!(
            out,
            serde_json::json!({"roleArn": "arn", "tags.member.1.key": "k"})
        );
    }

    #[test]
    fn the_account_and_region_come_from_a_key_arn() {
        assert_eq!(
            account_and_region_of_arn("arn:aws:kms:eu-west-1:111122223333:key/abc"),
            Some(("111122223333", "eu-west-1"))
        );
    }
}
