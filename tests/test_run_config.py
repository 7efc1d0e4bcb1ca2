"""Run-config validation: a typo must stop a run, never silently fall back to a default."""

import dataclasses
import json
import tomllib

import pytest

from common_data.errors import ConfigError
from common_data.run.config import DEFAULTS_PATH, RunConfig, load_run_config
from common_data.run.cpu import CPUINFO_ENV


def test_empty_overrides_give_the_defaults_file():
    config = load_run_config({})
    defaults = tomllib.loads(DEFAULTS_PATH.read_text(encoding="utf-8"))
    assert config.to_dict() == defaults
    assert config.framework == "torch" and config.optimizer.epsilon == 1e-7
    assert config.fold == -1 and config.split == "random"


def test_sections_merge_key_by_key():
    config = load_run_config({"optimizer": {"lr": 0.01}, "epochs": 3})
    assert config.optimizer.lr == 0.01
    assert config.optimizer.beta_2 == 0.999
    assert config.epochs == 3


def test_reads_a_json_file(tmp_path):
    path = tmp_path / "run.json"
    path.write_text(json.dumps({"framework": "tf", "split": "loso", "fold": 2}))
    config = load_run_config(path)
    assert (config.framework, config.split, config.fold) == ("tf", "loso", 2)


def test_round_trip_and_frozen():
    config = load_run_config({"seed": 7, "mode": {"compile": True}})
    assert load_run_config(config.to_dict()) == config
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.seed = 8  # type: ignore[misc]
    assert isinstance(config, RunConfig)


def test_hash_is_canonical_and_tracks_every_setting():
    base = load_run_config({})
    assert len(base.hash()) == 64
    reordered = dict(reversed(list(base.to_dict().items())))
    assert load_run_config(reordered).hash() == base.hash()
    # 1 and 1.0 are the same learning rate: normalised before hashing.
    assert load_run_config({"optimizer": {"lr": 1}}).hash() == \
        load_run_config({"optimizer": {"lr": 1.0}}).hash()
    assert load_run_config({"epochs": 21}).hash() != base.hash()
    assert load_run_config({"early_stopping": {"patience": 6}}).hash() != base.hash()


def test_unknown_key_names_the_file_and_the_choices(tmp_path):
    path = tmp_path / "run.json"
    path.write_text(json.dumps({"optimiser": {"lr": 0.01}}))
    with pytest.raises(ConfigError) as info:
        load_run_config(path)
    message = str(info.value)
    assert message.startswith(f"run config {path}: unknown key 'optimiser' (expected one of: ")
    assert "optimizer" in message and "early_stopping" in message


def test_unknown_nested_key_is_named_with_its_section():
    with pytest.raises(ConfigError, match=r"unknown key 'optimizer\.lr_decay' "
                                          r"\(expected one of: lr, beta_1, beta_2, epsilon\)"):
        load_run_config({"optimizer": {"lr_decay": 0.1}})


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"epochs": "20"}, "key 'epochs' must be an integer >= 1, got '20'"),
        ({"epochs": 0}, "key 'epochs' must be an integer >= 1, got 0"),
        ({"epochs": True}, "key 'epochs' must be an integer >= 1, got True"),
        ({"batch_size": 32.0}, "key 'batch_size' must be an integer >= 1, got 32.0"),
        ({"skip_bad": 1}, "key 'skip_bad' must be true or false, got 1"),
        ({"framework": "pytorch"}, "key 'framework' must be 'torch' or 'tf', got 'pytorch'"),
        ({"variant": "aug"}, "key 'variant' must be 'baseline' or 'augmented', got 'aug'"),
        ({"split": "kfold"},
         "key 'split' must be 'random', 'session', 'loso' or 'grouped', got 'kfold'"),
        ({"hud": "none"}, "key 'hud' must be 'full', 'masked' or 'hud_only', got 'none'"),
        ({"device": "cuda"}, "key 'device' must be 'auto', 'cpu' or 'gpu', got 'cuda'"),
        ({"optimizer": {"lr": 0}}, "key 'optimizer.lr' must be a number > 0, got 0"),
        ({"optimizer": {"beta_1": 1.0}},
         "key 'optimizer.beta_1' must be a number >= 0 and < 1, got 1.0"),
        ({"early_stopping": {"monitor": "loss"}},
         "key 'early_stopping.monitor' must be 'val_loss' or 'val_accuracy', got 'loss'"),
        ({"optimizer": 0.01}, "key 'optimizer' must be a table of settings, got 0.01"),
        ({"data": ""}, "key 'data' must be a non-empty string, got ''"),
    ],
)
def test_bad_values_name_key_expectation_and_value(overrides, message):
    with pytest.raises(ConfigError) as info:
        load_run_config(overrides)
    assert str(info.value) == f"run config <dict>: {message}"


