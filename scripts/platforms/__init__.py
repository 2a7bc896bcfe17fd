"""The machines the pinned requirements support, and one plain line for those they do not.

Set-up (scripts/setup_env.py) calls main() first: it returns 0 on a supported Python and machine;
otherwise it prints what to use instead, in one line, and returns 1. This package's __init__
imports nothing outside the standard library and runs on old Pythons, so that set-up can stop
before pip does. Beside it, the proofs of the supported-platforms table: check.py (wheels
resolve for every target) and the chroot runs trixie.sh and arm64.sh (chroot_common.sh).
"""
import platform
import struct
import sys

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


def refusal(version, system, machine, bits):
    """The line that stops set-up on this Python and machine, or None where they are supported."""
    shown = ".".join(map(str, version[:2]))
    names = ", ".join(".".join(map(str, v)) for v in PYTHONS)
    if tuple(version[:2]) < PYTHONS[0]:
        return f"Python {shown} is too old for this project: use Python {names} (choose it with PYTHON=python3.13)."
    if tuple(version[:2]) > PYTHONS[-1]:
        return (f"Python {shown} is not supported yet ({NEWER_PYTHON}): use Python {names} "
                "(choose it with PYTHON=python3.13).")
    target = target_of(system, machine, bits)
    if target in SUPPORTED:
        return None
    if target in UNSUPPORTED:
        label, instead = UNSUPPORTED[target]
        return f"{label} is not supported: {instead}."
    return (f"This machine ({system} {machine}) is not supported: the project runs on "
            f"{', '.join(label.split(' (')[0] for label in SUPPORTED.values())}.")


def main():
    line = refusal(sys.version_info, platform.system(), platform.machine(), struct.calcsize("P") * 8)
    if line:
        print(line, file=sys.stderr)
        return 1
    return 0

