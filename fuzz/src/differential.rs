//! The `differential` target's side: JSON headers and claims built from a
//! dictionary of the names and values our tokens carry, signed inside the
//! target so they get past the signature check, and the one check that the
//! verifier (its fast path where it decides) and `jsonwebtoken` alone give
//! every token the same outcome.

use std::sync::OnceLock;

use arbitrary::Arbitrary;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jwt_tokens::{VerifyError, now_unix};
use serde_json::Value;

use crate::{ACCESS_SECRET, REFRESH_SECRET, fixture, sign_raw};

/// Header parameters and claim names, some spelled with escapes.
const NAMES: &[&str] = &[
    "alg",
    "typ",
    "kid",
    "cty",
    "jku",
    "jwk",
    "x5u",
    "x5c",
    "x5t",
    "x5t#S256",
    "crit",
    "b64",
    "enc",
    "zip",
    "url",
    "nonce",
    "iss",
    "aud",
    "sub",
    "name",
    "iat",
    "nbf",
    "exp",
    "jti",
    "sid",
    r"\u0061lg",
    r"ty\u0070",
    r"\u006bid",
    r"e\u0078p",
    r"n\u0062f",
    r"\u0069ss",
    r"au\u0064",
    r"s\u0069d",
    "ALG",
    "Exp",
    "",
    r"exp\u0000",
];

/// String values (JSON-escaped already) besides the kids, issuer and audience.
const STRINGS: &[&str] = &[
    "HS256",
    "HS384",
    "HS512",
    "RS256",
    "none",
    "hs256",
    r"\u0048S256",
    "at+jwt",
    "rt+jwt",
    r"at\/jwt",
    r"at+jwt\u0000",
    "JWT",
    r"auth\u002dserver",
    r"posts\u002dserver",
    "user-42",
    "alice",
    "session-7",
    "refresh-1",
    r"a\u0000b",
    r"a\u0085b",
    r"\ud800",
    r"\ud83d\ude00",
    r"\u00e9",
    "b64",
    "",
    " ",
];

/// Numbers that are not "now plus something", in every JSON form and some non-JSON ones.
const NUMBERS: &[&str] = &[
    "0",
    "-0",
    "-1",
    "1",
    "1.5",
    "0.0",
    "1e3",
    "1E3",
    "1e-3",
    "4102444800",
    "4102444800.0",
    "4102444800e0",
    "18446744073709551615",
    "18446744073709551616",
    "99999999999999999999999",
    "1e400",
    "-1e400",
    "00",
    "01",
    "1.",
    ".5",
    "+1",
    "NaN",
    "Infinity",
];

/// Bits of JSON text, for documents that are not well formed.
const FRAGMENTS: &[&str] = &[
    "{", "}", "[", "]", ",", ":", "\"", " ", "\t", "\n", "\r", "\u{c}", "\\", r"\u", "true", "false", "null", "{}",
    "[]", "\u{feff}", "\0", "/*", "*/",
];

/// The JSON documents a token is made of: the header or the claims.
#[derive(Arbitrary, Debug)]
pub enum Doc {
    /// The issued object's members, in the issued order, after some edits
    /// (none: the exact issued bytes).
    Issued(Vec<MemberEdit>),
    /// An object of these members.
    Object(Vec<Member>),
    /// The issued values as an array, in the order of the claims struct
    /// (`[alg, typ, kid]` for a header), or of the other claims struct.
    IssuedArray { other_order: bool },
    /// An array of these values.
    Array(Vec<Val>),
    /// Well-formed or not: pieces of JSON one after the other.
    Text(Vec<Piece>),
    /// Any bytes at all.
    Bytes(Vec<u8>),
}

#[derive(Arbitrary, Debug)]
pub struct Member {
    name: Name,
    value: Val,
}

#[derive(Arbitrary, Debug)]
pub enum Name {
    Known(u8),
    Text(String),
}

#[derive(Arbitrary, Debug)]
pub enum MemberEdit {
    /// Replace the value of the member of this name, or add it at the end.
    Set(Member),
    /// Add it again at the end (a duplicate when the name is there already).
    Append(Member),
    Remove(u8),
    Swap(u8, u8),
}

#[derive(Arbitrary, Debug)]
pub enum Val {
    /// What the issued token has under this member's name (`null` if nothing).
    Right,
    Str(u8),
    /// This kind's `kid`, the other kind's, or one for no key.
    Kid(u8),
    Text(String),
    /// Now plus this many seconds, written in one of several forms.
    Now(i16, NumberForm),
    Number(u8),
    Null,
    Bool(bool),
    Array(Vec<Val>),
    Object(Vec<Member>),
}

#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum NumberForm {
    Integer,
    Fraction,
    Exponent,
    Negated,
    Quoted,
}

