/// The store's durable steps (`fsync`, writes, renames, deletions) behind one seam, so tests can
/// watch them or make one fail; the store performs every such step through it.
package struct StorageOperations: Sendable {
    /// A durable step.
    package enum Step: Hashable, Sendable {
        case syncFile
        case syncDirectory
        case writeFile
        case renameFile
        case removeFile
    }

    /// Called before each step with its path: 0 lets it run; an `errno` value makes it fail
    /// with that error instead.
    package var fault: @Sendable (Step, String) -> Int32

    /// Creates the seam.
    package init(fault: @escaping @Sendable (Step, String) -> Int32) {
        self.fault = fault
    }

    /// The real steps, nothing injected.
    package static let system = StorageOperations { _, _ in 0 }

    /// `fsync`s a file: 0, or the error number.
    func syncFile(_ descriptor: Int32, path: String) -> Int32 {
        run(.syncFile, path) { System.syncFile(descriptor) == 0 }
    }

    /// `fsync`s a directory.
    func syncDirectory(_ descriptor: Int32, path: String) -> Int32 {
        run(.syncDirectory, path) { System.syncFile(descriptor) == 0 }
    }

    /// Writes all of `bytes`: 0, or the error number.
    func writeAll(_ bytes: [UInt8], to descriptor: Int32, path: String) -> Int32 {
        run(.writeFile, path) {
            var offset = 0
            while offset < bytes.count {
                let written = bytes[offset...].withUnsafeBytes { System.writeBytes(descriptor, $0) }
                if written < 0 { return false }
                offset += written
            }
            return true
        }
    }

    func renameFile(_ from: String, to: String) -> Int32 {
        run(.renameFile, to) { System.renameFile(from, to) == 0 }
    }

    func removeFile(_ path: String) -> Int32 {
        run(.removeFile, path) { System.removeFile(path) == 0 }
    }

    private func run(_ step: Step, _ path: String, _ body: () -> Bool) -> Int32 {
        let injected = fault(step, path)
        if injected != 0 { return injected }
        return body() ? 0 : System.errorNumber
    }
}
