//! A change of behaviour after a number of requests (`after=N` with
//! `then_status=`, `then_delay_ms=`, `then_cc=`, `then_etag=`), for
//! stale-if-error, stale-while-revalidate and revalidation tests: the first N
//! requests to a target are answered as the rest of the query says, and from
//! request N+1 on the `then_*` knobs take over. This module owns parsing
//! those knobs and applying them to a [`Behavior`]; it is pure, and the
//! request count comes from the connection layer (requests for the exact
//! target, this one included, so [`crate::MockOrigin::reset`] restarts it).

use std::time::Duration;

use crate::behavior::{has_ctl, Behavior, CacheControl};

/// The `after=` / `then_*` parameters. Without `after=` none of the
/// `then_*` knobs has any effect.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Then {
    /// `after=N`: requests answered normally before the switch.
    pub after: Option<u64>,
    /// `then_status=S`: after the switch, answer `S` (100..=999) with
    /// `Cache-Control: no-store` (unless `then_cc=` is given), a short
    /// `text/plain` body and no validators.
    pub status: Option<u16>,
    /// `then_delay_ms=MS`: after the switch, wait this long before the
    /// response head (replacing `delay_ms=`).
    pub delay: Option<Duration>,
    /// `then_cc=V` / `then_cc=none`: after the switch, this Cache-Control
    /// (percent-decoded) instead of `cc=`, on 200 and 304 alike.
    pub cache_control: Option<CacheControl>,
    /// `then_etag=V`: after the switch, the entity tag is `"V"` (`W/V` for a
    /// weak one; sent even with `noetag=1`), so revalidating with the old tag
    /// gets a full 200.
    pub etag: Option<String>,
}

impl Then {
    /// Takes `key=value` if it is one of this module's parameters; returns
    /// whether it was.
    pub(crate) fn parse(&mut self, key: &str, value: &str) -> bool {
        let num = |v: &str| v.trim().parse::<u64>().ok();
        match key {
            "after" => self.after = num(value).or(self.after),
            "then_status" => {
                let status = num(value)
                    .and_then(|s| u16::try_from(s).ok())
                    .filter(|s| (100..=999).contains(s));
                self.status = status.or(self.status);
            }
            "then_delay_ms" => {
                self.delay = num(value).map(Duration::from_millis).or(self.delay);
            }
            "then_cc" if value == "none" => self.cache_control = Some(CacheControl::Omit),
            "then_cc" if !has_ctl(value) => {
                self.cache_control = Some(CacheControl::Value(value.to_string()));
            }
            "then_etag" if !value.is_empty() && !has_ctl(value) => {
                self.etag = Some(value.to_string());
            }
            "then_cc" | "then_etag" => {}
            _ => return false,
        }
        true
    }

    /// Whether request number `count` (1-based) comes after the switch.
    pub fn active(&self, count: u64) -> bool {
        self.after.is_some_and(|after| count > after)
    }
}

impl Behavior {
    /// Applies the `then_*` knobs when request number `count` of this target
    /// comes after `after=N`, and returns whether it did. A `then_status`
    /// also sets `status` and (without `then_cc`) `Cache-Control: no-store`;
    /// the connection layer then answers with a short text body instead of
    /// the usual entity ([`Behavior::failing`]).
    pub fn switch(&mut self, count: u64) -> bool {
        if !self.then.active(count) {
            return false;
        }
        let then = self.then.clone();
        if let Some(delay) = then.delay {
            self.delay = delay;
        }
        if let Some(status) = then.status {
            self.status = status;
            self.cache_control = CacheControl::Value("no-store".into());
        }
        if let Some(cc) = then.cache_control {
            self.cache_control = cc;
        }
        if let Some(tag) = then.etag {
            self.etag = Some(tag);
            self.no_etag = false;
        }
        true
    }

    /// After [`Behavior::switch`] returned true: whether `then_status=`
    /// replaces the entity with a failure.
    pub fn failing(&self) -> bool {
        self.then.status.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_changes_without_after_or_before_the_switch() {
        let query = "cc=public,+max-age=5&then_status=503&then_cc=max-age=1";
        let mut b = Behavior::from_query(query);
        assert!(!b.switch(1000), "then_* need after=");
        assert_eq!(b, Behavior::from_query(query));
        let query = "after=2&delay_ms=5&noetag=1&then_etag=b&then_delay_ms=300";
        let mut b = Behavior::from_query(query);
        for count in 1..=2 {
            assert!(!b.switch(count));
            assert_eq!(b, Behavior::from_query(query));
        }
        assert!(b.switch(3));
        assert_eq!(b.delay, Duration::from_millis(300));
        assert_eq!((b.etag.as_deref(), b.no_etag), (Some("b"), false));
        assert_eq!(b.status, 200);
        assert!(!b.failing());
    }

    #[test]
    fn then_status_is_no_store_unless_then_cc() {
        let mut b = Behavior::from_query("after=1&then_status=503&cc=max-age=60");
        assert!(b.switch(2));
        assert!(b.failing());
        assert_eq!(b.status, 503);
        assert_eq!(b.cache_control, CacheControl::Value("no-store".into()));
        let mut b = Behavior::from_query("after=0&then_status=500&then_cc=max-age%3D1");
        assert!(b.switch(1));
        assert_eq!(b.cache_control, CacheControl::Value("max-age=1".into()));
        let mut b = Behavior::from_query("after=0&then_cc=none");
        assert!(b.switch(1));
        assert_eq!(b.cache_control, CacheControl::Omit);
    }

    #[test]
    fn parsing_and_invalid_values() {
        let b = Behavior::from_query(
            "after=3&then_status=404&then_delay_ms=20&then_cc=no-cache&then_etag=W/v2",
        );
        let want = Then {
            after: Some(3),
            status: Some(404),
            delay: Some(Duration::from_millis(20)),
            cache_control: Some(CacheControl::Value("no-cache".into())),
            etag: Some("W/v2".into()),
        };
        assert_eq!(b.then, want);
        let b = Behavior::from_query(
            "after=x&then_status=70000&then_delay_ms=-1&then_etag=&then_cc=a%0d%0ab",
        );
        assert_eq!(b.then, Then::default());
        assert!(Then::default().after.is_none() && !Then::default().active(u64::MAX));
    }
}
