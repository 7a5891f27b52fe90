//! The banner printed once both servers are ready: where they are and how to try them.

use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;

use crate::secrets::{self, ACCESS_VAR, REFRESH_VAR};
use crate::seed::{DEMO_PASSWORD, DEMO_USERS};
use crate::settings::UserSettings;

/// The servers the frontend calls when its URL names none (ports 4000 and 3000 of the page's own
/// host, see `frontend/app.js`), as the launcher reports them.
const DEFAULT_AUTH_URL: &str = "http://127.0.0.1:4000";
const DEFAULT_POSTS_URL: &str = "http://127.0.0.1:3000";

/// Says where the secrets come from, without ever showing them.
pub fn secrets_line(settings: &UserSettings) -> String {
    let file = secrets::file_path(Path::new(crate::DATA_DIR));
    let from_user: Vec<&str> = [ACCESS_VAR, REFRESH_VAR]
        .into_iter()
        .filter(|key| settings.gives(key))
        .collect();
    if from_user.is_empty() {
        format!("generated once, kept in {} (owner-only)", file.display())
    } else {
        let yours = from_user.join(" and ");
        if from_user.len() == 2 {
            format!("{yours} from your environment or .env")
        } else {
            format!(
                "{yours} from your environment or .env, the other from {}",
                file.display()
            )
        }
    }
}

/// Says how access tokens are signed under `--eddsa`, and where the refresh secret comes from.
pub fn eddsa_line(settings: &UserSettings, key_file: &Path) -> String {
    let refresh = if settings.gives(REFRESH_VAR) {
        format!("{REFRESH_VAR} from your environment or .env")
    } else {
        format!(
            "{REFRESH_VAR} in {}",
            secrets::file_path(Path::new(crate::DATA_DIR)).display()
        )
    };
    format!(
        "access tokens EdDSA, key in {} (owner-only; public keys at /.well-known/jwks.json); {refresh}",
        key_file.display()
    )
}

/// The demo frontend's URL; it names the servers when they are not on the frontend's default ports.
pub fn frontend_url(address: SocketAddr, auth_url: &str, posts_url: &str) -> String {
    let base = format!("http://{address}/");
    if auth_url == DEFAULT_AUTH_URL && posts_url == DEFAULT_POSTS_URL {
        base
    } else {
        format!("{base}?auth={auth_url}&posts={posts_url}")
    }
}

pub fn print(auth_url: &str, posts_url: &str, frontend_url: Option<&str>, secrets_line: &str) {
    let users = DEMO_USERS.join(", ");
    // Kyle, whose posts the tutorial lists.
    let user = DEMO_USERS[1];
    // Plain `sed` rather than `jq`, which is often not installed. The spaces allowed
    // around `:` keep it working should the JSON ever be pretty-printed.
    let try_it = format!(
        r#"TOKEN=$(curl -s {auth_url}/login -H 'Content-Type: application/json' -d '{{"username":"{user}","password":"{DEMO_PASSWORD}"}}' | sed -E 's/.*"accessToken" *: *"([^"]+)".*/\1/') && curl -s {posts_url}/posts -H "Authorization: Bearer $TOKEN""#
    );
    let frontend = match frontend_url {
        Some(url) => format!("\x20   frontend       {url} (log in, posts, token refresh, in the browser)\n"),
        None => String::new(),
    };
    let banner = format!(
        "\n\
         ==> Both servers are ready\n\
         \x20   auth-server    {auth_url}\n\
         \x20   posts-server   {posts_url}\n\
         {frontend}\
         \x20   demo users     {users} (password: {DEMO_PASSWORD}, development only)\n\
         \x20   secrets        {secrets_line}\n\
         \x20   requests.http  the whole tutorial flow, for VS Code REST Client or httpyac\n\
         \n\
         \x20   Log in as {user} and list his posts:\n\
         \x20   {try_it}\n\
         \n\
         \x20   Ctrl-C stops both.\n\n"
    );
    // One write, so no server log line lands in the middle of the banner.
    let _ = std::io::stdout().lock().write_all(banner.as_bytes());
}
