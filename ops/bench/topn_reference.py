"""References for ops/bench/publish, measured in the same run as Latent:

- Spark MLlib: ALS fitted on the same ratings at the same rank, then the timed part,
  `recommendForAllUsers(N)` materialised (what a Spark shop would run nightly).
- The sgemm bound: float32 sgemm throughput of this machine (numpy + OpenBLAS, 2 threads) on
  the users x movies x k product, so top-N time can be stated as a multiple of the arithmetic
  it cannot avoid.

Prints one JSON object.
"""
import argparse
import json
import os
import time


def sgemm_rate(users: int, movies: int, k: int) -> float:
    import numpy as np
    rng = np.random.default_rng(1)
    rows = min(users, 4096)
    a = rng.standard_normal((rows, k), dtype=np.float32)
    b = rng.standard_normal((movies, k), dtype=np.float32)
    a @ b.T  # warm-up
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        a @ b.T
        best = min(best, time.perf_counter() - started)
    return 2.0 * rows * movies * k / best


def spark_topn(ratings_csv: str, k: int, count: int, iterations: int) -> dict:
    from pyspark.sql import SparkSession
    from pyspark.ml.recommendation import ALS
    spark = (SparkSession.builder.master("local[2]").appName("latent-topn-reference")
             .config("spark.driver.memory", "6g").config("spark.ui.enabled", "false")
             .config("spark.sql.shuffle.partitions", "8").getOrCreate())
    spark.sparkContext.setLogLevel("ERROR")
    frame = spark.read.csv(ratings_csv, header=True, inferSchema=True)
    frame = frame.selectExpr("cast(userId as int) as user", "cast(movieId as int) as item", "cast(rating as float) as rating").cache()
    frame.count()
    model = ALS(rank=k, maxIter=iterations, regParam=0.05, userCol="user", itemCol="item", ratingCol="rating",
                coldStartStrategy="drop", seed=1).fit(frame)
    model.userFactors.count()
    model.recommendForAllUsers(count).limit(10).count()  # warm-up of the code paths, untimed
    started = time.perf_counter()
    rows = model.recommendForAllUsers(count).selectExpr("explode(recommendations)").count()
    seconds = time.perf_counter() - started
    spark.stop()
    return {"spark_topn_seconds": seconds, "spark_rows": rows}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ratings", required=True)
    parser.add_argument("--users", type=int, required=True)
    parser.add_argument("--movies", type=int, required=True)
    parser.add_argument("--k", type=int, required=True)
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--iterations", type=int, default=5)
    parser.add_argument("--skip-spark", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "2")
    out = {"sgemm_flops_per_second": sgemm_rate(args.users, args.movies, args.k)}
    if not args.skip_spark:
        out.update(spark_topn(args.ratings, args.k, args.count, args.iterations))
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
