"""The verifier's fast hashing is the chain's arithmetic (domain/audit.py), byte for byte."""

from __future__ import annotations

import os
import random
from uuid import uuid4

from domain.audit import GENESIS, event_digest, link
from projections.audit_verify import _hasher, _hyphenated, _link


def test_the_fast_digest_and_link_are_the_domain_s() -> None:
    digest_of = _hasher()
    chain = fast = GENESIS
    for position in range(1, 300):
        topic = random.choice(["domain.finding:Finding.Filed", "domain.org:Unit.Registered", "话题"])
        originator, version, state = uuid4(), random.randint(1, 10**12), os.urandom(random.randint(0, 900))
        expected = event_digest(topic, originator, version, state)
        assert digest_of(topic, _hyphenated(originator.hex), version, state) == expected
        chain, fast = link(chain, position, expected), _link(fast, position, expected)
        assert chain == fast
