#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Enforces the tree's structural bar and prints every violation as file:line.

  check-structure.py [--summary] [SRCROOT]

Checks:
  functions  no C function longer than FUNCTION_MAX lines (src/, tests/unit,
             tests/fuzz, bench), counted from the first line of its signature
             to its closing brace.
  files      no file longer than FILE_MAX lines under src/ and tests/. Every
             language written by hand counts (C, assembly, linker scripts,
             Python, shell, meson, Markdown); data does not: seeds of the fuzz
             corpus, expected guest output, golden devicetrees and the specs
             and images they are built from (see is_data()).
  includes   the layering of design §2 on `#include "..."` in src/ (LAYERS).
             A header is placed by the src/ folder that holds it; one that
             none holds (config.h, generated into the build directory) is
             nobody's layer.
  errors     D-Bus and varlink error names only where a transport maps them
             (ERROR_NAME_FILES): the model returns -errno plus a message.

--summary prints the figures the issue asks for (longest function, largest
file, error-name places outside the transport files) and exits 0.
"""
import argparse
import fnmatch
import os
import re
import sys

FUNCTION_MAX = 80
FILE_MAX = 800
FUNCTION_DIRS = ['src', 'tests/unit', 'tests/fuzz', 'bench']
FILE_DIRS = ['src', 'tests']
CODE_SUFFIXES = ('.c', '.h', '.S', '.s', '.ld', '.py', '.sh', '.md', 'meson.build')
DATA_GLOBS = ['tests/fuzz/corpus/*', 'tests/guests/expected/*', 'tests/golden/*']

# Which other src/ folders a folder may include headers from (design §2).
# A folder missing here is reported: a new library or program needs a rule.
LAYERS = {
    'basic': set(),
    'hv': {'basic'},
    'vmconfig': {'basic'},
    'virtio': {'basic'},
    'sim': {'basic', 'hv'},
    'worker-protocol': {'basic', 'hv'},
    'sandbox': {'basic'},
    'daemon': {'basic', 'hv', 'vmconfig', 'worker-protocol', 'virtio'},
    'vcpu': {'basic', 'hv', 'vmconfig', 'worker-protocol', 'sandbox', 'virtio'},
    'device': {'basic', 'virtio', 'sandbox', 'worker-protocol'},
    'keeper': {'basic', 'sandbox', 'worker-protocol'},
    'ctl': {'basic', 'hv', 'vmconfig'},
}

ERROR_NAME_FILES = ['src/daemon/bus-*.[ch]', 'src/daemon/varlink*.[ch]', 'src/ctl/*',
                    'src/basic/bus-errors.h']
VARLINK_IDL = 'src/daemon/varlink-idl.c'


class Report:
    def __init__(self):
        self.violations = []

    def add(self, path, line, message):
        self.violations.append(f'{path}:{line}: {message}')


def walk(root, dirs, suffixes):
    for d in dirs:
        for base, subdirs, files in os.walk(os.path.join(root, d)):
            subdirs[:] = sorted(s for s in subdirs if not s.startswith('.') and s != '__pycache__')
            for f in sorted(files):
                if f.endswith(suffixes):
                    yield os.path.relpath(os.path.join(base, f), root)


def read(root, path):
    with open(os.path.join(root, path), encoding='utf-8', errors='replace') as f:
        return f.read()


def strip_c(text, keep_strings=False):
    """Blanks comments, preprocessor directives and (unless keep_strings)
    string and character literals, keeping every newline so that offsets
    still give line numbers."""
    out = []
    i, n = 0, len(text)
    line_start = True
    blank = lambda s: re.sub(r'[^\n]', ' ', s)
    while i < n:
        c = text[i]
        if line_start and c == '#':
            j = i
            while j < n and text[j] != '\n':
                j += 2 if text[j] == '\\' else 1
            out.append(blank(text[i:j]))
            i = j
            continue
        if c in ' \t':
            out.append(c)
            i += 1
            continue
        line_start = c == '\n'
        if text.startswith('/*', i):
            j = text.find('*/', i + 2)
            j = n if j < 0 else j + 2
            out.append(blank(text[i:j]))
            i = j
        elif text.startswith('//', i):
            j = text.find('\n', i)
            j = n if j < 0 else j
            out.append(blank(text[i:j]))
            i = j
        elif c in '"\'':
            j = i + 1
            while j < n and text[j] != c and text[j] != '\n':
                j += 2 if text[j] == '\\' else 1
            j += 1
            out.append(text[i:j] if keep_strings else c + blank(text[i + 1:j - 1]) + c)
            i = j
        else:
            out.append(c)
            i += 1
    return ''.join(out)


def functions(text):
    """Yields (name, first line, last line) of every function definition:
    a top-level brace block whose head has a parameter list and no '='."""
    code = strip_c(text)
    depth, head_start, block_start = 0, 0, 0
    for m in re.finditer(r'[{};]', code):
        c, pos = m.group(), m.start()
        if c == '{':
            if depth == 0:
                block_start = pos
            depth += 1
        elif c == '}':
            depth -= 1
            if depth == 0:
                head = code[head_start:block_start]
                name = function_name(head)
                if name:
                    first = head_start + len(head) - len(head.lstrip())
                    yield name, code.count('\n', 0, first) + 1, code.count('\n', 0, pos) + 1
                head_start = pos + 1
        elif depth == 0:
            head_start = pos + 1


def function_name(head):
    if '(' not in head or '=' in head or re.match(r'\s*(typedef|struct|union|enum)\s+\w*\s*$', head):
        return None
    # The parameter list is the last top-level parenthesis group.
    depth, end = 0, None
    for i in range(len(head) - 1, -1, -1):
        if head[i] == ')':
            if depth == 0:
                end = i
            depth += 1
        elif head[i] == '(':
            depth -= 1
            if depth == 0 and end is not None:
                m = re.search(r'(\w+)\s*$', head[:i])
                return m.group(1) if m else None
    return None


def check_functions(root, report):
    longest = (0, None)
    for path in walk(root, FUNCTION_DIRS, ('.c', '.h')):
        for name, first, last in functions(read(root, path)):
            size = last - first + 1
            if size > FUNCTION_MAX:
                report.add(path, first, f'function {name}() is {size} lines (at most {FUNCTION_MAX})')
            if size > longest[0]:
                longest = (size, f'{name}() at {path}:{first}')
    return longest


def is_data(path):
    return any(fnmatch.fnmatch(path, g) for g in DATA_GLOBS) and not path.endswith(('.sh', '.py'))


def check_files(root, report):
    largest = (0, None)
    for path in walk(root, FILE_DIRS, CODE_SUFFIXES):
        if is_data(path):
            continue
        size = read(root, path).count('\n')
        if size > FILE_MAX:
            report.add(path, 1, f'file is {size} lines (at most {FILE_MAX})')
        if size > largest[0]:
            largest = (size, path)
    return largest


def header_homes(root):
    homes = {}
    for path in walk(root, ['src'], ('.h',)):
        homes.setdefault(os.path.basename(path), set()).add(path.split('/')[1])
    return homes


def check_includes(root, report):
    homes = header_homes(root)
    unknown = set()
    for path in walk(root, ['src'], ('.c', '.h')):
        layer = path.split('/')[1]
        if layer not in LAYERS:
            if layer not in unknown:
                report.add(path, 1, f'src/{layer} has no layering rule (add one to LAYERS in check-structure.py)')
            unknown.add(layer)
            continue
        for no, line in enumerate(read(root, path).splitlines(), 1):
            m = re.match(r'\s*#\s*include\s+"([^"]+)"', line)
            if not m:
                continue
            name = m.group(1)
            if os.path.exists(os.path.join(root, os.path.dirname(path), name)):
                continue
            for home in sorted(homes.get(os.path.basename(name), set()) - {layer} - LAYERS[layer]):
                report.add(path, no, f'src/{layer} includes "{name}" of src/{home}')


def error_name_pattern(root):
    """D-Bus error names, their macros and setters, and the varlink errors
    the IDL declares, however a string spells them (whole or after an
    IFACE macro)."""
    idl = read(root, VARLINK_IDL) if os.path.exists(os.path.join(root, VARLINK_IDL)) else ''
    varlink = sorted(set(re.findall(r'\berror (\w+) \(', idl)))
    # sd_bus_error_set*() names one too: an errno becomes System.Error.E*.
    alts = [r'org\.gunyah\.Manager1\.Error\.', r'org\.freedesktop\.DBus\.Error\.', r'\bsd_bus_error_set\w*\s*\(',
            r'\bGUNYAH_ERROR_\w+', r'\bSD_BUS_ERROR_(?!NULL\b|MAKE_CONST\b)[A-Z_]+\b']
    if varlink:
        names = '|'.join(varlink)
        alts.append(rf'"(?:io\.gunyah\.Manager|org\.varlink\.service)?\.(?:{names})"')
    return re.compile('|'.join(alts))


def check_error_names(root, report):
    pattern = error_name_pattern(root)
    places = 0
    for path in walk(root, ['src'], ('.c', '.h')):
        if any(fnmatch.fnmatch(path, g) for g in ERROR_NAME_FILES):
            continue
        code = strip_c(read(root, path), keep_strings=True)
        for no, line in enumerate(code.splitlines(), 1):
            m = pattern.search(line)
            if m:
                places += 1
                report.add(path, no, f'names the error {m.group()} outside the transport files')
    return places


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--summary', action='store_true', help='print the figures and exit 0')
    parser.add_argument('root', nargs='?', default=os.path.join(os.path.dirname(__file__), '..', '..'))
    args = parser.parse_args()
    root = os.path.normpath(args.root)

    report = Report()
    longest = check_functions(root, report)
    largest = check_files(root, report)
    check_includes(root, report)
    places = check_error_names(root, report)

    if args.summary:
        print(f'longest function: {longest[0]} lines, {longest[1]}')
        print(f'largest file: {largest[0]} lines, {largest[1]}')
        print(f'error-name places outside the transport files: {places}')
        print(f'violations: {len(report.violations)}')
        return 0
    for v in report.violations:
        print(v)
    if report.violations:
        print(f'{len(report.violations)} violations', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
