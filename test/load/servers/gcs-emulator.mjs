// Runs the Cloud Storage emulator from firebase-tools in plain Node: its JSON/upload API (gcloud endpoints) needs
// no security rules, so the Java rules runtime is never started. Prints {"port":N} once listening.
// Relies on firebase-tools internals: the version is pinned in package.json's install-gcs-emulator script.
import { createRequire } from 'node:module';
import path from 'node:path';

const [installDir] = process.argv.slice(2);
const require = createRequire(path.resolve(installDir, 'node_modules', 'firebase-tools', 'package.json'));
const { StorageEmulator } = require('firebase-tools/lib/emulator/storage/index.js');
const { createApp } = require('firebase-tools/lib/emulator/storage/server.js');
const { EmulatorRegistry } = require('firebase-tools/lib/emulator/registry.js');

const projectId = 'etl-test';
const emulator = new StorageEmulator({ projectId, host: '127.0.0.1', port: 0, rules: { name: 'unused', content: '' } });
const app = await createApp(projectId, emulator);
const server = app.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  // Upload URLs and bucket metadata are built from the registered host and port.
  emulator.args.port = port;
  EmulatorRegistry.set('storage', emulator);
  process.stdout.write(JSON.stringify({ port }) + '\n');
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
