"""The Lambda runtime table: Python version, ABI, glibc and platform tags per runtime and arch.

This is the one place that knows which wheels a Lambda runtime can load. pip never expands
``manylinux_2_N`` by itself, so :func:`platform_tags` lists every tag from the runtime's glibc
down to the oldest one the architecture ever had, plus the legacy aliases (PEP 600).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from packaging import tags

from lambdapack.errors import TargetError


@dataclass(frozen=True)
class Runtime:
    name: str
    python: tuple[int, int]
    os: str
    glibc: tuple[int, int]


# glibc per Lambda base image: Amazon Linux 2 ships 2.26, Amazon Linux 2023 ships 2.34.
RUNTIMES: dict[str, Runtime] = {
    r.name: r
    for r in (
        Runtime("python3.10", (3, 10), "Amazon Linux 2", (2, 26)),
        Runtime("python3.11", (3, 11), "Amazon Linux 2", (2, 26)),
        Runtime("python3.12", (3, 12), "Amazon Linux 2023", (2, 34)),
        Runtime("python3.13", (3, 13), "Amazon Linux 2023", (2, 34)),
        Runtime("python3.14", (3, 14), "Amazon Linux 2023", (2, 34)),
    )
}
DEFAULT_RUNTIME = "python3.12"

# Lambda's architecture names -> the machine name used in wheel tags and by uname.
ARCHES: dict[str, str] = {"x86_64": "x86_64", "arm64": "aarch64"}
DEFAULT_ARCH = "x86_64"

# The oldest glibc a manylinux tag exists for, per machine (aarch64 started at 2.17).
_OLDEST_GLIBC_MINOR = {"x86_64": 5, "aarch64": 17}
# PEP 600 legacy aliases: manylinux1 = 2_5, manylinux2010 = 2_12, manylinux2014 = 2_17.
_LEGACY_ALIASES = {(2, 17): "manylinux2014", (2, 12): "manylinux2010", (2, 5): "manylinux1"}

# Lambda's memory/size limits (bytes), shared by layer checks, packaging and deploy.
DIRECT_UPLOAD_LIMIT = 50 * 1024 * 1024  # 52,428,800 zipped, for a ZipFile upload
UNZIPPED_LIMIT = 262_144_000  # function + all layers, unzipped
MAX_LAYERS = 5


def get_runtime(name: str) -> Runtime:
    try:
        return RUNTIMES[name]
    except KeyError:
        raise TargetError(
            f"unknown runtime {name!r}",
            hint="choose one of: " + ", ".join(RUNTIMES),
        ) from None


def machine_for(arch: str) -> str:
    try:
        return ARCHES[arch]
    except KeyError:
        alias = {"aarch64": "arm64", "amd64": "x86_64"}.get(arch)
        hint = f"Lambda calls it {alias!r}" if alias else "choose one of: " + ", ".join(ARCHES)
        raise TargetError(f"unknown architecture {arch!r}", hint=hint) from None


def glibc_for(runtime: str) -> tuple[int, int]:
    return get_runtime(runtime).glibc


def platform_tags(glibc: tuple[int, int], machine: str) -> list[str]:
    """Every manylinux platform tag a system with ``glibc`` on ``machine`` can load, best first."""
    major, newest = glibc
    out: list[str] = []
    for minor in range(newest, _OLDEST_GLIBC_MINOR[machine] - 1, -1):
        out.append(f"manylinux_{major}_{minor}_{machine}")
        alias = _LEGACY_ALIASES.get((major, minor))
        # manylinux1/2010 were only ever defined for x86 machines.
        if alias and (alias == "manylinux2014" or machine == "x86_64"):
            out.append(f"{alias}_{machine}")
    return out


@dataclass(frozen=True)
class Target:
    """What a layer is built for. ``runtime`` is None for a hand-written tag set."""

    python: tuple[int, int]
    arch: str
    glibc: tuple[int, int]
    platforms: tuple[str, ...]
    abis: tuple[str, ...] = field(default=())
    runtime: str | None = None

    @classmethod
    def for_runtime(cls, runtime: str = DEFAULT_RUNTIME, arch: str = DEFAULT_ARCH) -> Target:
        rt = get_runtime(runtime)
        machine = machine_for(arch)
        return cls(
            python=rt.python,
            arch=arch,
            glibc=rt.glibc,
            platforms=tuple(platform_tags(rt.glibc, machine)),
            abis=(f"cp{rt.python[0]}{rt.python[1]}", "abi3", "none"),
            runtime=runtime,
        )

    @property
    def machine(self) -> str:
        return machine_for(self.arch)

    @property
    def python_version(self) -> str:
        return f"{self.python[0]}.{self.python[1]}"

    @property
    def abi(self) -> str:
        return self.abis[0] if self.abis else f"cp{self.python[0]}{self.python[1]}"

    @property
    def glibc_version(self) -> str:
        return f"{self.glibc[0]}.{self.glibc[1]}"

    @property
    def site_packages(self) -> str:
        """The layer-relative directory Lambda puts on sys.path for this Python."""
        return f"python/lib/python{self.python_version}/site-packages"

    @property
    def uv_platform(self) -> str:
        """uv's ``--python-platform`` value; uv expands the manylinux tags itself."""
        return f"{self.machine}-manylinux_{self.glibc[0]}_{self.glibc[1]}"

    @property
    def label(self) -> str:
        return f"{self.runtime or 'python' + self.python_version}-{self.arch}"

    def supported_tags(self) -> Iterator[tags.Tag]:
        """All wheel tags this target accepts, most specific first (for compatibility checks)."""
        yield from tags.cpython_tags(self.python, abis=list(self.abis), platforms=self.platforms)
        yield from tags.compatible_tags(self.python, f"cp{self.python[0]}{self.python[1]}",
                                        platforms=self.platforms)
