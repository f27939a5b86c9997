"""The Lambda runtime table: Python version, ABI, glibc and platform tags per runtime and arch.

This is the one place that knows which wheels a Lambda runtime can load, and the one table of
machine names: Lambda's arch names, uname's, ELF ``e_machine`` values, and what glibc a
manylinux tag stands for. pip never expands ``manylinux_2_N`` by itself, so
:func:`platform_tags` lists every tag from the runtime's glibc down to the oldest one the
architecture ever had, plus the legacy aliases (PEP 600).
"""

from __future__ import annotations

import platform as _platform
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from packaging import tags
from packaging.utils import InvalidWheelFilename, parse_wheel_filename

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

# uname spellings of the same machines on other systems (Windows says AMD64, macOS says arm64)
_MACHINE_ALIASES = {"amd64": "x86_64", "arm64": "aarch64"}
# ELF e_machine: the number in the header -> uname machine name; and pyelftools' names for them
ELF_MACHINES: dict[int, str] = {62: "x86_64", 183: "aarch64", 3: "i686", 40: "armv7l"}
_ELF_MACHINE_NAMES: dict[str, int] = {"EM_X86_64": 62, "EM_AARCH64": 183, "EM_386": 3, "EM_ARM": 40}

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


def arch_for_machine(machine: str) -> str | None:
    """Lambda's arch name for a uname/ELF machine name (``aarch64`` -> ``arm64``), None for one Lambda lacks."""
    machine = _MACHINE_ALIASES.get(machine.lower(), machine.lower())
    return next((arch for arch, m in ARCHES.items() if m == machine), None)


def elf_machine(e_machine: int | str) -> str:
    """The machine name of an ELF ``e_machine`` (the header's number, or pyelftools' ``EM_*`` name)."""
    number = _ELF_MACHINE_NAMES.get(e_machine) if isinstance(e_machine, str) else e_machine
    if number is None:
        return str(e_machine)
    return ELF_MACHINES.get(number, f"elf-machine-{number}")


def host_machine(machine: str | None = None) -> str:
    """This machine's uname name (``x86_64``, ``aarch64``), whatever the system calls it."""
    raw = (machine or _platform.machine()).lower()
    return _MACHINE_ALIASES.get(raw, raw)


def host_arch(machine: str | None = None) -> str:
    """This machine's Lambda arch name (``x86_64``, ``arm64``); the machine name itself for one Lambda lacks."""
    found = host_machine(machine)
    return arch_for_machine(found) or found


def parse_python_version(text: str) -> tuple[int, int]:
    """``"3.8"``, ``"38"`` or ``"312"`` (pip's ``--python-version`` forms) as ``(3, 8)``."""
    raw = text.strip()
    try:
        if "." in raw:
            major, minor = (int(p) for p in raw.split(".")[:2])
        elif len(raw) >= 2 and raw.isdigit():
            major, minor = int(raw[0]), int(raw[1:])
        else:
            raise ValueError(raw)
    except ValueError:
        raise TargetError(f"--python-version {text!r} is not a Python version",
                          hint="write it like pip does: 3.12 or 312") from None
    if major != 3:
        raise TargetError(f"--python-version {text!r}: Lambda runs Python 3 only", hint="use e.g. 3.12")
    return major, minor


_MANYLINUX = re.compile(r"^manylinux_(\d+)_(\d+)_(\w+)$")
_LEGACY_LEVELS = {alias: level for level, alias in _LEGACY_ALIASES.items()}


def manylinux_glibc(platform: str) -> tuple[tuple[int, int], str] | None:
    """``(glibc, machine)`` a manylinux platform tag stands for, any machine; None for any other tag."""
    match = _MANYLINUX.match(platform)
    if match:
        return (int(match[1]), int(match[2])), match[3]
    legacy, _, machine = platform.partition("_")
    if legacy in _LEGACY_LEVELS and machine:
        return _LEGACY_LEVELS[legacy], machine
    return None


