import Foundation
import Models

/// Debian's OpenBLAS is built with `DYNAMIC_ARCH` and picks its kernels from the CPU model
/// when the library loads; on a virtual CPU it does not recognise it falls back to the generic
/// SSE3 `Prescott` kernels, which run sgemm (top-N, ALS, the neural model) two to three times
/// slower than the AVX-512 or AVX2 kernels the CPU supports. The choice can only be changed
/// before the library loads (`OPENBLAS_CORETYPE`), so `latent` re-executes itself once with
/// the kernel set matching the CPU's features. An explicit `OPENBLAS_CORETYPE` is respected.
enum BLASCoreSelection {
    /// Set in the re-executed process so it never loops, and so `--version` can say why.
    static let marker = "LATENT_OPENBLAS_CORE_CHOSEN"

    /// Re-executes this process with a better core when OpenBLAS fell back to the generic
    /// one; returns (having changed nothing) when there is nothing to do or exec fails.
    static func upgradeIfGeneric() {
        let environment = ProcessInfo.processInfo.environment
        guard environment["OPENBLAS_CORETYPE"] == nil, environment[marker] == nil,
              BuildInfo.openBLASCore == "Prescott", let core = coreForThisCPU() else { return }
        setenv("OPENBLAS_CORETYPE", core, 1)
        setenv(marker, "1", 1)
        execv("/proc/self/exe", CommandLine.unsafeArgv)
        // Only reached when exec failed: run on, slower, and say so.
        let reason = String(cString: strerror(errno))
        unsetenv("OPENBLAS_CORETYPE")
        unsetenv(marker)
        FileHandle.standardError.write(Data(
            "latent: could not re-execute with OPENBLAS_CORETYPE=\(core) (\(reason)); running on OpenBLAS's generic kernels\n".utf8))
    }

    /// The OpenBLAS kernel set for the CPU features Linux reports, or nil when none beats
    /// the generic one.
    static func coreForThisCPU(cpuinfo: String? = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) -> String? {
        guard let cpuinfo,
              let line = cpuinfo.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else { return nil }
        let flags = Set(line.split(separator: " ").map(String.init))
        if flags.isSuperset(of: ["avx512f", "avx512bw", "avx512dq", "avx512vl", "avx512cd"]) { return "SkylakeX" }
        if flags.isSuperset(of: ["avx2", "fma"]) { return "Haswell" }
        return nil
    }

    /// How the core in use was chosen, for `latent --version`.
    static var origin: String {
        ProcessInfo.processInfo.environment[marker] != nil
            ? "chosen by latent for this CPU's features; OpenBLAS saw a generic CPU"
            : ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] != nil ? "set by OPENBLAS_CORETYPE" : "chosen by OpenBLAS"
    }
}
