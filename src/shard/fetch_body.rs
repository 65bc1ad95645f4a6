//! How a fetch's body reaches its readers as it arrives: kept whole for storing, kept for the
//! requests that join, or passed through at the pace of its fastest reader (`Keeping`), and
//! how it ended when it ended early (`Cut`): the upstream failing is told apart from the
//! readers going, because what an interrupted storing fetch received may be kept
//! (`partials`). A fetch that completes kept bytes publishes them first (`Body::prefix`).

use std::rc::Rc;

use bytes::Bytes;

use super::leader::Leader;
use crate::origin::UpstreamResponse;

/// What becomes of a response's body as it arrives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Keeping {
    /// Every chunk is kept, and the object stored once complete (if still wanted).
    Storing,
    /// Every chunk is kept for the requests that join, but nothing is stored (no freshness,
    /// a request's `no-store`, an error status...).
    Sharing,
    /// Chunks go as the readers pass them: too large, private, over budget, or not joinable.
    PassingThrough,
}

/// The body a fetch publishes: `prefix` (kept bytes it completes), then the response's.
pub(super) struct Body<'a> {
    pub prefix: &'a [Bytes],
    pub content_length: Option<u64>,
    pub max_object: u64,
    /// A live stream's media: its reads wait while playlist answers are released
    /// (`release_gate`).
    pub after_playlists: bool,
}

/// Why a body ended early.
pub(super) enum Cut {
    /// The upstream failed; how the body was being kept by then.
    Upstream(Keeping),
    /// Its readers went, or there was no room to pass it through.
    Early,
}

/// Publishes the body as it arrives. A kept object that outgrows `max_object` or the budget
/// passes through from then on. Returns how it was kept and its length once complete.
pub(super) async fn stream_body(
    leader: &mut Leader,
    response: &mut UpstreamResponse,
    mut keeping: Keeping,
    body: Body<'_>,
) -> Result<(Keeping, u64), Cut> {
    let mut body_len = 0u64;
    let mut prefix = body.prefix.iter().cloned();
    loop {
        // Nobody new can join a pass-through fetch: its fastest reader sets the pace, so a
        // large object is never pulled in whole, and it ends when its last reader has gone.
        if keeping == Keeping::PassingThrough && !leader.flight.wait_for_room().await {
            return Err(Cut::Early);
        }
        let next = match prefix.next() {
            Some(chunk) => Ok(Some(chunk)),
            None => {
                if body.after_playlists {
                    leader.shard.let_releases_pass().await;
                }
                response.next_chunk().await
            }
        };
        match next {
            Ok(Some(chunk)) => {
                let len = chunk.len() as u64;
                let kept = keeping != Keeping::PassingThrough;
                if kept && (body_len + len > body.max_object || !leader.reserve(len)) {
                    keeping = Keeping::PassingThrough;
                    // What is still to come includes this chunk, not yet published.
                    let rest = body.content_length.map(|n| n.saturating_sub(body_len));
                    leader.pass_through(rest).map_err(|_| Cut::Early)?;
                }
                body_len += len;
                leader.publish_chunk(chunk);
            }
            Ok(None) => return Ok((keeping, body_len)),
            Err(e) => {
                let shard = Rc::clone(&leader.shard);
                shard.upstream_failed(leader.request.key.target(), &e);
                return Err(Cut::Upstream(keeping));
            }
        }
    }
}
