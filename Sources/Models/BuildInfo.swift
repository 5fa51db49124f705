import COpenBLAS

/// How this build computes: the CPU target Models was compiled for and the OpenBLAS it links,
/// for `latent --version` (and bug reports).
package enum BuildInfo {
    /// Whether Models was compiled for AVX2 and FMA (`-target-cpu haswell`, chosen by
    /// Package.swift when the build machine has them); such a binary needs an x86-64-v3 CPU.
    package static var isNativeAVX2: Bool {
        #if LATENT_AVX2
        return true
        #else
        return false
        #endif
    }

    /// The CPU target in words.
    package static var simdTarget: String {
        isNativeAVX2
            ? "native: AVX2 + FMA (-target-cpu haswell; needs Intel Haswell, AMD Zen or newer)"
            : "portable (the compiler's default target for this architecture)"
    }

    /// OpenBLAS's build configuration (`openblas_get_config()`), e.g. `OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY Zen MAX_THREADS=64`.
    package static var openBLASConfiguration: String { String(cString: openblas_get_config()) }

    /// The kernel set OpenBLAS chose for this CPU at start (`openblas_get_corename()`), e.g. `Haswell`.
    package static var openBLASCore: String { String(cString: openblas_get_corename()) }
}
