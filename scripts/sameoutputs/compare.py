#!/usr/bin/env python3
"""compare.py A B: the output files of two run.sh trees, equal byte for byte once the
attempt ids (16 hex digits), run ids and ETags (which hash inode numbers of local inputs)
are masked. Binary files (Parquet) are compared raw. Files under _strata/ (fits, shard
records: Strata's own bookkeeping, read only by the same version) are reported but do not
fail the comparison; every published file does."""
import os, re, sys
HEX = re.compile(rb'[0-9a-f]{16}')
RUN = re.compile(rb'\d{8}T\d{6}Z-[0-9a-f]{8}')
ETAG = re.compile(rb'"(etag|ETag)":\s*"[^"]*"')
def tree(root):
    out = {}
    for d, _, fs in os.walk(root):
        for f in fs:
            p = os.path.join(d, f)
            out[HEX.sub(b'X', os.path.relpath(p, root).encode()).decode()] = p
    return out
def norm(path):
    b = open(path, 'rb').read()
    if path.endswith('.parquet'):
        return b
    return ETAG.sub(b'ETAG', RUN.sub(b'RUN', HEX.sub(b'X', b)))
a, b = tree(sys.argv[1]), tree(sys.argv[2])
bad = sorted(set(a) ^ set(b))
for k in sorted(set(a) & set(b)):
    if norm(a[k]) != norm(b[k]):
        bad.append(k)
internal = [k for k in bad if '/_strata/' in '/' + k]
published = [k for k in bad if k not in internal]
for k in internal: print('differs (internal)', k)
for k in published: print('DIFFERS', k)
print(f'{len(set(a)&set(b))} files compared: {len(published)} published files differ, {len(internal)} internal')
sys.exit(1 if published else 0)
