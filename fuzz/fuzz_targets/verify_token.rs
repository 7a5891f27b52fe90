//! Token verification on hostile input. Every input is used twice:
//!
//! 1. as the token itself (lossily made UTF-8), handed to the access and
//!    refresh verifiers, so raw tokens work as seeds;
//! 2. as a [`Plan`]: edits or a spliced segment on a valid token, or an
//!    arbitrary payload or header signed with the right key.
//!
//! Neither may panic, and anything accepted must pass `check_token`: the
//! canonical MAC under the right key, the kind's `typ` and `kid`, claims that
//! are exactly the signed payload, right issuer, audience and times.
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use jwt_tokens_fuzz::{Plan, check_token, fixture};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    check_token(&String::from_utf8_lossy(data));

    let Ok(plan) = Plan::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    let (token, original) = plan.build();
    check_token(&token);
    if let Some(original) = original {
        let f = fixture();
        let accepted = f.access.verify(&token).is_ok() || f.refresh.verify(&token).is_ok();
        assert_eq!(accepted, token == original, "edited token {token:?} from {original:?}");
    }
});
