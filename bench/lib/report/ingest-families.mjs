/**
 * The ingest cost per family (bench/ingest-families.mjs) in bench/run.mjs's report: rows for the
 * results table, the section of docs/benchmarks.md (with "where the time goes" from the profiles),
 * the console table, and the areas the profile's self time is sorted into.
 */
import { f0, f1, f2, verdict } from './format.mjs';
import { addPartToReport, partTable } from './part.mjs';

/**
 * Calls per core each family should reach (issue 12: "calls ingested and mixed per core with no
 * listener", ≥ 1,000 generic binary, ≥ 700 JSON/base64). earshot mixes a call only for a listener,
 * so the report holds both readings to them: nobody listening (ingest only) and one listener per call.
 */
export const CALLS_PER_CORE_TARGETS = { generic: 1000, 'generic-stereo': 1000, twilio: 700, telnyx: 700 };

/** The area of one self-time line of bench/profile-summary.mjs (`name url:line`, or a bare name). */
export function areaOf(name) {
  if (name.startsWith('(garbage collector)')) return 'gc';
  if (name.startsWith('(program)')) return 'native';
  if (name.includes('node_modules/ws/')) return 'ws';
  if (name.includes('node_modules/prom-client/')) return 'metrics';
  if (name.includes('dist/ingest/')) return 'platform';
  if (name.includes('dist/audio/resampler')) return 'resample';
  if (/dist\/(audio\/g711|live\/ingest-decoder)/.test(name)) return 'decode';
  if (name.includes('dist/live/ingest-track')) return 'track';
  // What a listener adds: jitter buffers, the mix and its framing; then the listener's write.
  if (/dist\/(audio\/(mixer|track-buffer|pcm16)|live\/(call-room|output-group|room-ticker))/.test(name))
    return 'mix';
  if (/dist\/live\/(listener|direct-write|write-coalescing)/.test(name)) return 'write';
  // RTP has no socket endpoint in dist/ws/: its ports' datagram handler is in dist/live/.
  if (name.includes('dist/ws/') || name.includes('dist/live/rtp-ports')) return 'handler';
  if (name.includes('dist/')) return 'earshot';
  if (name.includes('node_modules/')) return 'other';
  // Node's own JavaScript: `fn internal/…:12`, `fn net:772`, `fn events:471`.
  if (/ [a-z_/]+:\d+$/.test(name)) return 'node';
  // No URL: a V8 or Node built-in (JSON.parse, Buffer, string functions), or (root).
  return 'builtin';
}

export const AREA_LABELS = {
  native: 'native code (`(program)`: system calls, libuv, V8)',
  node: "Node's sockets, streams and events",
  ws: '`ws` frame parsing',
  handler:
    "the endpoints' message handlers (`dist/ws/`, RTP's `dist/live/rtp-ports`, with what V8 inlined into them)",
  platform:
    "the platform's message parsing (`dist/ingest/`: JSON fields, base64, framing, RTP headers, checks)",
  builtin: 'built-ins (JSON.parse, base64, Buffer)',
  decode: 'μ-law decoding and de-interleaving',
  resample: '8 → 16 kHz resampling',
  track: '20 ms framing and publish (`IngestTrack.write`)',
  mix: 'jitter buffers, the mix and its framing (`CallRoom.tick`)',
  write: 'the listener write (backlog checks; the `send()` in the addon, kernel time included)',
  earshot: "earshot's other code (bus, sessions)",
  metrics: 'metrics counters (prom-client)',
  gc: 'garbage collection',
  other: 'other',
};

const labelOf = (r, f) => r.labels?.[f] ?? f;
const times = (x) => (Number.isFinite(x) ? `× ${f2(x)}` : 'n/a');

