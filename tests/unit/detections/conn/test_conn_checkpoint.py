"""The conn.log detections' typed window state and tallies survive a checkpoint
(``State.snapshot``/``restore``: pickled, loaded by the restricted unpickler)."""

from __future__ import annotations

from flowalerts.core.state import State
from flowalerts.detections.conn.data_upload import DataUpload, DataUploadTally, WindowSums
from flowalerts.detections.conn.reconnection_attempts import Answered, ReconnectionAttempts, ReconnectionTally
from flowalerts.detections.conn.unknown_port import PeerToPeer, UnknownPort, UnknownPortTally
from tests.harness import CLIENT, SERVER, T0, Harness, conn

MB = 1_000_000


def restored_window(harness: Harness, ident: str) -> dict:
    harness.so_far()  # (releases the records held while T0 is chosen)
    before = harness.driver.state.peek_window(ident, CLIENT, 1)
    after = State.restore(harness.driver.state.snapshot()).peek_window(ident, CLIENT, 1)
    assert before is not None and after is not None and after == before
    return after


def test_data_upload_state():
    h = Harness(DataUpload).feed(conn(uid="C1", daddr="8.8.8.8", sbytes=60 * MB),
                                 conn(uid="C2", daddr="1.1.1.1", sbytes=1000, starttime=T0 + 1))
    window = restored_window(h, "data_upload")
    assert window[WindowSums] == WindowSums(by_destination={"8.8.8.8": 60 * MB, "1.1.1.1": 1000})
    (tally,) = window["__tallies__"].values()
    assert isinstance(tally, DataUploadTally) and (tally.bytes, tally.largest, tally.singles) == (60 * MB, 60 * MB, 0)


def test_reconnection_attempts_state():
    h = Harness(ReconnectionAttempts).feed(
        conn(uid="C1", state="REJ", history="Sr", sbytes=0, dbytes=0, spkts=1, dpkts=1, dport=8080),
        conn(uid="C2", state="SF", dport=443, starttime=T0 + 1))
    window = restored_window(h, "reconnection_attempts")
    assert window[Answered] == Answered(targets={(SERVER, 443)})
    (tally,) = window["__tallies__"].values()
    assert isinstance(tally, ReconnectionTally) and tally.states == ("REJ",)


def test_unknown_port_state():
    h = Harness(UnknownPort).feed(conn(uid="C1", daddr="93.184.216.34", dport=50001, proto="udp", state="S0",
                                       history="D"))
    window = restored_window(h, "unknown_port")
    candidates = window[PeerToPeer].candidates
    assert list(candidates) == [("93.184.216.34", 50001, "udp")]
    assert isinstance(candidates["93.184.216.34", 50001, "udp"], UnknownPortTally)
