"""``dualloop init``: a project for your table: a config file, its data-quality ruleset, and
the commands that run the whole dual loop on it.

The schema is inferred from the data as ingest reads it (``outer_orchestrator.quality.suggest``):
headers by the header rule; a feature is numeric when every value is a number (or true/false),
else categorical. The problem type, unless given, follows the target: two whole-number classes
are ``binary``, 3 to ``MAX_CLASSES`` ``multiclass``, anything else numeric ``regression``.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.markup import escape

from outer_orchestrator.quality.suggest import (
    DataProblem,
    as_numbers,
    read_curated,
    read_table,
    suggest_ruleset,
)
from shared.cli_support import console
from shared.column_names import column_name
from shared.config import DEFAULT_GATE, DataSchema, Feature, FeatureType, ProblemType, load_config

__all__ = ["GENERATED_ID", "MAX_CLASSES", "Project", "infer_schema", "init_cmd", "write_project"]

MAX_CLASSES = 20  # more whole-number values than this is a count or a score: regression
GENERATED_ID = "row_id"  # the id ingest adds to data without one (dataset.generate_id)
CONFIG_NAME = "dualloop.yaml"


@dataclass(frozen=True)
class Project:
    config: Path
    ruleset: Path
    schema: DataSchema
    why: str  # how the problem type was decided
    commands: tuple[str, ...]


def _column(wanted: str, columns: list[str], headers: list[str], what: str, data: Path) -> str:
    """``wanted`` as the header rule names it, or a DataProblem naming the closest column."""
    name = column_name(wanted)
    if name in columns:
        return name
    closest = difflib.get_close_matches(name, columns, n=1, cutoff=0.5)
    hint = (
        f"the closest is {headers[columns.index(closest[0])]!r}"
        if closest
        else f"it has {', '.join(headers)}"
    )
    raise DataProblem(f"{what} {wanted!r} is not a column of {data} ({hint})")


def _problem_type(
    target: pd.Series, name: str, given: ProblemType | None
) -> tuple[ProblemType, str, tuple[str, ...] | None]:
    """(problem type, why, the classes when they are text labels)."""
    present = target.dropna()
    try:
        values = as_numbers(present, name)
    except DataProblem:
        return _text_labels(present, name, given)
    classes = sorted(set(values))
    whole = all(float(v).is_integer() for v in classes)
    if given is not ProblemType.REGRESSION and len(classes) < 2:
        _single_class(name, [f"{v:g}" for v in classes])
    if given is ProblemType.REGRESSION:
        return given, "given with --problem-type", None
    if given is not None:
        if not whole:
            raise DataProblem(
                f"a {given.value} target's labels are whole numbers, and {name!r} has fractions "
                f"(e.g. {next(v for v in classes if not float(v).is_integer()):g}): use --problem-type regression"
            )
        if given is ProblemType.BINARY and len(classes) != 2:
            raise DataProblem(
                f"a binary target has 2 classes, and {name!r} has {len(classes)}: use multiclass"
            )
        return given, "given with --problem-type", None
    if whole and len(classes) == 2:
        return ProblemType.BINARY, f"2 classes ({classes[0]:g}, {classes[1]:g})", None
    if whole and len(classes) <= MAX_CLASSES:
        return ProblemType.MULTICLASS, f"{len(classes)} whole-number classes", None
    why = f"{len(classes)} distinct numbers" + ("" if whole else ", not all whole")
    return ProblemType.REGRESSION, why, None


def _text_labels(
    present: pd.Series, name: str, given: ProblemType | None
) -> tuple[ProblemType, str, tuple[str, ...]]:
    """A target with text in it: classes (listed in the config, so ingest keeps them as text)."""
    labels = present.astype("string").str.strip()
    labels = labels[labels != ""]
    if given is ProblemType.REGRESSION:
        sample = next(v for v in labels if not _is_number(v))
        raise DataProblem(
            f"a regression target must be numbers, and column {name!r} holds text, e.g. {sample!r}: "
            "fix those values, or choose a classification --problem-type"
        )
    classes = tuple(sorted(set(labels)))
    if len(classes) < 2:
        _single_class(name, list(classes))
    if given is ProblemType.BINARY and len(classes) != 2:
        raise DataProblem(f"a binary target has 2 classes, and {name!r} has {len(classes)}: use multiclass")
    kind = given or (ProblemType.BINARY if len(classes) == 2 else ProblemType.MULTICLASS)
    return kind, f"{len(classes)} text labels", classes


def _single_class(name: str, seen: list[str]) -> None:
    raise DataProblem(
        f"the target {name!r} has a single class ({', '.join(seen) or 'none'}): a classifier needs "
        "at least 2; give data with more than one class"
    )


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return text.strip().lower() in ("true", "false", "")
    return True


def _feature_type(column: pd.Series, name: str) -> FeatureType:
    try:
        as_numbers(column, name)
    except DataProblem:
        return FeatureType.CATEGORICAL
    return FeatureType.NUMERIC


def infer_schema(
    data: Path, target: str, id_column: str | None = None, problem_type: ProblemType | None = None
) -> tuple[DataSchema, str]:
    """The dataset section for the table at ``data``, and why its problem type is what it is."""
    raw = read_table(data)
    columns = list(raw.columns)
    headers = list(raw.attrs.get("headers", columns))
    target_name = _column(target, columns, headers, "the target", data)
    if id_column is not None:
        id_name = _column(id_column, columns, headers, "the id", data)
        if id_name == target_name:
            raise DataProblem(
                f"--id and --target both name {id_name!r}: the id identifies rows, the target is learnt"
            )
    elif GENERATED_ID in columns:
        raise DataProblem(
            f"{data} has a column {GENERATED_ID!r}: pass --id {GENERATED_ID} if it identifies rows "
            "(without --id, ingest adds that column)"
        )
    else:
        id_name = GENERATED_ID
    kind, why, classes = _problem_type(raw[target_name], target_name, problem_type)
    features = tuple(
        Feature(name=c, type=_feature_type(raw[c], c)) for c in columns if c not in (target_name, id_name)
    )
    if not features:
        raise DataProblem(f"{data} has no column besides the target and the id to learn from")
    schema = DataSchema(
        id_column=id_name,
        generate_id=id_column is None,
        target_column=target_name,
        problem_type=kind,
        classes=classes,
        features=features,
    )
    return schema, why


def _project_name(data: Path) -> str:
    """A valid ``project`` (3-22 of a-z 0-9 -, starting with a letter) from the file name."""
    stem = re.sub(r"[^a-z0-9]+", "-", column_name(data.stem).lower()).strip("-")
    stem = stem if stem[:1].isalpha() else f"p-{stem}"
    stem = stem[:22].rstrip("-")
    return stem if len(stem) >= 3 else f"{stem}-ml"


def _positive_weight(target: pd.Series, schema: DataSchema) -> float | None:
    """A binary target's negatives per positive (XGBoost's parameter guide suggests
    ``sum(negative instances) / sum(positive instances)`` for scale_pos_weight)."""
    if schema.problem_type is not ProblemType.BINARY:
        return None
    labels = target.dropna()
    negative, positive = schema.classes or tuple(sorted(set(labels)))
    count = labels.value_counts()
    return round(float(count.get(negative, 0)) / max(1.0, float(count.get(positive, 0))), 3) or None


def _config_text(
    schema: DataSchema, why: str, data: Path, project: str, ruleset: str, weight: float | None = None
) -> str:
    metric, threshold = DEFAULT_GATE[schema.problem_type]
    q = json.dumps  # a JSON string is a YAML string, quoted where it must be
    lines = [
        f"# dualloop configuration written by `dualloop init` from {data.name}.",
        '# Every setting and its default: README.md, "Configuration" and "Your data".',
        f"project: {q(project)}  # names every resource: <project>-<stage>-...",
        "dataset:",
    ]
    if schema.generate_id:
        lines += [
            f"  id_column: {q(schema.id_column)}",
            "  # The data has no id column: ingest adds one, a hash of each row's values (the same",
            "  # row gets the same id, and so the same train/validation/test split, on every retrain).",
            "  generate_id: true",
        ]
    else:
        lines.append(f"  id_column: {q(schema.id_column)}  # identifies a row; decides its split")
    lines += [
        f"  target_column: {q(schema.target_column)}",
        f"  problem_type: {schema.problem_type.value}  # inferred: {why}",
        *(
            [
                "  # Text labels, in code order (binary: negative, positive); ingest keeps them as text.",
                f"  classes: [{', '.join(q(c) for c in schema.classes)}]",
            ]
            if schema.classes
            else []
        ),
        "  # numeric: every value is a number; categorical: anything else (one-hot encoded).",
        "  features:",
        *(f"    - {{name: {q(f.name)}, type: {f.type.value}}}" for f in schema.features),
        "# The inner loop's gate on the test set; the problem type's default. Raise it once you know",
        "# what your model reaches; an error metric (rmse, mae, mse) needs a threshold in your target's units.",
        f"quality: {{metric: {metric}, threshold: {threshold}}}",
        *(
            [
                "# The positive class's weight: negatives per positive in this data (the default, 10, is the",
                "# fraud demo's).",
                f"hyperparameters: {{scale_pos_weight: {weight:g}}}",
            ]
            if weight
            else []
        ),
        "# The outer loop's data-quality rules (DQDL), relative to this file: review them, they describe",
        "# the data they were suggested from. `dualloop quality suggest` writes them again.",
        f"ruleset: {q(ruleset)}",
    ]
    return "\n".join(lines) + "\n"


def write_project(
    data: Path,
    target: str,
    out: Path,
    *,
    id_column: str | None = None,
    problem_type: ProblemType | None = None,
    project: str | None = None,
) -> Project:
    """Infer, write ``out/dualloop.yaml`` and ``out/<project>.dqdl``, and check both load."""
    schema, why = infer_schema(data, target, id_column, problem_type)
    name = project or _project_name(data)
    curated = read_curated(data, schema)
    ruleset = suggest_ruleset(curated, schema, source=data.name)
    weight = _positive_weight(curated[schema.target_column], schema)
    out.mkdir(parents=True, exist_ok=True)
    ruleset_path = out / f"{name}.dqdl"
    config_path = out / CONFIG_NAME
    ruleset_path.write_text(ruleset, encoding="utf-8")
    config_path.write_text(_config_text(schema, why, data, name, ruleset_path.name, weight), encoding="utf-8")
    cfg = load_config(config_path)  # what was written is a valid config (ConfigError otherwise)
    assert cfg.dataset == schema, "the config written does not read back as the inferred schema"
    run = f"dualloop run --config {config_path} --data {data} --approve auto"
    return Project(
        config=config_path,
        ruleset=ruleset_path,
        schema=schema,
        why=why,
        commands=(
            'dualloop local up   # in a terminal of its own; then here: eval "$(dualloop local env)"',
            run,
        ),
    )


def init_cmd(
    data: Annotated[Path, typer.Option(help="Your table: a CSV or Parquet file (or a folder of them).")],
    target: Annotated[str, typer.Option(help="The column to predict (as in the header).")],
    id_column: Annotated[
        str | None,
        typer.Option("--id", help="The column that identifies a row; without it, ingest adds one."),
    ] = None,
    out: Annotated[Path, typer.Option(help="Where to write dualloop.yaml and the ruleset.")] = Path("."),
    problem_type: Annotated[
        ProblemType | None, typer.Option(help="binary | multiclass | regression (default: inferred).")
    ] = None,
    project: Annotated[
        str | None, typer.Option(help="The project name (default: from the file name).")
    ] = None,
) -> None:
    """Infer the schema and problem type of your table; write a config and its data-quality ruleset."""
    try:
        made = write_project(
            data, target, out, id_column=id_column, problem_type=problem_type, project=project
        )
    except DataProblem as exc:
        console.print(f"[red]{escape(str(exc))}[/red]")
        raise typer.Exit(2) from None
    s = made.schema
    kinds = {t: sum(f.type is t for f in s.features) for t in FeatureType}
    typer.echo(
        f"{s.problem_type.value} problem ({made.why}): target {s.target_column}, "
        f"{kinds[FeatureType.NUMERIC]} numeric and {kinds[FeatureType.CATEGORICAL]} categorical features, "
        f"id {s.id_column}{' (added at ingest)' if s.generate_id else ''}"
    )
    typer.echo(f"wrote {made.config} and {made.ruleset}")
    typer.echo("Run the whole dual loop on it, on a local cloud (on AWS: README, 'Deploy'):")
    for command in made.commands:
        typer.echo(f"  {command}")
