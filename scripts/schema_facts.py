#!/usr/bin/env python3
"""Derives the project's facts file about Tuturuuu's real schema (docs/real-schema.json)
from a table-by-table description of a database built from Tuturuuu's own migrations (the
Markdown the team keeps outside the repository), so the mirror (migrations/…_tuturuuu_schema.sql),
its catalog test (tests/tests/real_schema.rs) and `jobs check` share one set of facts.

    python3 scripts/schema_facts.py REFERENCE.md > docs/real-schema.json

Run again when the reference changes; the catalog test then names what the mirror lacks.
"""
import json
import re
import sys

ROW = re.compile(r"^\| (?P<col>[a-z_0-9]+) \| (?P<type>.*?) \| (?P<null>yes|no) \| (?P<default>.*?) \| (?P<limit>.*?) \|$")
TICKED = re.compile(r"`([^`]*)`")


def parse(text):
    tables, enums = {}, {}
    table, section = None, None
    for line in text.splitlines():
        if line.startswith("## "):
            name = line[3:].strip()
            table = tables.setdefault(name, {
                "rls": False, "columns": {}, "checks": {}, "unique": {}, "indexes": [],
                "foreign_keys": [], "triggers": {},
            })
            section = "columns"
            continue
        if table is None:
            continue
        if line.startswith("Row-level security:"):
            table["rls"] = "on" in line
        elif line.startswith("Checks:"):
            section = "checks"
        elif line.startswith("Unique keys:"):
            section = "unique"
        elif line.startswith("Triggers:"):
            section = "triggers"
        elif line.startswith("Other indexes:"):
            table["indexes"] = TICKED.findall(line[len("Other indexes:"):])
        elif line.startswith("Foreign keys:"):
            table["foreign_keys"] = TICKED.findall(line[len("Foreign keys:"):])
        elif section == "columns" and (m := ROW.match(line)) and m["col"] != "column":
            kind = m["type"]
            column = {"type": kind, "null": m["null"] == "yes"}
            if " enum: " in kind:
                kind, labels = kind.split(" enum: ", 1)
                enums[kind] = [label.strip() for label in labels.split(",")]
                column["type"] = kind
            default = m["default"].strip()
            # Markdown tables cannot hold a pipe: the reference writes `||` as `//`.
            column["default"] = default.replace(" // ", " || ") if default else None
            limit = m["limit"].strip()
            if limit:
                chars, size = (part.strip() for part in limit.split("/"))
                column["limit"] = {
                    "chars": None if chars == "—" else int(chars),
                    "bytes": int(size),
                }
            table["columns"][m["col"]] = column
        elif section == "checks" and line.startswith("- `"):
            name, definition = TICKED.findall(line)[:2]
            table["checks"][name] = definition
        elif section == "unique" and line.startswith("- `"):
            definition = TICKED.findall(line)[0]
            name = line.rsplit("(", 1)[1].rstrip(")")
            table["unique"][name] = definition
        elif section == "triggers" and line.startswith("- `"):
            name = TICKED.findall(line)[0]
            timing, function = line.split("`: ", 1)[1].split(" → ")
            table["triggers"][name] = {"when": timing.strip(), "function": function.strip("` ")}
    return {"enums": dict(sorted(enums.items())), "tables": tables}


if __name__ == "__main__":
    with open(sys.argv[1], encoding="utf-8") as source:
        facts = parse(source.read())
    json.dump(facts, sys.stdout, indent=1, ensure_ascii=False)
    sys.stdout.write("\n")
