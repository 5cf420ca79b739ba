"""The count baselines: proper distributions, Kneser-Ney's continuation counts, scoring
through the same evaluator as the networks, and the numpy counting giving the probabilities of
the dict implementation it replaced."""

from collections import Counter, defaultdict

import numpy as np
import pytest

from patentgen import evaluate, ngram
from patentgen.tokenizer import BOS_ID, PAD_ID, UNK_ID


def _docs():
    rng = np.random.default_rng(0)
    return [np.r_[2, (3 + (rng.integers(0, 10) + np.arange(40)) % 10)].astype(np.int64) for _ in range(30)]


@pytest.mark.parametrize("order", [2, 3, 5])
def test_distributions_sum_to_one_for_seen_and_unseen_contexts(order):
    kn = ngram.KneserNey(_docs(), 14, order)
    for context in [(3, 4, 5, 6), (13, 13, 13, 13), (), (2,)]:
        probs = kn.distribution(context)
        assert probs.shape == (14,) and probs.min() > 0 and probs.sum() == pytest.approx(1.0)


def test_kneser_ney_learns_the_pattern_and_beats_unigram():
    docs = _docs()
    kn, uni = ngram.KneserNey(docs, 14, 3), ngram.Unigram(docs, 14)
    assert np.argmax(kn.distribution((5, 6))) == 7
    flat = np.concatenate(docs)
    starts = np.arange(0, 200)
    assert evaluate.full_context(kn, flat, starts, 4)["ce"] < evaluate.full_context(uni, flat, starts, 4)["ce"] - 1


def test_lower_orders_use_continuation_counts():
    # "b" follows many different words; "c" follows only "a" (but often): at the unigram level,
    # Kneser-Ney must prefer "b" although "c" is more frequent.
    a, b, c = 3, 4, 5
    docs = [np.array([a, c] * 20 + [6, b, 7, b, 8, b, 9, b, 10, b])]
    kn = ngram.KneserNey(docs, 11, 2)
    unigram_level = kn.distribution(())
    assert unigram_level[b] > unigram_level[c]


def test_modified_kneser_ney_on_a_hand_computed_example():
    doc = np.array([2, 5, 5, 5, 4, 4, 3, 4, 3, 4, 3, 7, 5, 4, 3, 5, 5, 3])
    mkn = ngram.KneserNey([doc], 8, order=2, modified=True)
    # bigrams seen once: 2 5, 3 5, 3 7, 4 4, 5 3, 7 5; twice: 3 4, 5 4; three times: 5 5; four: 4 3
    # n1..n4 = 6, 2, 1, 1: Y = 6/10, D1 = 1 - 2(.6)(2/6) = .6, D2 = 2 - 3(.6)(1/2) = 1.1, D3+ = 3 - 4(.6) = .6
    assert mkn.levels[2].discount == pytest.approx((0.6, 1.1, 0.6))
    # continuation counts (distinct words before): 3 <- {4, 5}, 4 <- {3, 4, 5}, 5 <- {2, 3, 5, 7}, 7 <- {3}
    # n1..n4 = 1, 1, 1, 1: Y = 1/3, D1 = 1/3, D2 = 1, D3+ = 5/3
    assert mkn.levels[1].discount == pytest.approx((1 / 3, 1.0, 5 / 3))
    # unigram level: total 10, discounts 1 + 5/3 + 5/3 + 1/3 = 14/3 go to the uniform 1/8
    gamma1 = (14 / 3) / 10
    unigram = {3: gamma1 / 8 + (2 - 1) / 10, 4: gamma1 / 8 + (3 - 5 / 3) / 10, 6: gamma1 / 8}
    assert mkn.distribution(())[[3, 4, 6]] == pytest.approx([19 / 120, 23 / 120, 7 / 120])
    assert [unigram[w] for w in (3, 4, 6)] == pytest.approx([19 / 120, 23 / 120, 7 / 120])
    # after 5: 5 3 once, 5 4 twice, 5 5 three times; total 6, discounts .6 + 1.1 + .6 = 2.3
    after5 = mkn.distribution((5,))
    assert after5[4] == pytest.approx(2.3 / 6 * unigram[4] + (2 - 1.1) / 6)
    assert after5[6] == pytest.approx(2.3 / 6 * unigram[6]) and after5.sum() == pytest.approx(1.0)
    # plain Kneser-Ney on the same counts: one discount, D = Y = .6, at the bigram level
    assert ngram.KneserNey([doc], 8, order=2).levels[2].discount == pytest.approx((0.6, 0.6, 0.6))


