//! Common Media Client Data (issue "Live video II", item 4; LIVE.md F5, T5.1, T5.2): a
//! player's CMCD, in the query or in `CMCD-*` header fields, is never part of the key and
//! never sent upstream, so per-player values still make one origin request per object; its
//! session, object and buffer fields reach the access log; `nor` has the edge fetch the
//! next object before the player asks, only inside the request's own stream; and malformed
//! CMCD is ignored, never answered 4xx.

// Test threads wait with plain sleeps: none of them is an executor.
#![allow(clippy::disallowed_methods)]

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::{eventually, get_with, Setup};

fn prefetches(setup: &Setup) -> u64 {
    setup.running().stats.sum(|s| &s.live.prefetch_started)
}

fn scratch_log(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("cmcd-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("access.log")
}

with_shards!(
    per_player_cmcd_is_one_object_and_reaches_the_log,
    |shards| {
        let log = scratch_log(&format!("log-{shards}"));
        let setup = Setup::with(shards, &[("access_log", log.to_str().unwrap())]);
        let target = "/cmcd/s1/seg-1.m4s?size=2000";
        for player in 0..40 {
            let cmcd = format!(
                "sid%3D%22player-{player}%22%2Cbl%3D{}%2Cot%3Dv",
                1000 + player
            );
            let response = setup.get(&format!("{target}&CMCD={cmcd}"));
            assert_eq!(response.status, 200);
        }
        let headers = [("CMCD-Session", "sid=\"by-header\""), ("CMCD-Status", "bs")];
        assert_eq!(get_with(setup.addr, target, &headers).status, 200);
        let upstream = setup.origin.requests();
        assert_eq!(upstream.len(), 1, "one origin request for every player");
        assert_eq!(upstream[0].target, target, "no CMCD upstream");
        assert!(!upstream[0]
            .headers
            .iter()
            .any(|(name, _)| name.to_ascii_lowercase().starts_with("cmcd-")));
        let logged = eventually(Duration::from_secs(5), || {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            text.contains(r#"cmcd="sid=\"player-7\",ot=v,bl=1007""#)
                && text.contains(r#"cmcd="sid=\"by-header\",bs""#)
        });
        assert!(
            logged,
            "{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    }
);

with_shards!(
    the_next_object_a_player_names_is_fetched_before_it_asks,
    |shards| {
        let setup = Setup::with(shards, &[]);
        let next = "/cmcd/s2/seg-2.m4s?size=3000";
        // v2 header form: the next segment, and one of another stream (not followed).
        let nor = "nor=(\"seg-2.m4s%3Fsize%3D3000\" \"..%2Fother%2Fseg-9.m4s\")";
        let response = get_with(
            setup.addr,
            "/cmcd/s2/seg-1.m4s?size=3000",
            &[("CMCD-Request", nor)],
        );
        assert_eq!(response.status, 200);
        assert!(eventually(Duration::from_secs(5), || setup
            .origin
            .hits(next)
            == 1));
        assert_eq!(prefetches(&setup), 1, "only the stream's own object");
        assert_eq!(setup.origin.path_hits("/cmcd/other/seg-9.m4s"), 0);
        let asked = setup.get(next);
        assert_eq!(asked.status, 200);
        let status = asked.cache_status();
        assert!(
            status.contains("hit") || status.contains("collapsed"),
            "{status}"
        );
        assert_eq!(setup.origin.hits(next), 1);
        // v1 query form, with the name percent-encoded twice as CTA-5004 has it.
        let v1 = "/cmcd/s2/seg-3.m4s?size=10&CMCD=nor%3D%22seg-4.m4s%253Fsize%253D10%22";
        assert_eq!(setup.get(v1).status, 200);
        assert!(eventually(Duration::from_secs(5), || setup
            .origin
            .hits("/cmcd/s2/seg-4.m4s?size=10")
            == 1));
    }
);

with_shards!(malformed_cmcd_is_ignored, |shards| {
    let setup = Setup::with(shards, &[("prefetch", "on")]);
    let bad_query = setup.get("/cmcd/s3/a.m4s?CMCD=bl%3D%2C%2C&size=10");
    assert_eq!(bad_query.status, 200);
    let bad_header = get_with(
        setup.addr,
        "/cmcd/s3/b.m4s?size=10",
        &[("CMCD-Request", "nor=(\"c.m4s\""), ("CMCD-Object", "ot=v")],
    );
    assert_eq!(bad_header.status, 200);
    assert_eq!(prefetches(&setup), 0, "a malformed field is ignored whole");
});

with_shards!(starting_and_starved_players_are_served_first, |shards| {
    // `su` and `bs` (query or header) mark a response urgent: written ahead of the core's
    // others (the ordering itself is the `server::priority` unit test's); other CMCD is not.
    let setup = Setup::new(shards);
    let urgent = || setup.running().stats.sum(|s| &s.live.cmcd_urgent);
    assert_eq!(
        setup.get("/cmcd/s4/a.m4s?CMCD=su%2Cbl%3D0&size=10").status,
        200
    );
    let starved = get_with(
        setup.addr,
        "/cmcd/s4/b.m4s?size=10",
        &[("CMCD-Status", "bs"), ("CMCD-Request", "bl=0")],
    );
    assert_eq!(starved.status, 200);
    assert_eq!(urgent(), 2);
    let calm = get_with(
        setup.addr,
        "/cmcd/s4/c.m4s?size=10",
        &[("CMCD-Request", "bl=30000"), ("CMCD-Status", "bs=?0")],
    );
    assert_eq!(calm.status, 200);
    assert_eq!(
        setup.get("/cmcd/s4/d.m4s?CMCD=bl%3D30000&size=10").status,
        200
    );
    assert_eq!(urgent(), 2, "a full buffer waits its turn");
});

with_shards!(
    the_next_object_an_origin_names_is_fetched_before_anyone_asks,
    |shards| {
        // CMSD-Static `nor` on the origin's response (CTA-5006): the same prefetch as a player's
        // hint, kept to the response's stream. The next object's own response names a third
        // one: that hint is not followed (one hop).
        let setup = Setup::new(shards);
        let third = format!(
            "CMSD-Static:nor=\"{}\"",
            percent_encode("seg-3.m4s?size=10")
        );
        let next = format!(
            "/cmsd/s5/seg-2.m4s?size=3000&hdr={}",
            percent_encode(&third)
        );
        let cmsd = format!(
            "CMSD-Static:ot=v,nor=\"{}\"",
            percent_encode(next.trim_start_matches("/cmsd/s5/"))
        );
        let elsewhere = "CMSD-Static:nor=\"../other/seg-9.m4s\"";
        let target = format!(
            "/cmsd/s5/seg-1.m4s?size=3000&hdr={}&hdr={}",
            percent_encode(&cmsd),
            percent_encode(elsewhere)
        );
        assert_eq!(setup.get(&target).status, 200);
        assert!(eventually(Duration::from_secs(5), || setup
            .origin
            .hits(&next)
            == 1));
        let asked = setup.get(&next);
        assert!(
            asked.cache_status().contains("hit"),
            "{}",
            asked.cache_status()
        );
        assert_eq!(setup.origin.hits(&next), 1);
        assert_eq!(setup.origin.path_hits("/cmsd/other/seg-9.m4s"), 0);
        assert_eq!(
            setup.origin.path_hits("/cmsd/s5/seg-3.m4s"),
            0,
            "one hop only"
        );
    }
);

/// Every byte outside unreserved characters as `%XX`, for a mock origin query value.
fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
