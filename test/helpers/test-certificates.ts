// Certificates for the TLS tests, made by openssl in a temp directory: an EC key and a certificate per name,
// self-signed (a root CA) or issued by another name in the same directory.

import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run } from './tools.js';

export const CA_EXT = '[req]\ndistinguished_name=dn\n[dn]\n[v3]\nbasicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n';
export const LEAF_EXT = (usage: string): string => `[v3]\nbasicConstraints=CA:FALSE\nextendedKeyUsage=${usage}\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n`;

export class CertificateDir {
  constructor(readonly dir: string) {}

  file(name: string): string {
    return join(this.dir, name);
  }

  pem(name: string): Buffer {
    return readFileSync(this.file(name));
  }

  /** `<name>.key` and `<name>.crt` for `cn`: self-signed when `issuer` is undefined, else signed by `<issuer>`. */
  async certificate(name: string, cn: string, issuer: string | undefined, extensions: string): Promise<void> {
    const file = (n: string) => this.file(n);
    const ext = file(`${name}.ext`);
    writeFileSync(ext, extensions);
    const key = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', file(`${name}.key`), '-subj', `/CN=${cn}`];
    if (issuer === undefined) {
      await openssl(['req', '-x509', ...key, '-days', '2', '-extensions', 'v3', '-config', ext, '-out', file(`${name}.crt`)]);
      return;
    }
    await openssl(['req', ...key, '-out', file(`${name}.csr`)]);
    await openssl(['x509', '-req', '-in', file(`${name}.csr`), '-CA', file(`${issuer}.crt`), '-CAkey', file(`${issuer}.key`), '-CAcreateserial', '-days', '2', '-extfile', ext, '-extensions', 'v3', '-out', file(`${name}.crt`)]);
  }
}

export async function openssl(args: string[]): Promise<void> {
  const r = await run('openssl', args, 20_000);
  if (r.code !== 0) throw new Error(`openssl ${args[0]} failed (${r.code}): ${r.stderr}`);
}
