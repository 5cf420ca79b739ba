import numpy as np

from patentgen.corpus import patent_tokens
from patentgen.split import group_near_duplicates, grouped_split, split_groups


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
