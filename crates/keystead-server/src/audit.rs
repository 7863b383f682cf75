//! What the server writes to the audit trail: one CloudTrail record per API request, whatever
//! its outcome (success, validation error, denial, failed authentication, unknown operation,
//! oversized body), and one `AwsServiceEvent` record per key the workers rotate or delete.
//!
//! This module decides what goes into a record; [`keystead_audit::AuditLog`] makes it durable.
//! It must never put a secret into a record: request parameters are copied from the request
//! with CloudTrail's camelCase names, minus every field that carries plaintext, ciphertext,
//! key material, secret values or credentials ([`SENSITIVE_PARAMETERS`]), and the log itself
//! refuses a record that still carries one. `responseElements` stays `null`: AWS writes `null`
//! for every cryptographic operation, and keystead writes it for all of them so that no
//! response secret (a data key, a secret access key) can ever reach the trail.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, RwLock};

use keystead_audit::{
    AuditEvent, AuditLog, IdentityType, Resource, SessionAttributes, SessionContext, SessionIssuer,
    UserIdentity,
};
use keystead_types::{Caller, RequestSource, UnixMillis};
use serde_json::{Map, Value};
use time::OffsetDateTime;

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
    /// A JSON 1.1 body.
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
    /// The region in the signature's scope.
    pub(crate) scope_region: Option<String>,
    /// The authenticated caller, once authentication succeeded.
    pub(crate) caller: Option<Caller>,
    /// The request's parameters.
    pub(crate) parameters: Parameters,
    /// The ARN of the key a `CreateKey` request created.
    pub(crate) new_key_arn: Option<String>,
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
            scope_region: None,
            caller: None,
            parameters: Parameters::None,
            new_key_arn: None,
        }
    }

    /// Reads the access key id and region from the request's signature, if it has one, so that
    /// a request that fails authentication is still recorded with what it claimed.
    pub(crate) fn note_signature(&mut self, parts: &keystead_sigv4::RequestParts<'_>) {
        if let Ok(signed) = keystead_sigv4::parse(parts) {
            self.access_key_id = Some(signed.access_key_id().to_owned());
            self.scope_region = Some(signed.scope().region().to_owned());
        }
    }

    /// Keeps a JSON body's top-level object as the parameters.
    pub(crate) fn note_json_body(&mut self, body: &[u8]) {
        if let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(body) {
            self.parameters = Parameters::Json(map);
        }
    }
}

/// The server's audit trail, or none when auditing is off; and what it knows of keys'
/// and access keys' accounts, to name resources and failed callers.
pub(crate) struct Audit {
    log: Option<Arc<AuditLog>>,
    /// Key id → key ARN, for every key the server has seen.
    key_arns: RwLock<HashMap<String, String>>,
    /// Access key id → account id, for access keys known at start.
    access_key_accounts: HashMap<String, String>,
    /// The account that receives records no caller's account can be named for.
    default_account: String,
    /// The region named when a request named none.
    default_region: String,
}

