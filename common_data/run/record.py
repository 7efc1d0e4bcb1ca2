"""The result record a run writes: its skeleton, and the sections built from what the twin
reports (the data section is `common_data.run.inputs.data_section`, the host facts
`common_data.run.host`). `common_data.run.schema` validates what comes out.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from common_data.model.init_weights import INIT_SCHEME, weights_digest
from common_data.model.spec import Spec
from common_data.run.config import RunConfig
from common_data.run.host import now
from common_data.run.schema import SCHEMA_VERSION
from common_data.run.twin import Twin

ERROR_TAIL_LINES = 15


def new_record(config: RunConfig, run_id: str) -> dict[str, Any]:
    """Every schema field, with the sections a run fills in as it gets to them left None."""
    return {
        "schema_version": SCHEMA_VERSION, "run_id": run_id, "status": "failed",
        "framework": config.framework, "config": config.to_dict(), "config_hash": config.hash(),
        "environment": None, "model": None, "data": None, "history": None,
        "diverged_at_epoch": None, "metrics": None, "predictions_file": None,
        "predictions_sha256": None, "weights_file": None, "timing": None, "memory": None,
        "error": None,
        "started_at": now(), "finished_at": None,
    }


def model_section(twin: Twin, spec: Spec, weights: Mapping[str, np.ndarray]) -> dict[str, Any]:
    """Parameter counts as the framework sees them, after checking they are the spec's: a
    twin that built a different network must fail here, not produce a plausible record."""
    built = twin.parameter_shapes()
    expected = dict(spec.param_shapes())
    if built != expected:
        names = built.keys() | expected.keys()
        differ = sorted(k for k in names if built.get(k) != expected.get(k))
        raise RuntimeError(
            f"the {twin.framework} twin built parameters that differ from spec {spec.name!r}: "
            + ", ".join(f"{k} {built.get(k)} vs spec {expected.get(k)}" for k in differ)
        )
    return {
        "spec": spec.name, "spec_hash": spec.hash(), "init_scheme": INIT_SCHEME,
        "weights_digest": weights_digest(weights),
        "params_total": sum(math.prod(s) for s in built.values()),
        "params_trainable": twin.trainable_params(),
        "params_per_layer": spec.param_counts(),
    }


def error_tail(text: str) -> str:
    """The last lines of a traceback: enough to say what failed, short enough for a record."""
    return "\n".join(text.strip().splitlines()[-ERROR_TAIL_LINES:])
