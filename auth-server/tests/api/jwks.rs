//! `GET /.well-known/jwks.json` and the Ed25519 keys of `ACCESS_TOKEN_ALG=EdDSA`, as a client
//! and an operator meet them: the key set each mode publishes, access tokens that verify with
//! that set alone, a key rotation, the start-up refusals of the key settings, and
//! `auth-server keys generate` and `keys public`. Every test names the mode it runs in, so each
//! target runs the same tests.

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::Output;
use std::time::Duration;

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use jwt_tokens::{
    AccessTokens, Ed25519PrivateKey, Ed25519PublicKey, KeySet, Secret, TokenAlgorithm, VerifyReason, key_id,
};
use serde_json::{Value, json};
use test_support::jose::{b64url, b64url_decode, parts};
use tokio::process::Command;

use crate::binary::{AUTH_SERVER, assert_refused_naming};
use crate::helpers::{
    ACCESS_SECRET, AUDIENCE, ISSUER, REFRESH_SECRET, TestApp, TestDir, access_key, default_settings, spawn_app_in,
    thumbprint, write_access_key,
};

const JWKS: &str = "/.well-known/jwks.json";

// ---------------------------------------------------------------------------------------------
// Tools

/// `GET /.well-known/jwks.json`: `200`, JSON, cacheable for five minutes; returns the body as
/// sent and as JSON.
async fn key_set(app: &TestApp) -> (String, Value) {
    let response = app.get(JWKS).await;
    assert_eq!(response.status(), 200, "GET {JWKS}");
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|value| value.to_str().expect("an ASCII header").to_owned())
    };
    assert_eq!(header("content-type").as_deref(), Some("application/json"));
    assert_eq!(header("cache-control").as_deref(), Some("public, max-age=300"));
    let body = response.text().await.expect("a body");
    let json = serde_json::from_str(&body).unwrap_or_else(|e| panic!("a JSON body ({e}): {body}"));
    (body, json)
}

/// The members of a JWK Set.
fn members(set: &Value) -> &Vec<Value> {
    set["keys"].as_array().expect("`keys` is an array")
}

/// One member of a served JWK Set, as RFC 7517 and RFC 8037 write an Ed25519 public key: these
/// six members and no other (no `d`, the private key), `x` of 32 bytes, `kid` its RFC 7638
/// thumbprint. Returns the key's bytes.
fn assert_ed25519_member(member: &Value) -> [u8; 32] {
    let object = member.as_object().expect("a JWK is a JSON object");
    assert!(object.get("d").is_none(), "the private key is published: {member}");
    let mut names: Vec<&str> = object.keys().map(String::as_str).collect();
    names.sort_unstable();
    assert_eq!(names, ["alg", "crv", "kid", "kty", "use", "x"], "{member}");
    assert_eq!(member["kty"], "OKP", "{member}");
    assert_eq!(member["crv"], "Ed25519", "{member}");
    assert_eq!(member["alg"], "EdDSA", "{member}");
    assert_eq!(member["use"], "sig", "{member}");
    let x: [u8; 32] = b64url_decode(member["x"].as_str().expect("`x` is a string"))
        .try_into()
        .unwrap_or_else(|_| panic!("`x` is 32 bytes: {member}"));
    assert_eq!(member["kid"], thumbprint(&x), "`kid` is the key's thumbprint: {member}");
    x
}

/// The decoded header of a token, exactly as sent.
fn header_of(token: &str) -> Value {
    serde_json::from_slice(&b64url_decode(&parts(token)[0])).expect("a JSON header")
}

fn kid_of(token: &str) -> String {
    header_of(token)["kid"].as_str().expect("a kid").to_owned()
}

/// A verifier holding nothing but the served JWK Set, as posts-server holds it.
fn verifier_from(jwks: &str) -> AccessTokens {
    let verifier = AccessTokens::following(&default_settings());
    verifier
        .replace_keys(KeySet::from_jwks(jwks.as_bytes()).expect("a JWK Set"))
        .expect("EdDSA keys");
    verifier
}

