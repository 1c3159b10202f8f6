import Foundation
import GreylistAdmin

/// Runs `GreylistDemoServer admin …` and returns the exit status: the library's command line,
/// with the socket found from the demo's configuration when `--socket` is not given.
enum AdminCommand {
    static func run(_ invocation: GreylistAdminCommandLine.Invocation, configurationPath: String?) -> Int32 {
        do {
            var path = invocation.socketPath ?? DemoConfiguration().adminSocketPath
            if invocation.socketPath == nil, let configurationPath {
                path = try DemoConfiguration(contentsOf: configurationPath).adminSocketPath
            }
            guard let path else {
                FileHandle.standardError.write(Data("error: that configuration has no admin socket (server.adminSocket is \"\" and no state directory)\n".utf8))
                return 1
            }
            let response = try GreylistAdminClient.send(invocation.request, to: path)
            print(GreylistAdminCommandLine.output(response, for: invocation))
            return response.ok ? 0 : 1
        } catch {
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            return 1
        }
    }
}
