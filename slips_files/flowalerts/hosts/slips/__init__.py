"""Running Flowalerts with Slips: what both Slips hosts share.

* ``flowalerts.hosts.slips.decode``  every message Slips publishes -> typed records
  (tolerant of Slips's placeholders, strict about values; counted rejections);
* ``flowalerts.hosts.slips.encode``  our evidence -> the JSON shape Slips stores and
  publishes (type mapping, entity keys, ids);
* ``flowalerts.hosts.slips.host``    the adapter both hosts drive: decoder, flow
  time, the late-record rule, the module driver, delivery accounting;
* ``flowalerts.hosts.slips.attach``  the separate process on Slips's Redis
  (``flowalerts module --redis URL``).

The in-process host is ``modules/flow_alerts/flow_alerts.py``, the class
Slips itself loads; it imports Slips and is only imported inside Slips.
"""
