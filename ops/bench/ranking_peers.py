#!/usr/bin/env python3
"""Top-N peers of Latent's ranking models, fitted and measured on exactly the given split files.

Usage:
    ranking_peers.py --protocol random --train train.csv --test test.csv [--which ...]
    ranking_peers.py --protocol held-out --train train.csv --fold-in fold-in.csv --test test.csv

Files are MovieLens CSV with the header ``userId,movieId,rating,timestamp`` (as ``latent split``
and ``latent experiment held-out-users --split-out`` write them). One JSON line per peer on
stdout: ``name, protocol, ndcg@10, recall@20, recall@50, ndcg@100, users, fit_seconds, params``.

Measures follow Latent's, so the figures sit in one table:

* ``random`` (as ``latent eval --ranking``): a test rating >= 4 of a user with training ratings is
  relevant; every movie the user rated in training is left out of their list; lists are drawn
  from the movies with training ratings; recall is hits / relevant; averages over users with a
  relevant movie.
* ``held-out`` (Liang, Krishnan, Hoffman and Jebara, "Variational autoencoders for collaborative
  filtering", 2018, as ``latent experiment held-out-users``): the users of fold-in.csv are new;
  each is scored from their fold-in rows only, those movies left out of the list; every
  test.csv row is relevant; recall@k is hits / min(k, relevant).

Peers: popularity (training rating counts); EASE (Steck, "Embarrassingly shallow autoencoders
for sparse data", 2019; lambda chosen on a validation split); PureSVD (Cremonesi, Koren and
Turrin 2010, scipy svds, 50 factors); implicit-feedback ALS (Hu, Koren and Volinsky 2008, the
``implicit`` package, its defaults, 2 threads); Mult-DAE (Liang et al. 2018) in numpy after the
authors' notebook: [I, 600, 200, 600, I], tanh, input dropout 0.5 on the L2-normalised bag,
multinomial log-likelihood, weight decay 0.01 / batch, Adam 1e-3, batches of 500, 200 epochs,
the epoch with the best validation NDCG@100 kept (measured every 5 epochs, not every epoch as
in the notebook, which would double its time; Latent's neural model also measures every 5). Only fitting is timed (model selection for EASE is reported
apart, as ``selection_seconds``).

Training input: ``random`` uses every training rating as an interaction (the bag of movies rated
3.5 or more for Mult-DAE, which the numpy study of issue 9 found better); ``held-out`` uses the
training users' ratings >= 3.5, as the paper does. Validation (EASE's lambda, Mult-DAE's epoch):
a seeded 10% of the training rows, ratings >= 4 relevant, NDCG@10 for EASE.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time


def _pin_threads_before_numpy() -> None:
    for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(variable, "2")


_pin_threads_before_numpy()

import numpy as np  # noqa: E402
import scipy.sparse as sp  # noqa: E402
from scipy.sparse.linalg import svds  # noqa: E402

LIKED = 3.5
RELEVANT = 4.0
DEPTH = 100


# --------------------------------------------------------------------------------------------
# Data

def read(path):
    data = np.genfromtxt(path, delimiter=",", skip_header=1, usecols=(0, 1, 2), dtype=np.float64)
    data = data.reshape(-1, 3)
    return data[:, 0].astype(np.int64), data[:, 1].astype(np.int64), data[:, 2].astype(np.float32)


class Catalogue:
    """Dense indices: the users and movies of the training rows."""

    def __init__(self, users, movies):
        self.user_ids = np.unique(users)
        self.movie_ids = np.unique(movies)
        self.user_index = {u: i for i, u in enumerate(self.user_ids)}
        self.movie_index = {m: i for i, m in enumerate(self.movie_ids)}

    @property
    def movies(self):
        return len(self.movie_ids)


def matrix(rows, cols, n_rows, n_cols, values=None):
    values = np.ones(len(rows), dtype=np.float32) if values is None else values
    m = sp.csr_matrix((values, (rows, cols)), shape=(n_rows, n_cols), dtype=np.float32)
    m.sum_duplicates()
    m.data[:] = np.minimum(m.data, 1)
    return m


# --------------------------------------------------------------------------------------------
# Measures

def list_metrics(top, relevant, liang):
    """top: DEPTH movie indices; relevant: set of movie indices (some maybe unreachable)."""
    n = len(relevant)
    hit = np.array([m in relevant for m in top], dtype=np.float64)
    gains = 1.0 / np.log2(np.arange(2, DEPTH + 2))
    out = {}
    for k in (10, 100):
        ideal = gains[:min(k, n)].sum()
        out[f"ndcg@{k}"] = float((hit[:k] * gains[:k]).sum() / ideal)
    for k in (20, 50):
        out[f"recall@{k}"] = float(hit[:k].sum() / (min(k, n) if liang else n))
    return out


def evaluate(score_block, users, exclude, relevant, liang):
    """Average metrics over `users` (rows of `exclude`, a CSR of movies to leave out);
    score_block(rows) gives dense scores for those rows."""
    sums, counted = {}, 0
    for start in range(0, len(users), 1000):
        rows = np.arange(start, min(start + 1000, len(users)))
        scores = np.array(score_block(rows), dtype=np.float64, copy=True)
        for i, r in enumerate(rows):
            scores[i, exclude.indices[exclude.indptr[r]:exclude.indptr[r + 1]]] = -np.inf
        order = np.argsort(-scores, axis=1, kind="stable")[:, :DEPTH]
        for i, r in enumerate(rows):
            if not relevant[r]:
                continue
            for key, value in list_metrics(order[i], relevant[r], liang).items():
                sums[key] = sums.get(key, 0.0) + value
            counted += 1
    return {key: value / max(counted, 1) for key, value in sums.items()} | {"users": counted}


# --------------------------------------------------------------------------------------------
# Peers: each returns a scorer `(input rows, their row numbers) -> dense scores`.

def fit_popularity(counts):
    return lambda inputs, rows: np.broadcast_to(counts, (inputs.shape[0], len(counts)))


def fit_ease(x, lam):
    gram = (x.T @ x).toarray().astype(np.float64)
    gram[np.diag_indices_from(gram)] += lam
    p = np.linalg.inv(gram)
    b = p / (-np.diag(p))
    b[np.diag_indices_from(b)] = 0
    b = b.astype(np.float32)
    return lambda inputs, rows: inputs @ b


def fit_puresvd(x, factors=50):
    _, _, vt = svds(x.astype(np.float64), k=min(factors, min(x.shape) - 1), random_state=1)
    v = vt.T.astype(np.float32)
    return lambda inputs, rows: (inputs @ v) @ v.T


def fit_ials(x, threads, known_users):
    """known_users: the inputs are the training rows themselves (use the trained user factors);
    otherwise each input row is a new user, solved against the item factors."""
    from threadpoolctl import threadpool_limits
    import implicit
    with threadpool_limits(1, "blas"):
        model = implicit.als.AlternatingLeastSquares(num_threads=threads, random_state=1)
        model.fit(x, show_progress=False)
    items = np.asarray(model.item_factors)

    def score(inputs, rows):
        if known_users:
            return np.asarray(model.user_factors)[rows] @ items.T
        with threadpool_limits(1, "blas"):
            users = model.recalculate_user(np.arange(inputs.shape[0]), sp.csr_matrix(inputs))
        return np.asarray(users) @ items.T
    return score, implicit.__version__


class MultDAE:
    """The Mult-DAE of Liang et al.'s notebook, forward and backward in numpy."""

    def __init__(self, items, seed=98765, dims=(600, 200, 600), lam=0.01 / 500, lr=1e-3, dropout=0.5):
        rng = np.random.default_rng(seed)
        sizes = [items, *dims, items]
        self.weights, self.biases = [], []
        for a, b in zip(sizes[:-1], sizes[1:]):
            limit = np.sqrt(6.0 / (a + b))
            self.weights.append(rng.uniform(-limit, limit, (a, b)).astype(np.float32))
            self.biases.append((rng.standard_normal(b) * 0.001).astype(np.float32))
        self.params = self.weights + self.biases
        self.m = [np.zeros_like(p) for p in self.params]
        self.v = [np.zeros_like(p) for p in self.params]
        self.t = 0
        self.lam, self.lr, self.dropout, self.rng = lam, lr, dropout, rng

    @staticmethod
    def normalise(x):
        norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1))).ravel()
        norms[norms == 0] = 1
        return sp.csr_matrix(sp.diags(1 / norms) @ x, dtype=np.float32)

    def forward(self, h0):
        acts = [h0]
        h = h0
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            z = h @ w + b
            h = np.tanh(z) if i < len(self.weights) - 1 else z
            acts.append(h)
        return acts

    def step(self, x):
        h0 = self.normalise(x)
        keep = (self.rng.random(h0.data.shape) >= self.dropout).astype(np.float32) / (1 - self.dropout)
        h0 = sp.csr_matrix((h0.data * keep, h0.indices, h0.indptr), shape=h0.shape)
        acts = self.forward(h0)
        logits = acts[-1]
        logits = logits - logits.max(axis=1, keepdims=True)
        soft = np.exp(logits)
        soft /= soft.sum(axis=1, keepdims=True)
        dense = x.toarray()
        batch = x.shape[0]
        grad = (soft * dense.sum(axis=1, keepdims=True) - dense) / batch
        grads_w, grads_b = [None] * len(self.weights), [None] * len(self.weights)
        for i in range(len(self.weights) - 1, -1, -1):
            a = acts[i]
            grads_w[i] = np.asarray(a.T @ grad) + 2 * self.lam * self.weights[i]
            grads_b[i] = grad.sum(axis=0)
            if i > 0:
                grad = (grad @ self.weights[i].T) * (1 - acts[i] ** 2)
        self.adam([np.asarray(g, dtype=np.float32) for g in grads_w + grads_b])

    def adam(self, grads, beta1=0.9, beta2=0.999, eps=1e-8):
        self.t += 1
        scale = self.lr * np.sqrt(1 - beta2 ** self.t) / (1 - beta1 ** self.t)
        for p, g, m, v in zip(self.params, grads, self.m, self.v):
            m *= beta1
            m += (1 - beta1) * g
            v *= beta2
            v += (1 - beta2) * g * g
            p -= scale * m / (np.sqrt(v) + eps)

    def scores(self, x, rows=None):
        return self.forward(self.normalise(sp.csr_matrix(x)))[-1]


