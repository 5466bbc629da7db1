"""The workouts section into one write unit: workouts with their series and routes."""

from __future__ import annotations

import msgspec

from app.ingest.decode.items import NotAList, decode_error_reason, decode_items
from app.ingest.normalise import workouts
from app.ingest.normalise.common import Context
from app.ingest.report.builder import ReportBuilder
from app.ingest.types import PointError, Workout, WorkoutsWrite


def normalise(raw: msgspec.Raw, ctx: Context, report: ReportBuilder) -> WorkoutsWrite | None:
    """The section's workouts, ready to be written; None when there is nothing to write."""
    errors: list[PointError] = []
    try:
        items, indexes, received = decode_items(
            raw, msgspec.Raw, section="workouts", name=None, errors=errors
        )
    except NotAList as exc:
        report.add("workouts", None, received=1, rejected=1)
        report.reject(
            [PointError("workouts", None, None, None, f"`workouts` must be an array: {exc}")]
        )
        return None
    parsed: list[Workout] = []
    rejected = len(errors)
    for i, item in enumerate(items):
        index = indexes[i] if indexes is not None else i
        try:
            decoded = msgspec.json.decode(item)
        except msgspec.ValidationError as exc:  # a number no float holds (1e400), say
            field_name, reason = decode_error_reason(exc)
            errors.append(PointError("workouts", None, index, field_name, reason))
            rejected += 1
            continue
        workout = workouts.normalise(index, decoded, ctx, errors)
        if workout is None:
            rejected += 1
        else:
            parsed.append(workout)
    report.reject(errors)
    # The same workout twice in one body: the later one wins, as for points.
    unique = list({w.natural_key: w for w in parsed}.values())
    # Bad series or route points inside a stored workout: left out, listed in errors.
    points_rejected = len(errors) - rejected

    def done(outcome: tuple[int, int] | None) -> None:
        inserted, updated = outcome if outcome is not None else (0, 0)
        report.add(
            "workouts",
            None,
            received=received,
            inserted=inserted,
            updated=updated,
            rejected=rejected,
        )
        if outcome is None:
            return
        report.sections["workouts"]["points_rejected"] = points_rejected
        if unique:
            report.freshness.append(("section", "workouts", max(w.row[5] for w in unique)))

    if not unique:
        done((0, 0))
        return None
    return WorkoutsWrite(unique, done)