#[derive(Arbitrary, Debug)]
pub enum Piece {
    Name(u8),
    Val(Val),
    Fragment(u8),
    Text(String),
}

/// What the two segments are wrapped in: JSON allows whitespace around a value.
#[derive(Arbitrary, Debug)]
pub struct Wrapped {
    before: Space,
    doc: Doc,
    after: Space,
}

#[derive(Arbitrary, Debug)]
pub enum Space {
    None,
    Some(u8),
}

/// A token built from a header and claims, signed inside the target.
#[derive(Arbitrary, Debug)]
pub struct Forge {
    refresh: bool,
    header: Wrapped,
    claims: Wrapped,
    key: KeyChoice,
    finish: Finish,
}

#[derive(Arbitrary, Debug)]
pub enum KeyChoice {
    /// The key of the token's kind.
    Right,
    /// The other kind's key.
    Other,
    /// A key no verifier holds.
    Stranger,
}

/// What happens to the signed token last.
#[derive(Arbitrary, Debug)]
pub enum Finish {
    AsSigned,
    PaddedSignature,
    ExtraSegment,
    EmptySegmentBeforeSignature,
    SignatureCut(u8),
    TrailingNewline,
}

/// The order of the fields of `AccessClaims` and of `RefreshClaims`, and of
/// the header jsonwebtoken writes; `[alg, typ, kid]` as a header struct reads them.
const ACCESS_ORDER: &[&str] = &["iss", "aud", "sub", "name", "iat", "nbf", "exp", "jti", "sid"];
const REFRESH_ORDER: &[&str] = &["iss", "aud", "sub", "iat", "exp", "jti", "sid"];
const HEADER_WRITTEN: &[&str] = &["typ", "alg", "kid"];
const HEADER_ORDER: &[&str] = &["alg", "typ", "kid"];

/// The issued header and claims of each kind, as members in their issued order.
struct Issued {
    header: Vec<(String, Value)>,
    claims: Vec<(String, Value)>,
}

fn issued(refresh: bool) -> &'static Issued {
    static ISSUED: OnceLock<[Issued; 2]> = OnceLock::new();
    let both = ISSUED.get_or_init(|| {
        let f = fixture();
        [(&f.access_token, ACCESS_ORDER), (&f.refresh_token, REFRESH_ORDER)].map(|(token, order)| {
            let mut parts = token.split('.');
            let mut members = |order: &[&str]| {
                let segment = parts.next().expect("a three-part token");
                let json: Value =
                    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(segment).expect("base64url")).expect("our own JSON");
                order
                    .iter()
                    .map(|name| (name.to_string(), json[*name].clone()))
                    .collect()
            };
            Issued {
                header: members(HEADER_WRITTEN),
                claims: members(order),
            }
        })
    });
    &both[usize::from(refresh)]
}

struct Writer<'a> {
    out: String,
    /// The issued members, for `Val::Right`.
    issued: &'a [(String, Value)],
    refresh: bool,
    now: u64,
}

