//! Keys addressed by `kid`: the newest signs, every one verifies.
//!
//! A key set holds keys of one algorithm: HS256 secrets, or Ed25519 keys. An Ed25519 set made
//! by the issuer has the private half of the key that signs; one made by a verifier (from the
//! issuer's JWK Set) has public halves only and cannot sign.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey as _, DecodePublicKey as _, EncodePublicKey as _};
use hmac::{Hmac, KeyInit as _};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use sha2::{Digest as _, Sha256};

use crate::Secret;

/// The shortest secret accepted: 32 bytes, the output size of SHA-256 (RFC 7518 §3.2).
pub const MIN_SECRET_BYTES: usize = 32;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    #[error("must be at least {MIN_SECRET_BYTES} bytes long (it is {0})")]
    TooShort(usize),
    #[error("could not be turned into a key")]
    Unusable,
    #[error("is not {0}")]
    NotPem(&'static str),
    #[error("is not a JWK Set: {0}")]
    NotJwks(String),
    #[error("could not be generated: {0}")]
    NoRandomness(String),
}

/// The algorithm that signs access tokens (`ACCESS_TOKEN_ALG`): a verifier accepts it alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TokenAlgorithm {
    /// HMAC with SHA-256 under a secret both sides hold.
    #[default]
    Hs256,
    /// Ed25519: only the issuer holds the private key; verifiers hold public keys.
    EdDsa,
}

impl TokenAlgorithm {
    /// The JOSE name, as in a token's `alg` header.
    pub fn name(self) -> &'static str {
        match self {
            Self::Hs256 => "HS256",
            Self::EdDsa => "EdDSA",
        }
    }

    pub(crate) fn jose(self) -> Algorithm {
        match self {
            Self::Hs256 => Algorithm::HS256,
            Self::EdDsa => Algorithm::EdDSA,
        }
    }
}

impl fmt::Display for TokenAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for TokenAlgorithm {
    type Err = String;

    /// `HS256` or `EdDSA`, in any case.
    fn from_str(value: &str) -> Result<Self, Self::Err> {
        if value.eq_ignore_ascii_case("HS256") {
            Ok(Self::Hs256)
        } else if value.eq_ignore_ascii_case("EdDSA") {
            Ok(Self::EdDsa)
        } else {
            Err("must be HS256 or EdDSA".into())
        }
    }
}

/// What checks a signature: a keyed HMAC state, or an Ed25519 public key.
pub(crate) enum Verifier {
    /// HMAC-SHA256 keyed once: verifying clones it instead of keying anew.
    Hmac(Hmac<Sha256>),
    Ed25519(ed25519_dalek::VerifyingKey),
}

pub(crate) struct Key {
    pub(crate) kid: String,
    /// `None` for a key whose private half this process does not hold.
    pub(crate) encoding: Option<EncodingKey>,
    pub(crate) decoding: DecodingKey,
    pub(crate) verifier: Verifier,
}

/// A set of keys of one algorithm. The first signs, if this process holds its private half;
/// all of them verify, so an older key can be kept for a while after a rotation (and, with
/// Ed25519, the next one published before it signs).
pub struct KeySet {
    algorithm: TokenAlgorithm,
    keys: Vec<Key>,
}

impl fmt::Debug for KeySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kids: Vec<&str> = self.keys.iter().map(|k| k.kid.as_str()).collect();
        f.debug_struct("KeySet")
            .field("algorithm", &self.algorithm)
            .field("kids", &kids)
            .finish()
    }
}

