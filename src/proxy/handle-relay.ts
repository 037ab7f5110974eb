// The relay's fast path: the bytes of one direction go from the source socket's native stream
// handle straight to the destination's, with none of Node's stream machinery per chunk.
//
// Why: through `'data'` events and `write()`, each 16 KiB record a TLS socket decrypts costs a
// Readable push, an event, a Writable write with its callbacks and next-tick runs, and under bulk
// load a pause and resume each time the 16 KiB high-water mark is crossed. Measured on one worker
// (`processes = 1`, one stream, CPU per GiB from /proc, bench/RESULTS.md seventh run): server mode
// 1,030-1,130 ms through the streams, 905-915 ms here (stunnel 630); client mode 1,045-1,085 ms, and
// 775-840 ms here with the shared read buffer below (stunnel 712-767).
//
// How: Node's net and TLS sockets read through a handle whose `onread` is called with each chunk (the
// length and offset sit in the `stream_wrap` binding's shared state array) and write through
// `writeBuffer`/`writev` with a `WriteWrap` request; `lib/internal/stream_base_commons.js` is the
// code this mirrors. End of stream and read errors are handed back to Node's own `onread`, so the
// sockets still emit `end`, `error` and `close` exactly as before and the connection's half-close and
// error paths are unchanged; write errors destroy the destination with the error Node would build.
//
// Where the binding or a handle is missing (another Node, a child process's stdio, a destination
// with writes already queued in its stream) `startHandleRelay` returns null and the caller relays that
// direction through the streams.
import type { Duplex } from 'node:stream';
import { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import { getSystemErrorName } from 'node:util';

/** The largest TLS record payload: a chunk this big means bulk data, more is likely on its way. */
export const FULL_TLS_RECORD_BYTES = 16 * 1024;
/** Bytes queued towards the destination (handed to it, not yet written out) before the source stops reading. */
const QUEUE_LIMIT_BYTES = 4 * FULL_TLS_RECORD_BYTES;
/** libuv's end-of-stream read status. */
const UV_EOF = -4095;
/**
 * The read buffer of every plain source that feeds a TLS socket, one per process: a TLS write takes
 * its input at once (SSL_write into the TLS handle's own buffer, or a copy when it cannot), so the
 * bytes are consumed before the next read into it. 256 KiB per read instead of libuv's 64 KiB in a
 * fresh allocation: a quarter of the reads, TLS writes and loop turns per byte.
 */
const PLAIN_READ_BUFFER_BYTES = 256 * 1024;
let plainReadBuffer: Buffer | undefined;

interface WriteRequest {
  handle: NativeStream;
  oncomplete: (this: WriteRequest, status: number) => void;
  bytes: number;
  buffer: Uint8Array[] | null;
  /** Set by the TLS handle when OpenSSL refused the write. */
  error?: string;
  pipe?: HandlePipe;
}

interface NativeStream {
  onread: (this: NativeStream, arrayBuffer?: ArrayBuffer) => unknown;
  reading: boolean;
  readStart(): number;
  readStop(): number;
  writeBuffer(request: WriteRequest, data: Uint8Array): number;
  writev(request: WriteRequest, chunks: Uint8Array[], allBuffers: true): number;
  /** libuv reads into this buffer from now on; `onread` then gets no ArrayBuffer. TCP and pipe handles only. */
  useUserBuffer?(buffer: Uint8Array): void;
}

interface StreamWrapBinding {
  WriteWrap: new () => WriteRequest;
  streamBaseState: Int32Array;
  kReadBytesOrError: number;
  kArrayBufferOffset: number;
  kLastWriteWasAsync: number;
}

let binding: StreamWrapBinding | null | undefined;

const pendingDeprecation = (): boolean =>
  process.execArgv.some((arg) => arg.includes('pending-deprecation'))
  || (process.env.NODE_OPTIONS ?? '').includes('pending-deprecation')
  || process.env.NODE_PENDING_DEPRECATION === '1';

/** `stream_wrap` as Node 20 has it, or null (checked once, shape included). */
const streamWrap = (): StreamWrapBinding | null => {
  if (binding !== undefined) return binding;
  binding = null;
  // `process.binding` prints DEP0111 under --pending-deprecation: the streams path then, quietly.
  if (pendingDeprecation()) return binding;
  try {
    const candidate = (process as unknown as { binding(name: string): Partial<StreamWrapBinding> }).binding('stream_wrap');
    if (typeof candidate.WriteWrap === 'function'
      && candidate.streamBaseState instanceof Int32Array
      && typeof candidate.kReadBytesOrError === 'number'
      && typeof candidate.kArrayBufferOffset === 'number'
      && typeof candidate.kLastWriteWasAsync === 'number') {
      // Copied into an object of its own: the binding object holds many properties (V8 keeps it as
      // a dictionary), and these are read for every chunk.
      binding = {
        WriteWrap: candidate.WriteWrap,
        streamBaseState: candidate.streamBaseState,
        kReadBytesOrError: candidate.kReadBytesOrError,
        kArrayBufferOffset: candidate.kArrayBufferOffset,
        kLastWriteWasAsync: candidate.kLastWriteWasAsync,
      };
    }
  } catch {
    binding = null;
  }
  return binding;
};

/** Whether this Node offers what the fast path needs. */
export const handleRelayAvailable = (): boolean => streamWrap() !== null;

const nativeStream = (socket: Duplex): NativeStream | null => {
  if (!(socket instanceof Socket)) return null;
  const handle = (socket as unknown as { _handle?: Partial<NativeStream> | null })._handle;
  if (handle === null || handle === undefined) return null;
  return typeof handle.readStart === 'function' && typeof handle.readStop === 'function'
    && typeof handle.writeBuffer === 'function' && typeof handle.writev === 'function'
    // net sets `reading` when it first starts reading: a Unix socket's handle has none before that.
    && typeof handle.onread === 'function' && (handle.reading === undefined || typeof handle.reading === 'boolean')
    ? handle as NativeStream
    : null;
};

/** The error Node's own stream code builds (`write EPIPE`, with errno, code and syscall). */
const streamError = (status: number, syscall: 'read' | 'write', detail?: string): Error => {
  const code = getSystemErrorName(status);
  return Object.assign(new Error(`${syscall} ${code}${detail === undefined ? '' : ` ${detail}`}`), { errno: status, code, syscall });
};

function onWriteComplete(this: WriteRequest, status: number): void {
  this.pipe?.written(this, status);
}

class HandlePipe implements HandleRelay {
  /** Chunks read and not yet handed to the destination, in order. */
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  /** Bytes handed to the destination whose write has not completed. */
  private inFlightBytes = 0;
  private writesInFlight = 0;
  private flushScheduled = false;
  private readingStopped = false;
  /** A write to the destination failed: it is being destroyed, nothing more goes to it. */
  private failed = false;
  /** End of stream seen while chunks still wait for a TLS destination: delivered once they are out. */
  private endOfStream: { arrayBuffer: ArrayBuffer | undefined } | null = null;
  private readonly originalOnread: NativeStream['onread'];
  private readonly destinationState: { destroyed: boolean };
  /** The shared buffer the source reads into, when it does (a plain source feeding a TLS socket). */
  private readBuffer: Buffer | undefined;
  /** The last view of `readBuffer` handed out: reads of one size (interactive traffic, full reads) reuse it. */
  private readView: Buffer | undefined;
  /** A write request the native side never took (its write completed at once), for the next write. */
  private spareRequest: WriteRequest | undefined;
  /** Inside a native write call. */
  private dispatching = false;
  /** A completion that arrived inside the native write call, for `flush` to handle after it. */
  private earlyCompletion: { request: WriteRequest; status: number } | undefined;
  private readonly flushNow = (): void => {
    this.flushScheduled = false;
    this.flush();
    this.applyBackpressure();
  };

  constructor(
    private readonly state: StreamWrapBinding,
    private readonly source: Socket,
    private readonly sourceHandle: NativeStream,
    private readonly destination: Socket,
    private readonly destinationHandle: NativeStream,
    /** A TLS handle takes one write at a time (Node 20 aborts on a second one in flight). */
    private readonly oneWriteAtATime: boolean,
    private readonly onData: (bytes: number) => void,
    private readonly queueLimitBytes: number,
  ) {
    this.originalOnread = sourceHandle.onread;
    this.destinationState = (destination as unknown as { _writableState: { destroyed: boolean } })._writableState;
  }

  start(): void {
    const pipe = this;
    const { state } = this;
    this.sourceHandle.onread = function onHandleRead(this: NativeStream, arrayBuffer?: ArrayBuffer): unknown {
      const status = state.streamBaseState[state.kReadBytesOrError] ?? 0;
      if (status > 0) {
        // A plain view, not Buffer.from: that one function serves every caller in the process, so its
        // property loads are megamorphic (1.6% of a server-mode worker's user time in a round-trip test).
        if (arrayBuffer !== undefined) pipe.accept(new Uint8Array(arrayBuffer, state.streamBaseState[state.kArrayBufferOffset] ?? 0, status), false);
        else if (pipe.readBuffer !== undefined) pipe.accept(pipe.sharedView(pipe.readBuffer, status), true);
        return undefined;
      }
      if (status === 0) return undefined;
      return pipe.sourceEnded(status, arrayBuffer);
    };
    if (this.oneWriteAtATime && typeof this.sourceHandle.useUserBuffer === 'function') {
      plainReadBuffer ??= Buffer.allocUnsafe(PLAIN_READ_BUFFER_BYTES);
      this.readBuffer = plainReadBuffer;
      this.sourceHandle.useUserBuffer(plainReadBuffer);
    }
    // What the source read before the relay began (a client that spoke first) goes first.
    for (let chunk = this.source.read() as Buffer | null; chunk !== null; chunk = this.source.read() as Buffer | null) {
      this.accept(chunk, false);
    }
    this.flush();
    if (!this.readingStopped && !this.sourceHandle.reading) this.startReading();
  }

  queuedBytes(): number {
    return this.pendingBytes + this.inFlightBytes;
  }

  private sharedView(buffer: Buffer, length: number): Buffer {
    const cached = this.readView;
    if (cached !== undefined && cached.length === length) return cached;
    const view = buffer.subarray(0, length);
    this.readView = view;
    return view;
  }

  /** `shared`: the chunk lies in the shared read buffer, and is copied if it cannot be written at once. */
  private accept(chunk: Uint8Array, shared: boolean): void {
    this.onData(chunk.length);
    const mustWait = shared && (this.pending.length > 0 || this.writesInFlight > 0 || !this.destinationAlive());
    this.pending.push(mustWait ? Buffer.from(chunk) : chunk);
    this.pendingBytes += chunk.length;
    // One read of a TLS socket decrypts up to four full records and hands them over one by one:
    // queued until the check phase, they reach a TCP destination in one writev. A small chunk
    // (interactive traffic) goes at once, with whatever was queued before it.
    if (chunk.length >= FULL_TLS_RECORD_BYTES && !this.oneWriteAtATime) {
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(this.flushNow);
      }
    } else {
      this.flush();
    }
    this.applyBackpressure();
  }

  /**
   * Checked for every write. `destroy()` marks the writable state destroyed before it closes the
   * handle, in the same call. Not `socket._handle` or `socket.destroyed`: those are getters every
   * socket and stream of the process goes through, so their property loads are megamorphic (1.8% of
   * a server-mode worker's user time in a round-trip test).
   */
  private destinationAlive(): boolean {
    return !this.failed && !this.destinationState.destroyed;
  }

  private flush(): void {
    while (this.pending.length > 0) {
      if (!this.destinationAlive()) {
        this.pending = [];
        this.pendingBytes = 0;
        return;
      }
      if (this.oneWriteAtATime && this.writesInFlight > 0) return;
      const chunks = this.oneWriteAtATime ? this.takeOneRecordsWorth() : this.takeAll();
      let bytes = 0;
      for (const chunk of chunks) bytes += chunk.length;
      const request = this.spareRequest ?? new this.state.WriteWrap();
      this.spareRequest = undefined;
      request.handle = this.destinationHandle;
      request.oncomplete = onWriteComplete;
      request.bytes = bytes;
      // In flight before the call: the request may complete inside it (below). The chunks stay
      // referenced until the kernel (or OpenSSL) has them.
      request.buffer = chunks;
      request.pipe = this;
      this.writesInFlight += 1;
      this.inFlightBytes += bytes;
      this.dispatching = true;
      const first = chunks[0];
      const status = chunks.length === 1 && first !== undefined
        ? this.destinationHandle.writeBuffer(request, first)
        : this.destinationHandle.writev(request, chunks, true);
      this.dispatching = false;
      const early = this.earlyCompletion;
      this.earlyCompletion = undefined;
      if (status !== 0) {
        // Refused: the native side never took the request, and nothing completes it.
        this.release(request);
        this.failDestination(streamError(status, 'write', request.error));
        return;
      }
      if (early !== undefined) {
        // Completed during the call: a TLS handle whose TCP write failed at once (EPIPE, ECONNRESET)
        // calls the completion before its write returns. Lost, the write would stay in flight for
        // good and the connection would never end.
        this.written(early.request, early.status);
        return;
      }
      if (this.state.streamBaseState[this.state.kLastWriteWasAsync] === 0) {
        // Written at once: the native side never took hold of the request, so it serves the next write.
        this.release(request);
        this.spareRequest = request;
      }
    }
  }

  /** Takes a write out of the in-flight count. */
  private release(request: WriteRequest): void {
    request.pipe = undefined;
    request.buffer = null;
    this.writesInFlight -= 1;
    this.inFlightBytes -= request.bytes;
  }

  private takeAll(): Uint8Array[] {
    const chunks = this.pending;
    this.pending = [];
    this.pendingBytes = 0;
    return chunks;
  }

  /**
   * For a TLS destination: a large chunk alone (Node's TLS handle copies several into one buffer
   * before SSL_write), or the small ones queued together up to one record.
   */
  private takeOneRecordsWorth(): Uint8Array[] {
    const chunks: Uint8Array[] = [];
    let bytes = 0;
    while (this.pending.length > 0) {
      const next = this.pending[0];
      if (next === undefined) break;
      if (chunks.length > 0 && (next.length >= FULL_TLS_RECORD_BYTES || bytes + next.length > FULL_TLS_RECORD_BYTES)) break;
      chunks.push(next);
      this.pending.shift();
      bytes += next.length;
      if (next.length >= FULL_TLS_RECORD_BYTES) break;
    }
    this.pendingBytes -= bytes;
    return chunks;
  }

  written(request: WriteRequest, status: number): void {
    if (this.dispatching) {
      // Inside the write call (see flush): handled once it has returned.
      this.earlyCompletion = { request, status };
      return;
    }
    this.release(request);
    if (status < 0) {
      // A write cancelled because the connection is being torn down is no news.
      if (!this.destinationState.destroyed) this.failDestination(streamError(status, 'write', request.error));
      return;
    }
    this.flush();
    this.applyBackpressure();
    if (this.endOfStream !== null && this.pendingBytes === 0 && this.writesInFlight === 0) {
      const { arrayBuffer } = this.endOfStream;
      this.endOfStream = null;
      this.deliverEnd(UV_EOF, arrayBuffer);
    }
  }

  /** As Node's Writable does with a failed write: the destination is destroyed with the error, on the next tick. */
  private failDestination(error: Error): void {
    if (this.failed) return;
    this.failed = true;
    this.pending = [];
    this.pendingBytes = 0;
    process.nextTick(() => this.destination.destroy(error));
  }

  /**
   * The source stops reading while too much waits for the destination, and starts again below it.
   * Chunks held for the check phase's writev do not count for a TCP destination: they go out in this
   * turn of the loop whatever happens, and counting them would stop and restart reading every turn.
   */
  private applyBackpressure(): void {
    const queued = this.inFlightBytes + (this.oneWriteAtATime ? this.pendingBytes : 0);
    if (queued >= this.queueLimitBytes) {
      if (!this.readingStopped) {
        this.readingStopped = true;
        this.stopReading();
      }
    } else if (this.readingStopped && this.endOfStream === null) {
      this.readingStopped = false;
      this.startReading();
    }
  }

  private sourceAlive(): boolean {
    const handle = (this.source as unknown as { _handle?: unknown })._handle;
    return !this.source.destroyed && handle === this.sourceHandle;
  }

  private stopReading(): void {
    if (!this.sourceAlive()) return;
    this.sourceHandle.reading = false;
    const status = this.sourceHandle.readStop();
    if (status !== 0) this.source.destroy(streamError(status, 'read'));
  }

  private startReading(): void {
    if (!this.sourceAlive() || this.sourceHandle.reading) return;
    this.sourceHandle.reading = true;
    const status = this.sourceHandle.readStart();
    if (status !== 0) this.source.destroy(streamError(status, 'read'));
  }

  /**
   * End of stream or a read error. Everything read before it goes out first: to a TCP destination
   * the queued chunks are written now (its shutdown waits for writes in flight); a TLS destination
   * takes one write at a time, so the end waits until the last one has completed.
   */
  private sourceEnded(status: number, arrayBuffer: ArrayBuffer | undefined): unknown {
    if (status !== UV_EOF) return this.deliverEnd(status, arrayBuffer);
    this.flush();
    if (this.oneWriteAtATime && (this.pendingBytes > 0 || this.writesInFlight > 0) && this.destinationAlive()) {
      this.endOfStream = { arrayBuffer };
      if (!this.readingStopped) {
        this.readingStopped = true;
        this.stopReading();
      }
      return undefined;
    }
    return this.deliverEnd(status, arrayBuffer);
  }

  /** Node's own `onread` with the status it would have seen: it emits `end` or destroys with the error. */
  private deliverEnd(status: number, arrayBuffer: ArrayBuffer | undefined): unknown {
    this.state.streamBaseState[this.state.kReadBytesOrError] = status;
    return this.originalOnread.call(this.sourceHandle, arrayBuffer);
  }
}

