/**
 * An HTTP error that knows its response (Hono's HTTPException): thrown anywhere in the proxy or by
 * the request a replica hands to user code (`req.json()` on a bad body is a 400).
 */
export class ServeHttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
  override get name(): string {
    return 'ServeHttpError';
  }
  /** The JSON error response, with the request id when there is one. */
  getResponse(requestId?: string): { status: number; headers: Record<string, string>; body: string } {
    return {
      status: this.status,
      headers: { 'content-type': 'application/json', ...this.headers },
      body: JSON.stringify({ error: this.message, status: this.status, ...(requestId ? { requestId } : {}) }),
    };
  }
  /** The same, with headers as entries (the form that travels between proxy and replica). */
  getResponseData(requestId: string): { status: number; headers: [string, string][]; body: string } {
    const r = this.getResponse(requestId);
    return { status: r.status, headers: Object.entries(r.headers), body: r.body };
  }
}
