//! OpenID Connect sign-in for the viewer (`--oidc FILE`): the
//! configuration file, the mapping of claims to grants, and [`Oidc`], the
//! viewer's `web::signon::Provider` over the `openidconnect` crate.
//!
//! ```toml
//! [oidc]
//! name = "Alver kommune"                     # on the button: "Sign in with Alver kommune"
//! issuer = "https://login.example.no/realms/kommune"
//! client_id = "tla-viewer"
//! client_secret_file = "oidc-client-secret"  # first line; relative to this file
//! scopes = ["email"]                         # besides openid (default ["email"])
//!
//! [[oidc.grant]]
//! claim = "groups"                           # a claim of the ID token
//! value = "alver-tla"                        # equal to it, or to one of its items
//! read = ["alver"]                           # or ["*"]
//!
//! [[oidc.grant]]
//! claim = "email"
//! value = "revisor@example.no"
//! role = "auditor"                           # reads every tenant
//! ```
//!
//! A sign-in is the authorization code flow with PKCE (S256): the
//! provider's metadata and keys come from its discovery document (fetched
//! at start and again when older than `METADATA_AGE_MAX`); the `openidconnect`
//! crate redeems the code and verifies the ID token's signature against
//! the provider's keys, its issuer, audience, expiry and nonce, and the
//! access token's hash when the ID token has one. Nothing here checks a
//! token by hand. The claims then map to grants: every grant whose claim
//! holds its value adds its tenants (the `auditor` role: every tenant);
//! someone matching none is refused. The `email` claim counts only when
//! the provider does not say it is unverified.
//!
//! The HTTP client (`ureq`) follows no redirects (the crate's advice
//! against SSRF), trusts the system's certificate store, and gives up
//! after `PROVIDER_TIMEOUT`; the issuer must be https unless it is on
//! this machine (a test provider).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreAuthenticationFlow, CoreClientAuthMethod,
    CoreErrorResponseType, CoreGenderClaim, CoreJsonWebKey, CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm, CoreProviderMetadata, CoreRevocableToken, CoreRevocationErrorResponse,
    CoreTokenIntrospectionResponse, CoreTokenType,
};
use openidconnect::{
    AccessTokenHash, AdditionalClaims, AuthType, AuthorizationCode, ClientId, ClientSecret,
    CsrfToken, EmptyExtraTokenFields, EndpointMaybeSet, EndpointNotSet, EndpointSet, IdTokenClaims,
    IdTokenFields, IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier,
    RedirectUrl, RequestTokenError, Scope, StandardErrorResponse, StandardTokenResponse,
    TokenResponse,
};
use serde::{Deserialize, Serialize};
use web::access::{Readable, Reader};
use web::signon::{Begun, Flow, Provider, SignOnError, CALLBACK_PATH};

/// How long the provider may take to answer one request (discovery, the
/// keys, the token request) before the sign-in is answered 502.
pub const PROVIDER_TIMEOUT: Duration = Duration::from_secs(15);

/// How long the provider's discovery document and keys are used before
/// they are fetched again: a provider rolls its signing keys over with
/// some overlap, and a sign-in is rare enough that fetching twice an hour
/// costs nothing.
pub const METADATA_AGE_MAX: Duration = Duration::from_secs(30 * 60);

/// The scopes asked for besides `openid` when the file names none.
const SCOPES_DEFAULT: [&str; 1] = ["email"];

/// Claims of the ID token a grant may test besides the provider's own
/// (non-standard) claims such as `groups` or `roles`.
const STANDARD_CLAIMS_GRANTABLE: [&str; 3] = ["sub", "email", "preferred_username"];

/// The configuration file, as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    oidc: Section,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Section {
    name: Option<String>,
    issuer: String,
    client_id: String,
    client_secret_file: PathBuf,
    scopes: Option<Vec<String>>,
    #[serde(default)]
    grant: Vec<GrantEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GrantEntry {
    claim: String,
    value: String,
    read: Option<Vec<String>>,
    role: Option<Role>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Role {
    /// Reads every tenant.
    Auditor,
}

/// One grant: whoever's `claim` holds `value` reads `tenants`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub claim: String,
    pub value: String,
    pub tenants: Readable,
}

