"""The fast evaluation path gives the reference path's figures (network and cached model, caches
given or fitted in the same pass), on tiny numpy models of every architecture; samples carry an
honest interval; threads do not change a figure."""

import numpy as np
import pytest

from patentgen import cache, evaluate, models, ngram
from patentgen.rnn_numpy import RNNNumpy
from patentgen.tokenizer import BOS_ID, UNK_ID
from patentgen.windows import Windows

V, E, WINDOW = 60, 6, 8


def _weights(arch: str, layers: int = 1, units: int = 7, tie: bool = True, seed: int = 0) -> dict:
    """Random named arrays in the layout of ``model.export_weights``."""
    rng = np.random.default_rng(seed)
    gates = {"lstm": 4, "gru": 3, "classic": 4}[arch]
    prefix = "lstm" if arch == "classic" else arch
    out = {"embedding/embeddings": rng.normal(0, 0.5, (V, E))}
    width = E
    for i in range(layers):
        out[f"{prefix}_{i}/kernel"] = rng.normal(0, 0.6, (width, gates * units))
        out[f"{prefix}_{i}/recurrent_kernel"] = rng.normal(0, 0.6, (units, gates * units))
        out[f"{prefix}_{i}/bias"] = rng.normal(0, 0.3, (2, gates * units) if arch == "gru" else (gates * units,))
        width = units
    if arch == "classic":
        out["dense/kernel"], out["dense/bias"] = rng.normal(0, 0.5, (units, 9)), rng.normal(0, 0.1, 9)
        out["output/kernel"], out["output/bias"] = rng.normal(0, 0.5, (9, V)), rng.normal(0, 0.1, V)
    elif tie:
        out["projection/kernel"], out["projection/bias"] = rng.normal(0, 0.5, (units, E)), rng.normal(0, 0.1, E)
        out["embedding/output_bias"] = rng.normal(0, 0.1, V)
    else:
        out["output/kernel"], out["output/bias"] = rng.normal(0, 0.5, (units, V)), rng.normal(0, 0.1, V)
    return {k: v.astype(np.float32) for k, v in out.items()}


