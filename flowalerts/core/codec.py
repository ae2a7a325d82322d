"""Encoding of bus payloads.

Our batches: a msgpack array of ``[channel, message]`` items in flow-time
order, where a record message is ``[profile, twid, [record fields...]]`` and a
``tw_closed`` message is ``[profile, twid]``. Decoding goes straight into the
typed records (msgspec), one decoder per channel, built once.

Slips messages: one JSON object per message on the channel named like the log
type (``new_flow``, ``new_dns``, ...) - see ``decode_slips``.
"""

from __future__ import annotations

from typing import Any

import msgspec
import msgspec.structs

from flowalerts.core.messages import TW_CLOSED, Message, TwClosed, parse_profileid, parse_tw_closed_text, parse_twid
from flowalerts.core.records import BY_CHANNEL, Record, slips_dict_type

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


class _SlipsEnvelope(msgspec.Struct):
    profileid: str = ""
    twid: str | int = ""
    flow: msgspec.Raw = msgspec.Raw(b"{}")
    text: str | None = None


_envelope_decoder = msgspec.json.Decoder(_SlipsEnvelope)
_slips_flow_decoders = {
    channel: msgspec.json.Decoder(slips_dict_type(record_type), strict=False)
    for channel, record_type in BY_CHANNEL.items()
}


def decode_slips(channel: str, data: bytes | str) -> Message[Any] | TwClosed | None:
    """One message from a Slips-style publisher, or None if unusable."""
    if isinstance(data, str):
        data = data.encode()
    envelope = _envelope_decoder.decode(data)
    if channel == TW_CLOSED:
        text = envelope.text or ""
        if text.startswith('"'):
            text = msgspec.json.decode(text)  # the doubly-encoded form
        return parse_tw_closed_text(text)
    record_type: type[Record] | None = BY_CHANNEL.get(channel)
    if record_type is None:
        return None
    twin = _slips_flow_decoders[channel].decode(envelope.flow)
    flow = record_type(**msgspec.structs.asdict(twin))
    profile = parse_profileid(envelope.profileid) or flow.saddr
    twid = parse_twid(envelope.twid)
    if twid is None:
        return None
    return Message(profile=profile, twid=twid, flow=flow)