/// Verifies `token` with `jsonwebtoken` from the served JWK Set alone: the member its `kid`
/// names, EdDSA only, the contract's issuer and audience.
fn verified_by_jsonwebtoken(jwks: &str, token: &str) -> Result<Value, String> {
    let set: JwkSet = serde_json::from_str(jwks).map_err(|e| format!("not a JWK Set: {e}"))?;
    let kid = jsonwebtoken::decode_header(token)
        .map_err(|e| e.to_string())?
        .kid
        .ok_or("no kid")?;
    let jwk = set.find(&kid).ok_or("no key of that kid")?;
    let key = DecodingKey::from_jwk(jwk).map_err(|e| e.to_string())?;
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.set_issuer(&[ISSUER]);
    validation.set_audience(&[AUDIENCE]);
    validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
    validation.validate_nbf = true;
    validation.leeway = 5;
    jsonwebtoken::decode::<Value>(token, &key, &validation)
        .map(|data| data.claims)
        .map_err(|e| e.to_string())
}

/// Writes `key` as a PKCS#8 PEM file `name` in `dir`.
fn write_private(dir: &Path, name: &str, key: &Ed25519PrivateKey) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, key.to_pkcs8_pem().expect("PEM").expose()).expect("write a key file");
    path
}

/// Writes the public halves of `keys` as one PEM file `name` in `dir`, with comments between.
fn write_public(dir: &Path, name: &str, keys: &[Ed25519PublicKey]) -> std::path::PathBuf {
    let text: String = keys
        .iter()
        .enumerate()
        .map(|(n, key)| format!("# key {n}\n{}", key.to_pem().expect("PEM")))
        .collect();
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write a public keys file");
    path
}