/// A checked configuration.
#[derive(Debug, Clone)]
pub struct OidcConfig {
    /// The provider's name on the sign-in button.
    pub name: String,
    pub issuer: IssuerUrl,
    pub client_id: ClientId,
    pub client_secret: ClientSecret,
    /// The callback under the public URL.
    pub redirect: RedirectUrl,
    pub scopes: Vec<String>,
    pub grants: Vec<Grant>,
}

impl OidcConfig {
    /// Reads and checks `path`; `public_url` (`--public-url`) is where the
    /// provider sends people back to. The error names the file and field.
    pub fn load(path: &Path, public_url: Option<&str>) -> anyhow::Result<OidcConfig> {
        let at = path.display();
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("cannot read the OpenID Connect file {at}: {e}"))?;
        let Some(public_url) = public_url else {
            anyhow::bail!(
                "--oidc {at} needs --public-url (TLA_PUBLIC_URL): the identity provider \
                 sends people back to PUBLIC_URL{CALLBACK_PATH}"
            );
        };
        let dir = path.parent().unwrap_or(Path::new("."));
        OidcConfig::parse(&text, public_url, dir).map_err(|e| anyhow::anyhow!("{at}: {e}"))
    }

    /// Checks a configuration's `text`; `dir` is where a relative secret
    /// file is looked for.
    pub fn parse(text: &str, public_url: &str, dir: &Path) -> Result<OidcConfig, String> {
        let file: File = toml::from_str(text).map_err(|e| e.to_string())?;
        let section = file.oidc;
        let issuer = issuer_url(&section.issuer)?;
        if section.client_id.trim().is_empty() {
            return Err("oidc.client_id: empty".into());
        }
        let redirect = format!("{}{CALLBACK_PATH}", public_url.trim_end_matches('/'));
        let redirect = RedirectUrl::new(redirect.clone())
            .map_err(|e| format!("the callback {redirect:?} is not a URL ({e})"))?;
        let secret = read_secret(&dir.join(&section.client_secret_file))?;
        let scopes = match section.scopes {
            Some(scopes) => scopes,
            None => SCOPES_DEFAULT.iter().map(|s| (*s).to_owned()).collect(),
        };
        if let Some(bad) = scopes.iter().find(|s| s.is_empty() || s.contains(' ')) {
            return Err(format!("oidc.scopes: {bad:?} is not one scope"));
        }
        let mut grants = Vec::new();
        for (index, entry) in section.grant.into_iter().enumerate() {
            grants.push(grant(entry, &format!("oidc.grant[{index}]"))?);
        }
        if grants.is_empty() {
            return Err("no [[oidc.grant]]: nobody could sign in; map a claim to tenants".into());
        }
        let name = section
            .name
            .filter(|n| !n.trim().is_empty())
            .or_else(|| issuer.url().host_str().map(str::to_owned))
            .unwrap_or_else(|| issuer.to_string());
        Ok(OidcConfig {
            name,
            issuer,
            client_id: ClientId::new(section.client_id),
            client_secret: ClientSecret::new(secret),
            redirect,
            scopes,
            grants,
        })
    }
}

/// The issuer's URL: https, or http on this machine only (a provider
/// reached over plain http elsewhere could be impersonated on the way).
fn issuer_url(text: &str) -> Result<IssuerUrl, String> {
    let issuer = IssuerUrl::new(text.to_owned())
        .map_err(|e| format!("oidc.issuer: {text:?} is not a URL ({e})"))?;
    let url = issuer.url();
    let local = matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"));
    match url.scheme() {
        "https" => Ok(issuer),
        "http" if local => Ok(issuer),
        _ => Err(format!(
            "oidc.issuer: {text:?} must be an https:// URL (http:// only on this machine)"
        )),
    }
}

/// The first line of the client secret's file.
fn read_secret(path: &Path) -> Result<String, String> {
    let at = path.display();
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("oidc.client_secret_file: cannot read {at}: {e}"))?;
    let secret = text.lines().next().unwrap_or("").trim().to_owned();
    if secret.is_empty() {
        return Err(format!("oidc.client_secret_file: {at} is empty"));
    }
    warn_if_readable_by_others(path);
    Ok(secret)
}

