"""Helpers for whole-pipeline tests: run records (or a dataset) in-process
through profiler, driver and learners, and compare evidence by what was
decided (type, profile, window, endpoints, level, confidence, count, details,
uids), not by enrichment that depends on what was learned before."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

import msgspec

from flowalerts.catalog import config_sections
from flowalerts.core.config import Config, parse_config
from flowalerts.core.evidence import Evidence
from flowalerts.core.records import Record
from flowalerts.engine.driver import ModuleDriver
from flowalerts.hosts.standalone import Pipeline
from flowalerts.io.input.folder import FolderReader
from flowalerts.io.input.warnings import InputWarnings
from flowalerts.knowledge import Knowledge
from flowalerts.knowledge.lookups import NullLookups
from tests.harness import final, summary


@functools.cache
def shipped_knowledge() -> Knowledge:
    config, _ = parse_config({}, sections=config_sections())
    return Knowledge.load(config, notify=lambda text: None)


def default_config(**sections: Any) -> Config:
    return parse_config(sections, sections=config_sections())[0]


def read_dataset(folder: str) -> list[Record]:
    return list(FolderReader(folder, InputWarnings(emit=lambda text: None)))


def run_records(records: Iterable[Record], config: Config | None = None) -> tuple[list[Evidence], Pipeline, list[str]]:
    config = config or default_config()
    warnings: list[str] = []
    driver = ModuleDriver(config, shipped_knowledge(), NullLookups(), strict=True)
    pipeline = Pipeline(config, driver, sink=None, warn=lambda kind, text: warnings.append(kind))
    for record in records:
        pipeline.feed(record)
    pipeline.finish()
    return final(pipeline.evidence), pipeline, warnings


def decided(evidence: Evidence) -> tuple[Any, ...]:
    *head, details = summary(evidence)
    return (*head, msgspec.json.encode(details).decode(), tuple(evidence.uids), evidence.ts)


def decided_set(evidences: Iterable[Evidence]) -> list[tuple[Any, ...]]:
    return sorted(decided(e) for e in evidences)
