/// A compiled pattern matched by simulating its Thompson NFA (the RE2 / Rust `regex` approach):
/// every step advances all live states at once, so a match costs O(n × m) for a username of n
/// scalars and a program of m instructions, whatever the input. No backtracking, no time limit
/// needed.
struct LinearPattern: Sendable {
    enum Instruction: Sendable {
        /// Consume one scalar in the set.
        case scalars(Int)
        /// Continue at both targets.
        case split(Int, Int)
        case jump(Int)
        case assertStart
        case assertEnd
        case match
    }

    /// The largest program accepted (counted repetitions expand).
    static let maximumInstructions = 20_000
    /// Usernames are matched on their first this many UTF-8 bytes.
    static let maximumInputBytes = 1_024

    private(set) var instructions: [Instruction] = []
    private(set) var sets: [ScalarSet] = []

    /// Parses and compiles `pattern`.
    ///
    /// - Throws: ``PatternError`` naming the construct that is not accepted, or a program too large.
    init(_ pattern: String) throws(PatternError) {
        let node = try PatternParser.parse(pattern)
        // Measured before anything is emitted: stacked counted repetitions multiply
        // (`a{885}{8}{85}…`), and emitting them would take as long as the product.
        guard Self.size(node) < Self.maximumInstructions else {
            throw PatternError(reason: "a pattern that compiles to more than \(Self.maximumInstructions) instructions", offset: 0)
        }
        try emit(node)
        instructions.append(.match)
    }

    /// How many instructions `node` compiles to, saturating just past the maximum; linear in the
    /// size of the tree, whatever the repetition counts.
    static func size(_ node: PatternNode) -> Int {
        let cap = maximumInstructions + 1
        func product(_ left: Int, _ right: Int) -> Int {
            let (value, overflow) = left.multipliedReportingOverflow(by: right)
            return overflow ? cap : min(value, cap)
        }
        switch node {
        case .empty:
            return 0
        case .scalars, .startAnchor, .endAnchor:
            return 1
        case .sequence(let items):
            return min(items.reduce(0) { min($0 + size($1), cap) }, cap)
        case .alternatives(let branches):
            return min(branches.reduce(2 * max(branches.count - 1, 0)) { min($0 + size($1), cap) }, cap)
        case .repetition(let body, let minimum, let maximum):
            let bodySize = size(body)
            guard bodySize > 0 else { return 0 }
            if let maximum {
                return min(product(bodySize, minimum) + product(bodySize + 1, maximum - minimum), cap)
            }
            return min(product(bodySize, minimum) + bodySize + 2, cap)
        }
    }

    private mutating func emit(_ node: PatternNode) throws(PatternError) {
        guard instructions.count < Self.maximumInstructions else {
            throw PatternError(reason: "a pattern that compiles to more than \(Self.maximumInstructions) instructions", offset: 0)
        }
        switch node {
        case .empty:
            break
        case .scalars(let set):
            sets.append(set)
            instructions.append(.scalars(sets.count - 1))
        case .startAnchor:
            instructions.append(.assertStart)
        case .endAnchor:
            instructions.append(.assertEnd)
        case .sequence(let items):
            for item in items { try emit(item) }
        case .alternatives(let branches):
            var jumps: [Int] = []
            for (position, branch) in branches.enumerated() {
                if position < branches.count - 1 {
                    let split = instructions.count
                    instructions.append(.split(split + 1, 0))
                    try emit(branch)
                    jumps.append(instructions.count)
                    instructions.append(.jump(0))
                    instructions[split] = .split(split + 1, instructions.count)
                } else {
                    try emit(branch)
                }
            }
            for jump in jumps { instructions[jump] = .jump(instructions.count) }
        case .repetition(let body, let minimum, let maximum):
            // A body that compiles to nothing (`(){9}`, `a{0}{999}`) is nothing however often repeated.
            guard Self.size(body) > 0 else { return }
            for _ in 0..<minimum { try emit(body) }
            if let maximum {
                // Each optional copy: split(into it, past everything).
                var splits: [Int] = []
                for _ in minimum..<maximum {
                    splits.append(instructions.count)
                    instructions.append(.split(instructions.count + 1, 0))
                    try emit(body)
                }
                for split in splits { instructions[split] = .split(split + 1, instructions.count) }
            } else {
                let loop = instructions.count
                instructions.append(.split(loop + 1, 0))
                try emit(body)
                instructions.append(.jump(loop))
                instructions[loop] = .split(loop + 1, instructions.count)
            }
        }
    }

    /// Whether the pattern is found anywhere in `text` (its first ``maximumInputBytes`` bytes).
    func matches(_ text: String) -> Bool {
        run(text).matched
    }