impl Audit {
    /// An audit trail writing to `log` (`None`: auditing is off).
    pub(crate) fn new(
        log: Option<AuditLog>,
        snapshot: &keystead_store::Snapshot,
        default_account: String,
    ) -> Self {
        let key_arns = snapshot
            .keys
            .iter()
            .map(|k| {
                (
                    k.key_id.to_string(),
                    keystead_types::key_arn(&k.region, &k.account_id, &k.key_id),
                )
            })
            .collect();
        let access_key_accounts = snapshot
            .access_keys
            .iter()
            .map(|k| (k.access_key_id.clone(), k.account_id.to_string()))
            .collect();
        Self {
            log: log.map(Arc::new),
            key_arns: RwLock::new(key_arns),
            access_key_accounts,
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

    /// Remembers a key's ARN (a key created since start), so that later records and service
    /// events can name it.
    pub(crate) fn learn_key_arn(&self, arn: &str) {
        if let Some((_, id)) = arn.rsplit_once(":key/") {
            self.key_arns
                .write()
                .unwrap_or_else(|p| p.into_inner())
                .insert(id.to_owned(), arn.to_owned());
        }
    }

    /// Writes the record of one API request and returns once it is on disk. `error` is the
    /// `(errorCode, errorMessage)` returned, if the request failed. A no-op when auditing is
    /// off.
    pub(crate) async fn record_request(
        &self,
        facts: &RequestFacts,
        error: Option<(&str, &str)>,
    ) -> Result<(), keystead_audit::Error> {
        let Some(log) = &self.log else {
            return Ok(());
        };
        let mut event = self.request_event(facts, error);
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
        key_id: &str,
        time: UnixMillis,
    ) -> Result<(), keystead_audit::Error> {
        let Some(log) = &self.log else {
            return Ok(());
        };
        let arn = self.key_arn(key_id);
        let (account, region) = arn
            .as_deref()
            .and_then(account_and_region_of_arn)
            .unwrap_or((self.default_account.as_str(), self.default_region.as_str()));
        let mut event = AuditEvent::service_event(
            to_time(time),
            "kms.amazonaws.com",
            event_name,
            region,
            account,
            "kms.amazonaws.com",
            uuid::Uuid::new_v4().to_string(),
        );
        if let Some(arn) = &arn {
            event.resources.push(key_resource(arn));
        }
        log.append(&event).await.map(|_| ())
    }

    fn key_arn(&self, key_id: &str) -> Option<String> {
        self.key_arns
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(key_id)
            .cloned()
    }

    /// The CloudTrail record of one API request.
    pub(crate) fn request_event(
        &self,
        facts: &RequestFacts,
        error: Option<(&str, &str)>,
    ) -> AuditEvent {
        let caller = facts.caller.as_ref();
        let known_account = caller.map(|c| c.account_id.to_string()).or_else(|| {
            facts
                .access_key_id
                .as_ref()
                .and_then(|id| self.access_key_accounts.get(id).cloned())
        });
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
            uuid::Uuid::new_v4().to_string(),
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
            event.resources = self.kms_resources(facts, account.as_deref(), &region);
            if let Some(arn) = self.ciphertext_key_arn(facts) {
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

    /// The ARN of the key a `Decrypt`/`ReEncrypt` ciphertext names in its header, when the
    /// request names no key and the key is one keystead holds. The header is not authenticated
    /// here; a record of a forged blob names the key the forger chose, as AWS's would.
    fn ciphertext_key_arn(&self, facts: &RequestFacts) -> Option<String> {
        use base64::Engine;
        let Parameters::Json(map) = &facts.parameters else {
            return None;
        };
        let field = match facts.event_name.as_str() {
            "Decrypt" if !map.contains_key("KeyId") => "CiphertextBlob",
            "ReEncrypt" if !map.contains_key("SourceKeyId") => "CiphertextBlob",
            _ => return None,
        };
        let blob = base64::engine::general_purpose::STANDARD
            .decode(map.get(field)?.as_str()?)
            .ok()?;
        let header = keystead_crypto::ciphertext::read_header(&blob).ok()?;
        self.key_arn(&header.key_id.to_string())
    }

    /// `resources`: the KMS keys the request names (by id or key ARN).
    fn kms_resources(
        &self,
        facts: &RequestFacts,
        account: Option<&str>,
        region: &str,
    ) -> Vec<Resource> {
        let Parameters::Json(map) = &facts.parameters else {
            return Vec::new();
        };
        let mut resources: Vec<Resource> =
            facts.new_key_arn.iter().map(|a| key_resource(a)).collect();
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
                self.key_arn(reference).or_else(|| {
                    account.map(|a| format!("arn:aws:kms:{region}:{a}:key/{reference}"))
                })
            };
            if let Some(arn) = arn
                && !resources.iter().any(|r| r.arn == arn)
            {
                resources.push(key_resource(&arn));
            }
        }
        resources
    }
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
        // The session's creation time is not carried by `Caller`; an MFA session's
        // authentication time is its creation time, and otherwise the request's time stands in.
        creation_date: to_time(caller.mfa_authenticated_at.unwrap_or(now)),
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

fn is_sensitive(name: &str) -> bool {
    SENSITIVE_PARAMETERS
        .iter()
        .any(|s| name.eq_ignore_ascii_case(s))
}

/// `KeyId` → `keyId`.
fn camel_case(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => first.to_ascii_lowercase().to_string() + chars.as_str(),
        None => String::new(),
    }
}

/// A JSON request object with CloudTrail's names and without sensitive fields. Encryption
/// contexts are copied as they are: their keys are the caller's.
/// The top level of a JSON request: only [`LOGGED_JSON_MEMBERS`], then as [`camel_case_map`].
fn logged_json_parameters(map: &Map<String, Value>) -> Map<String, Value> {
    let known: Map<String, Value> = map
        .iter()
        .filter(|(name, _)| LOGGED_JSON_MEMBERS.binary_search(&name.as_str()).is_ok())
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect();
    camel_case_map(&known)
}

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
