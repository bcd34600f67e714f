/**
 * A small streaming XML tokenizer for the parts of an .xlsx file. It knows elements, attributes,
 * character data, entities, CDATA, comments and processing instructions — all that SpreadsheetML uses —
 * and nothing of DTDs or validation. Element names are passed without their namespace prefix
 * (`x:row` is `row`), as some writers prefix every SpreadsheetML element.
 *
 * It is push-style and synchronous per chunk so the sheet reader can hand out whole rows after each
 * chunk; text is only copied while the handler asks for it, which keeps the hot path allocation-light.
 */
export interface XmlHandler {
  /** While true, character data is decoded and passed to text(); otherwise it is skipped. */
  readonly capturing: boolean;
  /**
   * May read the element's content itself from `tag.source` (it starts at `tag.contentStart`) and return
   * the position just after the element's end tag; scanning resumes there and no close() follows.
   */
  open(name: string, tag: XmlTag, selfClosing: boolean): number | void;
  close(name: string): void;
  text(data: string): void;
}

const LT = 0x3c;
const GT = 0x3e;
const SLASH = 0x2f;
const BANG = 0x21;
const QUESTION = 0x3f;
const COLON = 0x3a;
const EQUALS = 0x3d;
const DOUBLE_QUOTE = 0x22;
const SINGLE_QUOTE = 0x27;

export function isSpace(code: number): boolean {
  return code === 0x20 || code === 0x0a || code === 0x0d || code === 0x09;
}

/**
 * The attributes of the open tag being reported, read in place with a cursor (no object per tag):
 * `while (tag.nextAttribute()) use(tag.name, tag.value)`. Hot paths can skip the strings and read
 * `source` between nameStart/nameEnd and valueStart/valueEnd themselves.
 */
export class XmlTag {
  /** The text being scanned, and where the element's content starts in it (after the open tag's `>`). */
  source = '';
  contentStart = 0;
  nameStart = 0;
  nameEnd = 0;
  valueStart = 0;
  valueEnd = 0;
  private at = 0;
  private end = 0;

  reset(source: string, start: number, end: number, contentStart: number): void {
    this.source = source;
    this.at = start;
    this.end = end;
    this.contentStart = contentStart;
  }

  nextAttribute(): boolean {
    const { source, end } = this;
    let i = this.at;
    while (i < end && isSpace(source.charCodeAt(i))) i++;
    if (i >= end) return false;
    this.nameStart = i;
    while (i < end && source.charCodeAt(i) !== EQUALS && !isSpace(source.charCodeAt(i))) i++;
    this.nameEnd = i;
    while (i < end && source.charCodeAt(i) !== DOUBLE_QUOTE && source.charCodeAt(i) !== SINGLE_QUOTE) i++;
    if (i >= end) return false;
    const quote = source.charCodeAt(i);
    this.valueStart = i + 1;
    let valueEnd = i + 1;
    while (valueEnd < end && source.charCodeAt(valueEnd) !== quote) valueEnd++;
    this.valueEnd = valueEnd;
    this.at = valueEnd + 1;
    return true;
  }

  get name(): string {
    return this.source.slice(this.nameStart, this.nameEnd);
  }

  get value(): string {
    return decodeAttributeValue(this.source.slice(this.valueStart, this.valueEnd));
  }

  /** Every attribute by name, for the small parts where speed does not matter. */
  attributes(): Record<string, string> {
    const attributes: Record<string, string> = {};
    while (this.nextAttribute()) attributes[this.name] = this.value;
    return attributes;
  }
}

/** Text kept between chunks (a tag, comment or captured text cut by the chunk end) grew past the limit. */
export class XmlTokenTooLongError extends Error {
  constructor(readonly maxChars: number) {
    super(`XML text or markup longer than ${maxChars} characters`);
  }
}

export class XmlScanner {
  private pending = '';
  private readonly tag = new XmlTag();

  /**
   * `maxTokenChars` bounds what is held between chunks: without it, a tag or a captured text with no `<`
   * in sight grows without end, and each chunk rescans it (quadratic time).
   */
  constructor(private readonly handler: XmlHandler, private readonly maxTokenChars = Infinity) {}

  feed(chunk: string): void {
    let from = 0;
    if (this.pending.length > 0) {
      // What the last chunk cut off is joined with this chunk only up to the first `>`, which usually ends it:
      // `pending + chunk` is a rope that every read of the chunk goes through, and flattening it copies the chunk.
      const close = chunk.indexOf('>') + 1;
      this.scan(close === 0 ? this.pending + chunk : this.pending + chunk.slice(0, close), 0);
      if (close === 0) {
        this.checkPending();
        return;
      }
      // Not checked here: what is still held part-way through the chunk may end in its rest (a `>` in a quoted value).
      from = close;
      if (this.pending.length > 0) {
        this.scan(this.pending + chunk.slice(from), 0);
        this.checkPending();
        return;
      }
    }
    this.scan(chunk, from);
    this.checkPending();
  }

  private checkPending(): void {
    if (this.pending.length > this.maxTokenChars) throw new XmlTokenTooLongError(this.maxTokenChars);
  }

