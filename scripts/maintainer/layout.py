"""The house's plan, measured: rooms' sizes, import circles, arrows back up, private names crossing.

Reads every Python file git tracks (without running any) and prints:
  - the lines of utils.py and of each room of lander/;
  - the import circles: groups of modules that import each other, directly or round about;
  - the arrows back up: imports from a layer below into one above (LAYERS), or across, from one
    reader's folder into another's of the same layer; within lander/, from a room into one listed
    after it (lander/__init__.py's order);
  - the private names (_name) of a project module used in another one.
Every import counts, a lazy one inside a function too. docs/design.md has the picture.

Usage: python -m scripts.maintainer.layout [--check] [--root CHECKOUT]   (--check: exit 1 unless all three are none)
"""
import argparse
import ast
import re
import subprocess
import sys
from pathlib import Path

from scripts import ROOT

# Each folder's layer, the first prefix that matches; a module may import its own layer's folder and
# the layers below it. lander's rooms come in the order lander/__init__.py lists them.
LAYERS = (("lander", 0), ("utils", 1), ("public_tests", 1), ("scripts.learner", 3), ("scripts.experimenter", 3),
          ("grading", 3), ("scripts.maintainer", 4), ("tests", 5), ("scripts", 2))
TOP_LEVEL_LAYER = 1  # a module at the top level that LAYERS does not name (the learner's)
OTHER_LAYER = 4  # a folder that LAYERS does not name


def python_files(root=ROOT):
    listed = subprocess.run(["git", "ls-files", "*.py"], cwd=root, capture_output=True, text=True, check=True)
    return [root / name for name in listed.stdout.split() if (root / name).is_file()]


def module_name(path, root=ROOT):
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(tree, module, is_package, known):
    """The project modules that tree (the module's code) imports: {name: [names it takes from it]}."""
    found = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in known:
                    found.setdefault(alias.name, [])
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = module.split(".")[: len(module.split(".")) - node.level + (1 if is_package else 0)]
                base = ".".join([*package, base] if base else package)
            for alias in node.names:
                target = f"{base}.{alias.name}"
                if target in known:
                    found.setdefault(target, [])
                elif base in known:
                    found.setdefault(base, []).append(alias.name)
    return found


def read_project(root=ROOT):
    """{module: (path, tree)} of every tracked Python file, and {module: {imported module: [names]}}."""
    modules = {}
    for path in python_files(root):
        modules[module_name(path, root)] = (path, ast.parse(path.read_text(), str(path)))
    imports = {name: imported(tree, name, path.name == "__init__.py", modules)
               for name, (path, tree) in modules.items()}
    for name in imports:
        imports[name].pop(name, None)
    return modules, imports


def circles(imports):
    """The groups of two or more modules that import each other, directly or round about (Tarjan)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(module):
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for other in imports.get(module, ()):
            if other not in index:
                visit(other)
                low[module] = min(low[module], low[other])
            elif other in on_stack:
                low[module] = min(low[module], index[other])
        if low[module] == index[module]:
            group = []
            while not group or group[-1] != module:
                group.append(stack.pop())
                on_stack.discard(group[-1])
            if len(group) > 1:
                found.append(sorted(group))

    for module in sorted(imports):
        if module not in index:
            visit(module)
    return found


def room(module):
    """(layer, folder) of a module: its layer in LAYERS and the prefix that put it there."""
    for prefix, layer in LAYERS:
        if module == prefix or module.startswith(prefix + "."):
            return layer, prefix
    top = module.split(".")[0]
    return (TOP_LEVEL_LAYER if "." not in module else OTHER_LAYER), top


def lander_order(root=ROOT):
    """lander's rooms in the order lander/__init__.py lists them (each may import those before it)."""
    listing = root / "lander" / "__init__.py"
    text = (ast.get_docstring(ast.parse(listing.read_text()), clean=False) or "") if listing.exists() else ""
    return [f"lander.{name}" for name in re.findall(r"^ {4}(\w+) ", text, re.MULTILINE)]


def arrows_back_up(imports, order):
    """The imports (importer, imported, why) that run up a layer, across readers' folders, or down lander's list."""
    found = []
    for module, targets in sorted(imports.items()):
        (layer, folder) = room(module)
        for target in sorted(targets):
            (target_layer, target_folder) = room(target)
            if target_layer > layer:
                found.append((module, target, f"layer {layer} imports layer {target_layer}"))
            elif target_layer == layer and folder != target_folder and layer != TOP_LEVEL_LAYER:
                found.append((module, target, f"{folder} imports {target_folder}, beside it"))
            elif module in order and target in order and order.index(target) > order.index(module):
                found.append((module, target, "a room imports one listed after it in lander/__init__.py"))
    return found


def private_names(modules):
    """(module, name) of each _name of a project module that another module uses."""
    found = set()
    for module, (_, tree) in modules.items():
        aliases = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name in modules:
                        aliases[alias.asname or alias.name] = alias.name
            elif isinstance(node, ast.ImportFrom):
                for alias in node.names:
                    target = f"{node.module}.{alias.name}"
                    if target in modules:
                        aliases[alias.asname or alias.name] = target
                    elif alias.name.startswith("_") and not alias.name.startswith("__") and node.module in modules:
                        found.add((module, f"{node.module}.{alias.name}"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
                # module._name, or self.module._name for a module this file imports
                held = getattr(node.value, "id", None) or getattr(node.value, "attr", None)
                if held in aliases:
                    found.add((module, f"{aliases[held]}.{node.attr}"))
    return sorted(found)


def line_counts(root=ROOT):
    """{path: lines} of utils.py and of each room of lander/."""
    paths = [root / "utils.py", *sorted((root / "lander").glob("*.py"))]
    return {path.relative_to(root).as_posix(): len(path.read_text().splitlines()) for path in paths if path.exists()}


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m scripts.maintainer.layout", description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 unless there is no circle, arrow or private name")
    parser.add_argument("--root", type=Path, default=ROOT, help="the checkout to read (default: this one)")
    arguments = parser.parse_args(argv)
    root = arguments.root.resolve()
    modules, imports = read_project(root)
    for path, lines in line_counts(root).items():
        print(f"{path:28} {lines:5} lines")
    problems = {"import circles": [" <-> ".join(group) for group in circles(imports)],
                "arrows back up": [f"{a} -> {b} ({why})" for a, b, why in arrows_back_up(imports, lander_order(root))],
                "private names used outside their module": [f"{name} in {module}"
                                                            for module, name in private_names(modules)]}
    for what, found in problems.items():
        print(f"{what}: {len(found)}")
        for line in found:
            print(f"  {line}")
    return 1 if arguments.check and any(problems.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
