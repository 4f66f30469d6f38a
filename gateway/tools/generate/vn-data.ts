/**
 * The pools the episode generator draws from: Vietnamese names, provinces with their codes, and the
 * clinical content (diagnoses, drugs, services) limited to codes the gateway's catalogues know, so
 * that every generated bundle validates. Prices are illustrative VND figures in whole đồng.
 */
export type Gender = 'male' | 'female';

export const FAMILY_NAMES = ['Nguyễn', 'Trần', 'Lê', 'Phạm', 'Hoàng', 'Huỳnh', 'Phan', 'Vũ', 'Võ', 'Đặng', 'Bùi', 'Đỗ', 'Hồ', 'Ngô', 'Dương', 'Lý', 'Đinh', 'Lò', 'Giàng', 'Hà'];
export const MIDDLE_NAMES: Record<Gender, string[]> = {
  male: ['Văn', 'Đức', 'Minh', 'Quang', 'Hữu', 'Công', 'Xuân', 'Thế'],
  female: ['Thị', 'Ngọc', 'Thu', 'Thanh', 'Minh', 'Bích', 'Kim', 'Hồng'],
};
export const GIVEN_NAMES: Record<Gender, string[]> = {
  male: ['An', 'Bình', 'Cường', 'Dũng', 'Đạt', 'Hải', 'Hùng', 'Khánh', 'Long', 'Nam', 'Phong', 'Quân', 'Sơn', 'Thắng', 'Tuấn', 'Việt', 'Lợi', 'Chiến'],
  female: ['Anh', 'Chi', 'Dung', 'Giang', 'Hà', 'Hằng', 'Hoa', 'Hương', 'Lan', 'Linh', 'Mai', 'Ngân', 'Nhung', 'Phương', 'Thảo', 'Trang', 'Yến', 'Xuân'],
};

export interface Ethnicity {
  code: string;
  display: string;
}
export const ETHNICITIES: Ethnicity[] = [
  { code: '01', display: 'Kinh' },
  { code: '01', display: 'Kinh' },
  { code: '01', display: 'Kinh' },
  { code: '02', display: 'Tày' },
  { code: '03', display: 'Thái' },
  { code: '06', display: 'Mường' },
  { code: '05', display: 'Khơ-me' },
  { code: '08', display: 'HMông' },
];

/** A province: its CCCD place code (3 digits), administrative code (2), a district and communes of it. */
export interface Province {
  cccd: string;
  code: string;
  name: string;
  district: { code: string; name: string };
  communes: { code: string; name: string }[];
}
export const PROVINCES: Province[] = [
  { cccd: '001', code: '01', name: 'Thành phố Hà Nội', district: { code: '005', name: 'Quận Cầu Giấy' }, communes: [{ code: '00157', name: 'Phường Nghĩa Đô' }, { code: '00160', name: 'Phường Quan Hoa' }, { code: '00166', name: 'Phường Dịch Vọng' }] },
  { cccd: '010', code: '10', name: 'Tỉnh Lào Cai', district: { code: '085', name: 'Huyện Bắc Hà' }, communes: [{ code: '02842', name: 'Xã Na Hối' }, { code: '02839', name: 'Thị trấn Bắc Hà' }, { code: '02848', name: 'Xã Bản Phố' }] },
  { cccd: '031', code: '31', name: 'Thành phố Hải Phòng', district: { code: '303', name: 'Quận Hồng Bàng' }, communes: [{ code: '11296', name: 'Phường Minh Khai' }, { code: '11299', name: 'Phường Hoàng Văn Thụ' }] },
  { cccd: '038', code: '38', name: 'Tỉnh Thanh Hoá', district: { code: '380', name: 'Thành phố Thanh Hóa' }, communes: [{ code: '14755', name: 'Phường Hàm Rồng' }, { code: '14758', name: 'Phường Đông Thọ' }] },
  { cccd: '048', code: '48', name: 'Thành phố Đà Nẵng', district: { code: '492', name: 'Quận Hải Châu' }, communes: [{ code: '20227', name: 'Phường Thanh Bình' }, { code: '20230', name: 'Phường Thuận Phước' }] },
  { cccd: '079', code: '79', name: 'Thành phố Hồ Chí Minh', district: { code: '760', name: 'Quận 1' }, communes: [{ code: '26734', name: 'Phường Tân Định' }, { code: '26737', name: 'Phường Đa Kao' }, { code: '26740', name: 'Phường Bến Nghé' }] },
  { cccd: '092', code: '92', name: 'Thành phố Cần Thơ', district: { code: '916', name: 'Quận Ninh Kiều' }, communes: [{ code: '31117', name: 'Phường Cái Khế' }, { code: '31120', name: 'Phường An Hòa' }] },
];

