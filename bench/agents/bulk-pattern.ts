// The byte stream of the bulk figure: 64 KiB blocks of one pseudo-random fill, each stamped at both
// ends with its index. The sink checks every stamp and a byte in the middle of each block, so a
// dropped, duplicated, reordered or corrupted block fails the run at a cost of a few compares per
// block, and the total byte count is checked at the end.

export const BLOCK_BYTES = 64 * 1024;
const STAMP_BYTES = 8;
const STAMP_MAGIC = 0x5354_4e4c;
const MIDDLE = BLOCK_BYTES / 2;

/** The fill every block shares (xorshift32 from the seed). */
export const makeFill = (seed: number): Buffer => {
  const fill = Buffer.allocUnsafe(BLOCK_BYTES);
  let state = seed >>> 0 || 1;
  for (let i = 0; i < BLOCK_BYTES; i += 4) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    fill.writeUInt32LE(state >>> 0, i);
  }
  return fill;
};

const stampOf = (index: number): Buffer => {
  const stamp = Buffer.allocUnsafe(STAMP_BYTES);
  stamp.writeUInt32BE(index >>> 0, 0);
  stamp.writeUInt32BE((STAMP_MAGIC ^ index) >>> 0, 4);
  return stamp;
};

/** A fresh block (never reused: a queued write may still reference the previous one). */
export const makeBlock = (fill: Buffer, index: number): Buffer => {
  const block = Buffer.allocUnsafeSlow(BLOCK_BYTES);
  fill.copy(block);
  const stamp = stampOf(index);
  stamp.copy(block, 0);
  stamp.copy(block, BLOCK_BYTES - STAMP_BYTES);
  return block;
};

export class StreamVerifier {
  private offset = 0;
  private problem: string | undefined;
  private readonly fill: Buffer;

  constructor(fill: Buffer) {
    this.fill = fill;
  }

  get bytes(): number {
    return this.offset;
  }

  get error(): string | undefined {
    return this.problem;
  }

  feed(chunk: Buffer): void {
    const start = this.offset;
    const end = start + chunk.length;
    this.offset = end;
    if (this.problem !== undefined) return;
    for (let block = Math.floor(start / BLOCK_BYTES); block * BLOCK_BYTES < end; block += 1) {
      const blockStart = block * BLOCK_BYTES;
      const stamp = stampOf(block);
      for (let i = 0; i < STAMP_BYTES; i += 1) {
        this.expect(chunk, start, end, blockStart + i, stamp[i] as number, block);
        this.expect(chunk, start, end, blockStart + BLOCK_BYTES - STAMP_BYTES + i, stamp[i] as number, block);
      }
      this.expect(chunk, start, end, blockStart + MIDDLE, this.fill[MIDDLE] as number, block);
    }
  }

  private expect(chunk: Buffer, start: number, end: number, position: number, value: number, block: number): void {
    if (this.problem !== undefined || position < start || position >= end) return;
    const actual = chunk[position - start];
    if (actual !== value) this.problem = `byte ${position} (block ${block}) is ${actual ?? 'missing'}, expected ${value}`;
  }
}
