import { describe, expect, it } from 'vitest';
import { XmlScanner, XmlTokenTooLongError, type XmlHandler, type XmlTag } from '../../../src/transform/workbook/xml-scanner.js';

/**
 * What the scanner reports for the XML that real writers produce (Excel, LibreOffice, exceljs, SheetJS and
 * prefixing tools): elements without prefixes, attributes decoded as XML 1.0 says, text with its entities and line
 * ends, CDATA as is, comments, processing instructions and doctypes skipped. The cell values the readers give
 * rest on each of these; the fuzz test checks only that chunking does not change them.
 */
function recorder(options: { capturing?: boolean; resumeAfter?: string } = {}): XmlHandler & { events: string[] } {
  const events: string[] = [];
  return {
    events,
    capturing: options.capturing ?? true,
    open(name: string, tag: XmlTag, selfClosing: boolean): number | void {
      events.push(`<${name} ${JSON.stringify(tag.attributes())}${selfClosing ? '/' : ''}>`);
      if (name === options.resumeAfter && !selfClosing) {
        const endTag = tag.source.indexOf(`</${name}>`, tag.contentStart);
        events.push(`read itself ${JSON.stringify(tag.source.slice(tag.contentStart, endTag))}`);
        return endTag + name.length + 3;
      }
    },
    close(name) {
      events.push(`</${name}>`);
    },
    text(data) {
      // Adjacent text merged: how text is cut into calls depends on the chunks.
      if (events.at(-1)?.startsWith('"')) events[events.length - 1] = JSON.stringify(JSON.parse(events.at(-1)!) + data);
      else events.push(JSON.stringify(data));
    },
  };
}

function scan(chunks: string[], options: Parameters<typeof recorder>[0] = {}, maxTokenChars = Infinity): string[] {
  const handler = recorder(options);
  const scanner = new XmlScanner(handler, maxTokenChars);
  for (const chunk of chunks) scanner.feed(chunk);
  scanner.end();
  return handler.events;
}

const SHEET =
  `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\r\n<!DOCTYPE worksheet><x:worksheet xmlns:x="urn:main"><!-- a <comment> with > inside -->` +
  `<x:row r="1" spans='1:2'\tx14ac:dyDescent="0.25"\n ht = "15"><x:c r="A1" t="s"/><x:v>a &amp; b &lt; &#65;&#x42; &#x1F600; &#x110000; &bogus; &quot;&apos;&gt;</x:v>` +
  `<x:is><x:t xml:space="preserve"><![CDATA[ 1 < 2 &amp;\r\n]]>line\r\nend\rx&#13;</x:t></x:is></x:row ><?pi in the body?></x:worksheet>`;

const SHEET_EVENTS = [
  '"\\n"',
  '<worksheet {"xmlns:x":"urn:main"}>',
  '<row {"r":"1","spans":"1:2","x14ac:dyDescent":"0.25","ht":"15"}>',
  '<c {"r":"A1","t":"s"}/>',
  '</c>',
  '<v {}>',
  JSON.stringify('a & b < AB 😀 \ufffd &bogus; "\'>'),
  '</v>',
  '<is {}>',
  '<t {"xml:space":"preserve"}>',
  JSON.stringify(' 1 < 2 &amp;\nline\nend\nx\r'),
  '</t>',
  '</is>',
  '</row>',
  '</worksheet>',
];

/** Markup that touches other markup, or holds the characters that end markup, as real writers produce it. */
const TOUCHING =
  `<?xml version="1.0"?><!DOCTYPE x><?pi a > b?><?pi2?><root\r\nr='1>2'><a b><c d="1"/></a>` +
  `<t>x--><!-- c --></t><t><![CDATA[a]]]]><![CDATA[>b]]></t><t>a</t>:&#x10FFFF;</root><?last?>`;

const TOUCHING_EVENTS = [
  '<root {"r":"1>2"}>',
  '<a {}>',
  '<c {"d":"1"}/>',
  '</c>',
  '</a>',
  '<t {}>',
  '"x-->"',
  '</t>',
  '<t {}>',
  '"a]]>b"',
  '</t>',
  '<t {}>',
  '"a"',
  '</t>',
  JSON.stringify(':\u{10FFFF}'),
  '</root>',
];