/** [figure, measured, target, verdict] rows for the results table. */
export function ingestFamilyRows(part) {
  const r = part.result;
  if (!r) return [['Ingest cost per participant-frame, by family', part.error ?? part.skipped, '', '']];
  const rows = [];
  for (const f of r.families) {
    const s = r.summary[f];
    rows.push([
      `Ingest cost, ${labelOf(r, f)}: server CPU % per 1,000 participant-frames/s (µs per frame; × generic binary)`,
      `${f2(s.cpuPer1000)} (${f1(s.usPerFrame)} µs; ${times(s.vsGeneric)})`,
      '',
      '',
    ]);
  }
  for (const f of r.families) {
    const s = r.summary[f];
    const target = r.targets[f];
    rows.push([
      `Calls per core, ${labelOf(r, f)}: nobody listening (load generator CPU %)`,
      `${f0(s.callsPerCore)} (gen ${f0(s.generatorCpu)} %)`,
      target ? `≥ ${target}` : '',
      target ? verdict(s.callsPerCore >= target) : '',
    ]);
    if (!s.mixed) continue;
    rows.push([
      `Calls per core, ${labelOf(r, f)}: ingested and mixed, 1 listener per call`,
      f0(s.mixed.callsPerCore),
      target ? `≥ ${target}` : '',
      target ? verdict(s.mixed.callsPerCore >= target) : '',
    ]);
  }
  for (const fl of r.floors ?? []) {
    rows.push([
      `Calls per core, ${labelOf(r, fl)}, under the generic load (generic binary × of its CPU)`,
      `${f0(r.summary[fl].callsPerCore)} (× ${f2(r.summary.generic.vsFloor?.[fl])})`,
      '',
      '',
    ]);
  }
  return rows;
}

/** The console table of the part (Figure / Measured / Target), as bench/lib/report/table.mjs prints its own. */
export function ingestFamilyTable(part) {
  return partTable(ingestFamilyRows(part));
}

/**
 * "where the time goes" of one family's profile (its ingest-only window, or `mixed`): kernel, the
 * main thread's areas, top items, in figures.
 */
function profileLine(r, f, mixed = false) {
  const p = mixed ? r.profile?.[f]?.mixed : r.profile?.[f];
  if (!p) return null;
  if (p.error) return `- **${labelOf(r, f)}**: _${p.error}_`;
  const areas = Object.entries(p.areas)
    .filter(([, a]) => a.usPerFrame >= 0.05)
    .map(([a, x]) => `${AREA_LABELS[a] ?? a} ${f1(x.usPerFrame)} µs (${f0(x.pctOfBusy)} %)`)
    .join(', ');
  const top = p.top
    .slice(0, 5)
    .map((x) => `\`${x.name.trim()}\` ${f1(x.usPerFrame)} µs`)
    .join(', ');
  const rest = p.usPerFrame - p.kernelUsPerFrame - p.mainUsPerFrame;
  return (
    `- **${labelOf(r, f)}${mixed ? ', ingested and mixed (1 listener per call)' : ''}**: ${f1(p.usPerFrame)} µs of CPU per participant-frame in the profiled window ` +
    `(${p.calls} calls, ${f1(p.serverCpu)} % of a core), of which **kernel ${f1(p.kernelUsPerFrame)} µs** (system time). ` +
    `The main thread's samples hold ${f1(p.mainUsPerFrame)} µs: ${areas}. Top functions (self): ${top}.` +
    (rest > 0.05
      ? ` The other ${f1(rest)} µs are not in the main thread's samples (other threads — GC helpers, the profiler's own — and what the sampler misses).`
      : '')
  );
}

/** Where a family spends more or less per frame than generic binary (kernel, then the areas), largest first. */
function againstGeneric(r, f) {
  const p = r.profile?.[f];
  const g = r.profile?.generic;
  if (!p?.areas || !g?.areas) return null;
  const keys = new Set([...Object.keys(p.areas), ...Object.keys(g.areas)]);
  const d = [
    ['kernel', p.kernelUsPerFrame - g.kernelUsPerFrame],
    ...[...keys].map((a) => [a, (p.areas[a]?.usPerFrame ?? 0) - (g.areas[a]?.usPerFrame ?? 0)]),
  ]
    .sort((a, b) => Math.abs(b[1]) - Math.abs(a[1]))
    .filter(([, x]) => Math.abs(x) >= 0.2)
    .slice(0, 5);
  if (d.length === 0) return null;
  const name = (a) => (a === 'kernel' ? 'kernel' : (AREA_LABELS[a] ?? a));
  return d.map(([a, x]) => `${name(a)} ${x > 0 ? '+' : '−'}${f1(Math.abs(x))} µs`).join(', ');
}

