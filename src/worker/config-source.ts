// Where the worker's configuration comes from: a file (re-read on reload) or text read once from a
// descriptor (`run -fd N`). Engine processes load the same source the worker did.
import { loadConfiguration, loadConfigurationText, type LoadResult } from '../config/load.js';

export type ConfigSource = { kind: 'file'; path: string } | { kind: 'text'; text: string; name: string };

export const loadFrom = (source: ConfigSource): LoadResult =>
  source.kind === 'file' ? loadConfiguration(source.path) : loadConfigurationText(source.text, source.name);
