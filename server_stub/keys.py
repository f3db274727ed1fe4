"""Every Redis key the center uses, and the rule that makes them work on Redis Cluster.

The rule: a key that belongs to a hall is ``hall_key(hall, name)`` = ``hall:{H}:name``; a
key that belongs to no hall (the console's users and sessions, say) is ``center_key(name)``
= ``center:{center}:name``. Redis Cluster places a key by the hash of the text between its
first ``{`` and ``}`` only, so every key of one hall shares one slot (one shard), and every
center-wide key shares another. A transaction (WATCH / MULTI / EXEC) or a Lua script may
only touch keys of one slot on a cluster: so one may touch any keys of one hall, or any
center-wide keys, but never both, nor two halls. Build keys only with these two helpers.
"""

from __future__ import annotations


def hall_key(hall: str, name: str) -> str:
    return f"hall:{{{hall}}}:{name}"


def center_key(name: str) -> str:
    return f"center:{{center}}:{name}"
