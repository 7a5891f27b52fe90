//! EdDSA access tokens: issued by the holder of an Ed25519 private key, verified by anyone
//! with the public key set; and every way a token of the other algorithm, or made with the
//! public key as a secret, is refused.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use jwt_tokens::{
    AccessTokens, Ed25519PrivateKey, Ed25519PublicKey, KeySet, Secret, TokenAlgorithm, TokenSettings, VerifyReason,
    key_id,
};
use serde_json::{Value, json};
use test_support::jose::{self, Algorithm};

const HS256_SECRET: &str = "the-former-hs256-access-secret-0123456789";

fn settings() -> TokenSettings {
    TokenSettings {
        issuer: "auth-server".into(),
        audience: "posts-server".into(),
        leeway: Duration::from_secs(5),
    }
}

struct Issuer {
    private: Ed25519PrivateKey,
    pem: String,
    tokens: AccessTokens,
}

fn issuer() -> Issuer {
    let private = Ed25519PrivateKey::generate().expect("a key");
    let pem = private.to_pkcs8_pem().expect("PEM").expose().to_owned();
    let tokens = AccessTokens::new(KeySet::ed25519(&private, &[]).expect("keys"), &settings());
    Issuer { private, pem, tokens }
}

impl Issuer {
    fn public(&self) -> Ed25519PublicKey {
        self.private.public_key()
    }

    fn kid(&self) -> String {
        self.public().kid()
    }

    fn token(&self) -> String {
        self.tokens
            .issue("user-1", "Kyle", "session-1", Duration::from_secs(900))
            .expect("issued")
    }
}

/// A verifier as posts-server runs it: no secret, the issuer's published set.
fn verifier_of(issuer: &Issuer) -> AccessTokens {
    let verifier = AccessTokens::following(&settings());
    let keys = KeySet::from_jwks(issuer.tokens.jwks().as_bytes()).expect("the issuer's JWK Set");
    verifier.replace_keys(keys).expect("keys of the same algorithm");
    verifier
}

fn claims() -> Value {
    let now = jsonwebtoken::get_current_timestamp();
    json!({"iss": "auth-server", "aud": "posts-server", "sub": "user-1", "name": "Kyle",
        "iat": now, "nbf": now, "exp": now + 900, "jti": "j-1", "sid": "session-1"})
}

fn reason(verifier: &AccessTokens, token: &str) -> Result<(), VerifyReason> {
    let outcome = verifier.verify(token).map(drop).map_err(|e| e.reason);
    let library = verifier.verify_by_library(token).map(drop).map_err(|e| e.reason);
    assert_eq!(outcome, library, "the fast path and jsonwebtoken disagree on {token}");
    outcome
}

#[test]
fn an_issued_token_verifies_with_the_published_keys_alone() {
    let issuer = issuer();
    let token = issuer.token();
    let header: Value = serde_json::from_slice(&jose::b64url_decode(&jose::parts(&token)[0])).expect("JSON");
    assert_eq!(header, json!({"typ": "at+jwt", "alg": "EdDSA", "kid": issuer.kid()}));
    let verifier = verifier_of(&issuer);
    assert_eq!(verifier.algorithm(), TokenAlgorithm::EdDsa);
    let claims = verifier.verify(&token).expect("valid");
    assert_eq!((claims.sub.as_str(), claims.name.as_str()), ("user-1", "Kyle"));
    assert!(
        verifier.issue("u", "n", "s", Duration::from_secs(60)).is_err(),
        "a verifier cannot sign"
    );
    assert_eq!(
        issuer.tokens.verify(&token).expect("the issuer verifies too").jti,
        claims.jti
    );
}

