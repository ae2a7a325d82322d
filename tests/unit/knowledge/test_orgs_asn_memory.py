"""The offline ASN database keeps no LZMA decompressor alive (its memory bound)."""

from __future__ import annotations

import gc

import plevin
from plevin import reader as plevin_reader

from flowalerts.knowledge import orgs

ADDRESSES = ["8.8.8.8", "1.1.1.1", "13.107.42.14", "104.16.0.1", "151.101.1.69", "2606:4700::1111"]


def _caches() -> list:
    return [obj for obj in gc.get_objects() if isinstance(obj, plevin_reader.Cache)]


def test_every_cache_is_tamed_and_every_block_released_its_decompressor():
    database = orgs._AsnDatabase()
    answers = [database.lookup(ip) for ip in ADDRESSES]
    assert answers[0] is not None and answers[0][0] == 15169  # Google
    reader_caches = [cache for cache in _caches() if cache is not None]
    tamed = [cache for cache in reader_caches if getattr(cache.build, "_decodes_to_end", False)]
    # Every cache of the reader was found (plevin's section slots included).
    assert len(tamed) >= 100
    assert all(cache.limit <= orgs._AsnDatabase.BLOCK_CACHE for cache in tamed)
    streams = [
        part
        for cache in tamed
        for value in cache.values()
        for part in (value if isinstance(value, tuple) else (value,))
        if isinstance(part, plevin_reader.Stream)
    ]
    assert streams
    assert all(stream.decoder is orgs._DECODED for stream in streams)


def test_answers_are_those_of_an_untamed_reader():
    plain = plevin.Plevin()
    database = orgs._AsnDatabase()
    for ip in ADDRESSES:
        network = plain.lookup(ip).network
        expected = None if network is None or not network.asn else int(network.asn)
        found = database.lookup(ip)
        assert (found[0] if found else None) == expected
