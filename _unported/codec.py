"""Encoding of bus payloads.

Our batches: a msgpack array of ``[channel, message]`` items in flow-time
order, where a record message is ``[profile, twid, [record fields...]]`` and a
``tw_closed`` message is ``[profile, twid]``. Decoding goes straight into the
typed records (msgspec), one decoder per channel, built once.

Slips messages are decoded by ``flowalerts.slips.decode`` (``SlipsDecoder``).
"""

from __future__ import annotations

from typing import Any

import msgspec
import msgspec.structs

from flowalerts.messages import TW_CLOSED, Message, TwClosed
from flowalerts.records import BY_CHANNEL

_encoder = msgspec.msgpack.Encoder()
_items_decoder = msgspec.msgpack.Decoder(list[tuple[str, msgspec.Raw]])
_message_decoders = {channel: msgspec.msgpack.Decoder(Message[record_type]) for channel, record_type in BY_CHANNEL.items()}
_tw_decoder = msgspec.msgpack.Decoder(TwClosed)


def encode_batch(items: list[tuple[str, Message[Any] | TwClosed]]) -> bytes:
    out = []
    for channel, msg in items:
        if isinstance(msg, TwClosed):
            out.append((channel, (msg.profile, msg.twid)))
        else:
            out.append((channel, (msg.profile, msg.twid, msgspec.structs.astuple(msg.flow))))
    return _encoder.encode(out)


def decode_batch(payload: bytes) -> list[tuple[str, Message[Any] | TwClosed]]:
    items = []
    for channel, raw in _items_decoder.decode(payload):
        if channel == TW_CLOSED:
            items.append((channel, _tw_decoder.decode(raw)))
        else:
            decoder = _message_decoders.get(channel)
            if decoder is not None:
                items.append((channel, decoder.decode(raw)))
    return items


# Decoding Slips's own messages moved to flowalerts.slips.decode (SlipsDecoder).
