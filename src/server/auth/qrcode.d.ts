// `qrcode` ships no types; this is the one function Tessera calls (src/server/domain/users/two-factor.ts).
declare module 'qrcode' {
  export function toString(text: string, options: { type: 'svg'; errorCorrectionLevel?: 'L' | 'M' | 'Q' | 'H'; margin?: number }): Promise<string>;
}
