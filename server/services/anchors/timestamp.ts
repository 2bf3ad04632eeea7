/**
 * RFC 3161 time stamps (with RFC 5816's ESSCertIDv2): a time-stamp authority
 * signs, under a key the operator does not hold, that a SHA-256 hash existed at
 * a time. oms-audit asks for one per anchored checkpoint and retention record
 * (the hash of its canonical body, so the token binds exactly what was signed)
 * and checks each token it reads back: the response granted, the token signed by
 * a certificate that chains to a trusted TSA certificate (ANCHOR_TSA_CA_FILE),
 * with the time-stamping key purpose, named by the signing-certificate attribute,
 * and its message imprint the expected hash. The ASN.1 and CMS work is pkijs's.
 */
import { createHash, randomBytes, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';

const OID_SHA256 = '2.16.840.1.101.3.4.2.1';
const OID_SHA1 = '1.3.14.3.2.26';
const OID_TST_INFO = '1.2.840.113549.1.9.16.1.4';
const OID_EXT_KEY_USAGE = '2.5.29.37';
const OID_KP_TIME_STAMPING = '1.3.6.1.5.5.7.3.8';
/** ESS signing-certificate (RFC 2634, SHA-1 certificate hash) and signing-certificate-v2 (RFC 5035 / RFC 5816). */
const OID_SIGNING_CERTIFICATE = '1.2.840.113549.1.9.16.2.12';
const OID_SIGNING_CERTIFICATE_V2 = '1.2.840.113549.1.9.16.2.47';
const HASH_OF_OID: Record<string, string> = { [OID_SHA1]: 'sha1', [OID_SHA256]: 'sha256', '2.16.840.1.101.3.4.2.2': 'sha384', '2.16.840.1.101.3.4.2.3': 'sha512' };

export const TIMESTAMP_QUERY_TYPE = 'application/timestamp-query';
export const TIMESTAMP_REPLY_TYPE = 'application/timestamp-reply';

export interface TokenFacts {
  /** The TSA's time (genTime), ISO 8601. */
  time: string;
  /** The token's serial number, hex. */
  serial: string;
  /** Subject of the certificate that signed the token. */
  signer: string;
}

export type TokenCheck = ({ ok: true } & TokenFacts) | { ok: false; reason: string };

const toArrayBuffer = (bytes: Uint8Array): ArrayBuffer => bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
const hex = (bytes: ArrayBuffer | Uint8Array) => Buffer.from(bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes)).toString('hex');

/** Certificates (PEM, one or more) whose holders are trusted to time-stamp: the TSA's certificate or its CA's. */
export function loadTrustedTsaCertificates(file: string): pkijs.Certificate[] {
  const pems = readFileSync(file, 'utf8').match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (!pems.length) throw new Error(`ANCHOR_TSA_CA_FILE ${file} holds no PEM certificate`);
  return pems.map((pem) => pkijs.Certificate.fromBER(toArrayBuffer(new X509Certificate(pem).raw)));
}

function parseResponse(der: Uint8Array): { status: number; text: string; signed: pkijs.SignedData | null; info: pkijs.TSTInfo | null } {
  const response = pkijs.TimeStampResp.fromBER(toArrayBuffer(der));
  const status = response.status.status;
  const text = response.status.statusStrings?.map((s) => s.valueBlock.value).join('; ') ?? '';
  if (!response.timeStampToken) return { status, text, signed: null, info: null };
  const signed = new pkijs.SignedData({ schema: response.timeStampToken.content });
  if (signed.encapContentInfo.eContentType !== OID_TST_INFO || !signed.encapContentInfo.eContent) return { status, text, signed, info: null };
  const info = pkijs.TSTInfo.fromBER(signed.encapContentInfo.eContent.valueBlock.valueHexView.slice().buffer);
  return { status, text, signed, info };
}

/** Asks the TSA at `url` for a token over SHA-256(data); returns the DER TimeStampResp after checking it answers this request. */
export async function requestTimestamp(url: string, data: Uint8Array, options: { timeoutMs?: number } = {}): Promise<Buffer> {
  const digest = createHash('sha256').update(data).digest();
  // A positive nonce with a minimal DER encoding: first byte 0x40–0x7f.
  const nonce = randomBytes(8);
  nonce[0] = (nonce[0]! & 0x3f) | 0x40;
  const request = new pkijs.TimeStampReq({
    version: 1,
    messageImprint: new pkijs.MessageImprint({
      hashAlgorithm: new pkijs.AlgorithmIdentifier({ algorithmId: OID_SHA256 }),
      hashedMessage: new asn1js.OctetString({ valueHex: toArrayBuffer(digest) }),
    }),
    nonce: new asn1js.Integer({ valueHex: toArrayBuffer(nonce) }),
    certReq: true,
  });
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': TIMESTAMP_QUERY_TYPE, accept: TIMESTAMP_REPLY_TYPE },
    body: Buffer.from(request.toSchema().toBER(false)),
    signal: AbortSignal.timeout(options.timeoutMs ?? 15_000),
  });
  if (!res.ok) throw new Error(`the time-stamp authority answered HTTP ${res.status}`);
  const der = Buffer.from(await res.arrayBuffer());
  let parsed;
  try {
    parsed = parseResponse(der);
  } catch (err) {
    throw new Error(`the time-stamp authority's answer is not an RFC 3161 response (${(err as Error).message})`);
  }
  if (parsed.status !== 0 && parsed.status !== 1) throw new Error(`the time-stamp authority refused the request (status ${parsed.status}${parsed.text ? `: ${parsed.text}` : ''})`);
  if (!parsed.info) throw new Error('the time-stamp authority granted the request without a token');
  if (hex(parsed.info.messageImprint.hashedMessage.valueBlock.valueHexView) !== digest.toString('hex')) throw new Error('the time-stamp token is for another hash than the one sent');
  if (!parsed.info.nonce || hex(parsed.info.nonce.valueBlock.valueHexView) !== nonce.toString('hex')) throw new Error('the time-stamp token does not carry the request nonce (a replayed answer?)');
  return der;
}

