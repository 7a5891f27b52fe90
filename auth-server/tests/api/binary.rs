//! The `auth-server` binary: refusing bad settings, reporting its port, stopping, surviving a crash, keeping secrets.
//!
//! Its servers sign access tokens as the target's mode says (`crate::ALG`), except in the tests
//! of the HS256 secrets themselves, which run `HS256` in every target.

use std::net::Ipv4Addr;
use std::path::Path;

use serde_json::{Value, json};
use test_support::{Exit, Refusal, ServerBinary, ServerProcess};
use tokio::process::Command;

use jwt_tokens::{KeySet, RefreshClaims, RefreshTokens, Secret, TokenAlgorithm};

use crate::helpers::{
    ACCESS_SECRET, PASSWORD, REFRESH_SECRET, TestData, TestDir, access_key_body, default_settings, never_shown,
    test_data, write_access_key,
};

/// The binary, run in its test's directory (so that no `.env` of ours is read) with no contract
/// variable set but any free port and a database in that directory; a start or a stop may take
/// 30 s (it hashes a dummy password at start).
pub(crate) const AUTH_SERVER: ServerBinary =
    ServerBinary::new("auth-server", env!("CARGO_BIN_EXE_auth-server")).envs(&[
        ("AUTH_ADDR", "127.0.0.1:0"),
        ("AUTH_DATABASE_URL", "sqlite://auth.db"),
        ("RUST_LOG", "warn"),
    ]);

/// The variables that give a server of mode `alg` its access key: `ACCESS_TOKEN_SECRET`, or
/// `ACCESS_TOKEN_ALG=EdDSA` and the test key, its file written into `dir`.
pub(crate) fn access_key_env(alg: TokenAlgorithm, dir: &Path) -> Vec<(&'static str, String)> {
    match alg {
        TokenAlgorithm::Hs256 => vec![("ACCESS_TOKEN_SECRET", ACCESS_SECRET.to_owned())],
        TokenAlgorithm::EdDsa => vec![
            ("ACCESS_TOKEN_ALG", "EdDSA".to_owned()),
            (
                "ACCESS_TOKEN_PRIVATE_KEY_FILE",
                write_access_key(dir).display().to_string(),
            ),
        ],
    }
}

/// The binary in the target's mode, with its access key and the refresh secret.
fn configured(dir: &Path) -> Command {
    configured_in(crate::ALG, dir)
}

/// The binary in `HS256` mode with both test secrets set, for the tests of the secrets.
fn configured_hs256(dir: &Path) -> Command {
    configured_in(TokenAlgorithm::Hs256, dir)
}

fn configured_in(alg: TokenAlgorithm, dir: &Path) -> Command {
    let mut command = AUTH_SERVER.command(dir);
    command
        .envs(access_key_env(alg, dir))
        .env("REFRESH_TOKEN_SECRET", REFRESH_SECRET);
    command
}

/// The binary in the target's mode with its keys, on `data` (the target's backend).
pub(crate) fn configured_on(data: &TestData) -> Command {
    let mut command = configured(data.dir().path());
    command.env("AUTH_DATABASE_URL", data.database_url());
    command
}

/// Runs a start that must fail (in time, with a failing exit status, never listening).
async fn refused_start(command: &mut Command) -> Refusal {
    AUTH_SERVER.refused_start(command).await
}

/// Exactly one line on stderr, naming `variable`, and no secret (nor the test key) in it.
pub(crate) fn assert_refused_naming(refusal: &Refusal, variable: &str, secrets: &[&str]) {
    refusal.assert_one_line_naming(variable);
    let stderr = &refusal.stderr;
    let key = access_key_body();
    for secret in secrets.iter().chain([&ACCESS_SECRET, &REFRESH_SECRET, &key.as_str()]) {
        assert!(!stderr.contains(secret), "the secret is printed: {stderr:?}");
    }
}

#[tokio::test]
async fn refuses_to_start_without_the_access_secret() {
    let dir = TestDir::new();
    let mut command = AUTH_SERVER.command(dir.path());
    command.env("REFRESH_TOKEN_SECRET", REFRESH_SECRET);
    assert_refused_naming(&refused_start(&mut command).await, "ACCESS_TOKEN_SECRET", &[]);
    assert!(!dir.path().join("auth.db").exists(), "no database for a refused start");
}

