/** Column letters: index 0 is A, 26 is AA, 16383 is XFD. */
export function columnName(columnIndex: number): string {
  let name = '';
  for (let n = columnIndex + 1; n > 0; n = Math.floor((n - 1) / 26)) name = String.fromCharCode(65 + ((n - 1) % 26)) + name;
  return name;
}
