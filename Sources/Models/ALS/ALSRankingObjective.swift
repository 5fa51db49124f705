extension AlternatingLeastSquares.Configuration {
    /// The defaults of ALS with the ranking objective (kind "ials", `latent train ials`):
    /// implicit-feedback ALS after Hu, Koren and Volinsky, "Collaborative filtering for
    /// implicit feedback datasets" (2008), in the form of Rendle, Krichene, Zhang and Koren,
    /// "Revisiting the performance of iALS on item recommendation benchmarks" (2021): every
    /// rated pair pulls its score towards 1, every pair weakly towards 0, with their
    /// frequency-scaled regularisation, and the genre prior of the rating ALS kept.
    ///
    /// Chosen by NDCG@10 on random 90/10 splits (`latent split --seed 7`, held-out ratings >= 4
    /// relevant, training movies excluded) of ML-100K / ML-latest-small / a 300k-rating
    /// `latent synth` set, k 64, 15 iterations, frequency-scaled regularisation
    /// (`lambda * (n + alpha_0 N)`, exponent 1, so the penalty grows with each row's data and
    /// the catalogue):
    /// - `alpha_0` 0.3 (0.294 / 0.255 / 0.146 at lambda 0.01) beats 0.03 (0.224 / 0.187 / 0.094)
    ///   and 1 (0.301 / 0.192 / 0.157: good on ML-100K, poor on ML-latest-small);
    /// - only ratings >= 3.5 as positives: 0.293 / 0.266 / 0.148 against 0.294 / 0.255 / 0.146
    ///   with every rating;
    /// - confidence `1 + rating` (Hu et al.'s weighting by the rating) is worse everywhere:
    ///   0.237 / 0.216 / 0.105, so every positive weighs 1 (Rendle et al.'s form);
    /// - lambda 0.007 / 0.01 / 0.012 / 0.015 gives 0.277 / 0.293 / 0.303 / 0.312 on ML-100K,
    ///   0.263 / 0.266 / 0.264 / 0.244 on ML-latest-small and 0.125 / 0.148 / 0.160 / 0.169 on
    ///   the synthetic set: 0.012 has the best worst case;
    /// - three conjugate-gradient steps per row instead of the exact solve (as `implicit`
    ///   does): NDCG@10 0.3262 against 0.3257 on ML-100K and 0.2494 against 0.2501 on
    ///   ML-latest-small (`ops/bench/ranking`'s split), in 0.30 s against 0.65 s and 1.15 s
    ///   against 1.96 s.
    /// - then, over 16 held-out-user seeds of ML-latest-small (Liang et al.'s protocol: ratings
    ///   >= 4 are positives) against `implicit`'s 0.2664: the settings above 0.2599; only
    ///   ratings >= 4 as positives with `tau` 30 0.2661 (ML-latest-small random +1.9%, ML-100K
    ///   held-out and random within 1%: its ratings are whole stars), chosen; exact solves, 30
    ///   iterations, k 32-100, alpha_0 0.2-1, exponents 0.5-1.25 with lambda rescaled each
    ///   lost more than 1% somewhere. It costs the synthetic 1M set 3.7%, whose users pick
    ///   the movies they rate by popularity alone (`latent synth`), so its lists measure
    ///   little beyond popularity.
    package static var rankingDefaults: Self {
        var c = Self(k: 64, iterations: 15, lambda: 0.012, gamma: 0, tau: 30, regularizationExponent: 1, missingWeight: 0)
        c.objective = .ranking
        c.unobservedWeight = 0.3
        c.confidenceWeight = 0
        c.positiveThreshold = 4
        c.conjugateGradientSteps = 3
        return c
    }

    /// The pairs the ranking objective trains on: ratings at or above ``positiveThreshold``,
    /// each with its confidence `1 + confidenceWeight * rating` as value.
    package func rankingPairs(_ ratings: RatingTriples) -> RatingTriples {
        let kept = (0..<ratings.count).filter { ratings.ratings[$0] >= positiveThreshold }
        var pairs = ratings.subset(kept)
        for i in 0..<pairs.count { pairs.ratings[i] = 1 + confidenceWeight * pairs.ratings[i] }
        return pairs
    }
}
