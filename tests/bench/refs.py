#!/usr/bin/python3
"""refs.py: the vector-search references of make bench.

The same vectors (read from the store's vector file) and the same
question vectors (qv.f32, written by the scan tool) through Debian's
faiss (python3-faiss: IndexFlatIP, one question at a time) and through
sqlite-vec (its vec0 virtual table, k nearest by L2, which ranks unit
vectors as the dot product does), each when it can be had.

usage: refs.py faiss|sqlitevec VECFILE QV.f32 EXACT.txt OUTDIR NQ [VEC0.so]

Prints key=value lines: milliseconds a question (p50, p95, p99), the
time to build the index, recall@10 against the exact top-10 rows of
EXACT.txt (a check that it answered the same questions), the peak RSS
of the process, or "<name>_skipped=why".  Needs numpy; without it the
reference is skipped.
"""
import os
import resource
import struct
import sys
import time


def pct(v, p):
    v = sorted(v)
    if not v:
        return 0.0
    i = max(0, min(len(v) - 1, int(p / 100.0 * len(v) + 0.999999) - 1))
    return v[i]


def rss_kib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def load(vecfile, qvfile, exactfile, nq):
    import numpy as np
    with open(vecfile, "rb") as f:
        h = f.read(256)
    magic, version, dim, count = struct.unpack_from("<8sIIQ", h, 0)
    rows_off = struct.unpack_from("<Q", h, 40)[0]
    if magic != b"RAGPVEC1" or version < 2:
        raise SystemExit("refs.py: %s: not a vector file of version 2 or later" %
                         vecfile)
    xb = np.memmap(vecfile, dtype="<f4", mode="r", offset=rows_off,
                   shape=(count, dim))
    q = np.fromfile(qvfile, dtype="<f4").reshape(-1, dim)[:nq]
    exact = [list(map(int, l.split())) for l in open(exactfile)][:nq]
    return np, xb, q, exact


def recall(got, exact):
    hit = sum(len(set(g) & set(e)) for g, e in zip(got, exact))
    return hit / float(sum(len(e) for e in exact) or 1)


def run_faiss(np, xb, q, exact):
    try:
        import faiss
    except ImportError as e:
        print("faiss_skipped=python3-faiss is not installed (%s); "
              "apt-get install python3-faiss" % e)
        return
    t0 = time.perf_counter()
    index = faiss.IndexFlatIP(xb.shape[1])
    index.add(np.ascontiguousarray(xb))
    build = time.perf_counter() - t0
    ms, got = [], []
    for i in range(len(q)):
        t0 = time.perf_counter()
        _, ids = index.search(q[i:i + 1], 10)
        ms.append((time.perf_counter() - t0) * 1e3)
        got.append(list(ids[0]))
    print("faiss_version=%s" % faiss.__version__)
    print("faiss_threads=%d" % faiss.omp_get_max_threads())
    print("faiss_build_s=%.3f" % build)
    print("faiss_p50=%.4f\nfaiss_p95=%.4f\nfaiss_p99=%.4f" %
          (pct(ms, 50), pct(ms, 95), pct(ms, 99)))
    print("faiss_recall10=%.4f" % recall(got, exact))
    print("faiss_rss_kib=%d" % rss_kib())
    del index


def run_sqlite_vec(np, xb, q, exact, outdir, so):
    import sqlite3
    if not so or not os.path.exists(so):
        print("sqlitevec_skipped=the sqlite-vec extension was not found "
              "(npm install --prefix build/bench sqlite-vec, or "
              "SQLITE_VEC=path/to/vec0.so)")
        return
    db = os.path.join(outdir, "sqlite-vec.db")
    for suffix in ("", "-wal", "-shm", "-journal"):
        if os.path.exists(db + suffix):
            os.unlink(db + suffix)
    c = sqlite3.connect(db)
    try:
        c.enable_load_extension(True)
        c.load_extension(os.path.splitext(so)[0])
    except (AttributeError, sqlite3.Error) as e:
        print("sqlitevec_skipped=cannot load %s: %s" % (so, e))
        return
    version = c.execute("SELECT vec_version()").fetchone()[0]
    dim = xb.shape[1]
    t0 = time.perf_counter()
    c.execute("CREATE VIRTUAL TABLE v USING vec0(embedding float[%d])" %
              dim)
    step = 10000
    for lo in range(0, xb.shape[0], step):
        block = np.ascontiguousarray(xb[lo:lo + step])
        c.executemany("INSERT INTO v(rowid, embedding) VALUES (?, ?)",
                      ((lo + i, block[i].tobytes())
                       for i in range(block.shape[0])))
    c.commit()
    build = time.perf_counter() - t0
    # The table is read once so that the timed searches find it cached.
    c.execute("SELECT rowid FROM v WHERE embedding MATCH ? AND k = 10",
              (q[0].tobytes(),)).fetchall()
    ms, got = [], []
    for i in range(len(q)):
        b = q[i].tobytes()
        t0 = time.perf_counter()
        rows = c.execute("SELECT rowid, distance FROM v WHERE embedding "
                         "MATCH ? AND k = 10 ORDER BY distance",
                         (b,)).fetchall()
        ms.append((time.perf_counter() - t0) * 1e3)
        got.append([r[0] for r in rows])
    print("sqlitevec_version=%s" % version)
    print("sqlitevec_build_s=%.3f" % build)
    print("sqlitevec_p50=%.4f\nsqlitevec_p95=%.4f\nsqlitevec_p99=%.4f" %
          (pct(ms, 50), pct(ms, 95), pct(ms, 99)))
    print("sqlitevec_recall10=%.4f" % recall(got, exact))
    print("sqlitevec_rss_kib=%d" % rss_kib())
    c.close()
    os.unlink(db)


def main():
    if len(sys.argv) not in (7, 8) or sys.argv[1] not in ("faiss",
                                                          "sqlitevec"):
        raise SystemExit(__doc__.split("\n\n")[2])
    mode = sys.argv[1]
    vecfile, qvfile, exactfile, outdir = sys.argv[2:6]
    nq = int(sys.argv[6])
    so = sys.argv[7] if len(sys.argv) == 8 else ""
    try:
        np, xb, q, exact = load(vecfile, qvfile, exactfile, nq)
    except ImportError as e:
        print("%s_skipped=numpy is not installed for %s (%s)" %
              (mode, sys.executable, e))
        return
    print("%s_questions=%d" % (mode, len(q)))
    if mode == "faiss":
        run_faiss(np, xb, q, exact)
    else:
        run_sqlite_vec(np, xb, q, exact, outdir, so)


if __name__ == "__main__":
    main()
