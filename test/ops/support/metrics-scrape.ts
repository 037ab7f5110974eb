// Scraping the worker's metrics listener over HTTP and reading values out of the Prometheus text
// format with a real parser (parse-prometheus-text-format), as a Prometheus server would.
import { get } from 'node:http';
import parsePrometheusTextFormat, { type PrometheusFamily } from 'parse-prometheus-text-format';

const SCRAPE_TIMEOUT_MS = 5_000;

export interface Scrape {
  status: number;
  contentType: string;
  text: string;
  families: PrometheusFamily[];
}

export const scrapeMetrics = (port: number, path = '/metrics'): Promise<Scrape> =>
  new Promise((resolve, reject) => {
    const request = get({ host: '127.0.0.1', port, path, timeout: SCRAPE_TIMEOUT_MS }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('error', reject);
      response.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        const status = response.statusCode ?? 0;
        resolve({ status, contentType: String(response.headers['content-type'] ?? ''), text, families: status === 200 ? parsePrometheusTextFormat(text) : [] });
      });
    });
    request.on('timeout', () => request.destroy(new Error(`GET http://127.0.0.1:${port}${path} took over ${SCRAPE_TIMEOUT_MS} ms`)));
    request.on('error', reject);
  });

/**
 * The value of the sample of `name` whose labels include `labels`, or undefined when there is no
 * such sample. Throws when the family is missing altogether (a renamed metric is a failure, not 0).
 */
export const findSample = (scrape: Scrape, name: string, labels: Readonly<Record<string, string>> = {}): number | undefined => {
  const family = scrape.families.find((candidate) => candidate.name === name);
  if (family === undefined) throw new Error(`no metric family ${name} in the scrape:\n${scrape.text}`);
  const sample = family.metrics.find((metric) => Object.entries(labels).every(([key, value]) => metric.labels?.[key] === value));
  return sample?.value === undefined ? undefined : Number(sample.value);
};

/** The sum of every sample of `name` whose labels include `labels`. */
export const sumSamples = (scrape: Scrape, name: string, labels: Readonly<Record<string, string>> = {}): number => {
  const family = scrape.families.find((candidate) => candidate.name === name);
  if (family === undefined) throw new Error(`no metric family ${name} in the scrape:\n${scrape.text}`);
  return family.metrics
    .filter((metric) => Object.entries(labels).every(([key, value]) => metric.labels?.[key] === value))
    .reduce((sum, metric) => sum + Number(metric.value ?? 0), 0);
};
