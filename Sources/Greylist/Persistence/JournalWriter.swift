import Dispatch

/// Appends journal lines with group commit: every line appended while a write and `fsync` are
/// under way goes into the next batch, so a flood of bans costs one `fsync` per batch, not one
/// per ban. The disk work runs on its own Dispatch queue, never on the Swift concurrency pool.
final class JournalWriter: Sendable {
    private enum Item {
        case line([UInt8])
        case rotate(UInt64)
    }

    private struct State {
        var pending: [Item] = []
        var appended: UInt64 = 0
        var processed: UInt64 = 0
        var draining = false
        var waiters: [(sequence: UInt64, continuation: CheckedContinuation<Void, any Error>)] = []
        /// Sequence ranges whose batch failed (the most recent few), so a late waiter learns it.
        var failures: [(range: ClosedRange<UInt64>, error: GreylistError)] = []
        /// Batches written, each with one `fsync`.
        var batches = 0
    }

    /// The open journal file; touched only on `queue`.
    private struct FileState {
        var generation: UInt64
        var descriptor: Int32 = -1
    }

    let directory: String
    let synchronous: Bool
    private let operations: StorageOperations
    private let state = LockedValue(State())
    private let file: LockedValue<FileState>
    private let queue = DispatchQueue(label: "greylist.journal")
    private let onFailure: @Sendable (GreylistError) -> Void

    init(directory: String, generation: UInt64, synchronous: Bool, operations: StorageOperations = .system,
         onFailure: @escaping @Sendable (GreylistError) -> Void) {
        self.directory = directory
        self.synchronous = synchronous
        self.operations = operations
        self.onFailure = onFailure
        self.file = LockedValue(FileState(generation: generation))
    }

    deinit {
        file.withLock { if $0.descriptor >= 0 { System.closeFile($0.descriptor) } }
    }

    static func journalName(_ generation: UInt64) -> String {
        let digits = String(generation)
        return "journal-" + String(repeating: "0", count: max(0, 12 - digits.count)) + digits + ".log"
    }

    /// Queues a line; returns its sequence number.
    func append(_ line: [UInt8]) -> UInt64 {
        enqueue(.line(line))
    }

    /// Queues a switch to a new journal file; everything queued before stays in the old one.
    func rotate(to generation: UInt64) -> UInt64 {
        enqueue(.rotate(generation))
    }

    /// How many batches (each one write and one `fsync`) have been written.
    var batchesWritten: Int {
        state.withLock { $0.batches }
    }

    /// The sequence of the last item queued.
    var lastSequence: UInt64 {
        state.withLock { $0.appended }
    }

    private func enqueue(_ item: Item) -> UInt64 {
        let (sequence, start) = state.withLock { state -> (UInt64, Bool) in
            state.pending.append(item)
            state.appended += 1
            let start = !state.draining
            state.draining = true
            return (state.appended, start)
        }
        if start { queue.async { self.drain() } }
        return sequence
    }

    /// Returns when everything up to `sequence` is written (and synced, in synchronous mode).
    func waitUntilStored(_ sequence: UInt64) async throws(GreylistError) {
        do {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let verdict = state.withLock { state -> Result<Void, GreylistError>? in
                    if let failure = state.failures.first(where: { $0.range.contains(sequence) }) {
                        return .failure(failure.error)
                    }
                    if sequence <= state.processed { return .success(()) }
                    state.waiters.append((sequence, continuation))
                    return nil
                }
                if let verdict { continuation.resume(with: verdict) }
            }
        } catch let error as GreylistError {
            throw error
        } catch {
            throw .storage(directory, reason: "\(error)")
        }
    }

    private func drain() {
        while true {
            let batch = state.withLock { state -> (items: [Item], first: UInt64, last: UInt64)? in
                guard !state.pending.isEmpty else {
                    state.draining = false
                    return nil
                }
                let items = state.pending
                state.pending.removeAll(keepingCapacity: true)
                return (items, state.processed + 1, state.appended)
            }
            guard let batch else { return }
            let result: Result<Void, GreylistError>
            do {
                try write(batch.items)
                result = .success(())
            } catch {
                result = .failure(error)
                onFailure(error)
            }
            let ready = state.withLock { state -> [CheckedContinuation<Void, any Error>] in
                state.processed = batch.last
                state.batches += 1
                if case .failure(let error) = result {
                    state.failures.append((batch.first...batch.last, error))
                    if state.failures.count > 16 { state.failures.removeFirst() }
                }
                let ready = state.waiters.filter { $0.sequence <= batch.last }.map(\.continuation)
                state.waiters.removeAll { $0.sequence <= batch.last }
                return ready
            }
            for continuation in ready { continuation.resume(with: result.mapError { $0 as any Error }) }
        }
    }

    /// Writes a batch: lines go to the current file; a rotation syncs and closes it first.
    private func write(_ items: [Item]) throws(GreylistError) {
        try file.withLock { (file) throws(GreylistError) in
            var buffer: [UInt8] = []
            for item in items {
                switch item {
                case .line(let bytes):
                    buffer += bytes
                case .rotate(let generation):
                    try flush(&buffer, into: &file)
                    if file.descriptor >= 0 {
                        try sync(file.descriptor, Self.journalName(file.generation))
                        System.closeFile(file.descriptor)
                        file.descriptor = -1
                    }
                    file.generation = generation
                }
            }
            try flush(&buffer, into: &file)
            if file.descriptor >= 0 {
                try sync(file.descriptor, Self.journalName(file.generation))
            }
        }
    }

    private func flush(_ buffer: inout [UInt8], into file: inout FileState) throws(GreylistError) {
        guard !buffer.isEmpty else { return }
        if file.descriptor < 0 {
            let path = directory + "/" + Self.journalName(file.generation)
            file.descriptor = System.openFile(path, .append)
            guard file.descriptor >= 0 else { throw FileSystem.error(path, "open") }
            try FileSystem.syncDirectory(directory, operations)
        }
        // After a failed write (a full disk) part of the batch may be on disk. Cut the file back
        // to where the batch began, so the next batch does not continue a torn line and spoil
        // its first record; if even that fails, start a new journal file.
        let start = System.fileLength(file.descriptor)
        do throws(GreylistError) {
            try FileSystem.writeAll(buffer, to: file.descriptor, path: directory + "/" + Self.journalName(file.generation), operations)
        } catch {
            if start < 0 || System.truncate(file.descriptor, to: start) != 0 {
                System.closeFile(file.descriptor)
                file.descriptor = -1
                file.generation += 1
            }
            throw error
        }
        buffer.removeAll(keepingCapacity: true)
    }

    private func sync(_ descriptor: Int32, _ name: String) throws(GreylistError) {
        guard synchronous else { return }
        let code = operations.syncFile(descriptor, path: directory + "/" + name)
        guard code == 0 else { throw FileSystem.error(directory + "/" + name, "fsync", code: code) }
    }
}
