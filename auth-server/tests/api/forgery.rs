//! Forged refresh tokens and malformed bodies against the real server: one row
//! per attack on `POST /token`, each with the one answer the contract allows
//! (CONTRACT.md, "Auth server" and "Tokens").
//!
//! Every forgery carries the claims of a real, live session (the victim's), so
//! a server that let one through would rotate that session: the row would get
//! `200`, and the victim's own refresh token would stop working. After the
//! table, the victim's token must still rotate.

use jwt_tokens::{Secret, TokenAlgorithm, key_id, now_unix};
use serde_json::{Value, json};
use test_support::jose::{
    ATTACKER_SECRET, Algorithm, craft, craft_eddsa, craft_raw, empty_key_equivalent, header, jwk_embedded, signature,
    signed_with, unsigned, with, with_header, with_payload, with_signature, without,
};
use test_support::table::assert_every;

use crate::helpers::{
    ACCESS_SECRET, AUDIENCE, ISSUER, OTHER_SECRET, REFRESH_SECRET, TestApp, Tokens, access_key, access_key_pem,
    spawn_app,
};

// ---------------------------------------------------------------------------
// Crafting tokens
// ---------------------------------------------------------------------------

fn kid_of(secret: &str) -> String {
    key_id(&Secret::new(secret)).expect("the kid of a test secret")
}

fn refresh_kid() -> String {
    kid_of(REFRESH_SECRET)
}

/// The header the real issuer writes on refresh tokens.
fn refresh_header() -> Value {
    header("rt+jwt", &refresh_kid())
}

/// What the rows forge: the victim's live session.
struct Victim {
    tokens: Tokens,
    claims: Value,
}

impl Victim {
    /// Signed with the real refresh key, with these claims.
    fn signed(&self, claims: &Value) -> String {
        craft(&refresh_header(), claims, REFRESH_SECRET)
    }

    /// Signed with the real refresh key, with this header and the victim's claims.
    fn headed(&self, header: &Value) -> String {
        craft(header, &self.claims, REFRESH_SECRET)
    }

    /// The victim's claims with one changed, signed with the real key.
    fn bent(&self, name: &str, value: Value) -> String {
        self.signed(&with(self.claims.clone(), name, value))
    }

    /// The victim's claims with one removed, signed with the real key.
    fn lacking(&self, name: &str) -> String {
        self.signed(&without(self.claims.clone(), name))
    }

    /// Signed under `key` with the real refresh kid copied in.
    fn keyed(&self, key: &str) -> String {
        craft(&refresh_header(), &self.claims, key)
    }

    /// Really signed with the refresh secret under `alg` (HS384/HS512).
    fn with_alg(&self, alg: Algorithm) -> String {
        signed_with(alg, "rt+jwt", &refresh_kid(), &self.claims, REFRESH_SECRET)
    }

    /// `header.payload.` with `alg` as given and no signature.
    fn unsigned(&self, alg: &str) -> String {
        unsigned(
            &json!({ "alg": alg, "typ": "rt+jwt", "kid": refresh_kid() }),
            &self.claims,
        )
    }

    /// The signature of the victim's real refresh token.
    fn signature(&self) -> String {
        signature(&self.tokens.refresh)
    }

    /// The victim's header and payload under another signature.
    fn resigned(&self, signature: &str) -> String {
        with_signature(&self.tokens.refresh, signature)
    }

    /// The victim's header and signature over another payload.
    fn repayloaded(&self, claims: &Value) -> String {
        with_payload(&self.tokens.refresh, claims)
    }

    /// A token whose header embeds the attacker's key as a JWK, signed with that key.
    fn jwk_embedded(&self, kid: Option<&str>) -> String {
        jwk_embedded("rt+jwt", kid, &self.claims, ATTACKER_SECRET)
    }

    /// The victim's claims as an array of their values, in the order the
    /// access claims declare theirs: `name` null, `nbf` the issue time.
    fn claims_in_order(&self) -> Value {
        let claims = with(self.claims.clone(), "nbf", self.claims["iat"].clone());
        let order = ["iss", "aud", "sub", "name", "iat", "nbf", "exp", "jti", "sid"];
        Value::Array(order.iter().map(|name| claims[*name].clone()).collect())
    }

    /// Signed with the real refresh key, the victim's claims under an array header.
    fn array_headed(&self) -> String {
        self.headed(&array_header())
    }

