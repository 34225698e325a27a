// Writes shared/fixtures/encryption-vectors.json: values encrypted with Node's crypto the way
// the web app does (design §6), so the Rust module is tested against another
// implementation, not only against itself. Run: node scripts/encryption_vectors.mjs
import { createCipheriv, randomBytes, scryptSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';

const masterKey = 'local-test-master-key: not a real secret';
const kek = scryptSync(masterKey, 'workspace-key-salt', 32, { N: 16384, r: 8, p: 1 });

// base64(IV(12) ‖ ciphertext ‖ tag(16)), AES-256-GCM.
function seal(key, plaintext) {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([iv, body, cipher.getAuthTag()]).toString('base64');
}

const workspaceKey = randomBytes(32);
const fields = ['Team standup', 'Übung ☕ — 日本語 🎉', 'x'.repeat(300)];
writeFileSync(
  new URL('../shared/fixtures/encryption-vectors.json', import.meta.url),
  JSON.stringify(
    {
      master_key: masterKey,
      encrypted_workspace_key: seal(kek, workspaceKey),
      workspace_key_hex: workspaceKey.toString('hex'),
      fields: fields.map((plaintext) => ({ plaintext, ciphertext: seal(workspaceKey, plaintext) })),
    },
    null,
    2
  ) + '\n'
);
