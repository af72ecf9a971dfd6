import MeshlineEcho
import MeshlineHTTP2
import MeshlineModels
import MeshlineRPC

/// Starts a server on a free loopback port with `services` (Echo by default), runs
/// `body` with its port, and always shuts the server down.
@discardableResult
func withServer<T>(
    services: [any RPCService] = [EchoService()],
    configure: (inout RPCServer.Configuration) -> Void = { _ in },
    _ body: (RPCServer, Int) async throws -> T
) async throws -> T {
    var configuration = RPCServer.Configuration()
    configuration.host = "127.0.0.1"
    configuration.port = 0
    configuration.threads = 1
    configure(&configuration)
    let server = RPCServer(configuration: configuration, services: services)
    let port = try await server.start()
    do {
        let result = try await body(server, port)
        await server.shutdown(gracePeriod: .seconds(2))
        return result
    } catch {
        await server.shutdown(gracePeriod: .seconds(2))
        throw error
    }
}

/// A client of one loopback port; closed after `body`.
@discardableResult
func withClient<T>(port: Int, configure: (inout RPCClient.Configuration) -> Void = { _ in }, _ body: (RPCClient) async throws -> T) async throws -> T {
    var configuration = RPCClient.Configuration(endpoints: [RPCClient.Endpoint(host: "127.0.0.1", port: port)])
    configure(&configuration)
    let client = RPCClient(configuration: configuration)
    do {
        let result = try await body(client)
        await client.close()
        return result
    } catch {
        await client.close()
        throw error
    }
}
