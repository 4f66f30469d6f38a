import express, { type Express, type Request } from 'express';
import { DEVELOPMENT_OFFICER, sampleCards, type CardState, type SimCard, type SimOfficer } from './card-data.js';

/**
 * The card / visit-history lookup of the eGateway (spec qd4750-xml.md §5.4):
 * `POST /api/egw/KQNhanLichSuKCB2024?token=…&id_token=…&username=…&password=<MD5>` with a JSON body
 * `{ maThe, hoTen, ngaySinh (dd/MM/yyyy), hoTenCb, cccdCb }`. Like every answer of the portal logic
 * it is HTTP 200 with the result in `maKetQua`; the card's data come with the codes that concern a
 * known card (000–004, 010), the visit history only with 000 and 004.
 *
 * Checks, in order (the first failing one answers): the token and account (401), the parameters
 * (205), the lookup officer — CCCD registered for the account's facility (054), name matching that
 * CCCD (055) — the card number's form (051), a card with that BHXH number or CCCD (050), the
 * group (051), benefit level (053) and province (052) characters, BHXH's own trouble reading it
 * (100), the name (060, or 061 when only the initials match), the birth date (070), then what BHXH
 * knows about the card: 001, 002, 110, 120–124, 130, a new card (003 / 004), expiry (010), 000.
 */
export const CARD_LOOKUP_PATH = '/api/egw/KQNhanLichSuKCB2024';

/** Faults of the lookup endpoint only (submissions have their own): what a reception desk must survive. */
export interface LookupFaults {
  /** Delay every answer by this many milliseconds. */
  slowMs?: number;
  /** Read the request and never answer. */
  timeout?: boolean;
  /** Answer HTTP 500 (JSON), 502 or 503 (the proxy's HTML) without looking at the request. */
  fail?: 500 | 502 | 503;
  /** Answer maKetQua "101" (BHXH's server error) to requests that pass the checks. */
  serverError?: boolean;
}

export interface LookupRecord {
  username: string;
  facility: string;
  maThe: string;
  hoTenCb: string;
  cccdCb: string;
  maKetQua: string;
  at: string;
}

export interface CardLookupContext {
  app: Express;
  /** The account behind a token, or the reason (as ghiChu) it is refused. */
  authenticate(accessToken: string, idToken: string, username: string, passwordMd5: string): { facility: string } | { refused: string };
  cards?: SimCard[];
  officers?: SimOfficer[];
  /** Accept DEVELOPMENT_OFFICER for every facility (development accounts). */
  developmentOfficer: boolean;
  now: () => Date;
  log: (req: Request, status: number | string, started: number, extra: string) => void;
}

export interface CardLookup {
  setFaults(f: LookupFaults): void;
  records(): LookupRecord[];
}

const BODY_FIELDS = ['maThe', 'hoTen', 'ngaySinh', 'hoTenCb', 'cccdCb'] as const;

/** What the portal writes in ghiChu, per result code. */
const NOTES: Record<string, string> = {
  '000': 'Thẻ còn giá trị sử dụng!',
  '001': 'Thẻ do BHXH Bộ Quốc Phòng quản lý, đề nghị kiểm tra thẻ và thông tin giấy tờ tùy thân',
  '002': 'Thẻ do BHXH Bộ Công An quản lý, đề nghị kiểm tra thẻ và thông tin giấy tờ tùy thân',
  '003': 'Thẻ cũ hết giá trị sử dụng, được cấp thẻ mới!',
  '004': 'Thẻ cũ còn giá trị sử dụng, được cấp thẻ mới!',
  '010': 'Thẻ hết giá trị sử dụng!',
  '050': 'Không thấy thông tin thẻ BHYT!',
  '051': 'Mã thẻ không đúng!',
  '052': 'Mã tỉnh cấp thẻ (kí tự thứ 4, 5 của mã thẻ) không đúng!',
  '053': 'Mã quyền lợi thẻ (kí tự thứ 3 của mã thẻ) không đúng!',
  '054': 'Số CCCD của cán bộ tra cứu chưa được đăng ký với cơ quan BHXH!',
  '055': 'Họ tên cán bộ tra cứu không khớp với số CCCD đã đăng ký!',
  '060': 'Họ tên không đúng!',
  '061': 'Họ tên không đúng (đúng kí tự đầu)!',
  '070': 'Ngày sinh không đúng!',
  '100': 'Lỗi khi lấy dữ liệu số thẻ!',
  '101': 'Lỗi server!',
  '110': 'Thẻ đã thu hồi!',
  '120': 'Thẻ đã báo giảm!',
  '121': 'Thẻ đã báo giảm. Giảm chuyển ngoại tỉnh!',
  '122': 'Thẻ đã báo giảm. Giảm chuyển nội tỉnh!',
  '123': 'Thẻ đã báo giảm. Thu hồi do tăng lại cùng đơn vị!',
  '124': 'Thẻ đã báo giảm. Ngừng tham gia!',
  '130': 'Trẻ em không xuất trình thẻ!',
  '205': 'Lỗi sai định dạng tham số!',
  '401': 'Lỗi xác thực tài khoản!',
};

