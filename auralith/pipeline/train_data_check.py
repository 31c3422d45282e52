"""Too little data to train, said as soon as dedup has decided, not after every data stage at the train step."""

from __future__ import annotations

from auralith.errors import InputError
from auralith.pipeline.unit import UnitContext
from auralith.train.data import min_tokens_to_train


def check_enough_to_train(unit: UnitContext, duplicates: int) -> None:
    """Fail the job (InputError, not retried) when the documents left after filters and `duplicates` cannot hold
    the tokens its `training:` section needs, whatever the tokenizer makes of them.

    Tokens are not known before tokenize, but bounded: no tokenizer makes more tokens than a text's UTF-8
    bytes (plus one EOS a document), so a job whose bound is short would surely fail at the train step.
    """
    training = unit.cfg.training
    if training is None:
        return
    counts = [row.counts or {} for row in unit.rows("process")]
    if not counts or any("kept_bytes" not in c for c in counts):
        return  # a job planned before process rows counted their bytes
    documents = sum(c.get("kept", 0) for c in counts) - duplicates
    eos = 1 if unit.cfg.tokenization.append_eos else 0
    # The bytes of the kept documents before dedup: a looser bound, but a sure one.
    at_most = sum(c["kept_bytes"] for c in counts) + documents * eos
    evaluates = bool(training.eval_every) and training.val_fraction > 0
    needed = min_tokens_to_train(training.context, training.val_fraction, evaluates)
    if at_most >= needed:
        return
    why = (
        f"a val split of {training.val_fraction:g} of them holding context + 1 = {training.context + 1}"
        if evaluates and needed > training.context + 1
        else f"a train split holding context + 1 = {training.context + 1}"
    )
    change = "training.context" + (", training.val_fraction (or eval_every: 0)" if evaluates else "")
    raise InputError(
        f"too little data to train: {documents:,} documents are left after filtering and dedup, at most "
        f"{at_most:,} tokens (their UTF-8 bytes{' and an EOS each' if eos else ''}), and training needs at least "
        f"{needed:,} ({why}): lower {change}, relax the filters, or add data"
    )