#[tokio::test]
async fn refuses_to_start_without_the_refresh_secret() {
    let dir = TestDir::new();
    let mut command = AUTH_SERVER.command(dir.path());
    command.envs(access_key_env(crate::ALG, dir.path()));
    assert_refused_naming(&refused_start(&mut command).await, "REFRESH_TOKEN_SECRET", &[]);
}

#[tokio::test]
async fn refuses_an_empty_secret() {
    let dir = TestDir::new();
    let mut command = configured_hs256(dir.path());
    command.env("ACCESS_TOKEN_SECRET", "");
    assert_refused_naming(&refused_start(&mut command).await, "ACCESS_TOKEN_SECRET", &[]);
}

#[tokio::test]
async fn refuses_a_31_byte_secret_without_printing_it() {
    let short = "0123456789abcdefghijklmnopqrstu";
    assert_eq!(short.len(), 31);

    let dir = TestDir::new();
    let mut command = configured_hs256(dir.path());
    command.env("ACCESS_TOKEN_SECRET", short);
    assert_refused_naming(&refused_start(&mut command).await, "ACCESS_TOKEN_SECRET", &[short]);

    let mut command = configured(dir.path());
    command.env("REFRESH_TOKEN_SECRET", short);
    assert_refused_naming(&refused_start(&mut command).await, "REFRESH_TOKEN_SECRET", &[short]);
}

#[tokio::test]
async fn refuses_equal_secrets_without_printing_them() {
    let dir = TestDir::new();
    let mut command = configured_hs256(dir.path());
    command.env("REFRESH_TOKEN_SECRET", ACCESS_SECRET);
    assert_refused_naming(&refused_start(&mut command).await, "REFRESH_TOKEN_SECRET", &[]);
}

#[tokio::test]
async fn refuses_previous_secrets_that_are_short_or_shared_between_the_kinds() {
    let short = "0123456789abcdefghijklmnopqrstu";
    let old = "an-older-access-secret-0123456789-abcdefghij";
    let cases = [
        (
            "ACCESS_TOKEN_PREVIOUS_SECRETS",
            format!("{old},{short}"),
            "ACCESS_TOKEN_PREVIOUS_SECRETS",
        ),
        (
            "REFRESH_TOKEN_PREVIOUS_SECRETS",
            short.to_owned(),
            "REFRESH_TOKEN_PREVIOUS_SECRETS",
        ),
        // An old access key that is the refresh key would let one kind pass for the other.
        (
            "ACCESS_TOKEN_PREVIOUS_SECRETS",
            REFRESH_SECRET.to_owned(),
            "REFRESH_TOKEN_SECRET",
        ),
        (
            "REFRESH_TOKEN_PREVIOUS_SECRETS",
            ACCESS_SECRET.to_owned(),
            "REFRESH_TOKEN_PREVIOUS_SECRETS",
        ),
        (
            "ACCESS_TOKEN_PREVIOUS_SECRETS",
            ACCESS_SECRET.to_owned(),
            "ACCESS_TOKEN_PREVIOUS_SECRETS",
        ),
    ];
    for (variable, value, named) in cases {
        let dir = TestDir::new();
        let mut command = configured_hs256(dir.path());
        command.env(variable, &value);
        assert_refused_naming(&refused_start(&mut command).await, named, &[short, old]);
    }
}

#[tokio::test]
async fn refuses_a_rate_that_is_not_n_per_period() {
    let dir = TestDir::new();
    let mut command = configured(dir.path());
    command.env("LOGIN_RATE_PER_USERNAME", "lots");
    assert_refused_naming(&refused_start(&mut command).await, "LOGIN_RATE_PER_USERNAME", &[]);
}

#[tokio::test]
async fn refuses_a_ttl_that_is_not_a_duration() {
    let dir = TestDir::new();
    let mut command = configured(dir.path());
    command.env("ACCESS_TOKEN_TTL", "abc");
    assert_refused_naming(&refused_start(&mut command).await, "ACCESS_TOKEN_TTL", &[]);
    assert!(!dir.path().join("auth.db").exists(), "no database for a refused start");
}

#[tokio::test]
async fn refuses_a_database_url_of_an_unsupported_kind() {
    let dir = TestDir::new();
    let mut command = configured(dir.path());
    command.env("AUTH_DATABASE_URL", "mysql://x");
    assert_refused_naming(&refused_start(&mut command).await, "AUTH_DATABASE_URL", &[]);
}

