"""Layer rule: the pure verifier imports no network code (DESIGN.md §2)."""

from __future__ import annotations

import subprocess
import sys


def test_pure_verification_imports_no_network_code() -> None:
    code = ("import sys, signer.verify.verifier, signer.verify.checks, signer.verify.policy, "
            "signer.verify.chain, signer.verify.sct, signer.trust; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('requests', 'urllib3') or m.startswith(('signer.registry', 'signer.http', "
            "'signer.fetch', 'signer.services'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60).stdout
    assert out.strip() == "[]"
