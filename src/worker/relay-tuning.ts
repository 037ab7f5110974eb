// Stream buffer size of the relay, shared by the worker and its engine processes. Bulk transfers
// arrive as 16 KiB TLS records; with 16 KiB stream buffers the relay paused and resumed the other
// side on nearly every record. Idle connections buffer nothing, so this costs memory only while a
// peer is slower than its counterpart.
export const RELAY_HIGH_WATER_MARK_BYTES = 256 * 1024;
