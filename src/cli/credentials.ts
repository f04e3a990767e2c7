import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TokenResponse } from '../shared/client-api.ts';

/** What `tessera client login` keeps between commands: the server and the desktop session's tokens. */
export interface StoredSession {
  server: string;
  member: { id: string; name: string };
  account: { id: string; companyName: string };
  refreshToken: string;
  accessToken: string;
  /** Epoch milliseconds after which the access token is not used any more. */
  accessExpiresAt: number;
}

/** `$TESSERA_CONFIG_DIR`, else `$XDG_CONFIG_HOME/tessera`, else `~/.config/tessera` (`%APPDATA%\tessera` on Windows). */
export function configDir(): string {
  if (process.env.TESSERA_CONFIG_DIR) return process.env.TESSERA_CONFIG_DIR;
  if (process.platform === 'win32' && process.env.APPDATA) return path.join(process.env.APPDATA, 'tessera');
  return path.join(process.env.XDG_CONFIG_HOME || path.join(os.homedir(), '.config'), 'tessera');
}

const file = () => path.join(configDir(), 'session.json');

export function readSession(): StoredSession | null {
  try {
    return JSON.parse(fs.readFileSync(file(), 'utf8')) as StoredSession;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
}

/**
 * Written to a temporary file with mode 0600 and renamed over the old one, so the secrets are
 * never readable by others and a crash mid-write leaves the previous session intact.
 */
export function writeSession(session: StoredSession): void {
  fs.mkdirSync(configDir(), { recursive: true, mode: 0o700 });
  const temporary = `${file()}.${process.pid}.tmp`;
  fs.writeFileSync(temporary, `${JSON.stringify(session, null, 2)}\n`, { mode: 0o600 });
  fs.renameSync(temporary, file());
}

export function deleteSession(): void {
  fs.rmSync(file(), { force: true });
}

/** The stored session with a new token pair (each refresh rotates the refresh token). */
export function withTokens(session: Omit<StoredSession, 'refreshToken' | 'accessToken' | 'accessExpiresAt'>, tokens: TokenResponse, now = Date.now()): StoredSession {
  return {
    ...session,
    refreshToken: tokens.refresh_token,
    accessToken: tokens.access_token,
    // a little early, so a token never expires on its way to the server
    accessExpiresAt: now + Math.max(0, tokens.expires_in - 30) * 1000,
  };
}
