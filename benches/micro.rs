//! Micro-benchmarks of livecache's per-request hot paths, each in isolation (no sockets, no
//! runtime): request-head parsing, cache-key derivation, the shard store (LRU + byte
//! accounting), freshness evaluation, in-flight fan-out to collapsed readers, and chunked
//! body decoding.
//!
//! Run: `cargo bench --bench micro` (all groups), or e.g. `cargo bench --bench micro -- fanout`
//! for one group; add `-- --quick` for a fast, noisier pass.
//!
//! Groups:
//! - `parse_request`: `parse_request` on a player segment GET with 8 header fields (CMCD query
//!   string, ~540 bytes) and on one with 30 fields. One reused connection buffer: each
//!   iteration copies the request in (as a read would), parses it and drops the head.
//! - `cache_key`: `CacheKey::new` + `StreamKey::of(.., Dirname).owner(16)` for a segment URL
//!   with and without a CMCD query parameter to strip.
//! - `store`: a 1 GiB store filled to its budget with 64 KiB objects (16,267 of them; one
//!   shared body `Bytes`): `get` hit (cycling over every stored key), `insert` of a new key
//!   (always evicts the LRU object) and `reserve_inflight` + `release_inflight` of 64 KiB.
//! - `freshness`: `evaluate` on a typical segment response (8 fields: Cache-Control max-age,
//!   Date, Age, ETag, Content-Type, Content-Length, Last-Modified, Access-Control-Allow-Origin).
//! - `fanout`: one `InFlight` with 1 / 100 / 1000 readers; publish a head and 16 chunks of
//!   64 KiB (one shared `Bytes`), every reader draining all events (noop waker) after each
//!   publish. Throughput elements = readers * 17 reader events. Readers are created and
//!   dropped outside the timing.
//! - `chunked_decode`: a 1 MiB body in 16 KiB chunks. `64KiB_reads` feeds it as
//!   `io::read_some` does (`io::read_room`, copy in, truncate), keeping every data piece the way
//!   `InFlight` retains them; `whole_buffer` decodes an already-buffered body (framing only).
//!
//! Last results (this 2-core x86_64 VM, shared with other builds, 2026-11-25;
//! `cargo bench --bench micro -- --warm-up-time 1 --measurement-time 2`), median:
//!
//! | benchmark                                    | median    | throughput          |
//! |----------------------------------------------|-----------|---------------------|
//! | parse_request/player_8_headers               | 533 ns    | 1.88 Melem/s        |  (838 ns before memchr in head.rs)
//! | parse_request/large_30_headers               | 2.09 µs   | 0.48 Melem/s        |
//! | cache_key/plain                              | 118 ns    | 8.5 Melem/s         |
//! | cache_key/strip_cmcd                         | 255 ns    | 3.9 Melem/s         |
//! | store/get_hit/16267                          | 28.7 ns   | 34.9 Melem/s        |
//! | store/insert_evicting/16267                  | 168 ns    | 5.9 Melem/s         |
//! | store/reserve_release_inflight               | 4.4 ns    | 229 Melem/s         |
//! | freshness/evaluate_segment                   | 160 ns    | 6.2 Melem/s         |
//! | fanout/readers/1                             | 839 ns    | 20.3 Melem/s        |
//! | fanout/readers/100                           | 55.8 µs   | 30.5 Melem/s        |
//! | fanout/readers/1000                          | 564 µs    | 30.2 Melem/s        |
//! | chunked_decode/1MiB_16KiB_chunks/64KiB_reads | 41.7 µs   | 23.4 GiB/s          |
//! | chunked_decode/1MiB_16KiB_chunks/whole_buffer| 2.55 µs   | 383 GiB/s           |
//!
//! Fan-out elements are reader events (readers * 17): ~33 ns per reader event at 100-1000
//! readers. `whole_buffer` is framing only (data is split off zero-copy, never touched), so its
//! GiB/s is not a memory bandwidth; `64KiB_reads` is dominated by the zero-fill and copy of
//! each read.

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant, SystemTime};

use bytes::{Bytes, BytesMut};
use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};

