/**
 * The settings of how the real-time core writes to listeners (EARSHOT_WRITE_COALESCING,
 * EARSHOT_DIRECT_WRITES): declared here, where they are used; config/ reads and checks them.
 */

/**
 * Whether listener messages may be written several ticks at a time (one `writev` per k × 20 ms):
 * `auto` while the event loop is busy with ticks (k up to 3), `off` never, `always` with k = 2.
 */
export const WRITE_COALESCING = ['auto', 'off', 'always'] as const;
export type WriteCoalescing = (typeof WRITE_COALESCING)[number];

/**
 * Whether listener messages are written through the native addon, one call per message for all
 * its listeners: `auto` when it is built, `on` (refuse to start without it), `off`.
 */
export const DIRECT_WRITES = ['auto', 'on', 'off'] as const;
export type DirectWrites = (typeof DIRECT_WRITES)[number];
