"""Split stage: group exact and near-duplicate documents and send whole groups to one side.

Owns the honest train/validation/test split. Two documents are near-duplicates when they share
more than ``threshold`` of the word n-grams of the shorter one (8-grams, half, by default);
groups are the connected components of that relation, so a chain of continuation patents
always lands on one side.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass

import numpy as np

SIDES = ("train", "val", "test")
# An n-gram shared by more documents than this is boilerplate, not evidence of copying.
_MAX_DOCS_PER_SHINGLE = 200


@dataclass(frozen=True)
class Split:
    """Document indices on each side, and the group id of every document."""

    train: tuple[int, ...]
    val: tuple[int, ...]
    test: tuple[int, ...]
    groups: tuple[int, ...]

    def side(self, name: str) -> tuple[int, ...]:
        return getattr(self, name)

    def summary(self) -> dict[str, dict[str, int]]:
        """Groups and documents per side."""
        return {
            name: {"groups": len({self.groups[i] for i in self.side(name)}), "documents": len(self.side(name))}
            for name in SIDES
        }

    def to_json(self) -> dict:
        return {name: list(self.side(name)) for name in SIDES}


def shingles(tokens: list[str], n: int = 8) -> set[int]:
    """Hashes of the word n-grams of a document (the whole document if shorter than n)."""
    if len(tokens) < n:
        return {hash(tuple(tokens))}
    return {hash(tuple(tokens[i : i + n])) for i in range(len(tokens) - n + 1)}


class _UnionFind:
    def __init__(self, size: int):
        self.parent = list(range(size))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def group_near_duplicates(docs: list[list[str]], n: int = 8, threshold: float = 0.5) -> list[int]:
    """Group id for every document; near-duplicates (and their chains) share one id."""
    sets = [shingles(doc, n) for doc in docs]
    owners: dict[int, list[int]] = defaultdict(list)
    for doc_id, doc_shingles in enumerate(sets):
        for shingle in doc_shingles:
            owners[shingle].append(doc_id)
    shared: Counter[tuple[int, int]] = Counter()
    for doc_ids in owners.values():
        if 1 < len(doc_ids) <= _MAX_DOCS_PER_SHINGLE:
            for i, a in enumerate(doc_ids):
                for b in doc_ids[i + 1 :]:
                    shared[a, b] += 1
    found = _UnionFind(len(docs))
    for (a, b), count in shared.items():
        if count > threshold * min(len(sets[a]), len(sets[b])):
            found.union(a, b)
    roots = [found.find(i) for i in range(len(docs))]
    first = {root: rank for rank, root in enumerate(dict.fromkeys(roots))}
    return [first[root] for root in roots]


def split_groups(groups: list[int], fractions=(0.8, 0.1, 0.1), seed: int = 0) -> Split:
    """Shuffle groups with ``seed`` and fill train, then val, then test, by document count."""
    members: dict[int, list[int]] = defaultdict(list)
    for doc_id, group in enumerate(groups):
        members[group].append(doc_id)
    order = np.random.default_rng(seed).permutation(len(members))
    group_ids = list(members)
    total = len(groups)
    bounds = np.cumsum(fractions) * total
    sides: dict[str, list[int]] = {name: [] for name in SIDES}
    placed = 0
    for position in order:
        docs = members[group_ids[position]]
        # A group goes to the side whose share its middle document falls into.
        middle = placed + len(docs) / 2
        side = SIDES[min(int(np.searchsorted(bounds, middle, side="right")), len(SIDES) - 1)]
        sides[side].extend(docs)
        placed += len(docs)
    return Split(*(tuple(sorted(sides[name])) for name in SIDES), groups=tuple(groups))


def grouped_split(docs: list[list[str]], fractions=(0.8, 0.1, 0.1), seed: int = 0) -> Split:
    """The honest split: near-duplicate groups, then whole groups per side."""
    return split_groups(group_near_duplicates(docs), fractions, seed)
