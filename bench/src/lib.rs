//! What the harness (`bench`) and the ceiling server (`posts-ceiling`) share:
//! the posts that `GET /posts` answers with in the benchmark.

/// How many posts the benchmark user has: each `GET /posts` answers all of them.
pub const POSTS: usize = 20;

/// The title and body of post `i` (from 1), the same for the real server and the ceiling.
pub fn post_text(i: usize) -> (String, String) {
    let title = format!("Post number {i}");
    let body = format!(
        "Body of post {i}. A paragraph of ordinary length, so that each answer carries what a \
         real list would: about a hundred and fifty bytes of text."
    );
    (title, body)
}
