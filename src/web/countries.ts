import countries from 'i18n-iso-countries';

export interface CountryOption {
  value: string;
  label: string;
}

let cached: CountryOption[] | null = null;

/** ISO 3166-1 alpha-2 countries, named in the browser's language, sorted by name. */
export function countryOptions(): CountryOption[] {
  if (cached) return cached;
  const names = new Intl.DisplayNames(undefined, { type: 'region' });
  const collator = new Intl.Collator(undefined, { sensitivity: 'base' });
  cached = Object.keys(countries.getAlpha2Codes())
    .map((code) => ({ value: code, label: names.of(code) ?? code }))
    .sort((a, b) => collator.compare(a.label, b.label));
  return cached;
}

export function countryName(code: string): string {
  return countryOptions().find((c) => c.value === code)?.label ?? code;
}
