// Real media for the hls.js end-to-end test (tools/e2e/hlsjs.mjs; see tools/e2e/README.md). The
// mock origin's init.mp4, segments and parts are synthetic pattern bytes, not MP4, which hls.js
// cannot demux ("Failed to find demuxer by probing fragment data", a non-fatal fragParsingError on
// every fragment, and nothing ever plays; E2E_RAW_MEDIA=1 shows it). So the players' requests stay
// real and only the bodies are swapped, in the page (player.mjs), for real H.264 fMP4 of the same
// media time. This module makes that media: ffmpeg encodes one segment (testsrc2 320x180, 20 fps,
// a key frame per segment, one `moof`+`mdat` fragment per part), and the init segment and each
// part's fragment become base64 templates, with the byte offsets of the fragment's `mfhd`
// sequence number and 64-bit `tfdt`, so the page can move a fragment to its place on the mock
// timeline (msn x segment + part offset). Playlists are not touched at all.
// Limits: the pictures repeat every segment; part sizes differ from the mock's (the mock's bytes
// are still transferred and counted).

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const TIMESCALE = 90000;

function boxes(buf, start = 0, end = buf.length) {
  const out = [];
  for (let i = start; i + 8 <= end; ) {
    const size = buf.readUInt32BE(i);
    const type = buf.toString('latin1', i + 4, i + 8);
    if (size < 8) throw new Error(`bad box ${type} at ${i}`);
    out.push({ type, start: i, end: i + size });
    i += size;
  }
  return out;
}

function child(buf, box, type) {
  return boxes(buf, box.start + 8, box.end).find((b) => b.type === type);
}

// One segment of H.264 fMP4, one fragment per part, as templates for the page (see startPlayer
// in player.mjs): { init, frags: [{ b64, seqAt, tfdtAt, tfdt }], segmentTicks, partsPerSegment }.
export function makeMedia(cfg) {
  const partsPerSegment = Math.round(cfg.segment / cfg.part);
  const dir = mkdtempSync(join(tmpdir(), 'livecache-e2e-media-'));
  try {
    const fps = 20;
    const framesPerPart = cfg.part * fps;
    if (!Number.isInteger(framesPerPart) || !Number.isInteger(cfg.segment / cfg.part)) {
      throw new Error(`part ${cfg.part}s must be a whole number of 1/${fps} s frames and divide the segment`);
    }
    const file = join(dir, 'seg.mp4');
    const r = spawnSync(
      'ffmpeg',
      [
        '-hide_banner', '-loglevel', 'error', '-y',
        '-f', 'lavfi', '-i', `testsrc2=size=320x180:rate=${fps}`, '-t', String(cfg.segment),
        '-c:v', 'libx264', '-profile:v', 'baseline', '-preset', 'veryfast', '-tune', 'zerolatency',
        '-bf', '0', '-g', String(cfg.segment * fps), '-keyint_min', String(cfg.segment * fps),
        '-sc_threshold', '0', '-b:v', '300k', '-pix_fmt', 'yuv420p',
        '-video_track_timescale', String(TIMESCALE),
        '-f', 'mp4', '-movflags', 'empty_moov+default_base_moof+frag_custom',
        '-frag_duration', String(Math.round(cfg.part * 1e6)),
        file,
      ],
      { encoding: 'utf8', timeout: 30_000 },
    );
    if (r.status !== 0) throw new Error(`ffmpeg failed (${r.status}): ${r.stderr || r.error}`);
    const buf = readFileSync(file);
    const top = boxes(buf);
    const moov = top.find((b) => b.type === 'moov');
    const init = buf.subarray(0, moov.end);
    const frags = [];
    for (let i = 0; i < top.length; i++) {
      if (top[i].type !== 'moof') continue;
      const moof = top[i];
      const mdat = top[i + 1];
      if (!mdat || mdat.type !== 'mdat') throw new Error('moof without mdat');
      const bytes = Buffer.from(buf.subarray(moof.start, mdat.end));
      const mfhd = child(buf, moof, 'mfhd');
      const traf = child(buf, moof, 'traf');
      const tfdt = child(buf, traf, 'tfdt');
      const version = buf[tfdt.start + 8];
      if (version !== 1) throw new Error('expected a 64-bit tfdt');
      frags.push({
        b64: bytes.toString('base64'),
        seqAt: mfhd.start + 12 - moof.start,
        tfdtAt: tfdt.start + 12 - moof.start,
        tfdt: Number(buf.readBigUInt64BE(tfdt.start + 12)),
      });
    }
    if (frags.length !== partsPerSegment) {
      throw new Error(`ffmpeg made ${frags.length} fragments, want ${partsPerSegment} (one per part)`);
    }
    return {
      init: init.toString('base64'),
      frags,
      segmentTicks: Math.round(cfg.segment * TIMESCALE),
      partsPerSegment,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
