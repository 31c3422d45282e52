"""Model families from transformers configs (random init, nothing downloaded), and the export that transformers
loads and generates from: a trained llama, and the built-in GPT as GPT-2."""

from __future__ import annotations

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from auralith.config.training import ModelSpec, TrainingConfig
from auralith.storage import Files
from auralith.train.export import export_checkpoint
from auralith.train.families import as_pretrained, build_model
from auralith.train.loop import train

files = Files()

CFG = TrainingConfig(
    context=32,
    batch_size=4,
    steps=6,
    lr=3e-3,
    warmup_steps=2,
    checkpoint_every=3,
    log_every=3,
    threads=1,
    seed=2,
    device="cpu",
)
LLAMA = ModelSpec(family="llama", layers=2, heads=4, kv_heads=2, d_model=32, ffn=64)


def test_a_llama_trains_resumes_exactly_and_exports_a_folder_transformers_loads_and_generates_from(
    shards_manifest, tokenizer_path, tmp_path
):
    cfg = CFG.model_copy(update={"model": LLAMA})
    whole = train(cfg, shards_manifest, tmp_path / "whole", files=files)
    assert whole.history[-1]["loss"] < whole.history[0]["loss"]
    again = train(cfg, shards_manifest, tmp_path / "split", resume_from=tmp_path / "whole" / "3", files=files)
    assert again.params_sha256 == whole.params_sha256  # resumed from step 3: bit-identical

    names = export_checkpoint(files, tmp_path / "whole" / "6", tmp_path / "hf", str(tokenizer_path))
    assert {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"} <= set(names)
    model = AutoModelForCausalLM.from_pretrained(tmp_path / "hf")
    tok = AutoTokenizer.from_pretrained(tmp_path / "hf")
    assert model.config.model_type == "llama" and model.config.num_key_value_heads == 2
    ids = tok("the quick brown fox", return_tensors="pt")
    out = model.generate(**ids, max_new_tokens=5, do_sample=False)
    assert out.shape[1] == ids["input_ids"].shape[1] + 5
    assert isinstance(tok.decode(out[0]), str)
    # The loaded model computes what the trained one did.
    ours = build_model(cfg, model.config.vocab_size)
    ours.hf.load_state_dict(model.state_dict())
    with torch.no_grad():
        torch.testing.assert_close(ours(ids["input_ids"])[0], model(**ids).logits)


def test_every_family_builds_from_its_transformers_config():
    for family in ("gpt2", "mistral", "qwen2", "gpt_neox"):
        cfg = CFG.model_copy(update={"model": ModelSpec(family=family, layers=1, heads=2, d_model=16)})
        model = build_model(cfg, 50)
        logits, loss = model(torch.zeros(2, 8, dtype=torch.long), torch.zeros(2, 8, dtype=torch.long))
        assert logits.shape == (2, 8, 50) and loss.item() > 0, family
        assert model.hf.config.model_type == family


def test_the_built_in_gpt_exports_as_gpt2_computing_the_same_logits():
    torch.manual_seed(0)
    gpt = build_model(CFG.model_copy(update={"layers": 2, "heads": 2, "d_model": 32}), 60)
    hf = as_pretrained(gpt, eos_id=59)
    x = torch.randint(0, 60, (2, 10))
    with torch.no_grad():
        torch.testing.assert_close(hf(x).logits, gpt(x)[0], rtol=1e-5, atol=1e-5)
    assert hf.config.model_type == "gpt2" and hf.config.eos_token_id == 59
