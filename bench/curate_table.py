#!/usr/bin/python3
"""bench/curate_table.py: the confusion tables of `curate --explain` over the labelled corpus.

usage: curate --explain CLIPS... | curate_table.py INDEX.tsv

INDEX.tsv (from bench/curate_corpus.py) gives each music excerpt's genre; clips it does not
list are labelled by their file name (junk-KIND[-N].npy: junk of KIND; repair-dc: music with a
DC offset, to be repaired and kept). Prints, per label, how many clips were kept and the first
reason of the rest; then, per rule, on how many clips of each label it holds (a clip can fail
several); then the verdict: music kept >= 97%, each kind of junk rejected >= 95%."""
import collections, sys

genre = {}
for line in open(sys.argv[1]).read().splitlines()[1:]:
    f, k, label, g = line.split("\t")[:4]
    if label == "music":
        genre[(f, int(k))] = g


def label_of(name):
    path, k = name.rsplit("#", 1)
    f = path.rsplit("/", 1)[-1]
    if (f, int(k)) in genre and f.startswith("music-"):
        return "music", "music-" + genre[(f, int(k))]
    if f.startswith("repair-dc"):
        return "music", "music+dc"
    kind = f[len("junk-"):-len(".npy")] if f.startswith("junk-") else f
    if kind.startswith("qtrain"):
        kind = "qtrain"
    return "junk", "junk-" + kind


verdicts = collections.defaultdict(collections.Counter)   # label -> first reason -> clips
holds = collections.defaultdict(collections.Counter)      # rule -> label -> clips
tests = collections.defaultdict(lambda: collections.defaultdict(list))
kind = {}
name = None
for line in sys.stdin:
    if not line.startswith(" "):
        if ": rejected: " in line:
            name, why = line.rstrip("\n").split(": rejected: ")
            first = why.split(", ")[0]
        else:
            name, first = line.rstrip("\n").rsplit(": ", 1)
        kind[name] = label_of(name)
        verdicts[kind[name][1]][first] += 1
    elif not line.startswith("  ("):
        rule, score, value = line.split()[:3]
        tests[name][rule].append(line.rstrip().endswith("holds"))
for name, rules in tests.items():
    for rule, h in rules.items():
        if all(h):
            holds[rule][kind[name][1]] += 1

reasons = ["silence", "short", "clipping", "clicks", "noise", "loop"]
labels = sorted(verdicts, key=lambda l: (not l.startswith("music"), l))
print("%-18s %6s %7s  %s" % ("label", "clips", "right", "  ".join("%8s" % r for r in ["kept"] + reasons)))
bad = []
for group in ("music", "junk"):
    for l in [l for l in labels if l.startswith(group)]:
        c = verdicts[l]
        n = sum(c.values())
        right = c["kept"] if group == "music" else n - c["kept"]
        print("%-18s %6d %6.1f%%  %s" % (l, n, 100 * right / n, "  ".join("%8d" % c[r] for r in ["kept"] + reasons)))
        if group == "junk" and right < 0.95 * n:
            bad.append("%s rejected %.1f%% < 95%%" % (l, 100 * right / n))
    if group == "music":
        n = sum(sum(verdicts[l].values()) for l in labels if l.startswith("music"))
        kept = sum(verdicts[l]["kept"] for l in labels if l.startswith("music"))
        print("%-18s %6d %6.1f%%" % ("music, all", n, 100 * kept / n))
        if kept < 0.97 * n:
            bad.append("music kept %.1f%% < 97%%" % (100 * kept / n))
print()
print("per rule: clips on which it holds (a clip may fail several rules)")
print("%-18s %s" % ("label", "  ".join("%8s" % r for r in reasons)))
for l in labels:
    print("%-18s %s" % (l, "  ".join("%8d" % holds[r][l] for r in reasons)))
print()
print("verdict: " + ("; ".join(bad) if bad else "music kept >= 97%, every kind of junk rejected >= 95%"))
