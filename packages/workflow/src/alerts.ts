/**
 * Alert webhooks (`alerts.onFailure` / `alerts.onSuccess`): one JSON POST per finished run. A webhook
 * that fails or times out (10 s) is recorded in the run's journal; it never changes the run's status.
 */
import type { AlertTarget } from './spec/definition.js';
import type { ErrorInfo, RunRecord } from './run/status.js';

/** The JSON body an alert webhook receives. */
export interface AlertPayload {
  readonly event: 'workflow.failure' | 'workflow.success';
  readonly runId: string;
  readonly workflow: string;
  readonly status: string;
  /** The op that failed first (failure alerts). */
  readonly op?: string;
  readonly error?: ErrorInfo;
  /** The last lines of the failed op's log (failure alerts). */
  readonly logTail: readonly string[];
  readonly file: string;
  readonly fileHash: string;
  readonly git: RunRecord['git'];
  readonly startedAt?: number;
  readonly endedAt?: number;
}

export async function sendAlert(target: AlertTarget, payload: AlertPayload): Promise<{ ok: boolean; detail: string }> {
  try {
    const res = await fetch(target.webhook, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...target.headers },
      body: JSON.stringify(payload),
      signal: AbortSignal.timeout(10_000),
    });
    await res.arrayBuffer();
    return { ok: res.ok, detail: `${res.status} ${res.statusText}` };
  } catch (e) {
    return { ok: false, detail: (e as Error).message };
  }
}