    /// The search, with the number of state visits it took (the tests bound it).
    ///
    /// The state sets and the work stack live in one temporary allocation (on the stack for
    /// small programs), and the text is read in place: a match allocates nothing per scalar and
    /// at most once per call.
    ///
    /// - Complexity: O(n × m): at each of the n + 1 positions, each of the m instructions is
    ///   visited at most once.
    func run(_ text: String) -> (matched: Bool, steps: Int) {
        var length = 0
        var bytes = 0
        for scalar in text.unicodeScalars {
            bytes += UTF8.width(scalar)
            if bytes > Self.maximumInputBytes { break }
            length += 1
        }
        let count = instructions.count
        // Two sparse sets (2 × count each) and a stack: each instruction enters a set at most
        // once per position and pushes at most two more, so 2 × count + 1 entries suffice.
        let stackCapacity = 2 * count + 1
        // 32-bit slots (a program has at most 20,000 instructions): half the memory, so the
        // usual rule's scratch fits the stack and a match allocates nothing.
        return withUnsafeTemporaryAllocation(of: Int32.self, capacity: 4 * count + stackCapacity) { memory in
            memory.initialize(repeating: 0)
            defer { memory.deinitialize() }
            func slice(_ start: Int, _ size: Int) -> UnsafeMutableBufferPointer<Int32> {
                UnsafeMutableBufferPointer(rebasing: memory[start..<(start + size)])
            }
            var current = SparseSet(dense: slice(0, count), sparse: slice(count, count))
            var next = SparseSet(dense: slice(2 * count, count), sparse: slice(3 * count, count))
            var stack = WorkStack(storage: slice(4 * count, stackCapacity))
            var steps = 0
            var scalars = text.unicodeScalars.makeIterator()
            for position in 0...length {
                // Unanchored search: a thread starts at every position.
                if add(0, at: position, length: length, to: &current, stack: &stack, steps: &steps) { return (true, steps) }
                guard position < length, let scalar = scalars.next()?.value else { break }
                next.clear()
                for member in current.members {
                    let pc = Int(member)
                    steps += 1
                    if case .scalars(let set) = instructions[pc], sets[set].contains(scalar) {
                        if add(pc + 1, at: position + 1, length: length, to: &next, stack: &stack, steps: &steps) { return (true, steps) }
                    }
                }
                swap(&current, &next)
            }
            return (false, steps)
        }
    }

    /// Follows the instructions that consume nothing from `pc`, adding the consuming ones to
    /// `list`; returns whether `match` was reached.
    private func add(_ pc: Int, at position: Int, length: Int, to list: inout SparseSet, stack: inout WorkStack, steps: inout Int) -> Bool {
        stack.append(pc)
        while let pc = stack.popLast() {
            guard list.insert(pc) else { continue }
            steps += 1
            switch instructions[pc] {
            case .match: return true
            case .jump(let target): stack.append(target)
            case .split(let first, let second):
                stack.append(second)
                stack.append(first)
            case .assertStart: if position == 0 { stack.append(pc + 1) }
            case .assertEnd: if position == length { stack.append(pc + 1) }
            case .scalars: break
            }
        }
        return false
    }
}

/// A set of small integers with O(1) insert, membership and clear, and insertion-ordered members
/// (Briggs and Torczon's sparse set), over memory the caller owns for the set's lifetime.
struct SparseSet {
    private let dense: UnsafeMutableBufferPointer<Int32>
    private let sparse: UnsafeMutableBufferPointer<Int32>
    private(set) var count = 0

    /// - Parameters:
    ///   - dense: Room for every member, in insertion order.
    ///   - sparse: One slot per possible value (`0..<sparse.count`), any contents.
    init(dense: UnsafeMutableBufferPointer<Int32>, sparse: UnsafeMutableBufferPointer<Int32>) {
        self.dense = dense
        self.sparse = sparse
    }

    /// Inserts `value`; `false` when it was already there.
    mutating func insert(_ value: Int) -> Bool {
        let slot = Int(sparse[value])
        if slot < count && dense[slot] == Int32(truncatingIfNeeded: value) { return false }
        sparse[value] = Int32(truncatingIfNeeded: count)
        dense[count] = Int32(truncatingIfNeeded: value)
        count += 1
        return true
    }

    mutating func clear() {
        count = 0
    }

    var members: UnsafeMutableBufferPointer<Int32>.SubSequence {
        dense[..<count]
    }
}

/// A stack of instruction indexes over memory the caller owns; its capacity is the caller's bound.
struct WorkStack {
    private let storage: UnsafeMutableBufferPointer<Int32>
    private var count = 0

    init(storage: UnsafeMutableBufferPointer<Int32>) {
        self.storage = storage
    }

    mutating func append(_ value: Int) {
        precondition(count < storage.count, "the work stack's bound was wrong")
        storage[count] = Int32(truncatingIfNeeded: value)
        count += 1
    }

    mutating func popLast() -> Int? {
        guard count > 0 else { return nil }
        count -= 1
        return Int(storage[count])
    }

}
