"""Benchmarks of signer against peer tools (a script, not a test): ``python -m bench``.

Every module ``bench/<area>.py`` that defines ``run(ctx: bench.harness.Context) ->
list[bench.harness.Row]`` is an area; ``python -m bench`` runs them all (or
``--only AREA``) and prints one table. See :mod:`bench.harness`.
"""
