/// Reads and writes durations as configuration text: `"90s"`, `"10m"`, `"4h"`, `"7d"`, `"1h30m"`,
/// `"250ms"`, or a whole number of seconds. Units may also be written out, with spaces
/// (`"2 hours"`, `"1 hour 30 minutes"`, `"7 days"`); written text uses the short units.
enum DurationText {
    private static let units: [(suffix: String, milliseconds: Int64)] = [
        ("ms", 1), ("s", 1_000), ("m", 60_000), ("h", 3_600_000), ("d", 86_400_000), ("w", 604_800_000),
    ]

    /// Unit names written out, and their short forms.
    private static let unitNames: [String: String] = [
        "millisecond": "ms", "milliseconds": "ms", "sec": "s", "secs": "s", "second": "s", "seconds": "s",
        "min": "m", "mins": "m", "minute": "m", "minutes": "m", "hr": "h", "hrs": "h", "hour": "h", "hours": "h",
        "day": "d", "days": "d", "week": "w", "weeks": "w",
    ]

    /// The longest duration accepted anywhere: 100 years (`36500d`). Every sum and product on
    /// the way is checked, so no text can trap.
    static let maximumMilliseconds: Int64 = 36_500 * 86_400_000

    /// Parses text into milliseconds, or returns why it cannot.
    static func parse(_ text: String) -> Result<Int64, DurationTextError> {
        guard text.utf8.count <= 64 else { return .failure(.init(reason: "too long (at most 64 characters)")) }
        let bytes = Array(text.utf8.drop { $0 == 0x20 }.reversed().drop { $0 == 0x20 }.reversed())
        guard !bytes.isEmpty else { return .failure(.init(reason: "empty duration")) }
        if bytes.first == UInt8(ascii: "-") { return .failure(.init(reason: "a duration cannot be negative")) }
        var total: Int64 = 0
        var index = 0
        while index < bytes.count {
            var number: Int64 = 0
            let start = index
            while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) {
                let (product, overflow) = number.multipliedReportingOverflow(by: 10)
                let (sum, overflowAgain) = product.addingReportingOverflow(Int64(bytes[index] - UInt8(ascii: "0")))
                guard !overflow, !overflowAgain else { return .failure(.init(reason: tooLarge)) }
                number = sum
                index += 1
            }
            guard index > start else {
                return .failure(.init(reason: "expected a number followed by ms, s, m, h, d or w"))
            }
            let unitStart = index
            while index < bytes.count, !(UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) { index += 1 }
            let written = String(decoding: bytes[unitStart..<index].drop { $0 == 0x20 }.reversed().drop { $0 == 0x20 }.reversed(), as: UTF8.self)
            let suffix = unitNames[written.lowercased()] ?? written
            guard let unit = units.first(where: { $0.suffix == suffix }) else {
                return .failure(.init(reason: written.isEmpty
                    ? "missing unit (ms, s, m, h, d or w), or write a JSON number of seconds"
                    : "unknown unit \"\(written)\" (use ms, s, m, h, d or w, or seconds, minutes, hours, days, weeks)"))
            }
            let (part, overflow) = number.multipliedReportingOverflow(by: unit.milliseconds)
            let (sum, overflowAgain) = total.addingReportingOverflow(part)
            guard !overflow, !overflowAgain, sum <= maximumMilliseconds else { return .failure(.init(reason: tooLarge)) }
            total = sum
        }
        return .success(total)
    }

    /// The reason given for a duration over ``maximumMilliseconds``.
    static let tooLarge = "too large (at most 36500d, 100 years)"

    /// Formats milliseconds with the largest units that divide it exactly (`"4h"`, `"1h30m"`).
    static func format(milliseconds: Int64) -> String {
        guard milliseconds > 0 else { return "0s" }
        var rest = milliseconds
        var text = ""
        for unit in units.reversed() where rest >= unit.milliseconds {
            text += "\(rest / unit.milliseconds)\(unit.suffix)"
            rest %= unit.milliseconds
        }
        return text
    }
}

/// Why a duration text was refused.
struct DurationTextError: Error {
    var reason: String
}

extension Duration {
    /// The duration in whole milliseconds, saturating at the bounds of `Int64`.
    package var wholeMilliseconds: Int64 {
        let (seconds, attoseconds) = components
        let (scaled, overflow) = seconds.multipliedReportingOverflow(by: 1_000)
        guard !overflow else { return seconds < 0 ? .min : .max }
        let (sum, overflowAgain) = scaled.addingReportingOverflow(attoseconds / 1_000_000_000_000_000)
        return overflowAgain ? (seconds < 0 ? .min : .max) : sum
    }
}

extension Duration {
    /// The duration as the configuration file writes it: `"4h"`, `"1h30m"`, `"90s"`, `"250ms"`.
    package var configurationText: String {
        DurationText.format(milliseconds: wholeMilliseconds)
    }
}
