/** The demo's choice of ports: the usual ones first, so that examples/pipeline.yaml reaches its registries. */
import { createServer, type Server } from 'node:net';
import { freePort } from '../../scripts/lib/ports';
import { choosePorts, type DemoPorts } from '../../scripts/demo/state';

async function distinctFreePorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) {
    ports.add(await freePort());
  }
  return [...ports];
}

function listen(port: number): Promise<Server> {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

test('preferred ports win over the last run once free again', async () => {
  const [a, b, c, d, e, f, g, h] = await distinctFreePorts(8);
  const preferred: DemoPorts = { temporal: a, ui: b, registryA: c, registryB: d };
  const previous: DemoPorts = { temporal: e, ui: f, registryA: g, registryB: h };

  expect(await choosePorts(previous, preferred)).toEqual(preferred);
});

test('last run ports stand in for taken preferred ones', async () => {
  const [a, b, c, d, e, f, g, h] = await distinctFreePorts(8);
  const preferred: DemoPorts = { temporal: a, ui: b, registryA: c, registryB: d };
  const previous: DemoPorts = { temporal: e, ui: f, registryA: g, registryB: h };
  const holder = await listen(c);

  try {
    expect(await choosePorts(previous, preferred)).toEqual({ temporal: a, ui: b, registryA: g, registryB: d });
  } finally {
    holder.close();
  }
});
