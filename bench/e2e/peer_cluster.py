#!/usr/bin/env python3
"""The peer pipeline's second half (bench/e2e/run.sh): pandas and
scikit-learn cluster the customers DuckDB aggregated, as Strata does:
log1p of recency, frequency and monetary value, z-scores (StandardScaler),
then k-means (Lloyd, k-means++ seeding, n_init restarts).

Usage: python3 peer_cluster.py FEATURES.csv K N_INIT
Prints one JSON line: read_s, scale_s, kmeans_s, inertia, n_iter.
"""
import json
import sys
import time

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.preprocessing import StandardScaler


def main():
    path, k, n_init = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    t0 = time.perf_counter()
    df = pd.read_csv(path)
    t1 = time.perf_counter()
    x = np.log1p(df[["recency_days", "frequency", "monetary"]].to_numpy(dtype=np.float64))
    x = StandardScaler().fit_transform(x)
    t2 = time.perf_counter()
    km = KMeans(n_clusters=k, n_init=n_init, algorithm="lloyd", random_state=0).fit(x)
    t3 = time.perf_counter()
    print(json.dumps({"read_s": t1 - t0, "scale_s": t2 - t1, "kmeans_s": t3 - t2,
                      "inertia": float(km.inertia_), "n_iter": int(km.n_iter_), "rows": int(len(df))}))


if __name__ == "__main__":
    main()