/** One direction relayed at the handle level. */
export interface HandleRelay {
  /** Bytes read from the source that have not yet been handed to the kernel (or OpenSSL) for the destination. */
  queuedBytes(): number;
}

/**
 * Relays `source` to `destination` at the handle level, with backpressure: the source stops reading
 * while `queueLimitBytes` wait for the destination. `onData` sees each chunk's length as it is read.
 * Null (nothing changed) when this direction has to go through the streams.
 */
export const startHandleRelay = (source: Duplex, destination: Duplex, onData: (bytes: number) => void, queueLimitBytes = QUEUE_LIMIT_BYTES): HandleRelay | null => {
  const state = streamWrap();
  if (state === null) return null;
  const sourceHandle = nativeStream(source);
  const destinationHandle = nativeStream(destination);
  if (sourceHandle === null || destinationHandle === null) return null;
  // Writes already queued in the destination's stream would be overtaken by direct ones.
  if (destination.writableLength > 0 || destination.writableEnded || destination.destroyed || source.destroyed) return null;
  // A source whose end of stream Node has already read (a peer that sent and half-closed before the
  // relay began) emits `end` on its own, maybe before its last chunks were written here: the streams
  // keep that order.
  if ((source as unknown as { _readableState?: { ended?: boolean } })._readableState?.ended !== false) return null;
  if (typeof (destination as unknown as { _writableState?: { destroyed?: boolean } })._writableState?.destroyed !== 'boolean') return null;
  const pipe = new HandlePipe(
    state,
    source as Socket,
    sourceHandle,
    destination as Socket,
    destinationHandle,
    destination instanceof TLSSocket,
    onData,
    queueLimitBytes,
  );
  pipe.start();
  return pipe;
};