impl Writer<'_> {
    fn doc(&mut self, doc: &Doc, is_header: bool) -> Option<Vec<u8>> {
        match doc {
            Doc::Issued(edits) => {
                let mut members: Vec<(String, Option<&Val>)> =
                    self.issued.iter().map(|(name, _)| (name.clone(), None)).collect();
                for edit in edits.iter().take(12) {
                    match edit {
                        MemberEdit::Set(member) => {
                            let name = name_text(&member.name);
                            match members.iter_mut().find(|(n, _)| *n == name) {
                                Some(found) => found.1 = Some(&member.value),
                                None => members.push((name, Some(&member.value))),
                            }
                        }
                        MemberEdit::Append(member) => members.push((name_text(&member.name), Some(&member.value))),
                        MemberEdit::Remove(at) if !members.is_empty() => {
                            members.remove(usize::from(*at) % members.len());
                        }
                        MemberEdit::Swap(a, b) if !members.is_empty() => {
                            let len = members.len();
                            members.swap(usize::from(*a) % len, usize::from(*b) % len);
                        }
                        _ => {}
                    }
                }
                self.out.push('{');
                for (i, (name, value)) in members.iter().enumerate() {
                    if i > 0 {
                        self.out.push(',');
                    }
                    self.string(name);
                    self.out.push(':');
                    match value {
                        Some(value) => self.val(value, name, 0),
                        None => self.right(name),
                    }
                }
                self.out.push('}');
            }
            Doc::Object(members) => self.object(members, 0),
            Doc::IssuedArray { other_order } => {
                let order = match (is_header, other_order, self.refresh) {
                    (true, _, _) => HEADER_ORDER,
                    (false, false, _) | (false, true, true) => ACCESS_ORDER,
                    (false, true, false) => REFRESH_ORDER,
                };
                self.out.push('[');
                for (i, name) in order.iter().enumerate() {
                    if i > 0 {
                        self.out.push(',');
                    }
                    // A refresh token has no `nbf` of its own: its issue time stands in.
                    let name = if *name == "nbf" && self.refresh { "iat" } else { name };
                    self.right(name);
                }
                self.out.push(']');
            }
            Doc::Array(values) => self.array(values, 0),
            Doc::Text(pieces) => {
                for piece in pieces.iter().take(64) {
                    match piece {
                        Piece::Name(i) => self.string(pick(NAMES, *i)),
                        Piece::Val(value) => self.val(value, "", 0),
                        Piece::Fragment(i) => self.out.push_str(pick(FRAGMENTS, *i)),
                        Piece::Text(text) => self.out.push_str(text),
                    }
                }
            }
            Doc::Bytes(bytes) => return Some(bytes.clone()),
        }
        None
    }

    fn object(&mut self, members: &[Member], depth: u8) {
        self.out.push('{');
        for (i, member) in members.iter().take(16).enumerate() {
            if i > 0 {
                self.out.push(',');
            }
            let name = name_text(&member.name);
            self.string(&name);
            self.out.push(':');
            self.val(&member.value, &name, depth + 1);
        }
        self.out.push('}');
    }

    fn array(&mut self, values: &[Val], depth: u8) {
        self.out.push('[');
        for (i, value) in values.iter().take(16).enumerate() {
            if i > 0 {
                self.out.push(',');
            }
            self.val(value, "", depth + 1);
        }
        self.out.push(']');
    }

    /// `name`'s value in the issued token, written as is.
    fn right(&mut self, name: &str) {
        let value = self
            .issued
            .iter()
            .find(|(n, _)| n == name)
            .map_or(Value::Null, |(_, v)| v.clone());
        self.out.push_str(&value.to_string());
    }

    fn val(&mut self, value: &Val, name: &str, depth: u8) {
        if depth > 4 {
            self.out.push_str("null");
            return;
        }
        match value {
            Val::Right => self.right(name),
            Val::Str(i) => self.string(pick(STRINGS, *i)),
            Val::Kid(i) => {
                let f = fixture();
                let kid = match i % 3 {
                    0 => f.kid(self.refresh),
                    1 => f.kid(!self.refresh),
                    _ => "no-such-key",
                };
                self.string(&kid.to_owned());
            }
            Val::Text(text) => self.out.push_str(&Value::String(text.clone()).to_string()),
            Val::Now(offset, form) => {
                let n = self.now.saturating_add_signed(i64::from(*offset));
                self.out.push_str(&match form {
                    NumberForm::Integer => n.to_string(),
                    NumberForm::Fraction => format!("{n}.0"),
                    NumberForm::Exponent => format!("{n}e0"),
                    NumberForm::Negated => format!("-{n}"),
                    NumberForm::Quoted => format!("\"{n}\""),
                });
            }
            Val::Number(i) => self.out.push_str(pick(NUMBERS, *i)),
            Val::Null => self.out.push_str("null"),
            Val::Bool(b) => self.out.push_str(if *b { "true" } else { "false" }),
            Val::Array(values) => self.array(values, depth),
            Val::Object(members) => self.object(members, depth),
        }
    }

    /// A JSON string whose content is `escaped` as given (it may hold escapes).
    fn string(&mut self, escaped: &str) {
        self.out.push('"');
        self.out.push_str(escaped);
        self.out.push('"');
    }
}

fn pick<'a>(list: &[&'a str], i: u8) -> &'a str {
    list[usize::from(i) % list.len()]
}

/// A member name as it goes between the quotes.
fn name_text(name: &Name) -> String {
    match name {
        Name::Known(i) => pick(NAMES, *i).to_owned(),
        Name::Text(text) => {
            let quoted = Value::String(text.clone()).to_string();
            quoted[1..quoted.len() - 1].to_owned()
        }
    }
}

fn space(space: &Space) -> &'static str {
    match space {
        Space::None => "",
        Space::Some(i) => pick(&[" ", "\n", "\t", "\r", " \n\t\r", "\u{c}", "\u{a0}"], *i),
    }
}

impl Wrapped {
    fn bytes(&self, refresh: bool, is_header: bool) -> Vec<u8> {
        let issued = issued(refresh);
        let mut writer = Writer {
            out: space(&self.before).to_owned(),
            issued: if is_header { &issued.header } else { &issued.claims },
            refresh,
            now: now_unix(),
        };
        let raw = writer.doc(&self.doc, is_header);
        let mut bytes = writer.out.into_bytes();
        if let Some(raw) = raw {
            bytes.extend_from_slice(&raw);
        }
        bytes.extend_from_slice(space(&self.after).as_bytes());
        bytes
    }
}

