#!/usr/bin/env python3
"""Ansible's own view of many inventories, for the differential test (tests/integration/ansible_diff.rs).

Reads a JSON manifest on stdin: {"vars": [names...], "cases": [{"id": ..., "inventory": path}, ...]}.
Prints one JSON document: {id: {"ok": bool, "error": str, "groups": {group: [hosts in Ansible's order]},
"hosts": {host: {var: {"t": type, "v": value} | {"err": message}}}}}.
One process for every case: importing ansible-core takes most of a second, a case a few milliseconds.
"""
import json
import os
import sys
import warnings

# A source no plugin can parse is an error, not a warning; only the two forms bundler reads.
os.environ["ANSIBLE_INVENTORY_UNPARSED_FAILED"] = "true"
os.environ["ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED"] = "true"
os.environ["ANSIBLE_INVENTORY_ENABLED"] = "yaml,ini"
os.environ.setdefault("ANSIBLE_LOCAL_TEMP", os.path.join(os.environ.get("TMPDIR", "/tmp"), "bundler-oracle-ansible"))
os.environ["ANSIBLE_NOCOLOR"] = "1"
os.environ["ANSIBLE_DEPRECATION_WARNINGS"] = "false"
warnings.simplefilter("ignore")

from ansible.parsing.dataloader import DataLoader  # noqa: E402
from ansible.inventory.manager import InventoryManager  # noqa: E402
from ansible.vars.manager import VariableManager  # noqa: E402
from ansible.template import Templar  # noqa: E402
from ansible.utils.display import Display  # noqa: E402

# Ansible prints warnings (duplicate keys, invalid group characters) on stderr: keep the test's output clean.
Display().verbosity = 0
Display.warning = lambda *a, **k: None
Display.deprecated = lambda *a, **k: None


def typed(x):
    if x is None:
        return {"t": "null", "v": None}
    if isinstance(x, bool):
        return {"t": "bool", "v": x}
    if isinstance(x, int):
        return {"t": "int", "v": x}
    if isinstance(x, float):
        return {"t": "float", "v": x if x == x and abs(x) != float("inf") else str(x)}
    if isinstance(x, str):
        return {"t": "str", "v": str(x)}
    if isinstance(x, (list, tuple)):
        return {"t": "list", "v": [typed(i) for i in x]}
    if isinstance(x, dict):
        return {"t": "dict", "v": {str(k): typed(v) for k, v in x.items()}}
    return {"t": type(x).__name__, "v": str(x)}


def why(e):
    """The exception and its causes on one line (Ansible wraps the plugin's own message)."""
    parts = []
    while e is not None and len(parts) < 6:
        parts.append(" ".join(str(e).split()) or type(e).__name__)
        e = e.__cause__ or e.__context__
    return " <- ".join(parts)[:600]


def one(case, names):
    loader = DataLoader()
    try:
        inv = InventoryManager(loader=loader, sources=[case["inventory"]])
    except Exception as e:  # Ansible refuses the inventory
        return {"ok": False, "error": why(e)}
    out = {"ok": True, "groups": {}, "hosts": {}}
    for g, grp in inv.groups.items():
        out["groups"][g] = [h.name for h in grp.get_hosts()]
    vm = VariableManager(loader=loader, inventory=inv)
    for h in inv.get_hosts():
        try:
            v = vm.get_vars(host=h, include_hostvars=False)
        except Exception as e:  # a group_vars/host_vars file Ansible cannot read
            return {"ok": False, "error": why(e)}
        t = Templar(loader=loader, variables=v)
        hv = {}
        for k in names:
            if k not in v:
                continue
            try:
                hv[k] = typed(t.template(v[k]))
            except Exception as e:
                hv[k] = {"err": (str(e).splitlines() or [type(e).__name__])[0]}
        out["hosts"][h.name] = hv
    return out


def main():
    manifest = json.load(sys.stdin)
    names = manifest["vars"]
    result = {}
    for case in manifest["cases"]:
        result[case["id"]] = one(case, names)
    json.dump(result, sys.stdout, sort_keys=True)


if __name__ == "__main__":
    main()
