/**
 * undici's connection pool, loaded without undici's index module. The index also loads fetch, WebSocket,
 * EventSource, cookies, caches and mocks, which took about 45 ms of the 165 ms of CPU time that `promote copy`
 * needed for an image the destination could mount (Node 20.20, undici 7.30, `perf stat`). The transport needs
 * the Agent and the `request` method, which the index adds to every dispatcher.
 */
import type { Agent as UndiciAgent, Dispatcher } from 'undici';

// undici's package has no `exports` map, so its files can be required by path. These paths exist in undici 6 and 7.
/* eslint-disable @typescript-eslint/no-require-imports */
const DispatcherClass = require('undici/lib/dispatcher/dispatcher') as typeof Dispatcher;
const requestMethod = require('undici/lib/api/api-request') as Dispatcher['request'];
/** undici's Agent: a keep-alive pool of connections per origin. */
export const Agent = require('undici/lib/dispatcher/agent') as typeof UndiciAgent;
/* eslint-enable @typescript-eslint/no-require-imports */

// The index adds the same function; a process that also loads the index (the worker does) keeps one `request`.
if (typeof DispatcherClass.prototype.request !== 'function') {
  DispatcherClass.prototype.request = requestMethod;
}