#[test]
fn a_verifier_without_keys_refuses_everything_and_asks_for_them_once_per_token() {
    let issuer = issuer();
    let verifier = AccessTokens::following(&settings());
    assert!(!verifier.has_keys());
    let asked = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&asked);
    verifier.on_unknown_kid(move || {
        counter.fetch_add(1, Ordering::Relaxed);
    });
    let token = issuer.token();
    assert_eq!(reason(&verifier, &token), Err(VerifyReason::UnknownKey));
    assert_eq!(
        asked.load(Ordering::Relaxed),
        2,
        "once for each of the two paths `reason` takes"
    );
    verifier
        .replace_keys(KeySet::from_jwks(issuer.tokens.jwks().as_bytes()).expect("JWKS"))
        .expect("replaced");
    assert!(verifier.has_keys());
    assert_eq!(reason(&verifier, &token), Ok(()));
    assert_eq!(asked.load(Ordering::Relaxed), 2);
}

#[test]
fn a_key_removed_from_the_set_no_longer_verifies_even_a_token_seen_before() {
    let old = issuer();
    let new = issuer();
    let verifier = verifier_of(&old);
    let token = old.token();
    assert_eq!(verifier.verify(&token).map(drop), Ok(()));
    assert_eq!(verifier.verify(&token).map(drop), Ok(()), "found again");
    assert_eq!(verifier.verified_cache_len(), 1);

    // Both keys published (a rotation): both verify.
    let both = KeySet::ed25519(&new.private, &[old.public()]).expect("keys");
    verifier
        .replace_keys(KeySet::from_jwks(both.jwks().as_bytes()).expect("JWKS"))
        .expect("replaced");
    assert_eq!(reason(&verifier, &token), Ok(()));
    assert_eq!(reason(&verifier, &new.token()), Ok(()));

    // The old key retired: its token is refused, though it was verified and kept before.
    verifier
        .replace_keys(KeySet::from_jwks(new.tokens.jwks().as_bytes()).expect("JWKS"))
        .expect("replaced");
    assert_eq!(
        verifier.verify(&token).map(drop).map_err(|e| e.reason),
        Err(VerifyReason::UnknownKey)
    );
    assert_eq!(reason(&verifier, &new.token()), Ok(()));
}

#[test]
fn a_kept_token_is_found_only_by_its_whole_text() {
    let issuer = issuer();
    let verifier = verifier_of(&issuer);
    let token = issuer.token();
    verifier.verify(&token).expect("valid");
    // The same claims and header with another signature: not the token that was verified.
    let mut signature = jose::b64url_decode(&jose::signature(&token));
    signature[10] ^= 1;
    let forged = jose::with_signature(&token, &jose::b64url(&signature));
    assert_eq!(reason(&verifier, &forged), Err(VerifyReason::BadSignature));
    let trailing = format!("{token}A");
    assert!(verifier.verify(&trailing).is_err());
    assert_eq!(verifier.verified_cache_len(), 1);
}

#[test]
fn no_cache_when_it_is_turned_off_and_none_for_hs256() {
    let issuer = issuer();
    let verifier = AccessTokens::following(&settings()).with_verified_cache(0);
    verifier
        .replace_keys(KeySet::from_jwks(issuer.tokens.jwks().as_bytes()).expect("JWKS"))
        .expect("replaced");
    verifier.verify(&issuer.token()).expect("valid");
    assert_eq!(verifier.verified_cache_len(), 0);

    let hs256 = AccessTokens::new(KeySet::single(&Secret::new(HS256_SECRET)).expect("keys"), &settings())
        .with_verified_cache(100);
    let token = hs256.issue("u", "n", "s", Duration::from_secs(60)).expect("issued");
    hs256.verify(&token).expect("valid");
    assert_eq!(hs256.verified_cache_len(), 0);
}

#[test]
fn fixed_keys_are_not_replaced_and_keys_of_another_algorithm_are_refused() {
    let issuer = issuer();
    let hs256 = KeySet::single(&Secret::new(HS256_SECRET)).expect("keys");
    assert!(
        issuer
            .tokens
            .replace_keys(KeySet::from_jwks(b"{\"keys\":[]}").expect("JWKS"))
            .is_err()
    );
    assert!(AccessTokens::following(&settings()).replace_keys(hs256).is_err());
}

