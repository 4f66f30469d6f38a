/**
 * The cards the simulated portal knows (spec qd4750-xml.md §5.4): one person per result code the
 * card lookup can give, in one province (Lào Cai, 10) around one facility (10085, Trung tâm Y tế
 * huyện Bắc Hà), so that a test or a developer at the reception desk can reach every branch.
 *
 * Dates are relative to the year the simulator runs in — a "valid" card must stay valid whenever
 * the tests run — and visit history to the day of the lookup ("recent visits").
 */
export interface SimVisit {
  /** Dossier number at BHXH. */
  maHoSo: string;
  maCSKCB: string;
  /** Days before the lookup the visit began, and how long it lasted (hours). */
  daysAgo: number;
  hours: number;
  tenBenh: string;
  /** Discharge type (MA_LOAI_RV): 1 discharged, 2 referred, 3 absconded, 4 left on request. */
  tinhTrang: string;
  /** Treatment result (KET_QUA_DTRI): 1 cured … 7 unknown. */
  kqDieuTri: string;
  /** Reason for the visit: 1 registered facility / right level, 2 emergency, 3 other level. */
  lyDoVV: string;
}

/** What BHXH knows about the card besides its dates: the result codes 001, 002, 100, 110, 120–124, 130. */
export type CardState =
  | 'defence'
  | 'public-security'
  | 'unreadable'
  | 'revoked'
  | 'reduced'
  | 'reduced-moved-province'
  | 'reduced-moved-within-province'
  | 'reduced-reenrolled'
  | 'reduced-stopped'
  | 'child-without-card';

export interface SimCard {
  /** 15 characters: group (2), benefit level (1), province (2), BHXH number (10). */
  maThe: string;
  /** The holder's 12-digit personal identification number: cards are looked up by it too (NĐ 188/2025). */
  cccd?: string;
  hoTen: string;
  /** dd/MM/yyyy, or yyyy for a person whose day and month of birth are not known. */
  ngaySinh: string;
  gioiTinh: 'Nam' | 'Nữ';
  diaChi: string;
  maDKBD: string;
  cqBHXH: string;
  gtTheTu: string;
  gtTheDen: string;
  maKV?: string;
  ngayDu5Nam?: string;
  state?: CardState;
  /** A card issued to replace this one (003 when this one has expired, 004 while it is still valid). */
  newCard?: { maThe: string; gtTheTu: string; gtTheDen: string; maDKBD: string; tenDKBD: string };
  history?: SimVisit[];
}

/** The officers a facility registered with BHXH for lookups (CV 1923): name and CCCD. */
export interface SimOfficer {
  facility: string;
  hoTen: string;
  cccd: string;
}

/** Accepted for every facility of a development account (npm run portal-sim; a development gateway uses it). */
export const DEVELOPMENT_OFFICER = { hoTen: 'Cán Bộ Tra Cứu Thử Nghiệm', cccd: '010090000001' } as const;

const BAC_HA = 'Bảo hiểm xã hội huyện Bắc Hà';

