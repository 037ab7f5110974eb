// How long each service's certificate has left, for `status`: read from the file the running worker
// serves (its state file names it), never from a signal. Under 30 days the operator is warned.
import { readFileSync } from 'node:fs';
import { differenceInDays } from 'date-fns/differenceInDays';
import { getSystemErrorCode, isStunnelctlError } from '../errors.js';
import { inspectPem } from '../certs/inspect.js';

/** `status` warns when a certificate has fewer whole days left than this. */
export const CERTIFICATE_WARNING_DAYS = 30;

export interface CertificateExpiry {
  file: string;
  /** notAfter as an ISO time; null when the file could not be read as a certificate. */
  notAfter: string | null;
  /** Whole days from now until notAfter (negative once expired); null with notAfter. */
  daysLeft: number | null;
  /** Why notAfter is unknown; null when it is known. */
  problem: string | null;
}

/** The expiry of the first certificate in the PEM file `file`, as of `now`. */
export const readCertificateExpiry = (file: string, now: Date): CertificateExpiry => {
  let text: string;
  try {
    text = readFileSync(file, 'latin1');
  } catch (error) {
    return { file, notAfter: null, daysLeft: null, problem: `cannot read it (${getSystemErrorCode(error) ?? String(error)})` };
  }
  try {
    const { notAfter } = inspectPem(text, file);
    return { file, notAfter: notAfter.toISOString(), daysLeft: differenceInDays(notAfter, now), problem: null };
  } catch (error) {
    if (!isStunnelctlError(error)) throw error;
    return { file, notAfter: null, daysLeft: null, problem: error.message };
  }
};

/** Expired, expiring within the warning period, or unreadable: what status warns about. */
export const needsCertificateWarning = (expiry: CertificateExpiry): boolean =>
  expiry.daysLeft === null || expiry.daysLeft < CERTIFICATE_WARNING_DAYS;
