import GreylistTestSupport
import Testing
@testable import Greylist


/// The rule pattern matcher: the syntax it accepts, what it refuses, and a bound on its work.
@Suite struct LinearPatternTests {
    @Test("matches like a regular-expression search", arguments: [
        ("^bad_user_[0-9]{5,}$", "bad_user_12345", true),
        ("^bad_user_[0-9]{5,}$", "bad_user_1234", false),
        ("^bad_user_[0-9]{5,}$", "bad_user_123456789", true),
        ("bot", "robots", true),
        ("^(admin|root|test)$", "root", true),
        ("^(admin|root|test)$", "rooted", false),
        ("^(?:ab)+c$", "ababc", true),
        ("^(?:ab)+c$", "abac", false),
        ("^a{2,3}$", "aaaa", false),
        ("^a{2,3}$", "aaa", true),
        ("^a{2}$", "aa", true),
        ("x{,3}", "x{,3}", true),
        ("^\\d+\\.\\w+\\s?$", "12.ab ", true),
        ("^[^@]+@example\\.org$", "eve@example.org", true),
        ("^[^@]+@example\\.org$", "eve@evil@example.org", false),
        ("^[a-c\\d]+$", "ab3c", true),
        ("^[a-c\\d]+$", "abd", false),
        ("^.$", "用", true),
        ("^\\x41\\u{42}$", "AB", true),
        ("^(?<name>x)y$", "xy", true),
        ("a*?b", "aaab", true),
        ("^$", "", true),
        ("^$", "x", false),
        ("", "anything", true),
        ("[]a]", "]", true),
        ("^a|b$", "xb", true),
    ])
    func matches(pattern: String, input: String, expected: Bool) throws {
        #expect(try LinearPattern(pattern).matches(input) == expected, "\(pattern) on \(input)")
    }

    @Test("constructs that need backtracking are refused, naming them", arguments: [
        ("(a)\\1", "back-references"),
        ("a(?=b)", "lookahead"),
        ("a(?!b)", "lookahead"),
        ("(?<=a)b", "lookbehind"),
        ("(?<!a)b", "lookbehind"),
        ("a++", "possessive"),
        ("(?>a)", "atomic"),
        ("(?i)admin", "group options"),
        ("\\bword", "word boundaries"),
        ("a{1001}", "above 1000"),
        ("a{3,2}", "below its minimum"),
        ("(a", "expected ')'"),
        ("a)", "unbalanced"),
        ("[a-", "expected ']'"),
        ("*a", "nothing to repeat"),
        ("\\q", "unknown escape"),
        ("[[:alpha:]]", "POSIX"),
        ("(?:a{1000}){1000}", "instructions"),
    ])
    func refused(pattern: String, named: String) {
        do {
            _ = try LinearPattern(pattern)
            Issue.record("accepted \(pattern)")
        } catch {
            #expect(error.description.contains(named), "\(pattern): \(error.description)")
        }
    }

    @Test("work is linear in the username: adversarial inputs against backtracking-prone patterns stay within c × n × m", arguments: [
        ("^bad_user_([0-9]+)+$", "bad_user_" + String(repeating: "1", count: 30) + "!"),
        ("^(\\w+\\d+)+$", String(repeating: "a1", count: 10) + "!"),
        ("^(a|a)*$", String(repeating: "a", count: 500) + "b"),
        ("(x+x+)+y", String(repeating: "x", count: 1_000)),
        ("^(.*)*z$", String(repeating: "q", count: 1_000)),
    ])
    func linearWork(pattern: String, input: String) throws {
        let compiled = try LinearPattern(pattern)
        let (matched, steps) = compiled.run(input)
        #expect(!matched)
        let bound = 2 * (input.unicodeScalars.count + 1) * compiled.instructions.count
        #expect(steps <= bound, "\(steps) steps for \(input.count) scalars and \(compiled.instructions.count) instructions")
    }

    @Test("agrees with Swift Regex on 2,000 random patterns, 6 inputs each (a seeded generator)")
    func agreesWithRegex() throws {
        var random = SeededRandom(state: 0x5EED_2026_1205)
        var compared = 0
        for _ in 0..<2_000 {
            let pattern = Self.randomPattern(&random, depth: 0)
            let anchored = (random.next() % 3 == 0 ? "^" : "") + pattern + (random.next() % 3 == 0 ? "$" : "")
            guard let ours = try? LinearPattern(anchored), let theirs = try? Regex(anchored) else { continue }
            for _ in 0..<6 {
                let letters: [String] = ["a", "b", "c", "é", "用", "😀"]
                let input = (0..<Int(random.next() % 9)).map { _ in letters[Int(random.next() % UInt64(letters.count))] }.joined()
                #expect(ours.matches(input) == input.contains(theirs), "\(anchored) on \"\(input)\"")
                compared += 1
            }
        }
        #expect(compared > 9_000, "most random patterns compiled in both")
    }

