import Foundation

/// Runs `GreylistDemoServer admin …` and returns the exit status.
enum AdminCommand {
    static func run(_ request: AdminRequest, socketPath: String?, configurationPath: String?, json: Bool) -> Int32 {
        do {
            var path = socketPath ?? DemoConfiguration().adminSocketPath
            if socketPath == nil, let configurationPath {
                path = try DemoConfiguration(contentsOf: configurationPath).adminSocketPath
            }
            guard let path else {
                FileHandle.standardError.write(Data("error: that configuration has no admin socket (server.adminSocket is \"\" and no state directory)\n".utf8))
                return 1
            }
            let response = try AdminClient.send(request, to: path)
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                print(AdminClient.terminalSafe(json: String(decoding: try encoder.encode(response), as: UTF8.self)))
            } else {
                print(AdminClient.format(response, command: request.command))
            }
            return response.ok ? 0 : 1
        } catch {
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            return 1
        }
    }
}
