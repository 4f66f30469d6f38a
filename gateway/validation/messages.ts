import type { Text } from '../fhir/outcome.js';

/**
 * What validation says, in Vietnamese and in English. Every message names the element or value it
 * is about, so that a hospital developer can fix the data without reading the profile.
 */
const show = (v: unknown) => {
  // JSON.stringify says "null" for Infinity and NaN; the value itself is more useful.
  const s = typeof v === 'string' ? v : typeof v === 'number' ? String(v) : JSON.stringify(v);
  return s.length > 80 ? `${s.slice(0, 77)}…` : s;
};

/**
 * A fixed or pattern value as a reader wants it: codings as `system|code` (the JSON of a
 * CodeableConcept pattern is cut off by show() before it reaches the code that matters).
 */
const showExpected = (v: unknown) => {
  const codings = typeof v === 'object' && v !== null && Array.isArray((v as { coding?: unknown }).coding) ? (v as { coding: unknown[] }).coding : typeof v === 'object' && v !== null && 'code' in v ? [v] : undefined;
  if (!codings) return show(v);
  return codings.map((c) => { const { system, code } = c as { system?: string; code?: string }; return [system, code].filter(Boolean).join('|'); }).join(', ');
};

export const messages = {
  required: (el: string): Text => ({
    vi: `Thiếu phần tử bắt buộc ${el}`,
    en: `${el} is required`,
  }),
  tooFew: (el: string, min: number, n: number): Text => ({
    vi: `${el} cần ít nhất ${min} giá trị, hiện có ${n}`,
    en: `${el} needs at least ${min} values, found ${n}`,
  }),
  tooMany: (el: string, max: number, n: number): Text => ({
    vi: `${el} chỉ được có tối đa ${max} giá trị, hiện có ${n}`,
    en: `${el} allows at most ${max} values, found ${n}`,
  }),
  unknownElement: (name: string, type: string): Text => ({
    vi: `Phần tử "${name}" không có trong định nghĩa của ${type}`,
    en: `Unknown element "${name}" in ${type}`,
  }),
  mustBeArray: (el: string): Text => ({
    vi: `${el} phải là một mảng JSON`,
    en: `${el} must be a JSON array`,
  }),
  mustNotBeArray: (el: string): Text => ({
    vi: `${el} chỉ có một giá trị, không phải mảng`,
    en: `${el} takes a single value, not an array`,
  }),
  empty: (el: string): Text => ({
    vi: `${el} không được để trống (null, chuỗi, đối tượng hoặc mảng rỗng)`,
    en: `${el} must not be empty (null, an empty string, object or array)`,
  }),
  wrongType: (el: string, type: string, json: string): Text => ({
    vi: `${el} phải là ${type} (kiểu JSON ${json})`,
    en: `${el} must be a ${type} (JSON ${json})`,
  }),
  badFormat: (value: unknown, type: string): Text => ({
    vi: `Giá trị ${show(value)} không đúng định dạng ${type}`,
    en: `Value ${show(value)} is not a valid ${type}`,
  }),
  typeNotAllowed: (el: string, type: string, allowed: string[]): Text => ({
    vi: `${el} không được có kiểu ${type} ở đây; chỉ được: ${allowed.join(', ')}`,
    en: `${el} may not be a ${type} here; allowed: ${allowed.join(', ')}`,
  }),
  unknownModifier: (url: string): Text => ({
    vi: `Phần mở rộng thay đổi nghĩa (modifierExtension) ${url} không được máy chủ này hiểu, nên không thể nhận dữ liệu`,
    en: `Modifier extension ${url} is not understood by this server, so the data cannot be accepted`,
  }),
  unknownOwnExtension: (url: string): Text => ({
    vi: `Không có phần mở rộng ${url} trong hồ sơ của cổng; kiểm tra lại URL (xem profiles/README.md)`,
    en: `There is no extension ${url} among the gateway's profiles; check the URL (see profiles/README.md)`,
  }),
  unknownExtension: (url: string): Text => ({
    vi: `Phần mở rộng ${url} không được biết; được lưu nhưng không được dùng khi lập bảng XML`,
    en: `Extension ${url} is not known; it is stored but not used for the XML tables`,
  }),
  extensionContext: (url: string, where: string, contexts: string[]): Text => ({
    vi: `Phần mở rộng ${url} không dùng được trên ${where}; chỉ dùng trên: ${contexts.join(', ')}`,
    en: `Extension ${url} is not allowed on ${where}; only on: ${contexts.join(', ')}`,
  }),
  unsupportedType: (type: string): Text => ({
    vi: `Máy chủ này không nhận loại tài nguyên "${type}"`,
    en: `Resource type "${type}" is not accepted by this server`,
  }),
  notObject: (el: string, type: string): Text => ({
    vi: `${el} phải là một đối tượng ${type}`,
    en: `${el} must be a ${type} object`,
  }),
  fixed: (el: string, expected: unknown): Text => ({
    vi: `${el} phải có giá trị ${showExpected(expected)}`,
    en: `${el} must be ${showExpected(expected)}`,
  }),
  pattern: (el: string, expected: unknown): Text => ({
    vi: `${el} phải khớp mẫu ${showExpected(expected)}`,
    en: `${el} must match ${showExpected(expected)}`,
  }),
  tooLong: (el: string, length: number, max: number): Text => ({
    vi: `${el} dài ${length} ký tự, tối đa ${max}`,
    en: `${el} is ${length} characters long; at most ${max}`,
  }),
  codeNotInValueSet: (code: string, valueSet: string): Text => ({
    vi: `Mã ${show(code)} không thuộc tập giá trị ${valueSet}`,
    en: `Code ${show(code)} is not in the value set ${valueSet}`,
  }),
  noCodeFromValueSet: (el: string, valueSet: string): Text => ({
    vi: `${el} cần một mã thuộc tập giá trị ${valueSet}`,
    en: `${el} needs a code from the value set ${valueSet}`,
  }),
  sliceTooFew: (el: string, slice: string, min: number, n: number): Text => ({
    vi: `${el} cần ít nhất ${min} giá trị loại "${slice}", hiện có ${n}`,
    en: `${el} needs at least ${min} "${slice}" values, found ${n}`,
  }),
  sliceTooMany: (el: string, slice: string, max: number, n: number): Text => ({
    vi: `${el} chỉ được có tối đa ${max} giá trị loại "${slice}", hiện có ${n}`,
    en: `${el} allows at most ${max} "${slice}" values, found ${n}`,
  }),
  noSlice: (el: string): Text => ({
    vi: `${el} không khớp với loại nào được phép`,
    en: `${el} matches none of the allowed kinds`,
  }),
  referenceTarget: (type: string, allowed: string[]): Text => ({
    vi: `Không được tham chiếu tới ${type} ở đây; chỉ được: ${allowed.join(', ')}`,
    en: `A reference to ${type} is not allowed here; allowed: ${allowed.join(', ')}`,
  }),
  unknownProfile: (url: string): Text => ({
    vi: `Hồ sơ (profile) ${url} không được máy chủ này hỗ trợ`,
    en: `Profile ${url} is not known to this server`,
  }),
  profileForOtherType: (url: string, type: string): Text => ({
    vi: `Hồ sơ ${url} dành cho ${type}, không dùng được cho tài nguyên này`,
    en: `Profile ${url} is for ${type}, not this resource`,
  }),
  invariant: (key: string, human: Text): Text => ({
    vi: `${typeof human === 'string' ? human : human.vi} (${key})`,
    en: `${typeof human === 'string' ? human : human.en} (${key})`,
  }),
  invariantFailed: (key: string, detail: string): Text => ({
    vi: `Không kiểm tra được ràng buộc ${key}: ${detail}`,
    en: `Constraint ${key} could not be evaluated: ${detail}`,
  }),
};
