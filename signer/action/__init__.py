"""The GitHub Action (layer L5, beside the CLI): ``entrypoint.py`` calls
:func:`signer.action.run.main`.

One module per job: :mod:`~signer.action.values` (reading one input),
:mod:`~signer.action.policy` (the verification policy and its defaults),
:mod:`~signer.action.inputs` (all inputs, validated at once),
:mod:`~signer.action.credentials` (which credential each registry gets),
:mod:`~signer.action.material` (key, OIDC token, trusted root, library policy),
:mod:`~signer.action.console` (workflow commands), :mod:`~signer.action.report`
(results, step outputs, job summary, JSON report) and :mod:`~signer.action.run` (the
steps, over the same L4 flows as the CLI).
"""
