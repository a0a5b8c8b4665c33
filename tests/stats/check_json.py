#!/usr/bin/env python3
"""Reads malloc_stats_print's JSON as a parser written for jemalloc 5.3's
layout would, and checks its figures (tests/check_api_stats.c runs it).

usage: check_json.py STATS.json KEYS.json [PATH=VALUE ...]

KEYS.json is the key structure of jemalloc 5.3.0's own JSON (Debian
libjemalloc2, malloc_stats_print(NULL, NULL, "J"); arrays cut to their first
element, the option and config sections emptied since their keys are the
options of each build).  Every key jemalloc emits under "arenas", "stats"
and each "stats.arenas" member must be there, with a value of the same kind.
Then the totals must add up, and each PATH (keys joined by "/") must hold
VALUE (a mallctl read of the same epoch).  Prints what is wrong; exit 1.
"""
import json
import sys


def kind(v):
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "number"
    return type(v).__name__


def require(skel, got, path, errors):
    if isinstance(skel, dict):
        if not isinstance(got, dict):
            errors.append("%s: an object expected, got %s" % (path, kind(got)))
            return
        for key, sub in skel.items():
            if key not in got:
                errors.append("%s/%s: missing" % (path, key))
            else:
                require(sub, got[key], path + "/" + key, errors)
    elif isinstance(skel, list):
        if not isinstance(got, list):
            errors.append("%s: an array expected, got %s" % (path, kind(got)))
            return
        for i, elem in enumerate(got):
            if skel:
                require(skel[0], elem, "%s[%d]" % (path, i), errors)
    elif kind(skel) != kind(got):
        errors.append("%s: a %s expected, got %s" % (path, kind(skel), kind(got)))


def lookup(doc, path):
    node = doc
    for key in path.split("/"):
        node = node[int(key)] if isinstance(node, list) else node[key]
    return node


def main():
    with open(sys.argv[1]) as f:
        doc = json.load(f)
    with open(sys.argv[2]) as f:
        skel = json.load(f)
    errors = []
    je, sk = doc["jemalloc"], skel["jemalloc"]
    for key in ("version", "config", "opt", "arenas", "stats", "stats.arenas"):
        if key not in je:
            errors.append("jemalloc/%s: missing" % key)
    require(sk["arenas"], je.get("arenas", {}), "jemalloc/arenas", errors)
    require(sk["stats"], je.get("stats", {}), "jemalloc/stats", errors)
    arena_skel = sk["stats.arenas"]["0"]
    arenas = je.get("stats.arenas", {})
    for name, arena in arenas.items():
        require(arena_skel, arena, "jemalloc/stats.arenas/" + name, errors)

    # The totals add up, as a dashboard summing jemalloc's figures expects.
    sizes = [b["size"] for b in je["arenas"]["bin"]]
    allocated = 0
    for name, arena in arenas.items():
        if not name.isdigit():
            continue
        allocated += arena["small"]["allocated"] + arena["large"]["allocated"]
        small = sum(b["curregs"] * s for b, s in zip(arena["bins"], sizes))
        if small != arena["small"]["allocated"]:
            errors.append("stats.arenas/%s: bins hold %d bytes, small.allocated %d"
                          % (name, small, arena["small"]["allocated"]))
    if allocated != je["stats"]["allocated"]:
        errors.append("the arenas hold %d bytes, stats.allocated %d"
                      % (allocated, je["stats"]["allocated"]))

    for arg in sys.argv[3:]:
        path, want = arg.split("=", 1)
        try:
            got = lookup(doc, path)
        except (KeyError, IndexError, ValueError):
            errors.append("%s: missing" % path)
            continue
        if str(got) != want:
            errors.append("%s: %s in the JSON, %s from mallctl" % (path, got, want))
    for e in errors[:40]:
        print(e)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