/// A client secret readable by others than its owner and group is
/// worth a warning (not a refusal: the deployment may mean it).
fn warn_if_readable_by_others(path: &Path) {
    use std::os::unix::fs::PermissionsExt as _;
    if let Ok(meta) = std::fs::metadata(path) {
        if meta.permissions().mode() & 0o004 != 0 {
            tracing::warn!(
                "the OpenID Connect client secret {} is readable by every user of this \
                 machine; chmod o-r it",
                path.display()
            );
        }
    }
}

/// A grant entry, checked; `at` names it in errors.
fn grant(entry: GrantEntry, at: &str) -> Result<Grant, String> {
    let claim = entry.claim.trim().to_owned();
    if claim.is_empty() || entry.value.is_empty() {
        return Err(format!("{at}: claim and value must not be empty"));
    }
    if is_standard_claim(&claim) && !STANDARD_CLAIMS_GRANTABLE.contains(&claim.as_str()) {
        return Err(format!(
            "{at}.claim: {claim:?} cannot grant; use sub, email, preferred_username or a \
             claim of the provider's own such as groups or roles"
        ));
    }
    let tenants = match (entry.read, entry.role) {
        (Some(_), Some(_)) => return Err(format!("{at}: read and role together; choose one")),
        (None, None) => return Err(format!("{at}: neither read nor role; name the tenants")),
        (None, Some(Role::Auditor)) => Readable::All,
        (Some(list), None) if list.is_empty() => {
            return Err(format!("{at}.read: empty; name tenants or \"*\""))
        }
        (Some(list), None) if list.iter().any(|t| t == "*") => Readable::All,
        (Some(list), None) => Readable::Tenants(list.into_iter().collect()),
    };
    Ok(Grant {
        claim,
        value: entry.value,
        tenants,
    })
}

/// The claims of OpenID Connect Core 5.1 and the ID token's own, which
/// the crate reads itself (so they never reach `OtherClaims`).
fn is_standard_claim(claim: &str) -> bool {
    const STANDARD: [&str; 31] = [
        "iss",
        "sub",
        "aud",
        "exp",
        "iat",
        "auth_time",
        "nonce",
        "acr",
        "amr",
        "azp",
        "at_hash",
        "c_hash",
        "name",
        "given_name",
        "family_name",
        "middle_name",
        "nickname",
        "preferred_username",
        "profile",
        "picture",
        "website",
        "email",
        "email_verified",
        "gender",
        "birthdate",
        "zoneinfo",
        "locale",
        "phone_number",
        "phone_number_verified",
        "address",
        "updated_at",
    ];
    STANDARD.contains(&claim)
}

/// Who the provider says signed in: what grants are tested against.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Identity {
    pub subject: String,
    /// The email, unless the provider says it is unverified.
    pub email: Option<String>,
    pub preferred_username: Option<String>,
    /// The provider's own claims (`groups`, `roles`, ...).
    pub other: BTreeMap<String, serde_json::Value>,
}

impl Identity {
    /// The name the access log and the sign-out control show:
    /// `oidc:<subject>`, with the email when there is one (a subject
    /// alone is often an opaque id).
    pub fn who(&self) -> String {
        match &self.email {
            Some(email) => format!("oidc:{} ({email})", self.subject),
            None => format!("oidc:{}", self.subject),
        }
    }

    /// Whether `claim` holds `value` (a string equal to it, or a list
    /// with an item equal to it; emails compare without case).
    fn holds(&self, claim: &str, value: &str) -> bool {
        match claim {
            "sub" => self.subject == value,
            "email" => self
                .email
                .as_deref()
                .is_some_and(|e| e.eq_ignore_ascii_case(value)),
            "preferred_username" => self.preferred_username.as_deref() == Some(value),
            other => match self.other.get(other) {
                Some(serde_json::Value::String(s)) => s == value,
                Some(serde_json::Value::Array(items)) => {
                    items.iter().any(|item| item.as_str() == Some(value))
                }
                _ => false,
            },
        }
    }
}

