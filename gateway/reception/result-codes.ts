import { CANONICAL } from '../fhir/vn.js';

/**
 * The result codes of the BHXH card lookup (spec qd4750-xml.md §5.4), grouped by what they mean at
 * the reception desk. The portal's own wording (`ghiChu`) is terse and varies; the receptionist gets
 * these sentences, which also say what to do, with the portal's words kept alongside.
 */
export const RESULT_CODE_SYSTEM = `${CANONICAL}/CodeSystem/ket-qua-tra-cuu-the`;

export type ResultFamily =
  /** 000: the card is valid. */
  | 'valid'
  /** 001, 002: a card of the Ministry of Defence's or Public Security's BHXH: its data are not here. */
  | 'other-agency'
  /** 003, 004: a new card was issued (the old one expired, or is still valid). */
  | 'new-card'
  /** 010: expired. */
  | 'expired'
  /** 050–053: no such card, or a card number with wrong characters. */
  | 'card-unknown'
  /** 054, 055: the facility's lookup officer is not registered (a configuration problem, not the patient's). */
  | 'officer'
  /** 060, 061, 070: the name or birth date does not match the card. */
  | 'identity'
  /** 110: revoked. */
  | 'revoked'
  /** 120–124: reduced (the holder left the scheme, moved, re-enrolled elsewhere). */
  | 'reduced'
  /** 130: a child under six brought without a card. */
  | 'child-without-card'
  /** 100, 101, 205, 401 and anything unknown: the portal could not answer about the card. */
  | 'portal-error';

export interface ResultCode {
  code: string;
  family: ResultFamily;
  /** Short label (Coding.display). */
  label: { vi: string; en: string };
  /** What the receptionist reads: what it means and what to do. */
  advice: { vi: string; en: string };
}

const R = (code: string, family: ResultFamily, label: [string, string], advice: [string, string]): ResultCode => ({
  code,
  family,
  label: { vi: label[0], en: label[1] },
  advice: { vi: advice[0], en: advice[1] },
});

const CHECK_PAPERS: [string, string] = [
  'Kiểm tra thẻ BHYT hoặc CCCD của người bệnh và tra cứu lại.',
  'Check the patient’s BHYT card or CCCD and look it up again.',
];

