/**
 * bench/run.mjs's ingest cost per family: bench/ingest-families.mjs run as its own process after
 * everything else (bench/lib/child-part.mjs), its figures added to the report — rows at the end of
 * the results table, a section of its own (bench/lib/report/ingest-families.mjs).
 */
import { childPart } from './child-part.mjs';
import { addToReport, ingestFamilyTable } from './report/ingest-families.mjs';

export const ingestFamiliesPart = childPart({
  title: 'Ingest cost per family',
  script: 'ingest-families.mjs',
  skipFlag: '--no-ingest-families',
  jsonKey: 'ingestFamilies',
  timeoutS: { quick: 150, full: 660 },
  table: ingestFamilyTable,
  addToReport,
});
