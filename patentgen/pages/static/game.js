// The game page's script (served from /static: the pages' policy allows no inline script).
"use strict";
const SCORE_KEY = "patentgen.score";  // the player's own score survives a reload (this browser only)
const PLAYER_KEY = "patentgen.player";  // this browser's anonymous player id: the server never deals it an abstract twice
let roundId = null, answered = true, busy = false, finished = false, left = null, right = 0, played = 0;

function randomId() {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, b => b.toString(16).padStart(2, "0")).join("");
}

let player = null;
try {
  player = localStorage.getItem(PLAYER_KEY);
  if (!/^[A-Za-z0-9_-]{8,64}$/.test(player || "")) { player = randomId(); localStorage.setItem(PLAYER_KEY, player); }
} catch (err) { player = player || randomId(); /* storage unavailable: an id for this page only */ }
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

class ApiError extends Error {
  constructor(message, status) { super(message); this.status = status; }
}

async function api(path, body) {
  const headers = {"X-Player-Id": player};
  const response = await fetch(path, body === undefined ? {headers} : {
    method: "POST", headers: {...headers, "Content-Type": "application/json"}, body: JSON.stringify(body)});
  const data = await response.json();
  if (!response.ok) throw new ApiError(data.error || response.statusText, response.status);
  return data;
}

function showLeft(total) {
  document.getElementById("left").textContent = left === 0
    ? "That was the last abstract you had not seen." : `${plural(left, "abstract")} of ${total} left for you after this one.`;
}

function showError(err) { document.getElementById("error").textContent = err.message; }

async function newRound() {
  if (busy || finished) return;
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
    left = round.left;
    showLeft(round.abstracts);
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
    if (err.status === 409) {  // every abstract was dealt to this player: the game is over for it, not an error
      finished = true;
      seed.textContent = err.message.charAt(0).toUpperCase() + err.message.slice(1) + ". Thank you for playing!";
      document.getElementById("left").textContent = "";
      document.getElementById("reveal").hidden = true;
      return;
    }
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
    document.getElementById("verdict").textContent = (reveal.correct
      ? "Right! You found the human text." : `Wrong: the human text was option ${reveal.human_option}.`) +
      (left === 0 ? " You have now seen every abstract of the game: there is no new one to deal. Thank you for playing!" : "");
    showScore();
    finished = left === 0;  // no round to ask for: the next one would only say so
    document.getElementById("next").hidden = finished;
    document.getElementById("reveal").hidden = false;
    if (!finished) document.getElementById("next").focus();
    loadStats();
  } catch (err) { showError(err); buttons.forEach(b => b.disabled = false); }
  finally { busy = false; }
}

function percent(x) { return (100 * x).toFixed(1) + "%"; }
function withInterval(p) { return `${percent(p.rate)} (95% CI ${percent(p.ci95[0])}–${percent(p.ci95[1])})`; }

async function loadStats() {
  try {
    const s = await api("/api/stats");
    const box = document.getElementById("stats");
    const summary = document.createElement("p");
    summary.textContent = s.overall === null ? "No rounds played yet: be the first." :
      `${plural(s.counted, "guess")} counted, by ${plural(s.players, "player")} on ${plural(s.overall.rounds, "distinct round")} ` +
      `(only a player's first guess on a round counts; ${s.informed} more from players who had already seen that abstract's answer ` +
      `are kept but not counted). Players found the human text ${withInterval(s.overall.human_found)} of the time; chance is 33.3%.`;
    const nodes = [summary];
    if (s.overall !== null) {
      const table = document.createElement("table");
      const head = table.insertRow();
      ["model diversity", "guesses", "players", "found the human text", "fool rate (model picked as human)"].forEach(t => {
        const th = document.createElement("th"); th.textContent = t; head.appendChild(th); });
      s.settings.forEach(r => {
        const row = table.insertRow();
        [`${r.setting.band[0]}–${r.setting.band[1]}`, r.guesses, r.players, withInterval(r.human_found), withInterval(r.fool_rate)]
          .forEach(v => { row.insertCell().textContent = v; });
      });
      nodes.push(table);
    }
    const you = document.createElement("p");
    you.textContent = `You: found the human text in ${s.you.found} of ${plural(s.you.played, "round")}; ${plural(s.you.left, "abstract")} left.`;
    nodes.push(you);
    box.replaceChildren(...nodes);
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
