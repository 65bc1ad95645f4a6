//! Every configuration key, declared once: its name (the TOML key; the flag is its kebab case,
//! the environment variable `LIVECACHE_` and its upper case), its default (text, parsed like
//! any other source), whether a change applies at a reload or needs a restart, and its help.
//! The flags, the environment variables, the defaults, `--check-config`'s order and the
//! restart list are all derived from this table; a test checks the README against it.

/// When a changed value takes effect.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Applies {
    /// At the next request boundary after a reload (SIGHUP).
    Reload,
    /// Only at a start: listeners, threads and queues are made once, and a key or stream
    /// rule change would orphan the whole cache. A reload that changes it is refused.
    Restart,
}

/// One configuration key.
#[derive(Clone, Copy, Debug)]
pub struct Knob {
    pub key: &'static str,
    /// `auto` for `shards`: the CPUs in the affinity mask.
    pub default: &'static str,
    pub applies: Applies,
    pub help: &'static str,
}

impl Knob {
    /// The command-line flag, without its dashes: `cache_size` -> `cache-size`.
    pub fn flag(&self) -> String {
        self.key.replace('_', "-")
    }

    /// The environment variable: `cache_size` -> `LIVECACHE_CACHE_SIZE`.
    pub fn env(&self) -> String {
        format!("LIVECACHE_{}", self.key.to_ascii_uppercase())
    }
}

/// The knob named `key`.
pub fn knob(key: &str) -> Option<&'static Knob> {
    KNOBS.iter().find(|k| k.key == key)
}

/// Every key, in the order `--check-config` prints them.
pub fn keys() -> impl Iterator<Item = &'static str> {
    KNOBS.iter().map(|k| k.key)
}

