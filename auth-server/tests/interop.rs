//! Our EdDSA access tokens checked by a verifier that is not ours: the npm package `jose`
//! (`e2e/jose/verify.mjs`), which knows nothing but auth-server's JWK Set URL, the issuer and
//! the audience, as a third-party resource server would. The real auth-server binary runs with
//! `ACCESS_TOKEN_ALG=EdDSA`; `jose` must accept the tokens it issues and refuse an expired one,
//! one whose key is not (or no longer) in the set, and an HS256 token keyed with the public key.
//!
//! Where node or `e2e/jose/node_modules` is missing, the test fails, saying how to install
//! them (`.ci/run` does): it is never skipped.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use jwt_tokens::{AccessClaims, AccessTokens, Ed25519PrivateKey, KeySet, TokenSettings, now_unix};
use serde_json::{Value, json};
use test_support::jose::{Algorithm, b64url_decode, craft, craft_raw, parts, with_payload};
use test_support::{ServerBinary, ServerProcess, TestDir};

const ISSUER: &str = "auth-server";
const AUDIENCE: &str = "posts-server";
const REFRESH_SECRET: &str = "interop-refresh-secret-0123456789-abcdefghij";
const PASSWORD: &str = "correct horse battery staple";

/// The binary in EdDSA mode, on a SQLite file in its directory; the test names the key files.
const AUTH_SERVER: ServerBinary = ServerBinary::new("auth-server", env!("CARGO_BIN_EXE_auth-server")).envs(&[
    ("AUTH_ADDR", "127.0.0.1:0"),
    ("AUTH_DATABASE_URL", "sqlite://auth.db"),
    ("RUST_LOG", "warn"),
    ("ACCESS_TOKEN_ALG", "EdDSA"),
    ("REFRESH_TOKEN_SECRET", REFRESH_SECRET),
]);

fn jose_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../e2e/jose")
}

/// Fails the test, saying how to get what it needs, unless node and `jose` are installed.
fn require_node_and_jose() {
    let node = std::process::Command::new("node")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    if !node.is_ok_and(|status| status.success()) {
        test_support::cannot_run("node is not installed (Node.js 20 or later runs e2e/jose/verify.mjs)");
    }
    if !jose_dir().join("node_modules/jose/package.json").is_file() {
        test_support::cannot_run("e2e/jose/node_modules is missing: run `npm ci` in e2e/jose");
    }
}

/// What `jose` made of a token: `Ok(sub)`, or `Err(code)` with its error code.
async fn jose_verify(server: &ServerProcess, token: &str) -> Result<String, String> {
    let mut command = tokio::process::Command::new("node");
    command
        .arg("verify.mjs")
        .arg(server.url("/.well-known/jwks.json"))
        .args([ISSUER, AUDIENCE, token])
        .current_dir(jose_dir())
        .stdin(Stdio::null())
        .kill_on_drop(true);
    let output = tokio::time::timeout(Duration::from_secs(60), command.output())
        .await
        .expect("node ends in time")
        .expect("run node");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "verify.mjs failed ({}): {stdout}{stderr}",
        output.status
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "one line of JSON: {stdout}{stderr}");
    let result: Value = serde_json::from_str(lines[0]).unwrap_or_else(|e| panic!("JSON ({e}): {stdout}"));
    match result["ok"].as_bool() {
        Some(true) => Ok(result["sub"].as_str().expect("a sub").to_owned()),
        Some(false) => Err(result["code"].as_str().expect("a code").to_owned()),
        None => panic!("no `ok`: {stdout}"),
    }
}

/// Starts the binary in `dir` signing with `private`, publishing `published` (a PEM file) too.
async fn start(dir: &Path, private: &Path, published: Option<&Path>) -> ServerProcess {
    let mut command = AUTH_SERVER.command(dir);
    command.env("ACCESS_TOKEN_PRIVATE_KEY_FILE", private);
    match published {
        Some(file) => command.env("ACCESS_TOKEN_PUBLIC_KEYS_FILE", file),
        None => command.env_remove("ACCESS_TOKEN_PUBLIC_KEYS_FILE"),
    };
    AUTH_SERVER.start(&mut command).await
}

async fn post(server: &ServerProcess, path: &str, body: &Value) -> reqwest::Response {
    reqwest::Client::new()
        .post(server.url(path))
        .json(body)
        .send()
        .await
        .expect("send a POST")
}

/// A new login's access token.
async fn access_token(server: &ServerProcess) -> String {
    let response = post(server, "/login", &json!({ "username": "alice", "password": PASSWORD })).await;
    assert_eq!(response.status(), 200, "POST /login");
    let body: Value = response.json().await.expect("a JSON body");
    body["accessToken"].as_str().expect("an accessToken").to_owned()
}

fn write_key(dir: &Path, name: &str, key: &Ed25519PrivateKey) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, key.to_pkcs8_pem().expect("PEM").expose()).expect("write a key file");
    path
}

