/**
 * The parts bench/run.mjs runs after everything else, each as its own process (bench/lib/child-part.mjs),
 * in this order, their figures added to the report: rows at the end of the results table and a
 * section of their own.
 */
import { childPart } from './child-part.mjs';
import { addToReport as addIngestFamilies, ingestFamilyTable } from './report/ingest-families.mjs';
import { addToReport as addListenerFormats, listenerFormatTable } from './report/listener-formats.mjs';
import { addToReport as addRealtimeIsolation, realtimeIsolationTable } from './report/realtime-isolation.mjs';

export const CHILD_PARTS = [
  // The ingest cost per family (bench/lib/report/ingest-families.mjs).
  childPart({
    title: 'Ingest cost per family',
    script: 'ingest-families.mjs',
    skipFlag: '--no-ingest-families',
    jsonKey: 'ingestFamilies',
    timeoutS: { quick: 150, full: 660 },
    table: ingestFamilyTable,
    addToReport: addIngestFamilies,
  }),
  // PCM16 against Opus for listeners (bench/lib/report/listener-formats.mjs).
  childPart({
    title: 'Listener formats',
    script: 'listener-formats.mjs',
    skipFlag: '--no-listener-formats',
    jsonKey: 'listenerFormats',
    timeoutS: { quick: 150, full: 600 },
    table: listenerFormatTable,
    addToReport: addListenerFormats,
  }),
  // An API flood and stalled listeners against a bystander call (bench/lib/report/realtime-isolation.mjs).
  childPart({
    title: 'Realtime isolation',
    script: 'realtime-isolation.mjs',
    skipFlag: '--no-realtime-isolation',
    jsonKey: 'realtimeIsolation',
    timeoutS: { quick: 150, full: 300 },
    table: realtimeIsolationTable,
    addToReport: addRealtimeIsolation,
  }),
];