/// The forgeries of the algorithm-confusion family, each refused by an EdDSA verifier, with
/// the reason it gives.
#[test]
fn an_eddsa_verifier_refuses_every_token_of_another_algorithm() {
    let issuer = issuer();
    let verifier = verifier_of(&issuer);
    let public = issuer.public();
    let kid = issuer.kid();
    let claims = claims();
    let hs = |kid: &str| jose::header("at+jwt", kid);
    let raw = String::from_utf8_lossy(public.as_bytes()).into_owned();
    let pem = public.to_pem().expect("PEM");
    let jwk = public.jwk(&kid).to_string();
    let x = public.x();
    let attacker = Ed25519PrivateKey::generate().expect("a key");
    let attacker_pem = attacker.to_pkcs8_pem().expect("PEM").expose().to_owned();
    let eddsa = |kid: &str| json!({"alg": "EdDSA", "typ": "at+jwt", "kid": kid});
    let former = AccessTokens::new(KeySet::single(&Secret::new(HS256_SECRET)).expect("keys"), &settings());
    let cases: Vec<(&str, String, VerifyReason)> = vec![
        (
            "alg none",
            jose::unsigned(&json!({"alg": "none", "typ": "at+jwt", "kid": kid}), &claims),
            VerifyReason::Malformed,
        ),
        (
            "HS256 keyed with the public key's bytes",
            jose::craft_raw(
                hs(&kid).to_string().as_bytes(),
                claims.to_string().as_bytes(),
                public.as_bytes(),
                Algorithm::HS256,
            ),
            VerifyReason::WrongAlgorithm,
        ),
        (
            "HS256 keyed with the public key's PEM",
            jose::craft(&hs(&kid), &claims, &pem),
            VerifyReason::WrongAlgorithm,
        ),
        (
            "HS256 keyed with the public JWK's JSON",
            jose::craft(&hs(&kid), &claims, &jwk),
            VerifyReason::WrongAlgorithm,
        ),
        (
            "HS256 keyed with the JWK's x",
            jose::craft(&hs(&kid), &claims, &x),
            VerifyReason::WrongAlgorithm,
        ),
        (
            "HS256 keyed with the public key as text",
            jose::craft(&hs(&kid), &claims, &raw),
            VerifyReason::WrongAlgorithm,
        ),
        (
            "HS256 signed with a former HS256 secret, its own kid",
            former
                .issue("user-1", "Kyle", "session-1", Duration::from_secs(900))
                .expect("issued"),
            VerifyReason::WrongAlgorithm,
        ),
        (
            "HS256 signed with a former HS256 secret, the EdDSA kid",
            jose::craft(&hs(&kid), &claims, HS256_SECRET),
            VerifyReason::WrongAlgorithm,
        ),
        (
            "an ES256 header over an Ed25519 signature",
            jose::craft_eddsa(
                &json!({"alg": "ES256", "typ": "at+jwt", "kid": kid}),
                &claims,
                &issuer.pem,
            ),
            VerifyReason::WrongAlgorithm,
        ),
        (
            "an RS256 header over an Ed25519 signature",
            jose::craft_eddsa(
                &json!({"alg": "RS256", "typ": "at+jwt", "kid": kid}),
                &claims,
                &issuer.pem,
            ),
            VerifyReason::WrongAlgorithm,
        ),
        (
            "the attacker's key embedded as a jwk",
            jose::craft_eddsa(
                &jose::with(
                    eddsa(&attacker.public_key().kid()),
                    "jwk",
                    attacker.public_key().jwk("x"),
                ),
                &claims,
                &attacker_pem,
            ),
            VerifyReason::ForbiddenHeader("jwk"),
        ),
        (
            "a jku to the attacker's set, under a known kid",
            jose::craft_eddsa(
                &jose::with(eddsa(&kid), "jku", json!("https://attacker.example/jwks.json")),
                &claims,
                &attacker_pem,
            ),
            VerifyReason::ForbiddenHeader("jku"),
        ),
        (
            "an x5u to the attacker's certificate",
            jose::craft_eddsa(
                &jose::with(eddsa(&kid), "x5u", json!("https://attacker.example/cert.pem")),
                &claims,
                &attacker_pem,
            ),
            VerifyReason::ForbiddenHeader("x5u"),
        ),
        (
            "signed by the attacker's key under its own kid",
            jose::craft_eddsa(&eddsa(&attacker.public_key().kid()), &claims, &attacker_pem),
            VerifyReason::UnknownKey,
        ),
        (
            "signed by the attacker's key under the issuer's kid",
            jose::craft_eddsa(&eddsa(&kid), &claims, &attacker_pem),
            VerifyReason::BadSignature,
        ),
        (
            "a refresh token's typ",
            jose::craft_eddsa(
                &json!({"alg": "EdDSA", "typ": "rt+jwt", "kid": kid}),
                &claims,
                &issuer.pem,
            ),
            VerifyReason::WrongType,
        ),
        (
            "a kid the issuer never published",
            jose::craft_eddsa(&eddsa("some-other-kid"), &claims, &issuer.pem),
            VerifyReason::UnknownKey,
        ),
    ];
    for (what, token, expected) in cases {
        assert_eq!(reason(&verifier, &token), Err(expected), "{what}");
    }
    // The same crafting signs a token the verifier takes: the refusals above are the forgeries'.
    assert_eq!(
        reason(&verifier, &jose::craft_eddsa(&eddsa(&kid), &claims, &issuer.pem)),
        Ok(())
    );
}

