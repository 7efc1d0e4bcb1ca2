"""Records made from the same data in another folder, found under the run ids cells have here.

A run config names its dataset (and card) by absolute path, and the path enters the config
hash, so a cell's run id says where the data was. Records copied from another machine, a CI
checkout or a moved dataset therefore carry other run ids than the cells planned here, although
they ran on the same bytes. Before a finding reads records, each one whose dataset hash (the
content of every file and its label) and card digest equal this dataset's is given the run id
its config has with this folder's paths. A record of other content keeps its own id, so it
never stands in for a cell; one made in this folder keeps precedence over a copy.
"""

from pathlib import Path
from typing import Any

from benchmarks.matrix.cells import RUN_ID_HASH_CHARS
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


def _location(record: dict[str, Any]) -> tuple[str, str]:
    config = record["config"]
    return str(config.get("data", "")), str(config.get("card") or "")
