// Checks an audit entry in the browser, trusting nothing the server says about it:
// the entry's bytes hash to a leaf (RFC 6962: SHA-256(0x00 || body)); the audit path
// leads from that leaf to the root of a tree of the checkpoint's size (RFC 9162
// §2.1.3.2); the checkpoint (a C2SP signed note) is signed by the Ed25519 audit key the
// auditor pinned in this browser (WebCrypto). Any failure turns the page red.
import { PIN, b64, equal, leafHash, openCheckpoint, parseVerifierKey, rootFromProof } from "./tlog.js";

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
