"""Lambda layers: assemble, slim, compile, archive (``build``) and verify (``check``).

- :func:`lambdapack.layer.build.build_layer` (``LayerOptions`` → ``LayerReport``): what
  ``lambdapack build-layer`` runs.
- :func:`lambdapack.layer.check.check_layer_zip` (zip → ``CheckReport``): what
  ``lambdapack check-layer`` runs (``check_model`` is its ``--model`` check).
- :func:`lambdapack.layer.inspect.inspect_layer` (zip → ``LayerInfo``): what a layer is for and
  holds, the one reader ``train --layer``, the emulator, ``package --layer`` and ``deploy`` share.
- Seams: ``slim`` (measured-safe deletions, strip), ``compile`` (unchecked-hash pyc), ``elf``
  (machine and glibc needs), ``cache`` (finished layers keyed by their inputs), ``record`` (the
  build record ``lambdapack-layer.json``: its name, schema and the one reader every area uses).
"""
