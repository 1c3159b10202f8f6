/// Reads one JSON object of a configuration file, collecting every bad field instead of stopping
/// at the first, and refusing keys it was not asked for (a typo must not fall back to a default).
///
/// The greylist reads its own `greylist` section with it; a host reads its other sections with the
/// same reader so that an operator gets one list of every mistake in the file.
///
/// ```swift
/// var issues: [ConfigurationIssue] = []
/// var reader = ConfigurationReader(value, path: "server", issues: &issues)
/// let port = reader.integer("port", default: 5222, in: 1...65535)
/// reader.finish()
/// ```
package struct ConfigurationReader {
    private let object: [String: JSONValue]
    private let path: String
    private var read: Set<String> = []
    private let sink: (ConfigurationIssue) -> Void

    /// Starts reading `value`, which must be an object (or absent, meaning all defaults).
    ///
    /// - Parameters:
    ///   - value: The JSON value of this section, or `nil` when the section is missing.
    ///   - path: The section's path for messages, such as `greylist`.
    ///   - report: Called once for every issue found, in order.
    package init(_ value: JSONValue?, path: String, report: @escaping (ConfigurationIssue) -> Void) {
        self.path = path
        self.sink = report
        switch value {
        case .none, .null?:
            self.object = [:]
        case .object(let object)?:
            self.object = object
        case let other?:
            self.object = [:]
            report(ConfigurationIssue(path: path, value: other.description, reason: "expected an object"))
        }
    }

    /// The full path of `key` in this section.
    ///
    /// - Parameter key: A key of this object.
    /// - Returns: `section.key`.
    package func path(of key: String) -> String {
        path.isEmpty ? key : "\(path).\(key)"
    }

    /// Records an issue about `key` found by the caller's own validation.
    ///
    /// - Parameters:
    ///   - key: The key whose value is bad.
    ///   - reason: Why.
    package mutating func report(_ key: String, reason: String) {
        sink(ConfigurationIssue(path: path(of: key), value: object[key]?.description ?? "", reason: reason))
    }

    /// Records an issue about `key`, showing `value` instead of the value found (a URL whose
    /// password must not reach a log).
    ///
    /// - Parameters:
    ///   - key: The key whose value is bad.
    ///   - value: What to show of it.
    ///   - reason: Why.
    package mutating func report(_ key: String, shown value: String, reason: String) {
        sink(ConfigurationIssue(path: path(of: key), value: value, reason: reason))
    }

    /// The raw value of `key`, marking it read.
    ///
    /// - Parameter key: The key.
    /// - Returns: The value, or `nil` when absent or `null`.
    package mutating func value(_ key: String) -> JSONValue? {
        read.insert(key)
        if case .null? = object[key] { return nil }
        return object[key]
    }

    /// A boolean field.
    ///
    /// - Parameters:
    ///   - key: The key.
    ///   - fallback: The value when the key is absent or wrong.
    /// - Returns: The value read, or `fallback`.
    package mutating func bool(_ key: String, default fallback: Bool) -> Bool {
        switch value(key) {
        case nil: return fallback
        case .bool(let flag)?: return flag
        case _?: report(key, reason: "expected true or false"); return fallback
        }
    }

    /// An integer field within `range`.
    ///
    /// - Parameters:
    ///   - key: The key.
    ///   - fallback: The value when the key is absent or wrong.
    ///   - range: The accepted values.
    /// - Returns: The value read, or `fallback`.
    package mutating func integer(_ key: String, default fallback: Int, in range: ClosedRange<Int>) -> Int {
        switch value(key) {
        case nil: return fallback
        case .integer(let number)? where range.contains(Int(clamping: number)) && Int64(Int(clamping: number)) == number:
            return Int(number)
        case _?:
            report(key, reason: "expected a whole number in \(range.lowerBound)...\(range.upperBound)")
            return fallback
        }
    }

    /// A number field within `range`.
    ///
    /// - Parameters:
    ///   - key: The key.
    ///   - fallback: The value when the key is absent or wrong.
    ///   - range: The accepted values.
    /// - Returns: The value read, or `fallback`.
    package mutating func number(_ key: String, default fallback: Double, in range: ClosedRange<Double>) -> Double {
        let number: Double
        switch value(key) {
        case nil: return fallback
        case .integer(let whole)?: number = Double(whole)
        case .number(let fraction)?: number = fraction
        case _?: report(key, reason: "expected a number"); return fallback
        }
        guard range.contains(number) else {
            report(key, reason: "expected a number in \(range.lowerBound)...\(range.upperBound)")
            return fallback
        }
        return number
    }

    /// A string field.
    ///
    /// - Parameters:
    ///   - key: The key.
    ///   - fallback: The value when the key is absent or wrong.
    /// - Returns: The value read, or `fallback`.
    package mutating func string(_ key: String, default fallback: String?) -> String? {
        switch value(key) {
        case nil: return fallback
        case .string(let text)?: return text
        case _?: report(key, reason: "expected a string"); return fallback
        }
    }

    /// A duration field: text with a unit (`"90s"`, `"10m"`, `"4h"`, `"7d"`) or whole seconds.
    ///
    /// - Parameters:
    ///   - key: The key.
    ///   - fallback: The value when the key is absent or wrong.
    ///   - allowZero: Whether `0` is acceptable.
    /// - Returns: The value read, or `fallback`.
    package mutating func duration(_ key: String, default fallback: Duration, allowZero: Bool = false) -> Duration {
        let milliseconds: Int64
        switch value(key) {
        case nil: return fallback
        case .integer(let seconds)?:
            guard seconds >= 0 else {
                report(key, reason: "a duration cannot be negative")
                return fallback
            }
            guard seconds <= DurationText.maximumMilliseconds / 1_000 else {
                report(key, reason: DurationText.tooLarge)
                return fallback
            }
            milliseconds = seconds * 1_000
        case .string(let text)?:
            switch DurationText.parse(text) {
            case .success(let value): milliseconds = value
            case .failure(let error): report(key, reason: error.reason); return fallback
            }
        case _?:
            report(key, reason: "expected a duration such as \"90s\", \"4h\" or a number of seconds")
            return fallback
        }
        guard allowZero || milliseconds > 0 else {
            report(key, reason: "must be longer than zero")
            return fallback
        }
        return .milliseconds(milliseconds)
    }

    /// A nested object, read with its own reader.
    ///
    /// - Parameters:
    ///   - key: The key.
    ///   - body: Reads the nested object; returns what it built.
    /// - Returns: What `body` returned.
    package mutating func object<Result>(_ key: String, _ body: (inout ConfigurationReader) -> Result) -> Result {
        var nested = ConfigurationReader(value(key), path: path(of: key), report: sink)
        let result = body(&nested)
        nested.finish()
        return result
    }

    /// An array field whose elements are read one by one.
    ///
    /// - Parameters:
    ///   - key: The key.
    ///   - body: Reads one element given its path; returns `nil` to drop it.
    /// - Returns: The elements read, or `nil` when the key is absent.
    package mutating func array<Element>(_ key: String, _ body: (JSONValue, String) -> Element?) -> [Element]? {
        switch value(key) {
        case nil: return nil
        case .array(let elements)?:
            return elements.enumerated().compactMap { body($0.element, "\(path(of: key))[\($0.offset)]") }
        case _?:
            report(key, reason: "expected an array")
            return nil
        }
    }

    /// Reports every key that was present but never read, with a suggestion when only the case is off.
    /// An array of networks in CIDR text (`"10.0.0.0/8"`); each bad element is reported by its
    /// index and skipped.
    ///
    /// - Parameters:
    ///   - key: The key.
    ///   - fallback: The value when the key is absent or not an array.
    /// - Returns: The networks read.
    package mutating func networks(_ key: String, default fallback: [IPNetwork]) -> [IPNetwork] {
        let sink = self.sink
        return array(key) { element, elementPath in
            guard case .string(let text) = element else {
                sink(ConfigurationIssue(path: elementPath, value: element.description, reason: "expected CIDR text such as \"10.0.0.0/8\""))
                return nil
            }
            do {
                return try IPNetwork(text)
            } catch {
                sink(ConfigurationIssue(path: elementPath, value: element.description, reason: "\(error)"))
                return nil
            }
        } ?? fallback
    }

    package func finish() {
        for key in object.keys.sorted() where !read.contains(key) {
            let hint = Self.closest(to: key, among: read).map { " (did you mean \"\($0)\"?)" } ?? ""
            sink(ConfigurationIssue(path: path(of: key), value: object[key]!.description, reason: "unknown key\(hint)"))
        }
    }

    /// The known key `key` most likely meant: the same but for case, or within two edits
    /// (a letter missing, added, changed or two swapped) of a key of four letters or more.
    static func closest(to key: String, among known: some Collection<String>) -> String? {
        if let sameButCase = known.first(where: { $0.lowercased() == key.lowercased() }) { return sameButCase }
        let typed = Array(key.lowercased().utf8)
        guard typed.count >= 4, typed.count <= 64 else { return nil }
        let scored = known.map { ($0, editDistance(typed, Array($0.lowercased().utf8))) }.filter { $0.1 <= 2 }
        return scored.min { ($0.1, $0.0) < ($1.1, $1.0) }?.0
    }

    /// Optimal string alignment distance (insertions, deletions, substitutions, adjacent swaps),
    /// over bytes; bounded inputs (keys of at most 64 bytes).
    static func editDistance(_ left: [UInt8], _ right: [UInt8]) -> Int {
        guard !left.isEmpty else { return right.count }
        guard !right.isEmpty else { return left.count }
        var table = [[Int]](repeating: [Int](repeating: 0, count: right.count + 1), count: left.count + 1)
        for row in 0...left.count { table[row][0] = row }
        for column in 0...right.count { table[0][column] = column }
        for row in 1...left.count {
            for column in 1...right.count {
                let cost = left[row - 1] == right[column - 1] ? 0 : 1
                var best = min(table[row - 1][column] + 1, table[row][column - 1] + 1, table[row - 1][column - 1] + cost)
                if row > 1, column > 1, left[row - 1] == right[column - 2], left[row - 2] == right[column - 1] {
                    best = min(best, table[row - 2][column - 2] + 1)
                }
                table[row][column] = best
            }
        }
        return table[left.count][right.count]
    }
}
