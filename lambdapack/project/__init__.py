"""Layer inputs from a project directory: ``uv.lock``, ``pylock.toml``, ``poetry.lock`` or ``pyproject.toml``.

:func:`lambdapack.project.read.read_project` picks the first of these the directory holds and
returns a :class:`~lambdapack.project.inputs.Project`:

- **uv.lock** (:mod:`~lambdapack.project.uv`): what ``uv export --frozen --no-emit-project --no-dev``
  gives (``--group`` / ``--extra`` select more), read in its PEP 751 form, so every pin carries its
  wheels' URLs and sha256s;
- **pylock.toml** (:mod:`~lambdapack.project.pylock`; PEP 751, or ``pylock.NAME.toml``): read as it is;
- **poetry.lock** (:mod:`~lambdapack.project.poetry`; lock versions 1.1, 2.0, 2.1): the dependency
  graph from ``pyproject.toml``'s roots, each edge's markers evaluated for the target; the index is
  asked where each pinned file lives (the lock holds names and hashes, not URLs);
- **pyproject.toml** alone (:mod:`~lambdapack.project.pyproject`): ``[project].dependencies`` (plus
  the chosen optional dependencies and dependency groups), resolved for the target like any
  requirement list.

The other modules hold one concern each: ``locked`` (``LockedPackage`` / ``LockedFile``, what
every reader returns), ``markers`` (evaluated for the Lambda target: Linux, the runtime's Python,
its machine, with ``packaging.markers``, never for this host), ``pins`` (one wheel per pin, chosen
before anything is downloaded: a pin with no wheel the target loads stops the build, naming the
package, the pin and the newest version that would load), ``files`` (TOML and fingerprints) and
``inputs`` (``Project``). Locked hashes are enforced: each wheel is downloaded against the sha256
its lock names.
"""