describe('the XML scanner', () => {
  it('reports elements without prefixes, attributes in either quotes, decoded text and CDATA, and skips the rest', () => {
    expect(scan([SHEET])).toEqual(SHEET_EVENTS);
  });

  it('reports the same wherever the input is cut into two chunks (an entity, a tag, a comment or CDATA split)', () => {
    for (let cut = 1; cut < SHEET.length; cut++) {
      expect({ cut, events: scan([SHEET.slice(0, cut), SHEET.slice(cut)]) }).toEqual({ cut, events: SHEET_EVENTS });
    }
  });

  it('keeps the bounds of markup that touches other markup or holds ">", "-->", "]]>" or "?>" look-alikes, whole or cut anywhere', () => {
    expect(scan([TOUCHING])).toEqual(TOUCHING_EVENTS);
    for (let cut = 1; cut < TOUCHING.length; cut++) {
      expect({ cut, events: scan([TOUCHING.slice(0, cut), TOUCHING.slice(cut)]) }).toEqual({ cut, events: TOUCHING_EVENTS });
    }
  });

  it('passes no text while the handler is not capturing, CDATA included', () => {
    expect(scan([SHEET], { capturing: false })).toEqual(SHEET_EVENTS.filter((event) => !event.startsWith('"')));
  });

  it('turns literal tabs and line ends in attribute values into spaces, as XML 1.0 says; character references stay', () => {
    expect(scan(['<sheet name="Deaths\tby\r\nmonth\n&amp;&#9;area"/>'])).toEqual([`<sheet ${JSON.stringify({ name: 'Deaths by month &\tarea' })}/>`, '</sheet>']);
  });

  it('resumes where a handler that read an element itself says, with no close for that element', () => {
    expect(scan(['<row><c r="A1"><v>1</v></c><c r="B1"/></row>'], { resumeAfter: 'c' })).toEqual(['<row {}>', '<c {"r":"A1"}>', 'read itself "<v>1</v>"', '<c {"r":"B1"}/>', '</c>', '</row>']);
  });

  it('tells a part cut off inside a tag from one that merely ends with text', () => {
    expect(() => scan(['<sheetData><row r="1"><c r="A1"'])).toThrow('the XML ends inside a tag (truncated?)');
    expect(() => scan(['<sheetData><row r="1"><', '/row'])).toThrow('the XML ends inside a tag (truncated?)');
    expect(scan(['<a/>\r\n  '])).toEqual(['<a {}/>', '</a>']);
    expect(scan(['<a>text without its end'])).toEqual(['<a {}>']);
  });

  it('refuses a "<" inside a tag, quoting where', () => {
    expect(() => scan(['<row r="1" <c r="A1">'])).toThrow('malformed XML: "<" inside a tag near "<row r="1" <"');
    // Inside a quoted value it is data (a damaged file, but not a tag boundary).
    expect(scan(['<c r="<A1"/>'])).toEqual(['<c {"r":"<A1"}/>', '</c>']);
  });

  it('holds at most maxTokenChars between chunks: text or markup longer than that is an error', () => {
    expect(scan(['<t>', 'x'.repeat(10), '</t>'], {}, 10)).toEqual(['<t {}>', '"xxxxxxxxxx"', '</t>']);
    expect(() => scan(['<t>', 'x'.repeat(11), '</t>'], {}, 10)).toThrow(new XmlTokenTooLongError(10));
    expect(() => scan(['<t>', 'x'.repeat(11)], {}, 10)).toThrow('XML text or markup longer than 10 characters');
    expect(() => scan([`<c r="${'A'.repeat(20)}`, '"/>'], { capturing: false }, 10)).toThrow(XmlTokenTooLongError);
    // Text the handler does not want is dropped, however long.
    expect(scan(['<t>', 'x'.repeat(50), '</t>'], { capturing: false }, 10)).toEqual(['<t {}>', '</t>']);
    // Only what is still held once a chunk is read counts: a token cut by a chunk end and finished in the next one
    // is not measured part-way (here the first `>` of the next chunk is inside a quoted value).
    expect(scan(['<c r="A1" t="', 'x>yz"/>', '<d/>'], { capturing: false }, 14)).toEqual(['<c {"r":"A1","t":"x>yz"}/>', '</c>', '<d {}/>', '</d>']);
  });
});
