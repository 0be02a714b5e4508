// Test certificates made with the openssl CLI: a CA, a server certificate
// for 127.0.0.1, and client certificates whose CN is an identity.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync, chmodSync } from 'node:fs';
import path from 'node:path';

function ossl(args, cwd) {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** A CA in dir (ca.crt, ca.key); cn names it (two CAs: two names). ca.crt
 * is world-readable, so the broker's user can trust it. */
export function makeCA(dir, { cn = 'Vitalgate Test CA' } = {}) {
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  ossl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', 'ca.key', '-out', 'ca.crt', '-subj', `/CN=${cn}`, '-days', '2'], dir);
  chmodSync(path.join(dir, 'ca.crt'), 0o644);
  return { dir, ca: path.join(dir, 'ca.crt'), caKey: path.join(dir, 'ca.key') };
}

/** Issues a certificate signed by the CA; san e.g. 'IP:127.0.0.1'. */
export function issue(ca, name, cn, san) {
  const { dir } = ca;
  ossl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`], dir);
  const ext = path.join(dir, `${name}.ext`);
  writeFileSync(ext, san ? `subjectAltName=${san}\n` : 'basicConstraints=CA:FALSE\n');
  ossl(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial',
    '-out', `${name}.crt`, '-days', '2', '-extfile', ext], dir);
  // Readable by the broker's user (test material only).
  for (const f of [`${name}.key`, `${name}.crt`, 'ca.crt']) chmodSync(path.join(dir, f), 0o644);
  return {
    cert: path.join(dir, `${name}.crt`), key: path.join(dir, `${name}.key`),
    tls: { ca: readFileSync(ca.ca), cert: readFileSync(path.join(dir, `${name}.crt`)), key: readFileSync(path.join(dir, `${name}.key`)) },
  };
}
