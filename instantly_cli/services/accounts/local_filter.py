"""The filters of an account listing the API lacks (exact domain, score range, health class,
error code or text, campaign, idle), applied locally to the stream
services/accounts/list.py merges."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from instantly_cli.enums import ERROR_STATUSES, HEALTH
from instantly_cli.errors import UsageError
from instantly_cli.services.accounts.summary import (
    Thresholds,
    domain_of,
    error_reason,
    health_class,
    reason_text,
    score_of,
)


@dataclass(frozen=True)
class LocalFilter:
    """What the API cannot filter on: exact domains, a score range, health classes."""

    domains: frozenset[str] = frozenset()
    min_score: float | None = None
    max_score: float | None = None
    include_unscored: bool = False
    health: frozenset[str] = frozenset()
    thresholds: Thresholds = Thresholds()
    # Only these emails (--campaign, --idle: read from one campaign sweep); None: any.
    emails: frozenset[str] | None = None
    error_codes: frozenset[str] = frozenset()
    errors: tuple[str, ...] = ()
    not_tag_ids: frozenset[str] = frozenset()
    # --not-tag asks the API for each account's tags; they are dropped again unless wanted.
    drop_tags: bool = False

    @classmethod
    def build(
        cls,
        *,
        domains: Sequence[str] = (),
        min_score: float | None = None,
        max_score: float | None = None,
        include_unscored: bool = False,
        health: Sequence[str] = (),
        thresholds: Thresholds | None = None,
        error_codes: Sequence[str] = (),
        errors: Sequence[str] = (),
    ) -> LocalFilter:
        """Validated filters; exit 2 on a bad domain, an empty score range or a bad class."""
        clean: list[str] = []
        for text in domains:
            for part in text.split(","):
                domain = part.strip().lower().removeprefix("@")
                if not part.strip():
                    continue
                if not domain or "@" in domain or "." not in domain or any(
                    c.isspace() for c in domain
                ):
                    raise UsageError(
                        f"Invalid --domain '{part.strip()}'.",
                        hint="Give the part after the @, for example --domain example.com.",
                    )
                clean.append(domain)
        for name, value in (("--min-score", min_score), ("--max-score", max_score)):
            if value is not None and not math.isfinite(value):
                raise UsageError(f"{name} must be a number (got {value}).")
        if min_score is not None and max_score is not None and min_score > max_score:
            raise UsageError(
                f"--min-score {min_score:g} is above --max-score {max_score:g}.",
                hint="The range is inclusive: --min-score 40 --max-score 60.",
            )
        classes: list[str] = []
        for text in health:
            for part in text.split(","):
                if part.strip():
                    classes.append(str(HEALTH.parse(part)))
        return cls(
            domains=frozenset(clean),
            min_score=min_score,
            max_score=max_score,
            include_unscored=include_unscored,
            health=frozenset(classes),
            thresholds=thresholds or Thresholds(),
            error_codes=frozenset(_words(error_codes, "--error-code", upper=True)),
            errors=tuple(_words(errors, "--error")),
        )

    @property
    def active(self) -> bool:
        return bool(
            self.domains or self.health or self.min_score is not None
            or self.max_score is not None or self.error_codes or self.errors or self.not_tag_ids
            or self.emails is not None
        )

    def error_matches(self, account: Mapping[str, Any]) -> bool:
        """--error-code and --error: an account in an error status whose code is one of the
        codes, and whose message contains one of the texts (as sent, or as the summary prints
        it, with <n>, <id>, <ip>, <email> for the details); case and spacing ignored."""
        if account.get("status") not in ERROR_STATUSES:
            return False
        message = account.get("status_message")
        reason, code = error_reason(message)
        if self.error_codes and (code or "").upper() not in self.error_codes:
            return False
        if not self.errors:
            return True
        raw = " ".join(reason_text(message)[0].split()).casefold()
        reason = reason.casefold()
        return any(text in raw or text in reason for text in self.errors)

    def __call__(self, account: Mapping[str, Any]) -> bool:
        if self.emails is not None and account.get("email") not in self.emails:
            return False
        if self.not_tag_ids and any(
            isinstance(t, Mapping) and t.get("id") in self.not_tag_ids
            for t in account.get("tags") or ()
        ):
            return False
        if (self.error_codes or self.errors) and not self.error_matches(account):
            return False
        if self.domains and domain_of(account.get("email")) not in self.domains:
            return False
        if self.min_score is not None or self.max_score is not None:
            score = score_of(account)
            if score is None:
                if not self.include_unscored:
                    return False
            elif (self.min_score is not None and score < self.min_score) or (
                self.max_score is not None and score > self.max_score
            ):
                return False
        return not self.health or health_class(account, self.thresholds) in self.health


def _words(values: Sequence[str], option: str, *, upper: bool = False) -> list[str]:
    """--error-code values (comma lists too) upper-cased, or --error texts with their spacing
    collapsed and case folded; an empty one is exit 2."""
    out: list[str] = []
    for value in values:
        parts = value.split(",") if upper else [value]
        for part in parts:
            word = " ".join(part.split())
            if not word:
                raise UsageError(
                    f"{option} needs a value.",
                    hint="For example: --error-code EAUTH, or --error 'Username and Password'.",
                )
            out.append(word.upper() if upper else word.casefold())
    return out
