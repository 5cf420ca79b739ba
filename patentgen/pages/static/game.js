// The game page's script (served from /static: the pages' policy allows no inline script).
"use strict";
const SCORE_KEY = "patentgen.score";  // the player's own score survives a reload (this browser only)
let roundId = null, answered = true, busy = false, right = 0, played = 0;
try {
  const saved = JSON.parse(localStorage.getItem(SCORE_KEY) || "null");
  if (saved && Number.isInteger(saved.right) && Number.isInteger(saved.played) && 0 <= saved.right && saved.right <= saved.played) {
    ({right, played} = saved);
  }
} catch (err) { /* storage unavailable or damaged: start from 0 */ }

function showScore() {
  document.getElementById("score").textContent = `Score: ${right} of ${played}`;
  document.getElementById("reset").hidden = played === 0;
  try { localStorage.setItem(SCORE_KEY, JSON.stringify({right, played})); } catch (err) { /* private mode */ }
}

function plural(n, word) { return `${n} ${word}${n === 1 ? "" : "s"}`; }

async function api(path, body) {
  const response = await fetch(path, body === undefined ? {} : {
    method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)});
  const data = await response.json();
  if (!response.ok) throw new Error(data.error || response.statusText);
  return data;
}

function showError(err) { document.getElementById("error").textContent = err.message; }

async function newRound() {
  if (busy) return;
  busy = true;
  document.getElementById("error").textContent = "";
  document.getElementById("reveal").hidden = true;
  const options = document.getElementById("options");
  options.replaceChildren();
  const seed = document.getElementById("seed");
  seed.textContent = "Dealing a round";
  seed.className = "loading";
  seed.setAttribute("aria-busy", "true");
  try {
    const round = await api("/api/rounds", {});
    roundId = round.id;
    answered = false;
    seed.className = "";
    seed.removeAttribute("aria-busy");
    seed.textContent = round.seed + " ...";
    round.options.forEach((text, i) => {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "option";
      button.id = "option-" + (i + 1);
      button.textContent = "..." + text;
      button.addEventListener("click", () => guess(i + 1));
      options.appendChild(button);
    });
  } catch (err) {
    seed.className = "";
    seed.removeAttribute("aria-busy");
    seed.textContent = "";
    showError(err);
    document.getElementById("reveal").hidden = false;  // "Next round" tries again
    document.getElementById("verdict").textContent = "";
  } finally { busy = false; }
}

async function guess(option) {
  if (busy || answered || !roundId) return;
  busy = true;
  const buttons = document.querySelectorAll(".option");
  buttons.forEach(b => b.disabled = true);
  try {
    const reveal = await api(`/api/rounds/${roundId}/guess`, {option});
    answered = true;
    played += 1;
    if (reveal.correct) right += 1;
    reveal.options.forEach(o => {
      const button = document.getElementById("option-" + o.option);
      button.classList.add(o.source);
      if (o.option === reveal.choice) button.classList.add("chosen");
      const label = document.createElement("span");
      label.className = "label";
      label.textContent = o.source === "human" ? "human" : `model, diversity ${o.diversity.toFixed(2)}`;
      button.prepend(label);
    });
    document.getElementById("verdict").textContent = reveal.correct
      ? "Right! You found the human text." : `Wrong: the human text was option ${reveal.human_option}.`;
    showScore();
    document.getElementById("reveal").hidden = false;
    document.getElementById("next").focus();
    loadStats();
  } catch (err) { showError(err); buttons.forEach(b => b.disabled = false); }
  finally { busy = false; }
}

async function loadStats() {
  try {
    const s = await api("/api/stats");
    const box = document.getElementById("stats");
    const summary = document.createElement("p");
    summary.textContent = s.played === 0 ? "No rounds played yet: be the first." :
      `${plural(s.played, "round")} played by ${plural(s.clients, "player")} (distinct addresses); ` +
      `players found the human text ${(100 * s.human_rate).toFixed(1)}% of the time (chance: 33.3%).`;
    const table = document.createElement("table");
    const head = table.insertRow();
    ["model diversity", "shown", "picked as human", "fool rate"].forEach(t => {
      const th = document.createElement("th"); th.textContent = t; head.appendChild(th); });
    s.fool_rate_by_diversity.forEach(b => {
      const row = table.insertRow();
      [b.band, b.shown, b.picked, b.fool_rate === null ? "n/a" : (100 * b.fool_rate).toFixed(1) + "%"]
        .forEach(v => { row.insertCell().textContent = v; });
    });
    box.replaceChildren(...(s.played === 0 ? [summary] : [summary, table]));
  } catch (err) { showError(err); }
}

document.getElementById("next").addEventListener("click", newRound);
document.getElementById("reset").addEventListener("click", () => { right = 0; played = 0; showScore(); });
document.addEventListener("keydown", event => {
  if (event.altKey || event.ctrlKey || event.metaKey || event.target.closest("input, textarea, select")) return;
  if (["1", "2", "3"].includes(event.key) && !answered) { event.preventDefault(); guess(Number(event.key)); }
  else if ((event.key === "n" || event.key === "N") && answered) { event.preventDefault(); newRound(); }
});
showScore();
newRound();
loadStats();