/** Level-2 occupation codes of QĐ 34/2020/QĐ-TTg (MA_NGHE_NGHIEP). */
export const OCCUPATIONS = [
  { code: '61', display: 'Lao động có kỹ năng trong nông nghiệp' },
  { code: '51', display: 'Nhân viên dịch vụ cá nhân' },
  { code: '72', display: 'Thợ kim khí, cơ khí' },
  { code: '23', display: 'Nhà chuyên môn về giảng dạy' },
  { code: '91', display: 'Lao động giản đơn làm dịch vụ' },
];

export const HAMLETS = ['Thôn Đông', 'Thôn Trung', 'Xóm Mới', 'Tổ dân phố 3', 'Tổ dân phố 7', 'Số 12 ngõ 45', 'Số 8 đường Lê Lợi', 'Ấp Bình Thạnh'];

/** BHYT card object codes (the card's first two letters) with the benefit digit they usually carry. */
export const CARD_OBJECTS: { code: string; level: 1 | 2 | 3 | 4 | 5 }[] = [
  { code: 'DN', level: 4 },
  { code: 'HC', level: 4 },
  { code: 'GD', level: 4 },
  { code: 'HT', level: 3 },
  { code: 'TE', level: 1 },
  { code: 'HN', level: 2 },
  { code: 'DK', level: 2 },
  { code: 'CN', level: 3 },
  { code: 'SV', level: 4 },
];
/** MUC_HUONG of a card's benefit digit (at a facility of the right level). */
export const BENEFIT_PERCENT: Record<number, number> = { 1: 100, 2: 100, 3: 95, 4: 80, 5: 100 };

export interface Diagnosis {
  icd: string;
  display: string;
  text: string;
  complaint: string;
}
export const OUTPATIENT_DIAGNOSES: Diagnosis[] = [
  { icd: 'J02.9', display: 'Viêm họng cấp, không đặc hiệu', text: 'Viêm họng cấp', complaint: 'Đau họng, sốt nhẹ, ho khan 2 ngày' },
  { icd: 'J06.9', display: 'Nhiễm trùng hô hấp trên cấp, không đặc hiệu', text: 'Nhiễm trùng hô hấp trên cấp', complaint: 'Sổ mũi, ho, sốt 38°C' },
  { icd: 'K29.7', display: 'Viêm dạ dày, không đặc hiệu', text: 'Viêm dạ dày', complaint: 'Đau thượng vị, ợ chua 1 tuần' },
  { icd: 'A09', display: 'Tiêu chảy và viêm dạ dày ruột do nhiễm trùng', text: 'Tiêu chảy nhiễm khuẩn', complaint: 'Đi ngoài phân lỏng 5 lần/ngày' },
  { icd: 'M54.5', display: 'Đau thắt lưng', text: 'Đau thắt lưng', complaint: 'Đau lưng âm ỉ sau lao động' },
  { icd: 'N39.0', display: 'Nhiễm trùng đường tiết niệu, vị trí không xác định', text: 'Nhiễm trùng tiết niệu', complaint: 'Tiểu buốt, tiểu rắt 3 ngày' },
];
export const CHRONIC_DIAGNOSES: Diagnosis[] = [
  { icd: 'I10', display: 'Tăng huyết áp vô căn (nguyên phát)', text: 'Tăng huyết áp', complaint: 'Khám định kỳ tăng huyết áp' },
  { icd: 'E11.9', display: 'Bệnh đái tháo đường không phụ thuộc insulin, không có biến chứng', text: 'Đái tháo đường type 2', complaint: 'Khám định kỳ đái tháo đường' },
  { icd: 'E78.5', display: 'Tăng lipid máu, không đặc hiệu', text: 'Rối loạn lipid máu', complaint: 'Khám định kỳ rối loạn mỡ máu' },
];
export const INPATIENT_DIAGNOSES: Diagnosis[] = [
  { icd: 'J18.9', display: 'Viêm phổi, không đặc hiệu', text: 'Viêm phổi', complaint: 'Sốt cao, ho đờm, khó thở 3 ngày' },
  { icd: 'I63.9', display: 'Nhồi máu não, không đặc hiệu', text: 'Nhồi máu não', complaint: 'Yếu nửa người phải, nói khó 4 giờ' },
  { icd: 'K35.8', display: 'Viêm ruột thừa cấp khác và không đặc hiệu', text: 'Viêm ruột thừa cấp', complaint: 'Đau hố chậu phải, sốt 38,5°C' },
  { icd: 'S72.0', display: 'Gãy cổ xương đùi', text: 'Gãy cổ xương đùi', complaint: 'Ngã, đau và không đi lại được' },
];

