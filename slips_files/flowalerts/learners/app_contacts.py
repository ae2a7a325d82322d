"""Learner of contacts from application logs (partition scope).

Zeek writes ssl.log, http.log and ssh.log when the handshake or the request
is seen, but conn.log only when the connection *ends*: for a two-hour TLS
session the conn record comes two hours after the DNS answer that enabled
it. These records say the same thing early - the profile contacted that IP -
so DNS-without-connection does not have to wait for the end of long sessions
(``Contact`` facts, the same the ``contacts`` learner draws from conn.log).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flowalerts.core.facts import Fact
from flowalerts.core.messages import Message
from flowalerts.engine.detection import Learner
from flowalerts.learners.conn import Contact, ContactSpans


class AppContacts(Learner):
    """Remembers that a profile contacted an IP, from ssl/http/ssh records."""

    id = "app_contacts"
    channels = ("new_ssl", "new_http", "new_ssh")
    scope = "partition"
    provides = (ContactSpans,)

    def learn(self, msg: Message[Any]) -> Iterable[Fact] | None:
        if not msg.flow.daddr:
            return None
        return (Contact(profile=msg.profile, ip=msg.flow.daddr, ts=msg.flow.starttime),)
