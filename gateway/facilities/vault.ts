import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * Secrets at rest (facility keys, PKCS#12 passwords, portal passwords): AES-256-GCM under a master
 * key the database never sees, supplied by the environment or a file. A sealed value is
 * `v1:` + base64(iv ‖ tag ‖ ciphertext); the additional data binds it to its owner, so a sealed
 * secret copied onto another facility does not open.
 */
export class Vault {
  private constructor(private readonly key: Buffer) {}

  static fromKey(key: Buffer): Vault {
    if (key.length !== 32) throw new Error('the master key must be 32 bytes (base64 of 32 random bytes)');
    return new Vault(key);
  }

  /**
   * GATEWAY_MASTER_KEY (base64) or the file GATEWAY_MASTER_KEY_FILE; in development, a key made once
   * in the data folder. Production without a key: undefined (secrets cannot be stored).
   */
  static fromEnvironment(env: { key?: string; file?: string; developmentFile?: string }): Vault | undefined {
    if (env.key) return Vault.fromKey(Buffer.from(env.key, 'base64'));
    if (env.file) return Vault.fromKey(Buffer.from(readFileSync(env.file, 'utf8').trim(), 'base64'));
    if (!env.developmentFile) return undefined;
    if (!existsSync(env.developmentFile)) {
      mkdirSync(dirname(env.developmentFile), { recursive: true });
      writeFileSync(env.developmentFile, randomBytes(32).toString('base64'), { mode: 0o600 });
    }
    return Vault.fromKey(Buffer.from(readFileSync(env.developmentFile, 'utf8').trim(), 'base64'));
  }

  seal(plaintext: string, owner: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(Buffer.from(owner, 'utf8'));
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return `v1:${Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64')}`;
  }

  /** Throws when the value was altered, sealed under another key, or for another owner. */
  open(sealed: string, owner: string): string {
    if (!sealed.startsWith('v1:')) throw new Error('not a sealed value');
    const raw = Buffer.from(sealed.slice(3), 'base64');
    const decipher = createDecipheriv('aes-256-gcm', this.key, raw.subarray(0, 12));
    decipher.setAAD(Buffer.from(owner, 'utf8'));
    decipher.setAuthTag(raw.subarray(12, 28));
    return Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8');
  }
}