impl Forge {
    pub fn build(&self) -> String {
        let header = self.header.bytes(self.refresh, true);
        let claims = self.claims.bytes(self.refresh, false);
        let (right, other) = if self.refresh {
            (REFRESH_SECRET, ACCESS_SECRET)
        } else {
            (ACCESS_SECRET, REFRESH_SECRET)
        };
        let secret = match self.key {
            KeyChoice::Right => right,
            KeyChoice::Other => other,
            KeyChoice::Stranger => "a-secret-no-verifier-holds-0123456789-abcdef",
        };
        let token = sign_raw(&header, &claims, secret);
        match self.finish {
            Finish::AsSigned => token,
            Finish::PaddedSignature => format!("{token}="),
            Finish::ExtraSegment => format!("{token}.e30"),
            Finish::EmptySegmentBeforeSignature => {
                let (message, signature) = token.rsplit_once('.').expect("three segments");
                format!("{message}..{signature}")
            }
            Finish::SignatureCut(n) => {
                let keep = token.len() - usize::from(n % 8);
                token[..keep].to_owned()
            }
            Finish::TrailingNewline => format!("{token}\n"),
        }
    }
}

/// The fast path and `jsonwebtoken` alone give `token` the same outcome (the
/// same claims, or the same reason for refusing it), on every verifier.
pub fn check_agreement(token: &str) {
    let f = fixture();
    // An outcome may change when the second turns between the two runs: then run both again.
    for _ in 0..3 {
        let before = now_unix();
        let outcomes = [
            (
                "access",
                outcome(f.access.verify(token)),
                outcome(f.access.verify_by_library(token)),
            ),
            (
                "refresh",
                outcome(f.refresh.verify(token)),
                outcome(f.refresh.verify_by_library(token)),
            ),
            (
                "refresh (access key)",
                outcome(f.refresh_same_key.verify(token)),
                outcome(f.refresh_same_key.verify_by_library(token)),
            ),
            (
                "expired refresh",
                f.refresh
                    .expired_claims(token)
                    .map_or_else(|| "none".to_owned(), |c| format!("{c:?}")),
                f.refresh
                    .expired_claims_by_library(token)
                    .map_or_else(|| "none".to_owned(), |c| format!("{c:?}")),
            ),
        ];
        if now_unix() != before {
            continue;
        }
        for (verifier, fast, library) in outcomes {
            assert_eq!(
                fast, library,
                "the {verifier} verifier and jsonwebtoken alone disagree on {token:?}"
            );
        }
        return;
    }
}

fn outcome<C: std::fmt::Debug>(result: Result<C, VerifyError>) -> String {
    match result {
        Ok(claims) => format!("accepted {claims:?}"),
        Err(err) => format!("refused: {:?}", err.reason),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn forge(refresh: bool, header: Doc, claims: Doc) -> String {
        let wrap = |doc| Wrapped {
            before: Space::None,
            doc,
            after: Space::None,
        };
        Forge {
            refresh,
            header: wrap(header),
            claims: wrap(claims),
            key: KeyChoice::Right,
            finish: Finish::AsSigned,
        }
        .build()
    }

    #[test]
    fn unedited_documents_are_the_issued_tokens() {
        let f = fixture();
        for (refresh, token) in [(false, &f.access_token), (true, &f.refresh_token)] {
            let built = forge(refresh, Doc::Issued(Vec::new()), Doc::Issued(Vec::new()));
            assert_eq!(&built, token);
            check_agreement(&built);
        }
    }

    /// Correctly signed tokens whose header or claims are JSON arrays: the
    /// fast path once read them as the structs' fields and accepted them.
    #[test]
    fn array_shaped_tokens_are_refused_as_jsonwebtoken_refuses_them() {
        let f = fixture();
        for refresh in [false, true] {
            for (header, claims) in [
                (Doc::IssuedArray { other_order: false }, Doc::Issued(Vec::new())),
                (Doc::Issued(Vec::new()), Doc::IssuedArray { other_order: false }),
                (Doc::Issued(Vec::new()), Doc::IssuedArray { other_order: true }),
                (
                    Doc::IssuedArray { other_order: false },
                    Doc::IssuedArray { other_order: false },
                ),
            ] {
                let token = forge(refresh, header, claims);
                check_agreement(&token);
                assert!(f.access.verify(&token).is_err(), "{token}");
                assert!(f.refresh.verify(&token).is_err(), "{token}");
                assert!(f.refresh.expired_claims(&token).is_none(), "{token}");
            }
        }
    }

    #[test]
    fn committed_seeds_agree() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds/differential");
        let mut seen = 0;
        for entry in std::fs::read_dir(dir).expect("seeds/differential") {
            let bytes = std::fs::read(entry.expect("a seed").path()).expect("reading a seed");
            check_agreement(&String::from_utf8_lossy(&bytes));
            seen += 1;
        }
        assert!(seen >= 2, "{seen} seeds");
    }
}
