"""Data files shipped with the package, read at run time.

* ``organizations_info/``: the five organisations' ASNs, domains and IP ranges;
* ``ports_info/``: known service ports, organisation ports, LAN device ports;
* ``feeds/``: sample JA3 / SSL-certificate feeds and a Tor exit list
  (``flowalerts update-feeds`` downloads the real ones);
* ``whitelist.conf``: the default Slips-format whitelist;
* ``slips_module/``: the module folder Slips loads (a link to the
  repository's ``modules/flow_alerts/``, copied into the wheel), which
  ``flowalerts slips-install`` puts into a Slips tree.

Relative paths in a configuration (feeds, whitelist) fall back to this folder.
"""

from __future__ import annotations

import pathlib

DATA_DIR = pathlib.Path(__file__).resolve().parent
