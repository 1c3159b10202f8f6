/// Reads the pattern syntax rules accept (README, "Pattern syntax") into a ``PatternNode``:
/// literals, `.`, classes `[a-z]` and `[^…]`, the escapes `\d \w \s \D \W \S` and escaped
/// punctuation, `^` and `$`, groups `(…)`, `(?:…)` and `(?<name>…)`, `|`, and the quantifiers
/// `* + ? {n} {n,} {n,m}` (lazy forms accepted, meaning the same for a yes-or-no match).
/// Everything that needs backtracking is refused with an error naming the construct.
struct PatternParser {
    private let scalars: [Unicode.Scalar]
    private var index = 0
    /// Groups open at `index`.
    private var nesting = 0

    /// The largest repetition count accepted in `{n,m}`.
    static let maximumCount = 1_000
    /// The deepest nesting of groups accepted: the parser and the compiler recurse once per
    /// level, so a pattern of thousands of `(` must be an error, not a stack overflow (found by
    /// FuzzPattern: 7,956 of them overflowed the stack).
    static let maximumNesting = 32
    /// The most quantifiers accepted in a row on one item (`a{2}{3}…`): each wraps the node once
    /// more, and the compiler recurses through every wrapper.
    static let maximumStackedQuantifiers = 32

    private init(_ pattern: String) {
        scalars = Array(pattern.unicodeScalars)
    }

    static func parse(_ pattern: String) throws(PatternError) -> PatternNode {
        var parser = PatternParser(pattern)
        let node = try parser.alternatives()
        if parser.index < parser.scalars.count {
            throw PatternError(reason: "unbalanced ')'", offset: parser.index)
        }
        return node
    }

    private var current: Unicode.Scalar? { index < scalars.count ? scalars[index] : nil }

    private mutating func alternatives() throws(PatternError) -> PatternNode {
        var branches = [try sequence()]
        while current == "|" {
            index += 1
            branches.append(try sequence())
        }
        return branches.count == 1 ? branches[0] : .alternatives(branches)
    }

    private mutating func sequence() throws(PatternError) -> PatternNode {
        var items: [PatternNode] = []
        while let scalar = current, scalar != "|", scalar != ")" {
            items.append(try quantified())
        }
        return items.isEmpty ? .empty : items.count == 1 ? items[0] : .sequence(items)
    }

    private mutating func quantified() throws(PatternError) -> PatternNode {
        var node = try atom()
        var stacked = 0
        while let scalar = current {
            let start = index
            var bounds: (Int, Int?)
            switch scalar {
            case "*": bounds = (0, nil); index += 1
            case "+": bounds = (1, nil); index += 1
            case "?": bounds = (0, 1); index += 1
            case "{":
                guard let counted = try counted() else { return node }
                bounds = counted
            default:
                return node
            }
            stacked += 1
            if stacked > Self.maximumStackedQuantifiers {
                throw PatternError(reason: "more than \(Self.maximumStackedQuantifiers) quantifiers in a row", offset: start)
            }
            if case .startAnchor = node { throw PatternError(reason: "a quantifier after '^'", offset: start) }
            if case .endAnchor = node { throw PatternError(reason: "a quantifier after '$'", offset: start) }
            if current == "?" {
                index += 1  // lazy: the same yes-or-no answer
            } else if current == "+" {
                throw PatternError(reason: "possessive quantifiers need backtracking semantics and are not supported", offset: index)
            }
            node = .repetition(node, minimum: bounds.0, maximum: bounds.1)
        }
        return node
    }

    /// `{n}`, `{n,}` or `{n,m}`; `nil` (nothing consumed) when the brace starts no count, so it is a literal.
    private mutating func counted() throws(PatternError) -> (Int, Int?)? {
        let start = index
        index += 1
        func number() -> Int? {
            var value = 0
            var digits = 0
            while let scalar = current, ("0"..."9").contains(scalar) {
                value = min(value * 10 + Int(scalar.value - 48), Self.maximumCount + 1)
                digits += 1
                index += 1
            }
            return digits > 0 ? value : nil
        }
        guard let minimum = number() else {
            index = start
            return nil
        }
        var maximum: Int? = minimum
        if current == "," {
            index += 1
            maximum = number()
        }
        guard current == "}" else {
            index = start
            return nil
        }
        index += 1
        if minimum > Self.maximumCount || (maximum ?? 0) > Self.maximumCount {
            throw PatternError(reason: "a repetition count above \(Self.maximumCount)", offset: start)
        }
        if let maximum, maximum < minimum {
            throw PatternError(reason: "a repetition {\(minimum),\(maximum)} whose maximum is below its minimum", offset: start)
        }
        return (minimum, maximum)
    }

    private mutating func atom() throws(PatternError) -> PatternNode {
        let start = index
        guard let scalar = current else { throw PatternError(reason: "a pattern that ends early", offset: index) }
        index += 1
        switch scalar {
        case "(":
            try groupPrefix(start)
            guard nesting < Self.maximumNesting else {
                throw PatternError(reason: "groups nested deeper than \(Self.maximumNesting)", offset: start)
            }
            nesting += 1
            defer { nesting -= 1 }
            let inner = try alternatives()
            guard current == ")" else { throw PatternError(reason: "expected ')'", offset: index) }
            index += 1
            return inner
        case "[": return .scalars(try characterClass(start))
        case ".": return .scalars(.any)
        case "^": return .startAnchor
        case "$": return .endAnchor
        case "\\": return .scalars(try escape(inClass: false))
        case "*", "+", "?": throw PatternError(reason: "a quantifier with nothing to repeat", offset: start)
        default: return .scalars(.single(scalar.value))
        }
    }