/// Signs access tokens with `key`, as auth-server would.
fn signer(key: &Ed25519PrivateKey) -> AccessTokens {
    let settings = TokenSettings {
        issuer: ISSUER.into(),
        audience: AUDIENCE.into(),
        leeway: Duration::from_secs(5),
    };
    AccessTokens::new(KeySet::ed25519(key, &[]).expect("a key set"), &settings)
}

/// Claims of `user` valid from `from` to `until`, seconds from now (negative: in the past).
fn claims(user: &str, from: i64, until: i64) -> AccessClaims {
    let at = |offset: i64| now_unix().checked_add_signed(offset).expect("a time");
    AccessClaims {
        iss: ISSUER.into(),
        aud: AUDIENCE.into(),
        sub: user.into(),
        name: "alice".into(),
        iat: at(from),
        nbf: at(from),
        exp: at(until),
        jti: uuid::Uuid::new_v4().to_string(),
        sid: "interop-session".into(),
    }
}

#[tokio::test]
async fn jose_verifies_our_tokens_from_the_jwks_url_alone_and_refuses_the_ones_it_must() {
    require_node_and_jose();
    let dir = TestDir::new();
    let first = Ed25519PrivateKey::generate().expect("a key");
    let first_file = write_key(dir.path(), "first.key", &first);
    let server = start(dir.path(), &first_file, None).await;
    let registered = post(
        &server,
        "/register",
        &json!({ "username": "alice", "password": PASSWORD }),
    )
    .await;
    assert_eq!(registered.status(), 201, "POST /register");
    let id = registered.json::<Value>().await.expect("a JSON body")["id"]
        .as_str()
        .expect("an id")
        .to_owned();

    // A token from /login is accepted, for that user.
    let login = access_token(&server).await;
    assert_eq!(
        jose_verify(&server, &login).await,
        Ok(id.clone()),
        "the token from /login"
    );

    // Signed with the same key: accepted while valid, refused once expired.
    let ours = signer(&first);
    let live = ours.sign(&claims(&id, -10, 600)).expect("sign");
    assert_eq!(
        jose_verify(&server, &live).await,
        Ok(id.clone()),
        "a live token of the key"
    );
    let expired = ours.sign(&claims(&id, -1000, -120)).expect("sign");
    assert_eq!(jose_verify(&server, &expired).await, Err("ERR_JWT_EXPIRED".into()));

    // The token from /login with its payload changed (another user) under its own signature.
    let mut payload: Value = serde_json::from_slice(&b64url_decode(&parts(&login)[1])).expect("claims");
    payload["sub"] = json!("someone-else");
    assert_eq!(
        jose_verify(&server, &with_payload(&login, &payload)).await,
        Err("ERR_JWS_SIGNATURE_VERIFICATION_FAILED".into())
    );

    // Signed with a key that is not in the set.
    let stranger = Ed25519PrivateKey::generate().expect("a key");
    let foreign = signer(&stranger).sign(&claims(&id, -10, 600)).expect("sign");
    assert_eq!(
        jose_verify(&server, &foreign).await,
        Err("ERR_JWKS_NO_MATCHING_KEY".into())
    );

    // HS256 keyed with the public key (as its PEM, and as its 32 bytes), under the key's kid.
    let public = first.public_key();
    let header = json!({ "alg": "HS256", "typ": "at+jwt", "kid": public.kid() });
    let body = serde_json::to_value(claims(&id, -10, 600)).expect("claims as JSON");
    let confused = [
        craft(&header, &body, &public.to_pem().expect("PEM")),
        craft_raw(
            header.to_string().as_bytes(),
            body.to_string().as_bytes(),
            public.as_bytes(),
            Algorithm::HS256,
        ),
    ];
    for token in &confused {
        assert_eq!(
            jose_verify(&server, token).await,
            Err("ERR_JOSE_ALG_NOT_ALLOWED".into())
        );
    }
    server.terminate().await;

    // A rotation: the next key signs, the first one is still published, and both verify.
    let next = Ed25519PrivateKey::generate().expect("a key");
    let next_file = write_key(dir.path(), "next.key", &next);
    let published = dir.path().join("published.pem");
    std::fs::write(&published, public.to_pem().expect("PEM")).expect("write the published keys");
    let server = start(dir.path(), &next_file, Some(&published)).await;
    let rotated = access_token(&server).await;
    assert_eq!(
        jose_verify(&server, &rotated).await,
        Ok(id.clone()),
        "the next key's token"
    );
    assert_eq!(
        jose_verify(&server, &login).await,
        Ok(id.clone()),
        "the first key's, still published"
    );
    server.terminate().await;

    // The first key removed from the set: its tokens are refused, the next key's still verify.
    let server = start(dir.path(), &next_file, None).await;
    assert_eq!(
        jose_verify(&server, &login).await,
        Err("ERR_JWKS_NO_MATCHING_KEY".into())
    );
    assert_eq!(jose_verify(&server, &rotated).await, Ok(id), "the next key's token");
    server.terminate().await;
}
