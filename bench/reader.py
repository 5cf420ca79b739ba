"""The blind reader protocol: can a careful person tell the human continuation from the model's?

    python -m bench.reader deal --model models/default --out /tmp/reader-before [--rounds 45] [--seed 20261205]
    (a reader who has not seen the code or the test abstracts fills /tmp/reader-before/guesses.json)
    python -m bench.reader score --rounds /tmp/reader-before --label before

``deal`` builds the rounds exactly as the game deals them (``patentgen.game``: a test-split
abstract's first words as the seed, the human continuation and two samples of the game's
sampler, in random order), each from a different test abstract chosen by ``--seed``, and writes
``rounds.md`` (what the reader reads: no answers), ``guesses.json`` (a form: for every round a
guess 1-3, a reason written before the answer is seen, and the tells that decided it, from
``TELLS``), and ``key.json`` (the answers, the model and the sampler), which the reader must not
open (move it away, and give ``score --key`` its place). ``score`` checks the form and adds the session to ``bench/reader.json`` and
``bench/READER.md``: the reader's wins with a 95% interval, the tells ranked by how often they
decided a round the reader won, and every reason quoted.
"""

from __future__ import annotations

import argparse
import datetime
import json
import math
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
TELLS = {
    "grammar": "grammar breaks (a clause that does not parse, a wrong verb form)",
    "stutter": "words or phrases repeated back to back",
    "drift": "drift into another subject, odd rare words",
    "seed": "the seed's unfinished phrase completed wrongly",
    "reference": "no reference back to what was said; restarts",
    "junk": "noun piles, fragments, stray punctuation",
    "style": "style or register unlike a patent abstract",
    "other": "anything else (say what in the reason)",
}
PROTOCOL = """Each round shows the first words of a real patent abstract from the test split (never trained
on) and three continuations of the same length: the real one and two samples of the model, in
random order. The reader, who has not seen the code, the corpus or the answers, writes for
every round a guess (the option they think a human wrote), a reason, and the tells that decided
it, before any answer is shown; then `python -m bench.reader score` compares them with the key.
A reader guessing at random wins 1 round in 3."""


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson interval of a proportion k/n."""
    if n == 0:
        return 0.0, 1.0
    p = k / n
    centre, half = (p + z * z / (2 * n)) / (1 + z * z / n), z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def deal(model: str, out: Path, rounds: int, seed: int, data: str | None) -> None:
    from patentgen import game, runs

    run = runs.load_inference(model)
    play = game.from_run(run, data=data)
    if rounds > len(play.ids):
        raise SystemExit(f"error: only {len(play.ids)} test abstracts are playable; ask for at most that many --rounds")
    rng = np.random.default_rng(seed)
    dealt, seen = [], set()
    while len(dealt) < rounds:  # the game's own dealing, keeping one round per abstract
        found = play.new_round(rng)
        if found.doc_id not in seen:
            seen.add(found.doc_id)
            dealt.append(found)
    out.mkdir(parents=True, exist_ok=True)
    lines = ["# Which continuation did a human write?", "", PROTOCOL, "",
             "Tells to name in `guesses.json` (one or more per round): " + "; ".join(f"`{k}`: {v}" for k, v in TELLS.items()), ""]
    for number, found in enumerate(dealt, 1):
        lines += [f"## Round {number}", "", f"**Seed:** {found.seed} ...", ""]
        lines += [f"{i}. ... {text}" for i, text in enumerate(found.public()["options"], 1)] + [""]
    (out / "rounds.md").write_text("\n".join(lines))
    form = [{"round": n, "guess": None, "reason": "", "tells": []} for n in range(1, rounds + 1)]
    (out / "guesses.json").write_text(json.dumps(form, indent=1) + "\n")
    key = {"model": str(Path(model).resolve()), "sampler": play.rules.sampler, "band": [play.rules.low, play.rules.high],
           "seed": seed, "dealt": datetime.date.today().isoformat(),
           "rounds": [{"round": n, "doc_id": int(r.doc_id), "human": r.human,
                       "diversities": [o.diversity for o in r.options]} for n, r in enumerate(dealt, 1)]}
    (out / "key.json").write_text(json.dumps(key, indent=1) + "\n")
    print(f"wrote {out / 'rounds.md'} and the form {out / 'guesses.json'} for the reader; the answers are in {out / 'key.json'}")


def check_guesses(guesses: list[dict], rounds: int) -> None:
    if [g.get("round") for g in guesses] != list(range(1, rounds + 1)):
        raise SystemExit(f"error: guesses.json must list rounds 1 to {rounds} in order")
    for g in guesses:
        if g.get("guess") not in (1, 2, 3) or not str(g.get("reason", "")).strip():
            raise SystemExit(f"error: round {g['round']} needs a guess 1-3 and a reason")
        unknown = set(g.get("tells", [])) - set(TELLS)
        if unknown:
            raise SystemExit(f"error: round {g['round']} names unknown tells {sorted(unknown)}; use {', '.join(TELLS)}")


def score(folder: Path, label: str, reader: str, results: Path, key_file: Path | None = None) -> dict:
    key = json.loads((key_file or folder / "key.json").read_text())
    guesses = json.loads((folder / "guesses.json").read_text())
    check_guesses(guesses, len(key["rounds"]))
    won = [g["guess"] == k["human"] for g, k in zip(guesses, key["rounds"])]
    tells: dict[str, int] = {}
    for g, w in zip(guesses, won):
        for tell in g.get("tells", []) if w else []:
            tells[tell] = tells.get(tell, 0) + 1
    low, high = wilson(sum(won), len(won))
    session = {"label": label, "reader": reader, "scored": datetime.date.today().isoformat(), "model": key["model"],
               "sampler": key["sampler"], "band": key["band"], "seed": key["seed"], "rounds": len(won), "wins": sum(won),
               "win_rate": round(sum(won) / len(won), 4), "interval_95": [round(low, 4), round(high, 4)],
               "tells": dict(sorted(tells.items(), key=lambda kv: -kv[1])),
               "reasons": [{"round": g["round"], "won": w, "tells": g.get("tells", []), "reason": g["reason"].strip()}
                           for g, w in zip(guesses, won)]}
    sessions = [s for s in (json.loads(results.read_text()) if results.exists() else []) if s["label"] != label]
    sessions.append(session)
    results.write_text(json.dumps(sessions, indent=1) + "\n")
    (results.parent / "READER.md").write_text(markdown(sessions))
    return session


def markdown(sessions: list[dict]) -> str:
    lines = ["# The blind reader protocol", "", PROTOCOL, "",
             "Rounds are dealt and scored by `python -m bench.reader` (its docstring gives the commands); this file is "
             "written by `score` from `bench/reader.json`. Target: a careful reader wins at most 80% of rounds.", "",
             "| session | reader | model | sampler | rounds | reader won | 95% interval | target <= 80% |", "|---|---|---|---|---|---|---|---|"]
    for s in sessions:
        sampler = ", ".join(f"{k} {v}" for k, v in s["sampler"].items()) + f"; diversity {s['band'][0]}-{s['band'][1]}"
        lines.append(f"| {s['label']} ({s['scored']}) | {s['reader']} | `{s['model']}` | {sampler} | {s['rounds']} | {s['wins']} "
                     f"({100 * s['win_rate']:.0f}%) | {100 * s['interval_95'][0]:.0f}-{100 * s['interval_95'][1]:.0f}% | "
                     f"{'met' if s['win_rate'] <= 0.80 else 'NOT met'} |")
    for s in sessions:
        lines += ["", f"## {s['label']}: the tells that decided the rounds the reader won", ""]
        lines += [f"- {TELLS[t]} (`{t}`): {n} rounds" for t, n in s["tells"].items()] or ["- none named"]
        lines += ["", f"### {s['label']}: every reason, as written before the answer", ""]
        lines += [f"- round {r['round']} ({'won' if r['won'] else 'fooled'}; {', '.join(r['tells']) or 'no tell named'}): "
                  f"\"{r['reason']}\"" for r in s["reasons"]]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.reader", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    d = sub.add_parser("deal", help="write the rounds, the reader's form and the answer key")
    d.add_argument("--model", default=None, help="run folder (default: the shipped model)")
    d.add_argument("--data", help="the corpus the run was trained on, if not where it recorded")
    d.add_argument("--out", required=True, help="folder for rounds.md, guesses.json and key.json")
    d.add_argument("--rounds", type=int, default=45, help="rounds, each from a different test abstract (default: %(default)s)")
    d.add_argument("--seed", type=int, default=20261205, help="which abstracts and samples (default: %(default)s)")
    s = sub.add_parser("score", help="score a filled form and add it to bench/READER.md")
    s.add_argument("--rounds", required=True, help="the folder deal wrote, with the reader's guesses.json filled in")
    s.add_argument("--label", required=True, help="the session's name, e.g. before or after")
    s.add_argument("--key", help="the answer key, if it was moved out of the reader's folder (default: ROUNDS/key.json)")
    s.add_argument("--reader", default="a helper agent that had not seen the code", help="who read")
    s.add_argument("--results", default=str(HERE / "reader.json"), help="sessions file (default: %(default)s)")
    a = p.parse_args(argv)
    if a.command == "deal":
        from patentgen.config import DEFAULT_MODEL_DIR

        deal(a.model or str(DEFAULT_MODEL_DIR), Path(a.out), a.rounds, a.seed, a.data)
    else:
        found = score(Path(a.rounds), a.label, a.reader, Path(a.results), Path(a.key) if a.key else None)
        print(f"{a.label}: the reader won {found['wins']} of {found['rounds']} rounds ({100 * found['win_rate']:.0f}%); "
              f"wrote {Path(a.results).parent / 'READER.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
