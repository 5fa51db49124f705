#ifndef LATENT_COPENBLAS_SHIM_H
#define LATENT_COPENBLAS_SHIM_H
#include <stddef.h>
#include <cblas.h>

// Debian's OpenBLAS ships no LAPACKE header, but libopenblas exports the Fortran LAPACK
// symbols. Fortran conventions: every argument by pointer, column-major storage, and a hidden
// size_t length after the last argument for each character argument.

/// Cholesky factorisation of a symmetric positive definite matrix.
void spotrf_(const char *uplo, const int *n, float *a, const int *lda, int *info, size_t uplo_len);
/// The same, unblocked (dot products and matrix-vector updates only): faster for the small
/// orders of ALS's normal equations, where spotrf_'s blocked path spends its time in trsm.
void spotf2_(const char *uplo, const int *n, float *a, const int *lda, int *info, size_t uplo_len);
/// Solves A X = B with the factor from spotrf_.
void spotrs_(const char *uplo, const int *n, const int *nrhs, const float *a, const int *lda,
             float *b, const int *ldb, int *info, size_t uplo_len);
/// Factor and solve in one call.
void sposv_(const char *uplo, const int *n, const int *nrhs, float *a, const int *lda,
            float *b, const int *ldb, int *info, size_t uplo_len);
/// Inverse of a symmetric positive definite matrix from its spotrf_ factor (the triangle
/// named by uplo is overwritten; EASE's item-item inverse).
void spotri_(const char *uplo, const int *n, float *a, const int *lda, int *info, size_t uplo_len);
/// Symmetric eigen-decomposition (used for truncated SVD initialisation).
void ssyevd_(const char *jobz, const char *uplo, const int *n, float *a, const int *lda, float *w,
             float *work, const int *lwork, int *iwork, const int *liwork, int *info,
             size_t jobz_len, size_t uplo_len);

#endif
