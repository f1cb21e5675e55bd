"""``--once`` output formats: Prometheus text, JSON and CSV renderings of a snapshot."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from exporter.contract import METRICS
from exporter.snapshot import Snapshot

#: CSV columns: every label of the contract, in order of first use, then the value.
CSV_LABELS = tuple(dict.fromkeys(label for spec in METRICS.values() for label in spec.labels))


def render(snapshot: Snapshot, fmt: str) -> str:
    if fmt == "prometheus":
        return snapshot.render().decode()
    if fmt == "json":
        return json.dumps(_rows(snapshot), indent=2, sort_keys=True) + "\n"
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(("name", *CSV_LABELS, "value"))
        for row in _rows(snapshot):
            labels = row["labels"]
            writer.writerow(
                (row["name"], *(labels.get(label, "") for label in CSV_LABELS), row["value"])
            )
        return out.getvalue()
    raise ValueError(f"unknown format {fmt!r}")


def _rows(snapshot: Snapshot) -> list[dict[str, Any]]:
    return [
        {"name": family.spec.name, "labels": dict(sample.labels), "value": sample.value}
        for family in snapshot.families
        for sample in family.samples
    ]
