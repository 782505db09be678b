//! The seed dialects: one module per API document in `seeds/`, each a thin
//! adapter from its paths, fields and error shape onto the core. This
//! module mounts them (`--api NAME[@PREFIX]`), refuses clashing routes, and
//! answers unknown paths and wrong methods under a dialect's first path
//! segments in that dialect's shape.

pub mod auth_token;
pub mod csrf_cookie;
pub mod jwt_roles;
pub mod kit;
pub mod uid_token;
pub mod verify_code;

use super::AppState;
use super::problem::{Problem, Render};
use crate::config::DialectMount;
use axum::Router;
use axum::response::Response;
use kit::Entry;
use std::collections::{BTreeMap, BTreeSet};

/// Every dialect this build knows: adding one is a module and a row here.
pub const DIALECTS: &[Entry] = &[
    Entry::of::<verify_code::VerifyCode>(),
    Entry::of::<auth_token::AuthToken>(),
    Entry::of::<uid_token::UidToken>(),
    Entry::of::<jwt_roles::JwtRoles>(),
    Entry::of::<csrf_cookie::CsrfCookie>(),
];

/// The dialect `--api` calls `name`.
fn dialect(name: &str) -> Option<&'static Entry> {
    DIALECTS.iter().find(|d| d.name == name)
}

/// Why the dialects cannot be mounted together (a setting's error).
#[derive(Debug)]
pub struct MountError {
    pub message: String,
}

impl MountError {
    fn new(message: String) -> Self {
        Self { message }
    }
}

/// Routes of the native API and the web page, which dialects must not shadow.
const BUILT_IN_PREFIXES: &[&str] = &[
    "/api/v1",
    "/.well-known",
    "/healthz",
    "/readyz",
    "/verify",
    "/reset-password",
    "/static",
];

/// `/{x}` parameters compare equal whatever their names.
fn shape(path: &str) -> String {
    path.split('/')
        .map(|segment| if segment.starts_with('{') { "{}" } else { segment })
        .collect::<Vec<_>>()
        .join("/")
}

/// The part of a root-mounted route a dialect claims for its unknown paths:
/// its first segment, or its first two where the first is shared with a
/// built-in route (`/api` of jwt-roles beside `/api/v1`).
fn claim_of(path: &str) -> String {
    let mut segments = path.trim_start_matches('/').split('/');
    let first = format!("/{}", segments.next().unwrap_or_default());
    if BUILT_IN_PREFIXES
        .iter()
        .any(|b| b.starts_with(&format!("{first}/")))
    {
        format!("{first}/{}", segments.next().unwrap_or_default())
    } else {
        first
    }
}

/// The mounted dialects: their routes, and what they claim.
pub struct Mounted {
    pub router: Router<AppState>,
    pub claims: Claims,
}

/// The path prefixes under which each dialect answers unknown paths in its
/// own error shape.
#[derive(Default)]
pub struct Claims(Vec<(String, Render)>);

impl Claims {
    /// The renderer of the dialect that claims `path`, if any.
    pub fn render_for(&self, path: &str) -> Option<Render> {
        self.0
            .iter()
            .find(|(claim, _)| {
                path == claim
                    || path
                        .strip_prefix(claim.as_str())
                        .is_some_and(|rest| rest.starts_with('/'))
            })
            .map(|(_, render)| *render)
    }

    /// The not-found answer for `path`: a dialect's when it claims the
    /// path, else `None` (the native one applies).
    pub fn not_found_for(&self, path: &str) -> Option<Response> {
        self.render_for(path)
            .map(|render| Problem::not_found().render_with(render))
    }
}

