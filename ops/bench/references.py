#!/usr/bin/env python3
"""Fit the reference recommenders Latent is measured against, on exactly the given rows.

Usage:
    references.py --train train.csv --test test.csv --k 10 --iterations 15 \
        [--threads 2] [--which cmfrec,surprise,spark]

Input files are MovieLens-style CSV with the header ``userId,movieId,rating,timestamp``
(extra columns are ignored). For each reference one JSON line is printed on stdout:

    {"name", "k", "iterations", "fit_seconds", "seconds_per_iteration", "rmse", "mae",
     "n_test", "n_unknown", "params", ...}

Only the model's fit is timed: reading the CSV, encoding ids and scoring the test rows are
not. Scoring is the same for every reference so the RMSEs are comparable:

* every test row is scored, none is dropped (``n_test`` is the number of test rows);
* a row whose user or movie is absent from the training rows gets the training global mean
  (``n_unknown`` counts them);
* predictions are clipped to the training rating range (Latent clips too, seed 000 §3.5;
  Surprise clips by default). ``--no-clip`` turns this off.

A reference that fails (missing package, JVM trouble) prints a line with an ``"error"`` key
instead of crashing the run; the exit status is non-zero if any reference failed.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
import traceback


def _pin_threads_before_numpy() -> None:
    # BLAS thread pools size themselves when numpy is first imported, so --threads has to
    # reach the environment before that import.
    threads = "2"
    for index, argument in enumerate(sys.argv):
        if argument == "--threads" and index + 1 < len(sys.argv):
            threads = sys.argv[index + 1]
        elif argument.startswith("--threads="):
            threads = argument.split("=", 1)[1]
    for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(variable, threads)


_pin_threads_before_numpy()

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402


# --------------------------------------------------------------------------------------------
# Data


class Split:
    """Train and test rows with dense integer codes for users and movies.

    Codes are assigned from the training rows; a test user or movie unseen in training gets
    code -1.
    """

    def __init__(self, train_path: str, test_path: str):
        self.train_path = train_path
        self.test_path = test_path
        columns = ["userId", "movieId", "rating"]
        dtypes = {"userId": np.int64, "movieId": np.int64, "rating": np.float64}
        self.train = pd.read_csv(train_path, usecols=columns, dtype=dtypes)
        self.test = pd.read_csv(test_path, usecols=columns, dtype=dtypes)
        if len(self.train) == 0:
            raise SystemExit(f"error: {train_path} has no rating rows")
        if len(self.test) == 0:
            raise SystemExit(f"error: {test_path} has no rating rows")
        for name, frame in (("train", self.train), ("test", self.test)):
            if frame["rating"].isna().any():
                raise SystemExit(f"error: the {name} file has an empty or non-numeric rating")

        self.user_codes, self.user_ids = pd.factorize(self.train["userId"], sort=True)
        self.movie_codes, self.movie_ids = pd.factorize(self.train["movieId"], sort=True)
        self.user_codes = self.user_codes.astype(np.int32)
        self.movie_codes = self.movie_codes.astype(np.int32)
        self.ratings = self.train["rating"].to_numpy(dtype=np.float64)

        self.test_users = self.user_ids.get_indexer(self.test["userId"]).astype(np.int32)
        self.test_movies = self.movie_ids.get_indexer(self.test["movieId"]).astype(np.int32)
        self.test_ratings = self.test["rating"].to_numpy(dtype=np.float64)
        self.known = (self.test_users >= 0) & (self.test_movies >= 0)

        self.global_mean = float(self.ratings.mean())
        self.rating_min = float(self.ratings.min())
        self.rating_max = float(self.ratings.max())

    @property
    def n_users(self) -> int:
        return len(self.user_ids)

    @property
    def n_movies(self) -> int:
        return len(self.movie_ids)


def score(split: Split, known_predictions: np.ndarray, clip: bool) -> dict:
    """RMSE and MAE over every test row; ``known_predictions`` covers the rows in ``split.known``."""
    predictions = np.full(len(split.test_ratings), split.global_mean, dtype=np.float64)
    predictions[split.known] = known_predictions
    # A reference that returns NaN for a known pair (it should not) falls back to the mean
    # rather than poisoning the metric; counted so it shows in the output.
    nan_mask = ~np.isfinite(predictions)
    predictions[nan_mask] = split.global_mean
    if clip:
        np.clip(predictions, split.rating_min, split.rating_max, out=predictions)
    errors = predictions - split.test_ratings
    return {
        "rmse": float(math.sqrt(np.mean(errors * errors))),
        "mae": float(np.mean(np.abs(errors))),
        "n_test": int(len(errors)),
        "n_unknown": int((~split.known).sum()),
        "n_nan_predictions": int(nan_mask.sum()),
    }


# --------------------------------------------------------------------------------------------
# References


def run_cmfrec(split: Split, args) -> dict:
    """cmfrec CMF: ALS with user and item biases, every factor update an exact Cholesky solve.

    With several ``--cmfrec-lambda`` values, each is fitted on 90 % of the training rows and
    scored on the other 10 % (never on the test rows); the winner is then fitted, timed, on all
    training rows. cmfrec's lambda is unscaled, so its best value moves with the data set.
    """
    from scipy.sparse import coo_matrix
    import cmfrec

    def make(lambda_: float) -> tuple[dict, "cmfrec.CMF"]:
        params = dict(
            k=args.k,
            lambda_=lambda_,
            method="als",
            use_cg=False,
            finalize_chol=True,
            user_bias=True,
            item_bias=True,
            center=True,
            niter=args.iterations,
            nthreads=args.threads,
            use_float=not args.cmfrec_float64,
            # Not needed for scoring known pairs; leaving it on would add work to fit().
            precompute_for_predictions=False,
            random_state=args.seed,
            verbose=False,
        )
        return params, cmfrec.CMF(**params)

    def matrix(rows) -> "coo_matrix":
        return coo_matrix(
            (split.ratings[rows], (split.user_codes[rows], split.movie_codes[rows])),
            shape=(split.n_users, split.n_movies),
        )

    tuning = {}
    lambdas = args.cmfrec_lambdas
    if len(lambdas) > 1:
        held = np.random.default_rng(args.seed).random(len(split.ratings)) < 0.1
        fit_rows, held_rows = np.flatnonzero(~held), np.flatnonzero(held)

        def validation_rmse(lambda_: float) -> float:
            if str(lambda_) not in tuning:
                _, model = make(lambda_)
                model.fit(matrix(fit_rows))
                guess = np.asarray(
                    model.predict(split.user_codes[held_rows], split.movie_codes[held_rows]),
                    dtype=np.float64,
                )
                guess = np.where(np.isfinite(guess), guess, split.global_mean)
                if args.clip:
                    np.clip(guess, split.rating_min, split.rating_max, out=guess)
                tuning[str(lambda_)] = float(np.sqrt(np.mean((guess - split.ratings[held_rows]) ** 2)))
            return tuning[str(lambda_)]

        lambdas = sorted(lambdas)
        best = min(lambdas, key=validation_rmse)
        # A winner at the edge of the grid means the optimum may lie beyond it: keep doubling
        # (or halving) while that helps, a few steps at most.
        for _ in range(3):
            if best == max(lambdas):
                candidate = best * 2
            elif best == min(lambdas):
                candidate = best / 2
            else:
                break
            lambdas.append(candidate)
            lambdas.sort()
            if validation_rmse(candidate) >= validation_rmse(best):
                break
            best = candidate
    else:
        best = lambdas[0]

    params, model = make(best)
    full = matrix(slice(None))
    start = time.perf_counter()
    model.fit(full)
    fit_seconds = time.perf_counter() - start

    known = split.known
    predictions = model.predict(split.test_users[known], split.test_movies[known])
    result = {"fit_seconds": fit_seconds, "params": _jsonable(params)}
    if tuning:
        result["lambda_validation_rmse"] = tuning
    result.update(score(split, np.asarray(predictions, dtype=np.float64), args.clip))
    result["version"] = _version("cmfrec")
    return result


def run_surprise(split: Split, args) -> dict:
    """scikit-surprise SVD (biased MF by plain SGD), its defaults apart from k and epochs."""
    from surprise import SVD, Dataset, Reader

    reader = Reader(rating_scale=(split.rating_min, split.rating_max))
    frame = pd.DataFrame(
        {"user": split.user_codes, "item": split.movie_codes, "rating": split.ratings}
    )
    trainset = Dataset.load_from_df(frame, reader).build_full_trainset()
    params = dict(n_factors=args.k, n_epochs=args.iterations, random_state=args.seed)
    model = SVD(**params)
    start = time.perf_counter()
    model.fit(trainset)
    fit_seconds = time.perf_counter() - start

    # Vectorised form of SVD.estimate for pairs whose user and item are both known
    # (identical arithmetic to Surprise's per-row predict, without the Python loop).
    user_inner = np.array([trainset.to_inner_uid(u) for u in range(split.n_users)], dtype=np.int64)
    item_inner = np.array([trainset.to_inner_iid(i) for i in range(split.n_movies)], dtype=np.int64)
    known = split.known
    users = user_inner[split.test_users[known]]
    items = item_inner[split.test_movies[known]]
    predictions = (
        trainset.global_mean
        + model.bu[users]
        + model.bi[items]
        + np.einsum("ij,ij->i", model.pu[users], model.qi[items])
    )
    result = {"fit_seconds": fit_seconds, "params": _jsonable(params), "threads_used": 1}
    result.update(score(split, predictions, args.clip))
    result["version"] = _version("scikit-surprise")
    return result


def run_spark(split: Split, args) -> dict:
    """Spark MLlib ALS (no biases; regParam scaled by each row's rating count, ALS-WR style)."""
    from pyspark.sql import SparkSession
    from pyspark.sql import types as T
    from pyspark.ml.recommendation import ALS

    # Keep the driver on loopback: the machine's other interfaces are none of Spark's business.
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    spark = (
        SparkSession.builder.master(f"local[{args.threads}]")
        .appName("latent-bench")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.driver.memory", args.spark_driver_memory)
        .config("spark.sql.shuffle.partitions", str(max(2, args.threads * 2)))
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.execution.arrow.pyspark.enabled", "false")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    try:
        # Spark gets the same dense codes as the other references (ALS needs int ids).
        schema = T.StructType(
            [
                T.StructField("user", T.IntegerType(), False),
                T.StructField("item", T.IntegerType(), False),
                T.StructField("rating", T.FloatType(), False),
            ]
        )
        rows = list(
            zip(split.user_codes.tolist(), split.movie_codes.tolist(), split.ratings.tolist())
        )
        slices = max(2, args.threads * 2)
        train_df = spark.createDataFrame(spark.sparkContext.parallelize(rows, slices), schema)
        train_df = train_df.cache()
        train_df.count()  # materialise outside the timed region
        del rows

        params = dict(
            rank=args.k,
            maxIter=args.iterations,
            regParam=args.spark_reg,
            userCol="user",
            itemCol="item",
            ratingCol="rating",
            coldStartStrategy="nan",
            nonnegative=False,
            implicitPrefs=False,
            seed=args.seed,
        )
        if args.spark_warmup:
            # One untimed single-iteration fit so the timed fit measures ALS, not JIT warm-up
            # and Spark's first-job start-up.
            ALS(**{**params, "maxIter": 1}).fit(train_df)
        als = ALS(**params)
        start = time.perf_counter()
        model = als.fit(train_df)  # ALS.fit materialises both factor sets before returning
        fit_seconds = time.perf_counter() - start

        known = split.known
        test_rows = list(
            zip(
                range(int(known.sum())),
                split.test_users[known].tolist(),
                split.test_movies[known].tolist(),
            )
        )
        test_schema = T.StructType(
            [
                T.StructField("row", T.IntegerType(), False),
                T.StructField("user", T.IntegerType(), False),
                T.StructField("item", T.IntegerType(), False),
            ]
        )
        test_df = spark.createDataFrame(
            spark.sparkContext.parallelize(test_rows, slices), test_schema
        )
        scored = model.transform(test_df).select("row", "prediction").collect()
        predictions = np.full(len(test_rows), np.nan, dtype=np.float64)
        for row in scored:
            value = row["prediction"]
            predictions[row["row"]] = np.nan if value is None else float(value)
        result = {"fit_seconds": fit_seconds, "params": _jsonable(params)}
        result.update(score(split, predictions, args.clip))
        result["version"] = _version("pyspark")
        result["driver_memory"] = args.spark_driver_memory
        return result
    finally:
        spark.stop()


REFERENCES = {"cmfrec": run_cmfrec, "surprise": run_surprise, "spark": run_spark}


# --------------------------------------------------------------------------------------------
# Helpers


def _version(distribution: str) -> str | None:
    try:
        from importlib.metadata import version

        return version(distribution)
    except Exception:
        return None


def _jsonable(params: dict) -> dict:
    return {key: (value if isinstance(value, (int, float, str, bool)) or value is None else str(value))
            for key, value in params.items()}


def parse_arguments(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--train", required=True, help="training ratings CSV")
    parser.add_argument("--test", required=True, help="test ratings CSV")
    parser.add_argument("--k", type=int, required=True, help="number of latent factors")
    parser.add_argument("--iterations", type=int, required=True,
                        help="ALS iterations (cmfrec, Spark) and SGD epochs (Surprise)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--which", default="cmfrec,surprise,spark",
                        help="comma-separated subset of: " + ",".join(REFERENCES))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--cmfrec-lambda", default="10",
                        help="cmfrec lambda_ (unscaled L2 on biases and factors; cmfrec's default 10), "
                             "or a comma-separated list to pick from on a validation split of the training rows")
    parser.add_argument("--cmfrec-float64", action="store_true",
                        help="fit cmfrec in float64 (default: float32, cmfrec's own default and Latent's precision)")
    parser.add_argument("--spark-reg", type=float, default=0.1,
                        help="Spark ALS regParam (scaled per row by its rating count)")
    parser.add_argument("--spark-driver-memory", default="8g")
    parser.add_argument("--no-spark-warmup", dest="spark_warmup", action="store_false",
                        help="skip the untimed 1-iteration Spark fit that precedes the timed one")
    parser.add_argument("--no-clip", dest="clip", action="store_false",
                        help="do not clip predictions to the training rating range")
    parser.add_argument("--label", default=None, help="free text copied into every output line")
    args = parser.parse_args(argv)
    if args.k <= 0:
        parser.error("--k must be positive")
    if args.iterations <= 0:
        parser.error("--iterations must be positive")
    if args.threads <= 0:
        parser.error("--threads must be positive")
    try:
        args.cmfrec_lambdas = [float(v) for v in args.cmfrec_lambda.split(",") if v.strip()]
    except ValueError:
        parser.error(f"--cmfrec-lambda: '{args.cmfrec_lambda}' is not a number or a comma-separated list of numbers")
    if not args.cmfrec_lambdas or any(v <= 0 or not math.isfinite(v) for v in args.cmfrec_lambdas):
        parser.error("--cmfrec-lambda values must be positive numbers")
    names = [name.strip() for name in args.which.split(",") if name.strip()]
    unknown = [name for name in names if name not in REFERENCES]
    if unknown or not names:
        parser.error(f"--which: unknown reference(s) {unknown}; choose from {sorted(REFERENCES)}")
    args.names = names
    return args


def main(argv=None) -> int:
    args = parse_arguments(argv)
    split = Split(args.train, args.test)
    failures = 0
    for name in args.names:
        line = {"name": name, "k": args.k, "iterations": args.iterations,
                "threads": args.threads, "n_train": int(len(split.ratings)),
                "load_average": os.getloadavg()[0]}
        if args.label is not None:
            line["label"] = args.label
        try:
            result = REFERENCES[name](split, args)
            line.update(result)
            line["seconds_per_iteration"] = result["fit_seconds"] / args.iterations
        except Exception as error:  # report and carry on with the other references
            failures += 1
            line["error"] = f"{type(error).__name__}: {error}"
            traceback.print_exc(file=sys.stderr)
        print(json.dumps(line), flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