#[tokio::test]
async fn refuses_a_session_shorter_than_an_access_token() {
    let dir = TestDir::new();
    let mut command = configured(dir.path());
    command.env("ACCESS_TOKEN_TTL", "15m").env("REFRESH_TOKEN_TTL", "10m");
    assert_refused_naming(&refused_start(&mut command).await, "REFRESH_TOKEN_TTL", &[]);
}

#[tokio::test]
async fn refuses_a_reuse_grace_long_enough_to_switch_reuse_detection_off() {
    let dir = TestDir::new();
    let mut command = configured(dir.path());
    command.env("REFRESH_REUSE_GRACE", "30d");
    assert_refused_naming(&refused_start(&mut command).await, "REFRESH_REUSE_GRACE", &[]);
    // The longest allowed still starts.
    let mut command = configured(dir.path());
    command.env("REFRESH_REUSE_GRACE", "1m");
    start(&mut command).await.terminate().await;
}

/// Starts the binary and waits for its listening line, which names 127.0.0.1 and a real port.
pub(crate) async fn start(command: &mut Command) -> ServerProcess {
    let server = AUTH_SERVER.start(command).await;
    let base = server.base();
    assert_eq!(
        server.addr().ip(),
        Ipv4Addr::LOCALHOST,
        "an http://127.0.0.1:PORT address: {base}"
    );
    server
}

pub(crate) async fn post(server: &ServerProcess, path: &str, body: &Value) -> reqwest::Response {
    reqwest::Client::new()
        .post(server.url(path))
        .json(body)
        .send()
        .await
        .expect("send a POST")
}

pub(crate) async fn tokens(server: &ServerProcess, path: &str, body: &Value) -> Value {
    let response = post(server, path, body).await;
    assert_eq!(response.status(), 200, "POST {path}");
    response.json().await.expect("a JSON body")
}

fn credentials(password: &str) -> Value {
    json!({ "username": "alice", "password": password })
}

#[tokio::test]
async fn starts_on_port_0_and_reports_the_address() {
    let data = test_data().await;
    let server = start(&mut configured_on(&data)).await;

    let response = reqwest::get(server.url("/healthz")).await.expect("GET /healthz");
    assert_eq!(response.status(), 200);
    let response = reqwest::get(server.url("/readyz")).await.expect("GET /readyz");
    assert_eq!(response.status(), 200);

    let status = server.terminate().await.status;
    assert_eq!(status.code(), Some(0));
}

#[tokio::test]
async fn sigterm_stops_it_with_exit_code_0() {
    let data = test_data().await;
    let server = start(&mut configured_on(&data)).await;
    assert_eq!(post(&server, "/register", &credentials(PASSWORD)).await.status(), 201);

    let Exit { status, output } = server.terminate().await;

    assert_eq!(status.code(), Some(0), "{output}");
}

#[tokio::test]
async fn sigint_right_after_start_stops_it_with_exit_code_0() {
    let data = test_data().await;
    let server = start(&mut configured_on(&data)).await;

    let Exit { status, output } = server.interrupt().await;

    assert_eq!(status.code(), Some(0), "{output}");
}

#[tokio::test]
async fn flags_win_over_the_environment() {
    let data = test_data().await;
    let mut command = configured_on(&data);
    command
        .env("ACCESS_TOKEN_TTL", "15m")
        .args(["--access-token-ttl", "2m"]);
    let server = start(&mut command).await;

    assert_eq!(post(&server, "/register", &credentials(PASSWORD)).await.status(), 201);
    let login = tokens(&server, "/login", &credentials(PASSWORD)).await;
    assert_eq!(login["expiresIn"], 120);

    let status = server.terminate().await.status;
    assert_eq!(status.code(), Some(0));
}

#[tokio::test]
async fn data_survives_kill_9() {
    let data = test_data().await;
    let server = start(&mut configured_on(&data)).await;
    assert_eq!(post(&server, "/register", &credentials(PASSWORD)).await.status(), 201);
    let login = tokens(&server, "/login", &credentials(PASSWORD)).await;

    let status = server.kill().await.status;
    assert_ne!(status.code(), Some(0));

    let server = start(&mut configured_on(&data)).await;
    tokens(&server, "/login", &credentials(PASSWORD)).await;
    let refresh = login["refreshToken"].as_str().expect("a refreshToken");
    let rotated = tokens(&server, "/token", &json!({ "token": refresh })).await;
    assert_ne!(rotated["refreshToken"], refresh);
    let status = server.terminate().await.status;
    assert_eq!(status.code(), Some(0));
}

