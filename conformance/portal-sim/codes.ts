/**
 * What the simulated portal answers with. The spec (§5.3) documents only the transport-like codes
 * of the eGateway — "200" received, "401" unauthenticated, "403" unauthorised, "other codes =
 * rejection with the reason in thongDiep" — and says the portal's content-error catalogue was not
 * found (§6.2). The eGateway does document "205" (parameter format error) for its card lookup
 * (§5.4); the simulator continues that family, one code per check, so a client (and a test) can
 * tell the rejections apart. Every one of them is final for that file: resending the same bytes
 * gets the same answer. Only "401" (take a new token) and HTTP 5xx / no answer are worth retrying.
 *
 * Note that "205"…"213" look like HTTP successes: success is `maKetQua === "200"` exactly.
 */
export const RESULT = {
  /** Received (and, for a resend of identical bytes, received before: the original receipt). */
  OK: '200',
  /** Parameters missing or malformed: a form field, maTinh vs maCSKCB, the content type. */
  BAD_PARAMETERS: '205',
  /** loaiHoSo does not belong to the endpoint ("130" for claim files, "0" for check-ins). */
  WRONG_FILE_KIND: '206',
  /** fileHSBase64 is not base64, the bytes are not UTF-8, or the text is not well-formed XML. */
  UNREADABLE_FILE: '207',
  /** A DOCTYPE or ENTITY declaration: refused before anything is parsed. */
  DTD_REFUSED: '208',
  /** No signature, more than one, misplaced, or one that does not match the content. */
  BAD_SIGNATURE: '209',
  /** The signature holds, but its certificate is not registered (no trust anchor) or not usable now. */
  UNTRUSTED_CERTIFICATE: '210',
  /** The envelope (GIAMDINHHS) or the check-in root is not as §1.2/§1.6 describe, or names another facility. */
  ENVELOPE_STRUCTURE: '211',
  /** A table (LOAIHOSO / NOIDUNGFILE, or the check-in items) does not match its definition. */
  TABLE_STRUCTURE: '212',
  /** MA_LK missing, or not the same across the tables of one HOSO. */
  MA_LK: '213',
  /** Token missing, unknown, expired, or wrong credentials / passwordHash. */
  UNAUTHENTICATED: '401',
  /** A valid token used for another account, or an account not registered for the facility. */
  FORBIDDEN: '403',
} as const;

export type ResultCode = (typeof RESULT)[keyof typeof RESULT];

/**
 * The business rejections `rejectRate` draws from: what the portal's card check (the eGateway card
 * codes of §5.4) says about a file whose form is right. Final, like every content rejection.
 */
export const BUSINESS_REJECTIONS: readonly { maKetQua: string; thongDiep: string }[] = [
  { maKetQua: '051', thongDiep: 'Mã thẻ BHYT không đúng: không tìm thấy thẻ trong cơ sở dữ liệu thẻ BHYT' },
  { maKetQua: '010', thongDiep: 'Thẻ BHYT hết giá trị sử dụng tại thời điểm khám bệnh, chữa bệnh' },
  { maKetQua: '060', thongDiep: 'Họ tên người bệnh không đúng với thông tin thẻ BHYT' },
  { maKetQua: '070', thongDiep: 'Ngày sinh người bệnh không đúng với thông tin thẻ BHYT' },
];

export const MESSAGES = {
  claimAccepted: 'Gửi hồ sơ thành công',
  claimNewVersion: 'Gửi hồ sơ thành công (hồ sơ gửi lại, thay thế lần gửi trước có cùng mã liên kết)',
  checkinAccepted: 'Gửi thông tin check-in thành công',
  checkinNewVersion: 'Gửi thông tin check-in thành công (gửi lại, thay thế lần gửi trước có cùng mã liên kết)',
  duplicate: 'Tệp đã được tiếp nhận trước đó (trùng nội dung); trả lại mã giao dịch và thời gian tiếp nhận ban đầu',
  loginFailed: 'Tên đăng nhập hoặc mật khẩu không đúng',
  tokenInvalid: 'Token không hợp lệ hoặc không tồn tại (accessToken/tokenId)',
  tokenExpired: 'Token đã hết hạn, vui lòng đăng nhập lại để lấy token mới',
  passwordHashWrong: 'Mật khẩu (passwordHash) không đúng với tài khoản',
  tokenOtherUser: (username: string) => `Token không thuộc tài khoản ${username}`,
  facilityForbidden: (username: string, facility: string) => `Tài khoản ${username} không được cấp quyền gửi dữ liệu cho cơ sở KCB ${facility}`,
  missingFields: (fields: string[]) => `Sai định dạng tham số: thiếu ${fields.join(', ')} (gửi dạng application/x-www-form-urlencoded)`,
  badFacilityCode: (facility: string) => `Sai định dạng tham số: maCSKCB "${facility}" phải gồm 5 ký tự`,
  badProvince: (maTinh: string, facility: string) => `Sai định dạng tham số: maTinh "${maTinh}" phải là 2 ký tự đầu của maCSKCB "${facility}"`,
  wrongFileKind: (got: string, want: string) => `Loại hồ sơ không đúng: loaiHoSo = "${got}", API này chỉ nhận loaiHoSo = "${want}"`,
  notBase64: 'Không đọc được tệp: fileHSBase64 không phải chuỗi base64 hợp lệ',
  notUtf8: 'Không đọc được tệp: nội dung không phải văn bản UTF-8',
  notXml: (detail: string) => `Không đọc được tệp: không phải tài liệu XML hợp lệ (${detail})`,
  dtd: 'Tệp có khai báo DTD hoặc thực thể (DOCTYPE/ENTITY), không được chấp nhận',
  badSignature: (detail: string) => `Chữ ký số của cơ sở KCB không hợp lệ: ${detail}`,
  untrusted: (detail: string) => `Chứng thư số chưa được đăng ký trên Cổng tiếp nhận hoặc không còn hiệu lực: ${detail}`,
  envelope: (detail: string) => `Sai cấu trúc hồ sơ: ${detail}`,
  table: (table: string, detail: string) => `Sai cấu trúc bảng ${table}: ${detail}`,
  maLkMissing: (table: string) => `Thiếu mã liên kết hồ sơ (MA_LK) trong bảng ${table}`,
  maLkMismatch: (table: string) => `Mã liên kết hồ sơ (MA_LK) của bảng ${table} không thống nhất với bảng XML1`,
} as const;
