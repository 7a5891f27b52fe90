//! The memory posts-server's set of ended sessions takes per entry, alone: in a process of its
//! own, on the servers' allocator (mimalloc), the growth of resident memory (`VmRSS`) while
//! `AccessTokens::ended()` takes N entries (the first argument, default 100,000) as the feed
//! gives them: session ids as auth-server makes them (uuids), `until` an hour ahead. The ids
//! are made beforehand, so what grows is the set's own. Twice: a first set, whose growth
//! includes the smaller tables it outgrew (freed, and kept resident by the allocator, as in a
//! server whose set has just grown), then a second one beside it, which reuses those and grows
//! by what it holds. Prints `first set, bytes per entry: B` and `second set, …`. Only `bench`
//! starts it.

use std::process::ExitCode;
use std::time::Duration;

use jwt_tokens::{AccessTokens, KeySet, Secret, TokenSettings, now_unix};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// This process's resident memory, in bytes.
fn resident_bytes() -> Result<u64, String> {
    let status = std::fs::read_to_string("/proc/self/status").map_err(|e| e.to_string())?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kib| kib * 1024)
        .ok_or_else(|| "no VmRSS in /proc/self/status".into())
}

/// The resident growth per entry while a new set takes `entries` uuids.
fn fill(entries: usize) -> Result<(AccessTokens, f64), String> {
    let settings = TokenSettings {
        issuer: "auth-server".into(),
        audience: "posts-server".into(),
        leeway: Duration::from_secs(5),
    };
    let keys = KeySet::single(&Secret::new("a-benchmark-secret-of-at-least-32-bytes!")).map_err(|e| e.to_string())?;
    let tokens = AccessTokens::new(keys, &settings);
    let sids: Vec<String> = (0..entries).map(|_| uuid::Uuid::new_v4().to_string()).collect();
    let until = now_unix() + 3600;
    let before = resident_bytes()?;
    for sid in &sids {
        tokens.ended().insert(sid, until);
    }
    let after = resident_bytes()?;
    if tokens.ended().len() != entries {
        return Err(format!("the set holds {} of {entries}", tokens.ended().len()));
    }
    Ok((tokens, (after as f64 - before as f64) / entries as f64))
}

fn main() -> ExitCode {
    let entries = match std::env::args().nth(1).map(|n| n.parse::<usize>()) {
        None => 100_000,
        Some(Ok(n)) if n > 0 => n,
        Some(_) => {
            eprintln!("ended-set-memory: the argument is a number of entries");
            return ExitCode::FAILURE;
        }
    };
    // The first set's growth counts the smaller tables it outgrew, freed but kept resident by
    // the allocator; a second set of the same size, filled while the first is kept, reuses
    // them and grows by what it holds at the end.
    let measured = fill(entries).and_then(|(first, grown)| Ok((first, grown, fill(entries)?.1)));
    match measured {
        Ok((_, first, second)) => {
            println!("first set, bytes per entry: {first:.1}");
            println!("second set, bytes per entry: {second:.1}");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("ended-set-memory: {err}");
            ExitCode::FAILURE
        }
    }
}
