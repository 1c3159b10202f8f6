import Foundation
import GreylistAdmin

// greylist-admin: the operator verbs of any server that runs a GreylistAdminServer.
let arguments = Array(CommandLine.arguments.dropFirst())
if arguments.isEmpty || arguments.first == "--help" || arguments.first == "-h" {
    print("greylist-admin: talks to a server's GreylistAdminServer over its Unix socket.\n\nUSAGE\n"
        + GreylistAdminCommandLine.usage.split(separator: "\n").map { "  greylist-admin \($0)" }.joined(separator: "\n")
        + "\n\n--socket PATH (the path the server gave GreylistAdminServer) or --state DIR (its state directory: DIR/admin.sock) is required.")
    exit(arguments.isEmpty ? 2 : 0)
}
do throws(GreylistAdminError) {
    let invocation = try GreylistAdminCommandLine.parse(arguments)
    guard let socket = invocation.socketPath else {
        throw GreylistAdminError(code: .usage, description: "--socket PATH or --state DIR is required (the server's admin socket, or its state directory)")
    }
    let response = try GreylistAdminClient.send(invocation.request, to: socket)
    print(GreylistAdminCommandLine.output(response, for: invocation))
    exit(response.ok ? 0 : 1)
} catch {
    FileHandle.standardError.write(Data("error: \(error)\n".utf8))
    exit(error.code == .usage ? 2 : 1)
}
