// The checkpoint history, checked in the browser: each signed checkpoint against the
// audit key the auditor pinned (on an entry's page), and each one against the next newer
// one — a tree no larger, the same root at the same size (else a split view), and a
// consistency proof, fetched from the server but checked here against the roots the two
// signed notes carry. The server's word is not taken for any of it.
import { PIN, b64, parseVerifierKey, openCheckpoint, verifyConsistency } from "./tlog.js";

function say(state, text) {
  const box = document.getElementById("verdict");
  box.className = "verdict " + state;
  box.dataset.result = state;
  document.getElementById("verdict-text").textContent = text;
}

function mark(cell, ok, text) {
  cell.textContent = (ok ? "\u2713 " : "\u2717 ") + text;
  cell.className = "cp-verdict " + (ok ? "ok" : "fail");
}

async function consistencyProof(oldSize, newSize) {
  const resp = await fetch(`/audit/consistency/${oldSize}/${newSize}`, { credentials: "same-origin" });
  if (!resp.ok) throw new Error(`no consistency proof from the server (HTTP ${resp.status})`);
  const doc = await resp.json();
  if (doc.old_size !== oldSize || doc.new_size !== newSize || !Array.isArray(doc.proof)) {
    throw new Error("the server sent a proof for other trees");
  }
  return doc.proof.map(b64);
}

async function run() {
  const pinnedText = localStorage.getItem(PIN);
  const rows = Array.from(document.querySelectorAll("#checkpoints tbody tr"));
  if (!pinnedText) {
    say("warn", "未固定审计公钥：请先在任一审计条目页面固定公钥");
    return;
  }
  let pinned;
  try {
    pinned = await parseVerifierKey(pinnedText);
  } catch (err) {
    say("bad", "固定的公钥无效：" + err.message);
    return;
  }
  // Newest first. A row is checked against the nearest newer row whose signature held.
  let failures = 0, newer = null;
  for (const row of rows) {
    const cell = row.querySelector(".cp-verdict");
    try {
      const cp = await openCheckpoint(row.querySelector(".note-text").textContent, pinned);
      if (newer !== null) {
        const proof = cp.size < newer.size ? await consistencyProof(cp.size, newer.size) : [];
        await verifyConsistency(cp.size, newer.size, cp.root, newer.root, proof);
        mark(cell, true, `签名有效，与树大小 ${newer.size} 的检查点一致`);
      } else {
        mark(cell, true, "签名有效");
      }
      newer = cp;
    } catch (err) {
      failures++;
      mark(cell, false, err.message);
    }
  }
  if (failures) say("bad", `${failures} 个检查点未通过验证`);
  else say("good", `已在浏览器中验证 ${rows.length} 个检查点的签名及相邻检查点间的一致性证明（固定的审计公钥）`);
}

run();