export interface Drug {
  code: string;
  name: string;
  text: string;
  registration: string;
  maker: string;
  form: string;
  strength: number;
  strengthUnit: string;
  unit: string;
  price: number;
  route: { code: string; display: string };
  perDay: number;
}
export const DRUGS: Drug[] = [
  { code: '40.223', name: 'Amoxicilin', text: 'Amoxicilin 500mg', registration: 'VD-25316-16', maker: 'Công ty cổ phần Dược phẩm Hà Tây', form: 'Viên nang cứng', strength: 500, strengthUnit: 'mg', unit: 'viên', price: 1150, route: { code: '1.01', display: 'Uống' }, perDay: 3 },
  { code: '40.48', name: 'Paracetamol', text: 'Paracetamol 500mg', registration: 'VD-21812-14', maker: 'Công ty cổ phần Dược Hậu Giang', form: 'Viên nén', strength: 500, strengthUnit: 'mg', unit: 'viên', price: 294, route: { code: '1.01', display: 'Uống' }, perDay: 2 },
  { code: '40.593', name: 'Amlodipin', text: 'Amlodipin 5mg', registration: 'VD-23469-15', maker: 'Công ty cổ phần Dược phẩm Trung ương 1', form: 'Viên nén', strength: 5, strengthUnit: 'mg', unit: 'viên', price: 420, route: { code: '1.01', display: 'Uống' }, perDay: 1 },
  { code: '40.683', name: 'Metformin', text: 'Metformin 850mg', registration: 'VD-26842-17', maker: 'Công ty cổ phần Pymepharco', form: 'Viên nén bao phim', strength: 850, strengthUnit: 'mg', unit: 'viên', price: 630, route: { code: '1.01', display: 'Uống' }, perDay: 2 },
  { code: '40.1039', name: 'Omeprazol', text: 'Omeprazol 20mg', registration: 'VD-28712-18', maker: 'Công ty cổ phần Dược phẩm Imexpharm', form: 'Viên nang', strength: 20, strengthUnit: 'mg', unit: 'viên', price: 560, route: { code: '1.01', display: 'Uống' }, perDay: 2 },
];
export const INFUSIONS: Drug[] = [
  { code: '40.930', name: 'Cefuroxim', text: 'Cefuroxim 750mg', registration: 'VD-30422-18', maker: 'Công ty cổ phần Dược phẩm Tenamyd', form: 'Bột pha tiêm', strength: 750, strengthUnit: 'mg', unit: 'lọ', price: 19800, route: { code: '2.15', display: 'Tiêm tĩnh mạch' }, perDay: 2 },
  { code: '40.1106', name: 'Natri clorid 0,9%', text: 'Natri clorid 0,9% 500ml', registration: 'VD-22736-15', maker: 'Công ty cổ phần Fresenius Kabi Bidiphar', form: 'Dung dịch tiêm truyền', strength: 500, strengthUnit: 'mL', unit: 'chai', price: 10500, route: { code: '2.19', display: 'Truyền tĩnh mạch' }, perDay: 2 },
];

