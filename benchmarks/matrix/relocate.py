"""Records made from the same data in another folder, found under the run ids cells have here.

A run config names its dataset (and card) by absolute path, and the path enters the config
hash, so a cell's run id says where the data was. Records copied from another machine, a CI
checkout or a moved dataset therefore carry other run ids than the cells planned here, although
they ran on the same bytes. Before a finding reads records, each one whose dataset hash (the
content of every file and its label) and card digest equal this dataset's is given the run id
its config has with this folder's paths. A record of other content keeps its own id, so it
never stands in for a cell; one made in this folder keeps precedence over a copy. A finding
that trains leaves out the cells such a record already answers (`done_elsewhere`): at the
published protocol they are hours of runs.
"""

from pathlib import Path
from typing import Any

from benchmarks.matrix.cells import RUN_ID_HASH_CHARS, Cell
from benchmarks.matrix.local import quiet, settles
from benchmarks.matrix.records import load_records
from common_data.data.datasets import open_dataset
from common_data.errors import BenchError
from common_data.run.config import config_digest


def records_here(records: list[dict[str, Any]], data: str,
                 card: dict[str, str]) -> dict[str, dict[str, Any]]:
    """`records` by the run id each has for the dataset at `data` labelled by `card`
    (`{"card": path, "card_sha256": digest}`, or empty for the folder's own labels)."""
    here = {record["run_id"]: record for record in records}
    if not Path(data).is_dir():  # an embedded dataset is named, not placed: nothing moves
        return here
    wanted = card.get("card_sha256", "")
    moved = [r for r in records if _location(r) != (data, card.get("card", ""))
             and (r["config"].get("card_sha256") or "") == wanted]
    if not moved:
        return here
    try:
        content = open_dataset(data, card.get("card", ""), wanted).hash()
    except BenchError:  # the data cannot be read: the checks that follow say why
        return here
    for record in moved:
        if (record.get("data") or {}).get("dataset_hash") != content:
            continue
        config = {**record["config"], "data": data}
        if wanted:
            config["card"] = card["card"]
        run_id = (record["run_id"][:-RUN_ID_HASH_CHARS]
                  + config_digest(config)[:RUN_ID_HASH_CHARS])
        here.setdefault(run_id, record)
    return here


def done_elsewhere(cells: list[Cell], runs_dir: Path, data: str,
                   card: dict[str, str]) -> list[Cell]:
    """The cells without a record of their own that a finished record made from the same data in
    another folder answers, as `is_done` asks of a record here."""
    records = records_here(load_records(runs_dir), data, card)
    return [cell for cell in cells
            if (record := records.get(cell.run_id)) is not None
            and record["run_id"] != cell.run_id
            and settles(record, Path(record["_path"]).parent, quiet)]


def _location(record: dict[str, Any]) -> tuple[str, str]:
    config = record["config"]
    return str(config.get("data", "")), str(config.get("card") or "")