impl KeySet {
    /// HS256: `current` signs; `previous` only verify.
    pub fn new(current: &Secret, previous: &[Secret]) -> Result<Self, KeyError> {
        let keys = std::iter::once(current)
            .chain(previous)
            .map(Key::from_secret)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            algorithm: TokenAlgorithm::Hs256,
            keys,
        })
    }

    /// HS256 with one secret.
    pub fn single(secret: &Secret) -> Result<Self, KeyError> {
        Self::new(secret, &[])
    }

    /// Ed25519 as the issuer holds it: `signing` signs; `published` (the next key, before it
    /// signs, and retired ones, until their last token has expired) only verify. A published
    /// key that is the signing key's own public half is listed once.
    pub fn ed25519(signing: &Ed25519PrivateKey, published: &[Ed25519PublicKey]) -> Result<Self, KeyError> {
        let own = signing.public_key();
        let mut keys = vec![Key::from_ed25519(&own, Some(signing))?];
        for public in published {
            if public.kid() != own.kid() && !keys.iter().any(|k| k.kid == public.kid()) {
                keys.push(Key::from_ed25519(public, None)?);
            }
        }
        Ok(Self {
            algorithm: TokenAlgorithm::EdDsa,
            keys,
        })
    }

    /// Ed25519 as a verifier holds it: public keys only, each under the `kid` its issuer
    /// published it with. It cannot sign. May be empty (nothing fetched yet).
    pub fn ed25519_public(keys: Vec<(String, Ed25519PublicKey)>) -> Result<Self, KeyError> {
        let keys = keys
            .into_iter()
            .map(|(kid, public)| {
                let mut key = Key::from_ed25519(&public, None)?;
                key.kid = kid;
                Ok(key)
            })
            .collect::<Result<Vec<_>, KeyError>>()?;
        Ok(Self {
            algorithm: TokenAlgorithm::EdDsa,
            keys,
        })
    }

    /// The Ed25519 keys of an RFC 7517 JWK Set, as an issuer publishes them: every member with
    /// `kty` `OKP`, `crv` `Ed25519`, a `kid` and a 32-byte `x`, whose `alg` (if given) is
    /// `EdDSA` and whose `use` (if given) is `sig`. Other members (other key types, keys for
    /// encryption) are left out; a document that is not a JWK Set at all is an error.
    pub fn from_jwks(document: &[u8]) -> Result<Self, KeyError> {
        #[derive(serde::Deserialize)]
        struct Set {
            keys: Vec<serde_json::Map<String, serde_json::Value>>,
        }
        let set: Set = serde_json::from_slice(document).map_err(|e| KeyError::NotJwks(e.to_string()))?;
        let text = |member: &serde_json::Map<String, serde_json::Value>, name: &str| {
            member.get(name).and_then(serde_json::Value::as_str).map(str::to_owned)
        };
        let mut keys = Vec::new();
        for member in &set.keys {
            let ours = text(member, "kty").as_deref() == Some("OKP")
                && text(member, "crv").as_deref() == Some("Ed25519")
                && text(member, "alg").as_deref().is_none_or(|alg| alg == "EdDSA")
                && text(member, "use").as_deref().is_none_or(|usage| usage == "sig");
            let (Some(kid), Some(x)) = (text(member, "kid"), text(member, "x")) else {
                continue;
            };
            if !ours || kid.is_empty() || keys.iter().any(|(known, _)| *known == kid) {
                continue;
            }
            if let Ok(public) = Ed25519PublicKey::from_x(&x) {
                keys.push((kid, public));
            }
        }
        Self::ed25519_public(keys)
    }

    /// The RFC 7517 JWK Set of this set's public keys, as `GET /.well-known/jwks.json` serves
    /// it: `{"keys":[]}` for HS256, whose keys are secrets.
    pub fn jwks(&self) -> String {
        let keys: Vec<serde_json::Value> = self
            .keys
            .iter()
            .filter_map(|key| match &key.verifier {
                Verifier::Ed25519(public) => Some(Ed25519PublicKey(*public).jwk(&key.kid)),
                Verifier::Hmac(_) => None,
            })
            .collect();
        serde_json::json!({ "keys": keys }).to_string()
    }

    pub fn algorithm(&self) -> TokenAlgorithm {
        self.algorithm
    }

    /// The key that signs, if this process holds one.
    pub(crate) fn signing(&self) -> Option<&Key> {
        self.keys.first().filter(|key| key.encoding.is_some())
    }

    pub(crate) fn all(&self) -> &[Key] {
        &self.keys
    }

    pub(crate) fn find(&self, kid: &str) -> Option<&Key> {
        self.keys.iter().find(|k| k.kid == kid)
    }

    /// The `kid` of the signing key (of the first key, in a set that cannot sign; empty in an
    /// empty set).
    pub fn current_kid(&self) -> &str {
        self.keys.first().map_or("", |k| k.kid.as_str())
    }

    /// Every `kid` in the set, the signing key's first.
    pub fn kids(&self) -> Vec<&str> {
        self.keys.iter().map(|k| k.kid.as_str()).collect()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }
}

