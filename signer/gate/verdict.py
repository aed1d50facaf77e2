"""A rule's verdict over per-trust-root verification outcomes (layer L2, pure).

Connaisseur's multi-signature semantics (its cosign validator documentation):

- ``with.trustRoot`` names one trust root (default ``default``): the image needs a
  valid signature under it; ``threshold`` and ``required`` do not apply.
- ``with.trustRoot: "*"`` without ``threshold`` and ``required``: every trust root of
  the validator must have signed.
- ``threshold: N``: at least N trust roots with a valid signature. Counted per trust
  root, as the documentation states (Connaisseur's code counts signatures, so one
  key that signed twice would count twice there; here it counts once).
- ``required: [a, b]``: each named trust root must have signed; with a threshold too,
  both hold.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from signer.gate.policy import ALL_TRUST_ROOTS, RuleOptions, Validator


@dataclass(frozen=True)
class Verdict:
    """Whether the rule admits the image, and why (one line)."""

    allowed: bool
    reason: str


def trust_roots_to_check(validator: Validator, options: RuleOptions) -> tuple[str, ...]:
    """The trust roots whose signatures decide (Connaisseur's selection)."""
    if validator.type != "cosign":
        return ()
    if options.trust_root != ALL_TRUST_ROOTS:
        return (options.trust_root,)
    if options.required and (options.threshold or 0) <= len(options.required):
        return options.required
    return tuple(root.name for root in validator.trust_roots)


def decide(validator: Validator, options: RuleOptions,
           valid: Mapping[str, int], reasons: Mapping[str, str] | None = None) -> Verdict:
    """The verdict given ``valid``: trust root name -> number of valid signatures.

    ``reasons`` (trust root -> why none was valid) is quoted when a single trust root
    decides and failed.
    """
    if validator.type == "static":
        return Verdict(validator.approve, f"static validator {validator.name!r} "
                       + ("approves every image" if validator.approve else "denies every image"))
    if validator.type != "cosign":
        return Verdict(False, f"validator {validator.name!r} has type {validator.type!r}, "
                              "which signer gate cannot check")
    checked = trust_roots_to_check(validator, options)
    if not checked:  # parsing refuses this; a threshold of 0 must still never admit
        return Verdict(False, f"validator {validator.name!r} has no trust root to check")
    signed = [name for name in checked if valid.get(name, 0) > 0]
    if options.trust_root != ALL_TRUST_ROOTS:
        name = options.trust_root
        if signed:
            return Verdict(True, f"signed under trust root {name!r}")
        why = (reasons or {}).get(name, "no valid signature")
        return Verdict(False, f"trust root {name!r}: {why}")
    threshold = options.threshold or (0 if options.required else len(checked))
    if len(signed) < threshold:
        return Verdict(False, f"threshold not reached: {len(signed)} of {threshold} trust roots "
                              f"signed ({_names(signed)})")
    missing = [name for name in options.required if valid.get(name, 0) == 0]
    if missing:
        return Verdict(False, f"missing required signatures from {_names(missing)}")
    return Verdict(True, f"signed under {_names(signed)}"
                   + (f" (threshold {threshold})" if options.threshold else ""))


def _names(names: Sequence[str]) -> str:
    return ", ".join(repr(n) for n in names) if names else "none"