/**
 * The floors against the generic path and its target: what reading the same sockets costs before
 * earshot does anything (lines; none without floors).
 */
function floorMarkdown(r) {
  const floors = r.floors ?? [];
  if (floors.length === 0) return [];
  const g = r.summary.generic;
  const t = r.targets.generic;
  const md = [
    '### The floor under the generic path',
    '',
    'In the same rounds, taking turns with the families under the generic load (two sockets per call, one 166-byte ' +
      'frame per socket per 20 ms), servers that do nothing but read (`bench/ingest-floor-server.mjs`, one process ' +
      "each): **raw** — a hand-written handshake, then each socket's `data` walked frame header by frame header, " +
      'nothing unmasked, copied or made; **onread** — the same walk, but every socket read into one preallocated ' +
      "buffer (net.Socket's `onread`, on the accepted socket's handle taken over), so that no Buffer is made and no " +
      'stream event emitted per read; **ws** — the `ws` library as earshot uses it, with a message handler that ' +
      'counts. They are what a Node server pays on this machine for these sockets before it does anything with ' +
      "them: the system calls and TCP (on loopback the ACKs' processing too), libuv, then Node's socket stream " +
      '(raw, ws) and a frame parser (ws).',
    '',
    '| Server | µs per participant-frame (= per message) | Calls per core | generic binary × of its CPU |',
    '|---|---|---|---|',
    `| earshot, generic binary | ${f1(g.usPerFrame)} | ${f0(g.callsPerCore)} | × 1.00 |`,
  ];
  for (const fl of floors) {
    const s = r.summary[fl];
    md.push(`| ${labelOf(r, fl)} | ${f1(s.usPerFrame)} | ${f0(s.callsPerCore)} | × ${f2(g.vsFloor?.[fl])} |`);
  }
  if (t) {
    const calls = (fl) => r.summary[fl]?.callsPerCore ?? Number.NaN;
    const target = t.toLocaleString('en');
    const throughStreams = floors.filter((fl) => fl !== 'floor-onread');
    const overStreams = throughStreams.length > 0 && throughStreams.every((fl) => calls(fl) < t);
    const stereo = r.summary['generic-stereo'];
    md.push(
      '',
      `${target} calls per core on the generic path leave ${f1(1e6 / (t * 100))} µs per participant-frame, and with a ` +
        'socket per participant a message is one participant-frame. ' +
        (overStreams
          ? `So with a socket per participant, ${target} calls per core is more than a Node server that reads ` +
            "through Node's socket streams holds on this machine even when it does nothing with what it reads"
          : `A Node server that reads through Node's socket streams can hold ${target} calls per core here`) +
        `; earshot holds ${f0(g.callsPerCore)}, its CPU × ${f2(g.vsFloor?.['floor-ws'])} of \`ws\` alone's.` +
        (floors.includes('floor-onread') && overStreams && calls('floor-onread') >= t
          ? ' Only a reader below those streams gets there (onread): one that takes over the handles of accepted ' +
            'sockets, which Node offers no public way to do, and parses WebSocket frames by hand — or one in native code.'
          : '') +
        (stereo
          ? ` A client that sends both participants of a call on one socket (\`channels=2\`, SPEC §4.1: a PBX fork's ` +
            `stereo, or any client holding both sides) halves the reads: ${f0(stereo.callsPerCore)} calls per core ` +
            `(${verdict(stereo.callsPerCore >= t)} against ${target}).`
          : ''),
    );
  }
  md.push('');
  return md;
}

