import Foundation

/// A failed system call: which call, on what, and the `errno` text.
package struct SystemError: Error, CustomStringConvertible, Equatable {
    package var call: String
    package var subject: String
    package var code: Int32

    package init(_ call: String, _ subject: String = "", code: Int32 = Syscalls.errorNumber) {
        self.call = call
        self.subject = subject
        self.code = code
    }

    package var description: String {
        let text = strerror(code).map { String(cString: $0) } ?? "unknown error"
        return subject.isEmpty ? "\(call): \(text) (errno \(code))" : "\(call) \(subject): \(text) (errno \(code))"
    }
}