/** The signing-certificate(-v2) attribute's first certificate hash, and the hash algorithm it uses. */
function essCertificateHash(signer: pkijs.SignerInfo): { algorithm: string; hash: string } | null {
  for (const attribute of signer.signedAttrs?.attributes ?? []) {
    if (attribute.type !== OID_SIGNING_CERTIFICATE && attribute.type !== OID_SIGNING_CERTIFICATE_V2) continue;
    // SigningCertificate(V2) ::= SEQUENCE { certs SEQUENCE OF ESSCertID(v2), policies … OPTIONAL }
    const certs = (attribute.values[0] as asn1js.Sequence).valueBlock.value[0] as asn1js.Sequence;
    const first = certs.valueBlock.value[0] as asn1js.Sequence;
    const fields = first.valueBlock.value;
    if (attribute.type === OID_SIGNING_CERTIFICATE) return { algorithm: 'sha1', hash: hex((fields[0] as asn1js.OctetString).valueBlock.valueHexView) };
    // ESSCertIDv2 ::= SEQUENCE { hashAlgorithm AlgorithmIdentifier DEFAULT sha256, certHash OCTET STRING, issuerSerial … OPTIONAL }
    if (fields[0] instanceof asn1js.OctetString) return { algorithm: 'sha256', hash: hex(fields[0].valueBlock.valueHexView) };
    const algorithm = HASH_OF_OID[new pkijs.AlgorithmIdentifier({ schema: fields[0] }).algorithmId];
    return algorithm ? { algorithm, hash: hex((fields[1] as asn1js.OctetString).valueBlock.valueHexView) } : null;
  }
  return null;
}

/**
 * Checks a stored DER TimeStampResp against the data it should time-stamp:
 * granted, a SignedData over a TSTInfo whose imprint is SHA-256(data), signed by
 * a certificate chaining to one of `trusted` (at the token's time), that
 * certificate limited to time stamping (critical EKU) and named by the token's
 * signing-certificate attribute.
 */
export async function checkTimestamp(der: Uint8Array, data: Uint8Array, trusted: pkijs.Certificate[]): Promise<TokenCheck> {
  let parsed;
  try {
    parsed = parseResponse(der);
  } catch (err) {
    return { ok: false, reason: `not an RFC 3161 time-stamp response (${(err as Error).message})` };
  }
  if (parsed.status !== 0 && parsed.status !== 1) return { ok: false, reason: `the response is a refusal (status ${parsed.status}), not a token` };
  const { signed, info } = parsed;
  if (!signed || !info) return { ok: false, reason: 'the response holds no time-stamp token' };
  const digest = createHash('sha256').update(data).digest('hex');
  const imprint = hex(info.messageImprint.hashedMessage.valueBlock.valueHexView);
  if (info.messageImprint.hashAlgorithm.algorithmId !== OID_SHA256 || imprint !== digest) {
    return { ok: false, reason: `the token time-stamps another hash (${imprint.slice(0, 16)}…, expected ${digest.slice(0, 16)}…)` };
  }
  let result: pkijs.SignedDataVerifyResult;
  try {
    result = await signed.verify({ signer: 0, data: toArrayBuffer(Buffer.from(data)), trustedCerts: trusted, checkChain: true, extendedMode: true });
  } catch (err) {
    return { ok: false, reason: `the token's signature does not verify against a trusted TSA certificate (${(err as Error).message})` };
  }
  if (!result.signatureVerified || !result.signerCertificateVerified || !result.signerCertificate) return { ok: false, reason: "the token's signature does not verify" };
  const certificate = result.signerCertificate;
  const eku = certificate.extensions?.find((e) => e.extnID === OID_EXT_KEY_USAGE);
  const purposes = (eku?.parsedValue as pkijs.ExtKeyUsage | undefined)?.keyPurposes ?? [];
  if (!eku?.critical || purposes.length !== 1 || purposes[0] !== OID_KP_TIME_STAMPING) {
    return { ok: false, reason: 'the certificate that signed the token is not a time-stamping certificate (RFC 3161 §2.3: a critical extended key usage of timeStamping only)' };
  }
  const ess = essCertificateHash(signed.signerInfos[0]!);
  const certificateDer = Buffer.from(certificate.toSchema().toBER(false));
  if (!ess || createHash(ess.algorithm).update(certificateDer).digest('hex') !== ess.hash) {
    return { ok: false, reason: "the token's signing-certificate attribute does not name the certificate that signed it" };
  }
  return {
    ok: true,
    time: info.genTime.toISOString(),
    serial: hex(info.serialNumber.valueBlock.valueHexView),
    signer: certificate.subject.typesAndValues.map((t) => `${t.type === '2.5.4.3' ? 'CN' : t.type}=${t.value.valueBlock.value}`).join(', '),
  };
}
