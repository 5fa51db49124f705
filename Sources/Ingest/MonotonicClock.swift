import Foundation

/// `CLOCK_MONOTONIC` in nanoseconds: what ingest times batches and stamps commits with, so
/// latencies measured elsewhere (the live refresh) subtract readings of the same clock.
public enum MonotonicClock {
    /// Nanoseconds since an arbitrary fixed point (boot); never goes back.
    public static func nanoseconds() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }
}