def _windows(seed: int = 0, docs: int = 12, spelled: bool = True) -> Windows:
    """Documents that repeat their own phrases (so the caches matter), some <unk> targets."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(docs):
        phrase = list(rng.integers(3, V, 3))
        words = [BOS_ID]
        while len(words) < rng.integers(WINDOW + 5, 4 * WINDOW):
            words += phrase if rng.random() < 0.4 else [int(w) for w in rng.integers(2, V, 2)]  # 2 is <unk>
        out.append(np.asarray(words, np.int32))
    spelling = [np.where(d == UNK_ID, rng.uniform(-9, -3, len(d)), 0.0) for d in out] if spelled else None
    return Windows.from_docs(out, WINDOW, spelling)


LMS = {
    "lstm": lambda: models.get("lstm").numpy_lm(_weights("lstm")),
    "lstm-2-layers-untied": lambda: models.get("lstm").numpy_lm(_weights("lstm", layers=2, tie=False)),
    "gru": lambda: models.get("gru").numpy_lm(_weights("gru")),
    "gru-2-layers": lambda: models.get("gru").numpy_lm(_weights("gru", layers=2)),
    "classic": lambda: models.get("classic").numpy_lm(_weights("classic")),
    "numpy-rnn": lambda: RNNNumpy(V, 7, seed=1),
}


@pytest.mark.parametrize("arch", ["lstm", "lstm-2-layers-untied", "gru", "gru-2-layers", "classic"])
def test_window_hidden_is_the_plain_forward_pass(arch):
    lm, found = LMS[arch](), _windows(1)
    starts = found.starts[::3]
    plain, _ = lm.hidden(found.flat[starts[:, None] + np.arange(WINDOW)])
    assert np.allclose(lm.window_hidden(found.flat, starts, WINDOW), plain[:, -1], atol=1e-6)
    assert np.allclose(lm.window_hidden(found.flat, starts, WINDOW, sequences=True), plain, atol=1e-6)


def _same(fast: dict, reference: dict) -> None:
    """Equal figures: counts exactly, cross-entropies to the 4 decimals they are reported in
    (a last-digit tie may round either way)."""
    assert {k for k in reference} <= set(fast)
    for key, value in reference.items():
        if key in ("ce", "open_ce"):
            assert fast[key] == pytest.approx(value, abs=1.01e-4), key
        elif key not in ("ppl", "open_ppl"):
            assert fast[key] == value, key


@pytest.mark.parametrize("arch", sorted(LMS))
def test_fast_path_equals_the_reference_path(arch):
    lm, found, caches = LMS[arch](), _windows(2), cache.Caches(phrase=0.3, word=0.2)
    plain, cached = evaluate.reference_full_context(lm, found.flat, found.starts, WINDOW, found.spelling, caches)
    result = evaluate.evaluate_split(lm, found, caches, threads=1).metrics
    _same(result["full_context"], plain)
    _same(result["cached"], cached)
    assert result["cached"]["ce"] < plain["ce"] - 0.05  # the caches matter here: a real test of the mixture
    assert "open_ce" in result["full_context"] and "sample" not in result["full_context"]


def test_count_models_go_through_the_generic_path():
    found = _windows(3, spelled=False)
    docs = np.split(found.flat, np.flatnonzero(found.flat == BOS_ID)[1:])
    model = ngram.KneserNey(docs, V, 3)
    plain, _ = evaluate.reference_full_context(model, found.flat, found.starts, WINDOW)
    _same(evaluate.full_context(model, found.flat, found.starts, WINDOW), plain)


@pytest.mark.parametrize("arch", ["lstm", "gru"])
def test_caches_fitted_in_the_same_pass_equal_fitting_then_scoring(arch):
    lm, val = LMS[arch](), _windows(4, docs=20)
    fitted = evaluate.evaluate_split(lm, val, fit_caches=True, threads=1)
    expected, with_, without = cache.fit(cache.window_features(lm, val.flat, val.starts, WINDOW))
    assert fitted.caches == expected and fitted.caches  # something to fit: non-zero weights
    assert (fitted.loglik_with, fitted.loglik_without) == pytest.approx((with_, without), abs=1e-6)  # float32 exponentials
    _, cached = evaluate.reference_full_context(lm, val.flat, val.starts, WINDOW, val.spelling, expected)
    _same(fitted.metrics["cached"], cached)
    given = evaluate.evaluate_split(lm, val, expected, threads=1).metrics
    assert {k: given["cached"][k] for k in ("acc", "top5", "targets")} == {k: fitted.metrics["cached"][k] for k in ("acc", "top5", "targets")}


def test_blocks_kept_for_the_cache_fit_hold_no_row_of_the_vocabulary():
    # The validation blocks stay in memory until the caches are fitted: each must keep its
    # window's top K ids and logits, not a view of a (B, V) array (70 KB a window at 8,700 words).
    lm, val = LMS["lstm"](), _windows(4, docs=20)
    scored = evaluate.score_block(lm, val, val.starts[:16], keep_top=True)
    for kept in (scored.top_ids, scored.top_logits, scored.p_entries, scored.logp, scored.lse):
        assert kept.base is None or kept.base.size <= 2 * kept.size
    assert scored.top_ids.shape == (16, WINDOW + 6)


def test_threads_change_no_figure():
    lm, found = LMS["lstm"](), _windows(5, docs=60)
    assert len(found.starts) > 2 * evaluate.BLOCK  # several blocks in flight
    one = evaluate.evaluate_split(lm, found, cache.Caches(0.2, 0.1), threads=1).metrics
    assert evaluate.evaluate_split(lm, found, cache.Caches(0.2, 0.1), threads=3).metrics == one


def test_a_sample_reports_an_interval_that_holds_the_full_figure():
    lm, found = LMS["lstm"](), _windows(6, docs=80)
    full = evaluate.evaluate_split(lm, found).metrics["full_context"]["ce"]
    inside, n = 0, 200
    for seed in range(20):
        sampled = evaluate.evaluate_split(lm, found, sample=n, seed=seed).metrics
        info = sampled["full_context"]["sample"]
        assert info["targets"] == n and info["of"] == len(found.starts) == sampled["full_context"]["targets"] * len(found.starts) // n
        low, high = info["ce_95"]
        assert low < sampled["full_context"]["ce"] < high and high - low < 1.0
        inside += low <= full <= high
        assert sampled["all_positions"]["sample"] == {"chunks": -(-len(found.chunks) * n // len(found.starts)), "of": len(found.chunks)}
    assert inside >= 16  # a 95% interval: about 19 of 20
    again = evaluate.evaluate_split(lm, found, sample=n, seed=3).metrics
    assert again == evaluate.evaluate_split(lm, found, sample=n, seed=3).metrics  # seeded
    everything = evaluate.evaluate_split(lm, found, sample=len(found.starts)).metrics
    assert "sample" not in everything["full_context"] and everything["full_context"]["ce"] == full


def test_the_run_order_fits_on_validation_and_uses_the_fit_on_test():
    lm, sides = LMS["lstm"](), {"test": _windows(7), "val": _windows(8, docs=20)}
    seen = []
    figures = evaluate.evaluate_run(lm, sides, fit_caches=True, progress=lambda side: (lambda done, total: seen.append(side)))
    assert seen.index("val") < seen.index("test") and seen[-1] == "test"
    weights = {k: figures["caches"][k] for k in ("phrase", "word")}
    assert {k: figures["test"]["cached"][k] for k in weights} == weights == {k: figures["val"]["cached"][k] for k in weights}
    assert figures["caches"]["val_loglik_with"] >= figures["caches"]["val_loglik_without"]


def test_the_estimate_times_the_run_s_own_path_and_extrapolates(monkeypatch):
    lm, sides = LMS["lstm"](), {"val": _windows(9, docs=40), "test": _windows(10, docs=40)}
    calls = []
    real_map = evaluate._map
    monkeypatch.setattr(evaluate, "_map", lambda f, items, progress, threads: (calls.append((len(items), threads)), real_map(f, items, progress, threads))[1])
    monkeypatch.setattr(evaluate, "workers", lambda: 2)
    estimate = evaluate.estimate_seconds(lm, sides)
    assert estimate > 0 and calls[0] == (1, 1) and calls[1][1] == 2  # an untimed warm-up, then the run's threads
    windows = {side: len(w.starts) for side, w in sides.items()}
    chunks = {side: len(w.chunks) for side, w in sides.items()}
    assert evaluate.extrapolate(0.01, 0.1, sides) == pytest.approx(0.01 * sum(windows.values()) + 0.1 * sum(chunks.values()))
    half = {side: windows[side] // 2 for side in windows}
    sampled = evaluate.extrapolate(0.01, 0.1, sides, sample=min(half.values()))
    expected = sum((0.01 * windows[s] + 0.1 * chunks[s]) * min(half.values()) / windows[s] for s in sides)
    assert sampled == pytest.approx(expected)
