/// Password comparison for hosts that keep passwords themselves (the demo does).
public enum XMPPPasswordComparison {
    /// Compares without an early exit, so timing does not reveal how much of a password matched.
    ///
    /// - Parameters:
    ///   - expected: The stored password.
    ///   - given: The password the client sent.
    /// - Returns: Whether they are equal.
    public static func constantTimeEqual(_ expected: String, _ given: String) -> Bool {
        let left = Array(expected.utf8)
        let right = Array(given.utf8)
        var difference = UInt8(left.count == right.count ? 0 : 1)
        for index in 0..<max(left.count, right.count) {
            difference |= (index < left.count ? left[index] : 0) ^ (index < right.count ? right[index] : 0)
        }
        return difference == 0
    }
}
