"""A job's heals (the supervisor's rows, auralith.store.heals) summed up for `auralith status` and `watch`."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from auralith.store.models import HealRecord


@dataclass
class HealSummary:
    """How many times the supervisor healed a job, by reason, and its last heals (oldest first)."""

    by_reason: dict[str, int] = field(default_factory=dict)
    last: list[HealRecord] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.by_reason.values())

    def line(self) -> str:
        """`healed: 3 (worker_dead 2, message_lost 1)`, most frequent reason first."""
        reasons = ", ".join(f"{reason} {n}" for reason, n in self.by_reason.items())
        return f"healed: {self.total} ({reasons})"

    def to_dict(self) -> dict:
        return {
            "total": self.total,
            "by_reason": dict(self.by_reason),
            "last": [
                {
                    "time": h.time.isoformat() if h.time else None,
                    "stage": h.stage,
                    "index": h.index,
                    "reason": h.reason,
                    "detail": h.detail,
                }
                for h in self.last
            ],
        }


def summarize_heals(heals: list[HealRecord], last: int = 5) -> HealSummary:
    """Counts by reason (most first, then by name) and the `last` newest of `heals`, given oldest first."""
    counts = Counter(h.reason for h in heals)
    ordered = dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
    return HealSummary(ordered, heals[-last:] if last else [])
