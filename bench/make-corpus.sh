#!/usr/bin/env bash
#
# Copied unchanged (apart from this note) from the benchmark corpus script the
# project's developers share outside this repository, so that a clone rebuilds
# the corpus on its own, reading nothing outside it. bench/run.ts calls it when
# the corpus is absent.
# Needs bash, openssl, sha256sum and python3.
#
# Regenerates the synthetic zsync benchmark corpus deterministically.
#
#   make-corpus.sh [SIZE_MIB] [SEED] [NAME]     synthetic pair
#
# Synthetic: writes ${ZBENCH_DIR:-${TMPDIR:-/tmp}/zbench}/NAME/old.bin
# (SIZE_MIB MiB of pseudo-random bytes: AES-256-CTR keystream, key =
# sha256("zbench-SEED")) and NAME/new.bin = old with ~1% of its bytes edited
# in scattered places: a seeded mix of inserts, deletes and overwrites
# (1..4096 bytes each), so offsets shift. NAME/corpus.txt records the edit
# summary and the sha256 of both files; the same SIZE/SEED gives the same
# bytes on any machine. Defaults: 256 MiB, seed 1, NAME=syn<SIZE>.
# Typical: make-corpus.sh 256; make-corpus.sh 1024
set -euo pipefail
OUTROOT=${ZBENCH_DIR:-${TMPDIR:-/tmp}/zbench}


SIZE_MIB=${1:-256}
SEED=${2:-1}
NAME=${3:-syn$SIZE_MIB}
OUT="$OUTROOT/$NAME"
mkdir -p "$OUT"
OLD="$OUT/old.bin"
NEW="$OUT/new.bin"

KEY=$(printf 'zbench-%s' "$SEED" | sha256sum | cut -c1-64)
IV=00000000000000000000000000000000
head -c $((SIZE_MIB * 1048576)) < <(openssl enc -aes-256-ctr -nosalt -K "$KEY" -iv "$IV" -in /dev/zero 2>/dev/null) > "$OLD"

python3 - "$OLD" "$NEW" "$SEED" > "$OUT/corpus.txt" <<'PY'
import os, random, sys
old_path, new_path, seed = sys.argv[1], sys.argv[2], int(sys.argv[3])
size = os.path.getsize(old_path)
rng = random.Random(seed)
target = size // 100            # ~1% of the bytes touched
n_edits = max(1, target // 2048)  # mean edit length ~2 KiB
# non-overlapping edit positions, sorted
slots = size // n_edits
edits = []
for k in range(n_edits):
    base = k * slots
    pos = base + rng.randrange(0, max(1, slots - 4096))
    kind = rng.choice(("insert", "delete", "overwrite"))
    length = rng.randint(1, 4096)
    edits.append((pos, kind, length))
stats = {"insert": [0, 0], "delete": [0, 0], "overwrite": [0, 0]}
with open(old_path, "rb") as src, open(new_path, "wb") as dst:
    cur = 0
    for pos, kind, length in edits:
        remaining = pos - cur
        while remaining:
            chunk = src.read(min(remaining, 1 << 20))
            dst.write(chunk)
            remaining -= len(chunk)
        cur = pos
        if kind == "insert":
            dst.write(rng.randbytes(length))
        elif kind == "delete":
            src.seek(length, 1); cur += length
        else:
            dst.write(rng.randbytes(length)); src.seek(length, 1); cur += length
        stats[kind][0] += 1; stats[kind][1] += length
    while True:
        chunk = src.read(1 << 20)
        if not chunk:
            break
        dst.write(chunk)
touched = sum(v[1] for v in stats.values())
print(f"old_size {size}")
print(f"new_size {os.path.getsize(new_path)}")
print(f"seed {seed}")
print(f"edits {n_edits} (touched bytes {touched} = {100*touched/size:.2f}% of old)")
for k, (n, b) in stats.items():
    print(f"  {k:9s} {n:6d} edits {b:10d} bytes")
PY
( cd "$OUT" && sha256sum old.bin new.bin ) >> "$OUT/corpus.txt"
cat "$OUT/corpus.txt"
