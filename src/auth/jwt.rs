//! The JWT bearer grant's assertion (RFC 7523), checked against the application's JWT profile
//! (`oauth_entity`'s `jwt_*`, `user_field`, `clock_skew`, `enable_jti_verification`). The
//! signature and the `exp`, `nbf`, `iss` and `aud` claims are verified by `jsonwebtoken`; this
//! module only chooses the key and the algorithms the profile allows, and checks `iat`.

use jsonwebtoken::{Algorithm, DecodingKey, Validation};

use crate::model::registry::MAX_CLOCK_SKEW;
use crate::model::value::{Record, Value};

/// What a verified assertion says.
#[derive(Debug, Clone)]
pub struct Assertion {
    /// The `sub` claim: matched against the profile's user field.
    pub sub: String,
    /// The `jti` claim, with the assertion's `exp` (Unix seconds), when the profile verifies
    /// `jti`s: it may be used once before then.
    pub jti: Option<(String, i64)>,
}

/// The claims read from an assertion (`aud` may be a string or a list; `jsonwebtoken` checks
/// it, `exp`, `nbf` and `iss`).
#[derive(Debug, serde::Deserialize)]
struct Claims {
    sub: Option<String>,
    iat: Option<i64>,
    exp: i64,
    jti: Option<String>,
}

/// The profile's user field (default `user_name`).
pub fn user_field(client: &Record) -> &str {
    client.str("user_field").unwrap_or("user_name")
}

/// Verifies `assertion` for `client` at `now` (Unix seconds). The refusal is the reason, for
/// the log line only: the client is told no more than for any failed login.
pub fn verify(client: &Record, assertion: &str, now: i64) -> Result<Assertion, &'static str> {
    let family = client
        .str("jwt_algorithm_family")
        .ok_or("the application has no JWT profile")?;
    let key = client
        .str("jwt_key")
        .ok_or("the application's JWT profile has no key")?;
    let header = jsonwebtoken::decode_header(assertion).map_err(|_| "malformed assertion")?;
    let (allowed, key) = match family.to_ascii_uppercase().as_str() {
        "HS" => (
            [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512].as_slice(),
            DecodingKey::from_secret(key.as_bytes()),
        ),
        "RS" => (
            [Algorithm::RS256, Algorithm::RS384, Algorithm::RS512].as_slice(),
            DecodingKey::from_rsa_pem(key.as_bytes())
                .map_err(|_| "the JWT profile's key is not an RSA public key")?,
        ),
        "ES" => (
            [Algorithm::ES256, Algorithm::ES384].as_slice(),
            DecodingKey::from_ec_pem(key.as_bytes())
                .map_err(|_| "the JWT profile's key is not an EC public key")?,
        ),
        _ => return Err("the JWT profile's algorithm family is not HS, RS or ES"),
    };
    if !allowed.contains(&header.alg) {
        return Err("the assertion's algorithm is not the profile's");
    }
    let skew = match client.get("clock_skew") {
        Value::Int(s) => (*s).clamp(0, MAX_CLOCK_SKEW),
        _ => 0,
    };
    let client_id = client.str("client_id").unwrap_or_default();
    let mut validation = Validation::new(header.alg);
    validation.algorithms = vec![header.alg];
    validation.leeway = skew as u64;
    validation.validate_nbf = true;
    validation.set_issuer(&[client_id]);
    validation.set_audience(&[client_id]);
    validation.set_required_spec_claims(&["exp", "iat", "sub", "iss", "aud"]);
    let claims = jsonwebtoken::decode::<Claims>(assertion, &key, &validation)
        .map_err(|e| match e.kind() {
            jsonwebtoken::errors::ErrorKind::InvalidSignature => "bad signature",
            jsonwebtoken::errors::ErrorKind::ExpiredSignature => "expired",
            jsonwebtoken::errors::ErrorKind::ImmatureSignature => "not yet valid (nbf)",
            jsonwebtoken::errors::ErrorKind::InvalidIssuer => "iss is not the client id",
            jsonwebtoken::errors::ErrorKind::InvalidAudience => "aud is not the client id",
            jsonwebtoken::errors::ErrorKind::MissingRequiredClaim(_) => {
                "a required claim is missing"
            }
            _ => "invalid assertion",
        })?
        .claims;
    match claims.iat {
        Some(iat) if iat <= now + skew => {}
        _ => return Err("iat is in the future"),
    }
    let sub = claims.sub.filter(|s| !s.is_empty()).ok_or("no sub")?;
    let verify_jti = client.get("enable_jti_verification") != &Value::Bool(false);
    let jti = if verify_jti {
        let jti = claims.jti.filter(|j| !j.is_empty()).ok_or("no jti")?;
        Some((jti, claims.exp))
    } else {
        None
    };
    Ok(Assertion { sub, jti })
}
