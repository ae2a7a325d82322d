"""Field names as a Zeek deployment wrote them, mapped to Zeek's own names.

Zeek names the fields of nested records with a scope separator
(``id.orig_h``); deployments that ship logs to Elasticsearch often set
``Log::default_scope_sep = "_"`` (``id_orig_h``), and some rename fields
with ``Log::default_field_name_map`` (``id.orig_h`` -> ``src``). Both are
undone here, once per file, at the input edge: the readers decode each file
with its own names straight into the usual records, so nothing deeper sees
a difference.

* The scope separator is detected from the names of the file (the TSV
  ``#fields`` header, the keys of the first JSON record): ``.`` if any name
  has a dot, ``_`` if a name is the ``_`` form of a dotted Zeek name we read.
* ``input.field_names`` in slips.yaml maps a name in the file to Zeek's name
  (the inverse of ``Log::default_field_name_map``), e.g. ``src: id.orig_h``;
  Zeek's name may be given with either separator.

Fields we do not read (``_path``, ``_write_ts``, ``_system_name``, labels
...) are ignored.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from flowalerts.core.records import ZEEK_FIELD_NAMES, Record

# ``id_orig_h`` -> ``id.orig_h``, for every dotted Zeek name a record reads.
UNDERSCORED: dict[str, str] = {name.replace(".", "_"): name for name in ZEEK_FIELD_NAMES if "." in name}


def zeek_name(name: str) -> str | None:
    """Zeek's name for ``name`` written with either scope separator, or None if no record reads it."""
    if name in ZEEK_FIELD_NAMES:
        return name
    return UNDERSCORED.get(name)


def normalise_field_names(field_names: Mapping[str, str]) -> dict[str, str]:
    """``input.field_names`` with Zeek's names in their dotted form (unknown ones kept as given)."""
    return {name: zeek_name(zeek) or zeek for name, zeek in field_names.items()}


def scope_separator(names: Iterable[str]) -> str:
    """The scope separator of a file, judged from its field names ("." unless shown otherwise)."""
    underscored = False
    for name in names:
        if "." in name:
            return "."
        underscored = underscored or name in UNDERSCORED
    return "_" if underscored else "."


def shows_separator(names: Iterable[str]) -> bool:
    """True if these names tell the scope separator (a dotted name or its ``_`` form)."""
    return any("." in name or name in UNDERSCORED for name in names)


def file_names(record_type: type[Record], separator: str, field_names: Mapping[str, str]) -> dict[str, str]:
    """Zeek's name -> the name in the file, for every field ``record_type`` reads.

    ``field_names`` is the normalised ``input.field_names`` (name in the file
    -> Zeek's name); it wins over the scope separator.
    """
    renamed = {zeek: name for name, zeek in field_names.items()}
    out: dict[str, str] = {}
    for zeek in record_type.zeek.values():
        if zeek in renamed:
            out[zeek] = renamed[zeek]
        elif separator != ".":
            out[zeek] = zeek.replace(".", separator)
        else:
            out[zeek] = zeek
    return out


def has_dotted_names(record_type: type[Record]) -> bool:
    """True if the scope separator matters for ``record_type`` (it reads a dotted name)."""
    return any("." in zeek for zeek in record_type.zeek.values())
