// The one import of node-forge. It is CommonJS without named-export hints, so Node's ESM loader
// exposes only `default`, while @types/node-forge declares named exports only: bridge the two here.

import * as forgeModule from 'node-forge';

export const forge = (forgeModule as unknown as { default: typeof forgeModule }).default;
