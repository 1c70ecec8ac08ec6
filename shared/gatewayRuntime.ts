/**
 * The Node flags every gateway process runs with, wherever it is launched from (the `creditgate`
 * bin's shebang, `npm start`, the extension's server options, the benchmark).
 *
 * `--max-semi-space-size=4` caps V8's young generation at 4 MiB per semi-space instead of 16: under
 * 32 concurrent streams the gateway's peak RSS measured 94 MiB with 8 instead of 107–123 MiB with 16,
 * and 87–88 MiB with 4 (c32 93 instead of 98, c1 87 instead of 90), with the same CPU per request and
 * latency in interleaved runs. Before the old space's growth was capped (next flag), 4 promoted
 * streaming objects early and grew the old space instead; with it, that no longer shows.
 *
 * `--heap-growing-percent=50` lets the old space grow to 1.5× what survived the last full collection
 * before the next one, instead of V8's 2–4× for small heaps: after a minute of 32-connection traffic
 * the old space peaked at ~15 MiB instead of ~28 MiB (peak RSS 92 instead of 101–106 MiB), and the
 * CPU per request did not move measurably (the live heap is ~10 MiB, quick to mark).
 *
 * `--single-threaded-gc` collects on the main thread only. With a heap this small, handing work to
 * V8's helper threads costs more than it saves: at 32 connections on two busy cores the gateway's CPU
 * per request fell 15 % (169 → 144 µs), the helper threads' share from 11 to 1 µs, peak RSS unchanged.
 *
 * Tried and left out: glibc's `MALLOC_MMAP_THRESHOLD_=65536` (each 64 KiB socket read buffer its own
 * mapping, returned to the system when freed). RSS under everyday load fell ~6 MiB, but mapping and
 * faulting in every read nearly doubled a 20 MiB answer's CPU (42–47 → 74–75 ms) and latency (p50
 * 78–93 → 139–145 ms), and the large answers' peak was no steadier (111–133 MiB against 110–111).
 */
export const GATEWAY_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=4', '--heap-growing-percent=50', '--single-threaded-gc'];
