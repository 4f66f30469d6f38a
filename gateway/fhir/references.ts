/** A literal reference `Type/id` (relative, or absolute ending in it), with an optional version. */
export interface ParsedReference {
  type: string;
  id: string;
  version?: string;
}

const LITERAL = /(?:^|\/)([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/([A-Za-z0-9\-.]{1,64}))?$/;

export function parseReference(reference: string): ParsedReference | undefined {
  const m = LITERAL.exec(reference);
  if (!m) return undefined;
  return { type: m[1], id: m[2], ...(m[3] ? { version: m[3] } : {}) };
}

export function referenceType(reference: string): string | undefined {
  return parseReference(reference)?.type;
}

/** `Patient?identifier=…`: a conditional reference, to be resolved by search inside a transaction. */
export function isConditionalReference(reference: string): boolean {
  return /^[A-Z][A-Za-z]+\?/.test(reference);
}

export function isBundleLocalUrl(reference: string): boolean {
  return reference.startsWith('urn:uuid:') || reference.startsWith('urn:oid:');
}
