/**
 * Splits a command line into words as a POSIX shell would — single quotes, double quotes (with `\"`,
 * `\\`, `\$` and `` \` `` escapes), backslash outside quotes — without expanding anything: `$HOME`,
 * `*` and `~` stay as written, and `|`, `;`, `&&` are ordinary characters (no shell runs).
 *
 * @throws Error for an unterminated quote or a trailing backslash.
 */
export function splitWords(line: string): string[] {
  const words: string[] = [];
  let cur = '';
  let inWord = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === ' ' || c === '\t' || c === '\n') {
      if (inWord) words.push(cur);
      cur = '';
      inWord = false;
      continue;
    }
    inWord = true;
    if (c === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0) throw new Error(`unterminated single quote at character ${i + 1}`);
      cur += line.slice(i + 1, end);
      i = end;
    } else if (c === '"') {
      let j = i + 1;
      for (; j < line.length && line[j] !== '"'; j++) {
        if (line[j] === '\\' && j + 1 < line.length && '"\\$`\n'.includes(line[j + 1])) {
          if (line[j + 1] !== '\n') cur += line[j + 1];
          j++;
        } else cur += line[j];
      }
      if (j >= line.length) throw new Error(`unterminated double quote at character ${i + 1}`);
      i = j;
    } else if (c === '\\') {
      if (i + 1 >= line.length) throw new Error('trailing backslash');
      if (line[i + 1] !== '\n') cur += line[i + 1];
      i++;
    } else {
      cur += c;
    }
  }
  if (inWord) words.push(cur);
  return words;
}
