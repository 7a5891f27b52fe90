//! The `Authorization` header parser, then verification of what it extracts.
//! Every input is used twice:
//!
//! 1. split on `\n` into header values (none for an empty input), so
//!    `Bearer <token>` files work as seeds and several lines are several headers;
//! 2. as a [`HeaderPlan`]: values assembled from raw bytes, `Bearer`, spaces,
//!    `=` and the valid access and refresh tokens.
//!
//! `bearer_token` must agree with the documented form on every map a client
//! could send, and a token it takes is checked like `verify_token` does.
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use jwt_tokens_fuzz::{HeaderPlan, check_header_values};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let lines: Vec<&[u8]> = if data.is_empty() {
        Vec::new()
    } else {
        data.split(|&b| b == b'\n').collect()
    };
    check_header_values(&lines);

    let Ok(plan) = HeaderPlan::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    let values = plan.values();
    let values: Vec<&[u8]> = values.iter().map(Vec::as_slice).collect();
    check_header_values(&values);
});
