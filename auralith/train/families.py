"""Models the loop trains: the built-in small GPT, or a transformers family (gpt2, llama, ...) built from its
config class with random weights (nothing is downloaded), both behind the loop's `model(x, y) -> (logits, loss)`.

Either one becomes a `transformers.PreTrainedModel` for export (auralith.train.export): a family model is one
already; the built-in GPT has GPT-2's layout, so its weights map onto a `GPT2LMHeadModel` one to one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn
from torch.nn import functional as F

from auralith.config.training import TrainingConfig
from auralith.train.model import GPT, Block

if TYPE_CHECKING:
    from transformers import PretrainedConfig, PreTrainedModel

# Our size keys -> each family's config attribute. Written out per family (rather than through transformers'
# `attribute_map`) because the map differs between families and versions.
_DECODER = {
    "layers": "num_hidden_layers",
    "heads": "num_attention_heads",
    "d_model": "hidden_size",
    "ffn": "intermediate_size",
    "context": "max_position_embeddings",
}
SIZE_KEYS: dict[str, dict[str, str]] = {
    "gpt2": {"layers": "n_layer", "heads": "n_head", "d_model": "n_embd", "ffn": "n_inner", "context": "n_positions"},
    "gpt_neox": _DECODER,
    "llama": {**_DECODER, "kv_heads": "num_key_value_heads"},
    "mistral": {**_DECODER, "kv_heads": "num_key_value_heads"},
    "qwen2": {**_DECODER, "kv_heads": "num_key_value_heads"},
}
# Dropout draws random numbers between the checkpoints a resume restores: off unless the config sets it (the
# usual choice for pretraining at this scale anyway).
NO_DROPOUT = {"gpt2": {"resid_pdrop": 0.0, "embd_pdrop": 0.0, "attn_pdrop": 0.0}}


def hf_config(cfg: TrainingConfig, vocab_size: int, eos_id: int | None = None) -> PretrainedConfig:
    """The transformers config of `training.model` for this vocabulary (`eos_id` also serves as BOS and PAD)."""
    from transformers import AutoConfig

    spec = cfg.model
    assert spec is not None and spec.family != "auralith"
    sizes = {
        "layers": spec.layers or cfg.layers,
        "heads": spec.heads or cfg.heads,
        "d_model": spec.d_model or cfg.d_model,
        "ffn": spec.ffn,
        "kv_heads": spec.kv_heads or spec.heads or cfg.heads,  # the families' defaults are for their big sizes
        "context": cfg.context,
    }
    names = SIZE_KEYS[spec.family]
    kwargs: dict[str, int | None] = {names[k]: v for k, v in sizes.items() if v is not None and k in names}
    if spec.family != "gpt2" and spec.ffn is None:
        kwargs["intermediate_size"] = 4 * (spec.d_model or cfg.d_model)  # the families' defaults are for 4k models
    # The families' own special-token ids are for their vocabularies: the shards' EOS, or none.
    kwargs.update(bos_token_id=eos_id, eos_token_id=eos_id, pad_token_id=eos_id)
    return AutoConfig.for_model(
        spec.family, vocab_size=vocab_size, **NO_DROPOUT.get(spec.family, {}), **kwargs, **spec.config
    )


class CausalLM(nn.Module):
    """A transformers causal LM with the loop's interface: `(logits, mean cross-entropy)` as the built-in GPT's."""

    def __init__(self, hf: PreTrainedModel):
        super().__init__()
        self.hf = hf

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None):
        logits = self.hf(input_ids=idx, use_cache=False).logits
        if targets is None:
            return logits, None
        return logits, F.cross_entropy(logits.float().view(-1, logits.size(-1)), targets.reshape(-1))

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())


def build_model(cfg: TrainingConfig, vocab_size: int, eos_id: int | None = None) -> nn.Module:
    """The model `cfg` asks for, randomly initialised from the torch seed set before the call."""
    if cfg.family == "auralith":
        return GPT.from_config(cfg, vocab_size)
    from transformers import AutoModelForCausalLM

    config = hf_config(cfg, vocab_size, eos_id)
    return CausalLM(AutoModelForCausalLM.from_config(config, attn_implementation="sdpa"))


def as_pretrained(model: nn.Module, eos_id: int | None = None) -> PreTrainedModel:
    """The model as a transformers `PreTrainedModel` (for `save_pretrained`): a family model's own, or the built-in
    GPT's weights in a `GPT2LMHeadModel` (the same computation: pre-norm blocks, exact GELU, tied head)."""
    model = getattr(model, "module", model)  # inside DistributedDataParallel
    if isinstance(model, CausalLM):
        return model.hf
    assert isinstance(model, GPT)
    from transformers import GPT2Config, GPT2LMHeadModel

    vocab, d = model.wte.weight.shape
    block: Block = model.blocks[0]  # type: ignore[assignment]  # a ModuleList of Blocks
    config = GPT2Config(
        vocab_size=vocab,
        n_positions=model.context,
        n_embd=d,
        n_layer=len(model.blocks),
        n_head=block.attn.heads,
        n_inner=4 * d,
        activation_function="gelu",  # F.gelu, exact; GPT-2's own default is the tanh approximation
        layer_norm_epsilon=block.ln1.eps,
        resid_pdrop=0.0,
        embd_pdrop=0.0,
        attn_pdrop=0.0,
        tie_word_embeddings=True,
        bos_token_id=eos_id,
        eos_token_id=eos_id,
        pad_token_id=eos_id,
    )
    out = GPT2LMHeadModel(config)
    # GPT-2's Conv1D stores (in, out): our Linear's (out, in) transposed.
    ours = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    theirs = {
        "transformer.wte.weight": ours["wte.weight"],
        "transformer.wpe.weight": ours["wpe.weight"],
        "transformer.ln_f.weight": ours["ln_f.weight"],
        "transformer.ln_f.bias": ours["ln_f.bias"],
    }
    pairs = {"ln_1": "ln1", "ln_2": "ln2", "attn.c_attn": "attn.qkv", "attn.c_proj": "attn.proj"}
    pairs |= {"mlp.c_fc": "mlp.up", "mlp.c_proj": "mlp.down"}
    for i in range(len(model.blocks)):
        for their, our in pairs.items():
            w, b = ours[f"blocks.{i}.{our}.weight"], ours[f"blocks.{i}.{our}.bias"]
            theirs[f"transformer.h.{i}.{their}.weight"] = w if their.startswith("ln") else w.t().contiguous()
            theirs[f"transformer.h.{i}.{their}.bias"] = b
    missing, unexpected = out.load_state_dict(theirs, strict=False)
    # Only the tied head (and, in some versions, attention-mask buffers) is not loaded by name.
    assert not unexpected and all(k == "lm_head.weight" or ".attn.bias" in k for k in missing), (missing, unexpected)
    out.tie_weights()
    return out.eval()
