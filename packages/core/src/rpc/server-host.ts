/**
 * One gRPC server per process, hosting whichever services the process has (head, node, owner). Every
 * service goes through the token guard. Binds loopback unless a host is given.
 */
import * as grpc from '@grpc/grpc-js';
import type { Logger } from '@samsara/ray-common';
import { ConnectionError } from '@samsara/ray-common';
import { CHANNEL_OPTIONS } from './services.js';
import { guardService } from './auth.js';
import { serverCredentials } from './tls.js';

export interface HostedService {
  readonly definition: grpc.ServiceDefinition;
  readonly implementation: Record<string, (...a: never[]) => unknown>;
}

export class ServerHost {
  private readonly server = new grpc.Server({ ...CHANNEL_OPTIONS, 'grpc.max_concurrent_streams': 10_000 });
  private boundPort = 0;

  constructor(
    private readonly token: string,
    private readonly log: Logger,
  ) {}

  add(svc: HostedService): void {
    this.server.addService(
      svc.definition,
      guardService(svc.definition, svc.implementation, this.token, (method, e) =>
        this.log.debug({ method, err: (e as Error)?.message ?? String(e) }, 'rpc handler failed'),
      ),
    );
  }

  /** Binds `host:port` (port 0 picks a free one) and returns the address peers should use. */
  async listen(host: string, port: number): Promise<string> {
    this.boundPort = await new Promise<number>((resolve, reject) => {
      this.server.bindAsync(`${host.includes(':') ? `[${host}]` : host}:${port}`, serverCredentials(), (err, p) => {
        if (err) {
          reject(
            new ConnectionError(`Cannot listen on ${host}:${port}: ${err.message}.`, {
              hint: port ? 'Is another rayts head or program using that port? Pick another with --port.' : 'Check the bind address.',
            }),
          );
        } else resolve(p);
      });
    });
    const advertised = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
    return `${advertised}:${this.boundPort}`;
  }

  get port(): number {
    return this.boundPort;
  }

  /** Stops accepting calls and cancels the ones in flight. */
  async close(): Promise<void> {
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
    this.server.forceShutdown();
  }
}