/// An HS256 verifier (the default mode) refuses EdDSA tokens, even one whose kid is its own.
#[test]
fn an_hs256_verifier_refuses_eddsa_tokens() {
    let issuer = issuer();
    let hs256 = AccessTokens::new(KeySet::single(&Secret::new(HS256_SECRET)).expect("keys"), &settings());
    let own_kid = key_id(&Secret::new(HS256_SECRET)).expect("kid");
    for kid in [issuer.kid(), own_kid] {
        let token = jose::craft_eddsa(
            &json!({"alg": "EdDSA", "typ": "at+jwt", "kid": kid}),
            &claims(),
            &issuer.pem,
        );
        assert_eq!(reason(&hs256, &token), Err(VerifyReason::WrongAlgorithm), "kid {kid}");
        let message = hs256.verify(&token).expect_err("refused").to_string();
        assert_eq!(message, "the access token is not signed with HS256");
    }
    let message = verifier_of(&issuer)
        .verify(&jose::craft(
            &jose::header("at+jwt", &issuer.kid()),
            &claims(),
            HS256_SECRET,
        ))
        .expect_err("refused")
        .to_string();
    assert_eq!(message, "the access token is not signed with EdDSA");
}

#[test]
fn every_claim_rule_holds_as_for_hs256() {
    let issuer = issuer();
    let verifier = verifier_of(&issuer);
    let header = json!({"alg": "EdDSA", "typ": "at+jwt", "kid": issuer.kid()});
    let now = jsonwebtoken::get_current_timestamp();
    let cases = [
        (
            "expired",
            jose::with(claims(), "exp", json!(now - 60)),
            VerifyReason::Expired,
        ),
        (
            "not yet valid",
            jose::with(claims(), "nbf", json!(now + 60)),
            VerifyReason::NotYetValid,
        ),
        (
            "another issuer",
            jose::with(claims(), "iss", json!("someone")),
            VerifyReason::WrongIssuer,
        ),
        (
            "another audience",
            jose::with(claims(), "aud", json!("other")),
            VerifyReason::WrongAudience,
        ),
        ("no sid", jose::without(claims(), "sid"), VerifyReason::InvalidClaims),
    ];
    for (what, claims, expected) in cases {
        let token = jose::craft_eddsa(&header, &claims, &issuer.pem);
        assert_eq!(reason(&verifier, &token), Err(expected), "{what}");
        assert_eq!(verifier.verified_cache_len(), 0, "{what}: a refused token is not kept");
    }
}