def _pitman_yor_text(n_docs: int, seed: int, vocab: int = 2000, discount: float = 0.6, length: int = 60):
    """Bigram text from a two-level Pitman-Yor process (each context's words drawn through a
    Chinese restaurant that backs off to one shared restaurant over a Zipfian vocabulary): the
    power-law counts of real text, which Kneser-Ney approximates (Teh 2006)."""
    rng = np.random.default_rng(seed)
    zipf = 1.0 / np.arange(1, vocab - 2)
    zipf /= zipf.sum()
    tables: dict = {}  # context -> (word of each table, customers of each table)

    def draw(context):
        words, counts = tables.setdefault(context, ([], []))
        if counts and rng.random() >= (1.0 + discount * len(counts)) / (sum(counts) + 1.0):
            weights = np.array(counts) - discount
            i = rng.choice(len(counts), p=weights / weights.sum())
            counts[i] += 1
            return words[i]
        word = int(3 + rng.choice(vocab - 3, p=zipf)) if context is None else draw(None)
        words.append(word)
        counts.append(1)
        return word

    docs = []
    for _ in range(n_docs):
        doc = [2]
        for _ in range(length):
            doc.append(draw(doc[-1]))
        docs.append(np.array(doc))
    return docs


@pytest.mark.parametrize("order", [3, 5])
def test_modified_kneser_ney_is_never_worse_than_the_interpolated_form(order):
    """Held-out log-probability per word, paired target by target: modified Kneser-Ney may be
    worse only by noise (less than two standard errors of the mean paired difference)."""
    for seed in (0, 1):
        docs = _pitman_yor_text(200, seed, length=150)  # one process: held-out documents follow the training ones
        train, flat = docs[:160], np.concatenate(docs[160:])
        logp = {}
        for modified in (False, True):
            model = ngram.KneserNey(train, 2000, order, modified=modified)
            positions = np.arange(5, len(flat))
            logp[modified] = model.logprob(flat[positions[:, None] + np.arange(-5, 0)], flat[positions])
        diff = logp[True] - logp[False]
        assert diff.mean() > -2 * diff.std() / np.sqrt(len(diff)), (seed, diff.mean())
    assert model.arch == f"mkn-{order}"


def _dict_kneser_ney(docs, vocab_size: int, order: int, modified: bool):
    """The oracle: Kneser-Ney as it was counted with Python dicts before numpy; P(. | context)."""
    raw = [Counter() for _ in range(order + 1)]
    for doc in docs:
        seq = tuple(int(i) for i in doc)
        for n in range(1, order + 1):
            raw[n].update(seq[i : i + n] for i in range(len(seq) - n + 1))
    levels = {order: raw[order], **{n: Counter(gram[1:] for gram in raw[n + 1]) for n in range(1, order)}}
    tables, by_count = {}, {}
    for n, counts in levels.items():
        by_count[n] = np.array((0.0,) + ngram.discounts(Counter(counts.values()), modified))
        tables[n] = defaultdict(dict)
        for gram, count in counts.items():
            tables[n][gram[:-1]][gram[-1]] = count

    def distribution(context):
        probs = np.full(vocab_size, 1.0 / vocab_size)
        context = tuple(context)[max(0, len(context) - order + 1) :] if order > 1 else ()
        for n in range(1, min(order, len(context) + 1) + 1):
            words = tables[n].get(context[len(context) - n + 1 :])
            if words:
                values = np.array(list(words.values()), np.float64)
                discount = by_count[n][np.minimum(values, 3).astype(np.int64)]
                probs = discount.sum() / values.sum() * probs
                probs[list(words)] += (values - discount) / values.sum()
        return probs

    return distribution


def _random_corpus(seed: int = 0, vocab: int = 12):
    """Short documents (1 to 30 ids, <bos> first) of Zipfian ids with <unk>, the last id never
    seen; and contexts (60, 6) from held-out documents, padded on the left, plus a row of padding."""
    rng = np.random.default_rng(seed)
    zipf = 1.0 / np.arange(1, vocab - 2)  # over ids 1 (<unk>) and 3 .. vocab - 2
    words = np.r_[UNK_ID, np.arange(3, vocab - 1)]

    def doc():
        return np.r_[BOS_ID, rng.choice(words, rng.integers(0, 30), p=zipf / zipf.sum())].astype(np.int64)

    docs = [doc() for _ in range(40)]
    held = np.concatenate([np.r_[np.full(6, PAD_ID), doc()] for _ in range(8)])
    contexts = held[rng.integers(0, len(held) - 6, 60)[:, None] + np.arange(6)]
    contexts[:3] = [[PAD_ID] * 6, [4, 5, 3, 4, 5, vocab - 1], [PAD_ID] * 5 + [BOS_ID]]
    return docs, contexts


