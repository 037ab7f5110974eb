// SessionCache: what a worker keeps and replays to a replacement engine process must keep its
// remaining lifetime (never more than the service's timeout), and expired sessions are never replayed.
import { describe, it } from 'node:test';
import * as assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { SessionCache } from '../../../src/proxy/session-cache.js';

const session = (text: string): Buffer => Buffer.from(text);

describe('SessionCache', () => {
  it('live() lists the sessions not yet expired with the time each has left, oldest first', async () => {
    const cache = new SessionCache(10, 60_000);
    cache.set('aa', session('first'));
    cache.set('bb', session('second'), 40);
    const before = cache.live();
    assert.deepEqual(before.map((entry) => entry.id), ['aa', 'bb']);
    assert.ok(before[0]!.lifetimeMs > 59_000 && before[0]!.lifetimeMs <= 60_000, `full timeout left: ${before[0]!.lifetimeMs}`);
    assert.ok(before[1]!.lifetimeMs <= 40, `what was given is what is left: ${before[1]!.lifetimeMs}`);
    await delay(60);
    assert.deepEqual(cache.live().map((entry) => entry.id), ['aa'], 'the short-lived one expired');
    assert.equal(cache.get('bb'), undefined);
    assert.equal(cache.get('aa')?.toString(), 'first');
  });

  it('a copied session never outlives the cache timeout, and one with no time left is not stored', () => {
    const cache = new SessionCache(10, 1_000);
    cache.set('aa', session('copied'), 3_600_000);
    assert.ok(cache.live()[0]!.lifetimeMs <= 1_000, 'capped at the timeout');
    cache.set('bb', session('expired'), 0);
    assert.equal(cache.get('bb'), undefined);
    assert.deepEqual(cache.live().map((entry) => entry.id), ['aa']);
  });

  it('keeps at most sessionCacheSize entries, dropping the oldest', () => {
    const cache = new SessionCache(2, 60_000);
    cache.set('aa', session('1'));
    cache.set('bb', session('2'));
    cache.set('cc', session('3'));
    assert.deepEqual(cache.live().map((entry) => entry.id), ['bb', 'cc']);
  });
});
