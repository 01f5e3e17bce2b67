"""Text metrics shared by evaluation, training and the benchmarks."""
from __future__ import annotations


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance (insertions, deletions, substitutions all cost 1).

    Why our own: two short strings per caption line; a C library (rapidfuzz) would be one more
    dependency for a loop this small."""
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]
