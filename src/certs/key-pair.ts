// Key generation, always with Node's native crypto: node-forge's pure-JS RSA key generation takes
// seconds, OpenSSL's takes milliseconds. node-forge is only used to lay out the certificate.

import { generateKeyPair } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { promisify } from 'node:util';

const generateKeyPairAsync = promisify(generateKeyPair);

export const KEY_TYPES = ['rsa', 'ec'] as const;
export type KeyType = (typeof KEY_TYPES)[number];

export const RSA_KEY_BITS = [2048, 3072, 4096] as const;
export type RsaKeyBits = (typeof RSA_KEY_BITS)[number];

/** OpenSSL curve names (as `openssl ecparam -list_curves` spells them) -> key size in bits. */
export const EC_CURVE_BITS = { prime256v1: 256, secp384r1: 384 } as const;
export type EcCurve = keyof typeof EC_CURVE_BITS;

export type KeyPairSpec =
  | { readonly keyType: 'rsa'; readonly rsaBits: RsaKeyBits }
  | { readonly keyType: 'ec'; readonly ecCurve: EcCurve };

export interface NativeKeyPair {
  readonly publicKey: KeyObject;
  readonly privateKey: KeyObject;
}

export const createKeyPair = async (spec: KeyPairSpec): Promise<NativeKeyPair> =>
  spec.keyType === 'rsa'
    ? generateKeyPairAsync('rsa', { modulusLength: spec.rsaBits, publicExponent: 0x10001 })
    : generateKeyPairAsync('ec', { namedCurve: spec.ecCurve });