/** The section of docs/benchmarks.md (lines). */
export function ingestFamilyMarkdown(part) {
  const md = ['## Ingest cost per family', ''];
  const r = part.result;
  md.push(
    'Run by `npm run bench` after the parts above (alone: `node bench/ingest-families.mjs`). One server per family ' +
      '(`EARSHOT_MEDIA_WORKERS=0`: one process, so its CPU is at most one core), all up at once, each holding its ' +
      'two-party calls; one load-generator process drives them all, deadline-paced and spread over the 20 ms period, ' +
      'but only one family sends at a time: the families take turns window by window, the order reversed every other ' +
      "round, so that a drift in the shared machine's speed hits them alike. The families: **generic binary** — " +
      '`/ws/ingest/{call_id}?token=…&participant=…&encoding=mulaw&sample_rate=8000`, two sockets per call, one 160-byte ' +
      'μ-law message per socket per 20 ms; **generic binary, stereo** — the same endpoint with both participants on one ' +
      'socket (`participant=caller,agent&channels=2`), one 320-byte message per 20 ms, caller and agent interleaved; **Twilio** and **Telnyx** — one socket per call, `connected` and `start` ' +
      "(an ingest key as the credential, the platform's call id naming the call), then an `inbound` and an `outbound` " +
      '`media` JSON text message per 20 ms (160 bytes of μ-law as 216 base64 characters, counters as the platform ' +
      'counts them, the two written back to back); **AudioHook** — one socket per call, `X-API-KEY` an ingest key without ' +
      'client secret (no signature), `open` offering PCMU stereo, then after `opened` one 320-byte binary message per ' +
      '20 ms, caller and agent μ-law interleaved; **AudioSocket** — plain TCP to `EARSHOT_AUDIOSOCKET_LISTEN` (the ' +
      "server's `EARSHOT_AUDIOSOCKET_INGEST_KEY` places the calls), a UUID frame naming the call, then one slin frame " +
      '(8 kHz PCM16 little-endian, 320 bytes and a 3-byte header) per 20 ms. An AudioSocket call has one participant, ' +
      'always `caller` (a second connection naming the same UUID would take it over), so a two-party call is measured ' +
      'as **two one-party AudioSocket calls**: the same participant-frames, but twice the calls on the server, and in ' +
      'the mixed windows a listener on each (two mixes of one track, two listener messages per 20 ms); **RTP** — a ' +
      'call created through the API, `POST /v1/calls/{call_id}/rtp` (`ulaw`) giving each participant a UDP port, ' +
      'then per participant one packet per 20 ms from a UDP socket of its own: a 12-byte header (PCMU, sequence ' +
      'number +1, timestamp +160) and 160 bytes of μ-law. All carry the same two tones (every AudioSocket ' +
      "participant the caller's).",
    '',
    '- **Cost per participant-frame** (20 ms of one participant): server CPU (`/proc`, user + system) over the window ' +
      'divided by the participant-frames it took in (`earshot_frames_in_total`), with **no listener**: what a call ' +
      'nobody listens to costs. earshot mixes a call only where it has listeners, and an ingest track makes no frame ' +
      'nobody takes (`live/ingest-track.ts`: no resampling, framing or publish while the bus knows no subscriber — in ' +
      'one process and across media workers, not over NATS; the WebSocket endpoints then do not decode the audio ' +
      'either), so this is the reading alone: socket read, WebSocket frame (AudioSocket: TCP framing; RTP: one ' +
      "datagram and its header), the platform's message parsing (JSON, base64) and counting the frames (AudioSocket " +
      'and RTP still decode). "× generic" ' +
      "is the median over the rounds of the ratio to the generic window next to it. The figure includes the idle server's " +
      'fixed cost; "marginal" is the difference between the two load steps, where it cancels.',
    '- **Calls per core** = calls / (server CPU as a fraction of one core), at the largest step. "Ingested and mixed" adds ' +
      'one byte-counting listener per call — the least that makes the server mix a call (jitter buffers, the mix, PCM16 ' +
      "encoding, framing, one listener message per call per 20 ms) — and includes that listener's write. The targets " +
      '(issue 12: calls "ingested and mixed per core with no listener") are held to both: nobody listening is the ' +
      "issue's words, and what earshot then does is read; with a listener it mixes as well. " +
      'Its windows also count the frames the jitter buffers concealed (`frames_lost` of every call) and the ' +
      "ticks skipped, beside how often the load generator's own pacing ran more than 5 ms late (which conceals " +
      'frames too). The load generator runs on the same cores; its CPU is given beside each figure.',
    '',
  );
  if (!r) {
    md.push(`_${part.error ?? part.skipped}_`, '');
    return md;
  }
  md.push(
    `${r.cores} cores; steps ${r.steps.join(', ')} calls per family, ${r.rounds} round(s) of ${r.windowS} s windows after ` +
      `${r.settleS} s to settle; the idle server used ${f1(r.idle.serverCpu)} % of a core.`,
    '',
    '| Family | Sockets per call | CPU % per 1,000 frames/s | µs per frame (marginal) | × generic | Calls per core, nobody listening | Calls per core, ingested and mixed | Target (nobody listening; mixed) | Concealed / late of frames in (mixed) | Load generator CPU % (ingest / mixed) |',
    '|---|---|---|---|---|---|---|---|---|---|',
  );
  for (const f of r.families) {
    const s = r.summary[f];
    const m = s.mixed;
    const t = r.targets[f];
    const sockets = r.socketsPerCall?.[f] ?? 'n/a';
    md.push(
      `| ${labelOf(r, f)} | ${sockets} | ${f2(s.cpuPer1000)} | ${f1(s.usPerFrame)} (${f1(s.marginalUsPerFrame)}) | ${times(s.vsGeneric)} | ` +
        `${f0(s.callsPerCore)} | ${m ? f0(m.callsPerCore) : 'n/a'} | ${t ? `≥ ${t}: **${verdict(s.callsPerCore >= t)}**${m ? `; **${verdict(m.callsPerCore >= t)}**` : ''}` : ''} | ` +
        `${m ? `${m.concealed} / ${m.late} of ${m.framesIn}${m.skippedTicks ? `, ${m.skippedTicks} ticks skipped` : ''} (generator late ${m.generatorLateRuns}×)` : 'n/a'} | ` +
        `${f0(s.generatorCpu)} / ${m ? f0(m.generatorCpu) : 'n/a'} |`,
    );
  }
  md.push('', 'Per step (medians over the rounds; CPU % of one core):', '');
  md.push(
    '| Calls | Family | Server CPU % (kernel) | Participant-frames/s (of sent) | µs per frame | × generic | Calls per core | Generator CPU % | Others CPU % | Errors |',
    '|---|---|---|---|---|---|---|---|---|---|',
  );
  for (const st of r.perStep) {
    for (const f of [...r.families, ...(r.floors ?? [])]) {
      const s = st.byFamily[f];
      md.push(
        `| ${st.calls} | ${labelOf(r, f)} | ${f1(s.serverCpu)} (${f1(s.serverSysCpu)}) | ${f0(s.framesPerS)} (${f1(100 * s.delivered)} %) | ` +
          `${f1(s.usPerFrame)} | ${times(s.vsGeneric)} | ${f0(s.callsPerCore)} | ${f0(s.generatorCpu)} | ${f0(s.othersCpu)} | ${s.errors} |`,
      );
    }
  }
  for (const f of r.families) {
    const m = r.summary[f].mixed;
    if (!m) continue;
    md.push(
      `| ${m.calls}, mixed | ${labelOf(r, f)} | ${f1(m.serverCpu)} | | ${f1(m.usPerFrame)} | ${times(m.vsGeneric)} | ${f0(m.callsPerCore)} | ` +
        `${f0(m.generatorCpu)} | ${f0(m.othersCpu)} | ${m.errors} |`,
    );
  }
  md.push('');
  md.push(...floorMarkdown(r));
  md.push('### Where the ingest time goes (CPU profiles)', '');
  if (!r.profile) {
    md.push('_Not profiled (--no-profile)._', '');
    return md;
  }
  md.push(
    `Each family once more against a fresh server under \`node --cpu-prof\`, ${r.profileCalls} calls, ingest only; the ` +
      `profile cut to the ${r.profileWindowS} s window (samples outside it dropped) and summarized with ` +
      '`bench/profile-summary.mjs`. Per participant-frame: the CPU of the profiled window (`/proc`; the profiler ' +
      "adds some) and its kernel part, then the main thread's samples by area of self time — a sample standing for " +
      'the time to the next, so µs = share of the window × its length / frames in it; % = share of the busy samples — ' +
      'and the functions with the most self time. `(program)` is native code with no JavaScript on the stack. V8 ' +
      'inlines small functions into their callers, whose self time then includes them (the generic handler holds the ' +
      'μ-law decoding).',
    '',
  );
  for (const f of r.families) {
    const line = profileLine(r, f);
    if (line) md.push(line);
  }
  const extras = r.families
    .filter((f) => f !== 'generic')
    .map((f) => [f, againstGeneric(r, f)])
    .filter(([, x]) => x);
  if (extras.length) {
    md.push(
      '',
      'Against generic binary, per participant-frame (profiled windows): ' +
        extras.map(([f, x]) => `**${labelOf(r, f)}** ${x}`).join('; ') +
        '.',
    );
  }
  const mixing = r.families.filter((f) => Number.isFinite(r.summary[f].mixed?.extraUsPerCallTick));
  if (mixing.length) {
    md.push(
      '',
      'A listener, from the windows above (ingested and mixed − ingest only, same calls), per call and 20 ms tick: ' +
        mixing
          .map((f) => {
            const m = r.summary[f].mixed;
            return `${labelOf(r, f)} ${f1(m.extraUsPerCallTick)} µs (kernel ${f1(m.extraSysUsPerCallTick)})`;
          })
          .join(', ') +
        ' — the frames ingest then makes (8 → 16 kHz resampling, 20 ms framing, the publish: two participants), ' +
        'jitter buffers, the mix of two tracks, PCM16 encoding and framing, and one 644-byte listener message ' +
        'written' +
        (mixing.includes('audiosocket')
          ? ' (AudioSocket: two one-party calls, each mixed alone for a listener of its own: two messages)'
          : '') +
        '. One call costs 100 participant-frames and 50 ticks a second, so a core holds 1,000 calls at ' +
        '1,000 µs of CPU per call per second: 10 µs per participant-frame with the mixing included. Measured ' +
        '(100 × µs per participant-frame + 50 × mixing): ' +
        mixing
          .map((f) => {
            const s = r.summary[f];
            return `${labelOf(r, f)} ${f0(100 * s.usPerFrame + 50 * s.mixed.extraUsPerCallTick)} µs`;
          })
          .join(', ') +
        '.',
    );
  }
  const mixedProfile = profileLine(r, 'generic', true);
  if (mixedProfile) {
    const g = r.profile.generic.mixed;
    md.push(
      '',
      'The same calls profiled with a listener each (the mixed window right after the ingest-only one, same server):',
      '',
      mixedProfile,
      '',
      `The kernel alone takes ${f1(g.kernelUsPerFrame)} µs per participant-frame here, against the 10 µs that ` +
        "1,000 calls per core allow for everything: on loopback the server's system time carries TCP both ways — " +
        'reading an ingest message sends its ACK, and that ACK and every listener segment are processed, receive ' +
        'side included, in the softirq of the process that sent them (`perf` on the server: `tcp_recvmsg` → ' +
        '`__tcp_transmit_skb` → `tcp_v4_rcv`). With listeners on other machines the receive half of each listener ' +
        "message is theirs; here it is the server's.",
    );
  }
  md.push('');
  return md;
}

/** docs/benchmarks.md with the part added: its rows in the results table, its section before the cluster's. */
export function addToReport(text, part) {
  return addPartToReport(text, ingestFamilyRows(part), ingestFamilyMarkdown(part));
}
