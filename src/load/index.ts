import type { Sink } from '../core/sink.js';
import type { Destination, SinkOptions } from './destination.js';

/** Registry: one line per destination. Each module loads its SDK only when used, so `etl --help` stays fast. */
const SINK_FACTORIES: Record<Destination['scheme'], (destination: Destination, options: SinkOptions) => Promise<Sink>> = {
  gs: async (destination, options) => (await import('./gcs.js')).createGcsSink(destination, options),
  s3: async (destination, options) => (await import('./s3.js')).createS3Sink(destination, options),
  file: async (destination) => (await import('./local.js')).createLocalSink(destination),
};

export function createSink(destination: Destination, options: SinkOptions): Promise<Sink> {
  return SINK_FACTORIES[destination.scheme](destination, options);
}
