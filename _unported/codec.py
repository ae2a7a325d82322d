"""Encoding of bus payloads.

Our batches: a msgpack array of ``[channel, message]`` items in flow-time
order, where a record message is ``[profile, twid, [record fields...]]`` and a
``tw_closed`` message is ``[profile, twid]``. Decoding goes straight into the
typed records (msgspec), one decoder per channel, built once.

Slips messages: one JSON object per message on the channel named like the log
type (``new_flow``, ``new_dns``, ...) - see ``decode_slips``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec
import msgspec.structs

from flowalerts.messages import TW_CLOSED, Message, TwClosed, parse_profileid, parse_tw_closed_text, parse_twid
from flowalerts.records import BY_CHANNEL, Record, slips_dict_type

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


_SLIPS_TIME_FORMATS = ("%Y/%m/%d %H:%M:%S.%f%z", "%Y/%m/%d %H:%M:%S.%f", "%Y/%m/%d %H:%M:%S%z", "%Y/%m/%d %H:%M:%S")


def slips_time_to_epoch(value: object) -> float | None:
    """Slips's ``starttime`` forms -> epoch seconds: a number, a numeric string,
    an ISO 8601 string or ``%Y/%m/%d %H:%M:%S.%f`` (naive times are UTC)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if not isinstance(value, str) or len(value) > 64:
        return None
    text = value.strip()
    try:
        return float(text)
    except ValueError:
        pass
    parsed: dt.datetime | None = None
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        for fmt in _SLIPS_TIME_FORMATS:
            try:
                parsed = dt.datetime.strptime(text, fmt)
                break
            except ValueError:
                continue
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.timestamp()


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
    try:
        twin = _slips_flow_decoders[channel].decode(envelope.flow)
    except msgspec.ValidationError:
        # Slips may send starttime as a datetime string: convert and retry.
        fields = msgspec.json.decode(envelope.flow)
        if not isinstance(fields, dict) or "starttime" not in fields:
            raise
        epoch = slips_time_to_epoch(fields["starttime"])
        if epoch is None:
            raise
        fields["starttime"] = epoch
        twin = _slips_flow_decoders[channel].decode(msgspec.json.encode(fields))
    flow = record_type(**msgspec.structs.asdict(twin))
    profile = parse_profileid(envelope.profileid) or flow.saddr
    twid = parse_twid(envelope.twid)
    if twid is None:
        return None
    return Message(profile=profile, twid=twid, flow=flow)