/// The tenants `identity` may read under `grants`: the union of every
/// grant whose claim holds its value; `None` when no grant matches.
pub fn readable(grants: &[Grant], identity: &Identity) -> Option<Readable> {
    let mut tenants = BTreeSet::new();
    let mut matched = false;
    for grant in grants.iter().filter(|g| identity.holds(&g.claim, &g.value)) {
        matched = true;
        match &grant.tenants {
            Readable::All => return Some(Readable::All),
            Readable::Tenants(some) => tenants.extend(some.iter().cloned()),
        }
    }
    matched.then_some(Readable::Tenants(tenants))
}

/// The ID token's claims beyond the standard ones, as JSON values.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct OtherClaims {
    #[serde(flatten)]
    claims: BTreeMap<String, serde_json::Value>,
}

impl AdditionalClaims for OtherClaims {}

type TokenFields = IdTokenFields<
    OtherClaims,
    EmptyExtraTokenFields,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;

/// The crate's client with `OtherClaims`, as made from discovery: the
/// authorization endpoint is known, the token endpoint may be.
type Client = openidconnect::Client<
    OtherClaims,
    CoreAuthDisplay,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJsonWebKey,
    CoreAuthPrompt,
    StandardErrorResponse<CoreErrorResponseType>,
    StandardTokenResponse<TokenFields, CoreTokenType>,
    CoreTokenIntrospectionResponse,
    CoreRevocableToken,
    CoreRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// The viewer's OpenID Connect provider.
pub struct Oidc {
    config: OidcConfig,
    http: ureq::Agent,
    /// The discovery document and keys, and when they were fetched.
    metadata: Mutex<Option<(Instant, CoreProviderMetadata)>>,
}

impl Oidc {
    /// The provider of `config`. It fetches the discovery document now,
    /// so that a wrong issuer shows at start; a provider that does not
    /// answer is only warned about (the token sign-in still works, and
    /// the next sign-in tries again).
    pub fn new(config: OidcConfig) -> Oidc {
        let http = ureq::AgentBuilder::new()
            .redirects(0)
            .timeout(PROVIDER_TIMEOUT)
            .build();
        let oidc = Oidc {
            config,
            http,
            metadata: Mutex::new(None),
        };
        match oidc.client() {
            Ok(_) => tracing::info!(
                "OpenID Connect sign-in through {} ({})",
                oidc.config.name,
                oidc.config.issuer.as_str()
            ),
            Err(error) => tracing::warn!(
                "the OpenID Connect provider {} did not answer at start ({error:?}); \
                 its sign-in will try again",
                oidc.config.issuer.as_str()
            ),
        }
        oidc
    }

    /// A client over fresh enough metadata, fetching it when needed.
    fn client(&self) -> Result<Client, SignOnError> {
        let cached = self
            .metadata
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .filter(|(at, _)| at.elapsed() < METADATA_AGE_MAX)
            .map(|(_, metadata)| metadata.clone());
        let metadata = match cached {
            Some(metadata) => metadata,
            None => {
                let metadata = CoreProviderMetadata::discover(&self.config.issuer, &self.http)
                    .map_err(|e| {
                        SignOnError::Unavailable(format!(
                            "the discovery of {} failed: {}",
                            self.config.issuer.as_str(),
                            chain(&e)
                        ))
                    })?;
                *self.metadata.lock().unwrap_or_else(PoisonError::into_inner) =
                    Some((Instant::now(), metadata.clone()));
                metadata
            }
        };
        // Client authentication as the provider takes it: HTTP Basic
        // (OAuth 2.0's default) unless it lists only client_secret_post.
        let post_only = metadata
            .token_endpoint_auth_methods_supported()
            .is_some_and(|methods| {
                methods.contains(&CoreClientAuthMethod::ClientSecretPost)
                    && !methods.contains(&CoreClientAuthMethod::ClientSecretBasic)
            });
        let client = Client::from_provider_metadata(
            metadata,
            self.config.client_id.clone(),
            Some(self.config.client_secret.clone()),
        )
        .set_redirect_uri(self.config.redirect.clone());
        Ok(match post_only {
            true => client.set_auth_type(AuthType::RequestBody),
            false => client,
        })
    }

