// The generate page's script (served from /static: the pages' policy allows no inline script).
"use strict";
const slider = document.getElementById("diversity");
slider.addEventListener("input", () => {
  document.getElementById("diversity-value").textContent = Number(slider.value).toFixed(2); });
const output = document.getElementById("output"), status = document.getElementById("status"),
      go = document.getElementById("go");
function busy(on) {
  go.disabled = on;
  status.textContent = on ? "Generating" : "";
  status.className = on ? "loading" : "";
  output.setAttribute("aria-busy", String(on));
}
document.getElementById("form").addEventListener("submit", async event => {
  event.preventDefault();
  document.getElementById("error").textContent = "";
  output.textContent = "";  // never leave an old text under a new error
  const words = document.getElementById("words");
  if (!words.checkValidity() || words.value === "") {
    document.getElementById("error").textContent = `Words must be a whole number from ${words.min} to ${words.max}.`;
    return;
  }
  const body = {seed: document.getElementById("seed").value, diversity: Number(slider.value),
                words: Number(words.value)};
  const strategy = document.getElementById("strategy").value;
  const strategyValue = document.getElementById("strategy-value").value;
  if (strategy === "full") body.full = true;
  else if (strategy) body[strategy] = Number(strategyValue);
  for (const name of ["repetition_penalty", "no_repeat_ngram", "phrase_cache", "word_cache", "random_seed"]) {
    const value = document.getElementById(name).value;
    if (value !== "") body[name] = Number(value);
  }
  busy(true);
  try {
    const response = await fetch("/api/generate", {method: "POST",
      headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)});
    const data = await response.json();
    if (!response.ok) throw new Error(data.error || response.statusText);
    document.getElementById("output").textContent = data.text;
    if (data.unknown.length) document.getElementById("error").textContent =
      "Not in the vocabulary, read as unknown: " + data.unknown.join(", ");
  } catch (err) { document.getElementById("error").textContent = err.message; }
  finally { busy(false); }
});