    /// Signed with the real refresh key, the issued header over the victim's claims as an array.
    fn array_claimed(&self) -> String {
        self.signed(&self.claims_in_order())
    }
}

/// `[alg, typ, kid]` of the issued header, as an array instead of an object.
fn array_header() -> Value {
    json!(["HS256", "rt+jwt", refresh_kid()])
}

// ---------------------------------------------------------------------------
// The table
// ---------------------------------------------------------------------------

struct Row {
    name: &'static str,
    /// The JSON body sent to `POST /token`.
    body: Value,
    status: u16,
    /// The JSON `error` code, or `None` for a rotation that must succeed.
    error: Option<&'static str>,
    /// The RFC 6750 `error` the `WWW-Authenticate` challenge must name, if any.
    challenge: Option<&'static str>,
}

/// A refresh token that must be refused: `403 invalid_grant`, challenge `invalid_token`.
fn refused(name: &'static str, token: String) -> Row {
    Row {
        name,
        body: json!({ "token": token }),
        status: 403,
        error: Some("invalid_grant"),
        challenge: Some("invalid_token"),
    }
}

/// No token given: `401 invalid_request`.
fn no_token(name: &'static str, body: Value) -> Row {
    Row {
        name,
        body,
        status: 401,
        error: Some("invalid_request"),
        challenge: Some("invalid_request"),
    }
}

/// A body that is not `{"token": string}`: `400 invalid_body`.
fn bad_body(name: &'static str, body: Value) -> Row {
    Row {
        name,
        body,
        status: 400,
        error: Some("invalid_body"),
        challenge: None,
    }
}

/// Refresh tokens made with the access key of a server of mode `alg`, or under its kid.
fn access_key_rows(alg: TokenAlgorithm, victim: &Victim) -> Vec<Row> {
    let claims = &victim.claims;
    match alg {
        TokenAlgorithm::Hs256 => vec![
            refused(
                "signed with the access secret under the access kid",
                craft(&header("rt+jwt", &kid_of(ACCESS_SECRET)), claims, ACCESS_SECRET),
            ),
            refused(
                "signed with the access secret under the refresh kid",
                victim.keyed(ACCESS_SECRET),
            ),
            refused(
                "kid of the access key, signed with the refresh secret",
                victim.headed(&header("rt+jwt", &kid_of(ACCESS_SECRET))),
            ),
        ],
        TokenAlgorithm::EdDsa => {
            let public = access_key().public_key();
            let access_kid = public.kid();
            let public_pem = public.to_pem().expect("PEM");
            let eddsa = |kid: &str| json!({ "alg": "EdDSA", "typ": "rt+jwt", "kid": kid });
            vec![
                refused(
                    "signed with the access private key (EdDSA) under the access kid",
                    craft_eddsa(&eddsa(&access_kid), claims, access_key_pem()),
                ),
                refused(
                    "signed with the access private key (EdDSA) under the refresh kid",
                    craft_eddsa(&eddsa(&refresh_kid()), claims, access_key_pem()),
                ),
                refused(
                    "HS256 keyed with the access public key's PEM, under the access kid (key confusion)",
                    craft(&header("rt+jwt", &access_kid), claims, &public_pem),
                ),
                refused(
                    "HS256 keyed with the access public key's PEM, under the refresh kid",
                    victim.keyed(&public_pem),
                ),
                refused(
                    "HS256 keyed with the access public key's 32 bytes, under the refresh kid",
                    craft_raw(
                        refresh_header().to_string().as_bytes(),
                        claims.to_string().as_bytes(),
                        public.as_bytes(),
                        Algorithm::HS256,
                    ),
                ),
                refused(
                    "kid of the access key, signed with the refresh secret",
                    victim.headed(&header("rt+jwt", &access_kid)),
                ),
            ]
        }
    }
}