const CODES: ResultCode[] = [
  R('000', 'valid', ['Thẻ còn giá trị sử dụng', 'The card is valid'], ['Người bệnh được hưởng BHYT theo thẻ này.', 'The patient is covered by this card.']),
  R('001', 'other-agency', ['Thẻ do BHXH Bộ Quốc phòng quản lý', 'A card of the Ministry of Defence’s BHXH'], ['Cổng BHXH không giữ dữ liệu thẻ này: kiểm tra thẻ và giấy tờ tùy thân của người bệnh.', 'The BHXH portal does not hold this card’s data: check the card and the patient’s identity papers.']),
  R('002', 'other-agency', ['Thẻ do BHXH Bộ Công an quản lý', 'A card of the Ministry of Public Security’s BHXH'], ['Cổng BHXH không giữ dữ liệu thẻ này: kiểm tra thẻ và giấy tờ tùy thân của người bệnh.', 'The BHXH portal does not hold this card’s data: check the card and the patient’s identity papers.']),
  R('003', 'new-card', ['Thẻ cũ hết giá trị sử dụng, đã được cấp thẻ mới', 'The old card has expired; a new card was issued'], ['Dùng thẻ mới để khám chữa bệnh BHYT.', 'Use the new card for this visit.']),
  R('004', 'new-card', ['Thẻ cũ còn giá trị sử dụng, đã được cấp thẻ mới', 'The old card is still valid; a new card was issued'], ['Thẻ cũ dùng được đến hết hạn; sau đó dùng thẻ mới.', 'The old card can be used until it expires; the new one after that.']),
  R('010', 'expired', ['Thẻ hết giá trị sử dụng', 'The card has expired'], ['Người bệnh chưa được hưởng BHYT với thẻ này: đề nghị xuất trình thẻ còn hạn, nếu không thì khám dịch vụ.', 'The patient is not covered by this card: ask for a valid card, or treat as a paying patient.']),
  R('050', 'card-unknown', ['Không có thông tin thẻ', 'No such card'], ['BHXH không tìm thấy thẻ này. ' + CHECK_PAPERS[0], 'BHXH does not know this card. ' + CHECK_PAPERS[1]]),
  R('051', 'card-unknown', ['Mã thẻ không đúng', 'Wrong card number'], ['Mã thẻ không đúng. ' + CHECK_PAPERS[0], 'The card number is wrong. ' + CHECK_PAPERS[1]]),
  R('052', 'card-unknown', ['Mã tỉnh cấp thẻ (ký tự 4–5) không đúng', 'Wrong province characters (4–5) in the card number'], ['Ký tự thứ 4–5 của mã thẻ (mã tỉnh) không đúng. ' + CHECK_PAPERS[0], 'Characters 4–5 of the card number (province) are wrong. ' + CHECK_PAPERS[1]]),
  R('053', 'card-unknown', ['Mã quyền lợi (ký tự 3) không đúng', 'Wrong benefit character (3) in the card number'], ['Ký tự thứ 3 của mã thẻ (mức hưởng) không đúng. ' + CHECK_PAPERS[0], 'Character 3 of the card number (benefit level) is wrong. ' + CHECK_PAPERS[1]]),
  R('054', 'officer', ['CCCD của cán bộ tra cứu chưa được đăng ký', 'The lookup officer’s CCCD is not registered'], ['Cán bộ tra cứu của cơ sở chưa được đăng ký với BHXH: báo quản trị hệ thống cập nhật cán bộ tra cứu ($credentials).', 'The facility’s lookup officer is not registered with BHXH: ask the administrator to set the lookup officer ($credentials).']),
  R('055', 'officer', ['Họ tên cán bộ tra cứu không khớp với CCCD', 'The lookup officer’s name does not match the CCCD'], ['Họ tên cán bộ tra cứu không khớp với CCCD đã đăng ký: báo quản trị hệ thống sửa thông tin cán bộ tra cứu ($credentials).', 'The lookup officer’s name does not match the registered CCCD: ask the administrator to correct it ($credentials).']),
  R('060', 'identity', ['Họ tên không đúng', 'Wrong name'], ['Họ tên người bệnh không khớp với thẻ BHYT: kiểm tra lại họ tên (đủ dấu) trên thẻ hoặc CCCD rồi tra cứu lại.', 'The patient’s name does not match the card: check the name (with its accents) on the card or CCCD and look it up again.']),
  R('061', 'identity', ['Họ tên không đúng (đúng ký tự đầu)', 'Wrong name (initials right)'], ['Họ tên gần đúng nhưng không khớp với thẻ BHYT (thường do sai dấu hoặc chính tả): kiểm tra lại họ tên trên thẻ hoặc CCCD.', 'The name is close but does not match the card (usually accents or spelling): check it on the card or CCCD.']),
  R('070', 'identity', ['Ngày sinh không đúng', 'Wrong date of birth'], ['Ngày sinh không khớp với thẻ BHYT: kiểm tra lại ngày sinh trên thẻ hoặc CCCD rồi tra cứu lại.', 'The date of birth does not match the card: check it on the card or CCCD and look it up again.']),
  R('100', 'portal-error', ['Lỗi khi lấy dữ liệu số thẻ', 'BHXH could not read the card’s data'], ['Cổng BHXH không đọc được dữ liệu thẻ: thử lại sau ít phút.', 'The BHXH portal could not read the card’s data: try again in a few minutes.']),
  R('101', 'portal-error', ['Lỗi máy chủ BHXH', 'BHXH server error'], ['Cổng BHXH đang lỗi: thử lại sau ít phút.', 'The BHXH portal has an error: try again in a few minutes.']),
  R('110', 'revoked', ['Thẻ đã bị thu hồi', 'The card was revoked'], ['Thẻ không còn giá trị: đề nghị người bệnh xuất trình thẻ khác, nếu không thì khám dịch vụ.', 'The card is no longer valid: ask for another card, or treat as a paying patient.']),
  R('120', 'reduced', ['Thẻ đã báo giảm', 'The card was reduced (withdrawn)'], ['Thẻ đã báo giảm, không còn giá trị: đề nghị xuất trình thẻ khác.', 'The card was withdrawn and is no longer valid: ask for another card.']),
  R('121', 'reduced', ['Thẻ đã báo giảm: chuyển ngoại tỉnh', 'Reduced: moved to another province'], ['Người bệnh đã chuyển tham gia BHYT sang tỉnh khác: đề nghị xuất trình thẻ mới.', 'The holder moved to another province: ask for the new card.']),
  R('122', 'reduced', ['Thẻ đã báo giảm: chuyển nội tỉnh', 'Reduced: moved within the province'], ['Người bệnh đã chuyển nơi tham gia trong tỉnh: đề nghị xuất trình thẻ mới.', 'The holder moved within the province: ask for the new card.']),
  R('123', 'reduced', ['Thẻ đã báo giảm: tăng lại cùng đơn vị', 'Reduced: re-enrolled at the same unit'], ['Thẻ đã được thu hồi vì tham gia lại cùng đơn vị: đề nghị xuất trình thẻ mới.', 'The card was withdrawn on re-enrolment at the same unit: ask for the new card.']),
  R('124', 'reduced', ['Thẻ đã báo giảm: ngừng tham gia', 'Reduced: stopped participating'], ['Người bệnh đã ngừng tham gia BHYT: khám dịch vụ nếu không có thẻ khác.', 'The holder stopped participating: treat as a paying patient unless another card is shown.']),
  R('130', 'child-without-card', ['Trẻ em không xuất trình thẻ', 'Child brought without a card'], ['Trẻ dưới 6 tuổi: đề nghị xuất trình thẻ BHYT (hoặc giấy khai sinh) của trẻ.', 'A child under six: ask for the child’s BHYT card (or birth certificate).']),
  R('205', 'portal-error', ['Sai định dạng tham số', 'Parameter format error'], ['Cổng BHXH không nhận yêu cầu tra cứu (sai định dạng tham số).', 'The BHXH portal refused the lookup request (parameter format).']),
  R('401', 'portal-error', ['Lỗi xác thực tài khoản', 'Authentication error'], ['Tài khoản cổng BHXH của cơ sở bị từ chối: báo quản trị hệ thống.', 'The facility’s portal account was refused: tell the administrator.']),
];

