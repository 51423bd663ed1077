/**
 * Library sections of the dashboard. A library (Serve, Tune, Workflow, or anyone's) publishes a section
 * by writing JSON to the cluster KV, namespace `dashboard`, key `section/<library>/<id>`:
 *
 * ```ts
 * await kv.put('dashboard', 'section/serve/detector', JSON.stringify({
 *   title: 'Serve app detector',
 *   columns: ['deployment', 'replicas', 'status'],
 *   rows: [['Api', 2, 'HEALTHY'], ['Detector', 4, 'HEALTHY']],
 *   links: [{ label: 'OpenAPI', href: 'http://127.0.0.1:8000/docs' }],   // optional, http(s) only
 * }));
 * await kv.del('dashboard', 'section/serve/detector');                     // removes it
 * ```
 *
 * The dashboard shows it under the library's page (`serve`, `tune`, `workflow` have their own; others
 * appear under "Libraries"). Cells are strings, numbers, booleans or null; everything is shown as text
 * (never as HTML). A value that does not parse is shown as an error line naming its key.
 */

/** The JSON a library writes (see the module doc). */
export interface DashboardSection {
  readonly title: string;
  readonly columns: readonly string[];
  readonly rows: readonly (readonly (string | number | boolean | null)[])[];
  readonly links?: readonly { readonly label: string; readonly href: string }[];
  /** Optional one-line note under the title. */
  readonly note?: string;
}

/** A section as the dashboard API returns it. */
export interface SectionView {
  library: string;
  id: string;
  key: string;
  title: string;
  note: string;
  columns: string[];
  rows: (string | number | boolean | null)[][];
  links: { label: string; href: string }[];
  error?: string;
}

/** KV namespace and key prefix of sections. */
export const SECTION_NAMESPACE = 'dashboard';
export const SECTION_PREFIX = 'section/';
const MAX_ROWS = 1000;
const MAX_CELL = 2000;

function cell(v: unknown): string | number | boolean | null {
  if (v === null || typeof v === 'number' || typeof v === 'boolean') return v;
  return String(v).slice(0, MAX_CELL);
}

/** Validates one stored section; throws with what is wrong. */
export function parseSection(bytes: Uint8Array): Omit<SectionView, 'library' | 'id' | 'key'> {
  // `kv.put` stores a one-byte type tag (1 bytes, 2 Buffer, 3 string: api/kv.ts) before the value; JSON
  // written without it starts with '{'.
  const body = bytes.length && bytes[0] >= 1 && bytes[0] <= 3 ? bytes.subarray(1) : bytes;
  const v = JSON.parse(Buffer.from(body).toString('utf8')) as Partial<DashboardSection>;
  if (!v || typeof v !== 'object') throw new Error('not a JSON object');
  if (typeof v.title !== 'string') throw new Error('title must be a string');
  if (!Array.isArray(v.columns) || v.columns.some((c) => typeof c !== 'string')) throw new Error('columns must be an array of strings');
  if (!Array.isArray(v.rows) || v.rows.some((r) => !Array.isArray(r))) throw new Error('rows must be an array of arrays');
  const links = (v.links ?? []).filter((l) => l && typeof l.label === 'string' && typeof l.href === 'string' && /^https?:\/\//i.test(l.href));
  return {
    title: v.title.slice(0, 200),
    note: typeof v.note === 'string' ? v.note.slice(0, 500) : '',
    columns: [...v.columns],
    rows: v.rows.slice(0, MAX_ROWS).map((r) => r.map(cell)),
    links: links.map((l) => ({ label: l.label.slice(0, 200), href: l.href })),
  };
}

/** Every section in the head's KV (keys `dashboard\0section/<library>/<id>`), optionally of one library. */
export function readSections(kv: ReadonlyMap<string, Uint8Array>, library?: string): SectionView[] {
  const prefix = `${SECTION_NAMESPACE}\0${SECTION_PREFIX}`;
  const out: SectionView[] = [];
  for (const [k, bytes] of kv) {
    if (!k.startsWith(prefix)) continue;
    const key = k.slice(SECTION_NAMESPACE.length + 1);
    const rest = key.slice(SECTION_PREFIX.length);
    const slash = rest.indexOf('/');
    const lib = slash > 0 ? rest.slice(0, slash) : rest;
    const id = slash > 0 ? rest.slice(slash + 1) : '';
    if (library && lib !== library) continue;
    try {
      out.push({ library: lib, id, key, ...parseSection(bytes) });
    } catch (e) {
      out.push({ library: lib, id, key, title: key, note: '', columns: [], rows: [], links: [], error: `section ${key} is not valid: ${(e as Error).message}` });
    }
  }
  out.sort((a, b) => a.library.localeCompare(b.library) || a.id.localeCompare(b.id));
  return out;
}
