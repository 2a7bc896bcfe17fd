"""The machines the pinned requirements support, and one plain line for those they do not.

Set-up (setup_env.py) asks here first: on a machine that cannot work it stops with one line
saying what to use instead; on a Python the pins do not support, it finds or fetches one that they
do (pythons.py). This module and pythons.py import nothing outside the standard library and run on
old Pythons, so that set-up can answer before pip runs. The proofs of the table are the
maintainer's: scripts/maintainer/platforms/.
"""
PYTHONS = ((3, 11), (3, 12), (3, 13))

# uv's name for each target -> what a person calls it. Every Python of PYTHONS on each.
SUPPORTED = {
    "x86_64-unknown-linux-gnu": "Linux x86-64",
    "aarch64-unknown-linux-gnu": "Linux aarch64 (Raspberry Pi OS 64-bit, Graviton, Linux VMs on Apple silicon)",
    "aarch64-apple-darwin": "macOS arm64 (Apple silicon)",
    "x86_64-pc-windows-msvc": "Windows x86-64",
}

# Targets that cannot work, with what to use instead (checked to fail by check.py).
UNSUPPORTED = {
    "x86_64-apple-darwin": ("macOS x86-64 (Intel)", "TensorFlow 2.21 has no wheel for Intel Macs: run the "
                            "project in a Linux virtual machine (Debian 12 x86-64 in UTM, VirtualBox or "
                            "Parallels), where the Linux commands apply, or on another machine"),
    "aarch64-pc-windows-msvc": ("Windows arm64", "TensorFlow 2.21 has no wheel for Windows on Arm: install "
                                "the x64 build of Python, which Windows runs under emulation"),
    "i686-unknown-linux-gnu": ("32-bit Linux", "TensorFlow has no 32-bit build: use a 64-bit Python"),
    "i686-pc-windows-msvc": ("32-bit Windows", "TensorFlow has no 32-bit build: install the 64-bit Python"),
}
NEWER_PYTHON = "TensorFlow 2.21, Box2D 2.3.10 and pygame 2.6.1 have no wheels for it yet"


def target_of(system, machine, bits):
    """uv's target name for a machine (platform.system(), platform.machine(), pointer bits)."""
    machine = machine.lower()
    arch = {"amd64": "x86_64", "x64": "x86_64", "arm64": "aarch64"}.get(machine, machine)
    if bits == 32:
        arch = "i686"
    vendor = {"Linux": "unknown-linux-gnu", "Darwin": "apple-darwin", "Windows": "pc-windows-msvc"}.get(system)
    return f"{arch}-{vendor}" if vendor else f"{arch}-{system.lower()}"


def python_refusal(version):
    """The line that stops set-up on this Python version, or None where the pins support it."""
    shown = ".".join(map(str, version[:2]))
    names = ", ".join(".".join(map(str, v)) for v in PYTHONS)
    if tuple(version[:2]) < PYTHONS[0]:
        return f"Python {shown} is too old for this project: use Python {names} (choose it with PYTHON=python3.13)."
    if tuple(version[:2]) > PYTHONS[-1]:
        return (f"Python {shown} is not supported yet ({NEWER_PYTHON}): use Python {names} "
                "(choose it with PYTHON=python3.13).")
    return None


def machine_refusal(system, machine, bits):
    """The line that stops set-up on this machine, whatever its Python, or None where it is supported."""
    target = target_of(system, machine, bits)
    if target in SUPPORTED:
        return None
    if target in UNSUPPORTED:
        label, instead = UNSUPPORTED[target]
        return f"{label} is not supported: {instead}."
    return (f"This machine ({system} {machine}) is not supported: the project runs on "
            f"{', '.join(label.split(' (')[0] for label in SUPPORTED.values())}.")


def refusal(version, system, machine, bits):
    """The line that stops set-up on this Python and machine, or None where they are supported."""
    return python_refusal(version) or machine_refusal(system, machine, bits)
