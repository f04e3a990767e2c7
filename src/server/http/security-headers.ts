import type { IncomingMessage, ServerResponse } from 'node:http';
import helmet, { type HelmetOptions } from 'helmet';

/**
 * The security headers, worked out once at start by helmet's own policy code and then copied onto
 * every answer. (Running helmet per request re-parses the policy each time: a fifth of the CPU of
 * a plain GET in the benchmark.)
 */
function headersOf(options: HelmetOptions): Record<string, string> {
  const headers: Record<string, string> = {};
  const response = {
    setHeader(name: string, value: string | number) {
      headers[name.toLowerCase()] = String(value);
    },
    removeHeader(name: string) {
      delete headers[name.toLowerCase()];
    },
  };
  helmet(options)({} as IncomingMessage, response as unknown as ServerResponse, () => {});
  return headers;
}

const POLICY: HelmetOptions = {
  contentSecurityPolicy: {
    directives: {
      defaultSrc: ["'self'"],
      scriptSrc: ["'self'"],
      // the component library injects <style> elements at run time
      styleSrc: ["'self'", "'unsafe-inline'"],
      imgSrc: ["'self'", 'data:'],
      fontSrc: ["'self'", 'data:'],
      connectSrc: ["'self'"],
      frameAncestors: ["'none'"],
      formAction: ["'self'"],
      objectSrc: ["'none'"],
      baseUri: ["'self'"],
      upgradeInsecureRequests: null,
    },
  },
  frameguard: { action: 'deny' },
  // sent per request, and only over https: see HSTS below
  strictTransportSecurity: false,
};

/** Strict-Transport-Security, on answers to https requests (a year, subdomains included). */
export const HSTS = 'max-age=31536000; includeSubDomains';

/** For every answer: our own scripts only, no framing, no sniffing, no referrer to other sites. */
export const SECURITY_HEADERS = headersOf(POLICY);

/** The rendered API reference runs an inline script of its own, so it goes without the CSP. */
export const API_REFERENCE_HEADERS = headersOf({ ...POLICY, contentSecurityPolicy: false });