impl Key {
    fn from_secret(secret: &Secret) -> Result<Self, KeyError> {
        if secret.len() < MIN_SECRET_BYTES {
            return Err(KeyError::TooShort(secret.len()));
        }
        let bytes = secret.expose().as_bytes();
        Ok(Self {
            kid: key_id(secret)?,
            encoding: Some(EncodingKey::from_secret(bytes).map_err(|_| KeyError::Unusable)?),
            decoding: DecodingKey::from_secret(bytes).map_err(|_| KeyError::Unusable)?,
            verifier: Verifier::Hmac(Hmac::new_from_slice(bytes).map_err(|_| KeyError::Unusable)?),
        })
    }

    fn from_ed25519(public: &Ed25519PublicKey, private: Option<&Ed25519PrivateKey>) -> Result<Self, KeyError> {
        let encoding = private.map(|private| EncodingKey::from_ed_der(&private.pkcs8_der()[..]));
        Ok(Self {
            kid: public.kid(),
            encoding,
            decoding: DecodingKey::from_ed_der(public.0.as_bytes()),
            verifier: Verifier::Ed25519(public.0),
        })
    }
}

/// A key's id: the first 16 characters of base64url(HMAC-SHA256(secret, "kid")).
/// Stable for a secret, so every instance and both servers agree on it without
/// configuration, and it reveals nothing about the secret.
pub fn key_id(secret: &Secret) -> Result<String, KeyError> {
    let key = EncodingKey::from_secret(secret.expose().as_bytes()).map_err(|_| KeyError::Unusable)?;
    let mac = jsonwebtoken::crypto::sign(b"kid", &key, Algorithm::HS256).map_err(|_| KeyError::Unusable)?;
    Ok(mac.chars().take(16).collect())
}

/// The private half of an Ed25519 key (`ACCESS_TOKEN_PRIVATE_KEY_FILE`). `Debug` never shows
/// it; it is wiped from memory when dropped.
pub struct Ed25519PrivateKey(ed25519_dalek::SigningKey);

impl fmt::Debug for Ed25519PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Ed25519PrivateKey")
            .field(&self.public_key().kid())
            .finish()
    }
}

impl Ed25519PrivateKey {
    /// A new key from the operating system's random source.
    pub fn generate() -> Result<Self, KeyError> {
        let mut seed = [0u8; ed25519_dalek::SECRET_KEY_LENGTH];
        getrandom::fill(&mut seed).map_err(|e| KeyError::NoRandomness(e.to_string()))?;
        let key = ed25519_dalek::SigningKey::from_bytes(&seed);
        seed.fill(0);
        Ok(Self(key))
    }

    /// A PKCS#8 PEM document (`-----BEGIN PRIVATE KEY-----`), as OpenSSL's
    /// `openssl genpkey -algorithm ed25519` and `auth-server keys generate` write it.
    pub fn from_pkcs8_pem(pem: &str) -> Result<Self, KeyError> {
        ed25519_dalek::SigningKey::from_pkcs8_pem(pem.trim())
            .map(Self)
            .map_err(|_| KeyError::NotPem("a PKCS#8 PEM Ed25519 private key"))
    }

