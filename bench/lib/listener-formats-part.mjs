/**
 * bench/run.mjs's listener formats: bench/listener-formats.mjs run as its own process after
 * everything else (bench/lib/child-part.mjs), its figures added to the report — rows at the end of
 * the results table, a section of its own (bench/lib/report/listener-formats.mjs).
 */
import { childPart } from './child-part.mjs';
import { addToReport, listenerFormatTable } from './report/listener-formats.mjs';

export const listenerFormatsPart = childPart({
  title: 'Listener formats',
  script: 'listener-formats.mjs',
  skipFlag: '--no-listener-formats',
  jsonKey: 'listenerFormats',
  timeoutS: { quick: 150, full: 600 },
  table: listenerFormatTable,
  addToReport,
});
