#!/usr/bin/env python3
"""gen.py: a reproducible corpus and questions for make bench.

Writes N document records ({"doc","title","text"}, one chunk each under
rag-ingest's default --chunk-size) to CORPUS and NQ questions to
QUESTIONS, one a line, from a fixed seed.

The text is made of words drawn Zipf-like (Zipf-Mandelbrot, s = 1.1)
from a vocabulary that begins with the words of the test collections
given (most frequent first; read at run time, never stored) and goes on
with made-up words, so that a large corpus has the long tail of rare
terms a real one has.  Each document belongs to one of many topics, and
a third of its words come from its topic's own words, so that searches
have something to find.  Questions come in three kinds:

  narrow  two to four of a topic's words and a common word or two;
  mixed   a topic word among common content words;
  broad   common content words only: an OR query over them matches
          most of the corpus (the BM25 leg's worst case).

Standard library only; the same seed, N and collections give the same
bytes on every machine.
"""
import argparse
import json
import os
import random
import re
import sys
from bisect import bisect
from itertools import accumulate

STOP = set("""a about above after again against all also am an and any are
as at be because been before being below between both but by can could did
do does doing done down during each either etc even ever every few for from
further had has have having he her here hers herself him himself his how
however i if in into is it its itself just may me might more most must my
myself no nor not now of off on once only or other ought our ours ourselves
out over own same shall she should so some such than that the their theirs
them themselves then there these they this those through thus to too under
until up upon us very was we were what when where whether which while who
whom whose why will with within without would yet you your yours yourself
yourselves""".split())

ONSETS = ["b", "c", "d", "f", "g", "h", "k", "l", "m", "n", "p", "r", "s",
          "t", "v", "z", "br", "ch", "cr", "dr", "fl", "gr", "pl", "pr",
          "sh", "st", "th", "tr"]
VOWELS = ["a", "e", "i", "o", "u", "ai", "ea", "io", "ou"]
CODAS = ["", "", "", "n", "r", "s", "l", "m", "nt", "st", "x"]


def real_vocabulary(data, sets):
    """The words of the collections, most frequent first."""
    counts = {}
    word = re.compile(r"[a-z]{2,}")
    for s in sets:
        path = os.path.join(data, s, "corpus.jsonl")
        with open(path, encoding="utf-8") as f:
            for line in f:
                r = json.loads(line)
                text = (r.get("title") or "") + " " + (r.get("text") or "")
                for w in word.findall(text.lower()):
                    counts[w] = counts.get(w, 0) + 1
    return sorted(counts, key=lambda w: (-counts[w], w))


def made_up(rng, n, taken):
    """N new pronounceable words, none in TAKEN."""
    out = []
    while len(out) < n:
        w = "".join(rng.choice(ONSETS) + rng.choice(VOWELS)
                    for _ in range(rng.randint(2, 4))) + rng.choice(CODAS)
        if w not in taken:
            taken.add(w)
            out.append(w)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=100000)
    ap.add_argument("--questions", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=20240601)
    ap.add_argument("--data", default="../shared/data")
    ap.add_argument("--sets", default="cranfield,cisi")
    ap.add_argument("corpus")
    ap.add_argument("qfile")
    a = ap.parse_args()

    rng = random.Random(a.seed)
    real = real_vocabulary(a.data, a.sets.split(","))
    if len(real) < 1000:
        sys.exit("gen.py: %s: too few words in %s" % (a.data, a.sets))
    size = max(50000, a.n // 2)
    vocab = real + made_up(rng, max(0, size - len(real)), set(real))
    cum = list(accumulate(1.0 / (r + 2.7) ** 1.1
                          for r in range(1, len(vocab) + 1)))
    total = cum[-1]
    content = [w for w in real[:400] if w not in STOP and len(w) > 3]

    # Topics: words of the middle and the tail of the vocabulary.
    ntopics = max(100, a.n // 250)
    topics = []
    for _ in range(ntopics):
        words = [vocab[min(int(len(vocab) ** rng.random()) + 150,
                              len(vocab) - 1)]
                 if rng.random() < 0.7 else
                 vocab[rng.randrange(300, min(len(real), 8000))]
                 for _ in range(40)]
        topics.append(list(dict.fromkeys(words)))
    tcum = list(accumulate(1.0 / (r + 1) ** 0.5 for r in range(40)))

    def background(k):
        return [vocab[bisect(cum, rng.random() * total)] for _ in range(k)]

    def topical(t, k):
        tw = topics[t]
        hi = tcum[len(tw) - 1]
        return [tw[bisect(tcum, rng.random() * hi, 0, len(tw) - 1)]
                for _ in range(k)]

    with open(a.corpus, "w", encoding="utf-8") as out:
        for i in range(a.n):
            t = rng.randrange(ntopics)
            title = " ".join(topical(t, rng.randint(2, 4)) +
                             background(rng.randint(1, 3)))
            sents, left = [], rng.randint(70, 110)
            while left > 0:
                k = min(left, rng.randint(8, 22))
                left -= k
                w = [topical(t, 1)[0] if rng.random() < 0.25 else
                     background(1)[0] for _ in range(k)]
                w[0] = w[0].capitalize()
                sents.append(" ".join(w) + ".")
            out.write('{"doc":"bench/%07d.txt","title":"%s","text":"%s"}\n'
                      % (i, title.capitalize(), " ".join(sents)))

    with open(a.qfile, "w", encoding="utf-8") as out:
        for i in range(a.questions):
            kind = i % 10
            if kind < 6:            # narrow
                t = rng.randrange(ntopics)
                w = topical(t, rng.randint(2, 4)) + \
                    rng.sample(content, rng.randint(0, 2))
            elif kind < 8:          # mixed
                t = rng.randrange(ntopics)
                w = topical(t, 1) + rng.sample(content, rng.randint(2, 4))
            else:                   # broad
                w = rng.sample(content[:60], rng.randint(3, 6))
            rng.shuffle(w)
            lead = rng.choice(["what is the", "how does the", "which",
                               "results on", "effect of", ""])
            out.write((lead + " " + " ".join(dict.fromkeys(w))).strip()
                      + "\n")


if __name__ == "__main__":
    main()