    /// This key as a PKCS#8 PEM document, the private key itself, for a file only its owner
    /// can read: version 1 (RFC 8410 §7, the seed alone), which every tool reads; OpenSSL 3.0
    /// refuses the version 2 that `ed25519-dalek` writes, with the public key inside.
    pub fn to_pkcs8_pem(&self) -> Result<Secret, KeyError> {
        use base64::engine::general_purpose::STANDARD;
        let body = zeroize::Zeroizing::new(STANDARD.encode(&self.pkcs8_der()[..]));
        Ok(Secret::new(format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
            body.as_str()
        )))
    }

    /// This key in PKCS#8 version 1 DER, wiped when dropped: what the PEM document holds, and
    /// what jsonwebtoken signs with.
    fn pkcs8_der(&self) -> zeroize::Zeroizing<[u8; 48]> {
        /// `PrivateKeyInfo { version 0, algorithm id-Ed25519, privateKey OCTET STRING { OCTET STRING (32) } }`
        const PREFIX: [u8; 16] = [
            0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
        ];
        let mut der = zeroize::Zeroizing::new([0u8; 48]);
        der[..16].copy_from_slice(&PREFIX);
        der[16..].copy_from_slice(self.0.as_bytes());
        der
    }

    pub fn public_key(&self) -> Ed25519PublicKey {
        Ed25519PublicKey(self.0.verifying_key())
    }
}

/// The public half of an Ed25519 key.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Ed25519PublicKey(ed25519_dalek::VerifyingKey);

impl fmt::Debug for Ed25519PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Ed25519PublicKey").field(&self.kid()).finish()
    }
}

impl Ed25519PublicKey {
    /// A SubjectPublicKeyInfo PEM document (`-----BEGIN PUBLIC KEY-----`).
    pub fn from_pem(pem: &str) -> Result<Self, KeyError> {
        ed25519_dalek::VerifyingKey::from_public_key_pem(pem.trim())
            .map(Self)
            .map_err(|_| KeyError::NotPem("a PEM Ed25519 public key"))
    }

    /// Every public key of a text of concatenated PEM documents (blank lines and comments
    /// between them allowed); an empty text holds none.
    pub fn from_pem_bundle(text: &str) -> Result<Vec<Self>, KeyError> {
        const BEGIN: &str = "-----BEGIN PUBLIC KEY-----";
        const END: &str = "-----END PUBLIC KEY-----";
        let mut keys = Vec::new();
        let mut rest = text;
        while let Some(start) = rest.find(BEGIN) {
            let after = &rest[start..];
            let end = after.find(END).ok_or(KeyError::NotPem("a PEM Ed25519 public key"))?;
            keys.push(Self::from_pem(&after[..end + END.len()])?);
            rest = &after[end + END.len()..];
        }
        if keys.is_empty() && !text.trim().is_empty() {
            return Err(KeyError::NotPem("a PEM Ed25519 public key"));
        }
        Ok(keys)
    }

    /// The key from a JWK's `x` member (base64url of its 32 bytes, RFC 8037).
    pub fn from_x(x: &str) -> Result<Self, KeyError> {
        let bytes = URL_SAFE_NO_PAD.decode(x).map_err(|_| KeyError::Unusable)?;
        let bytes: [u8; 32] = bytes.try_into().map_err(|_| KeyError::Unusable)?;
        ed25519_dalek::VerifyingKey::from_bytes(&bytes)
            .map(Self)
            .map_err(|_| KeyError::Unusable)
    }

    /// This key as a SubjectPublicKeyInfo PEM document.
    pub fn to_pem(&self) -> Result<String, KeyError> {
        self.0.to_public_key_pem(LineEnding::LF).map_err(|_| KeyError::Unusable)
    }

