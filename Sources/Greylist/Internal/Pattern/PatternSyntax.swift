/// A parsed pattern: the subset of regular-expression syntax that a Thompson NFA matches in
/// linear time. Constructs that need backtracking (back-references, lookaround, possessive
/// quantifiers, atomic groups, conditionals) are refused by ``PatternParser``.
indirect enum PatternNode {
    case empty
    case scalars(ScalarSet)
    case startAnchor
    case endAnchor
    case sequence([PatternNode])
    case alternatives([PatternNode])
    case repetition(PatternNode, minimum: Int, maximum: Int?)
}

/// A set of Unicode scalars: ranges, possibly negated.
struct ScalarSet {
    var ranges: [ClosedRange<UInt32>]
    var negated = false

    static func single(_ value: UInt32) -> ScalarSet { ScalarSet(ranges: [value...value]) }
    static let any = ScalarSet(ranges: [0...0x10FFFF])
    static let digits = ScalarSet(ranges: [0x30...0x39])
    static let word = ScalarSet(ranges: [0x30...0x39, 0x41...0x5A, 0x5F...0x5F, 0x61...0x7A])
    static let space = ScalarSet(ranges: [0x09...0x0D, 0x20...0x20])

    func contains(_ value: UInt32) -> Bool {
        ranges.contains { $0.contains(value) } != negated
    }

    var inverted: ScalarSet {
        ScalarSet(ranges: ranges, negated: !negated)
    }
}

/// Why a pattern was refused: what, and where (a 0-based scalar offset).
struct PatternError: Error {
    var reason: String
    var offset: Int

    var description: String {
        "\(reason) at offset \(offset)"
    }
}