/** A laboratory test: the service billed and the results it reports (LOINC, unit, reference range). */
export interface LabTest {
  service: string;
  display: string;
  price: number;
  category: string;
  machine: string;
  results: { loinc: string; display: string; text: string; unit: string; ucum: string; low: number; high: number; decimals: number }[];
}
export const LAB_TESTS: LabTest[] = [
  {
    service: '22.0120.1370', display: 'Tổng phân tích tế bào máu ngoại vi (bằng máy đếm laser)', price: 46200, category: 'HM', machine: 'HH.1',
    results: [
      { loinc: '6690-2', display: 'Leukocytes [#/volume] in Blood by Automated count', text: 'Số lượng bạch cầu (WBC)', unit: 'G/L', ucum: '10*9/L', low: 4, high: 10, decimals: 1 },
      { loinc: '770-8', display: 'Neutrophils/100 leukocytes in Blood by Automated count', text: 'Tỷ lệ bạch cầu trung tính (NEUT%)', unit: '%', ucum: '%', low: 40, high: 74, decimals: 1 },
      { loinc: '718-7', display: 'Hemoglobin [Mass/volume] in Blood', text: 'Huyết sắc tố (HGB)', unit: 'g/L', ucum: 'g/L', low: 120, high: 160, decimals: 0 },
    ],
  },
  {
    service: '23.0020.1494', display: 'Định lượng Glucose [Máu]', price: 21500, category: 'CH', machine: 'HS.1',
    results: [{ loinc: '2345-7', display: 'Glucose [Moles/volume] in Serum or Plasma', text: 'Glucose máu', unit: 'mmol/L', ucum: 'mmol/L', low: 3.9, high: 6.4, decimals: 1 }],
  },
  {
    service: '23.0133.1494', display: 'Định lượng Creatinin [Máu]', price: 21500, category: 'CH', machine: 'HS.1',
    results: [{ loinc: '2160-0', display: 'Creatinine [Mass/volume] in Serum or Plasma', text: 'Creatinin máu', unit: 'µmol/L', ucum: 'umol/L', low: 62, high: 120, decimals: 0 }],
  },
];

export const EXAMS = {
  internal: { code: '02.1896', display: 'Khám Nội', price: 39800, department: { code: 'K01', name: 'Khoa Khám bệnh' } },
  surgical: { code: '02.1897', display: 'Khám Ngoại', price: 39800, department: { code: 'K01', name: 'Khoa Khám bệnh' } },
};
export const WARDS = [
  { code: 'K02', name: 'Khoa Nội tổng hợp', bed: { code: 'K01.1915', display: 'Giường Nội khoa loại 1 Hạng I', price: 248000 } },
  { code: 'K19', name: 'Khoa Ngoại tổng hợp', bed: { code: 'K03.1931', display: 'Giường Ngoại khoa loại 3 Hạng I', price: 248000 } },
];
export const SUPPLIES = [
  { code: 'N03.02.070', display: 'Bơm tiêm nhựa 5ml', unit: 'cái', price: 1200 },
  { code: 'N05.03.030', display: 'Dây truyền dịch', unit: 'bộ', price: 8900 },
];
export const PROGRESS_NOTES = [
  'Bệnh tỉnh, tiếp xúc tốt, ăn uống được. Tim đều, phổi ít ran ẩm. Tiếp tục điều trị theo y lệnh.',
  'Bệnh ổn định, hết sốt, đau giảm. Theo dõi dấu hiệu sinh tồn, duy trì thuốc.',
  'Bệnh tỉnh, mệt ít, ngủ được. Bụng mềm, không chướng. Chăm sóc cấp II.',
  'Diễn biến thuận lợi, vận động tại giường, dự kiến ra viện trong vài ngày tới.',
];
export const PRACTITIONER_TITLES = ['Bác sĩ', 'Bác sĩ chuyên khoa I', 'Thạc sĩ, Bác sĩ', 'Kỹ thuật viên xét nghiệm', 'Cử nhân xét nghiệm'];