#[tokio::test]
async fn the_logs_never_contain_a_password_a_secret_or_a_token() {
    let data = test_data().await;
    let mut command = configured_on(&data);
    command.env("RUST_LOG", "debug").env("REFRESH_REUSE_GRACE", "0s");
    let server = start(&mut command).await;
    let wrong_password = "not-the-password-but-close";

    assert_eq!(post(&server, "/register", &credentials(PASSWORD)).await.status(), 201);
    assert_eq!(
        post(&server, "/login", &credentials(wrong_password)).await.status(),
        401
    );
    let login = tokens(&server, "/login", &credentials(PASSWORD)).await;
    let refresh = login["refreshToken"].as_str().expect("a refreshToken").to_owned();
    let rotated = tokens(&server, "/token", &json!({ "token": refresh })).await;
    let reused = post(&server, "/token", &json!({ "token": refresh })).await;
    assert_eq!(reused.status(), 403);
    let logout = reqwest::Client::new()
        .delete(server.url("/logout"))
        .json(&json!({ "token": rotated["refreshToken"] }))
        .send()
        .await
        .expect("DELETE /logout");
    assert_eq!(logout.status(), 204);
    let Exit { status, output } = server.terminate().await;
    assert_eq!(status.code(), Some(0));

    assert!(output.contains("DEBUG"), "debug logging was on: {output}");
    // The reuse is logged as a warning naming the session and the user, never the token.
    let claims = RefreshTokens::new(
        KeySet::single(&Secret::new(REFRESH_SECRET)).expect("a valid secret"),
        &default_settings(),
    )
    .verify(&refresh)
    .expect("a refresh token of the test secret");
    let warning = output
        .lines()
        .find(|line| line.contains("WARN") && line.contains("possible theft"))
        .unwrap_or_else(|| panic!("no warning about the reuse:\n{output}"));
    assert!(warning.contains(&claims.sid), "{warning}");
    assert!(warning.contains(&claims.sub), "{warning}");
    let keys = never_shown(crate::ALG);
    let mut never = vec![PASSWORD, wrong_password, ACCESS_SECRET, REFRESH_SECRET];
    never.extend(keys.iter().map(String::as_str));
    let tokens: Vec<&str> = [&login, &rotated]
        .iter()
        .flat_map(|pair| [&pair["accessToken"], &pair["refreshToken"]])
        .map(|token| token.as_str().expect("a token"))
        .collect();
    never.extend(&tokens);
    // Not even the signature of a token, which is what makes it usable.
    never.extend(
        tokens
            .iter()
            .map(|token| token.rsplit('.').next().expect("a signature")),
    );
    for secret in never {
        assert!(!output.contains(secret), "the output contains {secret:?}:\n{output}");
    }
}

#[tokio::test]
async fn an_expired_session_is_logged_as_a_warning_naming_it() {
    let data = test_data().await;
    let mut command = configured_on(&data);
    // A session no shorter than its access tokens (the start refuses that).
    command
        .env("REFRESH_TOKEN_TTL", "1s")
        .env("ACCESS_TOKEN_TTL", "1s")
        .env("JWT_LEEWAY", "0s");
    let server = start(&mut command).await;
    assert_eq!(post(&server, "/register", &credentials(PASSWORD)).await.status(), 201);
    let login = tokens(&server, "/login", &credentials(PASSWORD)).await;
    let refresh = login["refreshToken"].as_str().expect("a refreshToken").to_owned();

    // The same token two seconds on, issued and ending two seconds earlier: past its end.
    let mut settings = default_settings();
    settings.leeway = std::time::Duration::from_secs(3600);
    let tokens = RefreshTokens::new(
        KeySet::single(&Secret::new(REFRESH_SECRET)).expect("a valid secret"),
        &settings,
    );
    let claims = tokens.verify(&refresh).expect("a refresh token of the test secret");
    let later = tokens
        .sign(&RefreshClaims {
            iat: claims.iat - 2,
            exp: claims.exp - 2,
            ..claims.clone()
        })
        .expect("sign the token as it is two seconds on");
    assert_eq!(post(&server, "/token", &json!({ "token": later })).await.status(), 403);
    let Exit { output, .. } = server.terminate().await;

    let warning = output
        .lines()
        .find(|line| line.contains("WARN") && line.contains("expired session"))
        .unwrap_or_else(|| panic!("no warning about the expired session:\n{output}"));
    assert!(
        warning.contains(&claims.sid) && warning.contains(&claims.sub),
        "{warning}"
    );
    assert!(
        !output.contains(&refresh) && !output.contains(&later),
        "the token is logged:\n{output}"
    );
}

