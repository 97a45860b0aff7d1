/** How the report prints a number or a verdict. */

export const f1 = (x) => (Number.isFinite(x) ? x.toFixed(1) : 'n/a');
export const f2 = (x) => (Number.isFinite(x) ? x.toFixed(2) : 'n/a');
export const f0 = (x) => (Number.isFinite(x) ? x.toFixed(0) : 'n/a');
export const verdict = (ok) => (ok === undefined ? '' : ok ? 'PASS' : 'MISS');
/** A ratio of two noisy differences means nothing unless both were clearly positive. */
export const ratioVerdict = (ratio, target) => (ratio > 0 ? verdict(ratio <= target) : 'n/a (noise)');
