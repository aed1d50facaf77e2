"""Fixtures for the sigstore-js checks: the local stack, the sigstore-js verifier and
the conformance corpus, the registry client and test images of the signing tests."""

from tests.integration.bundle.conftest import conformance_dir  # noqa: F401
from tests.integration.sign.conftest import client, push_image  # noqa: F401
from tests.sigstore_fixtures import sigstore_stack  # noqa: F401
from tests.sigstore_js import sigstore_js  # noqa: F401