/// `control`: the claims of another live session, which the control row spends. `alg`: the
/// server's access token algorithm, whose key the rows of [`access_key_rows`] misuse.
fn rows(alg: TokenAlgorithm, victim: &Victim, control: &Value) -> Vec<Row> {
    let now = now_unix();
    let claims = &victim.claims;
    let mut rows = vec![
        // --- control: a hand-crafted token of another live session rotates --------------
        Row {
            name: "control: a hand-crafted copy of a real refresh token (checks the crafting helpers)",
            body: json!({ "token": craft(&refresh_header(), control, REFRESH_SECRET) }),
            status: 200,
            error: None,
            challenge: None,
        },
        // --- alg none, in every capitalisation ------------------------------------------
        refused("alg none, empty signature", victim.unsigned("none")),
        refused("alg None, empty signature", victim.unsigned("None")),
        refused("alg NONE, empty signature", victim.unsigned("NONE")),
        refused("alg nOnE, empty signature", victim.unsigned("nOnE")),
        refused(
            "alg none, no signature segment",
            victim.unsigned("none").trim_end_matches('.').to_owned(),
        ),
        refused(
            "alg None, no signature segment",
            victim.unsigned("None").trim_end_matches('.').to_owned(),
        ),
        refused(
            "alg NONE, no signature segment",
            victim.unsigned("NONE").trim_end_matches('.').to_owned(),
        ),
        refused(
            "alg nOnE, no signature segment",
            victim.unsigned("nOnE").trim_end_matches('.').to_owned(),
        ),
        refused(
            "alg none, truncated real signature",
            format!("{}{}", victim.unsigned("none"), &victim.signature()[..20]),
        ),
        refused(
            "alg None, truncated real signature",
            format!("{}{}", victim.unsigned("None"), &victim.signature()[..20]),
        ),
        refused(
            "alg NONE, truncated real signature",
            format!("{}{}", victim.unsigned("NONE"), &victim.signature()[..20]),
        ),
        refused(
            "alg nOnE, truncated real signature",
            format!("{}{}", victim.unsigned("nOnE"), &victim.signature()[..20]),
        ),
        refused(
            "alg none, whole real signature",
            format!("{}{}", victim.unsigned("none"), victim.signature()),
        ),
        // --- other algorithms, with the right secret ------------------------------------
        refused(
            "HS384 signed with the refresh secret",
            victim.with_alg(Algorithm::HS384),
        ),
        refused(
            "HS512 signed with the refresh secret",
            victim.with_alg(Algorithm::HS512),
        ),
        refused(
            "alg RS256 over an HS256 signature with the refresh secret (key confusion)",
            victim.headed(&json!({ "alg": "RS256", "typ": "rt+jwt", "kid": refresh_kid() })),
        ),
        refused(
            "alg ES256 over an HS256 signature with the refresh secret",
            victim.headed(&json!({ "alg": "ES256", "typ": "rt+jwt", "kid": refresh_kid() })),
        ),
        refused(
            "alg PS256 over an HS256 signature with the refresh secret",
            victim.headed(&json!({ "alg": "PS256", "typ": "rt+jwt", "kid": refresh_kid() })),
        ),
        refused(
            "alg EdDSA over an HS256 signature with the refresh secret",
            victim.headed(&json!({ "alg": "EdDSA", "typ": "rt+jwt", "kid": refresh_kid() })),
        ),
        refused(
            "alg HS1024 (unknown) over an HS256 signature with the refresh secret",
            victim.headed(&json!({ "alg": "HS1024", "typ": "rt+jwt", "kid": refresh_kid() })),
        ),
        refused(
            "alg hs256 (lower case) with the refresh secret",
            victim.headed(&json!({ "alg": "hs256", "typ": "rt+jwt", "kid": refresh_kid() })),
        ),
        refused(
            "alg empty with the refresh secret",
            victim.headed(&json!({ "alg": "", "typ": "rt+jwt", "kid": refresh_kid() })),
        ),
        refused(
            "alg missing, refresh secret",
            victim.headed(&json!({ "typ": "rt+jwt", "kid": refresh_kid() })),
        ),
        // --- wrong keys (and the access key: `access_key_rows`) -------------------------------
        refused(
            "signed with an unknown secret under its own kid",
            craft(&header("rt+jwt", &kid_of(OTHER_SECRET)), claims, OTHER_SECRET),
        ),
        refused("empty key, refresh kid", victim.keyed(&empty_key_equivalent())),
        refused("weak key `secret`, refresh kid", victim.keyed("secret")),
        refused("weak key `password`, refresh kid", victim.keyed("password")),
        refused("weak key `123456`, refresh kid", victim.keyed("123456")),
        refused("weak key `changeme`, refresh kid", victim.keyed("changeme")),
        refused(
            "weak key `your-256-bit-secret`, refresh kid",
            victim.keyed("your-256-bit-secret"),
        ),
        refused("weak key `key`, refresh kid", victim.keyed("key")),
        refused(
            "weak key `secret`, no kid",
            craft(&json!({ "alg": "HS256", "typ": "rt+jwt" }), claims, "secret"),
        ),
        // --- tampering with the victim's real token -----------------------------------------
        refused(
            "right key, then the payload changed (sid of another session)",
            victim.repayloaded(&with(claims.clone(), "sid", json!("another-session"))),
        ),
        refused(
            "right key, then the payload changed (exp a year on)",
            victim.repayloaded(&with(claims.clone(), "exp", json!(now + 365 * 24 * 3600))),
        ),
        refused(
            "right key, then the header changed (fields reordered)",
            with_header(
                &victim.tokens.refresh,
                &json!({ "kid": refresh_kid(), "typ": "rt+jwt", "alg": "HS256" }),
            ),
        ),
        refused(
            "signature of another token",
            victim.resigned(&signature(&victim.bent("jti", json!("another-jti")))),
        ),
        refused("signature stripped, dot kept", victim.resigned("")),
        refused(
            "signature segment removed",
            victim.resigned("").trim_end_matches('.').to_owned(),
        ),
        refused(
            "signature truncated to 20 characters",
            victim.resigned(&victim.signature()[..20]),
        ),
        refused("signature with its first character changed", {
            let signature = victim.signature();
            let first = if signature.starts_with('A') { 'B' } else { 'A' };
            victim.resigned(&format!("{first}{}", &signature[1..]))
        }),
        // --- the other kind of token -------------------------------------------------------
        refused("the victim's own access token", victim.tokens.access.clone()),
        refused(
            "access-shaped token (at+jwt, aud posts-server) under the refresh key",
            craft(
                &header("at+jwt", &refresh_kid()),
                &with(with(claims.clone(), "aud", json!(AUDIENCE)), "name", json!("victim")),
                REFRESH_SECRET,
            ),
        ),
        refused(
            "right key, refresh claims, typ at+jwt",
            victim.headed(&header("at+jwt", &refresh_kid())),
        ),
        refused(
            "right key, typ missing",
            victim.headed(&json!({ "alg": "HS256", "kid": refresh_kid() })),
        ),
        refused("right key, typ JWT", victim.headed(&header("JWT", &refresh_kid()))),
        // --- time -------------------------------------------------------------------
        refused("exp 60 s ago", victim.bent("exp", json!(now - 60))),
        refused("exp 0 (1970)", victim.bent("exp", json!(0))),
        refused(
            "nbf 60 s ahead (beyond the 5 s leeway)",
            victim.bent("nbf", json!(now + 60)),
        ),
        // --- issuer and audience ------------------------------------------------------
        refused("iss wrong", victim.bent("iss", json!("evil-issuer"))),
        refused("iss missing", victim.lacking("iss")),
        refused(
            "aud of an access token (posts-server)",
            victim.bent("aud", json!(AUDIENCE)),
        ),
        refused("aud wrong", victim.bent("aud", json!("evil-audience"))),
        refused("aud missing", victim.lacking("aud")),
        // --- missing claims ---------------------------------------------------------------
        refused("exp missing", victim.lacking("exp")),
        refused("sub missing", victim.lacking("sub")),
        refused("jti missing", victim.lacking("jti")),
        refused("sid missing", victim.lacking("sid")),
        // --- claims of the wrong JSON type --------------------------------------------------
        refused(
            "exp as a string",
            victim.bent("exp", json!(claims["exp"].as_u64().expect("exp").to_string())),
        ),
        refused("aud as an object", victim.bent("aud", json!({ ISSUER: true }))),
        refused(
            "aud as an array holding the right value",
            victim.bent("aud", json!([ISSUER])),
        ),
        refused("sub as a number", victim.bent("sub", json!(42))),
        refused("iss as a number", victim.bent("iss", json!(1))),
        refused("jti as a number", victim.bent("jti", json!(7))),
        refused("sid as an object", victim.bent("sid", json!({ "id": claims["sid"] }))),
        refused(
            "payload a JSON array",
            craft_raw(
                refresh_header().to_string().as_bytes(),
                b"[]",
                REFRESH_SECRET.as_bytes(),
                Algorithm::HS256,
            ),
        ),
        // --- kid ---------------------------------------------------------------------
        refused(
            "kid unknown, right key",
            victim.headed(&header("rt+jwt", "no-such-key")),
        ),
        refused(
            "kid missing, right key",
            victim.headed(&json!({ "alg": "HS256", "typ": "rt+jwt" })),
        ),
        refused("kid empty, right key", victim.headed(&header("rt+jwt", ""))),
        refused(
            "kid ../../dev/null, right key",
            victim.headed(&header("rt+jwt", "../../dev/null")),
        ),
        refused(
            "kid ../../dev/null, signed with the empty key",
            craft(&header("rt+jwt", "../../dev/null"), claims, &empty_key_equivalent()),
        ),
        refused(
            "kid /dev/null, right key",
            victim.headed(&header("rt+jwt", "/dev/null")),
        ),
        refused(
            "kid /dev/null, signed with the empty key",
            craft(&header("rt+jwt", "/dev/null"), claims, &empty_key_equivalent()),
        ),
        refused(
            "kid ' OR 1=1 --, right key",
            victim.headed(&header("rt+jwt", "' OR 1=1 --")),
        ),
        refused(
            "kid ' UNION SELECT 'key' --, signed with `key`",
            craft(&header("rt+jwt", "' UNION SELECT 'key' --"), claims, "key"),
        ),
        // --- headers that point elsewhere for keys, or are critical -------------------------
        refused(
            "jku to the attacker's key set, signed with the attacker's key",
            craft(
                &json!({
                    "alg": "HS256",
                    "typ": "rt+jwt",
                    "kid": "attacker-1",
                    "jku": "https://evil.example/jwks.json",
                }),
                claims,
                ATTACKER_SECRET,
            ),
        ),
        refused(
            "jku header, right key",
            victim.headed(&with(refresh_header(), "jku", json!("https://evil.example/jwks.json"))),
        ),
        refused(
            "x5u to the attacker's certificate, signed with the attacker's key",
            craft(
                &with(refresh_header(), "x5u", json!("https://evil.example/cert.pem")),
                claims,
                ATTACKER_SECRET,
            ),
        ),
        refused(
            "jwk embedding the attacker's key, which signed the token, no kid",
            victim.jwk_embedded(None),
        ),
        refused(
            "jwk embedding the attacker's key, which signed the token, refresh kid",
            victim.jwk_embedded(Some(&refresh_kid())),
        ),
        refused(
            "x5c header, right key",
            victim.headed(&with(refresh_header(), "x5c", json!(["MIIBszCCAVmgAwIBAgIUYQ=="]))),
        ),
        refused(
            "crit header, right key",
            victim.headed(&with(refresh_header(), "crit", json!(["exp"]))),
        ),
        // --- JSON arrays where RFC 7515 §4 and RFC 7519 §7.2 require objects, right key -----
        refused("header a JSON array [alg, typ, kid]", victim.array_headed()),
        refused(
            "claims a JSON array of the values, name null and nbf set",
            victim.array_claimed(),
        ),
        refused(
            "header and claims both JSON arrays",
            craft(&array_header(), &victim.claims_in_order(), REFRESH_SECRET),
        ),
        // --- garbage ----------------------------------------------------------------------
        refused("one segment", "abcdef".to_owned()),
        refused("three short segments", "a.b.c".to_owned()),
        refused(
            "the victim's token with the Bearer prefix left on",
            format!("Bearer {}", victim.tokens.refresh),
        ),
        refused(
            "the victim's token with a trailing newline",
            format!("{}\n", victim.tokens.refresh),
        ),
        refused(
            "the victim's token with spaces around it",
            format!(" {} ", victim.tokens.refresh),
        ),
        refused("15 KB token (under the body limit)", "a".repeat(15 * 1024)),
        Row {
            name: "20 KB token (over the 16 KiB body limit)",
            body: json!({ "token": "a".repeat(20 * 1024) }),
            status: 413,
            error: Some("payload_too_large"),
            challenge: None,
        },
        // --- no token, or not a string ------------------------------------------------------
        no_token("no token field", json!({})),
        no_token("token null", json!({ "token": null })),
        no_token("token empty", json!({ "token": "" })),
        bad_body("token a number", json!({ "token": 12345 })),
        bad_body("token a boolean", json!({ "token": true })),
        bad_body(
            "token an object holding the victim's token",
            json!({ "token": { "token": victim.tokens.refresh } }),
        ),
        bad_body(
            "token an array holding the victim's token",
            json!({ "token": [victim.tokens.refresh] }),
        ),
        bad_body("body an array", json!([victim.tokens.refresh])),
        bad_body("body a string", json!(victim.tokens.refresh)),
    ];
    rows.extend(access_key_rows(alg, victim));
    rows
}

