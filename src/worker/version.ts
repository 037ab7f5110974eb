// Version strings of the engine, as stunnel prints its banner.
import { readFileSync } from 'node:fs';

const readPackageVersion = (): string => {
  const manifest = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version?: string };
  return manifest.version ?? '0.0.0';
};

export const STUNNELCTL_VERSION = readPackageVersion();
export const ENGINE_BANNER = `stunnelctl ${STUNNELCTL_VERSION} (stunnel 5.x compatible) on ${process.arch}-${process.platform} platform, Node.js ${process.version}`;
export const TLS_BANNER = `Compiled/running with OpenSSL ${process.versions.openssl}`;
