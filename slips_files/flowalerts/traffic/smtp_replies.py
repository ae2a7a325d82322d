"""What an SMTP server's reply means (smtp.log ``last_reply``), shared by the SMTP detections."""

from __future__ import annotations


def is_bad_login(last_reply: str) -> bool:
    """An SMTP reply that says the authentication failed."""
    if not last_reply:
        return False
    reply = last_reply.lower()
    if "bad smtp-auth user" in reply:
        return True
    return reply.lstrip().startswith("535") and "authentication" in reply
