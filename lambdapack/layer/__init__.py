"""Lambda layers: assemble, slim, compile, archive (``build``) and verify (``check``).

- :func:`lambdapack.layer.build.build_layer` (``LayerOptions`` → ``LayerReport``): what
  ``lambdapack build-layer`` runs.
- :func:`lambdapack.layer.check.check_layer` (zip → ``CheckReport``): what
  ``lambdapack check-layer`` runs; ``lambdapack.layer.check.MODEL_CHECK`` is the ``--model`` hook.
- Seams: ``slim`` (measured-safe deletions, strip), ``compile`` (unchecked-hash pyc), ``elf``
  (machine and glibc needs), ``cache`` (finished layers keyed by their inputs), ``record`` (the
  build record ``lambdapack-layer.json``: its name, schema and the one reader every area uses).
"""
