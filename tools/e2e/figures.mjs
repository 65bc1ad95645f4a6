// Figures for the hls.js end-to-end test (tools/e2e/hlsjs.mjs; see tools/e2e/README.md): reads
// the counters the test measures with and gives the helpers that turn samples into figures. The
// mock origin's `/__stats` gives requests per target, split here into blocking playlist requests
// (`_HLS_msn=`), plain playlist requests and init/segment/part fetches of the rendition under
// test; livecache's admin `/metrics` gives the `livecache_hls_*` and
// `livecache_origin_requests_total` series; a plain playlist fetched straight from the origin
// (not through livecache) gives the newest published part, so parts published in a window are
// counted by the origin itself. `satisfies` decides whether a blocking playlist answer lists the
// part asked for (RFC 8216bis 6.2.5.2); `quantile`, `median` and `f3` summarise and print the
// latency samples. Every reader takes the test's `cfg` (origin, admin, path, segment, part).

async function getText(url) {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  if (!res.ok) throw new Error(`${url}: ${res.status}`);
  return res.text();
}

export async function originCounts(cfg) {
  const stats = JSON.parse(await getText(`${cfg.origin}/__stats`));
  let blocking = 0;
  let plain = 0;
  let maxPerTarget = 0;
  const blockingTargets = {};
  const media = {};
  const dir = cfg.path.slice(0, cfg.path.lastIndexOf('/') + 1);
  for (const [target, n] of Object.entries(stats.targets)) {
    const [path, query = ''] = target.split('?');
    if (path.startsWith(dir) && /\.(m4s|mp4)$/.test(path)) media[target] = n;
    if (path !== cfg.path) continue;
    if (/(^|&)_HLS_msn=/.test(query)) {
      blocking += n;
      blockingTargets[target] = n;
      maxPerTarget = Math.max(maxPerTarget, n);
    } else {
      plain += n;
    }
  }
  return { total: stats.total, blocking, plain, maxPerTarget, blockingTargets, media };
}

export async function metrics(cfg) {
  const text = await getText(`${cfg.admin}/metrics`);
  const out = {};
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = line.match(/^(livecache_(?:hls_[a-z_]+|origin_requests_total)(?:\{[^}]*\})?) ([0-9.e+-]+)$/);
    if (m) out[m[1]] = Number(m[2]);
  }
  return out;
}

// Index of the newest part the origin has published (msn * parts per segment + part), from a
// plain playlist fetched directly from the origin (not through livecache).
export async function originPartIndex(cfg) {
  const partsPerSegment = Math.round(cfg.segment / cfg.part);
  const text = await getText(`${cfg.origin}${cfg.path}`);
  let newest = -1;
  for (const m of text.matchAll(/#EXT-X-PART:[^\n]*URI="[^"]*seg-(\d+)\.(\d+)\.m4s"/g)) {
    newest = Math.max(newest, Number(m[1]) * partsPerSegment + Number(m[2]));
  }
  return newest;
}

// after - before for every numeric field: what a counter did over a window.
export function diff(after, before) {
  const out = {};
  for (const k of Object.keys(after)) {
    if (typeof after[k] === 'number') out[k] = after[k] - (before[k] || 0);
  }
  return out;
}

// Does a blocking playlist answer satisfy `_HLS_msn=M[&_HLS_part=N]`? (RFC 8216bis 6.2.5.2)
export function satisfies(text, msn, part) {
  const seq = Number((text.match(/#EXT-X-MEDIA-SEQUENCE:(\d+)/) || [])[1] || 0);
  if (/#EXT-X-ENDLIST/.test(text) || msn < seq) return true;
  if (new RegExp(`#EXTINF:[^\\n]*\\n(?:#[^\\n]*\\n)*seg-${msn}\\.m4s`).test(text)) return true;
  if (part === null) return false;
  return new RegExp(`#EXT-X-PART:[^\\n]*URI="[^"]*seg-${msn}\\.${part}\\.m4s"`).test(text);
}

export const quantile = (xs, q) => {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
};
export const median = (xs) => quantile(xs, 0.5);
export const f3 = (x) => (Number.isFinite(x) ? x.toFixed(3) : String(x));
