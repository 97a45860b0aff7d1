#!/usr/bin/env node
// The `earshot` command. The TypeScript sources are compiled to dist/ by `npm ci` (the prepare script).
import { run } from '../dist/cli/main.js';

run(process.argv.slice(2)).then(
  (code) => {
    if (typeof code === 'number') process.exitCode = code;
  },
  (err) => {
    console.error(err instanceof Error ? err.message : err);
    process.exitCode = 1;
  },
);
