/**
 * Text as people search it: Vietnamese diacritics folded (Nguyễn → nguyen, Đặng → dang),
 * case folded and spaces collapsed, so that a receptionist typing without accents still matches.
 */
export function foldText(text: string): string {
  return text
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/[đĐ]/g, 'd')
    .toLowerCase()
    .replace(/\s+/g, ' ')
    .trim();
}
