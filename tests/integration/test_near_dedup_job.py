"""Near dedup on a real worker: the band chord fans out, the job's accounting holds, dedup-report shows it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from auralith.cli.main import main
from auralith.store import Store
from auralith.store.models import JobState, PartitionState
from tests.pipeline.test_near_dedup import near_corpus

pytestmark = pytest.mark.integration


def test_near_duplicates_across_partitions_are_removed_and_reported(client, tokenizer_path, tmp_path: Path):
    expected = near_corpus(tmp_path / "data")
    config = tmp_path / "near.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "name": "near",
                "sources": [{"path": "data/*.jsonl"}],
                "partition_size_mb": (tmp_path / "data" / "a.jsonl").stat().st_size / 2**20,
                "preprocessing": {
                    "near_dedup": {"enabled": True},
                    "quality": {"enabled": False},
                },  # docstrings, not web text
                "tokenization": {"tokenizer": str(tokenizer_path)},
                "output": {"path": "out"},
                "work_dir": "work",
            }
        )
    )
    job_id = client.submit(config)
    info = client.wait(job_id, timeout=180)
    assert info.state == JobState.SUCCEEDED, info.error

    st = info.stats
    assert st.records == 70
    assert st.removed == {
        "exact_duplicate": len(expected["exact_duplicate"]),
        "near_duplicate": len(expected["near_duplicate"]),
    }
    assert st.records == st.documents_out + sum(st.removed.values())
    bands = Store(client.store_url).list_partitions(job_id, "minhash")
    assert len(bands) == 20 and all(p.state == PartitionState.COMMITTED for p in bands)
    exact = Store(client.store_url).get_partition(job_id, "dedup", 0)
    near = Store(client.store_url).get_partition(job_id, "near_dedup", 0)
    assert {**exact.counts["removed"], **near.counts["removed"]} == st.removed
    assert near.counts["cluster_sizes"] == {"2": 11, "3": 1}

    runner = CliRunner()
    out = runner.invoke(main, ["dedup-report", job_id, "--top", "1"])
    assert out.exit_code == 0, out.output
    assert "near_duplicate 13" in out.output and "b040" in out.output and "c001, c002" in out.output
    report = json.loads(runner.invoke(main, ["dedup-report", job_id, "--json"]).output)
    assert report["cluster_sizes"] == {"2": 11, "3": 1} and report["biggest"][0]["kept"] == "b040"
    assert len(report["biggest"]) == 10


def test_dedup_report_of_a_job_without_near_dedup_is_one_line(client, tokenizer_path, tmp_path: Path):
    near_corpus(tmp_path / "data")
    config = tmp_path / "plain.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "name": "plain",
                "sources": [{"path": "data/*.jsonl"}],
                "preprocessing": {"quality": {"enabled": False}},
                "tokenization": {"tokenizer": str(tokenizer_path)},
                "output": {"path": "out2"},
                "work_dir": "work",
            }
        )
    )
    info = client.wait(client.submit(config), timeout=120)
    assert info.state == JobState.SUCCEEDED, info.error
    assert info.stats.removed == {"exact_duplicate": 2}
    out = CliRunner().invoke(main, ["dedup-report", info.id])
    assert out.exit_code == 1 and "ran without near dedup" in out.output and "Traceback" not in out.output


def test_resume_after_failed_bands_redoes_only_those(client, tokenizer_path, tmp_path: Path):
    from sqlalchemy import update

    from auralith.store.db import session_scope
    from auralith.store.models import Partition

    near_corpus(tmp_path / "data")
    config = tmp_path / "resume.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "name": "near-resume",
                "sources": [{"path": "data/*.jsonl"}],
                "partition_size_mb": (tmp_path / "data" / "a.jsonl").stat().st_size / 2**20,
                "preprocessing": {
                    "near_dedup": {"enabled": True},
                    "quality": {"enabled": False},
                },  # docstrings, not web text
                "tokenization": {"tokenizer": str(tokenizer_path)},
                "output": {"path": "out3"},
                "work_dir": "work3",
            }
        )
    )
    job_id = client.submit(config)
    first = client.wait(job_id, timeout=180)
    assert first.state == JobState.SUCCEEDED, first.error
    url = client.store_url
    done_before = {p.index: p.finished_at for p in Store(url).list_partitions(job_id, "minhash")}

    # As if bands 10..19 had failed: nothing after them ran, their outputs and the drop lists are gone.
    work = tmp_path / "work3" / job_id
    for b in range(10, 20):  # one key range: unit b is band b
        (work / "minhash" / "edges" / f"{b:03d}-0000.npy").unlink()
    for f in (work / "dedup").glob("*.near.json"):
        f.unlink()
    with session_scope(url) as s:
        s.execute(
            update(Partition)
            .where(Partition.job_id == job_id, Partition.stage == "minhash", Partition.index >= 10)
            .values(state=PartitionState.FAILED, counts=None)
        )
        s.execute(
            update(Partition)
            .where(Partition.job_id == job_id, Partition.stage.in_(["dedup", "near_dedup", "tokenize", "finalize"]))
            .values(state=PartitionState.PENDING, counts=None, task_id=None)
        )
    Store(url).set_job_state(job_id, JobState.FAILED, error="band 10 failed")

    client.resume(job_id)
    again = client.wait(job_id, timeout=180)
    assert again.state == JobState.SUCCEEDED, again.error
    assert again.stats.removed == first.stats.removed and again.stats.documents_out == first.stats.documents_out
    after = {p.index: p for p in Store(url).list_partitions(job_id, "minhash")}
    assert all(after[b].finished_at == done_before[b] for b in range(10))  # skipped
    assert all(after[b].finished_at > done_before[b] for b in range(10, 20))  # redone
    assert (work / "minhash" / "edges" / "019-0000.npy").exists()


def test_clusters_found_in_rounds_over_partition_ranges_give_the_same_shards(client, tokenizer_path, tmp_path: Path):
    near_corpus(tmp_path / "data")
    size_mb = (tmp_path / "data" / "a.jsonl").stat().st_size / 2**20
    jobs = {}
    # One hash range; or one per partition, the clusters found in rounds (a job of few ranges would join them).
    for name, per_task in (("one", 16), ("ranges", 1)):
        config = tmp_path / f"{name}.yaml"
        config.write_text(
            yaml.safe_dump(
                {
                    "name": f"near-{name}",
                    "sources": [{"path": "data/*.jsonl"}],
                    "partition_size_mb": size_mb,
                    "preprocessing": {
                        "near_dedup": {"enabled": True, "join_max_ranges": 1},
                        "quality": {"enabled": False},  # docstrings, not web text
                        "dedup_task_partitions": per_task,
                        "keep_removed": True,
                    },
                    "tokenization": {"tokenizer": str(tokenizer_path)},
                    "output": {"path": f"out-{name}"},
                    "work_dir": f"work-{name}",
                }
            )
        )
        job_id = client.submit(config)
        info = client.wait(job_id, timeout=180)
        assert info.state == JobState.SUCCEEDED, info.error
        jobs[name] = (job_id, info)

    (one, first), (ranges, second) = jobs["one"], jobs["ranges"]
    assert second.stats.removed == first.stats.removed and second.stats.documents_out == first.stats.documents_out
    rows = Store(client.store_url).list_partitions(ranges, "near_dedup")
    phases, ranges_n = [p.input_ref["phase"] for p in rows], rows[0].input_ref["shards"]
    assert ranges_n == rows[0].input_ref["partitions"] > 1  # one range per partition
    assert phases[:ranges_n] == ["label"] * ranges_n
    assert phases[-2 * ranges_n - 1 :] == ["finish"] * ranges_n + ["clusters"] * ranges_n + ["summary"]
    assert all(p.state == PartitionState.COMMITTED for p in rows)
    assert rows[-1].counts == Store(client.store_url).get_partition(one, "near_dedup", 0).counts

    def shards(name: str) -> dict[str, bytes]:
        return {f.name: f.read_bytes() for f in sorted((tmp_path / f"out-{name}").glob("*.safetensors"))}

    assert shards("ranges") == shards("one") and shards("one")
    # The duplicates put aside (keep_removed), each with the id its cluster kept.
    aside = [
        sorted((tmp_path / f"work-{name}" / job).rglob("*duplicates*"))
        for name, job in (("one", one), ("ranges", ranges))
    ]
    assert [f.read_bytes() for f in aside[0]] == [f.read_bytes() for f in aside[1]] and aside[0]
    reports = [json.loads(CliRunner().invoke(main, ["dedup-report", j, "--json"]).output) for j in (one, ranges)]
    for r in reports:
        del r["job_id"]
    assert reports[0] == reports[1] and reports[0]["biggest"][0]["kept"] == "b040"