def test_fold_is_required_exactly_for_loso():
    with pytest.raises(ConfigError, match="'fold' must be an integer >= 0 when split is 'loso'"):
        load_run_config({"split": "loso"})
    with pytest.raises(ConfigError, match="key 'fold' must be -1 when split is 'session'"):
        load_run_config({"split": "session", "fold": 0})
    assert load_run_config({"split": "loso", "fold": 0}).fold == 0


def test_modes_the_framework_would_ignore_are_rejected():
    with pytest.raises(ConfigError, match=r"'mode\.jit_compile' applies to framework 'tf' only"):
        load_run_config({"mode": {"jit_compile": True}})
    with pytest.raises(ConfigError, match=r"'mode\.channels_last' applies to framework 'torch'"):
        load_run_config({"framework": "tf", "mode": {"channels_last": True}})
    assert load_run_config({"framework": "tf", "mode": {"jit_compile": True}}).mode.jit_compile


def test_unreadable_or_malformed_files_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="cannot read the file"):
        load_run_config(tmp_path / "missing.json")
    broken = tmp_path / "broken.json"
    broken.write_text('{"epochs": 3,}')
    with pytest.raises(ConfigError, match=rf"run config {broken}: not valid JSON"):
        load_run_config(broken)
    listing = tmp_path / "list.json"
    listing.write_text("[1, 2]")
    with pytest.raises(ConfigError, match="expected an object of settings, got list"):
        load_run_config(listing)


def test_runs_recorded_before_a_key_existed_keep_their_config_hash() -> None:
    """Keys added later (dropout, mode.onednn, ...) must not change the identity of the runs
    committed before them, or every stored run would be rerun instead of resumed."""
    import json
    from pathlib import Path

    runs = Path(__file__).resolve().parent.parent / "results" / "runs"
    older = [json.loads(p.read_text(encoding="utf-8")) for p in sorted(runs.glob("*.json"))]
    older = [r for r in older if "dropout" not in r["config"]]
    assert len(older) >= 50
    for record in older:
        config = load_run_config({**record["config"], "dropout": "framework"})
        assert config.hash() == record["config_hash"], record["run_id"]


def test_bf16_on_the_cpu_needs_the_cpu_feature(tmp_path, monkeypatch) -> None:
    """mode.mixed_precision (bf16) on device 'cpu' is accepted where /proc/cpuinfo lists
    avx512_bf16 or amx_bf16 and refused in one line naming the mode and the feature otherwise;
    a GPU run does not depend on the CPU."""
    cpuinfo = tmp_path / "cpuinfo"
    monkeypatch.setenv(CPUINFO_ENV, str(cpuinfo))
    bf16 = {"device": "cpu", "mode": {"mixed_precision": True}}
    cpuinfo.write_text("processor\t: 0\nflags\t\t: fpu avx2 avx512f avx512_vnni\n")
    with pytest.raises(ConfigError) as info:
        load_run_config(bf16)
    assert str(info.value) == (
        "run config <dict>: mode 'mixed_precision' (bf16) on the CPU needs the CPU feature "
        f"avx512_bf16 or amx_bf16, which {cpuinfo} does not list (use a GPU, or turn the "
        "mode off)")
    assert load_run_config({**bf16, "device": "gpu"}).mode.mixed_precision
    for flag in ("avx512_bf16", "amx_bf16"):
        cpuinfo.write_text(f"processor\t: 0\nflags\t\t: fpu avx2 {flag} avx512f\n")
        assert load_run_config(bf16).mode.mixed_precision
    monkeypatch.setenv(CPUINFO_ENV, str(tmp_path / "absent"))  # no cpuinfo: nothing to tell
    with pytest.raises(ConfigError, match="needs the CPU feature"):
        load_run_config(bf16)