/// Every string in the request body, split into the pieces a response must not echo.
fn presented_pieces(body: &Value, pieces: &mut Vec<String>) {
    match body {
        Value::String(text) => {
            for piece in text.split(['.', ' ', '\n']).chain([text.as_str()]) {
                if piece.len() >= 12 {
                    pieces.push(piece.to_owned());
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| presented_pieces(item, pieces)),
        Value::Object(fields) => fields.values().for_each(|value| presented_pieces(value, pieces)),
        _ => {}
    }
}

/// Sends the row's request and says what is wrong with the answer, if anything.
async fn check(app: &TestApp, row: &Row) -> Result<(), String> {
    let response = app
        .client
        .post(app.url("/token"))
        .json(&row.body)
        .send()
        .await
        .map_err(|e| format!("no response: {e}"))?;
    let status = response.status().as_u16();
    let content_type = response.headers().get("content-type").cloned();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let body = response.text().await.map_err(|e| format!("no body: {e}"))?;

    let mut problems = Vec::new();
    if status != row.status {
        problems.push(format!("status {status} instead of {}", row.status));
    }
    let mut pieces = Vec::new();
    presented_pieces(&row.body, &mut pieces);
    if pieces
        .iter()
        .any(|piece| body.contains(piece) || challenge.as_deref().is_some_and(|c| c.contains(piece)))
    {
        problems.push("the response echoes the presented token".to_owned());
    }
    match row.error {
        None => {
            if !serde_json::from_str::<Value>(&body).is_ok_and(|v| v["refreshToken"].is_string()) {
                problems.push("the body is not a tokens response".to_owned());
            }
        }
        Some(code) => {
            if content_type.as_ref().map(|v| v.as_bytes()) != Some(b"application/json".as_slice()) {
                problems.push(format!("Content-Type {content_type:?}"));
            }
            let shape_ok = serde_json::from_str::<Value>(&body).is_ok_and(|json| {
                let keys: Vec<&String> = json.as_object().map(|o| o.keys().collect()).unwrap_or_default();
                json["error"] == code && json["message"].is_string() && keys.len() == 2
            });
            if !shape_ok {
                problems.push(format!("body is not exactly {{\"error\":\"{code}\",\"message\":…}}"));
            }
        }
    }
    if let Some(error) = row.challenge {
        let expected = format!(r#"Bearer error="{error}""#);
        if !challenge.as_deref().is_some_and(|c| c.starts_with(&expected)) {
            problems.push(format!("WWW-Authenticate {challenge:?}, expected {expected}…"));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        let shown: String = body.chars().take(200).collect();
        Err(format!("{} (body: {shown})", problems.join("; ")))
    }
}

#[tokio::test]
async fn every_forged_refresh_token_and_bad_body_gets_its_answer() {
    let app = spawn_app().await;
    let (_, tokens) = app.user_with_session("victim").await;
    let claims = serde_json::to_value(app.refresh_claims(&tokens.refresh)).expect("claims as JSON");
    let victim = Victim { tokens, claims };
    let (_, control) = app.user_with_session("control").await;
    let control = serde_json::to_value(app.refresh_claims(&control.refresh)).expect("claims as JSON");

    assert_every(
        &rows(app.config.tokens.access_token_alg, &victim, &control),
        |row| row.name,
        async |row| check(&app, row).await,
    )
    .await;

    // None of the forgeries spent or revoked the victim's session: its real
    // refresh token still rotates, and so does the next one.
    let next = app.refreshed(&victim.tokens.refresh).await;
    app.refreshed(&next.refresh).await;
}

/// `DELETE /logout` answers `204` whatever the token, so what shows is the
/// session: array-shaped tokens of the victim's session, correctly signed, end
/// nothing, with either scope, and the victim's refresh token still rotates.
#[tokio::test]
async fn array_shaped_refresh_tokens_log_nobody_out() {
    let app = spawn_app().await;
    let (_, tokens) = app.user_with_session("victim").await;
    let claims = serde_json::to_value(app.refresh_claims(&tokens.refresh)).expect("claims as JSON");
    let victim = Victim { tokens, claims };
    for (name, token) in [
        ("array header", victim.array_headed()),
        ("array claims", victim.array_claimed()),
    ] {
        for scope in [None, Some("global")] {
            let status = app.logout(&token, scope).await.status().as_u16();
            assert_eq!(status, 204, "`{name}`, scope {scope:?}");
        }
    }
    let next = app.refreshed(&victim.tokens.refresh).await;
    app.refreshed(&next.refresh).await;
}