const STATE_CODES: Record<CardState, string> = {
  defence: '001',
  'public-security': '002',
  unreadable: '100',
  revoked: '110',
  reduced: '120',
  'reduced-moved-province': '121',
  'reduced-moved-within-province': '122',
  'reduced-reenrolled': '123',
  'reduced-stopped': '124',
  'child-without-card': '130',
};

/** Names as BHXH compares them: case, accents' composition and spacing do not matter; accents do. */
export function sameName(a: string, b: string): boolean {
  return normalizeName(a) === normalizeName(b);
}
const normalizeName = (s: string) => s.normalize('NFC').trim().replace(/\s+/g, ' ').toLocaleUpperCase('vi');
const initials = (s: string) => normalizeName(s).normalize('NFD').replace(/\p{M}/gu, '').replace(/Đ/g, 'D').split(' ').map((w) => w[0]).join('');

/** dd/MM/yyyy → a comparable Date (UTC midnight). */
function parseDay(s: string): number {
  const [d, m, y] = s.split('/').map(Number);
  return Date.UTC(y, m - 1, d);
}

/** yyyyMMddHHmm in Vietnam time. */
function vietnamMinute(ms: number): string {
  return new Date(ms + 7 * 3_600_000).toISOString().replace(/\D/g, '').slice(0, 12);
}

/** Today in Vietnam, as UTC midnight of that calendar day. */
function vietnamToday(now: Date): number {
  const v = new Date(now.getTime() + 7 * 3_600_000);
  return Date.UTC(v.getUTCFullYear(), v.getUTCMonth(), v.getUTCDate());
}

