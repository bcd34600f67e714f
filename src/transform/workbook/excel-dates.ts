const EXCEL_EPOCH_MS = Date.UTC(1899, 11, 30);
const EXCEL_1904_OFFSET_DAYS = 1462;
const DAY_MS = 86_400_000;

/** Serial day numbers are local wall-clock dates; reading them as UTC keeps a date a date in every time zone. */
export function excelSerialToDate(serial: number, date1904 = false): Date {
  const days = serial + (date1904 ? EXCEL_1904_OFFSET_DAYS : 0);
  return new Date(EXCEL_EPOCH_MS + Math.round(days * DAY_MS));
}

/**
 * Built-in number formats that show a date or time: 14-22 and 45-47 everywhere, 27-36 and 50-58 in
 * East Asian locales (ECMA-376 part 1, 18.8.30). A workbook names them by id only, with no format code.
 */
function isBuiltinDateFormat(id: number): boolean {
  return (id >= 14 && id <= 22) || (id >= 27 && id <= 36) || (id >= 45 && id <= 47) || (id >= 50 && id <= 58);
}

/**
 * A format code shows a date when a date or time token (d, m, y, h, s) remains once the literal parts
 * are gone: quoted text, [colour]/[$-locale] brackets, backslash escapes and `_x`/`*x` padding.
 * Elapsed times such as `[h]:mm` keep their `mm`, so they count as dates too.
 */
export function isDateFormatCode(code: string): boolean {
  return /[dmyhs]/i.test(code.replace(/"[^"]*"|\[[^\]]*\]|\\.|[_*]./g, ''));
}

/** Whether a cell style's number format (built-in id, or a custom code the workbook defines) shows a date. */
export function isDateNumberFormat(id: number, customCode: string | undefined): boolean {
  return customCode !== undefined ? isDateFormatCode(customCode) : isBuiltinDateFormat(id);
}
