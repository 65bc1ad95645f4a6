//! Live manifests never wait on the origin while they have viewers (issue "Live video I",
//! item 5): a stored HLS playlist or DASH MPD that a viewer asked for gets one background
//! refresh planned for half the freshness it arrived with, whether or not anyone asks again in
//! that window. Viewers of a live stream reload in bursts, right after each segment appears,
//! so waiting for a request inside the window would miss it and let the next burst find the
//! playlist expired. A version nobody asked for is never refreshed, so a playlist without
//! viewers expires. The refresh is the ordinary coalesced revalidation (RFC 9111 allows a
//! cache to fetch early), skipped when the object was purged or replaced meanwhile.
//!
//! A playlist whose rendition is tracked (`seed`, `holds`) is left to the rendition's poll;
//! a hit on a live media playlist is where its tracking starts (`seed`).
//!
//! Plans are kept per shard and checked by a ticker that runs while any is pending and reads
//! the shard's clock, so tests move time instead of sleeping.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{FetchRequest, Shard};
use crate::cache::store::Found;
use crate::cache::StoredObject;

/// How often pending refreshes are checked against the clock.
const TICK: Duration = Duration::from_millis(20);

struct Planned {
    due: Instant,
    request: Arc<FetchRequest>,
    object: Rc<StoredObject>,
}

/// One shard's planned refreshes, by stored object (its address: the plan holds it alive).
#[derive(Default)]
pub struct RefreshPlan {
    planned: RefCell<HashMap<usize, Planned>>,
    ticking: Cell<bool>,
}

impl Shard {
    /// A viewer was served `object`: if it is a live manifest, its refresh is planned (once
    /// per stored version), or started now when it is already due.
    pub(super) fn plan_refresh(
        self: &Rc<Self>,
        request: &Arc<FetchRequest>,
        object: &Rc<StoredObject>,
        now: Instant,
    ) {
        if !is_manifest(request, object) {
            return;
        }
        // A tracked rendition's poll keeps it current; a refresh would ask the origin twice.
        if self.track_stored(request, object, now) || !self.config().live.refresh_manifests_ahead {
            return;
        }
        let due = object.freshness.refresh_at();
        if now >= due {
            if object.freshness.is_fresh(now) {
                self.refresh_in_background(request, object);
            }
            return;
        }
        let id = Rc::as_ptr(object) as usize;
        let mut planned = self.refresh_plan.planned.borrow_mut();
        if planned.contains_key(&id) {
            return;
        }
        planned.insert(
            id,
            Planned {
                due,
                request: Arc::clone(request),
                object: Rc::clone(object),
            },
        );
        drop(planned);
        self.start_refresh_ticker();
    }

    fn start_refresh_ticker(self: &Rc<Self>) {
        if self.refresh_plan.ticking.replace(true) {
            return;
        }
        let shard = Rc::clone(self);
        glommio::spawn_local(async move {
            loop {
                glommio::timer::sleep(TICK).await;
                if !shard.refresh_due() {
                    break;
                }
            }
            shard.refresh_plan.ticking.set(false);
        })
        .detach();
    }

    /// Starts the refreshes that are due; `true` while any is still pending.
    fn refresh_due(self: &Rc<Self>) -> bool {
        let now = self.now();
        let due: Vec<Planned> = {
            let mut planned = self.refresh_plan.planned.borrow_mut();
            let ids: Vec<usize> = planned
                .iter()
                .filter(|(_, p)| p.due <= now)
                .map(|(id, _)| *id)
                .collect();
            ids.iter().filter_map(|id| planned.remove(id)).collect()
        };
        for Planned {
            request, object, ..
        } in due
        {
            let found = self
                .store
                .borrow_mut()
                .get(&request.key, &request.upstream_headers);
            let still_stored = matches!(found, Found::Object(o) if Rc::ptr_eq(&o, &object));
            if still_stored && object.freshness.is_fresh(now) {
                self.refresh_in_background(&request, &object);
            }
        }
        !self.refresh_plan.planned.borrow().is_empty()
    }
}

fn is_manifest(request: &FetchRequest, object: &StoredObject) -> bool {
    // Checked on every hit: media by name needs no look at its fields.
    if crate::live::is_media_path(request.key.path()) {
        return false;
    }
    // The content type's verdict was taken once, with the head's encoded fields.
    crate::live::is_manifest_path(request.key.path()) || object.head.facts().is_manifest_type()
}
