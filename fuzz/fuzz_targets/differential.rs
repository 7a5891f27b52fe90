//! The verifier against `jsonwebtoken` alone. Every input is used twice:
//!
//! 1. as the token itself (lossily made UTF-8), so raw tokens work as seeds;
//! 2. as a [`Forge`]: a header and claims built from a dictionary of our
//!    header fields and claim names (arrays, duplicate and escaped names,
//!    numbers of every form, the issued values), signed inside the target.
//!
//! On each token, every verifier's answer (`verify`, whose fast path decides
//! what it can, and `expired_claims`) must be exactly `jsonwebtoken`'s: the
//! same claims, or the same reason to refuse. Accepted tokens also go through
//! `verify_token`'s checks.
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use jwt_tokens_fuzz::check_token;
use jwt_tokens_fuzz::differential::{Forge, check_agreement};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    check_agreement(&String::from_utf8_lossy(data));

    let Ok(forge) = Forge::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    let token = forge.build();
    check_agreement(&token);
    check_token(&token);
});