    /// The key's 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        self.0.as_bytes()
    }

    /// base64url of the key's bytes: its JWK's `x`.
    pub fn x(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.0.as_bytes())
    }

    /// Its `kid`: the RFC 7638 JWK thumbprint (SHA-256, base64url), which any party can
    /// compute from the public key alone.
    pub fn kid(&self) -> String {
        let canonical = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#, self.x());
        URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
    }

    /// Its JWK (RFC 7517, RFC 8037) under `kid`.
    pub fn jwk(&self, kid: &str) -> serde_json::Value {
        serde_json::json!({
            "kty": "OKP",
            "crv": "Ed25519",
            "x": self.x(),
            "kid": kid,
            "alg": "EdDSA",
            "use": "sig",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_secrets_are_refused() {
        let err = KeySet::single(&Secret::new("x".repeat(31))).expect_err("31 bytes is too short");
        assert_eq!(err, KeyError::TooShort(31));
        assert!(KeySet::single(&Secret::new("x".repeat(32))).is_ok());
    }

    #[test]
    fn kid_is_stable_and_differs_between_secrets() {
        let a = Secret::new("a".repeat(32));
        let b = Secret::new("b".repeat(32));
        assert_eq!(key_id(&a), key_id(&a));
        assert_ne!(key_id(&a), key_id(&b));
        assert_eq!(key_id(&a).expect("kid").len(), 16);
    }

    #[test]
    fn newest_signs_and_all_are_found() {
        let a = Secret::new("a".repeat(32));
        let b = Secret::new("b".repeat(32));
        let set = KeySet::new(&a, std::slice::from_ref(&b)).expect("valid keys");
        assert_eq!(set.current_kid(), key_id(&a).expect("kid"));
        assert!(set.find(&key_id(&b).expect("kid")).is_some());
        assert!(set.find("unknown").is_none());
    }

    /// RFC 8037 §A.1–A.3: the example key, its `x` and its thumbprint.
    const RFC8037_D: &str = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A";
    const RFC8037_X: &str = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";
    const RFC8037_THUMBPRINT: &str = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k";

    fn rfc8037_key() -> Ed25519PrivateKey {
        let d: [u8; 32] = URL_SAFE_NO_PAD
            .decode(RFC8037_D)
            .expect("base64url")
            .try_into()
            .expect("32 bytes");
        Ed25519PrivateKey(ed25519_dalek::SigningKey::from_bytes(&d))
    }

    #[test]
    fn ed25519_kid_is_the_rfc_7638_thumbprint_of_rfc_8037() {
        let public = rfc8037_key().public_key();
        assert_eq!(public.x(), RFC8037_X);
        assert_eq!(public.kid(), RFC8037_THUMBPRINT);
        assert_eq!(Ed25519PublicKey::from_x(RFC8037_X), Ok(public));
    }

    /// RFC 8410 §10.3: a private key in PKCS#8, and §10.1 its public key.
    #[test]
    fn pem_documents_of_rfc_8410_are_read() {
        let private = Ed25519PrivateKey::from_pkcs8_pem(
            "-----BEGIN PRIVATE KEY-----\n\
             MC4CAQAwBQYDK2VwBCIEINTuctv5E1hK1bbY8fdp+K06/nwoy/HU++CXqI9EdVhC\n\
             -----END PRIVATE KEY-----\n",
        )
        .expect("RFC 8410's private key");
        let public = Ed25519PublicKey::from_pem(
            "-----BEGIN PUBLIC KEY-----\n\
             MCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n\
             -----END PUBLIC KEY-----\n",
        )
        .expect("RFC 8410's public key");
        assert_eq!(private.public_key(), public);
        let pem = private.to_pkcs8_pem().expect("PEM");
        let again = Ed25519PrivateKey::from_pkcs8_pem(pem.expose()).expect("read back");
        assert_eq!(again.public_key(), public);
        assert_eq!(
            pem.expose(),
            "-----BEGIN PRIVATE KEY-----\n\
             MC4CAQAwBQYDK2VwBCIEINTuctv5E1hK1bbY8fdp+K06/nwoy/HU++CXqI9EdVhC\n\
             -----END PRIVATE KEY-----\n",
            "written as RFC 8410 writes it"
        );
        assert_eq!(Ed25519PublicKey::from_pem(&public.to_pem().expect("PEM")), Ok(public));
    }

    #[test]
    fn other_pem_documents_are_refused() {
        assert!(Ed25519PrivateKey::from_pkcs8_pem("").is_err());
        assert!(
            Ed25519PrivateKey::from_pkcs8_pem("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----").is_err()
        );
        let public = rfc8037_key().public_key().to_pem().expect("PEM");
        assert!(
            Ed25519PrivateKey::from_pkcs8_pem(&public).is_err(),
            "a public key is not a private key"
        );
        assert!(Ed25519PublicKey::from_pem_bundle("not a key").is_err());
        assert_eq!(Ed25519PublicKey::from_pem_bundle("\n  \n"), Ok(vec![]));
    }

    #[test]
    fn a_bundle_holds_every_key_in_order() {
        let a = Ed25519PrivateKey::generate().expect("key").public_key();
        let b = Ed25519PrivateKey::generate().expect("key").public_key();
        let text = format!(
            "# next key\n{}\n# retired\n{}",
            a.to_pem().expect("PEM"),
            b.to_pem().expect("PEM")
        );
        assert_eq!(Ed25519PublicKey::from_pem_bundle(&text), Ok(vec![a, b]));
    }

    #[test]
    fn the_issuer_publishes_every_key_once_and_a_verifier_reads_them_back() {
        let signing = Ed25519PrivateKey::generate().expect("key");
        let next = Ed25519PrivateKey::generate().expect("key").public_key();
        let set = KeySet::ed25519(&signing, &[next, signing.public_key(), next]).expect("keys");
        assert_eq!(set.kids(), vec![signing.public_key().kid(), next.kid()]);
        assert!(set.signing().is_some());

        let jwks: serde_json::Value = serde_json::from_str(&set.jwks()).expect("JSON");
        let first = &jwks["keys"][0];
        assert_eq!(first["kty"], "OKP");
        assert_eq!(first["crv"], "Ed25519");
        assert_eq!(first["alg"], "EdDSA");
        assert_eq!(first["use"], "sig");
        assert_eq!(first["kid"], signing.public_key().kid());
        assert_eq!(first["x"], signing.public_key().x());
        assert!(first.get("d").is_none(), "never the private key");

        let read = KeySet::from_jwks(set.jwks().as_bytes()).expect("a JWK Set");
        assert_eq!(read.kids(), set.kids());
        assert!(read.signing().is_none(), "a verifier cannot sign");
    }

    #[test]
    fn hs256_publishes_an_empty_set() {
        let set = KeySet::single(&Secret::new("s".repeat(32))).expect("keys");
        assert_eq!(set.jwks(), r#"{"keys":[]}"#);
    }

    #[test]
    fn a_jwk_set_keeps_only_ed25519_signing_keys() {
        let x = rfc8037_key().public_key().x();
        let document = serde_json::json!({ "keys": [
            { "kty": "OKP", "crv": "Ed25519", "x": x, "kid": "good" },
            { "kty": "OKP", "crv": "Ed25519", "x": x, "kid": "for-encryption", "use": "enc" },
            { "kty": "OKP", "crv": "Ed25519", "x": x, "kid": "other-alg", "alg": "ES256" },
            { "kty": "OKP", "crv": "X25519", "x": x, "kid": "x25519" },
            { "kty": "RSA", "n": "AQAB", "e": "AQAB", "kid": "rsa" },
            { "kty": "oct", "k": "c2VjcmV0", "kid": "secret" },
            { "kty": "OKP", "crv": "Ed25519", "x": "short", "kid": "bad-x" },
            { "kty": "OKP", "crv": "Ed25519", "x": x },
            { "kty": "OKP", "crv": "Ed25519", "x": x, "kid": "good" },
        ]});
        let set = KeySet::from_jwks(document.to_string().as_bytes()).expect("a JWK Set");
        assert_eq!(set.kids(), vec!["good"]);
        for not_a_set in ["", "[]", "{}", r#"{"keys":{}}"#, "null"] {
            assert!(KeySet::from_jwks(not_a_set.as_bytes()).is_err(), "{not_a_set:?}");
        }
        assert!(KeySet::from_jwks(br#"{"keys":[]}"#).expect("empty").is_empty());
    }

    #[test]
    fn algorithms_are_named_as_jose_names_them() {
        assert_eq!("HS256".parse(), Ok(TokenAlgorithm::Hs256));
        assert_eq!("EdDSA".parse(), Ok(TokenAlgorithm::EdDsa));
        assert_eq!("eddsa".parse(), Ok(TokenAlgorithm::EdDsa));
        assert!("RS256".parse::<TokenAlgorithm>().is_err());
        assert!("none".parse::<TokenAlgorithm>().is_err());
    }
}
