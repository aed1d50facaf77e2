#!/usr/bin/env node
// Independent verifier for the tests: checks one Sigstore bundle offline with
// sigstore-js (@sigstore/verify) against a trusted root, never with signer's code.
//
//   node verify.js --bundle B.sigstore.json --trusted-root trusted_root.json
//                  (--artifact FILE | --digest ALG:HEX)
//                  [--certificate-identity SAN | --certificate-identity-regexp RE]
//                  [--certificate-oidc-issuer URL] [--key PEM]
//
// Prints one JSON line on stdout: {"verified": true, ...} and exits 0, or
// {"verified": false, "error": CODE, "message": TEXT} and exits 1. Bad arguments
// exit 2. Nothing is fetched from the network. 'node verify.js --batch' reads a JSON
// array of such argument lists on stdin and prints one line per list, each with its
// exitCode (2 lines carry "usage" instead of a verdict).
//
// A message-signature bundle needs --artifact (the signature is over its bytes). A
// DSSE bundle carries an in-toto statement; @sigstore/verify checks the envelope's
// signature but not what it is about, so the artifact's digest (or the given one:
// sha256, sha384 or sha512) must equal one subject's -- checked here, as a verifying
// client must. A regexp identity is a JavaScript RegExp, unanchored.
'use strict';

const crypto = require('node:crypto');
const fs = require('node:fs');
const { bundleFromJSON } = require('@sigstore/bundle');
const { TrustedRoot } = require('@sigstore/protobuf-specs');
const { Verifier, toSignedEntity, toTrustMaterial } = require('@sigstore/verify');

const IN_TOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json';
const DIGEST_ALGORITHMS = ['sha256', 'sha384', 'sha512'];
const DIGEST_PATTERN = /^(sha256:[0-9a-f]{64}|sha384:[0-9a-f]{96}|sha512:[0-9a-f]{128})$/;
const OPTIONS = {
  '--bundle': 'bundle',
  '--trusted-root': 'trustedRoot',
  '--artifact': 'artifact',
  '--digest': 'digest',
  '--certificate-identity': 'identity',
  '--certificate-identity-regexp': 'identityRegexp',
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
  if (args.identity !== undefined && args.identityRegexp !== undefined) {
    throw new UsageError('give at most one of --certificate-identity and its -regexp');
  }
  const identityGiven = args.identity !== undefined || args.identityRegexp !== undefined;
  if (args.key !== undefined && (identityGiven || args.issuer !== undefined)) {
    throw new UsageError('--key checks a key, not a certificate identity or issuer');
  }
  if (args.digest !== undefined && !DIGEST_PATTERN.test(args.digest)) {
    throw new UsageError('--digest must be sha256:, sha384: or sha512: and lower-case hex');
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

// The artifact's digests ({algorithm: hex}), and its bytes when it is a file.
function artifactInput(args) {
  if (args.digest !== undefined) {
    const [algorithm, hex] = args.digest.split(':');
    return { digests: { [algorithm]: hex }, bytes: undefined };
  }
  const bytes = fs.readFileSync(args.artifact);
  const digests = {};
  for (const algorithm of DIGEST_ALGORITHMS) {
    digests[algorithm] = crypto.createHash(algorithm).update(bytes).digest('hex');
  }
  return { digests, bytes };
}

// One of the in-toto statement's subjects must carry one of the artifact's digests.
function checkStatementSubject(envelope, digests) {
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
  const names = (s) => Object.entries(digests).some(
    ([algorithm, hex]) => s && s.digest && s.digest[algorithm] === hex);
  if (!subjects.some(names)) {
    throw new CheckError('STATEMENT_ERROR', 'no statement subject has the artifact\'s digest');
  }
  return statement;
}

function policyOf(args) {
  const policy = {};
  if (args.identity !== undefined) policy.subjectAlternativeName = args.identity;
  if (args.identityRegexp !== undefined) {
    policy.subjectAlternativeName = new RegExp(args.identityRegexp);
  }
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
    const statement = checkStatementSubject(bundle.content.dsseEnvelope, artifact.digests);
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

// One verification: its exit code (0, 1, or 2 for bad arguments) and its output line.
function runOne(argv) {
  try {
    return { exitCode: 0, line: verify(parseArguments(argv)) };
  } catch (error) {
    if (error instanceof UsageError) {
      return { exitCode: 2, usage: `verify.js: ${error.message}` };
    }
    const code = error.code || error.name || 'ERROR';
    return {
      exitCode: 1,
      line: { verified: false, error: String(code), message: error.message },
    };
  }
}

// --batch: a JSON array of argument lists on stdin, one output line each, in order,
// with its exitCode; one process for many bundles (node's start-up is most of a run).
function runBatch() {
  const jobs = JSON.parse(fs.readFileSync(0, 'utf8'));
  for (const argv of jobs) {
    const { exitCode, line, usage } = runOne(argv);
    process.stdout.write(JSON.stringify({ ...(line || { usage }), exitCode }) + '\n');
  }
  return 0;
}

function main() {
  const argv = process.argv.slice(2);
  if (argv.length === 1 && argv[0] === '--batch') return runBatch();
  const { exitCode, line, usage } = runOne(argv);
  if (usage !== undefined) process.stderr.write(usage + '\n');
  else process.stdout.write(JSON.stringify(line) + '\n');
  return exitCode;
}

process.exitCode = main();
