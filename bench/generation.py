"""Generation quality, measured: each sampler setting's text against the human continuation.

    python -m bench.generation                        # the shipped model, every setting (about 25 min on 2 cores)
    python -m bench.generation --quick                # 3 settings, few documents: a smoke test

For every test-split abstract, the first 50 words are the seed and the next 50 the human
reference, cut as the game cuts them (before a word the model could not write, at least 30
left); each sampler setting writes one continuation of the same length per seed. Measured per
setting (and for the human text, the first row):

- repetition: share of the continuation's 4-grams that already occurred in it, and in seed +
  continuation;
- distinct-1 / distinct-2 across all samples; mean word length; mean sentence length;
- mean log-probability per word under the model, and under Kneser-Ney 5 fitted on the training
  split (an independent judge), both open-vocabulary;
- the game judges' best hit rates (``bench.game_judges``) on rounds built with that setting;
- a trained judge: logistic regression (scikit-learn) on word 1-2-gram and character 2-5-gram
  features, trained on human vs model continuations of training-split abstracts and tested on
  test-split ones: its accuracy (chance 50%), and how often it finds the human in game rounds.

Writes ``GENERATION.md``, ``generation.json`` and ``generation.png`` (repetition and judge
accuracy against temperature) into ``--out`` (default: bench/).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

from bench import game_judges
from patentgen import cache, game, generation, ngram, runs, sampling
from patentgen.config import DEFAULT_MODEL_DIR, DEFAULT_SAMPLER
from patentgen.inference import log_softmax
from patentgen.tokenizer import detokenize

SEED_WORDS = CONT_WORDS = 50
FITTED = "fitted"  # a setting's cache weights fitted on validation text (``fit_caches``)
SETTINGS = [  # (label, sampler description); temperature rows first, for the plot
    *[(f"temperature {t}", {"temperature": t}) for t in (0.5, 0.7, 0.8, 0.9, 1.0, 1.1, 1.25)],
    ("top-k 40", {"top_k": 40}),
    ("top-p 0.9", {"top_p": 0.9}),
    ("top-p 0.95", {"top_p": 0.95}),
    ("min-p 0.05", {"min_p": 0.05}),
    ("typical 0.9", {"typical_p": 0.9}),
    ("temperature 0.5, repetition penalty 1.3", {"temperature": 0.5, "repetition_penalty": 1.3}),
    ("temperature 0.5, no repeated 3-gram", {"temperature": 0.5, "no_repeat_ngram": 3}),
    ("temperature 0.8, repetition penalty 1.2", {"temperature": 0.8, "repetition_penalty": 1.2}),
    ("temperature 0.8, no repeated 4-gram", {"temperature": 0.8, "no_repeat_ngram": 4}),
    ("temperature 0.5, caches fitted on validation", {"temperature": 0.5, FITTED: True}),
    ("temperature 0.9, caches fitted on validation", {"temperature": 0.9, FITTED: True}),
    ("temperature 1.0, caches fitted on validation", {"temperature": 1.0, FITTED: True}),
    ("the default sampler (generate.py)", dict(DEFAULT_SAMPLER)),
    ("the default sampler at 0.85, critic-guided (8 candidates)", {**DEFAULT_SAMPLER, "temperature": 0.85, "critic": 8}),
    ("temperature 1.1, top-p 0.95", {"temperature": 1.1, "top_p": 0.95}),
    ("the game's sampler", {**game.GAME_SAMPLER, "band": list(game.GAME_BAND)}),
]
QUICK = SETTINGS[2:3] + SETTINGS[8:9] + SETTINGS[16:17]


# ----- text statistics ---------------------------------------------------------------------
def repetition(cont: list[str], seed: list[str], n: int = 4) -> tuple[float, float]:
    """(share of the continuation's n-grams already in it, ... already in seed + continuation)."""
    inside = game_judges.repeated_share(cont, n)
    seen = {tuple(seed[i : i + n]) for i in range(len(seed) - n + 1)}
    grams = [tuple(cont[i : i + n]) for i in range(len(cont) - n + 1)]
    hits = 0
    for i, gram in enumerate(grams):
        hits += gram in seen or gram in grams[:i]
    return inside, hits / len(grams) if grams else 0.0


def distinct(samples: list[list[str]], n: int) -> float:
    grams = [tuple(s[i : i + n]) for s in samples for i in range(len(s) - n + 1)]
    return len(set(grams)) / len(grams) if grams else 0.0


def text_stats(pairs: list[tuple[list[str], list[str]]], is_oov=None) -> dict:
    """pairs: (seed tokens, continuation tokens); ``is_oov`` tells out-of-vocabulary words."""
    reps = np.array([repetition(c, s) for s, c in pairs])
    conts = [c for _, c in pairs]
    words = [w for c in conts for w in c if w[:1].isalpha()]
    sentences = sum(sum(w in (".", "?", "!") for w in c) for c in conts)
    return {
        "rep4": float(reps[:, 0].mean()), "rep4_with_seed": float(reps[:, 1].mean()),
        "repeated_words": float(np.mean([1 - len(set(c)) / max(len(c), 1) for c in conts])),
        "distinct1": distinct(conts, 1), "distinct2": distinct(conts, 2),
        "word_length": float(np.mean([len(w) for w in words])) if words else 0.0,
        "sentence_length": sum(len(c) for c in conts) / max(sentences, 1),
        "oov_share": float(np.mean([is_oov(w) for c in conts for w in c])) if is_oov else None,
    }


class KNJudge:
    """Kneser-Ney 5 on the training split: mean log-probability per word of a continuation."""

    def __init__(self, run, train_docs: list[list[str]]):
        self.run = run
        ids = [np.asarray(run.tokenizer.document_ids(d), np.int64) for d in train_docs]
        self.model = ngram.KneserNey(ids, len(run.tokenizer), 5)

    def word_logprobs(self, seed: list[str], cont: list[str]) -> np.ndarray:
        """(len(cont),) open-vocabulary log-probability of each continuation word after its 4 predecessors."""
        tok = self.run.tokenizer
        ids = np.asarray(tok.document_ids(seed + cont), np.int64)
        spelling = tok.spelling_logprobs(seed + cont)
        at = np.arange(len(seed) + 1, len(ids))
        contexts = np.stack([np.pad(ids[max(0, j - 4) : j], (4 - min(j, 4), 0), constant_values=-1) for j in at])
        return self.model.logprob(contexts, ids[at]) + np.asarray(spelling)[at]

    def logprob(self, seed: list[str], cont: list[str]) -> float:
        return float(self.word_logprobs(seed, cont).mean())


def fit_caches(run, docs: list[list[str]], words: int = SEED_WORDS + CONT_WORDS) -> dict:
    """The word- and phrase-cache weights (``patentgen.cache``) that maximise the likelihood of
    the first ``words`` words of ``docs`` (validation text), each word after all the words of its
    document before it (as in generation), and the log-likelihood per word with and without them."""
    p_net, histories, targets = [], [], []
    for doc in docs:
        ids = np.asarray(run.tokenizer.document_ids(doc[:words]))
        hidden, _ = run.lm.hidden(ids[None, :-1])
        logp = log_softmax(run.lm.logits(hidden[0]).astype(np.float64))  # (T, V)
        for t in range(1, len(ids) - 1):
            p_net.append(np.exp(logp[t, ids[t + 1]]))
            histories.append(list(ids[1 : t + 1]))
            targets.append(int(ids[t + 1]))
    found = cache.features(np.asarray(p_net), histories, targets)
    fitted, with_, without = cache.fit(found, np.arange(0.0, 0.8, 0.05), np.arange(0.0, 0.5, 0.025))
    return {"phrase_cache": fitted.phrase, "word_cache": fitted.word, "loglik_with": with_,
            "loglik_without": without, "targets": len(targets)}


def model_logprob(run, seed: list[str], cont: list[str]) -> float:
    return generation.score_tokens(run, cont, seed).total / len(cont)


# ----- the trained judge -------------------------------------------------------------------
def trained_judge(train_pairs, test_pairs, seed: int = 0):
    """Logistic regression on word and character n-grams. ``*_pairs``: lists of (human text,
    model text). Returns (accuracy on the test texts, the fitted pipeline)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline, make_union

    features = make_union(
        TfidfVectorizer(analyzer="word", ngram_range=(1, 2), min_df=2, sublinear_tf=True, token_pattern=r"(?u)\b\w+\b|[.,;?]"),
        TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), min_df=3, sublinear_tf=True),
    )
    judge = make_pipeline(features, LogisticRegression(C=4.0, max_iter=2000, random_state=seed))
    texts = [t for pair in train_pairs for t in pair]
    labels = [1, 0] * len(train_pairs)
    judge.fit(texts, labels)
    test_texts = [t for pair in test_pairs for t in pair]
    accuracy = float((judge.predict(test_texts) == np.array([1, 0] * len(test_pairs))).mean())
    return accuracy, judge


class ReaderFeatures:
    """Dense features of a shown continuation for the neural judge, what a careful reader
    notices: words said twice back to back, repeated 4-grams, and how plausible its word
    sequences are to Kneser-Ney 5 fitted on the training split (mean, weakest word, share of
    words below 1/1000: grammar breaks and odd rare words show there). The text is read back
    into words as the tokenizer reads any text, so game options and benchmark pairs alike."""

    def __init__(self, kn: "KNJudge"):
        self.kn = kn

    def __call__(self, shown_texts: list[str]) -> np.ndarray:
        rows = []
        for text in shown_texts:
            cont = self.kn.run.tokenizer.text_to_tokens(text)
            logps = self.kn.word_logprobs([], cont)
            stutters = sum(a == b for a, b in zip(cont, cont[1:]))
            rows.append([logps.mean(), logps.min(), float((logps < np.log(1e-3)).mean()), stutters / len(cont),
                         game_judges.repeated_share(cont, 4)])
        return np.asarray(rows)


def neural_judge(train_pairs, test_pairs, reader: ReaderFeatures, seed: int = 0):
    """A small neural classifier (scikit-learn's MLP, one hidden layer of 64) on hashed word
    1-3-grams and character 2-5-grams of the shown text, beside ``reader``'s dense features.
    ``*_pairs``: lists of (human text, model text). Returns (accuracy on the test texts, judge)."""
    from scipy.sparse import csr_matrix, hstack
    from sklearn.feature_extraction.text import HashingVectorizer, TfidfTransformer
    from sklearn.neural_network import MLPClassifier
    from sklearn.preprocessing import StandardScaler

    words = HashingVectorizer(analyzer="word", ngram_range=(1, 3), n_features=2**18, alternate_sign=False,
                              token_pattern=r"(?u)\b\w+\b|[.,;?]")
    chars = HashingVectorizer(analyzer="char_wb", ngram_range=(2, 5), n_features=2**18, alternate_sign=False)
    tfidf_w, tfidf_c, scale = TfidfTransformer(sublinear_tf=True), TfidfTransformer(sublinear_tf=True), StandardScaler()

    def matrix(texts, fit=False):
        parts = [(tfidf_w.fit_transform if fit else tfidf_w.transform)(words.transform(texts)),
                 (tfidf_c.fit_transform if fit else tfidf_c.transform)(chars.transform(texts)),
                 csr_matrix((scale.fit_transform if fit else scale.transform)(reader(texts)))]
        return hstack(parts).tocsr()

    texts = [t for pair in train_pairs for t in pair]
    net = MLPClassifier(hidden_layer_sizes=(64,), alpha=1e-3, max_iter=60, early_stopping=True, random_state=seed)
    net.fit(matrix(texts, fit=True), [1, 0] * len(train_pairs))

    class Judge:
        def predict_proba(self, shown_texts):
            return net.predict_proba(matrix(list(shown_texts)))

    test_texts = [t for pair in test_pairs for t in pair]
    accuracy = float((net.predict(matrix(test_texts)) == np.array([1, 0] * len(test_pairs))).mean())
    return accuracy, Judge()


def judge_rounds(judge, rounds: list[game_judges.Played]) -> float:
    """How often the trained judge's most human-looking option is the human one."""
    hits = 0
    for rnd in rounds:
        p_human = judge.predict_proba(rnd.options)[:, 1]
        hits += int(np.argmax(p_human)) == rnd.human
    return hits / len(rounds) if rounds else 0.0


# ----- one setting -------------------------------------------------------------------------
def continuations(run, pairs: list[tuple[list[str], list[str]]], sampler, rng, band=None) -> list[list[str]]:
    """One continuation per (seed, human continuation), of the human one's length; with a
    ``band``, each at a temperature drawn from it, as in the game."""
    out = []
    for seed, human in pairs:
        drawn = sampler if band is None else sampler.with_temperature(round(float(rng.uniform(*band)), 2))
        out.append(generation.continue_text(run, seed, len(human), rng, drawn).words)
    return out


def game_pairs(run, docs: list[list[str]]) -> list[tuple[list[str], list[str]]]:
    """(first 50 words, the next up to 50) of each document, the continuation cut before any word
    the model could not write (``game.playable_words``); documents left with fewer than 30 are dropped."""
    rules = game.Rules(seed_words=SEED_WORDS, max_words=CONT_WORDS)
    out = []
    for doc in docs:
        n = game.playable_words(doc, SEED_WORDS, CONT_WORDS, run.tokenizer.can_write)
        if n >= rules.min_words:
            out.append((doc[:SEED_WORDS], doc[SEED_WORDS : SEED_WORDS + n]))
    return out


def shown(seed: list[str], cont: list[str]) -> str:
    return game.display(cont, seed)


def measure(run, desc: dict, test, train, kn: KNJudge, features, data, rounds: int, seed: int) -> dict:
    """One setting's row. ``desc``: a sampler description, or one with ``"band": [low, high]``
    in place of the temperature (drawn for each continuation, as in the game)."""
    desc = dict(desc)
    band = desc.pop("band", None)
    sampler = sampling.from_description({**desc, "temperature": desc.get("temperature", np.mean(band) if band else 1.0)})
    rng = np.random.default_rng(seed)
    start = time.perf_counter()
    samples = continuations(run, test, sampler, rng, band)
    pairs = [(seed, sample) for (seed, _), sample in zip(test, samples)]
    row = text_stats(pairs, run.tokenizer.is_oov)
    row["model_logprob"] = float(np.mean([model_logprob(run, s, c) for s, c in pairs]))
    row["kn5_logprob"] = float(np.mean([kn.logprob(s, c) for s, c in pairs]))
    train_samples = continuations(run, train, sampler, rng, band)
    accuracy, judge = trained_judge(
        [(shown(s, h), shown(s, m)) for (s, h), m in zip(train, train_samples)],
        [(shown(s, h), shown(s, m)) for (s, h), m in zip(test, samples)], seed)
    row["judge_accuracy"] = accuracy
    train_shown = [(shown(s, h), shown(s, m)) for (s, h), m in zip(train, train_samples)]
    test_shown = [(shown(s, h), shown(s, m)) for (s, h), m in zip(test, samples)]
    row["neural_judge_accuracy"], neural = neural_judge(train_shown, test_shown, ReaderFeatures(kn), seed)
    play = game_judges.build_game(run, data, {k: v for k, v in desc.items() if k != "temperature"},
                                  tuple(band) if band else (sampler.temperature,) * 2)
    dealt = game_judges.deal(play, rounds, seed)
    best = game_judges.verdicts(game_judges.judge(dealt, features, seed=seed))
    row["judge_in_rounds"] = judge_rounds(judge, dealt)
    row["neural_judge_in_rounds"] = judge_rounds(neural, dealt)
    row["vocab_guesser"], row["vocab_guesser_name"] = best[game_judges.VOCABULARY]["rate"], best[game_judges.VOCABULARY]["best"]
    row["stat_guesser"], row["stat_guesser_name"] = best[game_judges.STATISTICAL]["rate"], best[game_judges.STATISTICAL]["best"]
    row["example"] = detokenize(samples[0])
    row["seconds"] = round(time.perf_counter() - start, 1)
    return row


# ----- report ------------------------------------------------------------------------------
COLUMNS = [("rep4", "4-gram rep.", "{:.3f}"), ("rep4_with_seed", "rep. with seed", "{:.3f}"),
           ("repeated_words", "repeated words", "{:.3f}"), ("oov_share", "rare words", "{:.3f}"), ("distinct1", "distinct-1", "{:.3f}"),
           ("distinct2", "distinct-2", "{:.3f}"), ("word_length", "word len.", "{:.2f}"), ("sentence_length", "sentence len.", "{:.1f}"),
           ("model_logprob", "model logp/word", "{:.2f}"), ("kn5_logprob", "KN-5 logp/word", "{:.2f}"),
           ("judge_accuracy", "trained judge acc.", "{:.1%}"), ("judge_in_rounds", "trained judge in rounds", "{:.1%}"),
           ("neural_judge_accuracy", "neural judge acc.", "{:.1%}"), ("neural_judge_in_rounds", "neural judge in rounds", "{:.1%}"),
           ("vocab_guesser", "best vocab. guesser", "{:.1%}"), ("stat_guesser", "best stat. guesser", "{:.1%}")]


def markdown(human: dict, rows: list[dict], header: list[str]) -> str:
    lines = ["# Generation quality", "", *header, "",
             "| setting | " + " | ".join(c[1] for c in COLUMNS) + " |", "|---" * (len(COLUMNS) + 1) + "|"]
    for row in [human] + rows:
        cells = [fmt.format(row[key]) if row.get(key) is not None else "" for key, _, fmt in COLUMNS]
        lines.append(f"| {row['setting']} | " + " | ".join(cells) + " |")
    lines += ["", "Trained judge: logistic regression on word and character n-grams. Neural judge: a small neural classifier "
              "(one hidden layer of 64) on hashed word 1-3-grams and character 2-5-grams plus what a careful reader notices "
              "(stutters, repeated 4-grams, Kneser-Ney 5's mean and weakest-word log-probability: grammar breaks and odd "
              "words), trained on human versus model continuations of training-split seeds and tested on test-split seeds; "
              "target: at most 75% on the game's sampler. Both: accuracy at telling a human continuation from a model one, "
              "chance 50%; in rounds: how often its "
              "most human-looking option is the human one, chance 33.3%. Best guessers: the highest hit rate among "
              "`bench.game_judges`'s guessers on rounds built with the setting (chance 33.3%).", "",
              "## Best guessers per setting", ""]
    lines += [f"- {r['setting']}: vocabulary/formatting \"{r['vocab_guesser_name']}\", statistical \"{r['stat_guesser_name']}\"" for r in rows]
    lines += ["", "## One sample per setting (the first test seed)", ""]
    lines += [f"- **{r['setting']}**: {r['example']}" for r in [human] + rows]
    lines += ["", "![repetition and judge accuracy against temperature](generation.png)", ""]
    return "\n".join(lines)


def plot(human: dict, rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    temp = [(r["sampler"]["temperature"], r) for r in rows if set(r["sampler"]) == {"temperature"}]
    if not temp:
        return
    xs = [t for t, _ in temp]
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4.2))
    a.plot(xs, [r["rep4"] for _, r in temp], marker="o", label="model: 4-grams repeated in the continuation")
    a.plot(xs, [r["rep4_with_seed"] for _, r in temp], marker="o", label="model: ... in seed + continuation")
    a.axhline(human["rep4"], color="C0", ls="--", label="human")
    a.axhline(human["rep4_with_seed"], color="C1", ls="--", label="human, with seed")
    a.set_xlabel("temperature (diversity)")
    a.set_ylabel("share of 4-grams")
    a.legend(fontsize=8)
    b.plot(xs, [r["judge_accuracy"] for _, r in temp], marker="o", color="C3", label="trained judge accuracy (chance 50%)")
    b.plot(xs, [r["stat_guesser"] for _, r in temp], marker="o", color="C2", label="best statistical guesser (chance 33%)")
    b.axhline(0.5, color="C3", ls=":")
    b.axhline(1 / 3, color="C2", ls=":")
    b.set_xlabel("temperature (diversity)")
    b.set_ylabel("hit rate")
    b.legend(fontsize=8)
    fig.suptitle("patentgen: repetition and detectability against temperature")
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.generation", description=__doc__.split("\n")[0])
    p.add_argument("--model", default=str(DEFAULT_MODEL_DIR), help="run folder (default: the shipped model)")
    p.add_argument("--data", help="the corpus the run was trained on (default: the path it recorded)")
    p.add_argument("--rounds", type=int, default=150, help="game rounds per setting for the guessers (default: %(default)s)")
    p.add_argument("--train-docs", type=int, default=1000, help="training abstracts for the trained judge (default: %(default)s)")
    p.add_argument("--settings", type=json.loads, help="JSON list of [label, sampler description] instead of the built-in list")
    p.add_argument("--quick", action="store_true", help="3 settings, 40 test and 100 training abstracts, 30 rounds")
    p.add_argument("--random-seed", type=int, default=0)
    p.add_argument("--out", default=str(Path(__file__).parent), help="where results go (default: bench/)")
    args = p.parse_args(argv)
    settings = args.settings or (QUICK if args.quick else SETTINGS)
    n_test, n_train, rounds = (40, 100, 30) if args.quick else (None, args.train_docs, args.rounds)
    run = runs.load_inference(args.model)
    texts = runs.corpus_texts(run, args.data)
    docs = {side: [run.tokenizer.text_to_tokens(texts[i]) for i in runs.split_indices(run, side)] for side in ("train", "test")}
    test = game_pairs(run, docs["test"])[:n_test]
    train = game_pairs(run, docs["train"])
    train = [train[i] for i in sorted(np.random.default_rng(args.random_seed).permutation(len(train))[:n_train])]
    print(f"{len(test)} test seeds, {len(train)} training abstracts for the trained judge", flush=True)
    kn = KNJudge(run, docs["train"])
    features = game_judges.Features(run)
    human = {"setting": "human (the real continuation)", **text_stats(test, run.tokenizer.is_oov)}
    human["model_logprob"] = float(np.mean([model_logprob(run, s, c) for s, c in test]))
    human["kn5_logprob"] = float(np.mean([kn.logprob(s, c) for s, c in test]))
    human["example"] = detokenize(test[0][1])
    val = [run.tokenizer.text_to_tokens(texts[i]) for i in runs.split_indices(run, "val")][: 60 if args.quick else None]
    fitted = fit_caches(run, val)
    print(f"cache weights fitted on {fitted['targets']:,} validation words: phrase {fitted['phrase_cache']}, word "
          f"{fitted['word_cache']} (log-likelihood per word {fitted['loglik_without']:.3f} -> {fitted['loglik_with']:.3f})", flush=True)
    rows = []
    for label, desc in settings:
        desc = dict(desc)
        if desc.pop(FITTED, False):
            desc = {**desc, "phrase_cache": fitted["phrase_cache"], "word_cache": fitted["word_cache"]}
        row = {"setting": label, "sampler": desc, **measure(run, desc, test, train, kn, features, args.data, rounds,
                                                            args.random_seed)}
        rows.append(row)
        print(f"{label:45s} rep4 {row['rep4']:.3f} (human {human['rep4']:.3f})  model logp {row['model_logprob']:.2f} "
              f"(human {human['model_logprob']:.2f})  judge {row['judge_accuracy']:.1%}  guessers {row['vocab_guesser']:.1%} / "
              f"{row['stat_guesser']:.1%}  ({row['seconds']} s)", flush=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    command = "python -m bench.generation " + " ".join(argv if argv is not None else sys.argv[1:])
    header = [f"Measured {datetime.date.today().isoformat()} on {platform.machine()} with {os.cpu_count()} CPU cores, "
              f"model `{run.path}`.", f"Command: `{command}`",
              f"{len(test)} test-split seeds: the first {SEED_WORDS} words of each test abstract, with the next {CONT_WORDS} "
              "as the human reference, cut as the game cuts them (before a word the model could not write; at least 30 "
              "left); one model continuation of the same length per seed and setting. "
              f"The trained judge learns from {len(train)} training-split abstracts cut the same way; {rounds} game rounds "
              "per setting (the setting's temperature fixed, or drawn from its band)."]
    header.append(f"Cache weights fitted on the first {SEED_WORDS + CONT_WORDS} words of each validation abstract "
                  f"({fitted['targets']:,} words) by maximum likelihood: phrase cache {fitted['phrase_cache']}, word cache "
                  f"{fitted['word_cache']}; log-likelihood per word {fitted['loglik_without']:.3f} without, "
                  f"{fitted['loglik_with']:.3f} with them.")
    (out / "generation.json").write_text(json.dumps({"header": header, "fitted_caches": fitted, "human": human, "rows": rows}, indent=2) + "\n")
    (out / "GENERATION.md").write_text(markdown(human, rows, header))
    plot(human, rows, out / "generation.png")
    print(f"wrote {out / 'GENERATION.md'}, {out / 'generation.json'}, {out / 'generation.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
