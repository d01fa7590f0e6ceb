#!/usr/bin/env python3
"""The shards of a few source ids, computed independently of ferrum (pure Python), for the partition test in
tests/test_ferrum_rrl_cli.cpp: shard = splitmix64(source_id as uint64) mod N; a non-integer id goes through
FNV-1a 64 first (include/ferrum/core/shards.hpp). Prints the CHECK lines the test holds."""
M = (1 << 64) - 1


def splitmix64(x):
    x = (x + 0x9E3779B97F4A7C15) & M
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & M
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & M
    return x ^ (x >> 31)


def fnv1a(s):
    h = 0xCBF29CE484222325
    for c in s.encode():
        h = ((h ^ c) * 0x100000001B3) & M
    return h


ids = [1, 4295806720, 5937173300407375616, 1000000000000000003, -1]
names = ["CSS_J154124.2-002225", "V1"]
counts = (2, 3, 4, 7)
for i in ids:
    lit = f"std::int64_t({i})"
    print(f"CHECK(shard_lists({lit}) == std::vector<std::size_t>{{{', '.join(str(splitmix64(i & M) % n) for n in counts)}}});")
for s in names:
    print(f'CHECK(shard_lists(std::string("{s}")) == std::vector<std::size_t>{{{", ".join(str(splitmix64(fnv1a(s)) % n) for n in counts)}}});')
