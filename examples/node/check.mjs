// A case-management system's client of hedui, written from the proto and its comments
// alone: mTLS, register a 授权书, submit a check, watch it, fetch the signed report,
// verify its DSSE signature with Node's own crypto against the published JWKS, and read
// the field violations of a refused request from google.rpc.BadRequest.
//
//   node check.mjs HOUSEHOLD.json CONSENT.json
//
// The two files are protobuf's canonical JSON mapping of CreateVerificationRequest and
// Consent (`hedui sandbox export` writes a sandbox household in that form).
// Environment: HEDUI_ADDRESS (host:port), HEDUI_CA, HEDUI_CERT, HEDUI_KEY (PEM files of
// the CA and of this system's client certificate), HEDUI_USER (the end user), HEDUI_ROLE.
// Prints one JSON summary line on stdout; exits 0 only if the report verifies.

import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

import grpc from "@grpc/grpc-js";
import protoLoader from "@grpc/proto-loader";
import protobuf from "protobufjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const includeDirs = [
  path.join(here, "..", "..", "proto"),
  path.join(here, "..", "..", "third_party", "googleapis"),
];

// Canonical JSON spells fields in lowerCamelCase, enums by name and int64 as strings;
// these loader options make the generated objects read and write exactly that.
const loaderOptions = { keepCase: false, longs: String, enums: String, defaults: true, oneofs: true, includeDirs };

function loadService(file) {
  const definition = protoLoader.loadSync(file, loaderOptions);
  return grpc.loadPackageDefinition(definition).hedui.v1;
}

function env(name) {
  const value = process.env[name];
  if (!value) throw new Error(`environment variable ${name} is required`);
  return value;
}

// ---- rich errors: google.rpc.Status in the grpc-status-details-bin trailer -------------

const rpcRoot = new protobuf.Root();
rpcRoot.resolvePath = (_origin, target) => {
  for (const dir of includeDirs) {
    const candidate = path.join(dir, target);
    if (fs.existsSync(candidate)) return candidate;
  }
  return target;
};
rpcRoot.loadSync(["google/rpc/status.proto", "google/rpc/error_details.proto"]);
const Status = rpcRoot.lookupType("google.rpc.Status");

function richError(err) {
  const raw = err.metadata?.get("grpc-status-details-bin")?.[0];
  if (!raw) return { code: err.code, message: err.details, details: [] };
  const status = Status.decode(raw);
  const details = status.details.map((any) => {
    const typeName = any.type_url.slice(any.type_url.lastIndexOf("/") + 1);
    const type = rpcRoot.lookupType(typeName);
    return { type: typeName, value: type.toObject(type.decode(any.value), { enums: String }) };
  });
  return { code: status.code, message: status.message, details };
}

function violations(error) {
  const badRequest = error.details.find((d) => d.type === "google.rpc.BadRequest");
  return badRequest ? badRequest.value.fieldViolations.map((v) => v.field) : [];
}

// ---- DSSE (https://github.com/secure-systems-lab/dsse): PAE and Ed25519 ------------------

function pae(payloadType, payload) {
  const type = Buffer.from(payloadType, "utf8");
  return Buffer.concat([
    Buffer.from(`DSSEv1 ${type.length} `, "utf8"),
    type,
    Buffer.from(` ${payload.length} `, "utf8"),
    payload,
  ]);
}

function verifyEnvelope(envelopeBytes, jwks) {
  const envelope = JSON.parse(Buffer.from(envelopeBytes).toString("utf8"));
  const payload = Buffer.from(envelope.payload, "base64");
  const message = pae(envelope.payloadType, payload);
  const verifiedBy = [];
  for (const signature of envelope.signatures) {
    const jwk = jwks.keys.find((k) => k.kid === signature.keyid);
    if (!jwk) continue;
    if (jwk.kty !== "OKP" || jwk.crv !== "Ed25519") continue; // other algorithms: not checked here
    const key = crypto.createPublicKey({ key: { kty: jwk.kty, crv: jwk.crv, x: jwk.x }, format: "jwk" });
    // keyid is the lowercase hex SHA-256 of the raw 32-byte public key.
    const raw = Buffer.from(jwk.x, "base64url");
    if (crypto.createHash("sha256").update(raw).digest("hex") !== signature.keyid) continue;
    if (crypto.verify(null, message, key, Buffer.from(signature.sig, "base64"))) {
      verifiedBy.push(signature.keyid);
    }
  }
  return { verifiedBy, payloadType: envelope.payloadType, document: JSON.parse(payload.toString("utf8")) };
}

// ---- the calls ----------------------------------------------------------------------------

function unary(client, method, request, metadata, deadlineSeconds = 60) {
  return new Promise((resolve, reject) => {
    client[method](request, metadata, { deadline: Date.now() + deadlineSeconds * 1000 }, (err, response) =>
      err ? reject(err) : resolve(response),
    );
  });
}

