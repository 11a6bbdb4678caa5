/**
 * `text` as a single-quoted Python string literal that uses only printable ASCII, so it survives
 * any transport and encoding between here and the kernel's parser unchanged.
 */
export function pythonStringLiteral(text: string): string {
  let literal = "'";
  for (const char of text) {
    const code = char.codePointAt(0) ?? 0;
    if (char === '\\' || char === "'") literal += `\\${char}`;
    else if (code >= 0x20 && code < 0x7f) literal += char;
    else if (code <= 0xff) literal += `\\x${code.toString(16).padStart(2, '0')}`;
    else if (code <= 0xffff) literal += `\\u${code.toString(16).padStart(4, '0')}`;
    else literal += `\\U${code.toString(16).padStart(8, '0')}`;
  }
  return `${literal}'`;
}
