//! The fetch leader's guard and books: what one upstream fetch holds and how it ends. It keeps
//! the store's accounting for the bytes of an object that may be stored, moves an object that
//! will not be stored to pass-through (admitted only while the shard's `pass_through_memory`
//! has room), and, however the task stops, ends the fetch: a leader dropped mid-way fails its
//! readers instead of leaving them waiting, and its bytes leave the books.

use std::rc::Rc;
use std::sync::Arc;

use bytes::Bytes;

use super::{FetchRequest, FlightKey, Shard};
use crate::cache::{InFlight, Reservation};
use crate::http::Failure;
use crate::metrics::{Guard, ShardStats};

/// How far ahead of its fastest reader a pass-through fetch may read, and how far behind the
/// fastest a reader may fall before it is cut, when memory allows: about two of these (and a
/// chunk) are held per object.
pub const PASS_THROUGH_WINDOW: u64 = 1 << 20;

pub(super) struct Leader {
    pub shard: Rc<Shard>,
    pub request: Arc<FetchRequest>,
    pub flight: Rc<InFlight>,
    pub flight_key: FlightKey,
    /// Bytes reserved in the store's in-flight budget.
    reserved: u64,
}

/// Why an object could not become a pass-through one.
pub(super) struct NoRoom;

impl Leader {
    /// Takes charge of `flight`; counted as a fetch in flight until dropped.
    pub fn new(
        shard: Rc<Shard>,
        request: Arc<FetchRequest>,
        flight: Rc<InFlight>,
        flight_key: FlightKey,
    ) -> Leader {
        ShardStats::incr(&shard.my_stats().inflight_fetches);
        Leader {
            shard,
            request,
            flight,
            flight_key,
            reserved: 0,
        }
    }

    /// Reserves `bytes` of the store's budget for an object that may be stored.
    pub fn reserve(&mut self, bytes: u64) -> bool {
        self.reserved += bytes;
        self.shard.make_quota_room(bytes);
        let fits = self.shard.store.borrow_mut().reserve_inflight(bytes);
        self.shard.publish_store();
        fits
    }

    pub fn release(&mut self) {
        self.shard
            .store
            .borrow_mut()
            .release_inflight(self.reserved);
        self.reserved = 0;
        self.shard.publish_store();
    }

    /// From now on nobody joins and nothing is stored; chunks go as readers pass them, the
    /// readers kept apart within a reservation of the shard's `pass_through_memory` for what
    /// the object still holds (once readers too far behind are cut) and its `rest` (unknown:
    /// `None`). Refused, and counted, when that has no room: the caller answers 503 or cuts.
    ///
    /// Mid-body (the object outgrew what may be stored), what it holds is already counted in
    /// the store's in-flight bytes: when `pass_through_memory` cannot take that over, it stays
    /// counted there until the fetch ends, and the reservation covers only what is to come, so
    /// a reader that fell behind the origin is not cut for bytes already accounted for.
    pub fn pass_through(&mut self, rest: Option<u64>) -> Result<(), NoRoom> {
        let budget = self.shard.pass_through_budget();
        let chunk = crate::origin::MAX_CHUNK as u64;
        let window = PASS_THROUGH_WINDOW;
        let reserve = |held| Reservation::new(Rc::clone(&budget), held, rest, window, chunk);
        let mut cut = self.flight.pass_through(window, reserve);
        let mut keep_counted = false;
        if let Err(first) = cut {
            let held = self.flight.held();
            if held > 0 && self.reserved >= held {
                let to_come = |_| Reservation::new(Rc::clone(&budget), 0, rest, window, chunk);
                cut = match self.flight.pass_through(window, to_come) {
                    Ok(more) => Ok(first + more),
                    Err(more) => Err(first + more),
                };
                keep_counted = cut.is_ok();
            }
        }
        self.count_cut(cut.unwrap_or_else(|cut| cut));
        if cut.is_err() {
            self.shard.my_stats().guards.fire(Guard::PassThroughFull);
            return Err(NoRoom);
        }
        self.shard.unregister(&self.flight_key, &self.flight);
        if !keep_counted {
            self.release();
        }
        Ok(())
    }

    /// Publishes one body chunk, counting the readers it cut for lagging.
    pub fn publish_chunk(&self, chunk: Bytes) {
        let cut = self.flight.publish_chunk(chunk);
        self.count_cut(cut);
    }

    fn count_cut(&self, cut: usize) {
        for _ in 0..cut {
            self.shard.my_stats().guards.fire(Guard::LaggingReader);
        }
    }

    /// Whether this fetch is still the one registered for its key (not invalidated).
    pub fn still_wanted(&self) -> bool {
        self.shard.is_registered(&self.flight_key, &self.flight)
    }

    /// Publishes a complete stored body and ends the fetch.
    pub fn publish_stored_body(&mut self, body: &[Bytes]) {
        for chunk in body {
            self.flight.publish_chunk(chunk.clone());
        }
        self.flight.complete();
        self.release();
        self.shard.unregister(&self.flight_key, &self.flight);
    }
}

impl Drop for Leader {
    fn drop(&mut self) {
        self.shard
            .my_stats()
            .inflight_fetches
            .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
        self.flight.fail(Failure::Internal);
        self.shard.unregister(&self.flight_key, &self.flight);
        self.release();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_smallest_pass_through_share_holds_one_object() {
        assert_eq!(crate::config::PASS_THROUGH_FLOOR, 2 * PASS_THROUGH_WINDOW);
    }
}
