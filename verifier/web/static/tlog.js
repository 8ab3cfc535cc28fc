// The audit log's formats, checked in the browser with WebCrypto and nothing else:
// RFC 6962 leaf hashes, RFC 9162 inclusion proofs (as audit/merkle.py), C2SP verifier
// keys and signed checkpoints (as audit/checkpoint.py), Ed25519 signatures.

export const PIN = "hedui.auditVerifierKey";
const enc = new TextEncoder();

export function b64(text) {
  const bin = atob(text);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

export function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}

export function equal(a, b) {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

export function hex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export async function sha256(bytes) {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
}

export const leafHash = (body) => sha256(concat(new Uint8Array([0]), body));
const nodeHash = (l, r) => sha256(concat(new Uint8Array([1]), l, r));

// RFC 9162 §2.1.3.2, as audit/merkle.py verify_inclusion.
export async function rootFromProof(leaf, index, size, proof) {
  if (index >= size) throw new Error("the entry is outside the checkpoint's tree");
  let fn = BigInt(index), sn = BigInt(size - 1), r = leaf;
  for (const p of proof) {
    if (sn === 0n) throw new Error("the proof is longer than the path to the root");
    if ((fn & 1n) === 1n || fn === sn) {
      r = await nodeHash(p, r);
      while (fn !== 0n && (fn & 1n) === 0n) { fn >>= 1n; sn >>= 1n; }
    } else {
      r = await nodeHash(r, p);
    }
    fn >>= 1n; sn >>= 1n;
  }
  if (sn !== 0n) throw new Error("the proof is shorter than the path to the root");
  return r;
}

// A verifier key: <name>+<hex key id>+<base64(0x01 || 32-byte Ed25519 key)>.
export async function parseVerifierKey(text) {
  // The base64 key may itself hold "+": split at the first one and after the 8-digit id.
  const m = /^([^+\s]+)\+([0-9a-f]{8})\+([A-Za-z0-9+/]+=*)$/.exec(text.trim());
  if (!m) throw new Error("the pinned key is not a verifier key");
  const [, name, id] = m;
  const raw = b64(m[3]);
  if (raw.length !== 33 || raw[0] !== 1) throw new Error("the pinned key is not an Ed25519 verifier key");
  const kid = (await sha256(concat(enc.encode(name), new Uint8Array([0x0a]), raw))).slice(0, 4);
  if (hex(kid) !== id) throw new Error("the pinned key's id does not match the key");
  const key = await crypto.subtle.importKey("raw", raw.slice(1), { name: "Ed25519" }, false, ["verify"]);
  return { name, kid, key };
}

// A C2SP checkpoint: "<origin>\n<size>\n<base64 root>\n" [extensions], blank line, signatures.
export async function openCheckpoint(note, pinned) {
  const split = note.lastIndexOf("\n\n");
  if (split < 0) throw new Error("the checkpoint has no signature block");
  const text = note.slice(0, split + 1);
  const lines = text.split("\n");
  const origin = lines[0], size = lines[1], root = b64(lines[2]);
  if (!/^(0|[1-9][0-9]*)$/.test(size) || root.length !== 32) throw new Error("the checkpoint is malformed");
  if (origin !== pinned.name) throw new Error("the checkpoint is for another log than the pinned key's");
  let verified = false;
  for (const line of note.slice(split + 2).split("\n")) {
    if (!line.startsWith("\u2014 ")) continue;
    const [name, sig] = line.slice(2).split(" ");
    if (name !== pinned.name || !sig) continue;
    const blob = b64(sig);
    if (!equal(blob.slice(0, 4), pinned.kid)) continue;
    if (!(await crypto.subtle.verify({ name: "Ed25519" }, pinned.key, blob.slice(4), enc.encode(text)))) {
      throw new Error("the checkpoint's signature by the pinned key does not verify");
    }
    verified = true;
  }
  if (!verified) throw new Error("the checkpoint carries no signature by the pinned key");
  return { size: Number(size), root };
}


// RFC 9162 §2.1.4.2, as audit/merkle.py verify_consistency: the tree of newSize/newRoot
// extends the tree of oldSize/oldRoot. Equal sizes need equal roots (else a split view).
export async function verifyConsistency(oldSize, newSize, oldRoot, newRoot, proof) {
  if (oldSize > newSize) throw new Error("out of order: a newer tree is smaller");
  if (oldSize === newSize || oldSize === 0) {
    if (proof.length) throw new Error("the consistency proof should be empty");
    if (oldSize === 0 && !equal(oldRoot, await sha256(new Uint8Array()))) {
      throw new Error("the empty tree's root is wrong");
    }
    if (oldSize === newSize && !equal(oldRoot, newRoot)) {
      throw new Error("split view: two signed trees of one size with different roots");
    }
    return;
  }
  const old = BigInt(oldSize);
  const seeded = (old & (old - 1n)) === 0n; // a perfect subtree: its root seeds the path
  const path = seeded ? [oldRoot, ...proof] : [...proof];
  if (!path.length) throw new Error("the consistency proof is empty");
  let fn = old - 1n, sn = BigInt(newSize - 1);
  while ((fn & 1n) === 1n) { fn >>= 1n; sn >>= 1n; }
  let fr = path[0], sr = path[0];
  for (const c of path.slice(1)) {
    if (sn === 0n) throw new Error("the consistency proof is longer than the path to the root");
    if ((fn & 1n) === 1n || fn === sn) {
      fr = await nodeHash(c, fr);
      sr = await nodeHash(c, sr);
      while (fn !== 0n && (fn & 1n) === 0n) { fn >>= 1n; sn >>= 1n; }
    } else {
      sr = await nodeHash(sr, c);
    }
    fn >>= 1n; sn >>= 1n;
  }
  if (sn !== 0n) throw new Error("the consistency proof is shorter than the path to the root");
  if (!equal(fr, oldRoot)) throw new Error("the older tree is not the start of the newer one");
  if (!equal(sr, newRoot)) throw new Error("the consistency proof does not lead to the newer root");
}