@pytest.mark.parametrize("modified", [False, True])
@pytest.mark.parametrize("order", [1, 2, 3, 4, 5, 7])
def test_numpy_counting_gives_the_dict_implementations_probabilities(order, modified):
    docs, contexts = _random_corpus()
    model, oracle = ngram.KneserNey(docs, 12, order, modified), _dict_kneser_ney(docs, 12, order, modified)
    for width in (6, 2, 0):  # full contexts, and contexts shorter than order - 1
        rows = contexts[:, 6 - width :]
        expected = np.array([oracle(row) for row in rows])  # (60, V)
        np.testing.assert_allclose(np.exp(model.last_logits(rows)), expected, rtol=1e-9)
        targets = np.arange(len(rows)) % 12
        np.testing.assert_allclose(np.exp(model.logprob(rows, targets)), expected[np.arange(len(rows)), targets], rtol=1e-9)
        np.testing.assert_allclose([model.distribution(tuple(row)) for row in rows], expected, rtol=1e-9)


def test_a_corpus_past_the_packed_sort_size_counts_as_numpys_unique_does(monkeypatch):
    """Above ``arrays._SMALL`` values the counts go through the packed in-place sort, in chunks,
    one set of work arrays reused by every order and both keyings; the same corpus counted with numpy's own
    ``np.unique`` (every size below the switch) gives the same model, array for array."""
    rng = np.random.default_rng(3)
    zipf = 1.0 / np.arange(1, 298)
    docs = [np.r_[BOS_ID, rng.choice(np.arange(3, 300), rng.integers(1, 60), p=zipf / zipf.sum())] for _ in range(12000)]
    assert sum(map(len, docs)) > 1.2 * ngram.arrays._SMALL
    monkeypatch.setattr(ngram.arrays, "_CHUNK", 4099)  # many chunks, the last one short
    packed = ngram.KneserNey(docs, 300, 4)
    monkeypatch.setattr(ngram.arrays, "_SMALL", 1 << 40)
    plain = ngram.KneserNey(docs, 300, 4)
    for mine, theirs in zip(packed.suffixed, plain.suffixed):
        assert np.array_equal(mine, theirs)
    for n in range(1, 5):
        for name in ("words", "bounds", "gamma", "weights"):
            assert np.array_equal(getattr(packed.levels[n], name), getattr(plain.levels[n], name)), (n, name)
    contexts = np.stack([doc[:3] for doc in docs[:50] if len(doc) >= 4])
    targets = np.array([doc[3] for doc in docs[:50] if len(doc) >= 4])
    assert np.array_equal(packed.logprob(contexts, targets), plain.logprob(contexts, targets))


@pytest.mark.parametrize("chunk", [97, 512, 4099])
def test_the_chunk_size_never_changes_the_fit(monkeypatch, chunk):
    """Every step of a fit past ``arrays._SMALL`` works a chunk at a time (the counts, the packed
    sort's positions, the runs, the tallies); chunks shorter than a context's words, than a run
    of one n-gram and than the vocabulary give the model numpy's own unique gives, array for array."""
    rng = np.random.default_rng(3)
    zipf = 1.0 / np.arange(1, 298)
    docs = [np.r_[BOS_ID, rng.choice(np.arange(3, 300), rng.integers(1, 60), p=zipf / zipf.sum())] for _ in range(1500)]
    plain = ngram.KneserNey(docs, 300, 4, modified=True)
    monkeypatch.setattr(ngram.arrays, "_SMALL", 2048)  # the packed path, as on a large corpus
    monkeypatch.setattr(ngram.arrays, "_CHUNK", chunk)
    chunked = ngram.KneserNey(docs, 300, 4, modified=True)
    assert sum(map(len, docs)) > 10 * chunk  # many chunks
    for mine, theirs in zip(chunked.suffixed, plain.suffixed):
        assert np.array_equal(mine, theirs)
    for n in range(1, 5):
        for name in ("words", "bounds", "gamma", "weights"):
            assert np.array_equal(getattr(chunked.levels[n], name), getattr(plain.levels[n], name)), (n, name)


@pytest.mark.parametrize("order", [0, ngram.MAX_ORDER + 1])
def test_an_order_outside_what_the_counts_track_is_refused(order):
    with pytest.raises(ValueError, match="order is 1 to"):
        ngram.KneserNey(_docs(), 14, order)