    /// The identity of a verified ID token's claims.
    fn identity(claims: &IdTokenClaims<OtherClaims, CoreGenderClaim>) -> Identity {
        let email = match claims.email_verified() {
            Some(false) => None,
            _ => claims.email().map(|e| e.as_str().to_owned()),
        };
        Identity {
            subject: claims.subject().as_str().to_owned(),
            email,
            preferred_username: claims.preferred_username().map(|u| u.as_str().to_owned()),
            other: claims.additional_claims().claims.clone(),
        }
    }
}

impl Provider for Oidc {
    fn name(&self) -> &str {
        &self.config.name
    }

    fn begin(&self) -> Result<Begun, SignOnError> {
        let client = self.client()?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .set_pkce_challenge(challenge);
        for scope in &self.config.scopes {
            request = request.add_scope(Scope::new(scope.clone()));
        }
        let (url, state, nonce) = request.url();
        Ok(Begun {
            url: url.to_string(),
            flow: Flow {
                state: state.secret().clone(),
                nonce: nonce.secret().clone(),
                verifier: verifier.secret().clone(),
            },
        })
    }

    fn finish(&self, code: &str, flow: &Flow) -> Result<Reader, SignOnError> {
        let client = self.client()?;
        let request = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|e| {
                SignOnError::Unavailable(format!("the provider has no token endpoint: {e}"))
            })?
            .set_pkce_verifier(PkceCodeVerifier::new(flow.verifier.clone()));
        let response = request.request(&self.http).map_err(|e| match e {
            RequestTokenError::ServerResponse(answer) => SignOnError::Refused(format!(
                "the identity provider refused the authorization code: {answer}"
            )),
            other => {
                SignOnError::Unavailable(format!("the token request failed: {}", chain(&other)))
            }
        })?;
        let refused = |what: &str, e: &dyn std::error::Error| {
            SignOnError::Refused(format!("the ID token {what}: {}", chain(e)))
        };
        let id_token = response.id_token().ok_or_else(|| {
            SignOnError::Refused("the identity provider sent no ID token".to_owned())
        })?;
        let verifier = client.id_token_verifier();
        let nonce = Nonce::new(flow.nonce.clone());
        let claims = id_token
            .claims(&verifier, &nonce)
            .map_err(|e| refused("does not verify", &e))?;
        if let Some(expected) = claims.access_token_hash() {
            let algorithm = id_token
                .signing_alg()
                .map_err(|e| refused("has no usable algorithm", &e))?;
            let key = id_token
                .signing_key(&verifier)
                .map_err(|e| refused("has no key", &e))?;
            let actual = AccessTokenHash::from_token(response.access_token(), algorithm, key)
                .map_err(|e| refused("cannot hash the access token", &e))?;
            if actual != *expected {
                return Err(SignOnError::Refused(
                    "the ID token's at_hash does not match the access token".to_owned(),
                ));
            }
        }
        let identity = Oidc::identity(claims);
        match readable(&self.config.grants, &identity) {
            Some(tenants) => Ok(Reader {
                who: identity.who(),
                tenants,
            }),
            None => Err(SignOnError::NoGrant {
                who: identity.who(),
            }),
        }
    }
}

