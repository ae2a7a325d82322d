"""What travels between the producer and the workers, as msgpack.

A partition stream entry is one **batch**: a msgpack array of items, in the
order the producer made them. Every item is an array whose first element is
a tag, so the worker decodes a whole batch into typed objects with one call
(msgspec, in C):

* ``["m.conn", profile, twid, [record fields...], late]`` - a record of the
  partition's profiles (the tag names the log type), decoded straight into a
  ``Message`` whose ``flow`` is the typed record;
* ``["res", ...]``, ``["ptr", ...]``, ... - a **global fact** a learner of the
  producer drew from a record (``flowalerts.core.facts``), replicated into every
  partition right before the record it came from;
* ``["adv", watermark]`` - flow time moved (replicated into every partition);
* ``["tw", profile, twid]`` - a time window of one of the partition's profiles
  closed;
* ``["end"]`` - end of input: settle everything.

Records are never re-encoded: the producer writes ``(tag, profile, twid,
record, late)`` tuples, which msgpack encodes as the same array the typed
decoder expects.

An evidence stream entry is ``[partition, first_seq, [alerts.json line...],
done]``: the evidence a worker found in the batches it processed, numbered
per partition (``first_seq``, ``first_seq + 1`` ...), so the sink drops
whatever a replay after a crash sends again; ``done`` is ``None``, or the
partition's final counters (``Done``) once it processed ``end``.
"""

from __future__ import annotations

import types
from typing import Any, Union

import msgspec

from flowalerts.core.facts import global_facts
from flowalerts.core.messages import Advance, End, Message, TwClosed
from flowalerts.core.records import RECORD_TYPES, Record

# -- partition batches -----------------------------------------------------------------


class AdvanceItem(Advance, tag="adv"):
    """``Advance`` as a batch item."""


class TwClosedItem(TwClosed, tag="tw"):
    """``TwClosed`` as a batch item."""


class EndItem(End, tag="end"):
    """``End`` as a batch item."""


def _message_type(record_type: type[Record]) -> type[Message[Any]]:
    # A tagged subclass of Message[R]: decoded items *are* Messages.
    def body(namespace: dict[str, Any]) -> None:
        namespace["__module__"] = __name__

    return types.new_class(
        f"{record_type.__name__}Message",
        (Message[record_type],),  # type: ignore[valid-type]
        {"tag": f"m.{record_type.log_type}"},
        body,
    )


MESSAGE_TYPES: dict[type[Record], type[Message[Any]]] = {t: _message_type(t) for t in RECORD_TYPES}
# Module attributes too, so pickle finds them by name: a detection may keep a
# decoded message in its state (a pending timer's payload), and a checkpoint
# pickles that state.
globals().update({cls.__name__: cls for cls in MESSAGE_TYPES.values()})
# record type -> the tag of its items (producer side).
MESSAGE_TAGS: dict[type[Record], str] = {t: f"m.{t.log_type}" for t in RECORD_TYPES}

_encoder = msgspec.msgpack.Encoder()
_batch_decoders: dict[tuple[type, ...], msgspec.msgpack.Decoder[Any]] = {}


def _batch_decoder() -> msgspec.msgpack.Decoder[Any]:
    """The decoder of batches: messages, the global facts the learners
    declared (``flowalerts.core.facts.global_facts``, known once the catalog
    is loaded), advance, window closed, end."""
    facts = global_facts()
    decoder = _batch_decoders.get(facts)
    if decoder is None:
        item = Union[tuple(MESSAGE_TYPES.values()) + facts + (AdvanceItem, TwClosedItem, EndItem)]  # noqa: UP007
        decoder = _batch_decoders[facts] = msgspec.msgpack.Decoder(list[item])  # type: ignore[valid-type]
    return decoder

END = ("end",)


def message_item(msg: Message[Any]) -> tuple[Any, ...]:
    """A record message as a batch item (no copy of the record)."""
    return (MESSAGE_TAGS[type(msg.flow)], msg.profile, msg.twid, msg.flow, msg.late)


def advance_item(watermark: float) -> tuple[str, float]:
    """``Advance`` as a batch item (decoded as ``AdvanceItem``)."""
    return ("adv", watermark)


def tw_closed_item(profile: str, twid: int) -> tuple[str, str, int]:
    """``TwClosed`` as a batch item (decoded as ``TwClosedItem``)."""
    return ("tw", profile, twid)


def encode_batch(items: list[Any]) -> bytes:
    """Items are tuples from ``message_item``, ``("adv", w)``, ``("tw", p, n)``,
    ``END``, or global ``Fact`` structs."""
    return _encoder.encode(items)


def decode_batch(payload: bytes) -> list[Any]:
    """Typed items: Messages, global facts, AdvanceItem, TwClosedItem, EndItem."""
    return _batch_decoder().decode(payload)


# -- evidence stream ---------------------------------------------------------------------


class Done(msgspec.Struct, kw_only=True):
    """A partition processed ``end``: its final counters, for the run summary."""

    processed: dict[str, int]
    health: dict[str, Any]
    evidence: int
    # The worker that finished it, and that process's peak RSS (KB) and CPU
    # seconds so far (for the run's resource report).
    worker: str = ""
    rss_kb: int = 0
    cpu: float = 0.0


class EvidenceEntry(msgspec.Struct, array_like=True):
    partition: int
    first_seq: int
    lines: list[bytes]
    done: Done | None = None


_evidence_decoder = msgspec.msgpack.Decoder(EvidenceEntry)


def encode_evidence(entry: EvidenceEntry) -> bytes:
    return _encoder.encode(entry)


def decode_evidence_entry(payload: bytes) -> EvidenceEntry:
    return _evidence_decoder.decode(payload)
