"""The seeded order calls are sampled in (review samples, sampling plans): pure arithmetic,
the same in Python and in the database."""

from __future__ import annotations

import hashlib

# The sample order is a keyed permutation of recording ids that the database computes (the same
# integer arithmetic on SQLite and PostgreSQL, every step below 2**63), so a sample of any size is
# chosen and paged there: rank = ((x**3 mod p) * B + k2) mod p, x = (recording_id * A + k1) mod p.
# p is prime with p % 3 == 2, so cubing modulo p is one-to-one: no two calls share a rank (ids
# below p: every id, MAX_ROW_ID = 2**31 - 1, but 68; those ties fall back to the id). k1 and k2
# come from the seed (sha256), so another seed is another order. Audit a sample by recomputing
# sample_rank(seed, recording_id) for every call of the period and taking the smallest.
SAMPLE_PRIME = 2_147_483_579  # the largest prime below 2**31 that is 2 modulo 3
SAMPLE_A = 1_103_515_245
SAMPLE_B = 69_069


def sample_keys(seed: str) -> tuple[int, int]:
    """The seed's two keys (k1, k2), each below SAMPLE_PRIME."""
    digest = hashlib.sha256(seed.encode()).digest()
    return (
        int.from_bytes(digest[:8], "big") % SAMPLE_PRIME,
        int.from_bytes(digest[8:16], "big") % SAMPLE_PRIME,
    )


def sample_rank(seed: str, recording_id: int) -> int:
    """A call's place in the sample order: fixed per seed and call, so the same question gives
    the same calls, and calls stored later join without reshuffling the rest. The same number
    as sample_rank_sql computes in the database (for audits and tests)."""
    k1, k2 = sample_keys(seed)
    p = SAMPLE_PRIME
    x = (recording_id * SAMPLE_A + k1) % p
    return (x * x % p * x % p * SAMPLE_B + k2) % p


# The seed a review sample takes when none is given: its ranks are stored with the evaluations
# (Evaluation.sample_rank), so that the database walks an index instead of ranking every call.
DEFAULT_SEED = ""
