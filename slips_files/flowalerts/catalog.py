"""The catalog: every detection and learner of the package, found by
declaration (pySigma style). Importing each file under ``flowalerts/detections/``
and ``flowalerts/learners/`` registers its classes (``Detection`` and
``Learner`` register their subclasses); nothing else names them.

Hosts and commands ask the catalog; the engine only knows what was registered
(``flowalerts.engine.detection.registered``).
"""

from __future__ import annotations

import importlib
import pkgutil

from flowalerts import detections as detections_package
from flowalerts import learners as learners_package
from flowalerts.core.config import SectionConfig
from flowalerts.engine.detection import Detection, Learner, registered


def load_components() -> tuple[dict[str, type[Detection]], dict[str, type[Learner]]]:
    """Import every file under ``detections/`` and ``learners/`` so their classes register."""
    for package in (learners_package, detections_package):
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            importlib.import_module(info.name)
    return registered()


def config_sections() -> dict[str, type[SectionConfig]]:
    """The config class of every detection and learner, by id (for the config loader)."""
    detections, learners = load_components()
    sections: dict[str, type[SectionConfig]] = {}
    for ident, cls in [*learners.items(), *detections.items()]:
        sections[ident] = cls.Config
    return sections