def fit_multdae(x, validation, epochs, every=5, seed=98765, batch=500):
    """Trains on the bags `x`; `validation(model)`, every `every` epochs and after the last,
    gives the NDCG@100 that picks the epoch kept."""
    model = MultDAE(x.shape[1], seed=seed)
    rng = np.random.default_rng(seed)
    users = np.flatnonzero(np.diff(x.indptr) > 0)
    best, best_epoch, saved = -1.0, 0, None
    for epoch in range(1, epochs + 1):
        rng.shuffle(users)
        for start in range(0, len(users), batch):
            model.step(x[users[start:start + batch]])
        if epoch % every and epoch != epochs:
            continue
        score = validation(model)
        if score > best:
            best, best_epoch, saved = score, epoch, [p.copy() for p in model.params]
    for p, s in zip(model.params, saved):
        p[...] = s
    return model, best_epoch, best


# --------------------------------------------------------------------------------------------

def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--protocol", choices=["random", "held-out"], required=True)
    parser.add_argument("--train", required=True)
    parser.add_argument("--test", required=True)
    parser.add_argument("--fold-in")
    parser.add_argument("--which", default="popularity,ease,puresvd,ials,multdae")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--dae-epochs", type=int, default=200)
    parser.add_argument("--dae-validate-every", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    if args.protocol == "held-out" and not args.fold_in:
        parser.error("--protocol held-out needs --fold-in FILE")
    which = args.which.split(",")

    tu, tm, tr = read(args.train)
    cat = Catalogue(tu, tm)
    u = np.array([cat.user_index[x] for x in tu])
    m = np.array([cat.movie_index[x] for x in tm])
    n_users, n_movies = len(cat.user_ids), cat.movies
    counts = np.bincount(m, minlength=n_movies).astype(np.float64)
    liked_only = args.protocol == "held-out"
    keep = tr >= LIKED if liked_only else np.ones(len(tr), dtype=bool)
    x = matrix(u[keep], m[keep], n_users, n_movies)
    bags = matrix(u[tr >= LIKED], m[tr >= LIKED], n_users, n_movies)

    # Validation: a seeded tenth of the training rows.
    rng = np.random.default_rng(args.seed)
    val = rng.random(len(tr)) < 0.1
    x_fit = matrix(u[keep & ~val], m[keep & ~val], n_users, n_movies)
    bags_fit = matrix(u[(tr >= LIKED) & ~val], m[(tr >= LIKED) & ~val], n_users, n_movies)
    seen_fit = matrix(u[~val], m[~val], n_users, n_movies)
    val_relevant = [set() for _ in range(n_users)]
    for a, b, r in zip(u[val], m[val], tr[val]):
        if r >= RELEVANT:
            val_relevant[a].add(b)
    val_users = np.array([i for i in range(n_users) if val_relevant[i]])

    def validate(scorer, inputs, key):
        rows = inputs[val_users]
        result = evaluate(lambda r: scorer(rows[r], r), val_users, seen_fit[val_users],
                          [val_relevant[i] for i in val_users], liang=False)
        return result[key]

    # The users to measure, their inputs, what to leave out and what is relevant.
    eu, em, er = read(args.test)
    if args.protocol == "random":
        seen = matrix(u, m, n_users, n_movies)
        relevant = [set() for _ in range(n_users)]
        for a, b, r in zip(eu, em, er):
            if r >= RELEVANT and a in cat.user_index:
                # A movie without training ratings cannot be listed, yet still counts as relevant.
                relevant[cat.user_index[a]].add(cat.movie_index.get(b, -1 - int(b)))
        inputs, inputs_bags, exclude = x, bags, seen
    else:
        fu, fm, fr = read(args.fold_in)
        new_ids = np.unique(fu)
        new_index = {v: i for i, v in enumerate(new_ids)}
        known = np.array([b in cat.movie_index for b in fm])
        rows = np.array([new_index[a] for a in fu[known]])
        cols = np.array([cat.movie_index[b] for b in fm[known]])
        inputs = matrix(rows, cols, len(new_ids), n_movies)
        inputs_bags = matrix(rows[fr[known] >= LIKED], cols[fr[known] >= LIKED], len(new_ids), n_movies)
        exclude = inputs
        relevant = [set() for _ in new_ids]
        for a, b in zip(eu, em):
            if a in new_index:
                relevant[new_index[a]].add(cat.movie_index.get(b, -1 - int(b)))
    measured = np.arange(inputs.shape[0])
    liang = args.protocol == "held-out"

    def report(name, scorer, fit_seconds, use_bags=False, **extra):
        source = inputs_bags if use_bags else inputs
        result = evaluate(lambda r: scorer(source[r], r), measured, exclude, relevant, liang)
        line = {"name": name, "protocol": args.protocol, "fit_seconds": fit_seconds} | result | extra
        line["load_average"] = os.getloadavg()[0]
        print(json.dumps(line), flush=True)

    if "popularity" in which:
        started = time.perf_counter()
        scorer = fit_popularity(counts)
        report("popularity", scorer, time.perf_counter() - started)
    if "ease" in which:
        started = time.perf_counter()
        trials = {lam: validate(fit_ease(x_fit, lam), x_fit, "ndcg@10") for lam in (50, 100, 200, 400, 800, 1600, 3200)}
        lam = max(trials, key=trials.get)
        selection = time.perf_counter() - started
        started = time.perf_counter()
        scorer = fit_ease(x, lam)
        report("ease", scorer, time.perf_counter() - started, params={"lambda": lam},
               validation_ndcg10={str(k): round(v, 4) for k, v in trials.items()}, selection_seconds=selection)
    if "puresvd" in which:
        started = time.perf_counter()
        scorer = fit_puresvd(x)
        report("puresvd", scorer, time.perf_counter() - started, params={"factors": 50})
    if "ials" in which:
        started = time.perf_counter()
        scorer, version = fit_ials(x, args.threads, known_users=args.protocol == "random")
        report("implicit-als", scorer, time.perf_counter() - started,
               params={"factors": 100, "regularization": 0.01, "alpha": 1.0, "iterations": 15, "version": version})
    if "multdae" in which:
        started = time.perf_counter()
        model, epoch, best = fit_multdae(
            bags_fit, lambda net: validate(net.scores, bags_fit, "ndcg@100"), args.dae_epochs,
            every=args.dae_validate_every, seed=98765)
        report("mult-dae-numpy", model.scores, time.perf_counter() - started, use_bags=True,
               params={"epochs": args.dae_epochs, "validate_every": args.dae_validate_every, "best_epoch": epoch, "validation_ndcg100": round(best, 4)})
    return 0


if __name__ == "__main__":
    sys.exit(main())
