// The checkpoint history, checked in the browser: each signed checkpoint against the
// audit key the auditor pinned (on an entry's page), and each one's tree no smaller than
// the next older one's. The server's word is not taken for any of it.
import { PIN, parseVerifierKey, openCheckpoint } from "./tlog.js";

function say(state, text) {
  const box = document.getElementById("verdict");
  box.className = "verdict " + state;
  box.dataset.result = state;
  document.getElementById("verdict-text").textContent = text;
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
  let failures = 0, previous = null;
  for (const row of rows) {
    const cell = row.querySelector(".cp-verdict");
    try {
      const cp = await openCheckpoint(row.querySelector(".note-text").textContent, pinned);
      if (previous !== null && cp.size > previous) throw new Error("out of order: a newer tree is smaller");
      previous = cp.size;
      cell.textContent = "\u2713 签名有效";
      cell.className = "cp-verdict ok";
    } catch (err) {
      failures++;
      cell.textContent = "\u2717 " + err.message;
      cell.className = "cp-verdict fail";
    }
  }
  if (failures) say("bad", `${failures} 个检查点未通过验证`);
  else say("good", `已在浏览器中验证 ${rows.length} 个检查点的签名（固定的审计公钥）`);
}

run();
