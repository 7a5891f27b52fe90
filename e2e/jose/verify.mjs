// Verifies one access token of auth-server with the `jose` package, knowing nothing but the
// JWK Set URL, the issuer and the audience, as a third-party resource server would:
//
//   node verify.mjs JWKS_URL ISSUER AUDIENCE TOKEN
//
// Prints one line of JSON: {"ok":true,"sub":"…"} for a valid token, or {"ok":false,"code":"…"}
// with jose's error code (ERR_JWT_EXPIRED, ERR_JWKS_NO_MATCHING_KEY, …). Never the token.
// Exit code 0 in both cases; 2 for a usage error.

import { createRemoteJWKSet, jwtVerify } from 'jose';

const [url, issuer, audience, token] = process.argv.slice(2);
if (!url || !issuer || !audience || !token) {
  console.error('usage: node verify.mjs JWKS_URL ISSUER AUDIENCE TOKEN');
  process.exit(2);
}

const keys = createRemoteJWKSet(new URL(url));
try {
  const { payload } = await jwtVerify(token, keys, {
    algorithms: ['EdDSA'],
    issuer,
    audience,
    typ: 'at+jwt',
    requiredClaims: ['sub', 'exp', 'nbf', 'iat', 'jti'],
    clockTolerance: 5,
  });
  console.log(JSON.stringify({ ok: true, sub: payload.sub }));
} catch (error) {
  console.log(JSON.stringify({ ok: false, code: error.code ?? 'ERR_UNKNOWN' }));
}