    /// After `(`: nothing (a group), `?:` or `?<name>`; lookaround and the rest are refused.
    private mutating func groupPrefix(_ start: Int) throws(PatternError) {
        guard current == "?" else { return }
        index += 1
        switch current {
        case ":":
            index += 1
        case "<" where index + 1 < scalars.count && scalars[index + 1] != "=" && scalars[index + 1] != "!":
            index += 1
            while let scalar = current, scalar != ">" {
                guard scalar.properties.isAlphabetic || ("0"..."9").contains(scalar) || scalar == "_" else {
                    throw PatternError(reason: "an invalid group name", offset: index)
                }
                index += 1
            }
            guard current == ">" else { throw PatternError(reason: "expected '>' after a group name", offset: index) }
            index += 1
        case "=", "!":
            throw PatternError(reason: "lookahead (?\(scalars[index])…) needs backtracking and is not supported", offset: start)
        case "<" where index + 1 < scalars.count:
            throw PatternError(reason: "lookbehind (?<\(scalars[index + 1])…) needs backtracking and is not supported", offset: start)
        case "<":
            throw PatternError(reason: "a group name that ends early", offset: start)
        case ">":
            throw PatternError(reason: "atomic groups (?>…) are not supported", offset: start)
        default:
            throw PatternError(reason: "group options (?…) are not supported; write the pattern without them", offset: start)
        }
    }

    private mutating func characterClass(_ start: Int) throws(PatternError) -> ScalarSet {
        var set = ScalarSet(ranges: [])
        if current == "^" {
            set.negated = true
            index += 1
        }
        var first = true
        while true {
            guard let scalar = current else { throw PatternError(reason: "expected ']'", offset: start) }
            if scalar == "]" && !first { index += 1; return set }
            first = false
            index += 1
            var low: UInt32
            if scalar == "\\" {
                let escaped = try escape(inClass: true)
                guard escaped.ranges.count == 1, !escaped.negated, escaped.ranges[0].count == 1 else {
                    if escaped.negated { throw PatternError(reason: "\\D, \\W and \\S inside a class", offset: index - 2) }
                    set.ranges += escaped.ranges
                    continue
                }
                low = escaped.ranges[0].lowerBound
            } else if scalar == "[" && current == ":" {
                throw PatternError(reason: "POSIX classes [:name:] are not supported; use \\d, \\w, \\s or ranges", offset: index - 1)
            } else {
                low = scalar.value
            }
            if current == "-", index + 1 < scalars.count, scalars[index + 1] != "]" {
                index += 1
                guard let highScalar = current else { throw PatternError(reason: "expected ']'", offset: start) }
                index += 1
                var high = highScalar.value
                if highScalar == "\\" {
                    let escaped = try escape(inClass: true)
                    guard escaped.ranges.count == 1, escaped.ranges[0].count == 1 else {
                        throw PatternError(reason: "a range that ends in a class escape", offset: index - 2)
                    }
                    high = escaped.ranges[0].lowerBound
                }
                guard low <= high else { throw PatternError(reason: "a range whose end is before its start", offset: index - 1) }
                set.ranges.append(low...high)
            } else {
                set.ranges.append(low...low)
            }
        }
    }

    /// After `\`.
    private mutating func escape(inClass: Bool) throws(PatternError) -> ScalarSet {
        let start = index - 1
        guard let scalar = current else { throw PatternError(reason: "a pattern that ends in '\\'", offset: start) }
        index += 1
        switch scalar {
        case "d": return .digits
        case "D": return ScalarSet.digits.inverted
        case "w": return .word
        case "W": return ScalarSet.word.inverted
        case "s": return .space
        case "S": return ScalarSet.space.inverted
        case "n": return .single(0x0A)
        case "r": return .single(0x0D)
        case "t": return .single(0x09)
        case "f": return .single(0x0C)
        case "v": return .single(0x0B)
        case "0": return .single(0)
        case "1"..."9":
            throw PatternError(reason: "back-references (\\\(scalar)) need backtracking and are not supported", offset: start)
        case "b" where !inClass, "B":
            throw PatternError(reason: "word boundaries (\\\(scalar)) are not supported", offset: start)
        case "b": return .single(0x08)
        case "x", "u":
            return .single(try hexadecimal(start))
        default:
            guard !scalar.properties.isAlphabetic, !("0"..."9").contains(scalar) else {
                throw PatternError(reason: "an unknown escape \\\(scalar)", offset: start)
            }
            return .single(scalar.value)
        }
    }

    /// `\xHH`, `\x{H…}` or `\u{H…}`.
    private mutating func hexadecimal(_ start: Int) throws(PatternError) -> UInt32 {
        var digits = ""
        if current == "{" {
            index += 1
            while let scalar = current, scalar != "}" { digits.unicodeScalars.append(scalar); index += 1 }
            guard current == "}" else { throw PatternError(reason: "expected '}'", offset: index) }
            index += 1
        } else {
            for _ in 0..<2 {
                guard let scalar = current else { break }
                digits.unicodeScalars.append(scalar)
                index += 1
            }
        }
        guard digits.count <= 8, let value = UInt32(digits, radix: 16), Unicode.Scalar(value) != nil else {
            throw PatternError(reason: "an invalid hexadecimal escape", offset: start)
        }
        return value
    }
}
