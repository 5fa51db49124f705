import ArgumentParser
import Foundation
import Pipeline

/// When `latent serve` retrains: `--schedule` and `--timezone`, defaulting to
/// `LATENT_TRAIN_SCHEDULE` / `LATENT_TIMEZONE`, then 03:00 UTC every day.
struct ScheduleOptions: ParsableArguments {
    @Option(help: "When to retrain: a five-field cron expression (default: $LATENT_TRAIN_SCHEDULE, else '0 3 * * *').")
    var schedule: String?

    @Option(name: .customLong("timezone"), help: "Time zone of the schedule (default: $LATENT_TIMEZONE, else UTC).")
    var timeZone: String?

    /// The schedule; an error names the flag or variable that is wrong. Not `validate()`:
    /// `latent serve` checks its database first.
    func cron() throws -> CronSchedule {
        let zoneName = timeZone ?? environmentValue("LATENT_TIMEZONE") ?? "UTC"
        guard let zone = TimeZone(identifier: zoneName) else {
            throw ValidationError("--timezone / LATENT_TIMEZONE: unknown time zone '\(zoneName)' (an IANA name such as UTC or Europe/Paris)")
        }
        let expression = schedule ?? environmentValue("LATENT_TRAIN_SCHEDULE") ?? "0 3 * * *"
        do { return try CronSchedule(expression, timeZone: zone) } catch {
            throw ValidationError("--schedule / LATENT_TRAIN_SCHEDULE: \(error)")
        }
    }
}
