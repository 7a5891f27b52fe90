//! Raw JOSE tokens crafted by hand, for tests that present forgeries: a header
//! and a payload of the test's choosing, base64url-encoded (RFC 7515 §2:
//! unpadded, RFC 4648 §5 alphabet) and signed with any key under any HMAC
//! algorithm, or not signed at all. Each function changes one thing about a
//! token and leaves the rest as given, so that a test row can say exactly what
//! it forges.
//!
//! Nothing here knows the servers' secrets or how they derive a key id: the
//! caller passes headers, claims and keys in.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
/// The HMAC algorithm a crafted token is signed with (also what its header may claim).
pub use jsonwebtoken::Algorithm;
use jsonwebtoken::EncodingKey;
use serde_json::{Value, json};

/// A key nobody trusts, standing for one the attacker made up (and may
/// advertise through `jwk`, `jku`, …).
pub const ATTACKER_SECRET: &str = "attacker-chosen-key-0123456789-abcdefghijk";

/// `bytes` as one JOSE segment: unpadded base64url.
pub fn b64url(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The bytes of one JOSE segment; panics if `segment` is not unpadded base64url.
pub fn b64url_decode(segment: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(segment).expect("a base64url segment")
}

/// The header the servers' issuer writes: `{"alg": "HS256", "typ": typ, "kid": kid}`.
pub fn header(typ: &str, kid: &str) -> Value {
    json!({ "alg": "HS256", "typ": typ, "kid": kid })
}

/// `object` (a header or claims) with the member `name` set to `value`, added
/// if it was not there.
pub fn with(mut object: Value, name: &str, value: Value) -> Value {
    object
        .as_object_mut()
        .expect("a JSON object")
        .insert(name.to_owned(), value);
    object
}

/// `object` (a header or claims) without the member `name`.
pub fn without(mut object: Value, name: &str) -> Value {
    object.as_object_mut().expect("a JSON object").remove(name);
    object
}

/// `base64url(header).base64url(payload).signature`, the signature being HMAC
/// `alg` under `key` over the first two segments. `header` and `payload` are
/// sent as given, so they may be any bytes: duplicate members, invalid UTF-8,
/// not JSON at all. Whatever `alg` the header names, the signature is `alg`'s.
/// Panics on an empty key (see [`empty_key_equivalent`]).
pub fn craft_raw(header: &[u8], payload: &[u8], key: &[u8], alg: Algorithm) -> String {
    let message = format!("{}.{}", b64url(header), b64url(payload));
    let key = EncodingKey::from_secret(key).expect("a non-empty HMAC key");
    let signature = jsonwebtoken::crypto::sign(message.as_bytes(), &key, alg).expect("HMAC signing");
    format!("{message}.{signature}")
}

/// A token with this header and these claims, signed with HS256 under `key`
/// whatever `alg` the header names (or leaves out).
pub fn craft(header: &Value, claims: &Value, key: &str) -> String {
    craft_raw(
        header.to_string().as_bytes(),
        claims.to_string().as_bytes(),
        key.as_bytes(),
        Algorithm::HS256,
    )
}

/// A token really signed with `alg` under `key`, its header saying so:
/// `{"alg": alg, "typ": typ, "kid": kid}`. With HS384 or HS512 and the right
/// key it is a well-formed token of an algorithm the servers do not take.
pub fn signed_with(alg: Algorithm, typ: &str, kid: &str, claims: &Value, key: &str) -> String {
    let header = json!({ "alg": alg, "typ": typ, "kid": kid });
    craft_raw(
        header.to_string().as_bytes(),
        claims.to_string().as_bytes(),
        key.as_bytes(),
        alg,
    )
}

/// A token with this header and these claims, really signed with Ed25519 under the PKCS#8
/// PEM private key `private_pem`, whatever `alg` and `kid` the header names.
pub fn craft_eddsa(header: &Value, claims: &Value, private_pem: &str) -> String {
    use base64::engine::general_purpose::STANDARD;
    let body: String = private_pem.lines().filter(|line| !line.starts_with("-----")).collect();
    let der = STANDARD.decode(body.trim()).expect("a PEM document");
    let message = format!("{}.{}", b64url(header.to_string()), b64url(claims.to_string()));
    let key = EncodingKey::from_ed_der(&der);
    let signature = jsonwebtoken::crypto::sign(message.as_bytes(), &key, Algorithm::EdDSA).expect("Ed25519 signing");
    format!("{message}.{signature}")
}

/// An unsigned token, `base64url(header).base64url(claims).` with an empty
/// signature segment (the `alg: none` form of RFC 7519 §6.1).
pub fn unsigned(header: &Value, claims: &Value) -> String {
    format!("{}.{}.", b64url(header.to_string()), b64url(claims.to_string()))
}

/// A JWK (RFC 7517) holding `key` as a symmetric (`oct`) key.
pub fn jwk(key: &str) -> Value {
    json!({ "kty": "oct", "k": b64url(key) })
}

/// A token whose header embeds `key` as a JWK and which `key` signed (HS256):
/// the attack that works on a verifier trusting the key a token brings along.
/// The header is `{"alg": "HS256", "typ": typ, "jwk": …}`, with `kid` added
/// when given.
pub fn jwk_embedded(typ: &str, kid: Option<&str>, claims: &Value, key: &str) -> String {
    let mut header = json!({ "alg": "HS256", "typ": typ, "jwk": jwk(key) });
    if let Some(kid) = kid {
        header = with(header, "kid", json!(kid));
    }
    craft(&header, claims, key)
}

/// A stand-in for the empty HMAC key. HMAC pads its key with zero bytes to the
/// hash's block size (RFC 2104), so 64 zero bytes sign under HS256 exactly as
/// the empty key does; jsonwebtoken refuses an empty key outright.
pub fn empty_key_equivalent() -> String {
    "\0".repeat(64)
}

/// The three segments of a token, still encoded: `[header, payload, signature]`.
/// Panics unless the token has exactly three.
pub fn parts(token: &str) -> [String; 3] {
    let segments: Vec<&str> = token.split('.').collect();
    let [h, p, s] = segments.as_slice() else {
        panic!("not a three-part token: {token}");
    };
    [(*h).to_owned(), (*p).to_owned(), (*s).to_owned()]
}

/// The signature segment of a token, still encoded.
pub fn signature(token: &str) -> String {
    let [_, _, signature] = parts(token);
    signature
}

/// `token` with its header segment replaced by `header`, its signature kept.
pub fn with_header(token: &str, header: &Value) -> String {
    let [_, p, s] = parts(token);
    format!("{}.{p}.{s}", b64url(header.to_string()))
}

/// `token` with its payload segment replaced by `claims`, its signature kept.
pub fn with_payload(token: &str, claims: &Value) -> String {
    let [h, _, s] = parts(token);
    format!("{h}.{}.{s}", b64url(claims.to_string()))
}

/// `token` with its signature segment replaced by `signature` (as given, so
/// `""` leaves `header.payload.`).
pub fn with_signature(token: &str, signature: &str) -> String {
    let [h, p, _] = parts(token);
    format!("{h}.{p}.{signature}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn b64url_encodes_as_rfc_4648_says() {
        for (input, expected) in [
            (&b""[..], ""),
            (b"f", "Zg"),
            (b"fo", "Zm8"),
            (b"foo", "Zm9v"),
            (b"foob", "Zm9vYg"),
            (&[0xfb, 0xff], "-_8"),
        ] {
            assert_eq!(b64url(input), expected);
            assert_eq!(b64url_decode(expected), input);
        }
    }

    #[test]
    fn crafted_tokens_carry_what_they_were_given() {
        let claims = json!({ "sub": "user-1" });
        let token = craft(&header("at+jwt", "kid-1"), &claims, "a key");
        let [h, p, s] = parts(&token);
        let read = |segment: &str| -> Value { serde_json::from_slice(&b64url_decode(segment)).expect("JSON") };
        assert_eq!(read(&h), json!({ "alg": "HS256", "typ": "at+jwt", "kid": "kid-1" }));
        assert_eq!(read(&p), claims);
        assert_eq!(b64url_decode(&s).len(), 32, "an HS256 MAC");
        assert_eq!(signature(&token), s);

        let other = json!({ "sub": "admin" });
        assert_eq!(
            with_payload(&token, &other),
            format!("{h}.{}.{s}", b64url(other.to_string()))
        );
        assert_eq!(with_signature(&token, ""), format!("{h}.{p}."));
        let reheaded = with_header(&token, &json!({ "alg": "none" }));
        assert_eq!(read(&parts(&reheaded)[0]), json!({ "alg": "none" }));

        let hs512 = signed_with(Algorithm::HS512, "at+jwt", "kid-1", &claims, "a key");
        assert_eq!(read(&parts(&hs512)[0])["alg"], "HS512");
        assert_eq!(b64url_decode(&signature(&hs512)).len(), 64, "an HS512 MAC");

        assert!(unsigned(&json!({ "alg": "none" }), &claims).ends_with('.'));
        let embedded = jwk_embedded("rt+jwt", None, &claims, ATTACKER_SECRET);
        let embedded_header = read(&parts(&embedded)[0]);
        assert_eq!(embedded_header["jwk"], jwk(ATTACKER_SECRET));
        assert!(embedded_header.get("kid").is_none());
    }

    #[test]
    fn the_empty_key_stand_in_signs_as_the_empty_key() {
        // HMAC-SHA256 with the empty key over the empty message, as any other implementation computes it.
        let mac = jsonwebtoken::crypto::sign(
            b"",
            &EncodingKey::from_secret(empty_key_equivalent().as_bytes()).expect("a key"),
            Algorithm::HS256,
        )
        .expect("HMAC signing");
        assert_eq!(mac, "thNnmggU2ex3L5XXeMNfxf8Wl8STcVZTxscSFEKSxa0");
    }
}