async function main() {
  const [householdFile, consentFile] = process.argv.slice(2);
  if (!householdFile || !consentFile) throw new Error("usage: node check.mjs HOUSEHOLD.json CONSENT.json");
  const household = JSON.parse(fs.readFileSync(householdFile, "utf8"));
  const consent = JSON.parse(fs.readFileSync(consentFile, "utf8"));

  const credentials = grpc.credentials.createSsl(
    fs.readFileSync(env("HEDUI_CA")),
    fs.readFileSync(env("HEDUI_KEY")),
    fs.readFileSync(env("HEDUI_CERT")),
  );
  const address = env("HEDUI_ADDRESS");
  const v1 = {
    ...loadService("hedui/v1/verification.proto"),
    ...loadService("hedui/v1/consent.proto"),
    ...loadService("hedui/v1/keys.proto"),
  };
  const verifications = new v1.VerificationService(address, credentials);
  const consents = new v1.ConsentService(address, credentials);
  const keys = new v1.KeyService(address, credentials);

  // The calling system is the client certificate's CN; the end user and role travel as
  // metadata; x-request-id ties hedui's logs and audit entries to ours.
  const metadata = (requestId) => {
    const md = new grpc.Metadata();
    md.set("x-hedui-user", env("HEDUI_USER"));
    md.set("x-hedui-role", process.env.HEDUI_ROLE || "caseworker");
    md.set("x-request-id", requestId);
    return md;
  };

  const summary = {};
  const registered = await unary(consents, "RegisterConsent", { consent }, metadata("node-consent-1"));
  summary.consent = registered.consent.number;
  // Calendar dates are google.type.Date: {year, month, day}, not strings.
  const from = registered.consent.validFrom;
  summary.consentValidFrom = `${from.year}-${String(from.month).padStart(2, "0")}-${String(from.day).padStart(2, "0")}`;

  // Registering the same 授权书 again with the same content answers with the existing one.
  const again = await unary(consents, "RegisterConsent", { consent }, metadata("node-consent-2"));
  summary.consentAgain = again.consent.number;

  const created = await unary(
    verifications,
    "CreateVerification",
    { ...household, wait: false },
    metadata(`node-${household.requestId}`),
  );
  const verificationId = created.verification.verificationId;
  summary.verificationId = verificationId;

  // Watch until every source has answered (banks answer later: the report gains versions).
  const reportVersions = [];
  const eventTimes = [];
  await new Promise((resolve, reject) => {
    const call = verifications.WatchVerification({ verificationId }, metadata("node-watch"), {
      deadline: Date.now() + 120_000,
    });
    call.on("data", (event) => {
      // eventTime is a google.protobuf.Timestamp: int64 seconds (a string here) and nanos.
      eventTimes.push(new Date(Number(event.eventTime.seconds) * 1000 + event.eventTime.nanos / 1e6));
      if (event.reportIssued) reportVersions.push(event.reportIssued.version);
      if (event.stateChanged === "VERIFICATION_STATE_DONE") call.cancel();
    });
    call.on("error", (err) => (err.code === grpc.status.CANCELLED ? resolve() : reject(err)));
    call.on("end", resolve);
  });
  summary.reportVersions = reportVersions;
  summary.eventsTimed = eventTimes.length > 0 && eventTimes.every((t) => t.getTime() > 0);

  // The verification as stored: create_time is a Timestamp, the window and due date are
  // google.type.Date ({year, month, day}).
  const got = await unary(verifications, "GetVerification", { verificationId }, metadata("node-get"));
  summary.created = new Date(Number(got.verification.createTime.seconds) * 1000).toISOString();

  const report = await unary(verifications, "GetReport", { verificationId }, metadata("node-report"));
  const { jwksJson } = await unary(keys, "ListKeys", {}, metadata("node-keys"));
  const checked = verifyEnvelope(report.envelope, JSON.parse(jwksJson));
  summary.payloadType = checked.payloadType;
  summary.verifiedBy = checked.verifiedBy;
  summary.reportSchema = checked.document.schema;
  summary.reportVersion = checked.document.version;

  // A refused request: the reason is a google.rpc.BadRequest naming the field.
  try {
    const bad = structuredClone(household);
    bad.requestId = `${household.requestId}-bad`;
    bad.household.regionCode = `${bad.household.regionCode}\n`;
    await unary(verifications, "CreateVerification", bad, metadata("node-bad"));
    summary.badRequest = { code: "OK" };
  } catch (err) {
    const error = richError(err);
    summary.badRequest = { code: grpc.status[error.code], fields: violations(error) };
  }

  for (const client of [verifications, consents, keys]) client.close();
  process.stdout.write(`${JSON.stringify(summary)}\n`);
  return summary.verifiedBy.length > 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err) => {
    const error = err.metadata ? richError(err) : { message: String(err.message || err) };
    process.stderr.write(`hedui client example failed: ${JSON.stringify(error)}\n`);
    process.exit(2);
  },
);
