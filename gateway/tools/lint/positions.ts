import { findNodeAtLocation, parseTree, printParseErrorCode, type Node, type ParseError } from 'jsonc-parser';
import { isMap, LineCounter, parseDocument, type Document } from 'yaml';

/**
 * Where things are in a mapping or profile file, as `line:column` (both from 1) an editor jumps to:
 * a JSON path in a JSON file (jsonc-parser keeps every node's offset), a path in a YAML file (the
 * yaml library's ranges), and a character inside a string value (a FHIRPath error's column), with
 * JSON escapes counted as the file has them.
 */
export type JsonPath = (string | number)[];

export interface Position {
  line: number;
  column: number;
}

export interface Located {
  /** The position of the value at `path` (or of the nearest ancestor that exists). */
  at(path: JsonPath): Position;
  /** The position of character `index` of the string value at `path`. */
  inString(path: JsonPath, index: number): Position;
  /** The position of the property name at the end of `path` (its key), or of the value when it has none. */
  key(path: JsonPath): Position;
}

export interface ParsedJson extends Located {
  value: unknown;
  errors: { message: string; position: Position }[];
}

export function lineStarts(text: string): number[] {
  const starts = [0];
  for (let i = 0; i < text.length; i++) if (text[i] === '\n') starts.push(i + 1);
  return starts;
}

export function positionOf(starts: number[], offset: number): Position {
  let lo = 0;
  let hi = starts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (starts[mid] <= offset) lo = mid;
    else hi = mid - 1;
  }
  return { line: lo + 1, column: offset - starts[lo] + 1 };
}

export function parseJsonLocated(text: string): ParsedJson {
  const starts = lineStarts(text);
  const errors: ParseError[] = [];
  const tree = parseTree(text, errors, { allowTrailingComma: false, disallowComments: true });
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    value = undefined;
  }
  const nearest = (path: JsonPath): Node | undefined => {
    for (let n = path.length; n >= 0; n--) {
      const node = tree && findNodeAtLocation(tree, path.slice(0, n));
      if (node) return node;
    }
    return tree;
  };
  return {
    value,
    errors: errors.map((e) => ({ message: `JSON: ${printParseErrorCode(e.error)}`, position: positionOf(starts, e.offset) })),
    at: (path) => positionOf(starts, nearest(path)?.offset ?? 0),
    key(path) {
      const node = nearest(path);
      const property = node?.parent?.type === 'property' ? node.parent : undefined;
      return positionOf(starts, property?.children?.[0]?.offset ?? node?.offset ?? 0);
    },
    inString(path, index) {
      const node = nearest(path);
      if (!node || node.type !== 'string') return positionOf(starts, node?.offset ?? 0);
      return positionOf(starts, node.offset + 1 + rawOffset(text.slice(node.offset + 1, node.offset + node.length - 1), index));
    },
  };
}

/** The offset in a JSON string's raw text of its `index`-th decoded character (`\"` is two raw characters, one decoded). */
function rawOffset(raw: string, index: number): number {
  let decoded = 0;
  let i = 0;
  while (i < raw.length && decoded < index) {
    i += raw[i] === '\\' ? (raw[i + 1] === 'u' ? 6 : 2) : 1;
    decoded++;
  }
  return i;
}

export interface ParsedYaml extends Located {
  document: Document;
  value: unknown;
  errors: { message: string; position: Position }[];
}

export function parseYamlLocated(text: string): ParsedYaml {
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { lineCounter, prettyErrors: false });
  const pos = (offset: number): Position => {
    const p = lineCounter.linePos(offset);
    return { line: p.line, column: p.col };
  };
  const nodeAt = (path: JsonPath) => {
    for (let n = path.length; n >= 0; n--) {
      const node = document.getIn(path.slice(0, n), true) as { range?: [number, number, number] } | undefined;
      if (node?.range) return { node, exact: n === path.length };
    }
    return undefined;
  };
  const keyAt = (path: JsonPath): number | undefined => {
    const parent = path.length > 0 ? document.getIn(path.slice(0, -1), true) : undefined;
    if (!isMap(parent)) return undefined;
    const pair = parent.items.find((p) => (p.key as { value?: unknown })?.value === path[path.length - 1]);
    return (pair?.key as { range?: [number, number, number] } | undefined)?.range?.[0];
  };
  return {
    document,
    value: document.errors.length ? undefined : document.toJS(),
    errors: document.errors.map((e) => ({ message: `YAML: ${e.message.split('\n')[0]}`, position: pos(e.pos[0]) })),
    at: (path) => pos(nodeAt(path)?.node.range?.[0] ?? 0),
    key: (path) => pos(keyAt(path) ?? nodeAt(path)?.node.range?.[0] ?? 0),
    inString(path, index) {
      const found = nodeAt(path);
      const start = found?.node.range?.[0] ?? 0;
      // Plain and quoted scalars on one line: the quote, if any, comes first.
      const quoted = /^["']/.test(text.slice(start, start + 1)) ? 1 : 0;
      return pos(start + quoted + (found?.exact ? index : 0));
    },
  };
}