/// No run of six characters of `secret`, nor of its base64url form (as a JWK's `k` or `d`
/// would show it), appears in `text`.
fn assert_no_part_of(text: &str, secret: &str) {
    for form in [secret.to_owned(), b64url(secret)] {
        for start in 0..=form.len() - 6 {
            let piece = &form[start..start + 6];
            assert!(!text.contains(piece), "{text:?} shows {piece:?} of a secret");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The key set

#[tokio::test]
async fn in_hs256_mode_the_key_set_is_empty_and_shows_no_secret() {
    let app = spawn_app_in(TokenAlgorithm::Hs256, |_| {}).await;
    let (_, tokens) = app.user_with_session("alice").await;

    let (body, set) = key_set(&app).await;

    assert_eq!(set, json!({ "keys": [] }), "{body}");
    assert_no_part_of(&body, ACCESS_SECRET);
    assert_no_part_of(&body, REFRESH_SECRET);
    // A verifier that has only the set cannot accept the HS256 tokens.
    assert!(verifier_from(&body).verify(&tokens.access).is_err());
}

#[tokio::test]
async fn in_eddsa_mode_the_key_set_is_the_signing_key_and_the_published_ones() {
    let files = TestDir::new();
    let signing = access_key().public_key();
    let next = Ed25519PrivateKey::generate().expect("a key").public_key();
    let retired = Ed25519PrivateKey::generate().expect("a key").public_key();
    // The signing key's own public half listed too, as an operator may: it is served once.
    let published = write_public(files.path(), "published.pem", &[next, signing, retired]);
    let app = spawn_app_in(TokenAlgorithm::EdDsa, |config| {
        config.access_token_public_keys_file = Some(published);
    })
    .await;
    let (_, tokens) = app.user_with_session("alice").await;

    let (body, set) = key_set(&app).await;

    let served: Vec<[u8; 32]> = members(&set).iter().map(assert_ed25519_member).collect();
    let mut expected = vec![*signing.as_bytes(), *next.as_bytes(), *retired.as_bytes()];
    let mut sorted = served.clone();
    sorted.sort_unstable();
    expected.sort_unstable();
    assert_eq!(
        sorted, expected,
        "exactly the signing key and the published ones: {body}"
    );
    // The signing key's member is the one whose kid access tokens carry.
    let kid = kid_of(&tokens.access);
    let member = members(&set)
        .iter()
        .find(|member| member["kid"] == kid.as_str())
        .unwrap_or_else(|| panic!("no member of the access token's kid {kid}: {body}"));
    assert_eq!(member["x"], b64url(signing.as_bytes()));
}

#[tokio::test]
async fn an_eddsa_access_token_from_login_verifies_with_the_key_set_alone() {
    let app = spawn_app_in(TokenAlgorithm::EdDsa, |_| {}).await;
    let (id, tokens) = app.user_with_session("alice").await;
    let (jwks, set) = key_set(&app).await;
    assert_eq!(members(&set).len(), 1, "{jwks}");
    let kid = set["keys"][0]["kid"].as_str().expect("a kid");

    assert_eq!(
        header_of(&tokens.access),
        json!({ "alg": "EdDSA", "typ": "at+jwt", "kid": kid }),
        "the access token's header"
    );
    // Our verifier, as posts-server runs it, with the set and nothing else.
    let claims = verifier_from(&jwks)
        .verify(&tokens.access)
        .expect("verified with the set");
    assert_eq!((claims.sub.as_str(), claims.name.as_str()), (id.as_str(), "alice"));
    // jsonwebtoken, from the set's member of that kid.
    let claims = verified_by_jsonwebtoken(&jwks, &tokens.access).expect("verified by jsonwebtoken");
    assert_eq!(claims["sub"], id.as_str());

    // The refresh token is still HS256 under the refresh secret, which the set does not verify.
    assert_eq!(
        header_of(&tokens.refresh),
        json!({
            "alg": "HS256",
            "typ": "rt+jwt",
            "kid": key_id(&Secret::new(REFRESH_SECRET)).expect("a kid"),
        })
    );
    assert_eq!(app.refresh_claims(&tokens.refresh).sub, id);
    assert!(verifier_from(&jwks).verify(&tokens.refresh).is_err());
    assert!(verified_by_jsonwebtoken(&jwks, &tokens.refresh).is_err());
}

#[tokio::test]
async fn a_retired_ed25519_key_is_served_until_it_is_removed_and_its_tokens_verify_until_then() {
    let files = TestDir::new();
    let mut app = spawn_app_in(TokenAlgorithm::EdDsa, |_| {}).await;
    let (_, before) = app.user_with_session("alice").await;
    let old = access_key().public_key();
    let new = Ed25519PrivateKey::generate().expect("a key");

    // The new key signs; the old one is published beside it.
    app.config.access_token_private_key_file = Some(write_private(files.path(), "new.key", &new));
    app.config.access_token_public_keys_file = Some(write_public(files.path(), "retired.pem", &[old]));
    app.restart().await;
    let (jwks, set) = key_set(&app).await;
    let mut kids: Vec<&str> = members(&set)
        .iter()
        .map(|m| m["kid"].as_str().expect("a kid"))
        .collect();
    kids.sort_unstable();
    let mut expected = [old.kid(), new.public_key().kid()];
    expected.sort_unstable();
    assert_eq!(kids, expected, "{jwks}");
    verifier_from(&jwks)
        .verify(&before.access)
        .expect("the old key's token verifies");
    let after = app.refreshed(&before.refresh).await;
    assert_eq!(kid_of(&after.access), new.public_key().kid(), "the new key signs");
    verifier_from(&jwks)
        .verify(&after.access)
        .expect("the new key's token verifies");

    // The old key removed: its tokens are refused by whoever has the set, the new key's are not.
    app.config.access_token_public_keys_file = None;
    app.restart().await;
    let (jwks, set) = key_set(&app).await;
    assert_eq!(members(&set).len(), 1, "{jwks}");
    assert_eq!(set["keys"][0]["kid"], new.public_key().kid());
    let refused = verifier_from(&jwks)
        .verify(&before.access)
        .expect_err("the old key is gone");
    assert_eq!(refused.reason, VerifyReason::UnknownKey);
    assert!(verified_by_jsonwebtoken(&jwks, &before.access).is_err());
    verifier_from(&jwks)
        .verify(&after.access)
        .expect("the new key's token verifies");
}

// ---------------------------------------------------------------------------------------------
// Start-up refusals of the key settings, through the binary

/// The binary in `dir` with the refresh secret and `envs`.
fn server_with(dir: &Path, envs: &[(&str, &str)]) -> Command {
    let mut command = AUTH_SERVER.command(dir);
    command
        .env("REFRESH_TOKEN_SECRET", REFRESH_SECRET)
        .envs(envs.iter().copied());
    command
}

#[tokio::test]
async fn eddsa_without_a_key_file_refuses_to_start_naming_the_variable() {
    let dir = TestDir::new();
    let refusal = AUTH_SERVER
        .refused_start(&mut server_with(dir.path(), &[("ACCESS_TOKEN_ALG", "EdDSA")]))
        .await;
    assert_refused_naming(&refusal, "ACCESS_TOKEN_PRIVATE_KEY_FILE", &[]);
    assert_ne!(refusal.status.code(), Some(0));
    assert!(!dir.path().join("auth.db").exists(), "no database for a refused start");
}

#[tokio::test]
async fn eddsa_with_an_access_secret_refuses_to_start_naming_it_without_printing_it() {
    let dir = TestDir::new();
    let key = write_access_key(dir.path()).display().to_string();
    let old = "an-older-access-secret-0123456789-abcdefghij";
    let secret_file = dir.path().join("access.secret");
    std::fs::write(&secret_file, ACCESS_SECRET).expect("write a secret file");
    let secret_file = secret_file.display().to_string();
    for (variable, value) in [
        ("ACCESS_TOKEN_SECRET", ACCESS_SECRET),
        ("ACCESS_TOKEN_PREVIOUS_SECRETS", old),
        // Given as files, the refusal names the file's variable, the one to unset.
        ("ACCESS_TOKEN_SECRET_FILE", secret_file.as_str()),
        ("ACCESS_TOKEN_PREVIOUS_SECRETS_FILE", secret_file.as_str()),
    ] {
        let mut command = server_with(
            dir.path(),
            &[
                ("ACCESS_TOKEN_ALG", "EdDSA"),
                ("ACCESS_TOKEN_PRIVATE_KEY_FILE", &key),
                (variable, value),
            ],
        );
        let refusal = AUTH_SERVER.refused_start(&mut command).await;
        assert_refused_naming(&refusal, variable, &[old]);
        assert_ne!(refusal.status.code(), Some(0));
    }
}

#[tokio::test]
async fn eddsa_with_a_key_file_that_is_not_a_key_refuses_naming_the_variable_never_the_content() {
    let dir = TestDir::new();
    let path = |name: &str| dir.path().join(name).display().to_string();
    let marker = "never-printed-0123456789-abcdefghijklmnop";
    let public = access_key().public_key().to_pem().expect("PEM");
    let public_body: String = public.lines().filter(|line| !line.starts_with("-----")).collect();
    let write = |name: &str, bytes: &[u8]| std::fs::write(dir.path().join(name), bytes).expect("write a file");
    write("text.key", format!("{marker}\n").as_bytes());
    write(
        "fake.pem",
        format!("-----BEGIN PRIVATE KEY-----\n{marker}\n-----END PRIVATE KEY-----\n").as_bytes(),
    );
    write("public.pem", public.as_bytes());
    write("binary.key", &[marker.as_bytes(), &[0xff, 0xfe]].concat());
    let good = write_access_key(dir.path()).display().to_string();

    let private = "ACCESS_TOKEN_PRIVATE_KEY_FILE";
    let published = "ACCESS_TOKEN_PUBLIC_KEYS_FILE";
    let cases = [
        (private, path("text.key"), None),
        (private, path("fake.pem"), None),
        // A public key is not the private key.
        (private, path("public.pem"), None),
        (private, path("binary.key"), None),
        (private, path("missing.key"), None),
        (private, dir.path().display().to_string(), None),
        // The published keys must be public keys.
        (published, path("text.key"), Some(good.as_str())),
        (published, path("fake.pem"), Some(good.as_str())),
        (published, path("binary.key"), Some(good.as_str())),
    ];
    for (variable, file, signing) in &cases {
        let mut envs = vec![("ACCESS_TOKEN_ALG", "EdDSA"), (*variable, file.as_str())];
        if let Some(signing) = signing {
            envs.push((private, signing));
        }
        let refusal = AUTH_SERVER.refused_start(&mut server_with(dir.path(), &envs)).await;
        assert_refused_naming(&refusal, variable, &[marker, &public_body]);
        assert_ne!(refusal.status.code(), Some(0), "{variable}={file}");
    }
}

#[tokio::test]
async fn hs256_with_a_key_file_refuses_to_start_naming_it() {
    let dir = TestDir::new();
    let key = write_access_key(dir.path()).display().to_string();
    let public = write_public(dir.path(), "published.pem", &[access_key().public_key()])
        .display()
        .to_string();
    // HS256 by default, and when said.
    for alg in [None, Some("HS256")] {
        for (variable, file) in [
            ("ACCESS_TOKEN_PRIVATE_KEY_FILE", &key),
            ("ACCESS_TOKEN_PUBLIC_KEYS_FILE", &public),
        ] {
            let mut envs = vec![("ACCESS_TOKEN_SECRET", ACCESS_SECRET), (variable, file.as_str())];
            if let Some(alg) = alg {
                envs.push(("ACCESS_TOKEN_ALG", alg));
            }
            let refusal = AUTH_SERVER.refused_start(&mut server_with(dir.path(), &envs)).await;
            assert_refused_naming(&refusal, variable, &[]);
            assert_ne!(refusal.status.code(), Some(0), "{alg:?}, {variable}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// `auth-server keys generate` and `keys public`

/// What one run of `auth-server keys …` did.
#[derive(Debug)]
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Runs `auth-server ARGS` in `dir` with no setting at all (the commands need none).
async fn keys_command(dir: &Path, args: &[&str]) -> Run {
    let mut command = AUTH_SERVER.command(dir);
    command.args(args);
    let Output { status, stdout, stderr } = tokio::time::timeout(Duration::from_secs(60), command.output())
        .await
        .expect("the command ends in time")
        .expect("run auth-server");
    Run {
        code: status.code(),
        stdout: String::from_utf8(stdout).expect("UTF-8 stdout"),
        stderr: String::from_utf8(stderr).expect("UTF-8 stderr"),
    }
}

/// What `keys generate` and `keys public` print: `# kid KID` and the public key's PEM. Returns
/// the kid, the PEM and the key it holds.
fn printed_key(stdout: &str) -> (String, String, Ed25519PublicKey) {
    let (first, pem) = stdout.split_once('\n').expect("two parts");
    let kid = first.strip_prefix("# kid ").expect("a `# kid` line").to_owned();
    assert!(
        pem.starts_with("-----BEGIN PUBLIC KEY-----\n") && pem.ends_with("-----END PUBLIC KEY-----\n"),
        "one PEM public key: {stdout}"
    );
    let public = Ed25519PublicKey::from_pem(pem).expect("an Ed25519 public key");
    (kid, pem.to_owned(), public)
}

#[tokio::test]
async fn keys_generate_writes_an_owner_only_pkcs8_file_whose_public_key_is_the_one_served() {
    let dir = TestDir::new();
    let file = dir.path().join("signing.key");
    let out = file.display().to_string();

    let generated = keys_command(dir.path(), &["keys", "generate", "--out", &out]).await;

    assert_eq!(generated.code, Some(0), "{generated:?}");
    let mode = std::fs::metadata(&file).expect("the key file").permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "owner-only: {mode:o}");
    let pem = std::fs::read_to_string(&file).expect("read the key file");
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"), "PKCS#8 PEM");
    assert!(pem.trim_end().ends_with("-----END PRIVATE KEY-----"), "PKCS#8 PEM");
    let body: String = pem.lines().filter(|line| !line.starts_with("-----")).collect();
    assert!(
        !generated.stdout.contains(&body) && !generated.stderr.contains(&body),
        "the private key is printed"
    );
    let (kid, public_pem, public) = printed_key(&generated.stdout);
    assert_eq!(kid, thumbprint(public.as_bytes()), "the kid is the key's thumbprint");
    assert!(!dir.path().join("auth.db").exists(), "no database for a key command");

    // `keys public` prints the same for the file.
    let shown = keys_command(dir.path(), &["keys", "public", &out]).await;
    assert_eq!(shown.code, Some(0), "{shown:?}");
    assert_eq!(shown.stdout, generated.stdout);
    assert_eq!(shown.stderr, "");
    // OpenSSL reads the file and finds the same public key, where it is installed.
    if let Ok(openssl) = std::process::Command::new("openssl")
        .args(["pkey", "-in", &out, "-pubout"])
        .output()
    {
        assert!(openssl.status.success(), "openssl pkey reads the file: {openssl:?}");
        assert_eq!(String::from_utf8_lossy(&openssl.stdout), public_pem);
    }

    // A server with that file serves that key alone, under that kid, and signs with it.
    let app = spawn_app_in(TokenAlgorithm::EdDsa, |config| {
        config.access_token_private_key_file = Some(file.clone());
    })
    .await;
    let (body, set) = key_set(&app).await;
    assert_eq!(members(&set).len(), 1, "{body}");
    assert_eq!(assert_ed25519_member(&set["keys"][0]), *public.as_bytes());
    assert_eq!(set["keys"][0]["kid"], kid.as_str());
    let (_, tokens) = app.user_with_session("alice").await;
    assert_eq!(kid_of(&tokens.access), kid);

    // Each run makes a new key.
    let other = dir.path().join("other.key").display().to_string();
    let again = keys_command(dir.path(), &["keys", "generate", "--out", &other]).await;
    assert_eq!(again.code, Some(0), "{again:?}");
    assert_ne!(printed_key(&again.stdout).0, kid);
}

#[tokio::test]
async fn keys_generate_never_overwrites_a_file() {
    let dir = TestDir::new();
    let file = dir.path().join("taken.key");
    let content = "whatever was here before\n";
    std::fs::write(&file, content).expect("write a file");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let out = file.display().to_string();

    let refused = keys_command(dir.path(), &["keys", "generate", "--out", &out]).await;

    assert_eq!(refused.code, Some(1), "{refused:?}");
    assert_eq!(refused.stdout, "", "no key printed for a key not written");
    assert_eq!(refused.stderr.lines().count(), 1, "one line: {refused:?}");
    assert!(
        refused.stderr.starts_with("auth-server: ") && refused.stderr.contains(&out),
        "names the file: {refused:?}"
    );
    assert_eq!(std::fs::read_to_string(&file).expect("the file"), content, "unchanged");
    let mode = std::fs::metadata(&file).expect("the file").permissions().mode();
    assert_eq!(mode & 0o777, 0o644, "its mode unchanged");
}

#[tokio::test]
async fn keys_public_of_a_file_that_is_not_a_key_names_the_file_never_the_content() {
    let dir = TestDir::new();
    let file = dir.path().join("not-a.key");
    let marker = "never-printed-0123456789-abcdefghijklmnop";
    std::fs::write(
        &file,
        format!("-----BEGIN PRIVATE KEY-----\n{marker}\n-----END PRIVATE KEY-----\n"),
    )
    .expect("write a file");
    let out = file.display().to_string();

    let refused = keys_command(dir.path(), &["keys", "public", &out]).await;

    assert_eq!(refused.code, Some(1), "{refused:?}");
    assert_eq!(refused.stdout, "");
    assert_eq!(refused.stderr.lines().count(), 1, "one line: {refused:?}");
    assert!(refused.stderr.contains(&out), "names the file: {refused:?}");
    assert!(!refused.stderr.contains(marker), "echoes the file: {refused:?}");
}