#[tokio::test]
async fn reads_a_dotenv_file_in_the_working_directory() {
    let dir = TestDir::new();
    std::fs::write(
        dir.path().join(".env"),
        format!("ACCESS_TOKEN_SECRET={ACCESS_SECRET}\nREFRESH_TOKEN_SECRET={REFRESH_SECRET}\n"),
    )
    .expect("write .env");

    let server = start(&mut AUTH_SERVER.command(dir.path())).await;

    let status = server.terminate().await.status;
    assert_eq!(status.code(), Some(0));
}

#[tokio::test]
async fn the_environment_wins_over_the_dotenv_file() {
    let dir = TestDir::new();
    std::fs::write(dir.path().join(".env"), "ACCESS_TOKEN_SECRET=too-short\n").expect("write .env");

    let server = start(&mut configured_hs256(dir.path())).await;

    let status = server.terminate().await.status;
    assert_eq!(status.code(), Some(0));
}

#[tokio::test]
async fn does_not_read_a_dotenv_file_of_a_parent_directory() {
    let dir = TestDir::new();
    std::fs::write(
        dir.path().join(".env"),
        format!("ACCESS_TOKEN_SECRET={ACCESS_SECRET}\nREFRESH_TOKEN_SECRET={REFRESH_SECRET}\n"),
    )
    .expect("write .env");
    let child_dir = dir.path().join("elsewhere");
    std::fs::create_dir(&child_dir).expect("create a subdirectory");

    let refusal = refused_start(&mut AUTH_SERVER.command(&child_dir)).await;

    assert_refused_naming(&refusal, "ACCESS_TOKEN_SECRET", &[]);
}

/// The binary on `data` with no secret in its environment: the test gives them as it likes.
fn without_secrets(data: &TestData) -> Command {
    let mut command = AUTH_SERVER.command(data.dir().path());
    command.env("AUTH_DATABASE_URL", data.database_url());
    command
}

#[tokio::test]
async fn secrets_can_be_read_from_files_without_their_line_ending() {
    let data = test_data().await;
    let dir = data.dir().path();
    std::fs::write(dir.join("access.secret"), format!("{ACCESS_SECRET}\n")).expect("write a secret file");
    std::fs::write(dir.join("refresh.secret"), format!("{REFRESH_SECRET}\r\n")).expect("write a secret file");
    let old = "an-older-refresh-secret-0123456789-abcdefghij";
    std::fs::write(dir.join("previous.secrets"), format!("{old}\n")).expect("write a secret file");
    let mut command = without_secrets(&data);
    command
        .env("ACCESS_TOKEN_SECRET_FILE", dir.join("access.secret"))
        .env("REFRESH_TOKEN_SECRET_FILE", dir.join("refresh.secret"))
        .env("REFRESH_TOKEN_PREVIOUS_SECRETS_FILE", dir.join("previous.secrets"));
    let server = start(&mut command).await;

    assert_eq!(post(&server, "/register", &credentials(PASSWORD)).await.status(), 201);
    let login = tokens(&server, "/login", &credentials(PASSWORD)).await;
    // Signed with the secrets as written, without their line endings.
    let ours = RefreshTokens::new(
        KeySet::single(&Secret::new(REFRESH_SECRET)).expect("a valid secret"),
        &default_settings(),
    );
    let refresh = login["refreshToken"].as_str().expect("a refresh token");
    assert!(ours.verify(refresh).is_ok(), "signed with the file's secret");
    let access = jwt_tokens::AccessTokens::new(
        KeySet::single(&Secret::new(ACCESS_SECRET)).expect("a valid secret"),
        &default_settings(),
    );
    let access_token = login["accessToken"].as_str().expect("an access token");
    assert!(access.verify(access_token).is_ok(), "signed with the file's secret");
    // The previous refresh secret of the file still verifies.
    let older = RefreshTokens::new(
        KeySet::single(&Secret::new(old)).expect("a valid secret"),
        &default_settings(),
    );
    let claims = ours.verify(refresh).expect("verified");
    let signed_with_old = older
        .issue_at(&claims.sub, &claims.sid, &claims.jti, claims.iat, claims.exp)
        .expect("sign");
    tokens(&server, "/token", &json!({ "token": signed_with_old })).await;

    let Exit { status, output } = server.terminate().await;
    assert_eq!(status.code(), Some(0), "{output}");
}

