/**
 * Turns DuckDB's error text into a SqlError with the position it points at: DuckDB prints the query
 * line as `LINE n: …` with a caret under the offending character.
 */
import { SqlError } from '../errors.js';

/** The 0-based character offset in `query` DuckDB's message points at, if any. */
export function positionFromMessage(query: string, message: string): number | undefined {
  const m = /LINE (\d+): (.*)\n( *)\^/.exec(message);
  if (!m) return undefined;
  const line = Number(m[1]);
  const prefix = `LINE ${m[1]}: `.length;
  const shown = m[2];
  let col = m[3].length - prefix;
  const lines = query.split('\n');
  const text = lines[line - 1] ?? '';
  // DuckDB elides long lines with "..."; find where the shown text starts in the real line.
  const lead = shown.startsWith('...') ? shown.slice(3) : shown;
  const at = text.indexOf(lead.slice(0, Math.min(lead.length, 20)));
  if (shown.startsWith('...') && at >= 0) col = at + (col - 3);
  let off = 0;
  for (let i = 0; i < line - 1; i++) off += lines[i].length + 1;
  return off + Math.max(col, 0);
}

/** A SqlError from what DuckDB threw running `query`. */
export function sqlError(query: string, e: unknown, position?: number): SqlError {
  const msg = (e as Error)?.message ?? String(e);
  const pos = position ?? positionFromMessage(query, msg);
  const first = msg.split('\n')[0];
  return new SqlError(`SQL error${pos !== undefined ? ` at position ${pos}` : ''}: ${first}`, {
    ids: pos !== undefined ? { position: String(pos) } : {},
    hint: msg.includes('\n') ? `DuckDB: ${msg.split('\n').slice(1).join(' ').replace(/\s+/g, ' ').trim()}` : undefined,
    position: pos,
  });
}
