#!/usr/bin/env node
// Independent verifier for the tests: checks one Sigstore bundle offline with
// sigstore-js (@sigstore/verify) against a trusted root, never with signer's code.
//
//   node verify.js --bundle B.sigstore.json --trusted-root trusted_root.json
//                  (--artifact FILE | --digest sha256:HEX)
//                  [--certificate-identity SAN] [--certificate-oidc-issuer URL | --key PEM]
//
// Prints one JSON line on stdout: {"verified": true, ...} and exits 0, or
// {"verified": false, "error": CODE, "message": TEXT} and exits 1. Bad arguments
// exit 2. Nothing is fetched from the network.
//
// A message-signature bundle needs --artifact (the signature is over its bytes). A
// DSSE bundle carries an in-toto statement; @sigstore/verify checks the envelope's
// signature but not what it is about, so the artifact's (or the given) SHA-256 must
// equal one subject's digest -- checked here, as a verifying client must.
'use strict';

const crypto = require('node:crypto');
const fs = require('node:fs');
const { bundleFromJSON } = require('@sigstore/bundle');
const { TrustedRoot } = require('@sigstore/protobuf-specs');
const { Verifier, toSignedEntity, toTrustMaterial } = require('@sigstore/verify');

const IN_TOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json';
const OPTIONS = {
  '--bundle': 'bundle',
  '--trusted-root': 'trustedRoot',
  '--artifact': 'artifact',
  '--digest': 'digest',
  '--certificate-identity': 'identity',
  '--certificate-oidc-issuer': 'issuer',
  '--key': 'key',
};

class UsageError extends Error {}

class CheckError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

function parseArguments(argv) {
  const args = {};
  for (let i = 0; i < argv.length; i += 2) {
    const name = OPTIONS[argv[i]];
    if (name === undefined || i + 1 >= argv.length) {
      throw new UsageError(`unknown option or missing value: ${argv[i]}`);
    }
    args[name] = argv[i + 1];
  }
  if (!args.bundle || !args.trustedRoot) {
    throw new UsageError('--bundle and --trusted-root are required');
  }
  if ((args.artifact === undefined) === (args.digest === undefined)) {
    throw new UsageError('give exactly one of --artifact and --digest');
  }
  if (args.key !== undefined && (args.identity !== undefined || args.issuer !== undefined)) {
    throw new UsageError('--key checks a key, not a certificate identity or issuer');
  }
  if (args.digest !== undefined && !/^sha256:[0-9a-f]{64}$/.test(args.digest)) {
    throw new UsageError('--digest must be sha256:<64 lower-case hex>');
  }
  return args;
}

function readJSON(path, what) {
  try {
    return JSON.parse(fs.readFileSync(path, 'utf8'));
  } catch (error) {
    throw new CheckError('INPUT_ERROR', `cannot read the ${what}: ${error.message}`);
  }
}

// The SHA-256 (hex) of the artifact the caller names, and its bytes when it is a file.
function artifactInput(args) {
  if (args.digest !== undefined) {
    return { sha256: args.digest.slice('sha256:'.length), bytes: undefined };
  }
  const bytes = fs.readFileSync(args.artifact);
  return { sha256: crypto.createHash('sha256').update(bytes).digest('hex'), bytes };
}

// The in-toto statement's subjects must name the artifact's SHA-256.
function checkStatementSubject(envelope, sha256) {
  if (envelope.payloadType !== IN_TOTO_PAYLOAD_TYPE) {
    throw new CheckError('STATEMENT_ERROR', `payload type ${envelope.payloadType} is not in-toto`);
  }
  let statement;
  try {
    statement = JSON.parse(envelope.payload.toString('utf8'));
  } catch {
    throw new CheckError('STATEMENT_ERROR', 'the DSSE payload is not JSON');
  }
  const subjects = Array.isArray(statement.subject) ? statement.subject : [];
  if (!subjects.some((s) => s && s.digest && s.digest.sha256 === sha256)) {
    throw new CheckError('STATEMENT_ERROR', `no statement subject has sha256 ${sha256}`);
  }
  return statement;
}

function policyOf(args) {
  const policy = {};
  if (args.identity !== undefined) policy.subjectAlternativeName = args.identity;
  if (args.issuer !== undefined) policy.extensions = { issuer: args.issuer };
  return policy;
}

// With --key, the bundle's public-key hint (whatever it says) names that one key.
function keyFinder(args) {
  if (args.key === undefined) return undefined;
  const publicKey = crypto.createPublicKey(fs.readFileSync(args.key, 'utf8'));
  return () => ({ publicKey, validFor: () => true });
}

function verify(args) {
  const bundle = bundleFromJSON(readJSON(args.bundle, 'bundle'));
  const trustMaterial = toTrustMaterial(
    TrustedRoot.fromJSON(readJSON(args.trustedRoot, 'trusted root')), keyFinder(args));
  const artifact = artifactInput(args);
  const result = { verified: true, content: bundle.content.$case };
  if (bundle.content.$case === 'dsseEnvelope') {
    const statement = checkStatementSubject(bundle.content.dsseEnvelope, artifact.sha256);
    result.predicateType = statement.predicateType;
  } else if (artifact.bytes === undefined) {
    throw new UsageError('a message-signature bundle needs --artifact, not --digest');
  }
  const entity = toSignedEntity(bundle, artifact.bytes);
  const signer = new Verifier(trustMaterial).verify(entity, policyOf(args));
  const identity = signer.identity || {};
  result.identity = identity.subjectAlternativeName;
  result.issuer = identity.extensions && identity.extensions.issuer;
  result.tlogEntries = entity.tlogEntries.map(
    (e) => `${e.kindVersion.kind}/${e.kindVersion.version}`);
  result.rfc3161Timestamps = entity.timestamps
    .filter((t) => t.$case === 'timestamp-authority').length;
  return result;
}

function main() {
  let args;
  try {
    args = parseArguments(process.argv.slice(2));
    process.stdout.write(JSON.stringify(verify(args)) + '\n');
    return 0;
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`verify.js: ${error.message}\n`);
      return 2;
    }
    const code = error.code || error.name || 'ERROR';
    process.stdout.write(
      JSON.stringify({ verified: false, error: String(code), message: error.message }) + '\n');
    return 1;
  }
}

process.exitCode = main();