use livecache::cache::freshness::evaluate;
use livecache::cache::store::Found;
use livecache::cache::Vary;
use livecache::cache::{
    CacheKey, CachedHead, Freshness, InFlight, Reader, Store, StoredObject, StreamKey,
};
use livecache::config::StreamKeyRule;
use livecache::http::chunked::{ChunkedDecoder, Decoded};
use livecache::http::headers::Header;
use livecache::http::request::{parse_request, RequestLimits};

const HOST: &[u8] = b"cdn.example.com";
const CMCD: &str = "CMCD=bl%3D21300%2Cbr%3D3200%2Cbs%2Cd%3D4004%2Cmtp%3D25400%2Cot%3Dv%2Crtp%3D15000%2Csf%3Dh%2Csid%3D%226e2fb550-c457-11e9-bb97-0800200c9a66%22%2Ctb%3D6000";

fn player_request() -> Vec<u8> {
    format!(
        "GET /live/ch1/720p/seg-184467.m4s?{CMCD} HTTP/1.1\r\n\
         Host: cdn.example.com\r\n\
         User-Agent: Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36\r\n\
         Accept: */*\r\n\
         Accept-Encoding: gzip, deflate, br, zstd\r\n\
         Accept-Language: en-US,en;q=0.9\r\n\
         Connection: keep-alive\r\n\
         Referer: https://player.example.com/watch/ch1\r\n\
         Origin: https://player.example.com\r\n\
         \r\n"
    )
    .into_bytes()
}