    /// A pattern from the syntax both engines read the same way (scalars that are their own
    /// grapheme clusters, so Regex's grapheme semantics do not differ from ours): atoms, classes,
    /// quantified atoms, groups and alternations.
    static func randomPattern(_ random: inout SeededRandom, depth: Int) -> String {
        let atoms = ["a", "b", "c", ".", "[ab]", "[^a]", "é", "用", "😀", "[a-c]"]
        var pattern = ""
        for _ in 0..<(1 + Int(random.next() % 3)) {
            var piece: String
            if depth < 2 && random.next() % 4 == 0 {
                let left = randomPattern(&random, depth: depth + 1)
                piece = random.next() % 2 == 0 ? "(\(left))" : "(?:\(left)|\(randomPattern(&random, depth: depth + 1)))"
            } else {
                piece = atoms[Int(random.next() % UInt64(atoms.count))]
            }
            // Groups stay unquantified: Swift Regex can loop for ever on a quantified group that
            // matches the empty string (our own matcher's bound is tested on those above).
            let quantifiers = ["", "", "", "*", "+", "?", "{2}", "{1,2}", "{0,3}", "*?"]
            if !piece.hasPrefix("(") { piece += quantifiers[Int(random.next() % UInt64(quantifiers.count))] }
            pattern += piece
        }
        return pattern
    }

    @Test("only the first 1,024 bytes of a username are matched")
    func inputCap() throws {
        let tail = try LinearPattern("z$")
        #expect(tail.matches(String(repeating: "a", count: 100) + "z"))
        #expect(!tail.matches(String(repeating: "a", count: 2_000) + "z"))
    }

    @Test("a rule with a refused pattern is a configuration error naming the rule and the construct")
    func ruleError() {
        do {
            _ = try Greylist(configuration: GreylistConfiguration(rules: [GreylistRule(name: "botnet", pattern: "^(a)\\1$")]))
            Issue.record("accepted a back-reference")
        } catch {
            #expect(error.description.contains("rules[0].pattern"))
            #expect(error.description.contains("back-references"))
        }
    }
}

/// Inputs the fuzzer found (FuzzTesting/): each once crashed, and must now be a clean error.
@Suite struct PatternFuzzRegressionTests {
    @Test("a group opened with (?< at the very end is an error, not an out-of-bounds read", arguments: ["^bd(?<", "(?<", "(?", "(?<="])
    func truncatedGroup(pattern: String) {
        #expect(throws: (any Error).self) { try LinearPattern(pattern) }
    }

    /// Found by FuzzPattern in CI: stacked counted repetitions with a `{0}` among them emitted
    /// nothing, so the size cap never tripped while the compiler recursed 885 × 8 × 85 × … times.
    @Test("stacked repetitions are measured before compiling: a product past the cap is an error at once, an empty body compiles to nothing")
    func stackedRepetitions() throws {
        // The `{0}` makes everything stacked on it nothing: a program of a few instructions,
        // compiled at once (before the fix, this call did not return).
        let found = "5}{885}{8}{85}{0}{85}{85}{5}{85}{885}{8}{85}{5}{85}{85}{5}{85}{885}{885{s"
        #expect(try LinearPattern(found).instructions.count < 10)
        do {
            _ = try LinearPattern("a{999}{999}{999}")
            Issue.record("accepted a pattern of a billion instructions")
        } catch {
            #expect(error.description.contains("more than 20000 instructions"))
        }
        #expect(try LinearPattern("x(){999}{999}{999}y").matches("xy"))
        #expect(try LinearPattern("xa{0}{999}{999}y").matches("xy"))
    }
}

extension PatternFuzzRegressionTests {
    /// Found by FuzzPattern this session: 7,956 nested `(` overflowed the stack in the
    /// recursive-descent parser (ASan: stack-overflow), a crash on a configuration value.
    @Test("deep nesting and long runs of quantifiers are errors naming the offset, not a stack overflow")
    func deepNesting() throws {
        #expect(try LinearPattern(String(repeating: "(", count: 32) + "a" + String(repeating: ")", count: 32)).matches("a"))
        for pattern in [String(repeating: "(", count: 8_000), String(repeating: "(?:", count: 33) + "a" + String(repeating: ")", count: 33)] {
            do {
                _ = try LinearPattern(pattern)
                Issue.record("accepted \(pattern.prefix(40))…")
            } catch {
                #expect(error.description.contains("groups nested deeper than 32"), "\(error)")
            }
        }
        #expect(try LinearPattern("a" + String(repeating: "{1}", count: 32)).matches("a"))
        do {
            _ = try LinearPattern("a" + String(repeating: "{1}", count: 5_000))
            Issue.record("accepted 5,000 stacked quantifiers")
        } catch {
            #expect(error.description.contains("more than 32 quantifiers in a row"))
        }
    }
}

/// Address inputs the fuzzer found.
@Suite struct AddressFuzzRegressionTests {
    @Test("a network inside the NAT64 prefix round-trips through its text", arguments: ["64:ff9b:0:1922::7/32", "64:ff9b::/96", "64:ff9b::/32"])
    func translationNetworks(text: String) throws {
        let network = try IPNetwork(text)
        #expect(try IPNetwork(network.description) == network)
        #expect(!network.address.isIPv4)
    }
}

