from enum import StrEnum


class FactOutcomeOutcome(StrEnum):
    APPLIED = "applied"
    REFUSED = "refused"
    REPLAYED = "replayed"
    SKIPPED = "skipped"

    def __str__(self) -> str:
        return str(self.value)
