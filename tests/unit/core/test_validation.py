"""The checks every record passes, from a Zeek log or a Slips message."""

from __future__ import annotations

import math

import pytest

from flowalerts.core.records import ConnRecord, DnsRecord, SoftwareRecord
from flowalerts.core.validation import MAX_COUNT, MAX_TS, Problem, validate


def conn(**fields) -> ConnRecord:
    values = {"starttime": 1000.0, "uid": "C1", "saddr": "10.0.0.1", "daddr": "10.0.0.2", "sport": 40000, "dport": 443}
    values.update(fields)
    return ConnRecord(**values)


@pytest.mark.parametrize(
    ("fields", "zeek_problem", "slips_problem"),
    [
        ({}, None, None),
        ({"starttime": -1.0}, Problem("ts", "is not a valid time"), Problem("starttime", "is not a valid time")),
        ({"starttime": math.nan}, Problem("ts", "is not a valid time"), Problem("starttime", "is not a valid time")),
        ({"starttime": MAX_TS + 1}, Problem("ts", "is not a valid time"), Problem("starttime", "is not a valid time")),
        ({"saddr": "10.0.0.300"}, Problem("id.orig_h", "is not an IP address"),
         Problem("saddr", "is not an IP address")),
        ({"daddr": ""}, Problem("id.resp_h", "is missing"), Problem("daddr", "is missing")),
        ({"dport": 70000}, Problem("id.resp_p", "is not a port number (0-65535)"),
         Problem("dport", "is not a port number (0-65535)")),
        ({"sbytes": -5}, Problem("orig_bytes", "is negative"), Problem("sbytes", "is negative")),
        ({"dbytes": MAX_COUNT + 1}, Problem("resp_bytes", "is above 2^64-1"), Problem("dbytes", "is above 2^64-1")),
        ({"dur": math.inf}, Problem("duration", "is not a finite number"), Problem("dur", "is not a finite number")),
        ({"dur": MAX_TS}, Problem("duration", "is too large"), Problem("duration", "is too large")),
    ],
)
def test_a_conn_record_is_checked_and_the_field_named_as_its_input_names_it(fields, zeek_problem, slips_problem):
    assert validate(conn(**fields), ConnRecord) == zeek_problem
    assert validate(conn(**fields), ConnRecord, zeek_names=False) == slips_problem


def test_the_problem_reads_as_a_sentence():
    assert str(Problem("id.orig_h", "is not an IP address")) == "id.orig_h is not an IP address"


@pytest.mark.parametrize(
    ("address", "normalised"),
    [("::ffff:10.0.2.15", "10.0.2.15"), ("2001:db8::1", "2001:db8::1"), ("192.168.1.1", "192.168.1.1")],
)
def test_addresses_are_normalised_an_ipv4_mapped_address_is_that_ipv4_host(address, normalised):
    record = conn(saddr=address, daddr=address)
    assert validate(record, ConnRecord) is None
    assert (record.saddr, record.daddr) == (normalised, normalised)


def test_a_record_type_without_a_destination_may_lack_one():
    software = SoftwareRecord(starttime=1000.0, uid="", saddr="10.0.0.1", daddr="")
    assert validate(software, SoftwareRecord) is None
    dns = DnsRecord(starttime=1000.0, uid="D1", saddr="10.0.0.1", daddr="")
    assert validate(dns, DnsRecord) == Problem("id.resp_h", "is missing")
