"""A Hugging Face model folder from a checkpoint: `config.json`, `model.safetensors` and the tokenizer's files, as
`transformers.AutoModelForCausalLM.from_pretrained(folder)` and `AutoTokenizer.from_pretrained(folder)` load them.

transformers writes the folder (`save_pretrained`), into a local temp folder first; its files are then published
under `out` (a folder or `s3://` URL) through the job's `Files`, `config.json` last: a folder without one is an
unfinished export, which `from_pretrained` refuses too.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import torch

from auralith.config.training import TrainingConfig
from auralith.errors import AuralithError
from auralith.storage import Files, join
from auralith.train.checkpoint import load_checkpoint, read_manifest
from auralith.train.devices import select_device
from auralith.train.families import as_pretrained, build_model

CONFIG_FILE = "config.json"


def export_checkpoint(
    files: Files, checkpoint: str | Path, out: str | Path, tokenizer: str, *, eos_id: int | None = None
) -> list[str]:
    """Write checkpoint folder `checkpoint` (local or `s3://`) as a Hugging Face model folder under `out`, with the
    tokenizer `tokenizer` (a tokenizer.json path or a cached Hugging Face name); returns the files written."""
    manifest = read_manifest(files, checkpoint)
    if manifest is None or "config" not in manifest:
        raise AuralithError(f"{checkpoint}: not a complete training checkpoint (no manifest.json with its config)")
    cfg = TrainingConfig.model_validate(manifest["config"])
    vocab_size = manifest.get("vocab_size") or _vocab_size(files, checkpoint)
    eos_id = manifest.get("eos_id", eos_id)
    model = build_model(cfg, vocab_size, eos_id)
    rng = torch.get_rng_state()  # loading a checkpoint restores its RNG state: the caller's is given back
    load_checkpoint(files, checkpoint, model, None, select_device("cpu"))
    torch.set_rng_state(rng)
    return write_pretrained(files, model, out, tokenizer, eos_id)


def write_pretrained(
    files: Files, model: torch.nn.Module, out: str | Path, tokenizer: str, eos_id: int | None
) -> list[str]:
    """`model` (the loop's) and its tokenizer as a Hugging Face folder under `out`; returns the file names."""
    from transformers import PreTrainedTokenizerFast

    from auralith.steps.tokenize import load_tokenizer

    pretrained = as_pretrained(model, eos_id)
    tok = load_tokenizer(tokenizer)
    eos = tok.id_to_token(eos_id) if eos_id is not None else None
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        model_max_length=pretrained.config.max_position_embeddings,
        **({"eos_token": eos, "bos_token": eos, "pad_token": eos} if eos else {}),
    )
    with tempfile.TemporaryDirectory(prefix="auralith-export-") as tmp:
        pretrained.save_pretrained(tmp, safe_serialization=True)
        fast.save_pretrained(tmp)
        names = sorted(p.name for p in Path(tmp).iterdir() if p.is_file())
        # config.json last: until it is there, the folder is not a model.
        for name in sorted(names, key=lambda n: n == CONFIG_FILE):
            files.write_bytes_atomic(join(out, name), (Path(tmp) / name).read_bytes())
    return names


def _vocab_size(files: Files, checkpoint: str | Path) -> int:
    """The vocabulary of a checkpoint written before manifests recorded it: rows of its embedding matrix."""
    from safetensors import safe_open

    from auralith.train.checkpoint import MODEL_FILE
    from auralith.train.checkpoint_files import local_copy

    with local_copy(files, join(checkpoint, MODEL_FILE)) as path, safe_open(path, "pt") as fh:
        for key in fh.keys():  # noqa: SIM118  safe_open is not a mapping
            if key.endswith(("wte.weight", "embed_tokens.weight", "embed_in.weight")):
                return int(fh.get_slice(key).get_shape()[0])
    raise AuralithError(f"{checkpoint}: cannot tell its vocabulary size")
