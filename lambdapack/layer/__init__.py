"""Lambda layers: assemble, slim, compile, archive (``build``) and verify (``check``).

- :func:`lambdapack.layer.build.build_layer` (``LayerOptions`` → ``LayerReport``): what
  ``lambdapack build-layer`` runs.
- :func:`lambdapack.layer.check.check_layer_zip` (zip → ``CheckReport``): what
  ``lambdapack check-layer`` runs (``check_model`` is its ``--model`` check).
- :func:`lambdapack.layer.inspect.inspect_layer` (zip → ``LayerInfo``): what a layer is for and
  holds, the one reader ``train --layer``, the emulator, ``package --layer`` and ``deploy`` share.
- The build's parts: ``models`` (``LayerOptions``, ``LayerReport``), ``plan`` (target, inputs and
  pinned wheels, lock first), ``assemble`` (install, slim, vendor, compile, record, zip).
- check-layer's parts: ``check_verdict`` (``Check``), ``check_binaries`` (elf, libs, abi),
  ``check_imports`` (import), ``check_hints`` (what to do about each failure).
- Seams: ``slim`` (measured-safe deletions, strip), ``compile`` (unchecked-hash pyc), ``elf``
  (machine and glibc needs) with ``elf_symbols`` (the symbols behind an offending version),
  ``cache`` (finished layers keyed by their inputs), ``record`` (the build record
  ``lambdapack-layer.json``: its name, schema and the one reader every area uses).
"""
