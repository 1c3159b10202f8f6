/// Text from the network made safe for an operator's log or terminal: one record stays one line,
/// and no escape sequence reaches a terminal.
///
/// Control characters (C0, DEL, C1), line and paragraph separators and the bidirectional
/// overrides are written as `\u{…}`; a backslash is doubled, so an attacker cannot write a
/// look-alike of an escape. Printable text, including any other Unicode, stays as it is.
public enum OperatorText {
    /// `text` with every unsafe character escaped.
    ///
    /// - Parameters:
    ///   - text: Untrusted text (a username, a reason, a log message).
    ///   - doublingBackslashes: Whether a backslash is doubled (default). A log that re-escapes
    ///     lines whose fields were escaped already passes `false`, so they are not doubled twice.
    /// - Returns: The text, safe to print on one line.
    /// - Complexity: O(n) in the length of `text`; returns `text` itself when nothing needs escaping.
    public static func escaped(_ text: String, doublingBackslashes: Bool = true) -> String {
        guard text.unicodeScalars.contains(where: { (doublingBackslashes && $0 == "\\") || isUnsafe($0) }) else { return text }
        var result = ""
        result.reserveCapacity(text.utf8.count + 16)
        for scalar in text.unicodeScalars {
            if doublingBackslashes && scalar == "\\" {
                result += "\\\\"
            } else if isUnsafe(scalar) {
                result += "\\u{" + String(scalar.value, radix: 16, uppercase: true) + "}"
            } else {
                result.unicodeScalars.append(scalar)
            }
        }
        return result
    }

    private static func isUnsafe(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x00...0x1F, 0x7F...0x9F, 0x2028, 0x2029, 0x202A...0x202E, 0x2066...0x2069: return true
        default: return false
        }
    }
}