fn large_request() -> Vec<u8> {
    let mut s = String::from_utf8(player_request()).unwrap();
    s.truncate(s.len() - 2); // reopen the head
    let extra = [
        ("Sec-Ch-Ua", "\"Google Chrome\";v=\"131\", \"Chromium\";v=\"131\", \"Not_A Brand\";v=\"24\""),
        ("Sec-Ch-Ua-Mobile", "?0"),
        ("Sec-Ch-Ua-Platform", "\"Windows\""),
        ("Sec-Fetch-Site", "same-site"),
        ("Sec-Fetch-Mode", "cors"),
        ("Sec-Fetch-Dest", "empty"),
        ("Cache-Control", "no-cache"),
        ("Pragma", "no-cache"),
        ("DNT", "1"),
        ("X-Forwarded-For", "203.0.113.7, 198.51.100.23"),
        ("X-Forwarded-Proto", "https"),
        ("X-Real-IP", "203.0.113.7"),
        ("Via", "1.1 edge-fra-03 (shield)"),
        ("X-Request-Id", "0f8fad5b-d9cb-469f-a165-70867728950e"),
        ("Traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
        ("Cookie", "session=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U; consent=1; ab=b"),
        ("X-Player-Version", "hls.js/1.5.17"),
        ("X-Session-Id", "6e2fb550-c457-11e9-bb97-0800200c9a66"),
        ("Priority", "u=1, i"),
        ("If-None-Match", "\"5f3a-184467\""),
        ("X-Client-Region", "eu-central"),
        ("X-Device-Class", "desktop"),
    ];
    for (name, value) in extra {
        s.push_str(&format!("{name}: {value}\r\n"));
    }
    s.push_str("\r\n");
    s.into_bytes()
}

fn bench_parse_request(c: &mut Criterion) {
    let limits = RequestLimits::default();
    let mut group = c.benchmark_group("parse_request");
    group.throughput(Throughput::Elements(1));
    for (name, raw, fields) in [
        ("player_8_headers", player_request(), 8),
        ("large_30_headers", large_request(), 30),
    ] {
        let head = parse_request(&mut BytesMut::from(&raw[..]), &limits)
            .expect("valid request")
            .expect("complete request");
        assert_eq!(head.headers.len(), fields, "{name}");
        // One connection's read buffer, reused: each request arrives (copied in, as a read
        // would), is parsed, and its head dropped, so the buffer's allocation is reclaimed.
        let mut buf = BytesMut::with_capacity(4 * 1024);
        group.bench_function(name, |b| {
            b.iter(|| {
                buf.extend_from_slice(black_box(&raw));
                parse_request(&mut buf, &limits)
                    .expect("valid request")
                    .expect("complete request")
                    .headers
                    .len()
            })
        });
    }
    group.finish();
}

fn bench_cache_key(c: &mut Criterion) {
    let strip = vec!["CMCD".to_string()];
    let plain = b"/live/ch1/720p/seg-184467.m4s".to_vec();
    let tracked = format!("/live/ch1/720p/seg-184467.m4s?{CMCD}").into_bytes();
    let mut group = c.benchmark_group("cache_key");
    group.throughput(Throughput::Elements(1));
    for (name, target) in [("plain", &plain), ("strip_cmcd", &tracked)] {
        let key = CacheKey::new(HOST, target, &strip);
        assert_eq!(key.target().as_ref(), &plain[..]);
        group.bench_function(name, |b| {
            b.iter(|| {
                let key = CacheKey::new(black_box(HOST), black_box(target), &strip);
                let owner = StreamKey::of(&key, StreamKeyRule::Dirname).owner(16);
                (key, owner)
            })
        });
    }
    group.finish();
}

const BODY: usize = 64 * 1024;
const BUDGET: u64 = 1 << 30;

fn segment_head() -> Arc<CachedHead> {
    Arc::new(CachedHead {
        status: 200,
        reason: Bytes::from_static(b"OK"),
        headers: vec![
            Header::new("Content-Type", Bytes::from_static(b"video/iso.segment")),
            Header::new("Cache-Control", Bytes::from_static(b"max-age=6")),
            Header::new("ETag", Bytes::from_static(b"\"5f3a-184467\"")),
        ],
        content_length: Some(BODY as u64),
        arrival: Default::default(),
        vary: livecache::cache::Vary::None,
        variant: Bytes::new(),
        encoded: Default::default(),
    })
}

/// A new object sharing `head` and `body` (refcount clones; only the `Rc` is allocated).
fn object(head: &Arc<CachedHead>, body: &Arc<[Bytes]>) -> Rc<StoredObject> {
    Rc::new(StoredObject {
        head: Arc::clone(head),
        body: Arc::clone(body),
        body_len: BODY as u64,
        freshness: Freshness {
            lifetime: Duration::from_secs(6),
            initial_age: Duration::ZERO,
            stored_at: Instant::now(),
            reuse: Default::default(),
        },
    })
}

fn segment_key(i: usize) -> CacheKey {
    let target = format!("/live/ch{}/720p/seg-{}.m4s", i % 32, i);
    CacheKey::new(HOST, target.as_bytes(), &[])
}

/// A store filled to its budget (the next insert evicts) and the keys it holds, LRU first.
fn full_store(head: &Arc<CachedHead>, body: &Arc<[Bytes]>) -> (Store, Vec<CacheKey>) {
    let mut store = Store::new(BUDGET);
    let per = object(head, body).cost();
    let n = (BUDGET / per) as usize;
    let keys: Vec<CacheKey> = (0..n).map(segment_key).collect();
    for key in &keys {
        store
            .insert(key.clone(), Vary::None, Bytes::new(), object(head, body), 8)
            .expect("fits");
    }
    let usage = store.usage();
    assert_eq!(usage.evictions, 0);
    assert!(usage.stored_bytes + per > BUDGET);
    (store, keys)
}

fn bench_store(c: &mut Criterion) {
    let head = segment_head();
    let body: Arc<[Bytes]> = Arc::new([Bytes::from(vec![0x47u8; BODY])]);
    let mut group = c.benchmark_group("store");
    group.throughput(Throughput::Elements(1));

    let (mut store, keys) = full_store(&head, &body);
    let mut i = 0;
    group.bench_function(BenchmarkId::new("get_hit", keys.len()), |b| {
        b.iter(|| {
            i = if i + 1 == keys.len() { 0 } else { i + 1 };
            match store.get(black_box(&keys[i]), &[]) {
                Found::Object(object) => object,
                _ => panic!("present"),
            }
        })
    });
    drop(store);

    let (mut store, keys) = full_store(&head, &body);
    // Cycling over more keys than the store holds: each one was evicted long ago, so every
    // insert is new and evicts exactly one LRU object.
    let pool: Vec<CacheKey> = (0..keys.len() + 4096).map(segment_key).collect();
    let mut next = keys.len();
    store
        .insert(
            pool[next].clone(),
            Vary::None,
            Bytes::new(),
            object(&head, &body),
            8,
        )
        .expect("fits");
    let usage = store.usage();
    assert_eq!((usage.evictions, usage.objects), (1, keys.len() as u64));
    group.bench_function(BenchmarkId::new("insert_evicting", keys.len()), |b| {
        b.iter_batched(
            || {
                next = (next + 1) % pool.len();
                (pool[next].clone(), object(&head, &body))
            },
            |(key, obj)| store.insert(black_box(key), Vary::None, Bytes::new(), obj, 8),
            BatchSize::SmallInput,
        )
    });
    drop(store);

    let (mut store, _keys) = full_store(&head, &body);
    group.bench_function("reserve_release_inflight", |b| {
        b.iter(|| {
            let fits = store.reserve_inflight(black_box(BODY as u64));
            store.release_inflight(BODY as u64);
            fits
        })
    });
    group.finish();
}

/// 2026-11-25 10:00:00 UTC.
const NOW_UNIX: u64 = 1_795_600_800;

fn bench_freshness(c: &mut Criterion) {
    let headers = vec![
        Header::new("Content-Type", Bytes::from_static(b"video/iso.segment")),
        Header::new("Content-Length", Bytes::from_static(b"1048576")),
        Header::new("Date", Bytes::from_static(b"Wed, 25 Nov 2026 10:00:00 GMT")),
        Header::new(
            "Last-Modified",
            Bytes::from_static(b"Wed, 25 Nov 2026 09:59:58 GMT"),
        ),
        Header::new("ETag", Bytes::from_static(b"\"5f3a-184467\"")),
        Header::new("Cache-Control", Bytes::from_static(b"public, max-age=6")),
        Header::new("Access-Control-Allow-Origin", Bytes::from_static(b"*")),
        Header::new("Age", Bytes::from_static(b"1")),
    ];
    let request_time = SystemTime::UNIX_EPOCH + Duration::from_secs(NOW_UNIX);
    let response_time = request_time + Duration::from_millis(40);
    let caching = livecache::Config::from_pairs(&[("shards", "1")])
        .expect("defaults")
        .caching
        .response;
    let policy = evaluate(200, &headers, request_time, response_time, &caching).policy;
    assert!(
        matches!(policy, livecache::cache::Policy::Store { .. }),
        "{policy:?}"
    );
    let mut group = c.benchmark_group("freshness");
    group.throughput(Throughput::Elements(1));
    group.bench_function("evaluate_segment", |b| {
        b.iter(|| {
            evaluate(
                black_box(200),
                black_box(&headers),
                request_time,
                response_time,
                &caching,
            )
        })
    });
    group.finish();
}

/// Polls `reader` until it would wait; returns how many events it got.
fn drain(reader: &mut Reader, cx: &mut Context<'_>) -> u64 {
    let mut n = 0;
    loop {
        match pin!(reader.next()).poll(cx) {
            Poll::Ready(event) => {
                black_box(event);
                n += 1;
            }
            Poll::Pending => return n,
        }
    }
}

const FANOUT_CHUNKS: usize = 16;

/// Publishes the head and every chunk, all readers draining after each publish.
fn fan_out(
    flight: &InFlight,
    readers: &mut [Reader],
    head: &Arc<CachedHead>,
    chunk: &Bytes,
) -> u64 {
    let mut cx = Context::from_waker(Waker::noop());
    let mut events = 0;
    flight.publish_head(Arc::clone(head), true);
    for r in readers.iter_mut() {
        events += drain(r, &mut cx);
    }
    for _ in 0..FANOUT_CHUNKS {
        flight.publish_chunk(chunk.clone());
        for r in readers.iter_mut() {
            events += drain(r, &mut cx);
        }
    }
    events
}

fn bench_fanout(c: &mut Criterion) {
    let head = segment_head();
    let chunk = Bytes::from(vec![0x47u8; BODY]);
    let setup = |n: usize| {
        let flight = InFlight::new();
        let readers: Vec<Reader> = (0..n).map(|_| flight.reader()).collect();
        (flight, readers)
    };
    let mut group = c.benchmark_group("fanout");
    for n in [1usize, 100, 1000] {
        let per_event = (n * (FANOUT_CHUNKS + 1)) as u64;
        let (flight, mut readers) = setup(n);
        assert_eq!(fan_out(&flight, &mut readers, &head, &chunk), per_event);
        group.throughput(Throughput::Elements(per_event));
        group.bench_with_input(BenchmarkId::new("readers", n), &n, |b, &n| {
            b.iter_batched_ref(
                || setup(n),
                |(flight, readers)| fan_out(flight, readers, &head, &chunk),
                BatchSize::LargeInput,
            )
        });
    }
    group.finish();
}

const CHUNKED_BODY: usize = 1 << 20;
const CHUNK: usize = 16 * 1024;
const READ: usize = 64 * 1024;

fn chunked_body() -> Vec<u8> {
    let mut wire = Vec::with_capacity(CHUNKED_BODY + 1024);
    for i in 0..CHUNKED_BODY / CHUNK {
        wire.extend_from_slice(format!("{CHUNK:x}\r\n").as_bytes());
        wire.extend(std::iter::repeat_n(i as u8, CHUNK));
        wire.extend_from_slice(b"\r\n");
    }
    wire.extend_from_slice(b"0\r\n\r\n");
    wire
}

/// Decodes `wire` arriving in `READ`-byte reads onto one buffer, with the buffer policy of
/// `io::read_some` (`io::read_room`). Every data piece is kept, as `InFlight` keeps them.
fn decode_in_reads(wire: &[u8], pieces: &mut Vec<Bytes>) -> usize {
    let mut decoder = ChunkedDecoder::new();
    let mut buf = BytesMut::with_capacity(8 * 1024);
    let mut total = 0;
    let mut sent = 0;
    while sent < wire.len() {
        // A socket read fills at most the room offered, as here.
        let start = livecache::io::read_room(&mut buf, READ);
        let n = (buf.len() - start).min(wire.len() - sent);
        buf[start..start + n].copy_from_slice(&wire[sent..sent + n]);
        buf.truncate(start + n);
        sent += n;
        while let Decoded::Data(data) = decoder.decode(&mut buf).expect("valid body") {
            total += data.len();
            pieces.push(data);
        }
    }
    assert!(decoder.is_done());
    total
}

fn decode_whole(mut buf: BytesMut) -> usize {
    let mut decoder = ChunkedDecoder::new();
    let mut total = 0;
    while let Decoded::Data(data) = decoder.decode(&mut buf).expect("valid body") {
        total += data.len();
    }
    total
}

fn bench_chunked(c: &mut Criterion) {
    let wire = chunked_body();
    assert_eq!(decode_in_reads(&wire, &mut Vec::new()), CHUNKED_BODY);
    assert_eq!(decode_whole(BytesMut::from(&wire[..])), CHUNKED_BODY);
    let mut group = c.benchmark_group("chunked_decode");
    group.throughput(Throughput::Bytes(CHUNKED_BODY as u64));
    group.bench_function("1MiB_16KiB_chunks/64KiB_reads", |b| {
        b.iter_batched_ref(
            || Vec::with_capacity(2 * CHUNKED_BODY / CHUNK),
            |pieces| decode_in_reads(black_box(&wire), pieces),
            BatchSize::SmallInput,
        )
    });
    group.bench_function("1MiB_16KiB_chunks/whole_buffer", |b| {
        b.iter_batched(
            || BytesMut::from(&wire[..]),
            |buf| decode_whole(black_box(buf)),
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(
    benches,
    bench_parse_request,
    bench_cache_key,
    bench_store,
    bench_freshness,
    bench_fanout,
    bench_chunked
);
criterion_main!(benches);