export function mountCardLookup(ctx: CardLookupContext): CardLookup {
  const cards = ctx.cards ?? sampleCards(new Date(ctx.now().getTime() + 7 * 3_600_000).getUTCFullYear());
  const officers = ctx.officers ?? [];
  let faults: LookupFaults = {};
  const records: LookupRecord[] = [];
  /** Lookups of each card (dsLichSuKT2018), by BHXH number. */
  const checks = new Map<string, { userKT: string; thoiGianKT: string; thongBao: string; maLoi: string }[]>();

  ctx.app.post(CARD_LOOKUP_PATH, express.json({ limit: '64kb' }), async (req, res) => {
    const started = Date.now();
    const f = faults;
    if (f.fail) {
      if (f.fail === 500) res.status(500).json({ maKetQua: '500', ghiChu: 'Lỗi hệ thống, vui lòng thử lại sau' });
      else {
        const title = f.fail === 502 ? '502 Bad Gateway' : '503 Service Temporarily Unavailable';
        res.status(f.fail).type('html').send(`<html><head><title>${title}</title></head><body><center><h1>${title}</h1></center><hr><center>nginx</center></body></html>`);
      }
      ctx.log(req, f.fail, started, 'fault=fail');
      return;
    }
    if (f.timeout) {
      ctx.log(req, 'no answer', started, 'fault=timeout');
      return;
    }
    const q = (name: string) => (typeof req.query[name] === 'string' ? (req.query[name] as string) : '');
    const body = (req.body && typeof req.body === 'object' && !Array.isArray(req.body) ? req.body : {}) as Record<string, unknown>;
    const field = (name: (typeof BODY_FIELDS)[number]) => (typeof body[name] === 'string' ? (body[name] as string).trim() : '');
    const answer = judge();
    if (f.slowMs) await new Promise((r) => setTimeout(r, f.slowMs));
    if (res.destroyed || res.writableEnded) return;
    res.status(200).json(answer);
    // Never the card, names or CCCDs: the result code and the account only.
    ctx.log(req, 200, started, `maKetQua=${answer.maKetQua} user=${q('username') || '-'}`);

    function judge(): Record<string, unknown> {
      const auth = ctx.authenticate(q('token'), q('id_token'), q('username'), q('password'));
      if ('refused' in auth) return refusal('401', `${NOTES['401']} ${auth.refused}`);
      const maThe = field('maThe').toUpperCase().replace(/\s+/g, '');
      const bhxh = /^[A-Z]{2}[0-9][0-9]{2}([0-9]{10})$/.exec(maThe)?.[1] ?? (/^[0-9]{10}$/.test(maThe) ? maThe : undefined);
      const record = (maKetQua: string) => records.push({ username: q('username'), facility: auth.facility, maThe: field('maThe'), hoTenCb: field('hoTenCb'), cccdCb: field('cccdCb'), maKetQua, at: ctx.now().toISOString() });
      const missing = BODY_FIELDS.filter((n) => !field(n));
      if (missing.length) return done(refusal('205', `${NOTES['205']} Thiếu ${missing.join(', ')}`));
      if (!/^(\d{2}\/\d{2}\/\d{4}|\d{4})$/.test(field('ngaySinh'))) return done(refusal('205', `${NOTES['205']} ngaySinh phải có dạng dd/MM/yyyy (hoặc yyyy)`));
      if (!/^\d{12}$/.test(field('cccdCb'))) return done(refusal('205', `${NOTES['205']} cccdCb phải gồm 12 chữ số`));

      const registered = officers.filter((o) => o.facility === auth.facility);
      if (ctx.developmentOfficer) registered.push({ facility: auth.facility, ...DEVELOPMENT_OFFICER });
      const officer = registered.find((o) => o.cccd === field('cccdCb'));
      if (!officer) return done(refusal('054'));
      if (!sameName(officer.hoTen, field('hoTenCb'))) return done(refusal('055'));
      if (f.serverError) return done(refusal('101'));

      const byCccd = /^[0-9]{12}$/.test(maThe);
      if (!bhxh && !byCccd) return done(refusal('051'));
      const card = cards.find((c) => (byCccd ? c.cccd === maThe : c.maThe.slice(5) === bhxh));
      if (!card) return done(refusal('050'));
      // Asked with the new card of a replaced one: the answer is about the new card.
      const asNew = card.newCard && maThe === card.newCard.maThe;
      const known = asNew ? card.newCard!.maThe : card.maThe;
      if (maThe.length === 15) {
        if (maThe.slice(0, 2) !== known.slice(0, 2)) return done(refusal('051'));
        if (maThe[2] !== known[2]) return done(refusal('053'));
        if (maThe.slice(3, 5) !== known.slice(3, 5)) return done(refusal('052'));
      }
      if (card.state === 'unreadable') return done(refusal('100'));
      if (!sameName(card.hoTen, field('hoTen'))) return done(refusal(initials(card.hoTen) === initials(field('hoTen')) ? '061' : '060'));
      if (card.ngaySinh !== field('ngaySinh')) return done(refusal('070'));
      if (card.state) {
        const code = STATE_CODES[card.state];
        // 001/002: the card is real, its data are with the ministry's BHXH; the others: what the card was.
        return done(code === '001' || code === '002' ? cardAnswer(code, card, false) : { ...refusal(code), maThe: card.maThe, hoTen: card.hoTen, ngaySinh: card.ngaySinh });
      }
      const today = vietnamToday(ctx.now());
      if (asNew) {
        const n = card.newCard!;
        const valid = parseDay(n.gtTheTu) <= today && today <= parseDay(n.gtTheDen);
        return done(cardAnswer(valid ? '000' : '010', { ...card, maThe: n.maThe, gtTheTu: n.gtTheTu, gtTheDen: n.gtTheDen, maDKBD: n.maDKBD, newCard: undefined }, valid));
      }
      if (card.newCard) {
        const stillValid = today <= parseDay(card.gtTheDen);
        return done(cardAnswer(stillValid ? '004' : '003', card, stillValid));
      }
      if (today < parseDay(card.gtTheTu) || today > parseDay(card.gtTheDen)) return done(cardAnswer('010', card, false));
      return done(cardAnswer('000', card, true));

      function done(a: Record<string, unknown>): Record<string, unknown> {
        record(String(a.maKetQua));
        // The card's check log (dsLichSuKT2018), this check included: by the card's BHXH number when it was found.
        const key = typeof a.maSoBHXH === 'string' ? a.maSoBHXH : (bhxh ?? maThe);
        const list = [{ userKT: q('username'), thoiGianKT: vietnamMinute(ctx.now().getTime()), thongBao: String(a.ghiChu), maLoi: String(a.maKetQua) }, ...(checks.get(key) ?? [])].slice(0, 5);
        checks.set(key, list);
        if (Array.isArray(a.dsLichSuKT2018)) a.dsLichSuKT2018 = list;
        return a;
      }

      function cardAnswer(code: string, c: SimCard, withHistory: boolean): Record<string, unknown> {
        const now = ctx.now().getTime();
        return {
          maKetQua: code,
          ghiChu: `${NOTES[code]} Mã thẻ: ${c.maThe}, Họ tên: ${c.hoTen}, Ngày sinh: ${c.ngaySinh}, Giới tính: ${c.gioiTinh}, Nơi KCBBĐ: ${c.maDKBD}, Hạn thẻ: ${c.gtTheTu} - ${c.gtTheDen}`,
          maThe: c.maThe,
          hoTen: c.hoTen,
          ngaySinh: c.ngaySinh,
          gioiTinh: c.gioiTinh,
          diaChi: c.diaChi,
          maDKBD: c.maDKBD,
          cqBHXH: c.cqBHXH,
          gtTheTu: c.gtTheTu,
          gtTheDen: c.gtTheDen,
          maKV: c.maKV ?? null,
          ngayDu5Nam: c.ngayDu5Nam ?? null,
          maSoBHXH: c.maThe.slice(5),
          maTheCu: null,
          maTheMoi: c.newCard?.maThe ?? null,
          gtTheTuMoi: c.newCard?.gtTheTu ?? null,
          gtTheDenMoi: c.newCard?.gtTheDen ?? null,
          maDKBDMoi: c.newCard?.maDKBD ?? null,
          tenDKBDMoi: c.newCard?.tenDKBD ?? null,
          dsLichSuKCB2018: withHistory
            ? (c.history ?? []).map((v) => {
                const start = now - v.daysAgo * 86_400_000;
                return { maHoSo: v.maHoSo, maCSKCB: v.maCSKCB, ngayVao: vietnamMinute(start), ngayRa: vietnamMinute(start + v.hours * 3_600_000), tenBenh: v.tenBenh, tinhTrang: v.tinhTrang, kqDieuTri: v.kqDieuTri, lyDoVV: v.lyDoVV, TEMP1: null, TEMP2: null, TEMP3: null, TEMP4: null, TEMP5: null };
              })
            : null,
          dsLichSuKT2018: [], // filled by done()
        };
      }
    }
  });

  return {
    setFaults(next) {
      faults = validateLookupFaults(next);
    },
    records: () => records.map((r) => ({ ...r })),
  };
}