/// An error with its sources, one after another.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str) -> Result<OidcConfig, String> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("secret"), "s3cret-value\n").unwrap();
        OidcConfig::parse(text, "https://tla.example.no/", dir.path())
    }

    const HEAD: &str = "[oidc]\nissuer = \"https://idp.example.no/realms/k\"\n\
                        client_id = \"tla\"\nclient_secret_file = \"secret\"\n";

    #[test]
    fn a_configuration_reads_and_checks() {
        let text = format!(
            "{HEAD}name = \"Alver kommune\"\n\
             [[oidc.grant]]\nclaim = \"groups\"\nvalue = \"alver-tla\"\nread = [\"alver\"]\n\
             [[oidc.grant]]\nclaim = \"email\"\nvalue = \"r@example.no\"\nrole = \"auditor\"\n"
        );
        let read = config(&text).unwrap();
        assert_eq!(read.name, "Alver kommune");
        assert_eq!(read.client_secret.secret(), "s3cret-value");
        assert_eq!(
            read.redirect.as_str(),
            "https://tla.example.no/sign-in/oidc/callback"
        );
        assert_eq!(read.scopes, ["email"]);
        assert_eq!(read.grants[1].tenants, Readable::All);

        for (grants, problem) in [
            ("", "no [[oidc.grant]]"),
            ("[[oidc.grant]]\nclaim = \"groups\"\nvalue = \"g\"\n", "neither read nor role"),
            (
                "[[oidc.grant]]\nclaim = \"groups\"\nvalue = \"g\"\nread = []\n",
                "read: empty",
            ),
            (
                "[[oidc.grant]]\nclaim = \"groups\"\nvalue = \"g\"\nread = [\"a\"]\nrole = \"auditor\"\n",
                "choose one",
            ),
            (
                "[[oidc.grant]]\nclaim = \"name\"\nvalue = \"Kari\"\nread = [\"a\"]\n",
                "cannot grant",
            ),
            (
                "[[oidc.grant]]\nclaim = \"groups\"\nvalue = \"g\"\nrole = \"writer\"\n",
                "unknown variant",
            ),
        ] {
            let error = config(&format!("{HEAD}{grants}")).unwrap_err();
            assert!(error.contains(problem), "{grants}: {error}");
        }
        let grant = "[[oidc.grant]]\nclaim = \"sub\"\nvalue = \"s\"\nread = [\"a\"]\n";
        for (issuer, ok) in [
            ("http://idp.example.no", false),
            ("http://127.0.0.1:9400", true),
            ("ftp://idp.example.no", false),
            ("not a url", false),
        ] {
            let text = HEAD.replace("https://idp.example.no/realms/k", issuer) + grant;
            assert_eq!(config(&text).is_ok(), ok, "{issuer}: {:?}", config(&text));
        }
        let missing = HEAD.replace("\"secret\"", "\"nothing-here\"") + grant;
        assert!(config(&missing).unwrap_err().contains("cannot read"));
    }

    fn identity(email: Option<&str>, other: serde_json::Value) -> Identity {
        Identity {
            subject: "u-1".into(),
            email: email.map(str::to_owned),
            preferred_username: Some("kari".into()),
            other: serde_json::from_value(other).unwrap(),
        }
    }

    fn grant(claim: &str, value: &str, tenants: &[&str]) -> Grant {
        Grant {
            claim: claim.into(),
            value: value.into(),
            tenants: match tenants {
                ["*"] => Readable::All,
                _ => Readable::Tenants(tenants.iter().map(|t| (*t).to_owned()).collect()),
            },
        }
    }

    #[test]
    fn claims_map_to_grants() {
        let grants = [
            grant("groups", "alver-tla", &["alver"]),
            grant("groups", "fedje-tla", &["fedje"]),
            grant("roles", "tla-auditor", &["*"]),
            grant("email", "Kari@Alver.no", &["gulen"]),
            grant("preferred_username", "kari", &["masfjorden"]),
            grant("sub", "u-9", &["austrheim"]),
        ];
        let tenants = |t: &[&str]| {
            Some(Readable::Tenants(
                t.iter().map(|t| (*t).to_owned()).collect(),
            ))
        };
        let check = |identity: Identity, want: Option<Readable>| {
            assert_eq!(readable(&grants, &identity), want, "{identity:?}");
        };
        let groups = serde_json::json!({"groups": ["alver-tla", "other"]});
        check(
            identity(None, groups.clone()),
            tenants(&["alver", "masfjorden"]),
        );
        check(
            identity(Some("kari@alver.no"), groups),
            tenants(&["alver", "gulen", "masfjorden"]),
        );
        check(
            identity(None, serde_json::json!({"groups": "fedje-tla"})),
            tenants(&["fedje", "masfjorden"]),
        );
        check(
            identity(None, serde_json::json!({"roles": ["tla-auditor"]})),
            Some(Readable::All),
        );
        let mut nobody = identity(None, serde_json::json!({"groups": ["alver"], "roles": 7}));
        nobody.preferred_username = None;
        check(nobody.clone(), None);
        assert_eq!(nobody.who(), "oidc:u-1");
        let named = identity(Some("k@a.no"), serde_json::json!({}));
        assert_eq!(named.who(), "oidc:u-1 (k@a.no)");
    }
}
