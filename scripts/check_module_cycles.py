#!/usr/bin/env python3
"""Reports import cycles between the source files of each crate.

Usage: python3 scripts/check_module_cycles.py [--allow CRATE]... [CRATE_DIR]...

With no directory it checks every crate under crates/, plus tests/ and
bench/tools/. Each crate target (src/lib.rs, src/main.rs, src/bin/*) is read
as a module tree, following its `mod x;` declarations, and becomes a graph
whose nodes are files and whose edges are uses:

- `use` declarations and paths in code that start with `crate::`,
  `$crate::`, `super::`, `self::`, the name of a child module, or a name a
  `use` brought in as a module;
- each path is resolved to the file that defines what it names (`x.rs` or
  `x/mod.rs`, or the file holding an inline `mod x { .. }`), following
  `pub use` re-exports through facade modules: `crate::ports::Clock` is an
  edge to `ports/clock.rs`, not to `ports/mod.rs`.

Not dependencies: `mod x;` itself (a parent declaring a child), and a
re-export (`pub use`, `pub(crate) use`) whose name the file does not also
use itself; a facade that only re-exports its children depends on none of
them. Paths in comments, strings and attributes are ignored.

Test code is left out: items under `#[cfg(test)]` (any cfg that is false
when `test` is; `cfg(any(test, feature = ".."))` is kept), and files named
`tests.rs` or under a `tests/` directory below `src/`.

Prints every elementary cycle with the line of each edge, and exits 1 if a
crate not named by `--allow` has one. Python 3 standard library only.
"""

import argparse
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MAX_CYCLES_PER_GROUP = 50

# --------------------------------------------------------------------------
# Tokens

TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<line_comment>//[^\n]*)
  | (?P<block_comment>/\*)
  | (?P<raw_string>b?r(?P<hashes>\#*)")
  | (?P<string>b?")
  | (?P<char>b?'(?:\\(?:x[0-9a-fA-F]{2}|u\{[0-9a-fA-F]{1,6}\}|.)|[^\\'\n])')
  | (?P<lifetime>'[A-Za-z_][A-Za-z0-9_]*)
  | (?P<ident>\$?(?:r\#)?[A-Za-z_][A-Za-z0-9_]*)
  | (?P<number>[0-9][0-9A-Za-z_.]*)
  | (?P<path_sep>::)
  | (?P<punct>.)
    """,
    re.VERBOSE | re.DOTALL,
)


def tokenize(text):
    """(token, line) pairs; comments, characters and lifetimes dropped.
    A string literal is one token, `"` and its text (escapes left as
    written): never an identifier."""
    tokens = []
    pos, line, end = 0, 1, len(text)
    while pos < end:
        match = TOKEN.match(text, pos)
        kind = match.lastgroup
        if kind == "hashes":  # named inside raw_string
            kind = "raw_string"
        start = pos
        if kind == "block_comment":
            depth, pos = 1, match.end()
            while depth and pos < end:
                if text.startswith("/*", pos):
                    depth, pos = depth + 1, pos + 2
                elif text.startswith("*/", pos):
                    depth, pos = depth - 1, pos + 2
                else:
                    pos += 1
        elif kind == "raw_string":
            closing = '"' + match.group("hashes")
            found = text.find(closing, match.end())
            pos = end if found < 0 else found + len(closing)
            tokens.append(('"' + text[match.end():pos - len(closing)] + '"', line))
        elif kind == "string":
            pos = match.end()
            while pos < end and text[pos] != '"':
                pos += 2 if text[pos] == "\\" else 1
            pos += 1
            tokens.append(('"' + text[match.end():pos - 1] + '"', line))
        else:
            pos = match.end()
            if kind in ("ident", "path_sep", "punct", "number"):
                value = match.group(0)
                if kind == "ident" and value.startswith("r#"):
                    value = value[2:]
                tokens.append((value, line))
        line += text.count("\n", start, pos)
    return tokens


IDENT = re.compile(r"\$?[A-Za-z_][A-Za-z0-9_]*$")


def is_ident(token):
    return bool(IDENT.match(token))


# --------------------------------------------------------------------------
# cfg: is an item compiled out when `test` is off?

def cfg_value(tokens, i):
    """Evaluates a cfg predicate at tokens[i] with test = False and every
    other option unknown (None). Returns (value, next index)."""
    name = tokens[i]
    if i + 1 < len(tokens) and tokens[i + 1] == "(" and name in ("all", "any", "not"):
        values, i = [], i + 2
        while tokens[i] != ")":
            value, i = cfg_value(tokens, i)
            values.append(value)
            if tokens[i] == ",":
                i += 1
        i += 1
        if name == "not":
            return (None if values[0] is None else not values[0]), i
        if name == "all":
            if any(v is False for v in values):
                return False, i
            return (True if all(v is True for v in values) else None), i
        if any(v is True for v in values):
            return True, i
        return (False if all(v is False for v in values) else None), i
    i += 1
    if i < len(tokens) and tokens[i] == "=":  # feature = "x"
        i += 2
    return (False if name == "test" else None), i


def compiled_out_without_test(attribute):
    """`attribute` is the token list inside `#[...]`."""
    if len(attribute) < 3 or attribute[0] != "cfg" or attribute[1] != "(":
        return False
    value, _ = cfg_value(attribute, 2)
    return value is False


# --------------------------------------------------------------------------
# Modules


class Module:
    def __init__(self, name, file, parent):
        self.name = name
        self.file = file
        self.parent = parent
        self.children = {}
        self.defined = set()  # item names defined in this module
        self.aliases = {}  # name -> path a `use` bound it to
        self.reexports = {}  # name -> path (`pub use`)
        self.glob_reexports = []  # paths (`pub use x::*`)
        self.uses = []  # (path, is_glob, line), not re-exports
        self.code_paths = []  # (path, line): paths in code
        self.used_elsewhere = set()  # identifiers of the file outside `use`

    def root(self):
        module = self
        while module.parent is not None:
            module = module.parent
        return module


def module_dir(module):
    """The directory holding the files of `module`'s children."""
    if module.parent is None or module.file != module.parent.file:
        base = os.path.basename(module.file)
        if module.parent is None or base == "mod.rs":
            return os.path.dirname(module.file)
        return os.path.join(os.path.dirname(module.file), base[:-3])
    return os.path.join(module_dir(module.parent), module.name)


def child_file(module, name, path_attribute):
    """The file of `mod name;` declared in `module`, or None."""
    if path_attribute is not None:
        inline = module.parent is not None and module.file == module.parent.file
        base = module_dir(module) if inline else os.path.dirname(module.file)
        candidate = os.path.normpath(os.path.join(base, path_attribute))
        return candidate if os.path.exists(candidate) else None
    directory = module_dir(module)
    for candidate in (os.path.join(directory, name + ".rs"), os.path.join(directory, name, "mod.rs")):
        if os.path.exists(candidate):
            return candidate
    return None


def is_test_file(file, src_dir):
    relative = os.path.relpath(file, src_dir)
    parts = relative.split(os.sep)
    return parts[-1] == "tests.rs" or "tests" in parts[:-1]


def skip_item(tokens, i):
    """Index after the item starting at tokens[i]: its `;` or its block."""
    depth = 0
    while i < len(tokens):
        token = tokens[i]
        if token in "([{":
            depth += 1
        elif token in ")]}":
            depth -= 1
            if depth < 0:
                return i
            if depth == 0 and token == "}":
                return i + 1
        elif token == ";" and depth == 0:
            return i + 1
        i += 1
    return i


def read_attribute(tokens, i):
    """tokens[i] is `#`; returns (inner tokens, inner?, index after `]`)."""
    j = i + 1
    inner = tokens[j] == "!"
    if inner:
        j += 1
    depth, start = 0, j + 1
    while j < len(tokens):
        if tokens[j] == "[":
            depth += 1
        elif tokens[j] == "]":
            depth -= 1
            if depth == 0:
                return tokens[start:j], inner, j + 1
        j += 1
    return tokens[start:], inner, j


def parse_use_tree(tokens, i, prefix):
    """Returns ([(path, is_glob, bound name or None)], next index)."""
    path = list(prefix)
    if tokens[i] == "::":
        i += 1
    while True:
        token = tokens[i]
        if token == "{":
            found, i = [], i + 1
            while tokens[i] != "}":
                sub, i = parse_use_tree(tokens, i, path)
                found += sub
                if tokens[i] == ",":
                    i += 1
            return found, i + 1
        if token == "*":
            return [(path, True, None)], i + 1
        if tokens[i + 1] == "::":
            path.append(token)
            i += 2
            continue
        i += 1
        bound = token if token != "self" else (path[-1] if path else None)
        if tokens[i] == "as":
            bound = tokens[i + 1]
            i += 2
        if bound == "_":
            bound = None
        full = path if token == "self" else path + [token]
        return [(full, False, bound)], i


ITEM_KEYWORDS = {"fn", "struct", "enum", "trait", "type", "const", "static", "union"}
PATH_STARTS = {"crate", "$crate", "super", "self"}


class Crate:
    def __init__(self, name, src_dir, root_file):
        self.name = name
        self.src_dir = src_dir
        self.root = Module("crate", root_file, None)
        self.modules = []
        self.files = set()
        self.load(self.root)

    def load(self, module):
        """Reads module.file (a file module) and every module below it."""
        with open(module.file, encoding="utf-8") as handle:
            tokens = tokenize(handle.read())
        self.files.add(module.file)
        self.modules.append(module)
        texts = [t for t, _ in tokens]
        stack = [(module, 0)]
        depth, i, attributes = 0, 0, []
        pending_files = []
        use_spans = []
        while i < len(texts):
            scope = stack[-1][0]
            token = texts[i]
            if token == "#" and i + 1 < len(texts) and texts[i + 1] in ("[", "!"):
                attribute, inner, i = read_attribute(texts, i)
                if inner:
                    if compiled_out_without_test(attribute) and scope is module:
                        self.modules.remove(module)
                        self.files.discard(module.file)
                        return False
                else:
                    attributes.append(attribute)
                continue
            path_attribute = None
            if attributes:
                current, attributes = attributes, []
                if any(compiled_out_without_test(a) for a in current):
                    i = skip_item(texts, i)
                    continue
                for a in current:
                    if len(a) == 3 and a[:2] == ["path", "="] and a[2].startswith('"'):
                        path_attribute = a[2][1:-1]
            if token == "mod" and i + 2 < len(texts) and is_ident(texts[i + 1]):
                name, after = texts[i + 1], texts[i + 2]
                if after == ";":
                    pending_files.append((scope, name, path_attribute))
                    i += 3
                    continue
                if after == "{":
                    child = Module(name, module.file, scope)
                    scope.children[name] = child
                    self.modules.append(child)
                    depth += 1
                    stack.append((child, depth))
                    i += 3
                    continue
            if token == "use" and i + 1 < len(texts) and (is_ident(texts[i + 1]) or texts[i + 1] in ("::", "{")):
                visible = i > 0 and (texts[i - 1] == "pub" or (texts[i - 1] == ")" and "pub" in texts[max(0, i - 6):i]))
                start = i
                entries, i = parse_use_tree(texts, i + 1, [])
                use_spans.append((start, i))
                line = tokens[start][1]
                for path, glob, bound in entries:
                    if bound is not None and not glob:
                        scope.aliases[bound] = path
                    if visible:
                        if glob:
                            scope.glob_reexports.append(path)
                        elif bound is not None:
                            scope.reexports[bound] = path
                    scope.uses.append((path, glob, bound, visible, line))
                if i < len(texts) and texts[i] == ";":
                    i += 1
                continue
            if token in ITEM_KEYWORDS and i + 1 < len(texts) and is_ident(texts[i + 1]):
                scope.defined.add(texts[i + 1])
            elif token == "macro_rules" and i + 2 < len(texts) and texts[i + 1] == "!":
                scope.defined.add(texts[i + 2])
            if token == "{":
                depth += 1
            elif token == "}":
                depth -= 1
                if len(stack) > 1 and depth < stack[-1][1]:
                    stack.pop()
            elif is_ident(token) and i + 2 < len(texts) and texts[i + 1] == "::" and (i == 0 or texts[i - 1] != "::"):
                path, j = [token], i + 1
                while j + 1 < len(texts) and texts[j] == "::" and is_ident(texts[j + 1]):
                    path.append(texts[j + 1])
                    j += 2
                scope.code_paths.append((path, tokens[i][1]))
                i = j
                continue
            i += 1
        # Identifiers used outside `use` declarations: a re-export whose name
        # is among them is also a use.
        used_elsewhere = set()
        in_use = set()
        for start, stop in use_spans:
            in_use.update(range(start, stop))
        for index, text in enumerate(texts):
            if index not in in_use and is_ident(text) and (index == 0 or texts[index - 1] != "mod"):
                used_elsewhere.add(text)
        for m in self.modules:
            if m.file == module.file:
                m.used_elsewhere = used_elsewhere
        for scope, name, path_attribute in pending_files:
            file = child_file(scope, name, path_attribute)
            if file is None or is_test_file(file, self.src_dir):
                continue
            child = Module(name, file, scope)
            scope.children[name] = child
            if self.load(child) is False:
                del scope.children[name]
        return True

    # ----------------------------------------------------------------------
    # Resolution: a path names a module (("module", m)) or an item defined
    # in a module's file (("item", m)).

    def resolve(self, scope, path, seen=None):
        if not path:
            return ("module", scope)
        seen = seen or set()
        first, rest = path[0], path[1:]
        if first in ("crate", "$crate"):
            return self.walk(scope.root(), rest, seen)
        if first == "super":
            current = scope
            while path and path[0] == "super":
                current = current.parent or current
                path = path[1:]
            return self.walk(current, path, seen)
        if first == "self":
            return self.walk(scope, rest, seen)
        if first in scope.children:
            return self.walk(scope.children[first], rest, seen)
        if first in scope.aliases and (id(scope), first) not in seen:
            target = self.resolve(scope, scope.aliases[first], seen | {(id(scope), first)})
            if target is None:
                return None
            kind, module = target
            if kind == "module":
                return self.walk(module, rest, seen)
            return target
        if first in scope.defined:
            return ("item", scope)
        return None  # another crate, std, a type's associated item

    def walk(self, module, rest, seen):
        while rest:
            name = rest[0]
            if name in module.children:
                module, rest = module.children[name], rest[1:]
                continue
            key = (id(module), name)
            if name in module.reexports and key not in seen:
                target = self.resolve(module, module.reexports[name], seen | {key})
                if target is None:
                    return ("item", module)
                kind, found = target
                if kind == "module":
                    module, rest = found, rest[1:]
                    continue
                return target
            if name in module.defined:
                return ("item", module)
            for glob in module.glob_reexports:
                gkey = (id(module), "*", tuple(glob))
                if gkey in seen:
                    continue
                target = self.resolve(module, glob, seen | {gkey})
                if target and target[0] == "module":
                    found = self.walk(target[1], [name], seen | {gkey})
                    if found and (found[0] == "module" or name in found[1].defined):
                        return found
            return ("item", module)
        return ("module", module)

    def edges(self):
        """{(from file, to file): [(line, path text)]}"""
        found = {}

        def add(scope, path, line):
            target = self.resolve(scope, path)
            if target is None:
                return
            to = target[1].file
            if to != scope.file and to in self.files:
                found.setdefault((scope.file, to), []).append((line, "::".join(path)))

        for scope in self.modules:
            for path, glob, bound, visible, line in scope.uses:
                if not path:
                    continue
                if visible and (bound is None or bound not in scope.used_elsewhere):
                    continue
                target = self.resolve(scope, path)
                if target is None:
                    continue
                if target[0] == "module" and not glob:
                    continue  # a module brought into scope: its uses count
                add(scope, path, line)
            for path, line in scope.code_paths:
                first = path[0]
                if first in PATH_STARTS or first in scope.children:
                    add(scope, path, line)
                elif first in scope.aliases:
                    target = self.resolve(scope, [first])
                    if target and target[0] == "module":
                        add(scope, path, line)
        return found


# --------------------------------------------------------------------------
# Cycles


def strongly_connected(nodes, graph):
    index, low, on_stack, stack, groups = {}, {}, set(), [], []
    counter = [0]

    def visit(node):
        work = [(node, iter(sorted(graph.get(node, ()))))]
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        while work:
            current, successors = work[-1]
            advanced = False
            for successor in successors:
                if successor not in index:
                    index[successor] = low[successor] = counter[0]
                    counter[0] += 1
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter(sorted(graph.get(successor, ())))))
                    advanced = True
                    break
                if successor in on_stack:
                    low[current] = min(low[current], index[successor])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[current])
            if low[current] == index[current]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == current:
                        break
                groups.append(sorted(group))

    for node in sorted(nodes):
        if node not in index:
            visit(node)
    return [group for group in groups if len(group) > 1]


def elementary_cycles(group, graph, limit):
    """Every simple cycle inside `group`, each once (starting from its
    smallest node), at most `limit`."""
    members = set(group)
    cycles = []
    for start in sorted(group):
        allowed = {node for node in members if node >= start}

        def extend(path, on_path):
            for successor in sorted(graph.get(path[-1], ())):
                if len(cycles) >= limit:
                    return
                if successor == start:
                    cycles.append(list(path))
                elif successor in allowed and successor not in on_path:
                    path.append(successor)
                    on_path.add(successor)
                    extend(path, on_path)
                    on_path.discard(successor)
                    path.pop()

        extend([start], {start})
        if len(cycles) >= limit:
            break
    return cycles


# --------------------------------------------------------------------------


def package_name(crate_dir):
    with open(os.path.join(crate_dir, "Cargo.toml"), encoding="utf-8") as handle:
        match = re.search(r'^\[package\][^\[]*?^name\s*=\s*"([^"]+)"', handle.read(), re.M | re.S)
    return match.group(1) if match else os.path.basename(crate_dir)


def targets(crate_dir):
    src = os.path.join(crate_dir, "src")
    found = []
    for name in ("lib.rs", "main.rs"):
        if os.path.exists(os.path.join(src, name)):
            found.append((name[:-3], os.path.join(src, name)))
    bin_dir = os.path.join(src, "bin")
    if os.path.isdir(bin_dir):
        for entry in sorted(os.listdir(bin_dir)):
            path = os.path.join(bin_dir, entry)
            if entry.endswith(".rs"):
                found.append(("bin " + entry[:-3], path))
            elif os.path.exists(os.path.join(path, "main.rs")):
                found.append(("bin " + entry, os.path.join(path, "main.rs")))
    return src, found


def default_crate_dirs():
    dirs = []
    crates = os.path.join(ROOT, "crates")
    for entry in sorted(os.listdir(crates)):
        if os.path.exists(os.path.join(crates, entry, "Cargo.toml")):
            dirs.append(os.path.join(crates, entry))
    for extra in ("tests", os.path.join("bench", "tools")):
        if os.path.exists(os.path.join(ROOT, extra, "Cargo.toml")):
            dirs.append(os.path.join(ROOT, extra))
    return dirs


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--allow", action="append", default=[], metavar="CRATE",
                        help="report this crate's cycles without failing (repeatable)")
    parser.add_argument("crate_dirs", nargs="*", help="crate directories (default: all)")
    arguments = parser.parse_args()
    failing, total = [], 0
    for crate_dir in arguments.crate_dirs or default_crate_dirs():
        crate_dir = os.path.abspath(crate_dir)
        name = package_name(crate_dir)
        src, roots = targets(crate_dir)
        for target, root_file in roots:
            crate = Crate(name, src, root_file)
            edges = crate.edges()
            graph = {}
            for (source, destination) in edges:
                graph.setdefault(source, set()).add(destination)
            groups = strongly_connected(crate.files, graph)
            if not groups:
                continue
            label = name if target == "lib" else f"{name} ({target})"
            allowed = name in arguments.allow
            for group in groups:
                cycles = elementary_cycles(group, graph, MAX_CYCLES_PER_GROUP)
                total += len(cycles)
                note = " (allowed)" if allowed else ""
                print(f"{label}: {len(group)} files in a cycle{note}")
                for cycle in cycles:
                    shown = [os.path.relpath(f, src) for f in cycle + [cycle[0]]]
                    print("  " + " -> ".join(shown))
                    for source, destination in zip(cycle, cycle[1:] + [cycle[0]]):
                        line, path = edges[(source, destination)][0]
                        print(f"      {os.path.relpath(source, src)}:{line}: {path}")
                if len(cycles) >= MAX_CYCLES_PER_GROUP:
                    print(f"  (first {MAX_CYCLES_PER_GROUP} cycles shown)")
            if not allowed:
                failing.append(label)
    if failing:
        print(f"module cycles in: {', '.join(failing)}", file=sys.stderr)
        return 1
    print("no module cycles" if total == 0 else "module cycles only in allowed crates")
    return 0


if __name__ == "__main__":
    sys.exit(main())