const BY_CODE = new Map(CODES.map((c) => [c.code, c]));

/** The meaning of a result code; a code the table does not know is a portal error, never a valid card. */
export function resultCode(code: string): ResultCode {
  return (
    BY_CODE.get(code) ??
    R(code, 'portal-error', [`Mã kết quả ${code}`, `Result code ${code}`], [`Cổng BHXH trả mã kết quả ${code} chưa được mô tả.`, `The BHXH portal answered result code ${code}, which is not documented.`])
  );
}

/** Families whose answer says something about the card itself (a CoverageEligibilityResponse), as opposed to portal errors. */
export const CARD_ANSWERS: ReadonlySet<ResultFamily> = new Set(['valid', 'other-agency', 'new-card', 'expired', 'card-unknown', 'officer', 'identity', 'revoked', 'reduced', 'child-without-card']);

/**
 * Answers reused from the cache: what BHXH says about a card, a name and a birth date. Not the
 * officer's registration (an administrator may fix it any minute) and never a portal error.
 */
export function cacheable(family: ResultFamily): boolean {
  return CARD_ANSWERS.has(family) && family !== 'officer';
}

/** The portal processed the request and answered about the card (complete), or found the request wrong (error). */
export function eligibilityOutcome(family: ResultFamily): 'complete' | 'error' {
  return family === 'valid' || family === 'other-agency' || family === 'new-card' || family === 'expired' || family === 'revoked' || family === 'reduced' ? 'complete' : 'error';
}