  private scan(text: string, from: number): void {
    this.pending = '';
    const handler = this.handler;
    const length = text.length;
    let pos = from;
    while (pos < length) {
      const lt = text.indexOf('<', pos);
      if (lt === -1) {
        // Keep captured text whole until its end tag arrives: an entity may be split between chunks.
        if (handler.capturing) this.pending = text.slice(pos);
        return;
      }
      if (lt > pos && handler.capturing) handler.text(decodeXmlText(text.slice(pos, lt)));
      const next = text.charCodeAt(lt + 1);
      if (next === SLASH) {
        const gt = text.indexOf('>', lt + 2);
        if (gt === -1) {
          this.pending = text.slice(lt);
          return;
        }
        handler.close(localName(text, lt + 2, gt));
        pos = gt + 1;
      } else if (next === BANG || next === QUESTION) {
        const after = this.special(text, lt);
        if (after === -1) {
          this.pending = text.slice(lt);
          return;
        }
        pos = after;
      } else {
        // The name (its local part after any prefix), then the tag's end. A `<` that ends the text lands here too:
        // no tag end is found, so it waits in `pending` for the next chunk.
        let nameStart = lt + 1;
        let nameEnd = nameStart;
        for (let code = text.charCodeAt(nameEnd); nameEnd < length && code !== GT && code !== SLASH && !isSpace(code); code = text.charCodeAt(++nameEnd)) {
          if (code === COLON) nameStart = nameEnd + 1;
        }
        const gt = openTagEnd(text, nameEnd);
        if (gt === -1) {
          this.pending = text.slice(lt);
          return;
        }
        const selfClosing = text.charCodeAt(gt - 1) === SLASH;
        const name = text.slice(nameStart, nameEnd);
        this.tag.reset(text, nameEnd, selfClosing ? gt - 1 : gt, gt + 1);
        const resumeAt = handler.open(name, this.tag, selfClosing);
        if (typeof resumeAt === 'number') {
          pos = resumeAt;
        } else {
          if (selfClosing) handler.close(name);
          pos = gt + 1;
        }
      }
    }
  }

  /** Call after the last chunk: markup cut off part-way means the part itself was cut off. */
  end(): void {
    if (this.pending.includes('<')) throw new Error('the XML ends inside a tag (truncated?)');
  }

  /** Comments, CDATA, processing instructions and doctype; returns the position after them, or -1 if incomplete. */
  private special(text: string, lt: number): number {
    if (text.startsWith('<!--', lt)) {
      const end = text.indexOf('-->', lt + 4);
      return end === -1 ? -1 : end + 3;
    }
    if (text.startsWith('<![CDATA[', lt)) {
      const end = text.indexOf(']]>', lt + 9);
      if (end === -1) return -1;
      if (this.handler.capturing) this.handler.text(normaliseLineEnds(text.slice(lt + 9, end)));
      return end + 3;
    }
    if (text.charCodeAt(lt + 1) === QUESTION) {
      const end = text.indexOf('?>', lt + 2);
      return end === -1 ? -1 : end + 2;
    }
    const end = text.indexOf('>', lt + 2);
    return end === -1 ? -1 : end + 1;
  }
}

/** The `>` ending an open tag, jumping over quoted attribute values; -1 if not in this text. */
export function openTagEnd(text: string, from: number): number {
  const length = text.length;
  for (let i = from; i < length; i++) {
    const code = text.charCodeAt(i);
    if (code === GT) return i;
    if (code === DOUBLE_QUOTE || code === SINGLE_QUOTE) {
      const close = text.indexOf(code === DOUBLE_QUOTE ? '"' : "'", i + 1);
      if (close === -1) return -1;
      i = close;
    } else if (code === LT) {
      throw new Error(`malformed XML: "<" inside a tag near "${text.slice(Math.max(0, from - 20), i + 1)}"`);
    }
  }
  return -1;
}

function localName(text: string, start: number, end: number): string {
  while (end > start && isSpace(text.charCodeAt(end - 1))) end--;
  for (let i = end - 1; i >= start; i--) {
    if (text.charCodeAt(i) === COLON) return text.slice(i + 1, end);
  }
  return text.slice(start, end);
}

const ENTITY = /&(?:#x([0-9a-fA-F]+)|#([0-9]+)|(amp|lt|gt|quot|apos));/g;
const NAMED_ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

/** XML 1.0 section 2.11: a parser hands on `\r\n` and a lone `\r` as `\n` (a `&#13;` reference stays). */
function normaliseLineEnds(text: string): string {
  return text.indexOf('\r') === -1 ? text : text.replace(/\r\n?/g, '\n');
}

/** Section 3.3.3: in an attribute value each literal tab, line feed or carriage return becomes a space. */
function decodeAttributeValue(text: string): string {
  for (let i = 0; i < text.length; i++) {
    if (text.charCodeAt(i) < 0x20) return decodeEntities(text.replace(/\r\n|[\t\n\r]/g, ' '));
  }
  return decodeEntities(text);
}

export function decodeXmlText(text: string): string {
  return decodeEntities(normaliseLineEnds(text));
}

function decodeEntities(text: string): string {
  if (text.indexOf('&') === -1) return text;
  return text.replace(ENTITY, (_match, hex: string | undefined, decimal: string | undefined, named: string | undefined) =>
    named !== undefined ? NAMED_ENTITIES[named]! : codePointText(hex !== undefined ? parseInt(hex, 16) : Number(decimal)),
  );
}

/** A reference past U+10FFFF names no character (`&#xFFFFFF;` in a damaged file): shown as U+FFFD, like a bad byte. */
function codePointText(codePoint: number): string {
  return codePoint <= 0x10ffff ? String.fromCodePoint(codePoint) : '\ufffd';
}
