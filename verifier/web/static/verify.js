// Checks an audit entry in the browser, trusting nothing the server says about it:
// the entry's bytes hash to a leaf (RFC 6962: SHA-256(0x00 || body)); the audit path
// leads from that leaf to the root of a tree of the checkpoint's size (RFC 9162
// §2.1.3.2); the checkpoint (a C2SP signed note) is signed by the Ed25519 audit key the
// auditor pinned in this browser (WebCrypto). Any failure turns the page red.
"use strict";

const PIN = "hedui.auditVerifierKey";
const enc = new TextEncoder();

function b64(text) {
  const bin = atob(text);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
}

function equal(a, b) {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

function hex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

async function sha256(bytes) {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
}

const leafHash = (body) => sha256(concat(new Uint8Array([0]), body));
const nodeHash = (l, r) => sha256(concat(new Uint8Array([1]), l, r));

// RFC 9162 §2.1.3.2, as audit/merkle.py verify_inclusion.
async function rootFromProof(leaf, index, size, proof) {
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
async function parseVerifierKey(text) {
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
async function openCheckpoint(note, pinned) {
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

function show(state, text, steps) {
  const box = document.getElementById("verdict");
  box.className = "verdict " + state;
  box.dataset.result = state;
  document.getElementById("verdict-text").textContent = text;
  const list = document.getElementById("verdict-steps");
  list.replaceChildren(...steps.map(([ok, what]) => {
    const li = document.createElement("li");
    li.textContent = (ok ? "\u2713 " : "\u2717 ") + what;
    li.className = ok ? "ok" : "fail";
    return li;
  }));
}

async function run() {
  const box = document.getElementById("verdict");
  const steps = [];
  try {
    const resp = await fetch(box.dataset.proof, { credentials: "same-origin", cache: "no-store" });
    if (!resp.ok) throw new Error("the proof could not be fetched (HTTP " + resp.status + ")");
    const p = await resp.json();
    const body = b64(p.body);
    if (p.seq !== Number(box.dataset.seq)) throw new Error("the proof is for another entry");
    if (new TextDecoder().decode(body) !== document.getElementById("body").textContent) {
      throw new Error("the entry shown differs from the entry proved");
    }
    steps.push([true, "页面显示的条目与被证明的字节一致"]);
    const leaf = await leafHash(body);
    const root = await rootFromProof(leaf, p.seq, p.tree_size, p.proof.map(b64));
    steps.push([true, "包含证明从条目哈希推出树根（树大小 " + p.tree_size + "）"]);
    const pinnedText = localStorage.getItem(PIN);
    if (!pinnedText) {
      show("warn", "未固定审计公钥：无法验证检查点签名", steps);
      return;
    }
    const cp = await openCheckpoint(p.checkpoint, await parseVerifierKey(pinnedText));
    steps.push([true, "检查点签名由固定的审计公钥验证通过（Ed25519）"]);
    if (cp.size !== p.tree_size || !equal(cp.root, root)) {
      throw new Error("the proof's root is not the signed checkpoint's root");
    }
    steps.push([true, "树根与已签名检查点一致"]);
    show("good", "已在浏览器中验证：此条目包含在已签名的审计日志中", steps);
  } catch (err) {
    steps.push([false, err.message]);
    show("bad", "验证失败：此条目或其证明不可信", steps);
  }
}

document.addEventListener("DOMContentLoaded", () => {
  const input = document.getElementById("pinned-key");
  input.value = localStorage.getItem(PIN) || "";
  document.getElementById("pin").addEventListener("click", () => {
    localStorage.setItem(PIN, input.value.trim());
    run();
  });
  run();
});