pub const KNOBS: &[Knob] = &[
    Knob {
        key: "listen",
        default: "127.0.0.1:8080",
        applies: Applies::Restart,
        help: "Address to serve clients on, e.g. 0.0.0.0:8080 (port 0 picks one)",
    },
    Knob {
        key: "origin",
        default: "http://127.0.0.1:9000",
        applies: Applies::Reload,
        help: "Origin base URL, e.g. http://10.0.0.5:9000; a comma-separated list names backups, tried in order when the one before fails before answering or answers 5xx",
    },
    Knob {
        key: "origin_failover",
        default: "aligned",
        applies: Applies::Reload,
        help: "How a live stream whose playlist stops advancing moves to the next origin in `origin`: aligned (packagers share sequence numbers and URIs: moved after 1.5 target durations or a refused version, a segment's 404 asked of the next origin too) or independent (moved after 3 target durations without progress, the backup's playlist taken when its sequence is no lower than the one served)",
    },
    Knob {
        key: "parent",
        default: "",
        applies: Applies::Reload,
        help: "A parent shield, ID=HOST:PORT[,WEIGHT][,admin=HOST:PORT]; repeat the flag (or separate entries with `;`) for several, or use [[parent]] tables in TOML. Each stream goes to the parents in the order weighted rendezvous hashing of its stream key gives, so every edge sends one stream to the same shield; empty: straight to the origin",
    },
    Knob {
        key: "go_direct",
        default: "off",
        applies: Applies::Reload,
        help: "With parents: go to the origin when every parent tried failed before answering (connect error or timeout); off: answer 502/504",
    },
    Knob {
        key: "parent_probe_interval",
        default: "1s",
        applies: Applies::Reload,
        help: "How often each parent with an admin address is asked for its /readyz; three failures in a row mark it down, two successes bring it back",
    },
    Knob {
        key: "parent_probe_timeout",
        default: "500ms",
        applies: Applies::Reload,
        help: "How long one /readyz probe of a parent may take before it counts as failed",
    },
    Knob {
        key: "access",
        default: "",
        applies: Applies::Reload,
        help: "Paths that need a signed URL, checked before the cache (403 and no origin request otherwise): PREFIX=SCHEME,keys=FILE[,param=NAME], SCHEME edgeauth (EdgeAuth HMAC-SHA256 token, st/exp/acl/ip) or uri_signing (RFC 9246 JWT, HS256), FILE one hex key per line (several for rotation), NAME the query parameter, cookie or header carrying the token (default __token__ / URISigningPackage); repeat the flag, separate entries with `;`, or use [[access]] tables in TOML. The token never reaches the cache key or the origin",
    },
    Knob {
        key: "origin_credential",
        default: "",
        applies: Applies::Reload,
        help: "What every request to an origin carries to prove it comes from this edge: `NAME: VALUE` (a field) or `?NAME=VALUE` (a query parameter); a client's field of that name is dropped; empty: none",
    },
    Knob {
        key: "trusted_proxies",
        default: "",
        applies: Applies::Reload,
        help: "Addresses (CIDR) of the TLS terminators or load balancers in front: from them, the client is the rightmost X-Forwarded-For address outside this list and the scheme is X-Forwarded-Proto (signed-URL address binding, URI Signing containers, a passed request's forwarding fields); empty (default): the TCP peer, http",
    },
    Knob {
        key: "admin_token_file",
        default: "",
        applies: Applies::Reload,
        help: "A file holding the bearer token the admin listener asks of purges and /status (Authorization: Bearer TOKEN; /metrics, /healthz and /readyz stay open); empty: no token asked",
    },
    Knob {
        key: "name",
        default: "auto",
        applies: Applies::Reload,
        help: "This node's name in Cache-Status, Via and CDN-Loop (letters, digits, '.', '_', '-'); a request whose CDN-Loop already names it is answered 508 without an upstream request; auto: the host name",
    },
    Knob {
        key: "shards",
        default: "auto",
        applies: Applies::Restart,
        help: "Number of shards (one executor per core); default: CPUs in the affinity mask",
    },
    Knob {
        key: "cache_size",
        default: "1GiB",
        applies: Applies::Reload,
        help: "Memory budget for cached and in-flight objects, e.g. 1GiB",
    },
    Knob {
        key: "max_object_size",
        default: "64MiB",
        applies: Applies::Reload,
        help: "Largest object stored; larger ones stream through uncached",
    },
    Knob {
        key: "max_connections",
        default: "10000",
        applies: Applies::Reload,
        help: "Client connections allowed at once across all shards",
    },
    Knob {
        key: "client_header_timeout",
        default: "10s",
        applies: Applies::Reload,
        help: "Time a client has to send a whole request head",
    },
    Knob {
        key: "client_idle_timeout",
        default: "60s",
        applies: Applies::Reload,
        help: "Idle keep-alive time before a client connection is closed",
    },
    Knob {
        key: "upstream_connect_timeout",
        default: "2s",
        applies: Applies::Reload,
        help: "Time to establish an origin connection",
    },
    Knob {
        key: "upstream_first_byte_timeout",
        default: "10s",
        applies: Applies::Reload,
        help: "Time from sending a request to the origin's response head",
    },
    Knob {
        key: "upstream_between_bytes_timeout",
        default: "10s",
        applies: Applies::Reload,
        help: "Longest silence while reading an origin body",
    },
    Knob {
        key: "upstream_max_idle",
        default: "64",
        applies: Applies::Reload,
        help: "Idle keep-alive origin connections kept per shard",
    },
    Knob {
        key: "max_request_head",
        default: "32KiB",
        applies: Applies::Reload,
        help: "Largest request head accepted (431 beyond)",
    },
    Knob {
        key: "max_headers",
        default: "100",
        applies: Applies::Reload,
        help: "Most request header fields accepted (431 beyond)",
    },
    Knob {
        key: "max_uri",
        default: "8KiB",
        applies: Applies::Reload,
        help: "Longest request target accepted (414 beyond)",
    },
    Knob {
        key: "max_request_body",
        default: "16MiB",
        applies: Applies::Reload,
        help: "Largest request body accepted (413 beyond); bodies are streamed, never buffered whole",
    },
    Knob {
        key: "request_body_memory",
        default: "32MiB",
        applies: Applies::Reload,
        help: "Memory for request bodies being relayed to the origin, all shards together (503 beyond)",
    },
    Knob {
        key: "pass_through_memory",
        default: "64MiB",
        applies: Applies::Reload,
        help: "Memory for readers of objects that are not stored, all shards together (503 for new ones beyond)",
    },
    Knob {
        key: "client_min_rate",
        default: "4KiB",
        applies: Applies::Reload,
        help: "Slowest average rate, per second, at which a client may send a body or read a response once past its grace time; 0: off",
    },
    Knob {
        key: "stream_key",
        default: "dirname",
        applies: Applies::Restart,
        help: "How a path maps to its stream: `dirname` or `prefix:N` (first N segments)",
    },
    Knob {
        key: "strip_query_params",
        default: "CMCD, _HLS_throughput",
        applies: Applies::Restart,
        help: "Query parameters left out of the cache key (and of upstream requests), comma-separated; by default CMCD data and a content-steering request's _HLS_throughput (each player's own, while the steering manifest is shared)",
    },
    Knob {
        key: "mesh_queue",
        default: "1024",
        applies: Applies::Restart,
        help: "Requests queued between two shards before overload (503)",
    },
    Knob {
        key: "uncacheable_hold",
        default: "10s",
        applies: Applies::Reload,
        help: "How long requests for a private/no-store URL skip coalescing",
    },
    Knob {
        key: "admin",
        default: "",
        applies: Applies::Restart,
        help: "Admin listener for /metrics, /healthz, /readyz, /status (e.g. 127.0.0.1:9901); empty: off",
    },
    Knob {
        key: "shutdown_grace",
        default: "30s",
        applies: Applies::Reload,
        help: "On SIGTERM/SIGINT, how long responses in progress may take to finish",
    },
    Knob {
        key: "log_level",
        default: "info",
        applies: Applies::Reload,
        help: "Diagnostics on stderr from this level up: error, warn, info, debug or trace (a reload changes it)",
    },
    Knob {
        key: "log_format",
        default: "text",
        applies: Applies::Restart,
        help: "Diagnostics format on stderr: `text` (one line per event, journald-friendly) or `json` (one object per line)",
    },
    Knob {
        key: "access_log",
        default: "",
        applies: Applies::Reload,
        help: "Access log file, one line per response, reopened on SIGUSR2; empty: off",
    },
    Knob {
        key: "access_log_format",
        default: "combined",
        applies: Applies::Reload,
        help: "Access log line format: `combined` (Apache/nginx combined plus cache fields) or `json`",
    },
    // RFC behaviour by default; `ignore` is one line away for edges facing browsers.
    Knob {
        key: "request_cache_control",
        default: "honor",
        applies: Applies::Reload,
        help: "Client Cache-Control/Pragma directives: `honor` (RFC 9111) or `ignore` (common CDN edge setting)",
    },
    Knob {
        key: "targeted_cache_control",
        default: "Livecache-Cache-Control",
        applies: Applies::Reload,
        help: "Response field that overrides CDN-Cache-Control and Cache-Control for this cache (RFC 9213); empty: off",
    },
    Knob {
        key: "max_stale_on_error",
        default: "0s",
        applies: Applies::Reload,
        help: "Serve a stale object this long past its freshness when the origin fails, for responses without stale-if-error; 0s: off",
    },
    Knob {
        key: "max_variants",
        default: "8",
        applies: Applies::Reload,
        help: "Variants kept per URL for responses with Vary",
    },
    Knob {
        key: "negative_ttl",
        default: "",
        applies: Applies::Reload,
        help: "Freshness for error responses without their own, e.g. `404=10s, 5xx=2s`; empty: off (RFC behaviour)",
    },
    // PURGE on the client listener is off: behind a TLS terminator on the same host every
    // client would come from loopback. Purges go through the admin listener.
    Knob {
        key: "purge_allow",
        default: "",
        applies: Applies::Reload,
        help: "Client addresses (CIDR) allowed to send PURGE on the client listener; empty (default): nobody, purge through the admin listener",
    },
    Knob {
        key: "set_cookie",
        default: "private",
        applies: Applies::Reload,
        help: "Responses with Set-Cookie: `private` (neither stored nor shared) or `strip` (Set-Cookie removed, then cached as usual)",
    },
    Knob {
        key: "forward_fields",
        default: "Accept, Accept-Encoding, Accept-Language",
        applies: Applies::Reload,
        help: "Request fields sent upstream on shared fetches; `Name:safe` marks one the cache key may leave out",
    },
    Knob {
        key: "key_fields",
        default: "",
        applies: Applies::Reload,
        help: "Request fields whose values are part of the cache key (and are forwarded)",
    },
    Knob {
        key: "hold_blocking_reloads",
        default: "on",
        applies: Applies::Reload,
        help: "Hold LL-HLS blocking playlist reloads at the edge, one upstream long-poll per rendition; off: forward them",
    },
    Knob {
        key: "max_holds",
        default: "100000",
        applies: Applies::Reload,
        help: "Blocking playlist reloads held at once, all shards together; beyond it 503",
    },
    Knob {
        key: "refresh_manifests_ahead",
        default: "on",
        applies: Applies::Reload,
        help: "Refresh a stored HLS playlist or DASH MPD in the background once half the freshness it arrived with has passed, while viewers ask for it",
    },
    Knob {
        key: "track_playlists",
        default: "on",
        applies: Applies::Reload,
        help: "Keep rendition state for every live media playlist viewers ask for, classic HLS included (seeded from the cache, one poll each, regressed versions refused); off: only for renditions asked with blocking reloads. Part of the live layer: nothing is tracked with hold_blocking_reloads off",
    },
    Knob {
        key: "prefetch",
        default: "on",
        applies: Applies::Reload,
        help: "Each new version of a tracked playlist with viewers fetches the segments, parts and maps it newly lists before viewers ask (media of the playlist's own stream only; none for a stream for a second after the origin failed one of its prefetches, none while in-flight bytes pass a quarter of the budget)",
    },
    Knob {
        key: "prefetch_per_stream",
        default: "8",
        applies: Applies::Reload,
        help: "Prefetches in flight per stream at once; the rest of a version's new media waits for viewers to ask",
    },
    Knob {
        key: "prefetch_wait",
        default: "1s",
        applies: Applies::Reload,
        help: "Longest a classic playlist's new version is held back while its new segments are prefetched, so viewers who see it find them cached (never more than half a target duration); 0s: served at once",
    },
    Knob {
        key: "dash_hold_early",
        default: "1s",
        applies: Applies::Reload,
        help: "A request for a live DASH segment that comes at most this long before the segment's availability (by its MPD's availabilityStartTime, duration and availabilityTimeOffset) is held until then and fetched once for everyone, instead of getting the origin's 404; 0s: forwarded at once",
    },
    Knob {
        key: "live_window_memory",
        default: "on",
        applies: Applies::Reload,
        help: "Memory follows the live window: media no tracked playlist lists any more is dropped once its availability has passed (a segment's duration plus the playlist's, a part's three target durations), and the media of renditions nobody watches is evicted first; off: plain LRU",
    },
    Knob {
        key: "hot_stream_requests",
        default: "5000",
        applies: Applies::Reload,
        help: "Requests a second (all shards together) past which a stream is replicated on every shard: its owner still fetches once, every shard answers its complete objects and playlists from a replica, so its requests stop crossing cores; demoted below half for 30 s. 0: never",
    },
    Knob {
        key: "cmsd",
        default: "on",
        applies: Applies::Reload,
        help: "Common Media Server Data on responses: CMSD-Static where the origin sent none (ot, sf, st=l for live playlists, ht for held reloads) and one CMSD-Dynamic member per response (etp and rtt from TCP_INFO, rd, du under duress); the origin's CMSD-Dynamic is never stored",
    },
    Knob {
        key: "pass_paths",
        default: "",
        applies: Applies::Reload,
        help: "Path prefixes of personalised objects (server-side ad insertion manifests per session): passed to the origin, never stored, never collapsed across requests; comma-separated",
    },
    Knob {
        key: "queryless_paths",
        default: "",
        applies: Applies::Reload,
        help: "Path prefixes whose query is left out of the cache key and of upstream requests (ad and content segments carrying per-session tracking parameters); comma-separated",
    },
    Knob {
        key: "max_renditions",
        default: "16384",
        applies: Applies::Reload,
        help: "LL-HLS renditions whose playlist state is kept, all shards together; idle ones are forgotten first, then new ones are served the ordinary way",
    },
    Knob {
        key: "live_state_memory",
        default: "256MiB",
        applies: Applies::Reload,
        help: "Memory for the renditions' playlist versions, all shards together; past it idle renditions are forgotten, then new versions are passed through",
    },
    Knob {
        key: "max_hold",
        default: "60s",
        applies: Applies::Reload,
        help: "Longest a blocking playlist reload is held, whatever target duration the origin states (the hold is otherwise 3 x TD)",
    },
    Knob {
        key: "max_playlist_size",
        default: "4MiB",
        applies: Applies::Reload,
        help: "Largest playlist kept as rendition state; larger ones are passed through",
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_unique_snake_case() {
        let mut seen = std::collections::BTreeSet::new();
        for knob in KNOBS {
            assert!(seen.insert(knob.key), "{} declared twice", knob.key);
            assert!(
                knob.key.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
                "{}",
                knob.key
            );
        }
        assert_eq!(knob("cache_size").unwrap().flag(), "cache-size");
        assert_eq!(knob("cache_size").unwrap().env(), "LIVECACHE_CACHE_SIZE");
    }
}