/** The sample cards for a year (the simulator's current year unless told). */
export function sampleCards(year: number): SimCard[] {
  const y = String(year);
  const last = String(year - 1);
  const next = String(year + 1);
  const common = { gioiTinh: 'Nam' as const, diaChi: 'Thôn Na Hối Tày, Xã Na Hối, Huyện Bắc Hà, Tỉnh Lào Cai', maDKBD: '10085', cqBHXH: BAC_HA, gtTheTu: `01/01/${y}`, gtTheDen: `31/12/${y}`, maKV: 'K2' };
  return [
    {
      // 000 — the outpatient of profiles/examples: valid, with recent visits at two facilities.
      ...common,
      maThe: 'DK2101002845163',
      cccd: '010167004521',
      hoTen: 'Hoàng Thị Lan',
      ngaySinh: '14/08/1967',
      gioiTinh: 'Nữ',
      ngayDu5Nam: '01/01/2019',
      history: [
        { maHoSo: '10085-KCB-0001', maCSKCB: '10085', daysAgo: 12, hours: 2, tenBenh: 'Tăng huyết áp vô căn (nguyên phát)', tinhTrang: '1', kqDieuTri: '2', lyDoVV: '1' },
        { maHoSo: '10001-KCB-0002', maCSKCB: '10001', daysAgo: 95, hours: 24 * 5, tenBenh: 'Viêm phổi, không đặc hiệu', tinhTrang: '1', kqDieuTri: '1', lyDoVV: '3' },
      ],
    },
    // 000 — born in a year only (common among older people of the highlands).
    { ...common, maThe: 'HN1101003456789', hoTen: 'Giàng Seo Phủ', ngaySinh: '1956', maKV: 'K3', ngayDu5Nam: '01/01/2015', history: [] },
    // 001 / 002 — cards of the Ministry of Defence's and of Public Security's BHXH.
    { ...common, maThe: 'QN5971234500011', hoTen: 'Lê Văn Quân', ngaySinh: '20/05/1990', maDKBD: '10001', cqBHXH: 'Bảo hiểm xã hội Bộ Quốc phòng', maKV: undefined, state: 'defence' },
    { ...common, maThe: 'CA5981234500022', hoTen: 'Đỗ Minh An', ngaySinh: '11/11/1988', maDKBD: '10001', cqBHXH: 'Bảo hiểm xã hội Công an nhân dân', maKV: undefined, state: 'public-security' },
    {
      // 003 — her teacher's card ran out last year; a pensioner's card was issued.
      ...common,
      maThe: 'GD4101004455667',
      hoTen: 'Trần Thị Mai',
      ngaySinh: '03/02/1964',
      gioiTinh: 'Nữ',
      gtTheTu: `01/01/${last}`,
      gtTheDen: `31/12/${last}`,
      ngayDu5Nam: '01/01/2010',
      newCard: { maThe: 'HT3101004455667', gtTheTu: `01/01/${y}`, gtTheDen: `31/12/${y}`, maDKBD: '10085', tenDKBD: 'Trung tâm Y tế huyện Bắc Hà' },
    },
    {
      // 004 — a child's card still valid this year; his pupil's card for next year is already issued.
      ...common,
      maThe: 'TE1101005566778',
      hoTen: 'Phạm Văn Đức',
      ngaySinh: '09/09/2019',
      newCard: { maThe: 'HS4101005566778', gtTheTu: `01/01/${next}`, gtTheDen: `31/12/${next}`, maDKBD: '10090', tenDKBD: 'Trạm Y tế xã Na Hối' },
    },
    // 010 — expired at the end of last year, not renewed.
    { ...common, maThe: 'GD4101006677889', hoTen: 'Lò Văn Hùng', ngaySinh: '15/06/1975', gtTheTu: `01/01/${last}`, gtTheDen: `31/12/${last}` },
    // 100 — BHXH cannot read the card's data.
    { ...common, maThe: 'DT2101007788990', hoTen: 'Vàng Thị Dung', ngaySinh: '22/12/1980', gioiTinh: 'Nữ', state: 'unreadable' },
    // 110 — revoked; 120–124 — reduced (các trường hợp báo giảm).
    { ...common, maThe: 'HN1101008899001', hoTen: 'Sùng A Chứ', ngaySinh: '01/03/1970', state: 'revoked' },
    { ...common, maThe: 'DN4101009900112', hoTen: 'Nguyễn Văn Tuấn', ngaySinh: '07/07/1985', state: 'reduced' },
    { ...common, maThe: 'DN4101001011121', hoTen: 'Nguyễn Thị Hoa', ngaySinh: '08/08/1986', gioiTinh: 'Nữ', state: 'reduced-moved-province' },
    { ...common, maThe: 'DN4101001112131', hoTen: 'Trần Văn Long', ngaySinh: '09/09/1987', state: 'reduced-moved-within-province' },
    { ...common, maThe: 'DN4101001213141', hoTen: 'Lê Thị Thu', ngaySinh: '10/10/1988', gioiTinh: 'Nữ', state: 'reduced-reenrolled' },
    { ...common, maThe: 'GD4101001314151', hoTen: 'Hà Văn Sơn', ngaySinh: '12/12/1979', state: 'reduced-stopped' },
    // 130 — a child under six brought without a card.
    { ...common, maThe: 'TE1101001415161', hoTen: 'Lù Thị Na', ngaySinh: '02/02/2023', gioiTinh: 'Nữ', state: 'child-without-card' },
  ];
}
