/**
 * One gRPC server per process, hosting whichever services the process has (head, node, owner). Every
 * service goes through the token guard. Binds loopback unless a host is given.
 */
import * as grpc from '@grpc/grpc-js';
import type { Logger } from '@samsara/ray-common';
import { ConnectionError } from '@samsara/ray-common';
import { CHANNEL_OPTIONS } from './services.js';
import { guardService } from './auth.js';
import { ConnectionGate } from './connection-gate.js';
import * as net from 'node:net';
import { serverCredentials } from './tls.js';

export interface HostedService {
  readonly definition: grpc.ServiceDefinition;
  readonly implementation: Record<string, (...a: never[]) => unknown>;
}

/** An authenticated connection with no call for this long is closed (its client reconnects on demand). */
const MAX_CONNECTION_IDLE_MS = 10 * 60_000;

export class ServerHost {
  private readonly server = new grpc.Server({ ...CHANNEL_OPTIONS, 'grpc.max_concurrent_streams': 10_000, 'grpc.max_connection_idle_ms': MAX_CONNECTION_IDLE_MS });
  private boundPort = 0;
  /** Bounds the connections that have not authenticated yet (count and time): connection-gate.ts. */
  readonly gate = new ConnectionGate();
  private listener: net.Server | undefined;
  private injector: grpc.ConnectionInjector | undefined;

  constructor(
    private readonly token: string,
    private readonly log: Logger,
  ) {}

  add(svc: HostedService): void {
    this.server.addService(
      svc.definition,
      guardService(
        svc.definition,
        svc.implementation,
        this.token,
        (method, e) => this.log.debug({ method, err: (e as Error)?.message ?? String(e) }, 'rpc handler failed'),
        (peer) => this.gate.authenticated(peer),
      ),
    );
  }

  /**
   * Binds `host:port` (port 0 picks a free one) and returns the address peers should use. The socket is
   * this process's own net.Server, whose connections pass the {@link ConnectionGate} before grpc-js's
   * connection injector takes them.
   */
  async listen(host: string, port: number): Promise<string> {
    const injector = this.server.createConnectionInjector(serverCredentials());
    this.injector = injector;
    const listener = net.createServer({ noDelay: true }, (s) => {
      s.on('error', () => undefined);
      if (this.gate.admit(s)) injector.injectConnection(s);
    });
    this.listener = listener;
    this.boundPort = await new Promise<number>((resolve, reject) => {
      listener.once('error', (err) => {
        reject(
          new ConnectionError(`Cannot listen on ${host}:${port}: ${err.message}.`, {
            hint: port ? 'Is another rayts head or program using that port? Pick another with --port.' : 'Check the bind address.',
          }),
        );
      });
      listener.listen(port, host, () => resolve((listener.address() as net.AddressInfo).port));
    });
    listener.on('error', (err) => this.log.warn({ err: err.message }, 'rpc listener error'));
    const advertised = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
    return `${advertised}:${this.boundPort}`;
  }

  get port(): number {
    return this.boundPort;
  }

  /** Stops accepting calls and cancels the ones in flight. */
  async close(): Promise<void> {
    this.listener?.close();
    this.gate.close();
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        this.server.forceShutdown();
        resolve();
      }, 1000);
      this.server.tryShutdown(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  forceClose(): void {
    this.listener?.close();
    this.gate.close();
    this.injector?.destroy();
    this.server.forceShutdown();
  }
}
