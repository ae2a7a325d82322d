"""URLs in messages: secrets are never printed, Redis URLs are checked.

``redact`` is applied to every line Flowalerts prints (``flowalerts.cli.main``,
``commands.common.stderr_emit``, the logging formatter), so a password in
``redis://:secret@host`` or ``?password=`` never reaches a terminal or a log,
whatever message carried it (ours, or an exception text from a library).
Code that shows a URL on purpose (a banner) uses ``redact_url``.
"""

from __future__ import annotations

import re
import urllib.parse

# scheme://user:password@  ->  scheme://user:***@   (and scheme://password@ for
# Redis's "redis://secret@host" form, where the user part is the password).
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]{0,20}://)([^\s/@]{0,512})@")
_SECRET_PARAM = re.compile(r"(?i)([?&;](?:password|passwd|pass|pwd|token|secret|api_?key|key)=)[^&;#\s]*")

REDACTED = "***"


def _userinfo(match: re.Match[str]) -> str:
    user, sep, _password = match.group(2).partition(":")
    if not sep:
        # No colon: Redis reads "redis://secret@host" as a password; hide it too.
        return f"{match.group(1)}{REDACTED}@"
    return f"{match.group(1)}{user}:{REDACTED}@"


def redact(text: str) -> str:
    """``text`` with every password, token or key inside a URL replaced by ``***``."""
    if "://" not in text and "=" not in text:
        return text
    text = _USERINFO.sub(_userinfo, text)
    return _SECRET_PARAM.sub(lambda m: m.group(1) + REDACTED, text)


def redact_url(url: str | None) -> str:
    """A URL fit to print (``redis://:***@host:6379/0``)."""
    return redact(url or "")


class RedisUrlError(ValueError):
    """A Redis URL that would not connect where the user meant (message is redacted)."""


def check_redis_url(url: str) -> str:
    """``url`` if it is a usable Redis URL, else ``RedisUrlError`` saying why.

    Accepted: ``redis://[[user]:password@]host[:port][/db]``, ``rediss://...``
    and ``unix:///path/to/socket[?db=N]``, with a numeric DB. redis-py
    silently uses DB 0 for ``redis://host/abc``; a typo must not write into
    another database.
    """
    shown = redact_url(url)
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise RedisUrlError(f"invalid Redis URL {shown}: {exc}") from None
    scheme = parts.scheme.lower()
    query = urllib.parse.parse_qs(parts.query)
    if scheme in ("redis", "rediss"):
        if not parts.hostname:
            raise RedisUrlError(f"invalid Redis URL {shown}: no host")
        if port == 0:
            raise RedisUrlError(f"invalid Redis URL {shown}: port 0")
        db = parts.path.strip("/")
    elif scheme == "unix":
        if not parts.path:
            raise RedisUrlError(f"invalid Redis URL {shown}: no socket path")
        db = ""
    else:
        raise RedisUrlError(f"invalid Redis URL {shown}: the scheme must be redis://, rediss:// or unix://")
    dbs = [db] if db else []
    dbs += query.get("db", [])
    for value in dbs:
        if not value.isascii() or not value.isdigit():
            raise RedisUrlError(f"invalid Redis URL {shown}: the database must be a number (got {value!r})")
    return url
