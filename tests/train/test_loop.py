"""The loop: a tiny model learns; a run stopped at step 37 and resumed ends bit-identical."""

from __future__ import annotations

from auralith.config.training import TrainingConfig
from auralith.storage import Files
from auralith.train.checkpoint_files import complete_steps
from auralith.train.loop import TrainHooks, train
from tests.train.conftest import upload_folder

files = Files()  # no job: the environment's storage settings

CFG = TrainingConfig(
    layers=2,
    heads=2,
    d_model=64,
    context=32,
    batch_size=8,
    steps=100,
    lr=3e-3,
    warmup_steps=10,
    checkpoint_every=37,
    log_every=1,
    threads=1,
    seed=3,
)


class StopAt(TrainHooks):
    def __init__(self, step: int):
        self.step, self.logged, self.committed = step, [], []

    def log(self, metrics):
        self.logged.append(metrics)

    def checkpoint_committed(self, step, folder, manifest):
        self.committed.append(step)

    def should_stop(self):
        return self.logged[-1]["step"] >= self.step


def test_loss_falls(shards_manifest, tmp_path):
    cfg = CFG.model_copy(update={"steps": 60, "log_every": 10, "eval_every": 30, "checkpoint_every": 60})
    result = train(cfg, shards_manifest, tmp_path, files=files)
    losses = [m["loss"] for m in result.history]
    assert losses[-1] < losses[0] - 1.0, losses
    assert result.history[-1]["val_loss"] < result.history[2]["val_loss"] + 1e-9
    assert result.step == 60 and result.tokens_seen == 60 * 8 * 32


def test_stopped_at_37_and_resumed_is_bit_identical_to_an_uninterrupted_run(shards_manifest, tmp_path):
    whole = train(CFG, shards_manifest, tmp_path / "whole", files=files)
    hooks = StopAt(37)
    first = train(CFG, shards_manifest, tmp_path / "split", hooks=hooks, files=files)
    assert first.stopped and first.step == 37 and hooks.committed == [37]
    second = train(CFG, shards_manifest, tmp_path / "split", resume_from=tmp_path / "split" / "37", files=files)
    assert second.resumed_from == 37 and second.step == 100
    assert second.params_sha256 == whole.params_sha256
    # The losses logged after the resume are those of the uninterrupted run, digit for digit.
    assert [m["loss"] for m in second.history] == [m["loss"] for m in whole.history[37:]]


def test_a_run_on_s3_shards_and_checkpoints_resumes_bit_identical(bucket, shards_manifest, tmp_path):
    cfg = CFG.model_copy(
        update={"steps": 30, "checkpoint_every": 10, "keep_last": 1, "cache_dir": str(tmp_path / "cache")}
    )
    whole = train(cfg, shards_manifest, tmp_path / "whole", files=files)
    manifest = upload_folder(shards_manifest.parent, f"s3://{bucket}/out")
    root = f"s3://{bucket}/work/job/ckpt"
    hooks = StopAt(20)
    first = train(cfg, manifest, root, hooks=hooks, files=files)
    assert first.stopped and hooks.committed == [10, 20]
    assert complete_steps(files, root) == [20]  # keep_last=1 pruned step 10's objects
    second = train(cfg, manifest, root, resume_from=f"{root}/20", files=files)
    assert second.resumed_from == 20 and second.params_sha256 == whole.params_sha256
    assert complete_steps(files, root) == [30]