/// The dialects' routes, or the clash that forbids mounting them.
pub fn mount(mounts: &[DialectMount]) -> Result<Mounted, MountError> {
    // Who owns each (method, path) and each claimed path prefix.
    let mut owners: BTreeMap<(String, String), &str> = BTreeMap::new();
    let mut claimed: BTreeMap<String, &str> = BTreeMap::new();
    let mut router = Router::new();
    let mut claims = Vec::new();
    for mount in mounts {
        let Some(entry) = dialect(&mount.name) else {
            let known: Vec<&str> = DIALECTS.iter().map(|d| d.name).collect();
            return Err(MountError::new(format!(
                "unknown dialect `{}` (known: {})",
                mount.name,
                known.join(", ")
            )));
        };
        let prefix = mount.prefix.clone().unwrap_or_default();
        let routes = (entry.routes)(&prefix);
        for (method, path) in routes.list() {
            let full = shape(&format!("{prefix}{path}"));
            if let Some(builtin) = BUILT_IN_PREFIXES
                .iter()
                .find(|b| full == **b || full.starts_with(&format!("{b}/")))
            {
                return Err(MountError::new(format!(
                    "dialect `{}` would shadow the built-in `{builtin}`",
                    mount.name
                )));
            }
            if let Some(other) = owners.insert((method.to_string(), full.clone()), &mount.name) {
                return Err(MountError::new(format!(
                    "dialects `{other}` and `{}` both serve {method} {full}",
                    mount.name
                )));
            }
        }
        // Under a prefix the dialect owns all of it; at the root, the first
        // segments of its routes.
        let own: BTreeSet<String> = if prefix.is_empty() {
            routes.list().iter().map(|(_, path)| claim_of(path)).collect()
        } else {
            BTreeSet::from([prefix.clone()])
        };
        for claim in own {
            if let Some(other) = claimed
                .insert(claim.clone(), &mount.name)
                .filter(|other| *other != mount.name)
            {
                return Err(MountError::new(format!(
                    "dialects `{other}` and `{}` both claim {claim}",
                    mount.name
                )));
            }
            claims.push((claim, entry.render));
        }
        let dialect = super::origin::api_layer(entry.router(routes), entry.name, Some(entry.render));
        router = if prefix.is_empty() {
            router.merge(dialect)
        } else {
            router.nest(&prefix, dialect)
        };
    }
    Ok(Mounted {
        router,
        claims: Claims(claims),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::problem::Key;

    fn mounts(list: &[(&str, Option<&str>)]) -> Vec<DialectMount> {
        list.iter()
            .map(|(name, prefix)| DialectMount {
                name: (*name).into(),
                prefix: prefix.map(Into::into),
            })
            .collect()
    }

    #[test]
    fn an_unknown_dialect_is_named_with_those_known() {
        let error = mount(&mounts(&[("nope", None)])).err().unwrap();
        assert!(
            error.message.contains("unknown dialect `nope`") && error.message.contains("jwt-roles"),
            "{}",
            error.message
        );
    }

    #[test]
    fn clashing_dialects_are_named() {
        let error = mount(&mounts(&[("verify-code", None), ("auth-token", None)]))
            .err()
            .unwrap();
        assert!(
            error.message.contains("verify-code") && error.message.contains("auth-token"),
            "{}",
            error.message
        );
        assert!(mount(&mounts(&[("verify-code", None), ("auth-token", Some("/legacy"))])).is_ok());
        assert!(mount(&mounts(&[("uid-token", None), ("verify-code", None)])).is_ok());
        let twice = mount(&mounts(&[("uid-token", Some("/a")), ("uid-token", Some("/a"))]))
            .err()
            .unwrap();
        let mounted = mount(&mounts(&[("uid-token", None), ("auth-token", Some("/legacy"))])).unwrap();
        let claims = mounted.claims;
        assert!(claims.not_found_for("/authorize/x/y/z").is_some());
        assert!(
            claims.not_found_for("/legacy").is_some() && claims.not_found_for("/legacy/auth/x").is_some()
        );
        assert!(claims.not_found_for("/legacyx").is_none() && claims.not_found_for("/api/v1/x").is_none());
        let jwt = mount(&mounts(&[("jwt-roles", None)])).unwrap().claims;
        assert!(jwt.not_found_for("/api/auth/x").is_some() && jwt.not_found_for("/api/membership").is_some());
        assert!(
            jwt.not_found_for("/api/v1/x").is_none(),
            "the native API keeps its own 404"
        );
        assert!(twice.message.contains("uid-token"));
        let shadow = mount(&mounts(&[("verify-code", Some("/api/v1"))])).err().unwrap();
        assert!(shadow.message.contains("/api/v1"), "{}", shadow.message);
    }

    /// One of every core error. The match below stops compiling when a
    /// variant is added, so it cannot be left out of this walk.
    fn every_core_error() -> Vec<crate::app::CoreError> {
        use crate::app::{CoreError as E, Held, ResetProblem, VerificationProblem};
        use crate::domain::Invalid;
        let all = vec![
            E::Invalid(Invalid::Email),
            E::Invalid(Invalid::Username),
            E::Invalid(Invalid::PasswordLength),
            E::Invalid(Invalid::PasswordCommon),
            E::Invalid(Invalid::IdentifierMissing),
            E::Invalid(Invalid::Role("x".into())),
            E::Invalid(Invalid::Field {
                field: "pesel",
                reason: "bad",
            }),
            E::EmailTaken,
            E::UsernameTaken,
            E::InvalidCredentials,
            E::UnknownLogin,
            E::AccountDisabled,
            E::EmailNotVerified,
            E::TooManyAttempts {
                retry_after_secs: 30,
                held: Held::FailedSignIns,
            },
            E::Unauthenticated,
            E::TokenExpired,
            E::InvalidRefreshToken,
            E::Verification(VerificationProblem::Invalid),
            E::Verification(VerificationProblem::Expired),
            E::Verification(VerificationProblem::TooManyAttempts),
            E::AlreadyVerified,
            E::TooManyResends,
            E::ResetToken(ResetProblem::Invalid),
            E::ResetToken(ResetProblem::Expired),
            E::ResetToken(ResetProblem::Used),
            E::RefreshTokenExpired,
            E::WrongCurrentPassword,
            E::PeselTaken,
            E::StaleVersion,
            E::NotFound("member"),
            E::Forbidden,
            E::SecondFactorRequired {
                mfa_token: "t".into(),
            },
            E::InvalidSecondFactor,
            E::StepUpRequired,
            E::SecondFactorEnrolmentRequired,
            E::SecondFactorEnrolled,
            E::SecondFactorMissing,
            E::KeyChangeRefused("only key"),
            E::Upstream(crate::app::upstream::UpstreamProblem::StateInvalid),
            E::SignUpClosed,
            E::Unavailable,
            E::Internal("boom".into()),
        ];
        for error in &all {
            match error {
                E::Invalid(_)
                | E::EmailTaken
                | E::UsernameTaken
                | E::InvalidCredentials
                | E::UnknownLogin
                | E::AccountDisabled
                | E::EmailNotVerified
                | E::TooManyAttempts { .. }
                | E::Unauthenticated
                | E::TokenExpired
                | E::InvalidRefreshToken
                | E::Verification(_)
                | E::AlreadyVerified
                | E::TooManyResends
                | E::ResetToken(_)
                | E::RefreshTokenExpired
                | E::WrongCurrentPassword
                | E::PeselTaken
                | E::StaleVersion
                | E::NotFound(_)
                | E::Forbidden
                | E::SecondFactorRequired { .. }
                | E::InvalidSecondFactor
                | E::StepUpRequired
                | E::SecondFactorEnrolmentRequired
                | E::SecondFactorEnrolled
                | E::SecondFactorMissing
                | E::KeyChangeRefused(_)
                | E::Upstream(_)
                | E::SignUpClosed
                | E::Unavailable
                | E::Internal(_) => {}
            }
        }
        all
    }

    /// Where a dialect turns a non-400 core error into a 400 on purpose,
    /// because its document (or its ancestor) does.
    const DELIBERATE_400: &[(&str, Key)] = &[
        ("jwt-roles", Key::UsernameTaken),
        ("jwt-roles", Key::EmailTaken),
        ("verify-code", Key::AlreadyVerified),
    ];

    #[tokio::test]
    async fn every_core_error_keeps_its_meaning_in_every_dialect() {
        use axum::http::StatusCode;
        for error in every_core_error() {
            let problem = Problem::from(&error);
            for dialect in DIALECTS {
                let response = problem.render_with(dialect.render);
                let status = response.status();
                assert_eq!(
                    response.headers().contains_key("retry-after"),
                    problem.retry_after.is_some(),
                    "{} {error:?}",
                    dialect.name
                );
                let body = axum::body::to_bytes(response.into_body(), 1 << 16).await.unwrap();
                let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
                let context = format!("{} {error:?} -> {status} {body}", dialect.name);
                assert!(status.is_client_error() || status.is_server_error(), "{context}");
                assert_eq!(
                    status.is_server_error(),
                    problem.status.is_server_error(),
                    "{context}"
                );
                if status == StatusCode::BAD_REQUEST && problem.status != StatusCode::BAD_REQUEST {
                    assert!(
                        DELIBERATE_400.contains(&(dialect.name, problem.key)),
                        "an accidental 400: {context}"
                    );
                }
                if problem.status == StatusCode::TOO_MANY_REQUESTS {
                    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{context}");
                }
                let text = body.to_string();
                assert!(!text.contains("boom"), "a cause leaked: {context}");
                assert!(body.get("error").is_none(), "native shape leaked: {context}");
            }
        }
    }
}
