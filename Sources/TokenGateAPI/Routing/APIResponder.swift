public import Logging
import TokenGateAuth
public import TokenGateHTTP

/// The application as the transport sees it: routes a request, runs its endpoint, renders
/// every error in one place and writes one log line per request.
public struct APIResponder: Responder {
    private let router: Router<Endpoint>
    private let maxBodySize: Int
    private let logger: Logger
    private let metrics: APIMetrics?
    /// Routes whose 401/403 carry a `WWW-Authenticate: Bearer` challenge.
    private let bearerRoutes: Set<String> = ["/verify", "/me"]

    /// - Parameters:
    ///   - endpoints: the route table.
    ///   - maxBodySize: the body limit, for the 413 message.
    ///   - metrics: where request counts and durations go (`nil`: not recorded).
    public init(endpoints: [Endpoint], maxBodySize: Int, logger: Logger, metrics: APIMetrics? = nil) {
        var router = Router<Endpoint>()
        for endpoint in endpoints {
            router.add(endpoint.method, endpoint.path, answersHead: endpoint.answersHead, handler: endpoint)
        }
        self.router = router
        self.maxBodySize = maxBodySize
        self.logger = logger
        self.metrics = metrics
    }

    public func respond(to request: Request) async -> Response {
        let started = ContinuousClock.now
        var route = "unmatched"
        var response: Response
        var context: RequestContext?
        do {
            switch router.resolve(request.method, request.path) {
            case .notFound:
                throw TokenGateError.notFound()
            case .methodNotAllowed(let allowed):
                route = request.path ?? route
                var rendered = ErrorRenderer.response(
                    for: TokenGateError(.methodNotAllowed, "This endpoint does not accept \(request.method.rawValue)."))
                rendered.headers["Allow"] = allowed.map(\.rawValue).joined(separator: ", ")
                response = rendered
            case .found(let endpoint):
                route = endpoint.path
                if request.isBodyTooLarge { throw TokenGateError.payloadTooLarge(limit: maxBodySize) }
                let endpointContext = RequestContext(route: route)
                context = endpointContext
                response = try await endpoint.handler(request, endpointContext)
            }
        } catch {
            logFailure(error, route: route)
            response = ErrorRenderer.response(for: error, bearerChallenge: bearerRoutes.contains(route))
        }
        logRequest(request, response: response, route: route, context: context, started: started)
        return response
    }

    private func logFailure(_ error: any Error, route: String) {
        guard let gateError = error as? TokenGateError else {
            logger.error("unexpected error", metadata: ["request.route": "\(route)", "error": "\(String(reflecting: error))"])
            return
        }
        switch gateError.code {
        case .internalError:
            logger.error("internal error", metadata: ["request.route": "\(route)", "error": "\(gateError.debugDescription)"])
        case .unavailable:
            logger.warning("unavailable", metadata: ["request.route": "\(route)", "error": "\(gateError.debugDescription)"])
        default:
            break
        }
    }

    private func logRequest(
        _ request: Request, response: Response, route: String, context: RequestContext?, started: ContinuousClock.Instant
    ) {
        let duration = ContinuousClock.now - started
        metrics?.recordRequest(route: route, status: response.status.code, duration: duration)
        let elapsed = duration.components
        let microseconds = elapsed.seconds * 1_000_000 + elapsed.attoseconds / 1_000_000_000_000
        var metadata: Logger.Metadata = [
            "request.method": "\(request.method.rawValue)",
            "request.route": "\(route)",
            "response.status": "\(response.status.code)",
            "request.duration_us": "\(microseconds)",
        ]
        if let identity = context?.identity {
            if let userID = identity.userID { metadata["user.id"] = "\(userID)" }
            if let sessionID = identity.sessionID { metadata["session.id"] = "\(sessionID)" }
        }
        logger.info("request", metadata: metadata)
    }
}

import Foundation
