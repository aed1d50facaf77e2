"""Which registry credential the action offers each registry (layer L5)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from signer.action.inputs import Inputs

if TYPE_CHECKING:
    from signer.registry.credentials import Keychain


GHCR = "ghcr.io"


def build_keychain(inputs: Inputs, env: Mapping[str, str]) -> Keychain:
    """Registry credentials, the first that answers for a registry:

    1. ``registry-username``/``-password``, for their one registry only;
    2. Docker's ``config.json`` and its credential helpers (e.g. after
       docker/login-action), as for ``docker`` itself;
    3. for ghcr.io only, the ``github-token`` input (the workflow's GITHUB_TOKEN by
       default) as the workflow's actor: the fallback, never over a configured login.
    """
    from signer.registry.credentials import (
        ChainKeychain,
        Credentials,
        DockerConfigKeychain,
        StaticKeychain,
    )

    chain: list[Keychain] = []
    if inputs.registry_username and inputs.registry_password and inputs.registry:
        chain.append(StaticKeychain(Credentials(inputs.registry_username,
                                                inputs.registry_password),
                                    frozenset({inputs.registry})))
    chain.append(DockerConfigKeychain())
    if inputs.github_token:
        actor = env.get("SIGNER_GITHUB_ACTOR") or "github-actions"
        chain.append(StaticKeychain(Credentials(actor, inputs.github_token),
                                    frozenset({GHCR})))
    return ChainKeychain(tuple(chain))
