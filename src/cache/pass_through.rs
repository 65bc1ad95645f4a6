//! The memory of objects that are not stored (too large, private, over budget) while their
//! readers are sent to. Each such object reserves room in its shard's `PassThroughBudget`
//! before it passes through (a new one that does not fit is refused, and its client gets a
//! 503), so however many clients stall, what they pin stays within `pass_through_memory`.
//!
//! An object whose rest fits its reservation needs nothing more. A larger one is read through
//! a window: the leader keeps at most a window ahead of the fastest reader, and a reader more
//! than a window behind the fastest is cut, so at most two windows (and one chunk) are held.
//! The window is the full one (`max_window`) when the reservation allows it; under memory
//! pressure it is whatever the reservation allows, and the reservation grows in steps while
//! the budget has room. Pure: `Cell` and `Rc`, no runtime.

use std::cell::Cell;
use std::rc::Rc;

/// The least a windowed object reserves, and the step it grows by.
pub const RESERVATION_STEP: u64 = 256 << 10;

/// One shard's room for pass-through objects: their reservations, summed.
#[derive(Debug, Default)]
pub struct PassThroughBudget {
    used: Cell<u64>,
    limit: Cell<u64>,
}

impl PassThroughBudget {
    pub fn new(limit: u64) -> PassThroughBudget {
        PassThroughBudget {
            used: Cell::new(0),
            limit: Cell::new(limit),
        }
    }

    /// Bytes reserved by the objects passing through now.
    pub fn used(&self) -> u64 {
        self.used.get()
    }

    /// A new limit (a reload); reservations already made stay.
    pub fn set_limit(&self, limit: u64) {
        self.limit.set(limit);
    }

    fn try_reserve(&self, bytes: u64) -> bool {
        let used = self.used.get() + bytes;
        if used > self.limit.get() {
            return false;
        }
        self.used.set(used);
        true
    }

    fn release(&self, bytes: u64) {
        self.used.set(self.used.get().saturating_sub(bytes));
    }
}

/// One object's reservation and the window it allows. Given back when dropped.
#[derive(Debug)]
pub struct Reservation {
    budget: Rc<PassThroughBudget>,
    reserved: u64,
    /// The rest of the body fits in `reserved`: no window, no cuts.
    whole: bool,
    max_window: u64,
    /// The largest chunk the leader publishes at once.
    chunk: u64,
}

impl Reservation {
    /// Reserves room for an object that holds `held` bytes now and has `rest` bytes to come
    /// (`None`: unknown). `None` when the budget has no room.
    pub fn new(
        budget: Rc<PassThroughBudget>,
        held: u64,
        rest: Option<u64>,
        max_window: u64,
        chunk: u64,
    ) -> Option<Reservation> {
        // Only a small rest is reserved whole: a larger one grows its window as it needs, so a
        // private 2 MiB segment does not take 2 MiB of room while its client reads slowly.
        let (want, whole) = match rest {
            Some(rest) if rest <= RESERVATION_STEP => (held + rest, true),
            _ => (held + RESERVATION_STEP.max(2 * chunk), false),
        };
        budget.try_reserve(want).then_some(Reservation {
            budget,
            reserved: want,
            whole,
            max_window,
            chunk,
        })
    }

    /// How far the leader may read ahead of the fastest reader, and how far behind it a
    /// reader may fall: the whole window when reserved, less under memory pressure.
    pub fn window(&self) -> u64 {
        if self.whole {
            return u64::MAX;
        }
        self.max_window
            .min(self.reserved.saturating_sub(self.chunk) / 2)
    }

    /// Grows the reservation by a step towards the full window, if the budget has room.
    pub fn grow(&mut self) -> bool {
        if self.whole || self.window() >= self.max_window {
            return false;
        }
        if !self.budget.try_reserve(RESERVATION_STEP) {
            return false;
        }
        self.reserved += RESERVATION_STEP;
        true
    }

    pub fn reserved(&self) -> u64 {
        self.reserved
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.budget.release(self.reserved);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;
    const CHUNK: u64 = 64 << 10;

    #[test]
    fn a_small_object_reserves_its_size_and_needs_no_window() {
        let budget = Rc::new(PassThroughBudget::new(MIB));
        let r = Reservation::new(Rc::clone(&budget), 100, Some(4900), MIB, CHUNK).unwrap();
        assert_eq!(budget.used(), 5000);
        assert_eq!(r.window(), u64::MAX);
        drop(r);
        assert_eq!(budget.used(), 0);
    }

    #[test]
    fn a_large_object_starts_with_a_step_and_grows_to_the_full_window() {
        let budget = Rc::new(PassThroughBudget::new(64 * MIB));
        let mut r = Reservation::new(Rc::clone(&budget), 0, None, MIB, CHUNK).unwrap();
        assert_eq!(r.reserved(), RESERVATION_STEP);
        assert_eq!(r.window(), (RESERVATION_STEP - CHUNK) / 2);
        while r.grow() {}
        assert_eq!(r.window(), MIB);
        assert!(r.reserved() <= 2 * MIB + CHUNK + RESERVATION_STEP);
        assert_eq!(budget.used(), r.reserved());
    }

    #[test]
    fn a_full_budget_refuses_new_objects_and_growth() {
        let budget = Rc::new(PassThroughBudget::new(RESERVATION_STEP));
        let mut first = Reservation::new(Rc::clone(&budget), 0, None, MIB, CHUNK).unwrap();
        assert!(Reservation::new(Rc::clone(&budget), 0, Some(10), MIB, CHUNK).is_none());
        assert!(!first.grow(), "no room to grow: the window stays small");
        budget.set_limit(4 * RESERVATION_STEP);
        assert!(first.grow());
    }
}
