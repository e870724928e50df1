// Encrypts one 4096-byte aes128gcm Web Push message with http_ece, writes it
// (with the receiver's keys) to the file given as argv[2] so bench-crypto can
// decrypt the very same bytes, then decrypts it in a loop with http_ece and
// prints {"msgs_per_s": N}.
'use strict';
const crypto = require('crypto');
const fs = require('fs');
const ece = require('http_ece');

const b64u = (b) => Buffer.from(b).toString('base64url');
const receiver = crypto.createECDH('prime256v1');
receiver.generateKeys();
const sender = crypto.createECDH('prime256v1');
sender.generateKeys();
const authSecret = crypto.randomBytes(16);
const plaintext = crypto.randomBytes(4096 - 86 - 17);
const body = ece.encrypt(plaintext, {
  version: 'aes128gcm',
  dh: b64u(receiver.getPublicKey()),
  privateKey: sender,
  authSecret: b64u(authSecret),
  rs: 4096,
});
if (body.length !== 4096) throw new Error(`expected a 4096-byte body, got ${body.length}`);
fs.writeFileSync(process.argv[2], JSON.stringify({
  d: b64u(receiver.getPrivateKey()), auth: b64u(authSecret), body: b64u(body),
  plaintext_sha256: crypto.createHash('sha256').update(plaintext).digest('hex'),
}));

const decryptOnce = () => ece.decrypt(body, {version: 'aes128gcm', privateKey: receiver, authSecret: b64u(authSecret)});
if (!decryptOnce().equals(plaintext)) throw new Error('http_ece did not decrypt its own message');
for (let i = 0; i < 200; i++) decryptOnce();  // warm up
const seconds = Number(process.env.BENCH_SECONDS || 3);
let n = 0;
const start = process.hrtime.bigint();
let elapsed = 0;
while (elapsed < seconds) {
  for (let i = 0; i < 100; i++) decryptOnce();
  n += 100;
  elapsed = Number(process.hrtime.bigint() - start) / 1e9;
}
console.log(JSON.stringify({msgs_per_s: n / elapsed}));
