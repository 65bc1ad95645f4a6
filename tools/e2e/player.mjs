// The player side of the hls.js end-to-end test (tools/e2e/hlsjs.mjs; see tools/e2e/README.md):
// the page and the functions that run inside it. hlsjs.mjs answers `PLAYER_HTML` and hls.min.js
// with Playwright's page.route on livecache's own origin (so no CORS is involved), then calls
// these through page.evaluate, which sends each function's source text to the page: they must
// not use anything from this module or from Node, only the page's globals (Hls, window, document).
//   * startPlayer: one hls.js player (`lowLatencyMode: true`, defaults otherwise) on the media
//     playlist through livecache, with hls.js's fragment loader (`fLoader`) wrapped: init.mp4,
//     segments and parts are fetched from livecache by the browser's own network stack with the
//     default XHR loader, and once a response has arrived in full its body is swapped, before
//     hls.js sees it, for the real fMP4 of media.mjs with the `mfhd` sequence number and `tfdt`
//     rewritten to the part's place on the mock timeline (seg-M.N.m4s: part N's fragment at
//     M x segment + N x part; seg-M.m4s: all of them; init.mp4: the init segment). Loading is
//     XHR, not progressive, and hls.js does not request EXT-X-PRELOAD-HINT parts, so livecache's
//     held-part path is not exercised. Errors, stalls and the first `playing` go to window.E2E.
//   * resyncPlayer: the "go live" jump to hls.js's live sync position inside the buffer.
//   * samplePlayer: one sample of latency, playback position, frames and stalls.

// The player page (served by page.route on livecache's own origin, so no CORS is involved).

export const PLAYER_HTML = `<!doctype html>
<html><head><meta charset="utf-8"><title>livecache e2e</title></head>
<body><video id="v" muted autoplay playsinline width="320" height="180"></video>
<script src="/__e2e/hls.min.js"></script>
</body></html>`;

// Runs in the page: starts the player on `src` with the media templates of makeMedia.
export function startPlayer({ src, media, rawMedia, catchUp }) {
  const E = (window.E2E = { errors: [], substituted: 0, mockBytes: 0, levelLoads: 0, waiting: 0, started: null });
  const b64 = (s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
  const init = b64(media.init);
  const frags = media.frags.map((f) => ({ ...f, bytes: b64(f.b64) }));
  const fragFor = (msn, part) => {
    const f = frags[part];
    const out = f.bytes.slice();
    const v = new DataView(out.buffer);
    v.setUint32(f.seqAt, msn * media.partsPerSegment + part + 1);
    v.setBigUint64(f.tfdtAt, BigInt(msn * media.segmentTicks + f.tfdt));
    return out;
  };
  const substitute = (url) => {
    const path = new URL(url).pathname;
    let m;
    if ((m = path.match(/\/seg-(\d+)\.(\d+)\.m4s$/))) return fragFor(Number(m[1]), Number(m[2]));
    if ((m = path.match(/\/seg-(\d+)\.m4s$/))) {
      const parts = frags.map((_, p) => fragFor(Number(m[1]), p));
      const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
      let at = 0;
      for (const p of parts) out.set(p, (at += p.length) - p.length);
      return out;
    }
    if (/\/init\.mp4$/.test(path)) return init.slice();
    return null;
  };
  const Base = Hls.DefaultConfig.loader;
  class MediaLoader extends Base {
    load(context, config, callbacks) {
      const onSuccess = callbacks.onSuccess;
      super.load(context, config, {
        ...callbacks,
        onSuccess: (response, stats, ctx, details) => {
          const real = rawMedia ? null : substitute(ctx.url);
          if (real) {
            E.substituted++;
            E.mockBytes += response.data?.byteLength || 0;
            response = { ...response, data: real.buffer };
          }
          onSuccess(response, stats, ctx, details);
        },
      });
    }
  }
  const video = document.getElementById('v');
  const hls = (window.hls = new Hls({ lowLatencyMode: true, enableWorker: false, maxLiveSyncPlaybackRate: catchUp, fLoader: MediaLoader }));
  hls.on(Hls.Events.ERROR, (_, d) => {
    E.errors.push({
      t: performance.now(),
      type: d.type,
      details: d.details,
      fatal: d.fatal,
      url: d.frag?.url || d.context?.url || d.url,
      code: d.response?.code,
      reason: d.reason || d.error?.message || d.err?.message,
    });
  });
  hls.on(Hls.Events.LEVEL_LOADED, () => E.levelLoads++);
  video.addEventListener('waiting', () => E.waiting++);
  video.addEventListener('playing', () => (E.started ??= performance.now()));
  hls.loadSource(src);
  hls.attachMedia(video);
  video.play().catch(() => {});
}

// Runs in the page: jump forward to hls.js's live sync position (live edge - target latency)
// when it lies inside the buffer, as a "go live" would; returns the latency before and after.
// hls.js adds 1 s (`liveSyncOnStallIncrease`) to its target latency for every stall and never
// takes it back: one stall while Chromium starts on a busy machine would park a player at
// PART-HOLD-BACK + 1 s, the test's bound, for the whole run. The go-live first sets the target
// back to PART-HOLD-BACK (hls.js's public `targetLatency` setter, which clears that count), so
// only stalls in the measured window count; the target it had is returned and printed.
export function resyncPlayer() {
  const v = document.getElementById('v');
  const hls = window.hls;
  const before = hls.latency;
  const targetBefore = hls.targetLatency;
  const partHoldBack = hls.latestLevelDetails?.partHoldBack ?? hls.levels?.[0]?.details?.partHoldBack;
  if (partHoldBack) hls.targetLatency = partHoldBack;
  const pos = hls.liveSyncPosition;
  const end = v.buffered.length ? v.buffered.end(v.buffered.length - 1) : 0;
  let jumped = 0;
  if (pos !== null && pos > v.currentTime + 0.05 && pos < end) {
    jumped = pos - v.currentTime;
    v.currentTime = pos;
  }
  return { before, jumped, targetBefore };
}

// Runs in the page: one sample of the player's state.
export function samplePlayer() {
  const v = document.getElementById('v');
  const q = v.getVideoPlaybackQuality?.();
  return {
    latency: window.hls.latency,
    targetLatency: window.hls.targetLatency,
    pdtLatency: window.hls.playingDate ? (Date.now() - window.hls.playingDate.getTime()) / 1000 : null,
    currentTime: v.currentTime,
    paused: v.paused,
    readyState: v.readyState,
    playbackRate: v.playbackRate,
    frames: q ? q.totalVideoFrames : null,
    dropped: q ? q.droppedVideoFrames : null,
    waiting: window.E2E.waiting,
    started: window.E2E.started !== null,
    partHoldBack: window.hls.levels?.[0]?.details?.partHoldBack ?? null,
  };
}