def parse_manylinux(platform: str) -> tuple[tuple[int, int], str] | None:
    """``(glibc, machine)`` of a manylinux tag of a machine Lambda runs, or None for any other tag."""
    parsed = manylinux_glibc(platform)
    if parsed is None or parsed[1] not in ARCHES.values():
        return None
    legacy = platform.partition("_")[0]
    # manylinux1/2010 were only ever defined for x86 machines
    if parsed[1] == "aarch64" and legacy in _LEGACY_LEVELS and legacy != "manylinux2014":
        return None
    return parsed


def wheel_glibc(wheel: str) -> tuple[int, int] | None:
    """The oldest glibc a wheel's platform tags accept (None for pure or non-manylinux wheels)."""
    try:
        _, _, _, tag_set = parse_wheel_filename(wheel)
    except InvalidWheelFilename:
        return None
    needs = [parsed[0] for tag in tag_set if (parsed := manylinux_glibc(tag.platform)) is not None]
    return min(needs) if needs else None


# The manylinux levels uv's --python-platform accepts (besides manylinux2014 = 2.17).
_UV_GLIBC_MINORS = (17, 28, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40)


def uv_glibc(glibc: tuple[int, int]) -> tuple[int, int]:
    """The newest glibc level uv can target that a system with ``glibc`` can load."""
    usable = [m for m in _UV_GLIBC_MINORS if m <= glibc[1]]
    return (glibc[0], max(usable) if usable else _UV_GLIBC_MINORS[0])


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
        """uv's ``--python-platform`` value; uv expands the manylinux tags itself.

        uv knows only some glibc levels (2.17, 2.28, 2.31 and up), so this is the newest one
        not above the target's glibc: for glibc 2.26 it is ``manylinux_2_17``.
        """
        major, minor = uv_glibc(self.glibc)
        return f"{self.machine}-manylinux_{major}_{minor}"

    @property
    def uv_platform_exact(self) -> bool:
        """False when uv cannot express this glibc and would skip wheels between its level and ours."""
        return uv_glibc(self.glibc) == self.glibc

    @classmethod
    def from_tags(cls, python_version: str, platforms: Sequence[str], abis: Sequence[str] = ()) -> Target:
        """A hand-written tag set, as in ``pip download --python-version 38 --abi cp38 --platform ...``."""
        python = parse_python_version(python_version)
        if not platforms:
            raise TargetError("no --platform given", hint="pass at least one, e.g. --platform manylinux2014_x86_64")
        machines = set()
        levels = []
        for platform in platforms:
            parsed = parse_manylinux(platform)
            if parsed is None:
                raise TargetError(f"--platform {platform!r} is not a Linux wheel platform Lambda can load",
                                  hint="use manylinux tags, e.g. manylinux2014_x86_64 or manylinux_2_28_aarch64")
            levels.append(parsed[0])
            machines.add(parsed[1])
        if len(machines) > 1:
            raise TargetError("--platform tags name more than one machine: " + ", ".join(sorted(machines)),
                              hint="a layer is for one architecture; pass tags of one machine")
        machine = machines.pop()
        arch = next(name for name, m in ARCHES.items() if m == machine)
        return cls(
            python=python,
            arch=arch,
            glibc=max(levels),
            platforms=tuple(dict.fromkeys(platforms)),
            abis=tuple(dict.fromkeys(abis)) or (f"cp{python[0]}{python[1]}", "abi3", "none"),
            runtime=None,
        )

    @property
    def label(self) -> str:
        return f"{self.runtime or 'python' + self.python_version}-{self.arch}"

    def supported_tags(self) -> Iterator[tags.Tag]:
        """All wheel tags this target accepts, most specific first (for compatibility checks)."""
        yield from tags.cpython_tags(self.python, abis=list(self.abis), platforms=self.platforms)
        yield from tags.compatible_tags(self.python, f"cp{self.python[0]}{self.python[1]}",
                                        platforms=self.platforms)


# A layer member inside a versioned site-packages (the layout Lambda puts on sys.path).
SITE_PACKAGES_RE = re.compile(r"^python/lib/python(\d+)\.(\d+)/site-packages/")


def site_packages_pythons(names: Iterable[str]) -> list[tuple[int, int]]:
    """The Python versions whose ``python/lib/python3.X/site-packages`` the member ``names`` fill."""
    return sorted({(int(m[1]), int(m[2])) for name in names if (m := SITE_PACKAGES_RE.match(name))})