/** An answer without card data: every field of the response, null. */
function refusal(code: string, note = NOTES[code]): Record<string, unknown> {
  return {
    maKetQua: code, ghiChu: note, maThe: null, hoTen: null, ngaySinh: null, gioiTinh: null, diaChi: null, maDKBD: null, cqBHXH: null,
    gtTheTu: null, gtTheDen: null, maKV: null, ngayDu5Nam: null, maSoBHXH: null, maTheCu: null, maTheMoi: null, gtTheTuMoi: null,
    gtTheDenMoi: null, maDKBDMoi: null, tenDKBDMoi: null, dsLichSuKCB2018: null, dsLichSuKT2018: null,
  };
}

/** Unknown keys refused, like the submission faults: a typo must not pass silently. */
export function validateLookupFaults(input: unknown): LookupFaults {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) throw new Error('lookup faults must be a JSON object');
  const out: LookupFaults = {};
  for (const [key, value] of Object.entries(input as Record<string, unknown>)) {
    if (value === undefined) continue;
    if (key === 'slowMs' && typeof value === 'number' && value >= 0 && Number.isFinite(value)) out.slowMs = value;
    else if ((key === 'timeout' || key === 'serverError') && typeof value === 'boolean') out[key] = value;
    else if (key === 'fail' && (value === 500 || value === 502 || value === 503)) out.fail = value;
    else throw new Error(`lookup fault "${key}" is unknown or has a wrong value (slowMs ≥ 0, timeout, serverError: boolean, fail: 500 | 502 | 503)`);
  }
  return out;
}
