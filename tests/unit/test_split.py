import itertools
from collections import Counter

import numpy as np

from patentgen.corpus import patent_tokens
from patentgen.split import _shared_runs, group_near_duplicates, grouped_split, split_groups


def _docs(abstracts):
    return [patent_tokens(t) for t in abstracts]


def test_exact_and_near_duplicates_share_a_group(abstracts):
    groups = group_near_duplicates(_docs(abstracts))
    assert groups[60] == groups[0]  # exact copy
    assert groups[61] == groups[1]  # continuation with an extra sentence
    assert groups[2] != groups[3]


def test_unrelated_documents_stay_apart():
    docs = [[f"w{i}_{j}" for j in range(30)] for i in range(5)]
    assert len(set(group_near_duplicates(docs))) == 5


def test_chains_are_transitive():
    base = [f"t{i}" for i in range(60)]
    a, b, c = base[:30], base[10:40], base[20:50]  # a~b and b~c share 13 of 23 8-grams; a and c only 3
    d = base[45:50] + [f"x{i}" for i in range(25)]  # a few words of c, no 8-gram
    assert len(set(group_near_duplicates([a, c]))) == 2  # a and c alone are not near-duplicates
    groups = group_near_duplicates([a, b, c, d])
    assert groups[0] == groups[1] == groups[2] != groups[3]


def test_whole_groups_per_side_and_sizes(abstracts):
    docs = _docs(abstracts)
    split = grouped_split(docs, (0.8, 0.1, 0.1), seed=1)
    sides = [set(split.train), set(split.val), set(split.test)]
    assert sum(len(s) for s in sides) == len(docs) and not (sides[0] & sides[1] or sides[0] & sides[2])
    for side in sides:
        for other in sides:
            if side is not other:
                assert not {split.groups[i] for i in side} & {split.groups[i] for i in other}
    assert abs(len(split.train) - 0.8 * len(docs)) <= 3
    summary = split.summary()
    assert summary["train"]["documents"] == len(split.train)


def test_split_is_deterministic_by_seed():
    groups = list(np.arange(100) // 2)
    assert split_groups(groups, seed=3) == split_groups(groups, seed=3)
    assert split_groups(groups, seed=3).test != split_groups(groups, seed=4).test


def _naive_groups(docs, n=8, threshold=0.5, max_docs=200):
    """The definition, pair by pair: shared n-grams (those of at most max_docs documents) against
    the shorter document's unique n-grams; a document shorter than n is one n-gram, itself."""
    sets = [{tuple(d[i : i + n]) for i in range(len(d) - n + 1)} if len(d) >= n else {tuple(d)} for d in docs]
    owners = Counter(g for s in sets for g in s)
    label = list(range(len(docs)))
    for i, j in itertools.combinations(range(len(docs)), 2):
        shared = sum(1 for g in sets[i] & sets[j] if owners[g] <= max_docs)
        if shared > threshold * min(len(sets[i]), len(sets[j])):
            old, new = max(label[i], label[j]), min(label[i], label[j])
            label = [new if x == old else x for x in label]
    return _canonical(label)


def _canonical(labels):
    first = {}
    return [first.setdefault(x, len(first)) for x in labels]


def test_a_chain_whose_ends_share_nothing_is_one_group():
    base = [f"t{i}" for i in range(60)]
    a, b, c, d = base[0:30], base[10:40], base[20:50], base[30:60]  # a and d share no word
    other = [f"o{i}" for i in range(30)]
    assert group_near_duplicates([a, d, other]) == [0, 1, 2]
    assert group_near_duplicates([a, other, c, b, d]) == [0, 1, 0, 0, 0]


def test_more_than_half_of_the_shorter_ones_ngrams_groups_exactly_half_does_not():
    base = [f"t{i}" for i in range(60)]
    a = base[:27]  # 20 8-grams
    assert group_near_duplicates([a, base[10:37]]) == [0, 1]  # 10 of 20 shared: half, not more
    assert group_near_duplicates([a, base[9:36]]) == [0, 0]  # 11 of 20
    assert group_near_duplicates([a, base[9:80] + ["x"] * 30]) == [0, 0]  # of the shorter one's


def test_identical_documents_short_ones_included_are_grouped():
    long_doc = [f"w{i}" for i in range(20)]
    short = ["a", "neural", "net"]
    docs = [long_doc, short, list(long_doc), [], list(short), ["a", "neural"], [], short + long_doc[:5]]
    assert group_near_duplicates(docs) == [0, 1, 0, 2, 1, 3, 2, 4]


def test_an_ngram_of_more_than_200_documents_is_boilerplate_not_evidence():
    boiler = [f"b{i}" for i in range(8)]
    docs = [boiler + [f"u{d}_{i}" for i in range(3)] for d in range(201)]  # 4 8-grams each, 1 shared by all
    x = boiler + ["v0", "v1", "v2"]
    docs += [x, boiler + ["v0", "v1", "z"], list(x)]  # 2 of 4 8-grams (3 with the boilerplate) shared; a copy
    groups = group_near_duplicates(docs)
    assert len(set(groups[:201])) == 201 and groups[201] != groups[202] and groups[201] == groups[203]


def test_equal_to_the_pairwise_definition_on_a_random_corpus_with_planted_copies():
    rng = np.random.default_rng(5)
    words = [f"w{i}" for i in range(40)]  # a small vocabulary: chance 8-grams are rare but happen
    boiler = ["the", "method", "of", "claim", "one", "wherein", "the", "network"]
    docs = []
    for i in range(320):
        if i and rng.random() < 0.25:  # a copy with a few words replaced, dropped or added
            doc = list(docs[rng.integers(i)])
            for _ in range(rng.integers(0, 4)):
                at = int(rng.integers(len(doc) + 1))
                doc[at:at + int(rng.integers(2))] = [str(rng.choice(words))] * int(rng.integers(2))
        else:
            doc = [str(w) for w in rng.choice(words, int(rng.choice([0, 3, 7, 8, 9, 20, 40])))]
            doc += boiler if rng.random() < 0.9 else []  # about 230 documents: boilerplate
        docs.append(doc)
    assert group_near_duplicates(docs) == _naive_groups(docs)
    assert len(set(group_near_duplicates(docs))) < len(docs) - 40  # the copies were found
    assert _naive_groups(docs, max_docs=len(docs)) != _naive_groups(docs)  # the boilerplate rule mattered


def test_an_ngram_repeated_in_a_document_counts_once():
    phrase = [f"r{i}" for i in range(8)]
    x = phrase * 3  # 17 8-grams, 8 of them unique
    y = phrase + phrase[:4] + [f"y{i}" for i in range(6)]  # 11 8-grams, 5 of them in x: more than half of 8
    assert group_near_duplicates([x, y]) == _naive_groups([x, y]) == [0, 0]


def test_ngram_runs_are_exact_when_hash_prefixes_clash():
    rng = np.random.default_rng(2)
    hashes = rng.integers(0, 40, 500).astype(np.uint64) * np.uint64(0x0123456789ABCDEF)
    owner = rng.integers(0, 50, 500).astype(np.int32)
    values, counts = np.unique(hashes, return_counts=True)
    shared = values[counts > 1]
    mask = np.isin(hashes, shared)
    run = (np.searchsorted(shared, hashes[mask]) + 1).astype(np.uint64)
    expected = np.sort((run << np.uint64(32)) | owner[mask].astype(np.uint64))
    assert np.array_equal(_shared_runs(hashes.copy(), owner), expected)
    assert np.array_equal(_shared_runs(hashes.copy(), owner, position_bits=60), expected)  # 4-bit prefixes: 40 hashes clash
