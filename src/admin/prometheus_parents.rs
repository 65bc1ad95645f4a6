//! The parent-shield families of a scrape (issue "Origin-shield tiers", item 7), one sample
//! per parent id ever configured: requests sent, errors before and during a response,
//! failovers to the next candidate, and whether any shard has it ejected now.

use super::{Family, Labels, Samples, Value};
use crate::metrics::parents::ParentCounters;
use crate::metrics::Stats;

pub(super) fn families(stats: &Stats) -> Vec<Family> {
    let parents = stats.parents.all();
    let label = |id: &str| -> Labels { vec![("parent", id.to_string())] };
    let each = |f: fn(&ParentCounters) -> u64| {
        Samples::Counter(parents.iter().map(|(id, c)| (label(id), f(c))).collect())
    };
    let errors = parents
        .iter()
        .flat_map(|(id, c)| {
            [
                ("before_response", &c.errors_before_response),
                ("during_response", &c.errors_during_response),
            ]
            .map(|(when, counter)| {
                let mut labels = label(id);
                labels.push(("when", when.to_string()));
                (labels, ParentCounters::get(counter))
            })
        })
        .collect();
    vec![
        Family {
            name: "livecache_parent_requests",
            help: "Requests sent to each parent shield",
            samples: each(|c| ParentCounters::get(&c.requests)),
        },
        Family {
            name: "livecache_parent_errors",
            help: "Failed exchanges with each parent: before any response byte (connect error or timeout; the request may move on) or during the response",
            samples: Samples::Counter(errors),
        },
        Family {
            name: "livecache_parent_failovers",
            help: "Requests moved from each parent to the next candidate after it failed before answering",
            samples: each(|c| ParentCounters::get(&c.failovers)),
        },
        Family {
            name: "livecache_parent_up",
            help: "1 while the parent's /readyz probes pass and no shard has it ejected (three failures before a response in a row eject it for 10 s), else 0",
            samples: Samples::Gauge(
                parents
                    .iter()
                    .map(|(id, c)| {
                        let up = u64::from(c.is_up());
                        (label(id), Value::Int(up))
                    })
                    .collect(),
            ),
        },
    ]
}
