"""The `training:` section of a job config: model size, optimisation, checkpoints, device."""

from __future__ import annotations

from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, model_validator

# The transformers model families `training.model.family` may name (each one's config class is built with random
# weights, nothing downloaded); `auralith` is the built-in small GPT sized by the section's own keys.
Family = Literal["auralith", "gpt2", "llama", "mistral", "qwen2", "gpt_neox"]
MODEL_FAMILIES: tuple[str, ...] = get_args(Family)


class ModelSpec(BaseModel):
    """`training.model`: a transformers model family and its sizes (docs/training.md#model-families)."""

    model_config = ConfigDict(extra="forbid")

    family: Family = "auralith"
    # None: the section's `layers`, `heads`, `d_model`.
    layers: int | None = Field(default=None, gt=0)
    heads: int | None = Field(default=None, gt=0)
    d_model: int | None = Field(default=None, gt=0)
    kv_heads: int | None = Field(default=None, gt=0, description="grouped-query attention (llama, mistral, qwen2)")
    ffn: int | None = Field(default=None, gt=0, description="MLP width; None: the family's default (4 x d_model)")
    # Any other key of the family's transformers config (rope_theta, tie_word_embeddings, ...), as is.
    config: dict = Field(default_factory=dict)


class TrainingConfig(BaseModel):
    """A model trained on the job's shards. Every key is documented in docs/config.md#training."""

    # Unknown keys are errors: a typo in `lerning_rate` must not train with the default.
    model_config = ConfigDict(extra="forbid")

    # Model (nanoGPT-style decoder; the vocabulary size comes from the shards' manifest).
    layers: int = Field(default=2, gt=0)
    heads: int = Field(default=2, gt=0)
    d_model: int = Field(default=64, gt=0)
    context: int = Field(default=128, gt=1)
    # A transformers family (gpt2, llama, ...) instead of the built-in GPT; None: the built-in one.
    model: ModelSpec | None = None

    # Optimisation: AdamW, lr warmed up linearly then cosine-decayed to min_lr at `steps`.
    steps: int = Field(default=1000, gt=0)
    batch_size: int = Field(default=8, gt=0)
    grad_accum: int = Field(default=1, gt=0)
    lr: float = Field(default=3e-4, gt=0)
    min_lr: float = Field(default=3e-5, ge=0)
    warmup_steps: int = Field(default=100, ge=0)
    weight_decay: float = Field(default=0.1, ge=0)
    grad_clip: float | None = Field(default=1.0, gt=0)
    beta1: float = Field(default=0.9, gt=0, lt=1)
    beta2: float = Field(default=0.95, gt=0, lt=1)
    seed: int = Field(default=0, ge=0)

    # Checkpoints, evaluation, logging.
    checkpoint_every: int = Field(default=100, gt=0)
    keep_last: int = Field(default=3, gt=0)
    checkpoint_dir: str | None = None
    eval_every: int = Field(default=0, ge=0)
    eval_batches: int = Field(default=4, gt=0)
    val_fraction: float = Field(default=0.05, ge=0, lt=1)
    log_every: int = Field(default=10, gt=0)
    # Logged steps reach the store in one transaction at most this often (and before each checkpoint):
    # writes per tiny step would cost several % of the training time. 0 writes each logged step at once.
    progress_interval_s: float = Field(default=5.0, ge=0)

    # Where and how it runs.
    device: Literal["auto", "hpu", "cuda", "cpu"] = "auto"
    precision: Literal["fp32", "bf16"] = "fp32"
    threads: int | None = Field(default=None, gt=0, description="torch.set_num_threads; fix it for exact resume.")
    cache_dir: str | None = None

    # Several ranks (one process per card) from one job: DDP, rank 0 checkpoints (docs/training.md#several-cards).
    world_size: int = Field(default=1, gt=0, le=4096)
    # How long the ranks wait for each other to start (the error names the ranks missing), and for any one
    # collective (a rank that died makes the others stop here, not hang).
    rendezvous_timeout_s: float = Field(default=600.0, gt=0)
    collective_timeout_s: float = Field(default=300.0, gt=0)
    # Rank 0's rendezvous (c10d TCPStore) port; 0: any free port, published through the store.
    rendezvous_port: int = Field(default=0, ge=0, le=65535)

    # A Hugging Face folder (config.json, model.safetensors, tokenizer files) written when training ends;
    # None: `{work_dir}/{job_id}/hf`. `auralith export JOB --out DIR` writes one from any committed checkpoint.
    export: bool = True
    export_dir: str | None = None

    @model_validator(mode="after")
    def _consistent(self) -> TrainingConfig:
        if self.d_model % self.heads:
            raise ValueError(f"d_model ({self.d_model}) must be divisible by heads ({self.heads})")
        m = self.model
        if m is not None and (m.d_model or self.d_model) % (m.heads or self.heads):
            raise ValueError("model.d_model must be divisible by model.heads")
        if m is not None and m.kv_heads and (m.heads or self.heads) % m.kv_heads:
            raise ValueError("model.heads must be divisible by model.kv_heads")
        if self.min_lr > self.lr:
            raise ValueError("min_lr must be <= lr")
        if self.warmup_steps > self.steps:
            raise ValueError("warmup_steps must be <= steps")
        return self

    @property
    def tokens_per_step(self) -> int:
        """Tokens one rank sees per optimizer step (the job's step is `world_size` times that)."""
        return self.batch_size * self.grad_accum * self.context

    @property
    def family(self) -> str:
        return self.model.family if self.model else "auralith"