#[tokio::test]
async fn a_secret_given_both_ways_refuses_the_start_naming_both_variables() {
    let data = test_data().await;
    let file = data.dir().path().join("refresh.secret");
    std::fs::write(&file, REFRESH_SECRET).expect("write a secret file");
    let mut command = without_secrets(&data);
    command
        .env("ACCESS_TOKEN_SECRET", ACCESS_SECRET)
        .env("REFRESH_TOKEN_SECRET", REFRESH_SECRET)
        .env("REFRESH_TOKEN_SECRET_FILE", &file);
    let refusal = refused_start(&mut command).await;
    assert_refused_naming(&refusal, "REFRESH_TOKEN_SECRET_FILE", &[]);
    let stderr = refusal.stderr.replace("REFRESH_TOKEN_SECRET_FILE", "");
    assert!(
        stderr.contains("REFRESH_TOKEN_SECRET"),
        "names both: {}",
        refusal.stderr
    );
}

#[tokio::test]
async fn an_unreadable_secret_file_refuses_the_start_naming_the_variable_not_the_content() {
    let data = test_data().await;
    let dir = data.dir().path();
    // Not UTF-8: unreadable as a secret, and its readable part must not be printed.
    let marker = "never-printed-0123456789-abcdefghijklmnop";
    let mut bytes = marker.as_bytes().to_vec();
    bytes.push(0xff);
    std::fs::write(dir.join("binary.secret"), &bytes).expect("write a secret file");
    let cases = [
        ("ACCESS_TOKEN_SECRET_FILE", dir.join("missing.secret")),
        ("ACCESS_TOKEN_SECRET_FILE", dir.join("binary.secret")),
        ("REFRESH_TOKEN_SECRET_FILE", dir.to_path_buf()),
    ];
    for (variable, path) in cases {
        let mut command = without_secrets(&data);
        command
            .env("ACCESS_TOKEN_SECRET", ACCESS_SECRET)
            .env("REFRESH_TOKEN_SECRET", REFRESH_SECRET)
            .env_remove(variable.trim_end_matches("_FILE"))
            .env(variable, &path);
        assert_refused_naming(&refused_start(&mut command).await, variable, &[marker]);
    }
}

/// A logout that ends a session says so once, naming it; one that ends nothing (the session had
/// ended already) logs no such line.
#[tokio::test]
async fn a_logout_is_logged_once_naming_its_session() {
    let data = test_data().await;
    let mut command = configured_on(&data);
    command.env("RUST_LOG", "info");
    let server = start(&mut command).await;
    assert_eq!(post(&server, "/register", &credentials(PASSWORD)).await.status(), 201);
    let verifier = RefreshTokens::new(
        KeySet::single(&Secret::new(REFRESH_SECRET)).expect("a valid secret"),
        &default_settings(),
    );
    let mut sessions = Vec::new();
    // Session A is logged out once, session B twice.
    for logouts in [1, 2] {
        let login = tokens(&server, "/login", &credentials(PASSWORD)).await;
        let refresh = login["refreshToken"].as_str().expect("a refreshToken").to_owned();
        for _ in 0..logouts {
            let response = reqwest::Client::new()
                .delete(server.url("/logout"))
                .json(&json!({ "token": refresh }))
                .send()
                .await
                .expect("DELETE /logout");
            assert_eq!(response.status(), 204);
        }
        sessions.push(
            verifier
                .verify(&refresh)
                .expect("a refresh token of the test secret")
                .sid,
        );
    }
    let Exit { output, .. } = server.terminate().await;

    for sid in &sessions {
        let lines = output
            .lines()
            .filter(|line| line.contains("logged out") && line.contains(sid.as_str()))
            .count();
        assert_eq!(lines, 1, "session {sid}:\n{output}");
    }
}
